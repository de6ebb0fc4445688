//! Kubernetes fragments in a policy (probes, volumes, init containers,
//! env sources, security contexts) checked against Kubernetes' own schema,
//! the one `k8s-openapi` derives (the same `validate` builds its built-in
//! schemas from), closed as the upstream "strict" schemas are: an unknown
//! field is an error, with the closest known one suggested.
//!
//! Invariant: a fragment is never rewritten here, only judged; every error
//! points at the fragment's node in the policy (line:col), with the policy
//! language's own structural codes (E0011-E0015), since a fragment is part
//! of the policy's shape.

use crate::diag::Diagnostic;
use crate::policy::Spans;
use k8s_openapi::api::core::v1 as core;
use serde_json::{json, Map, Value};

/// The Kubernetes type a fragment must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Probe,
    EnvVarSource,
    EnvFromList,
    VolumeList,
    VolumeMountList,
    ContainerList,
    SecurityContext,
    PodSecurityContext,
}

fn root(kind: Kind) -> Value {
    let s = match kind {
        Kind::Probe => schemars::schema_for!(core::Probe),
        Kind::EnvVarSource => schemars::schema_for!(core::EnvVarSource),
        Kind::EnvFromList => schemars::schema_for!(Vec<core::EnvFromSource>),
        Kind::VolumeList => schemars::schema_for!(Vec<core::Volume>),
        Kind::VolumeMountList => schemars::schema_for!(Vec<core::VolumeMount>),
        Kind::ContainerList => schemars::schema_for!(Vec<core::Container>),
        Kind::SecurityContext => schemars::schema_for!(core::SecurityContext),
        Kind::PodSecurityContext => schemars::schema_for!(core::PodSecurityContext),
    };
    serde_json::to_value(s).expect("schema is JSON")
}

/// Check every fragment at its path (the policy's keys, in order) and
/// return the diagnostics, positioned through `spans`.
pub fn check(spans: &Spans, fragments: &[(Vec<String>, Kind, &Value)]) -> Vec<Diagnostic> {
    if fragments.is_empty() {
        return vec![];
    }
    // One document and one schema mirroring the policy's paths, so the
    // policy's own schema-error reporting finds each node's position.
    let mut doc = json!({});
    let mut schema = json!({"type": "object"});
    let mut defs = Map::new();
    for (path, kind, value) in fragments {
        let mut r = root(*kind);
        if let Some(Value::Object(d)) = r.as_object_mut().and_then(|o| o.remove("$defs")) {
            defs.extend(d);
        }
        if let Some(o) = r.as_object_mut() {
            o.remove("$schema");
            o.remove("title");
        }
        let mut d = &mut doc;
        let mut s = &mut schema;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            d = d
                .as_object_mut()
                .expect("paths are maps")
                .entry(seg.clone())
                .or_insert_with(|| json!({}));
            if s.get("properties").is_none() {
                s["properties"] = json!({});
            }
            s = s["properties"]
                .as_object_mut()
                .expect("properties")
                .entry(seg.clone())
                .or_insert_with(|| json!({"type": "object"}));
            if last {
                *d = (*value).clone();
                *s = r.clone();
            }
        }
    }
    let mut defs = Value::Object(defs);
    close(&mut defs);
    close(&mut schema);
    nullable(&mut defs);
    if let Some(d) = defs.as_object_mut() {
        for (k, t) in [
            (
                "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                json!(["string", "integer"]),
            ),
            (
                "io.k8s.apimachinery.pkg.api.resource.Quantity",
                json!(["string", "number"]),
            ),
        ] {
            if d.contains_key(k) {
                d.insert(k.into(), json!({ "type": t }));
            }
        }
    }
    schema["$defs"] = defs;
    let validator = match jsonschema::validator_for(&schema) {
        Ok(v) => v,
        // The schemas are generated from k8s-openapi: a failure here is a bug.
        Err(e) => panic!("Kubernetes fragment schema does not compile: {e}"),
    };
    let (found, _) = crate::policy::schema_errors(&validator, &schema, &doc, spans);
    found
}

/// Close every object schema that lists properties, as the upstream
/// strict schemas are (unknown fields are errors).
fn close(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.contains_key("properties") && !o.contains_key("additionalProperties") {
                o.insert("additionalProperties".into(), json!(false));
            }
            o.values_mut().for_each(close);
        }
        Value::Array(a) => a.iter_mut().for_each(close),
        _ => {}
    }
}

/// Kubernetes accepts `null` for any optional field (`emptyDir: null` is
/// an empty `emptyDir: {}` to the API server's decoder).
fn nullable(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(t)) = o.get("type").cloned() {
                o.insert("type".into(), json!([t, "null"]));
            }
            o.values_mut().for_each(nullable);
        }
        Value::Array(a) => a.iter_mut().for_each(nullable),
        _ => {}
    }
}
