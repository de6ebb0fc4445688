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
    row_of(r, m, default)
}

/// The row of a handle whose default the model gives (a value under a
/// service, a gateway, `telemetry.tracing`, `secrets`): path, description
/// and schema extras from the handle.
fn row<K: Kind>(v: &Val<K>, m: &Model, default: Value) -> Entry {
    row_of(v.untyped(), m, default)
}

fn row_of(r: &Ref, m: &Model, default: Value) -> Entry {
    let doc = r
        .doc()
        .unwrap_or_else(|| panic!("{}: its handle declares no row", r.path()));
    let schema = match doc.extras {
        Extras::None => None,
        Extras::Some(f) => Some(f(m)),
        Extras::Package => Some(package_extras(r, m)),
    };
    Entry {
        path: r.path(),
        default,
        description: doc.description.to_string(),
        schema,
        listed: true,
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

/// `x-kind` of a value that takes anything (a removed one, `package::upgrades`).
pub const ANY: &str = "any";

pub fn entries(m: &Model) -> Vec<Entry> {
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
        image_entries(&mut v, m, helm_tests::image_key, probe);
        v.push(handle_row(helm_tests::timeout_seconds().untyped(), m));
    }
    if let Some(tr) = m.telemetry.as_ref().and_then(|t| t.tracing.as_ref()) {
        v.push(row(&tracing::provider(), m, json!(tr.provider)));
        v.push(row(
            &tracing::sampling(),
            m,
            crate::emit::number(tr.sampling),
        ));
        v.push(row(&tracing::host(), m, json!(tr.host)));
        v.push(row(&tracing::port(), m, json!(tr.port)));
        if let Some(ns) = &tr.namespace {
            v.push(row(&tracing::namespace(), m, json!(ns)));
        }
    }
    for g in &m.gateways {
        let gv = Gw::new(&g.name);
        v.push(row(&gv.hosts(), m, json!(g.hosts)));
        let selector: Map<String, Value> = g
            .selector
            .iter()
            .map(|(k, val)| (k.clone(), json!(val)))
            .collect();
        let sel = if g.internal {
            gv.internal_selector()
        } else {
            gv.selector()
        };
        v.push(row(&sel, m, Value::Object(selector)));
        v.push(row(&gv.service_account(), m, json!(g.service_account)));
        if let Some(t) = &g.tls {
            v.push(row(&gv.credential_name(), m, json!(t.credential_name)));
            if let Some((issuer, kind)) = &t.issuer {
                v.push(handle_row(gv.cert_manager_enabled().untyped(), m));
                v.push(row(&gv.cert_manager_issuer(), m, json!(issuer)));
                v.push(row(&gv.cert_manager_kind(), m, json!(kind)));
            }
        }
    }
    let d = &m.defaults;
    for (field, default) in [
        (PodField::Resources, wd::resources_value(&d.resources)),
        (
            PodField::PodSecurityContext,
            crate::emit::pod_meta::pod_security_context(d.run_as_user),
        ),
        (
            PodField::SecurityContext,
            crate::emit::pod_meta::container_security_context(d.read_only_root_filesystem),
        ),
        (PodField::NodeSelector, json!({})),
        (PodField::Tolerations, json!([])),
        (PodField::Affinity, json!({})),
        (PodField::PodAnnotations, json!({})),
    ] {
        v.push(row(&field.default_val(), m, default));
    }
    for s in &m.services {
        let sv = Svc::new(&s.name);
        if s.attach.is_some() {
            // The vendor renders the pods; only the annotations the
            // `podAnnotations` template merges are meshpack's.
            v.push(row(&sv.attached_pod_annotations(), m, json!({})));
            v.push(inject_entry(m, &sv.attached_inject()));
            continue;
        }
        if s.versions.is_empty() {
            image_entries(&mut v, m, |k| sv.image_key(k), &s.image);
            // Jobs, CronJobs and DaemonSets have no replicas.
            if s.workload.has_replicas() {
                v.push(row(&sv.replicas(), m, json!(s.replicas)));
            }
        }
        for ver in &s.versions {
            let vv = sv.version(&ver.name);
            image_entries(&mut v, m, |k| vv.image_key(k), &ver.image);
            v.push(row(&vv.replicas(), m, json!(ver.replicas)));
        }
        for (ver, w) in &s.traffic.split {
            v.push(row(&sv.split(ver), m, json!(w)));
        }
        // Overrides of serviceDefaults: listed only where the policy sets
        // them for this service; the schema accepts them everywhere.
        let d = &m.defaults;
        let own: [(PodField, Value, bool); 7] = [
            (
                PodField::Resources,
                wd::resources_value(&s.resources),
                s.resources != d.resources,
            ),
            (
                PodField::PodSecurityContext,
                crate::emit::pod::pod_security_context(s),
                s.run_as_user != d.run_as_user || s.pod.pod_security_context.is_some(),
            ),
            (
                PodField::SecurityContext,
                crate::emit::pod::security_context(s),
                s.read_only_root_filesystem != d.read_only_root_filesystem
                    || s.pod.security_context.is_some(),
            ),
            (PodField::NodeSelector, json!({}), false),
            (PodField::Tolerations, json!([]), false),
            (PodField::Affinity, json!({}), false),
            (PodField::PodAnnotations, json!({}), false),
        ];
        for (field, default, listed) in own {
            v.push(Entry {
                listed,
                ..row(&sv.own(field), m, default)
            });
        }
        v.push(inject_entry(m, &sv.inject()));
        if let (Workload::StatefulSet, Some(vol)) = (s.workload, &s.storage) {
            v.push(row(&sv.storage_size(), m, json!(vol.size)));
            v.push(row(
                &sv.storage_class_name(),
                m,
                json!(vol.storage_class.clone().unwrap_or_default()),
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
/// release-wide `istio.injection`, whose default it takes).
fn inject_entry(m: &Model, inject: &Val<Inject>) -> Entry {
    Entry {
        listed: false,
        ..row(inject, m, ISTIO_INJECTION.default(m).expect("release-wide"))
    }
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
        .map(|n| row(&secret(&n), m, json!(n)))
        .collect()
}

/// The four image rows under one map (`services.<n>.image`, `tests.image`).
fn image_entries(
    v: &mut Vec<Entry>,
    m: &Model,
    key: impl Fn(&'static str) -> Val<Str>,
    image: &Image,
) {
    v.push(row(&key("registry"), m, json!(image.registry)));
    v.push(row(&key("repository"), m, json!(image.repository)));
    v.push(row(&key("tag"), m, json!(image.tag)));
    v.push(row(&key("digest"), m, json!(image.digest)));
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
