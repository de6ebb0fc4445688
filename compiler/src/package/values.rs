//! The chart's values: one list of entries from which `values.yaml` (with
//! helm-docs `# --` comments), `values.schema.json` and the README's values
//! table are all made, so the three cannot drift apart. values.yaml is
//! written with `package::yaml`, the writer of every YAML file meshpack
//! emits. A release-wide row is built from its handle's declaration in
//! `emit::values` (path, default, description, schema extras), not restated
//! here; per-service and per-gateway rows are named by their handles.

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

/// The row of a release-wide handle: path, default, description and
/// schema extras all from its declaration in `emit::values` (the `fixed!`
/// list, `helm_tests`).
fn handle_row(r: &Ref, m: &Model) -> Entry {
    let default = r
        .default(m)
        .unwrap_or_else(|| panic!("{} has no release-wide default", r.path()));
    let doc = r
        .doc()
        .unwrap_or_else(|| panic!("{} has no description", r.path()));
    let schema = match doc.extras {
        Extras::None => None,
        Extras::Some(f) => Some(f(m)),
        Extras::Package => Some(package_extras(r, m)),
    };
    Entry {
        schema,
        ..e(r.path(), default, doc.description)
    }
}

/// The extras a handle leaves to `package` ([`Extras::Package`]).
fn package_extras(r: &Ref, m: &Model) -> Value {
    if r == EXTRA_EGRESS.untyped() {
        json!({"items": super::values_customer::egress_item(m)})
    } else if r == EXTRA_SOURCES.untyped() {
        json!({"items": super::values_customer::source_item(m)})
    } else {
        panic!("{}: no schema extras in package::values", r.path())
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

/// `x-kind` of a value that takes anything (a removed one, `package::upgrades`).
pub const ANY: &str = "any";

pub fn entries(m: &Model) -> Vec<Entry> {
    let smap = || string_map(m);
    // The release-wide values in their declaration order; the install-time
    // additions (issue #19), from `ISTIO_MTLS_MODE` on, go last.
    let fixed = fixed_handles();
    let additions = fixed
        .iter()
        .position(|(r, _)| r == ISTIO_MTLS_MODE.untyped())
        .expect("ISTIO_MTLS_MODE is a release-wide handle");
    let mut v: Vec<Entry> = fixed[..additions]
        .iter()
        .map(|(r, _)| handle_row(r, m))
        .collect();
    if let Some(probe) = &m.probe_image {
        v.push(handle_row(helm_tests::enabled().untyped(), m));
        image_entries(&mut v, helm_tests::image_key, probe);
        v.push(handle_row(helm_tests::timeout_seconds().untyped(), m));
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
    v.extend(fixed[additions..].iter().map(|(r, _)| handle_row(r, m)));
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
