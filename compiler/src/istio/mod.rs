//! Typed Istio (and cert-manager) resources, one kind per file.
//!
//! Only the fields meshpack emits are modelled; every optional field is
//! skipped when empty so the rendered objects stay minimal. Field names and
//! shapes follow the upstream CRDs (`../shared/schemas/istio`), which the
//! tests validate every rendered object against.

pub mod authorization_policy;
pub mod certificate;
pub mod destination_rule;
pub mod gateway;
pub mod peer_authentication;
pub mod service_entry;
pub mod sidecar;
pub mod telemetry;
pub mod virtual_service;
pub mod workload_entry;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `selector` of Istio policies: pods whose labels include all of these.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    pub match_labels: BTreeMap<String, String>,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Percentages print as integers when whole (`5`, not `5.0`): Kustomize's
/// YAML writer does so, and the chart and the Kustomize tree must agree.
pub(crate) fn percent<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        s.serialize_i64(*x as i64)
    } else {
        s.serialize_f64(*x)
    }
}
