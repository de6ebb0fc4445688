//! The chart's values: one list of entries from which `values.yaml` (with
//! helm-docs `# --` comments), `values.schema.json` and the README's values
//! table are all made, so the three cannot drift apart. values.yaml is
//! written with `package::yaml`, the writer of every YAML file meshpack
//! emits.

use crate::emit::values::*;
use crate::emit::workload as wd;
use crate::model::{Image, Model, Workload};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub struct Entry {
    /// Dotted path, e.g. `services.api.replicas`.
    pub path: String,
    pub default: Value,
    pub description: String,
    /// Extra JSON Schema keywords (enum, pattern, minimum...).
    pub schema: Option<Value>,
    /// Written to values.yaml and the README; otherwise only the schema knows it.
    pub listed: bool,
}

/// A row of a release-wide value: path and default from its handle.
fn h<K: Kind>(v: &Val<K>, m: &Model, description: &str) -> Entry {
    let default = v
        .default(m)
        .unwrap_or_else(|| panic!("{} has no release-wide default", v.path()));
    e(v.path(), default, description)
}

fn hs<K: Kind>(v: &Val<K>, m: &Model, description: &str, schema: Value) -> Entry {
    Entry {
        schema: Some(schema),
        ..h(v, m, description)
    }
}

fn e(path: impl Into<String>, default: Value, description: &str) -> Entry {
    Entry {
        path: path.into(),
        default,
        description: description.to_string(),
        schema: None,
        listed: true,
    }
}

fn es(path: impl Into<String>, default: Value, description: &str, schema: Value) -> Entry {
    Entry {
        schema: Some(schema),
        ..e(path, default, description)
    }
}

const STRING_MAP: &str = "string-map";
/// `x-kind` of a value that takes anything (a removed one, `package::upgrades`).
pub const ANY: &str = "any";

pub fn entries(m: &Model) -> Vec<Entry> {
    let smap = || json!({ "additionalProperties": { "type": "string" }, "x-kind": STRING_MAP });
    let mut v = vec![
        h(&NAME_OVERRIDE, m, "Replaces the chart name in object names."),
        h(&FULLNAME_OVERRIDE, m, "Replaces `<release>-<chart>` in object names."),
        h(&GLOBAL_IMAGE_REGISTRY, m, "Registry that replaces every image's registry, e.g. a private mirror."),
        hs(&GLOBAL_IMAGE_PULL_SECRETS, m, "Names of Secrets every pod pulls images with.", json!({"items": {"type": "string"}})),
        h(&ISTIO_ENABLED, m, "Render the Istio mesh: mTLS, authorization, routing, egress control and sidecar injection."),
        hs(&ISTIO_INJECTION, m, "Sidecar injection of the pods with the mesh on: `true`, `false`, or `namespace` to write no `sidecar.istio.io/inject` label and leave it to the namespace's. With the mesh off pods are labelled `\"false\"` unless `namespace`.", injection_schema()),
        hs(&ISTIO_DATAPLANE, m, "How pods join the mesh: `sidecar` (injected Envoy) or `ambient` (ztunnel, waypoints for L7 rules).", json!({"enum": ["sidecar", "ambient"]})),
        hs(&ISTIO_REVISION, m, "Istio revision that injects the pods (label `istio.io/rev`); empty for the default revision.", json!({"pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"})),
        h(&ISTIO_PROXY_IMAGE_REGISTRY, m, "Registry of the pinned sidecar image (`global.imageRegistry` wins)."),
        h(&ISTIO_PROXY_IMAGE_REPOSITORY, m, "Repository of the sidecar image pods pin (`sidecar.istio.io/proxyImage`); empty leaves the choice to istiod."),
        h(&ISTIO_PROXY_IMAGE_TAG, m, "Tag of the pinned sidecar image."),
        hs(&ISTIO_PROXY_IMAGE_DIGEST, m, "Digest of the pinned sidecar image; wins over the tag.", json!({"pattern": "^(sha256:[a-f0-9]{64})?$"})),
        hs(&ISTIO_ANNOTATIONS, m, "Extra pod annotations when Istio is enabled (e.g. `proxy.istio.io/config`).", smap()),
        hs(&ISTIO_TRUST_DOMAIN, m, "Trust domain of the mesh; principals are `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.", json!({"pattern": "^[A-Za-z0-9.-]+$"})),
        hs(&ISTIO_VERSION, m, "Oldest Istio (`1.<minor>` or `1.<minor>.<patch>`, a string: quote it in values files) the release must work with. From 1.25 on, AuthorizationPolicies name ServiceAccounts (`source.serviceAccounts`) and Sidecars the namespace's Services, so the objects carry no namespace and install anywhere; before 1.25 they name principals and FQDNs with the release namespace (see docs/istio-versions.md).", json!({"pattern": "^1\\.[0-9]+(\\.[0-9]+)?$"})),
        h(&ISTIO_NAMESPACE_WIDE, m, "Apply mTLS and the default deny to the whole namespace instead of only this release's pods."),
        hs(&ISTIO_GATEWAY_NAMESPACE, m, "Namespace of the ingress gateways (their TLS Secrets, Certificates and Gateway API Gateways live there).", json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})),
        hs(&ISTIO_CONTROL_PLANE_NAMESPACE, m, "Namespace of istiod.", json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})),
        h(&GATEWAY_API_ENABLED, m, "Render gateways as Kubernetes Gateway API `Gateway` and `HTTPRoute` objects instead of Istio's `Gateway` and `VirtualService` (works without Istio too)."),
        h(&GATEWAY_API_CLASS_NAME, m, "GatewayClass of the Gateways."),
        h(&INGRESS_ENABLED, m, "Without Istio and the Gateway API: render the gateways as Kubernetes `Ingress` objects, and NetworkPolicies admitting the ingress controller (docs/ingress.md)."),
        h(&INGRESS_CLASS_NAME, m, "IngressClass of the Ingresses."),
        hs(&INGRESS_ANNOTATIONS, m, "Annotations of every Ingress (the controller's options).", smap()),
        hs(&INGRESS_CONTROLLER_NAMESPACE, m, "Namespace of the ingress controller's pods. Without Istio and the Gateway API, NetworkPolicies admit them to the services gateways route to (whether the chart renders the Ingresses or the customer does), and `meshpack verify` takes them to be `gateway/<name>`.", json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})),
        hs(&INGRESS_CONTROLLER_POD_LABELS, m, "Labels of the ingress controller's pods; empty admits every pod of its namespace.", smap()),
        hs(&INGRESS_CONTROLLER_SERVICE_ACCOUNT, m, "ServiceAccount of the ingress controller, recorded on each Ingress and on the NetworkPolicies admitting the controller, for `meshpack verify`.", json!({"pattern": "^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$"})),
        h(&FAULT_INJECTION_ENABLED, m, "Inject the delays and errors the policy declares under `traffic.fault` (for resilience tests; never in production)."),
        h(&NETWORK_POLICY_ENABLED, m, "Render NetworkPolicies: default deny, then the allowed edges at L3/L4."),
        hs(&NETWORK_POLICY_INGRESS_CONTROLLER_NAMESPACE, m, "Deprecated (renamed `ingress.controller.namespace`): still accepted, a non-empty value replaces `ingress.controller.namespace`; NOTES.txt warns.", json!({"pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", "deprecated": true})),
        hs(&NETWORK_POLICY_INGRESS_CONTROLLER_POD_LABELS, m, "Deprecated (renamed `ingress.controller.podLabels`): still accepted, a non-empty map replaces `ingress.controller.podLabels`; NOTES.txt warns.", json!({ "additionalProperties": { "type": "string" }, "x-kind": STRING_MAP, "deprecated": true })),
        hs(&NETWORK_POLICY_GATEWAY_NAMESPACES, m, "Deprecated (use `ingress.controller.namespace`; with Istio the gateway namespace is `istio.gateway.namespace`): still accepted, a non-empty list replaces the ingress controller's namespace in the NetworkPolicies rendered when neither Istio, the Gateway API nor `ingress.enabled` is on.", json!({"items": {"type": "string"}})),
        hs(&NETWORK_POLICY_EGRESS_CIDRS, m, "Address ranges egress hosts may be reached in (NetworkPolicies cannot match host names).", json!({"items": {"type": "string"}, "minItems": 1})),
        hs(&PROMETHEUS_NAMESPACE, m, "Namespace of the Prometheus that scrapes the release; NetworkPolicies admit it to metrics ports (`metrics`, `<protocol>-metrics`) and, with Istio, to the sidecars' 15020 (merged metrics) and 15090 (Envoy).", json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})),
        hs(&PROMETHEUS_POD_LABELS, m, "Labels of the Prometheus pods; empty admits every pod of its namespace.", smap()),
        h(&SERVICE_MONITOR_ENABLED, m, "Render a Prometheus Operator ServiceMonitor per service with metrics ports (scrapes the application port: with STRICT mTLS the Prometheus needs Istio certificates)."),
        h(&POD_MONITOR_ENABLED, m, "With Istio, render a Prometheus Operator PodMonitor for the sidecars' Envoy metrics (`http-envoy-prom`, /stats/prometheus)."),
    ];
    if let Some(probe) = &m.probe_image {
        v.push(h(&helm_tests::enabled(), m, "Render the `helm test` connectivity probes: one Pod per service, with its identity, labels and injection, trying what the policy allows and a sample of what it denies (docs/tests.md)."));
        image_entries(&mut v, helm_tests::image_key, probe);
        v.push(hs(
            &helm_tests::timeout_seconds(),
            m,
            "Seconds each probe waits for a connection (more than Envoy's 10 s connect timeout).",
            json!({"minimum": 1, "maximum": 300}),
        ));
    }
    if let Some(tr) = m.telemetry.as_ref().and_then(|t| t.tracing.as_ref()) {
        v.push(e(
            tracing::provider().path(),
            json!(tr.provider),
            "Name of the tracing provider in the mesh config's `extensionProviders` (see the chart's NOTES).",
        ));
        v.push(es(
            tracing::sampling().path(),
            crate::emit::number(tr.sampling),
            "Share of requests traced, in percent.",
            json!({"minimum": 0, "maximum": 100}),
        ));
        v.push(e(
            tracing::host().path(),
            json!(tr.host),
            "Host of the trace collector (for the provider's definition and egress to it).",
        ));
        v.push(es(
            tracing::port().path(),
            json!(tr.port),
            "Port of the trace collector.",
            json!({"minimum": 1, "maximum": 65535}),
        ));
        if let Some(ns) = &tr.namespace {
            v.push(e(
                tracing::namespace().path(),
                json!(ns),
                "Namespace of the trace collector; NetworkPolicies allow the sidecars egress to it.",
            ));
        }
    }
    for g in &m.gateways {
        let gv = Gw::new(&g.name);
        v.push(es(
            gv.hosts().path(),
            json!(g.hosts),
            "Host names the gateway answers for.",
            json!({"items": {"type": "string"}, "minItems": 1}),
        ));
        let selector: Map<String, Value> = g
            .selector
            .iter()
            .map(|(k, val)| (k.clone(), json!(val)))
            .collect();
        v.push(es(
            gv.selector().path(),
            Value::Object(selector),
            if g.internal {
                "Labels selecting the internal ingress gateway pods (Istio Gateway)."
            } else {
                "Labels selecting the ingress gateway pods (Istio Gateway)."
            },
            smap(),
        ));
        v.push(es(
            gv.service_account().path(),
            json!(g.service_account),
            "ServiceAccount of the gateway pods in `istio.gateway.namespace`, allowed by rules `from: gateway/<name>` (with Gateway API, Istio deploys the gateway under it).",
            json!({"pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}),
        ));
        if let Some(t) = &g.tls {
            v.push(e(
                gv.credential_name().path(),
                json!(t.credential_name),
                "Secret with the TLS certificate, in `istio.gateway.namespace`.",
            ));
            if let Some((issuer, kind)) = &t.issuer {
                let on = gv.cert_manager_enabled();
                v.push(e(
                    on.path(),
                    on.default(m).expect("a default of its own"),
                    "Have cert-manager issue the Secret.",
                ));
                v.push(e(
                    gv.cert_manager_issuer().path(),
                    json!(issuer),
                    "cert-manager issuer name.",
                ));
                v.push(es(
                    gv.cert_manager_kind().path(),
                    json!(kind),
                    "`Issuer` or `ClusterIssuer`.",
                    json!({"enum": ["Issuer", "ClusterIssuer"]}),
                ));
            }
        }
    }
    let d = &m.defaults;
    v.push(e(
        PodField::Resources.default_val().path(),
        wd::resources_value(&d.resources),
        "Container resource requests and limits of every service.",
    ));
    v.push(e(
        PodField::PodSecurityContext.default_val().path(),
        crate::emit::pod_meta::pod_security_context(d.run_as_user),
        "Pod security context of every service.",
    ));
    v.push(e(
        PodField::SecurityContext.default_val().path(),
        crate::emit::pod_meta::container_security_context(d.read_only_root_filesystem),
        "Container security context of every service.",
    ));
    v.push(es(
        PodField::NodeSelector.default_val().path(),
        json!({}),
        "Node labels every service's pods must run on.",
        smap(),
    ));
    v.push(e(
        PodField::Tolerations.default_val().path(),
        json!([]),
        "Tolerations of every service's pods.",
    ));
    v.push(e(
        PodField::Affinity.default_val().path(),
        json!({}),
        "Affinity rules of every service's pods.",
    ));
    v.push(es(
        PodField::PodAnnotations.default_val().path(),
        json!({}),
        "Extra pod annotations of every service.",
        smap(),
    ));
    for s in &m.services {
        let sv = Svc::new(&s.name);
        if s.attach.is_some() {
            // The vendor renders the pods; only the annotations the
            // `podAnnotations` template merges are meshpack's.
            let mut en = e(
                sv.own(PodField::PodAnnotations).path(),
                json!({}),
                "Extra pod annotations (default: serviceDefaults), through the `podAnnotations` template.",
            );
            en.schema = Some(smap());
            v.push(en);
            v.push(inject_entry(m, &sv, "This service's `istio.injection`, through the `podLabels` template (default: istio.injection)."));
            continue;
        }
        if s.versions.is_empty() {
            image_entries(&mut v, |k| sv.image_key(k), &s.image);
            // Jobs, CronJobs and DaemonSets have no replicas.
            if s.workload.has_replicas() {
                v.push(es(
                    sv.replicas().path(),
                    json!(s.replicas),
                    "Pod replicas.",
                    json!({"minimum": 0}),
                ));
            }
        }
        for ver in &s.versions {
            let vv = sv.version(&ver.name);
            image_entries(&mut v, |k| vv.image_key(k), &ver.image);
            v.push(es(
                vv.replicas().path(),
                json!(ver.replicas),
                "Pod replicas of this version.",
                json!({"minimum": 0}),
            ));
        }
        for (ver, w) in &s.traffic.split {
            v.push(es(
                sv.split(ver).path(),
                json!(w),
                "Percent of requests to this version (the weights must add up to 100).",
                json!({"minimum": 0, "maximum": 100}),
            ));
        }
        // Overrides of serviceDefaults: listed only where the policy sets
        // them for this service; the schema accepts them everywhere.
        let d = &m.defaults;
        let own: [(PodField, Value, bool, &str); 7] = [
            (
                PodField::Resources,
                wd::resources_value(&s.resources),
                s.resources != d.resources,
                "Container resource requests and limits (default: serviceDefaults).",
            ),
            (
                PodField::PodSecurityContext,
                crate::emit::pod::pod_security_context(s),
                s.run_as_user != d.run_as_user || s.pod.pod_security_context.is_some(),
                "Pod security context (default: serviceDefaults).",
            ),
            (
                PodField::SecurityContext,
                crate::emit::pod::security_context(s),
                s.read_only_root_filesystem != d.read_only_root_filesystem
                    || s.pod.security_context.is_some(),
                "Container security context (default: serviceDefaults).",
            ),
            (
                PodField::NodeSelector,
                json!({}),
                false,
                "Node labels the pods must run on (default: serviceDefaults).",
            ),
            (
                PodField::Tolerations,
                json!([]),
                false,
                "Tolerations of the pods (default: serviceDefaults).",
            ),
            (
                PodField::Affinity,
                json!({}),
                false,
                "Affinity rules of the pods (default: serviceDefaults).",
            ),
            (
                PodField::PodAnnotations,
                json!({}),
                false,
                "Extra pod annotations (default: serviceDefaults).",
            ),
        ];
        for (field, default, listed, desc) in own {
            let mut en = e(sv.own(field).path(), default, desc);
            en.listed = listed;
            if matches!(field, PodField::NodeSelector | PodField::PodAnnotations) {
                en.schema = Some(smap());
            }
            v.push(en);
        }
        v.push(inject_entry(
            m,
            &sv,
            "This service's `istio.injection` (default: istio.injection).",
        ));
        if let (Workload::StatefulSet, Some(vol)) = (s.workload, &s.storage) {
            v.push(e(
                sv.storage_size().path(),
                json!(vol.size),
                "Size of each replica's volume.",
            ));
            v.push(e(
                sv.storage_class_name().path(),
                json!(vol.storage_class.clone().unwrap_or_default()),
                "StorageClass of the volumes; empty means the cluster default.",
            ));
        }
    }
    v.extend(secret_entries(m));
    // The install-time additions (issue #19).
    v.extend([
        hs(&ISTIO_MTLS_MODE, m, "Release-wide mTLS mode that replaces the policy's (`STRICT` or `PERMISSIVE`, e.g. while migrating clients into the mesh); empty keeps the policy's. Per-service and per-port modes the policy sets are kept.", json!({"enum": ["", "STRICT", "PERMISSIVE"]})),
        hs(&EXTRA_EGRESS, m, "Extra destinations outside the cluster: `{host: s3.example.com | cidr: 10.0.0.0/8, port: 443, protocol: TLS, services: [api]}`. Each renders a ServiceEntry, the host in the services' Sidecars and a NetworkPolicy egress rule (docs/additions.md).", json!({"items": super::values_customer::egress_item(m)})),
        hs(&EXTRA_SOURCES, m, "Extra callers: `{namespace: monitoring, serviceAccount: prometheus, services: [api], ports: [9090]}` or `{ipBlock: 10.0.0.0/8, services: [api]}`; no `ports` means every port of the services. Each renders an AuthorizationPolicy and a NetworkPolicy ingress rule (docs/additions.md).", json!({"items": super::values_customer::source_item(m)})),
        hs(&EXTRA_OBJECTS, m, "Extra objects rendered as given: each item an object or a string, both passed through `tpl` (so `{{ .Release.Namespace }}` works), as Bitnami's `extraDeploy`.", json!({"items": {"type": ["object", "string"]}})),
        hs(&OPENSHIFT_ENABLED, m, "Leave UID, GID and fsGroup to OpenShift's `restricted-v2` SCC (`runAsNonRoot`, no privilege escalation, dropped capabilities and the RuntimeDefault seccomp profile stay): `true`, `false`, or `auto` to detect the `security.openshift.io/v1` API.", json!({"type": ["boolean", "string"], "enum": [true, false, "true", "false", "auto"]})),
    ]);
    v
}

/// `services.<name>.istio.inject`, which the pod labels of deployed and
/// attached services alike read (unlisted: the README table shows the
/// release-wide `istio.injection`).
fn inject_entry(m: &Model, sv: &Svc, description: &str) -> Entry {
    let mut inject = es(
        sv.inject().path(),
        ISTIO_INJECTION.default(m).expect("release-wide"),
        description,
        injection_schema(),
    );
    inject.listed = false;
    inject
}

/// `secrets.<name>`: the Secret the policy calls `<name>`, by the name it
/// has in the customer's namespace. Only names: no secret value is ever a
/// default here (the chart renders no Secret).
fn secret_entries(m: &Model) -> Vec<Entry> {
    let mut names: Vec<String> = m
        .services
        .iter()
        .flat_map(crate::emit::pod::secret_names)
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| {
            es(
                secret(&n).path(),
                json!(n),
                "Name of the customer's existing Secret that the policy calls by this key (the chart reads it, never creates it, and holds no secret value).",
                json!({"type": "string", "minLength": 1}),
            )
        })
        .collect()
}

/// `true`, `false` or `namespace`; booleans too, since `--set x=false`
/// passes one (`crate::emit::injection::Injection`).
fn injection_schema() -> Value {
    json!({"type": ["boolean", "string"], "enum": [true, false, "true", "false", "namespace"]})
}

/// The four image rows under one map (`services.<n>.image`, `tests.image`).
fn image_entries(v: &mut Vec<Entry>, key: impl Fn(&'static str) -> Val<Str>, image: &Image) {
    v.push(e(
        key("registry").path(),
        json!(image.registry),
        "Image registry (`global.imageRegistry` wins).",
    ));
    v.push(e(
        key("repository").path(),
        json!(image.repository),
        "Image repository.",
    ));
    v.push(e(
        key("tag").path(),
        json!(image.tag),
        "Image tag; empty means the chart's appVersion.",
    ));
    v.push(es(
        key("digest").path(),
        json!(image.digest),
        "Image digest (`sha256:...`); wins over the tag.",
        json!({"pattern": "^(sha256:[a-f0-9]{64})?$"}),
    ));
}

// ---- values.yaml ----

enum Node {
    Leaf(usize),
    /// Children in insertion order, with an index by name.
    Map(Vec<(String, Node)>, HashMap<String, usize>),
}

fn tree(entries: &[Entry], keep: impl Fn(&Entry) -> bool) -> Node {
    let mut root = Node::Map(vec![], HashMap::new());
    for (i, en) in entries.iter().enumerate().filter(|(_, e)| keep(e)) {
        let mut cur = &mut root;
        let parts: Vec<&str> = en.path.split('.').collect();
        for (j, k) in parts.iter().enumerate() {
            let Node::Map(children, index) = cur else {
                unreachable!("leaf above {}", en.path)
            };
            let pos = match index.get(*k) {
                Some(p) => *p,
                None => {
                    let node = if j + 1 == parts.len() {
                        Node::Leaf(i)
                    } else {
                        Node::Map(vec![], HashMap::new())
                    };
                    children.push((k.to_string(), node));
                    index.insert(k.to_string(), children.len() - 1);
                    children.len() - 1
                }
            };
            cur = &mut children[pos].1;
        }
    }
    root
}

fn yaml_value(v: &Value, indent: usize) -> String {
    match v {
        Value::Object(o) if o.is_empty() => " {}".into(),
        Value::Array(a) if a.is_empty() => " []".into(),
        Value::Object(_) | Value::Array(_) => {
            let text = super::yaml::to_string(v);
            let pad = " ".repeat(indent);
            let mut s = String::new();
            for line in text.lines() {
                s.push('\n');
                s.push_str(&pad);
                s.push_str(line);
            }
            s
        }
        _ => format!(" {}", super::yaml::to_string(v).trim_end()),
    }
}

fn write(node: &Node, entries: &[Entry], depth: usize, out: &mut String) {
    let Node::Map(children, _) = node else { return };
    for (i, (k, child)) in children.iter().enumerate() {
        let pad = "  ".repeat(depth);
        if depth == 0 && i > 0 {
            out.push('\n');
        }
        match child {
            Node::Leaf(ix) => {
                let en = &entries[*ix];
                out.push_str(&format!("{pad}# -- {}\n", en.description));
                out.push_str(&format!(
                    "{pad}{}:{}\n",
                    yaml_key(k),
                    yaml_value(&en.default, (depth + 1) * 2)
                ));
            }
            Node::Map(..) => {
                out.push_str(&format!("{pad}{}:\n", yaml_key(k)));
                write(child, entries, depth + 1, out);
            }
        }
    }
}

/// A key as the one YAML writer writes it: quoted wherever YAML 1.1 (Helm's
/// reader) would take it for a boolean, a number or null (`on`, `no`, `y`).
fn yaml_key(k: &str) -> String {
    super::yaml::to_string(&Value::String(k.to_string()))
        .trim_end()
        .to_string()
}

pub fn values_yaml(m: &Model, entries: &[Entry]) -> String {
    let mut out = format!(
        "# Default values for {}, generated by meshpack from the policy; do not edit.\n# Override them with `--set` or `-f my-values.yaml`.\n\n",
        m.name
    );
    write(&tree(entries, |e| e.listed), entries, 0, &mut out);
    out
}

// ---- values.schema.json ----

fn leaf_schema(en: &Entry) -> Value {
    let ty = match &en.default {
        Value::Bool(_) => "boolean",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    let mut s = Map::new();
    s.insert("description".into(), json!(en.description));
    s.insert("type".into(), json!(ty));
    if let Some(Value::Object(extra)) = &en.schema {
        for (k, v) in extra {
            if k != "x-kind" {
                s.insert(k.clone(), v.clone());
            }
        }
        if extra.get("x-kind") == Some(&json!(ANY)) {
            s.remove("type");
        }
    }
    Value::Object(s)
}

fn node_schema(node: &Node, entries: &[Entry]) -> Value {
    match node {
        Node::Leaf(i) => leaf_schema(&entries[*i]),
        Node::Map(children, _) => {
            let props: Map<String, Value> = children
                .iter()
                .map(|(k, c)| (k.clone(), node_schema(c, entries)))
                .collect();
            json!({ "type": "object", "additionalProperties": false, "properties": props })
        }
    }
}

/// Draft-07, self-contained, closed: every Helm 3 and 4 validates it alike.
pub fn schema(m: &Model, entries: &[Entry]) -> Value {
    let mut s = node_schema(&tree(entries, |_| true), entries);
    let o = s.as_object_mut().expect("root is a map");
    o.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    o.insert(
        "title".into(),
        json!(format!("Values of the {} chart", m.name)),
    );
    // `global` must stay open: a parent chart passes its own globals down.
    // https://github.com/helm/helm/issues/10392
    if let Some(g) = o["properties"]
        .get_mut("global")
        .and_then(Value::as_object_mut)
    {
        g.insert("additionalProperties".into(), json!(true));
    }
    // Services (and gateways) share a few shapes: define each once and
    // refer to it, or a large policy's schema passes Helm's 5 MiB limit.
    // Internal `#/definitions` refs keep the schema self-contained.
    let mut definitions = Map::new();
    for key in ["services", "gateways"] {
        let Some(children) = o["properties"]
            .get_mut(key)
            .and_then(|n| n.get_mut("properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let mut shapes: HashMap<String, String> = HashMap::new();
        for child in children.values_mut() {
            let text = child.to_string();
            let name = shapes
                .entry(text)
                .or_insert_with_key(|_| format!("{key}-{}", definitions.len()))
                .clone();
            definitions
                .entry(name.clone())
                .or_insert_with(|| child.take());
            *child = json!({ "$ref": format!("#/definitions/{name}") });
        }
    }
    if !definitions.is_empty() {
        o.insert("definitions".into(), Value::Object(definitions));
    }
    let mut ordered = Map::new();
    for k in [
        "$schema",
        "title",
        "type",
        "additionalProperties",
        "properties",
        "definitions",
    ] {
        if let Some(v) = o.remove(k) {
            ordered.insert(k.into(), v);
        }
    }
    Value::Object(ordered)
}
