//! networking.istio.io/v1 ServiceEntry.
//! <https://istio.io/latest/docs/reference/config/networking/service-entry/>

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "ServiceEntry",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEntrySpec {
    pub hosts: Vec<String>,
    pub ports: Vec<ServicePort>,
    pub location: String,
    /// DNS for exact hosts; NONE for wildcards, which DNS cannot resolve;
    /// STATIC for the endpoints of WorkloadEntries.
    pub resolution: String,
    /// The WorkloadEntries (VMs) behind this service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<Labels>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub number: u16,
    pub name: String,
    pub protocol: String,
    /// Port on the endpoint, when it differs from `number`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u16>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Labels {
    pub labels: BTreeMap<String, String>,
}
