//! The chart's values: one list of entries from which `values.yaml` (with
//! helm-docs `# --` comments), `values.schema.json` and the README's values
//! table are all made, so the three cannot drift apart. values.yaml is
//! written with `package::yaml`, the writer of every YAML file meshpack
//! emits.

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

pub fn entries(m: &Model) -> Vec<Entry> {
    let smap = || json!({ "additionalProperties": { "type": "string" }, "x-kind": STRING_MAP });
    let mut v = vec![
        e("nameOverride", json!(""), "Replaces the chart name in object names."),
        e("fullnameOverride", json!(""), "Replaces `<release>-<chart>` in object names."),
        e("global.imageRegistry", json!(""), "Registry that replaces every image's registry, e.g. a private mirror."),
        es("global.imagePullSecrets", json!(m.pull_secrets), "Names of Secrets every pod pulls images with.", json!({"items": {"type": "string"}})),
        e("istio.enabled", json!(false), "Render the Istio mesh: mTLS, authorization, routing, egress control and sidecar injection."),
        es("istio.injection", json!(true), "Sidecar injection of the pods with the mesh on: `true`, `false`, or `namespace` to write no `sidecar.istio.io/inject` label and leave it to the namespace's. With the mesh off pods are labelled `\"false\"` unless `namespace`.", injection_schema()),
        es("istio.dataplane", json!(m.mesh.dataplane.as_str()), "How pods join the mesh: `sidecar` (injected Envoy) or `ambient` (ztunnel, waypoints for L7 rules).", json!({"enum": ["sidecar", "ambient"]})),
        es("istio.revision", json!(m.mesh.revision.clone().unwrap_or_default()), "Istio revision that injects the pods (label `istio.io/rev`); empty for the default revision.", json!({"pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"})),
        e("istio.proxyImage.registry", json!(m.mesh.proxy.as_ref().map(|i| i.registry.clone()).unwrap_or_default()), "Registry of the pinned sidecar image (`global.imageRegistry` wins)."),
        e("istio.proxyImage.repository", json!(m.mesh.proxy.as_ref().map(|i| i.repository.clone()).unwrap_or_default()), "Repository of the sidecar image pods pin (`sidecar.istio.io/proxyImage`); empty leaves the choice to istiod."),
        e("istio.proxyImage.tag", json!(m.mesh.proxy.as_ref().map(|i| i.tag.clone()).unwrap_or_default()), "Tag of the pinned sidecar image."),
        es("istio.proxyImage.digest", json!(m.mesh.proxy.as_ref().map(|i| i.digest.clone()).unwrap_or_default()), "Digest of the pinned sidecar image; wins over the tag.", json!({"pattern": "^(sha256:[a-f0-9]{64})?$"})),
        es("istio.annotations", json!({}), "Extra pod annotations when Istio is enabled (e.g. `proxy.istio.io/config`).", smap()),
        es("istio.trustDomain", json!("cluster.local"), "Trust domain of the mesh; principals are `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.", json!({"pattern": "^[A-Za-z0-9.-]+$"})),
        es("istio.version", json!("1.25"), "Oldest Istio (`1.<minor>` or `1.<minor>.<patch>`, a string: quote it in values files) the release must work with. From 1.25 on, AuthorizationPolicies name ServiceAccounts (`source.serviceAccounts`) and Sidecars the namespace's Services, so the objects carry no namespace and install anywhere; before 1.25 they name principals and FQDNs with the release namespace (see docs/istio-versions.md).", json!({"pattern": "^1\\.[0-9]+(\\.[0-9]+)?$"})),
        e("istio.namespaceWide", json!(false), "Apply mTLS and the default deny to the whole namespace instead of only this release's pods."),
        es("istio.gateway.namespace", json!("istio-ingress"), "Namespace of the ingress gateways (their TLS Secrets, Certificates and Gateway API Gateways live there).", json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})),
        es("istio.controlPlane.namespace", json!("istio-system"), "Namespace of istiod.", json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})),
        e("gatewayApi.enabled", json!(false), "Render gateways as Kubernetes Gateway API `Gateway` and `HTTPRoute` objects instead of Istio's `Gateway` and `VirtualService` (works without Istio too)."),
        e("gatewayApi.className", json!("istio"), "GatewayClass of the Gateways."),
        e("faultInjection.enabled", json!(false), "Inject the delays and errors the policy declares under `traffic.fault` (for resilience tests; never in production)."),
        e("networkPolicy.enabled", json!(true), "Render NetworkPolicies: default deny, then the allowed edges at L3/L4."),
        es("networkPolicy.gatewayNamespaces", json!(["istio-ingress"]), "Namespaces of the ingress that fronts the gateways (without Istio: your ingress controller's).", json!({"items": {"type": "string"}})),
        es("networkPolicy.egressCIDRs", json!(["0.0.0.0/0"]), "Address ranges egress hosts may be reached in (NetworkPolicies cannot match host names).", json!({"items": {"type": "string"}, "minItems": 1})),
        es("metrics.prometheus.namespace", json!("monitoring"), "Namespace of the Prometheus that scrapes the release; NetworkPolicies admit it to metrics ports (`metrics`, `<protocol>-metrics`) and, with Istio, to the sidecars' 15020 (merged metrics) and 15090 (Envoy).", json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})),
        es("metrics.prometheus.podLabels", json!({}), "Labels of the Prometheus pods; empty admits every pod of its namespace.", smap()),
        e("metrics.serviceMonitor.enabled", json!(false), "Render a Prometheus Operator ServiceMonitor per service with metrics ports (scrapes the application port: with STRICT mTLS the Prometheus needs Istio certificates)."),
        e("metrics.podMonitor.enabled", json!(false), "With Istio, render a Prometheus Operator PodMonitor for the sidecars' Envoy metrics (`http-envoy-prom`, /stats/prometheus)."),
    ];
    if let Some(tr) = m.telemetry.as_ref().and_then(|t| t.tracing.as_ref()) {
        v.push(e(
            "telemetry.tracing.provider",
            json!(tr.provider),
            "Name of the tracing provider in the mesh config's `extensionProviders` (see the chart's NOTES).",
        ));
        v.push(es(
            "telemetry.tracing.sampling",
            crate::emit::number(tr.sampling),
            "Share of requests traced, in percent.",
            json!({"minimum": 0, "maximum": 100}),
        ));
        v.push(e(
            "telemetry.tracing.host",
            json!(tr.host),
            "Host of the trace collector (for the provider's definition and egress to it).",
        ));
        v.push(es(
            "telemetry.tracing.port",
            json!(tr.port),
            "Port of the trace collector.",
            json!({"minimum": 1, "maximum": 65535}),
        ));
        if let Some(ns) = &tr.namespace {
            v.push(e(
                "telemetry.tracing.namespace",
                json!(ns),
                "Namespace of the trace collector; NetworkPolicies allow the sidecars egress to it.",
            ));
        }
    }
    for g in &m.gateways {
        let p = format!("gateways.{}", g.name);
        v.push(es(
            format!("{p}.hosts"),
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
            format!("{p}.selector"),
            Value::Object(selector),
            if g.internal {
                "Labels selecting the internal ingress gateway pods (Istio Gateway)."
            } else {
                "Labels selecting the ingress gateway pods (Istio Gateway)."
            },
            smap(),
        ));
        v.push(es(
            format!("{p}.serviceAccount"),
            json!(g.service_account),
            "ServiceAccount of the gateway pods in `istio.gateway.namespace`, allowed by rules `from: gateway/<name>` (with Gateway API, Istio deploys the gateway under it).",
            json!({"pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}),
        ));
        if let Some(t) = &g.tls {
            v.push(e(
                format!("{p}.tls.credentialName"),
                json!(t.credential_name),
                "Secret with the TLS certificate, in `istio.gateway.namespace`.",
            ));
            if let Some((issuer, kind)) = &t.issuer {
                v.push(e(
                    format!("{p}.tls.certManager.enabled"),
                    json!(true),
                    "Have cert-manager issue the Secret.",
                ));
                v.push(e(
                    format!("{p}.tls.certManager.issuer"),
                    json!(issuer),
                    "cert-manager issuer name.",
                ));
                v.push(es(
                    format!("{p}.tls.certManager.kind"),
                    json!(kind),
                    "`Issuer` or `ClusterIssuer`.",
                    json!({"enum": ["Issuer", "ClusterIssuer"]}),
                ));
            }
        }
    }
    let d = &m.defaults;
    v.push(e(
        "serviceDefaults.resources",
        wd::resources_value(&d.resources),
        "Container resource requests and limits of every service.",
    ));
    v.push(e(
        "serviceDefaults.podSecurityContext",
        wd::pod_security_context(d.run_as_user),
        "Pod security context of every service.",
    ));
    v.push(e(
        "serviceDefaults.securityContext",
        wd::container_security_context(d.read_only_root_filesystem),
        "Container security context of every service.",
    ));
    v.push(es(
        "serviceDefaults.nodeSelector",
        json!({}),
        "Node labels every service's pods must run on.",
        smap(),
    ));
    v.push(e(
        "serviceDefaults.tolerations",
        json!([]),
        "Tolerations of every service's pods.",
    ));
    v.push(e(
        "serviceDefaults.affinity",
        json!({}),
        "Affinity rules of every service's pods.",
    ));
    v.push(es(
        "serviceDefaults.podAnnotations",
        json!({}),
        "Extra pod annotations of every service.",
        smap(),
    ));
    for s in &m.services {
        let p = format!("services.{}", s.name);
        if s.attach.is_some() {
            // The vendor renders the pods; only the annotations the
            // `podAnnotations` template merges are meshpack's.
            let mut en = e(
                format!("{p}.podAnnotations"),
                json!({}),
                "Extra pod annotations (default: serviceDefaults), through the `podAnnotations` template.",
            );
            en.schema = Some(smap());
            v.push(en);
            continue;
        }
        if s.versions.is_empty() && !s.workload.has_replicas() {
            image_entries(&mut v, &p, &s.image);
        } else if s.versions.is_empty() {
            image_entries(&mut v, &p, &s.image);
            v.push(es(
                format!("{p}.replicas"),
                json!(s.replicas),
                "Pod replicas.",
                json!({"minimum": 0}),
            ));
        }
        for ver in &s.versions {
            let vp = format!("{p}.versions.{}", ver.name);
            image_entries(&mut v, &vp, &ver.image);
            v.push(es(
                format!("{vp}.replicas"),
                json!(ver.replicas),
                "Pod replicas of this version.",
                json!({"minimum": 0}),
            ));
        }
        for (ver, w) in &s.traffic.split {
            v.push(es(
                format!("{p}.traffic.split.{ver}"),
                json!(w),
                "Percent of requests to this version (the weights must add up to 100).",
                json!({"minimum": 0, "maximum": 100}),
            ));
        }
        // Overrides of serviceDefaults: listed only where the policy sets
        // them for this service; the schema accepts them everywhere.
        let d = &m.defaults;
        let own: [(&str, Value, bool, &str); 7] = [
            (
                "resources",
                wd::resources_value(&s.resources),
                s.resources != d.resources,
                "Container resource requests and limits (default: serviceDefaults).",
            ),
            (
                "podSecurityContext",
                crate::emit::pod::pod_security_context(s),
                s.run_as_user != d.run_as_user || s.pod.pod_security_context.is_some(),
                "Pod security context (default: serviceDefaults).",
            ),
            (
                "securityContext",
                crate::emit::pod::security_context(s),
                s.read_only_root_filesystem != d.read_only_root_filesystem
                    || s.pod.security_context.is_some(),
                "Container security context (default: serviceDefaults).",
            ),
            (
                "nodeSelector",
                json!({}),
                false,
                "Node labels the pods must run on (default: serviceDefaults).",
            ),
            (
                "tolerations",
                json!([]),
                false,
                "Tolerations of the pods (default: serviceDefaults).",
            ),
            (
                "affinity",
                json!({}),
                false,
                "Affinity rules of the pods (default: serviceDefaults).",
            ),
            (
                "podAnnotations",
                json!({}),
                false,
                "Extra pod annotations (default: serviceDefaults).",
            ),
        ];
        for (key, default, listed, desc) in own {
            let mut en = e(format!("{p}.{key}"), default, desc);
            en.listed = listed;
            if key == "nodeSelector" || key == "podAnnotations" {
                en.schema = Some(smap());
            }
            v.push(en);
        }
        let mut inject = es(
            format!("{p}.istio.inject"),
            json!(true),
            "This service's `istio.injection` (default: istio.injection).",
            injection_schema(),
        );
        inject.listed = false;
        v.push(inject);
        if let (Workload::StatefulSet, Some(vol)) = (s.workload, &s.storage) {
            v.push(e(
                format!("{p}.storage.size"),
                json!(vol.size),
                "Size of each replica's volume.",
            ));
            v.push(e(
                format!("{p}.storage.storageClassName"),
                json!(vol.storage_class.clone().unwrap_or_default()),
                "StorageClass of the volumes; empty means the cluster default.",
            ));
        }
    }
    v.extend(secret_entries(m));
    v
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
                format!("secrets.{n}"),
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

fn image_entries(v: &mut Vec<Entry>, p: &str, image: &Image) {
    v.push(e(
        format!("{p}.image.registry"),
        json!(image.registry),
        "Image registry (`global.imageRegistry` wins).",
    ));
    v.push(e(
        format!("{p}.image.repository"),
        json!(image.repository),
        "Image repository.",
    ));
    v.push(e(
        format!("{p}.image.tag"),
        json!(image.tag),
        "Image tag; empty means the chart's appVersion.",
    ));
    v.push(es(
        format!("{p}.image.digest"),
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
