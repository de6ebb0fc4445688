//! networking.istio.io/v1 WorkloadEntry: a VM's sidecar-equipped workload
//! as a member of the mesh.
//! <https://istio.io/latest/docs/reference/config/networking/workload-entry/>

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "WorkloadEntry",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadEntrySpec {
    pub address: String,
    pub labels: BTreeMap<String, String>,
    /// The VM's identity: `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.
    pub service_account: String,
}
