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
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Entry {
    /// Dotted path, e.g. `services.api.replicas`.
    pub path: String,
    pub default: Value,
    /// The handle's own text (borrowed), or one made for the row.
    pub description: Cow<'static, str>,
    /// Extra JSON Schema keywords (enum, pattern, minimum...), shared by
    /// every row of the same handle kind (one per service otherwise).
    pub schema: Option<Arc<Value>>,
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
        Extras::Some(f) => Some(Arc::new(f(m))),
        Extras::Package => Some(Arc::new(package_extras(r, m))),
    };
    Entry {
        path: r.path(),
        default,
        description: Cow::Borrowed(doc.description),
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
    // Schema extras of the rows so far, each once (see `share`).
    let (mut pool, mut shared) = (vec![], 0);
    for s in &m.services {
        share(&mut pool, &mut v[shared..]);
        shared = v.len();
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
    share(&mut pool, &mut v[shared..]);
    v.extend(secret_entries(m));
    // The install-time additions (issue #19).
    v.extend(fixed[additions..].iter().map(|(r, _)| handle_row(r, m)));
    v
}

/// Make the rows' schema extras the pooled ones they equal: every
/// service's rows have the same few, so a large policy holds each once
/// instead of once per service (called after each service, so no more
/// than one service's fresh copies are held).
fn share(pool: &mut Vec<Arc<Value>>, rows: &mut [Entry]) {
    for e in rows {
        let Some(s) = &mut e.schema else { continue };
        match pool.iter().find(|p| **p == *s) {
            Some(p) => *s = p.clone(),
            None if pool.len() < POOL => pool.push(s.clone()),
            None => {}
        }
    }
}

/// Most distinct extras pooled: a bound on the scan per row, should some
/// handle's extras differ per service.
const POOL: usize = 64;

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

/// The dotted paths as a tree of their segments, borrowed from the
/// entries' paths: one node per segment, not one owned key each (at 10,000
/// services the tree has about 250,000 nodes).
enum Node<'a> {
    Leaf(usize),
    Map(Children<'a>),
}

/// A map's children in insertion order; an index by name only for a map
/// with many children (`services`, `gateways`, `secrets`), since a scan of a
/// few keys is cheaper than a hash map per service.
#[derive(Default)]
struct Children<'a> {
    list: Vec<(&'a str, Node<'a>)>,
    index: Option<HashMap<&'a str, usize>>,
}

/// Children beyond which a map gets an index.
const SCAN: usize = 16;

impl<'a> Children<'a> {
    fn position(&self, k: &str) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(k).copied(),
            None => self.list.iter().position(|(n, _)| *n == k),
        }
    }

    fn push(&mut self, k: &'a str, node: Node<'a>) -> usize {
        let pos = self.list.len();
        self.list.push((k, node));
        if let Some(ix) = &mut self.index {
            ix.insert(k, pos);
        } else if self.list.len() > SCAN {
            let ix = self.list.iter().enumerate().map(|(i, (n, _))| (*n, i));
            self.index = Some(ix.collect());
        }
        pos
    }
}

fn tree(entries: &[Entry], keep: impl Fn(&Entry) -> bool) -> Node<'_> {
    let mut root = Node::Map(Children::default());
    for (i, en) in entries.iter().enumerate().filter(|(_, e)| keep(e)) {
        let mut cur = &mut root;
        let mut parts = en.path.split('.').peekable();
        while let Some(k) = parts.next() {
            let Node::Map(children) = cur else {
                unreachable!("leaf above {}", en.path)
            };
            let pos = match children.position(k) {
                Some(p) => p,
                None => {
                    let node = if parts.peek().is_none() {
                        Node::Leaf(i)
                    } else {
                        Node::Map(Children::default())
                    };
                    children.push(k, node)
                }
            };
            cur = &mut children.list[pos].1;
        }
    }
    root
}

/// A value after its key (`key:` is written): ` {}`, ` []`, ` <scalar>`,
/// or its block on the next lines at `indent`.
fn push_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(o) if o.is_empty() => out.push_str(" {}"),
        Value::Array(a) if a.is_empty() => out.push_str(" []"),
        Value::Object(_) | Value::Array(_) => {
            let text = super::yaml::to_string(v);
            for line in text.lines() {
                out.push('\n');
                crate::yaml_write::indent(out, indent);
                out.push_str(line);
            }
        }
        _ => {
            out.push(' ');
            let start = out.len();
            crate::yaml_write::write(out, v, &mut crate::yaml_write::Plain);
            out.truncate(out.trim_end().len().max(start));
        }
    }
}

/// Written straight into `out`: a row per line pair, no string made per
/// row (values.yaml has ~20 rows per service).
fn write(node: &Node, entries: &[Entry], depth: usize, out: &mut String) {
    let Node::Map(children) = node else { return };
    for (i, (k, child)) in children.list.iter().enumerate() {
        if depth == 0 && i > 0 {
            out.push('\n');
        }
        match child {
            Node::Leaf(ix) => {
                let en = &entries[*ix];
                crate::yaml_write::indent(out, depth * 2);
                out.push_str("# -- ");
                out.push_str(&en.description);
                out.push('\n');
                crate::yaml_write::indent(out, depth * 2);
                push_key(out, k);
                out.push(':');
                push_value(out, &en.default, (depth + 1) * 2);
                out.push('\n');
            }
            Node::Map(_) => {
                crate::yaml_write::indent(out, depth * 2);
                push_key(out, k);
                out.push_str(":\n");
                write(child, entries, depth + 1, out);
            }
        }
    }
}

/// A key as the one YAML writer writes it: quoted wherever YAML 1.1 (Helm's
/// reader) would take it for a boolean, a number or null (`on`, `no`, `y`).
fn push_key(out: &mut String, k: &str) {
    crate::yaml_write::key(out, k);
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
    if let Some(Value::Object(extra)) = en.schema.as_deref() {
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

fn map_schema(props: Map<String, Value>) -> Value {
    json!({ "type": "object", "additionalProperties": false, "properties": props })
}

fn node_schema(node: &Node, entries: &[Entry]) -> Value {
    match node {
        Node::Leaf(i) => leaf_schema(&entries[*i]),
        Node::Map(children) => map_schema(
            children
                .list
                .iter()
                .map(|(k, c)| (k.to_string(), node_schema(c, entries)))
                .collect(),
        ),
    }
}

/// Maps whose children (services, gateways) share a few shapes: each shape
/// is defined once and referred to, or a large policy's schema passes
/// Helm's 5 MiB limit. Internal `#/definitions` refs keep the schema
/// self-contained; Helm 3 (gojsonschema) and Helm 4 (santhosh-tekuri
/// jsonschema) both resolve them (the `tools` tests validate values
/// against it with both).
const SHARED: [&str; 2] = ["services", "gateways"];

/// The definitions made so far, by the compact JSON text of their schema.
#[derive(Default)]
struct Shapes {
    by_text: HashMap<String, String>,
    definitions: Map<String, Value>,
}

/// What a leaf's schema is made of ([`leaf_schema`]): its description,
/// the type of its default and its extras, by identity. Two leaves with
/// the same parts have the same schema; rows of one handle share the
/// description (a `&'static str`) and the extras (pooled, [`share`]).
type LeafParts = (usize, usize, std::mem::Discriminant<Value>, usize);

fn leaf_parts(en: &Entry) -> LeafParts {
    (
        en.description.as_ptr() as usize,
        en.description.len(),
        std::mem::discriminant(&en.default),
        en.schema.as_ref().map_or(0, |s| Arc::as_ptr(s) as usize),
    )
}

/// `node_schema(node, entries).to_string()`, written without building the
/// schema: a map's text is put together around its children's, and each
/// leaf's text is made once per [`LeafParts`] (`leaves` keeps them). At
/// 10,000 services building and printing every service's schema tree
/// only to look up its shape was two fifths of the values side's time.
fn schema_key(
    node: &Node,
    entries: &[Entry],
    leaves: &mut HashMap<LeafParts, String>,
    out: &mut String,
) {
    match node {
        Node::Leaf(i) => {
            let en = &entries[*i];
            let text = leaves
                .entry(leaf_parts(en))
                .or_insert_with(|| leaf_schema(en).to_string());
            out.push_str(text);
        }
        // `map_schema`'s keys in their order, as serde_json prints them.
        Node::Map(children) => {
            out.push_str(r#"{"type":"object","additionalProperties":false,"properties":{"#);
            for (i, (k, c)) in children.list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, k);
                out.push(':');
                schema_key(c, entries, leaves, out);
            }
            out.push_str("}}");
        }
    }
}

/// `k` as serde_json prints a string: quoted, escaped only where it needs
/// it (a value path's keys almost never do; one `String` per key was a
/// visible share of the values side at 10,000 services).
fn push_json_string(out: &mut String, k: &str) {
    if k.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(k);
        out.push('"');
    } else {
        out.push_str(&Value::from(k).to_string());
    }
}

/// The schema of a [`SHARED`] map: each child's schema text is made
/// ([`schema_key`]), looked up, and only a new shape's schema is built and
/// kept, so no more than one child's schema tree is held at a time.
fn shared_schema(key: &str, node: &Node, entries: &[Entry], shapes: &mut Shapes) -> Value {
    let Node::Map(children) = node else {
        return node_schema(node, entries);
    };
    let mut props = Map::new();
    let mut leaves = HashMap::new();
    let mut text = String::new();
    for (k, c) in &children.list {
        text.clear();
        schema_key(c, entries, &mut leaves, &mut text);
        let name = match shapes.by_text.get(&text) {
            Some(n) => n.clone(),
            None => {
                let schema = node_schema(c, entries);
                debug_assert_eq!(schema.to_string(), text, "{key}.{k}");
                let n = format!("{key}-{}", shapes.definitions.len());
                shapes.definitions.insert(n.clone(), schema);
                shapes.by_text.insert(text.clone(), n.clone());
                n
            }
        };
        props.insert(
            k.to_string(),
            json!({ "$ref": format!("#/definitions/{name}") }),
        );
    }
    map_schema(props)
}

/// Draft-07, self-contained, closed: every Helm 3 and 4 validates it alike.
pub fn schema(m: &Model, entries: &[Entry]) -> Value {
    let tree = tree(entries, |_| true);
    let Node::Map(top) = &tree else {
        unreachable!("the root is a map")
    };
    // The shared maps are filled in after the others, `services` first,
    // so definitions are numbered in that order.
    let mut props: Map<String, Value> = top
        .list
        .iter()
        .map(|(k, c)| {
            let s = match SHARED.contains(k) {
                true => Value::Null,
                false => node_schema(c, entries),
            };
            (k.to_string(), s)
        })
        .collect();
    let mut shapes = Shapes::default();
    for key in SHARED {
        if let Some(pos) = top.position(key) {
            props[key] = shared_schema(key, &top.list[pos].1, entries, &mut shapes);
        }
    }
    // `global` must stay open: a parent chart passes its own globals down.
    // https://github.com/helm/helm/issues/10392
    if let Some(g) = props.get_mut("global").and_then(Value::as_object_mut) {
        g.insert("additionalProperties".into(), json!(true));
    }
    let mut o = Map::new();
    o.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    o.insert(
        "title".into(),
        json!(format!("Values of the {} chart", m.name)),
    );
    o.insert("type".into(), json!("object"));
    o.insert("additionalProperties".into(), json!(false));
    o.insert("properties".into(), Value::Object(props));
    if !shapes.definitions.is_empty() {
        o.insert("definitions".into(), Value::Object(shapes.definitions));
    }
    Value::Object(o)
}

/// values.schema.json's text: [`schema`] pretty-printed, with a final
/// newline.
pub fn schema_text(m: &Model, entries: &[Entry]) -> String {
    let mut out = serde_json::to_vec_pretty(&schema(m, entries)).expect("schema");
    out.push(b'\n');
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(path: &str, default: Value) -> Entry {
        Entry {
            path: path.into(),
            default,
            description: Cow::Borrowed("d."),
            schema: None,
            listed: true,
        }
    }

    /// The text a shape is looked up by is the schema's own compact text,
    /// for every node of the values tree (services, gateways and
    /// release-wide maps alike) of the committed policies and a synthetic
    /// one.
    #[test]
    fn schema_keys_are_the_schemas_text() {
        let synthetic = crate::synthetic::policy(&crate::synthetic::Shape {
            services: 40,
            ..Default::default()
        });
        let texts = [
            include_str!("../../../policies/orderflow.yaml"),
            include_str!("../../../policies/evalhub.yaml"),
            &synthetic,
        ];
        fn walk(node: &Node, entries: &[Entry], leaves: &mut HashMap<LeafParts, String>) -> usize {
            let mut key = String::new();
            schema_key(node, entries, leaves, &mut key);
            assert_eq!(key, node_schema(node, entries).to_string());
            match node {
                Node::Leaf(_) => 1,
                Node::Map(c) => {
                    1 + c
                        .list
                        .iter()
                        .map(|(_, n)| walk(n, entries, leaves))
                        .sum::<usize>()
                }
            }
        }
        for text in texts {
            let m = crate::compile_model(text, None).expect("compiles");
            let rows = entries(&m);
            let mut leaves = HashMap::new();
            let nodes = walk(&tree(&rows, |_| true), &rows, &mut leaves);
            assert!(nodes > rows.len(), "{nodes} nodes, {} rows", rows.len());
            assert!(leaves.len() < rows.len(), "leaves share their text");
        }
    }

    #[test]
    fn rows_of_every_service_share_their_schema_extras() {
        let m = crate::compile_model(include_str!("../../../policies/orderflow.yaml"), None)
            .expect("compiles");
        let rows = entries(&m);
        let inject = |name: &str| {
            let path = format!("services.{name}.istio.inject");
            let e = rows.iter().find(|e| e.path == path).expect("an inject row");
            e.schema.clone().expect("inject rows have extras")
        };
        let (a, b) = (&m.services[0].name, &m.services[1].name);
        assert!(Arc::ptr_eq(&inject(a), &inject(b)), "{a} and {b}");
        assert_eq!(*inject(a), injection_schema());
    }

    #[test]
    fn share_pools_equal_extras_and_keeps_different_ones() {
        let with = |path: &str, extras: Value| Entry {
            schema: Some(Arc::new(extras)),
            ..row(path, json!(""))
        };
        let mut rows = vec![
            with("a.x", json!({"pattern": "^a$"})),
            with("a.y", json!({"pattern": "^b$"})),
            with("b.x", json!({"pattern": "^a$"})),
            row("b.z", json!(1)),
        ];
        let mut pool = vec![];
        share(&mut pool, &mut rows);
        let s = |i: usize| rows[i].schema.clone().unwrap();
        assert!(Arc::ptr_eq(&s(0), &s(2)));
        assert!(!Arc::ptr_eq(&s(0), &s(1)));
        assert_eq!(*s(1), json!({"pattern": "^b$"}));
        assert!(rows[3].schema.is_none());
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn a_map_past_the_scan_limit_keeps_its_children_in_order_and_found() {
        // More services than `SCAN`, then a second row of the third one:
        // it must join that service, not start a second `s2:` map.
        let mut rows: Vec<Entry> = (0..SCAN + 4)
            .map(|i| row(&format!("services.s{i}.replicas"), json!(i)))
            .collect();
        rows.push(row("services.s2.tag", json!("v")));
        rows.push(row("services.s2.replicas", json!(99)));
        let t = tree(&rows, |_| true);
        let Node::Map(top) = &t else { panic!("root") };
        assert_eq!(top.list.len(), 1);
        let Node::Map(services) = &top.list[0].1 else {
            panic!("services")
        };
        let names: Vec<&str> = services.list.iter().map(|(k, _)| *k).collect();
        let want: Vec<String> = (0..SCAN + 4).map(|i| format!("s{i}")).collect();
        assert_eq!(names, want);
        assert!(services.index.is_some());
        let Node::Map(s2) = &services.list[2].1 else {
            panic!("s2")
        };
        let keys: Vec<(&str, usize)> = s2
            .list
            .iter()
            .map(|(k, n)| match n {
                Node::Leaf(i) => (*k, *i),
                Node::Map(_) => panic!("{k} is a leaf"),
            })
            .collect();
        // The repeated path keeps its first row.
        assert_eq!(keys, [("replicas", 2), ("tag", SCAN + 4)]);
    }

    #[test]
    fn services_of_one_shape_share_a_definition_and_others_get_their_own() {
        let m = crate::compile_model(include_str!("../../../policies/orderflow.yaml"), None)
            .expect("compiles");
        let rows = vec![
            row("services.a.replicas", json!(1)),
            row("services.b.replicas", json!(2)),
            row("services.c.tag", json!("x")),
            row("gateways.g.hosts", json!([])),
            row("services.b.extra", json!(true)),
            row("global.imageRegistry", json!("")),
            row("services.d.replicas", json!(5)),
        ];
        let s = schema(&m, &rows);
        let services = &s["properties"]["services"]["properties"];
        assert_eq!(services["a"], json!({"$ref": "#/definitions/services-0"}));
        assert_eq!(services["b"], json!({"$ref": "#/definitions/services-1"}));
        assert_eq!(services["c"], json!({"$ref": "#/definitions/services-2"}));
        assert_eq!(services["d"], json!({"$ref": "#/definitions/services-0"}));
        // Services are numbered first, although the gateways come first.
        assert_eq!(
            s["properties"]["gateways"]["properties"]["g"],
            json!({"$ref": "#/definitions/gateways-3"})
        );
        let keys: Vec<&String> = s["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["services", "gateways", "global"]);
        assert_eq!(
            s["properties"]["global"]["additionalProperties"],
            json!(true)
        );
        let defs = s["definitions"].as_object().unwrap();
        let names: Vec<&String> = defs.keys().collect();
        assert_eq!(
            names,
            ["services-0", "services-1", "services-2", "gateways-3"]
        );
        assert_eq!(
            defs["services-1"]["properties"]["extra"],
            json!({"description": "d.", "type": "boolean"})
        );
        let top: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(
            top,
            [
                "$schema",
                "title",
                "type",
                "additionalProperties",
                "properties",
                "definitions"
            ]
        );
    }
}
