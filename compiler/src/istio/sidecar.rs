//! networking.istio.io/v1 Sidecar.
//! <https://istio.io/latest/docs/reference/config/networking/sidecar/>

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "Sidecar",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct SidecarSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<WorkloadSelector>,
    pub egress: Vec<EgressListener>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct EgressListener {
    /// `namespace/dnsName`; `./` is the Sidecar's own namespace.
    pub hosts: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OutboundTrafficPolicy {
    pub mode: String,
}

/// Unlike the security policies' `selector.matchLabels`, a Sidecar selects
/// pods with `workloadSelector.labels`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct WorkloadSelector {
    pub labels: std::collections::BTreeMap<String, String>,
}
