//! Stage 1: the policy language: its types, the loader with positions, and
//! its JSON Schema.
//!
//! Depends on nothing else in the crate but `diag`. Knows nothing of
//! Kubernetes or Istio.

mod check;
pub(crate) mod load;
pub mod types;
pub mod version;

pub use check::schema_errors;
pub use load::{load, Loaded, Spans};
pub use types::*;

/// The JSON Schema of the policy language (`meshpack schema`).
pub fn schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(PolicyFile)).expect("schema is JSON");
    if let Some(o) = s.as_object_mut() {
        o.insert(
            "$id".into(),
            "https://meshpack.dev/schemas/v1alpha1/meshpolicy.json".into(),
        );
    }
    s
}

/// The policy schema, compiled once, for `load_checked`.
pub fn validator() -> &'static (jsonschema::Validator, serde_json::Value) {
    static V: std::sync::OnceLock<(jsonschema::Validator, serde_json::Value)> =
        std::sync::OnceLock::new();
    V.get_or_init(|| {
        let s = schema();
        (
            jsonschema::validator_for(&s).expect("the policy schema compiles"),
            s,
        )
    })
}
