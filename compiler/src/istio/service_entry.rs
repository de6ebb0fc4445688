//! networking.istio.io/v1 ServiceEntry.
//! <https://istio.io/latest/docs/reference/config/networking/service-entry/>

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// DNS for exact hosts; NONE for wildcards, which DNS cannot resolve.
    pub resolution: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ServicePort {
    pub number: u16,
    pub name: String,
    pub protocol: String,
}
