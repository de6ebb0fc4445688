//! CustomResourceDefinitions as JSON Schemas: the one conversion used for
//! `--crd` files and for the built-in Istio, Gateway API and cert-manager
//! schemas, which are generated from the upstream CRDs by `generate` and
//! committed as `builtin-crds.json` (regenerate: `UPDATE_GOLDEN=1 cargo
//! test --test vperf`; a test fails when the file is stale).
//!
//! Invariant: the conversion is the one kubeconform's schema files in
//! `../shared/schemas` were made with (see `istio/README.md` there), so the
//! same object gets the same structural verdict from both tools; a test
//! compares the two, description for description stripped. CEL rules
//! (`x-kubernetes-validations`) are kept where they stand, for `cel`.
//!
//! What the conversion does to each version's `openAPIV3Schema`:
//! 1. every object schema with `properties`, reached through `properties`,
//!    `items` or `additionalProperties`, is closed (`additionalProperties:
//!    false`) unless it sets `x-kubernetes-preserve-unknown-fields` or has
//!    `additionalProperties` already; `allOf`/`anyOf`/`oneOf`/`not`
//!    branches stay open (they only carry one-of-fields `required` lists);
//! 2. `nullable: true` becomes a `"null"` member of `type` (the API server
//!    accepts `null` there);
//! 3. the root pins `apiVersion` and `kind` by `enum` and declares
//!    `metadata: {type: object}`;
//! 4. `$schema` is draft-07.
//!
//! <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema>

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One served version of a CRD, converted: `(apiVersion, kind, schema)`.
pub type Converted = (String, String, Value);

/// Every version of every CustomResourceDefinition among `objects`.
pub(crate) fn versions(objects: &[Value]) -> Vec<Converted> {
    let mut out = vec![];
    for o in objects {
        if o["kind"].as_str() != Some("CustomResourceDefinition") {
            continue;
        }
        let spec = &o["spec"];
        let group = spec["group"].as_str().unwrap_or("");
        let kind = spec["names"]["kind"].as_str().unwrap_or("");
        for v in spec["versions"].as_array().into_iter().flatten() {
            let (Some(name), Some(schema)) =
                (v["name"].as_str(), v["schema"].get("openAPIV3Schema"))
            else {
                continue;
            };
            // An unserved version is refused by the API server.
            if v["served"] == json!(false) {
                continue;
            }
            let api = format!("{group}/{name}");
            let s = convert(schema.clone(), &api, kind);
            out.push((api, kind.to_string(), s));
        }
    }
    out
}

/// One `openAPIV3Schema` as a standalone JSON Schema (steps 1-4 above).
pub(crate) fn convert(mut s: Value, api: &str, kind: &str) -> Value {
    close(&mut s);
    nullable(&mut s);
    if let Some(o) = s.as_object_mut() {
        let props = o
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("properties is an object");
        props.insert(
            "apiVersion".into(),
            json!({"type": "string", "enum": [api]}),
        );
        props.insert("kind".into(), json!({"type": "string", "enum": [kind]}));
        props.insert("metadata".into(), json!({"type": "object"}));
        o.entry("additionalProperties").or_insert(json!(false));
        o.insert(
            "$schema".into(),
            json!("http://json-schema.org/draft-07/schema#"),
        );
    }
    s
}

fn close(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    let preserve = o.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if o.contains_key("properties") && !o.contains_key("additionalProperties") && !preserve {
        o.insert("additionalProperties".into(), json!(false));
    }
    if let Some(p) = o.get_mut("properties").and_then(Value::as_object_mut) {
        p.values_mut().for_each(close);
    }
    for k in ["items", "additionalProperties"] {
        if let Some(c) = o.get_mut(k) {
            close(c);
        }
    }
}

/// Schema nodes below `v` (not the keys of `properties`, which are names).
fn children(o: &mut Map<String, Value>) -> Vec<&mut Value> {
    let mut out = vec![];
    for (k, c) in o.iter_mut() {
        match k.as_str() {
            "properties" => {
                if let Some(p) = c.as_object_mut() {
                    out.extend(p.values_mut());
                }
            }
            "items" | "additionalProperties" | "not" => out.push(c),
            "allOf" | "anyOf" | "oneOf" => {
                if let Some(a) = c.as_array_mut() {
                    out.extend(a.iter_mut());
                }
            }
            _ => {}
        }
    }
    out
}

fn nullable(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    if o.get("nullable") == Some(&json!(true)) {
        o.remove("nullable");
        match o.get_mut("type") {
            Some(Value::String(t)) => {
                let t = t.clone();
                o.insert("type".into(), json!([t, "null"]));
            }
            Some(Value::Array(a)) if !a.contains(&json!("null")) => a.push(json!("null")),
            _ => {}
        }
    }
    children(o).into_iter().for_each(nullable);
}

/// Drop `description`s (the bulk of a CRD; no validator reads them).
pub fn strip_descriptions(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    o.remove("description");
    children(o).into_iter().for_each(strip_descriptions);
}

/// The built-in schemas file: for each `(apiVersion, kind)` wanted, the
/// converted schema from the CRDs given (`(file name, YAML text)`), without
/// descriptions, one schema per line so that a regeneration diffs by kind.
pub fn generate(crds: &[(String, String)], wanted: &[(&str, &str)]) -> Result<String, String> {
    let mut all: BTreeMap<(String, String), (Value, String)> = BTreeMap::new();
    for (file, text) in crds {
        let (mut objs, mut errs) = (vec![], vec![]);
        crate::manifest::parse(file, text, &mut objs, &mut errs);
        if let Some(e) = errs.first() {
            return Err(format!("{}:{}: {}", e.file, e.line, e.message));
        }
        let values: Vec<Value> = objs.into_iter().map(|o| o.value).collect();
        for (api, kind, s) in versions(&values) {
            all.insert((api, kind), (s, file.clone()));
        }
    }
    let mut lines = vec![];
    let mut wanted: Vec<&(&str, &str)> = wanted.iter().collect();
    wanted.sort();
    for (api, kind) in wanted {
        let Some((s, file)) = all.get(&(api.to_string(), kind.to_string())) else {
            return Err(format!(
                "no CustomResourceDefinition version {api} {kind} in the files given"
            ));
        };
        let mut s = s.clone();
        strip_descriptions(&mut s);
        let entry = json!({"from": file, "schema": s});
        lines.push(format!(
            "{}: {}",
            serde_json::to_string(&format!("{api}/{kind}")).expect("string"),
            serde_json::to_string(&entry).expect("json")
        ));
    }
    Ok(format!(
        "{{\"note\": \"Generated from the upstream CustomResourceDefinitions named in each entry's `from` (descriptions dropped) by meshpack::validate::crd::generate; do not edit. Regenerate: UPDATE_GOLDEN=1 cargo test --test vperf\",\n{}\n}}\n",
        lines.join(",\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_closes_objects_and_makes_nullable_explicit() {
        let crd = json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "description": "d", "properties": {
                    "a": {"type": "string", "nullable": true},
                    "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"y": {"type": "string"}}},
                    "description": {"type": "string", "description": "a field named description"}
                },
                "oneOf": [{"required": ["a"], "properties": {"a": {}}}]}
            }
        });
        let mut got = convert(crd, "x.io/v1", "X");
        strip_descriptions(&mut got);
        assert_eq!(
            got,
            json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "apiVersion": {"type": "string", "enum": ["x.io/v1"]},
                    "kind": {"type": "string", "enum": ["X"]},
                    "metadata": {"type": "object"},
                    "spec": {"type": "object", "additionalProperties": false, "properties": {
                        "a": {"type": ["string", "null"]},
                        "m": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": false, "properties": {"x": {"type": "integer"}}}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"y": {"type": "string"}}},
                        "description": {"type": "string"}
                    },
                    "oneOf": [{"required": ["a"], "properties": {"a": {}}}]}
                }
            })
        );
    }
}
