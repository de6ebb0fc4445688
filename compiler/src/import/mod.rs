//! `meshpack import`: a first attach-mode policy from what a vendor already
//! has: a chart (rendered with `helm template`), a folder of manifests, or
//! a `kustomize build` output.
//!
//! Invariant: nothing is invented. Services, ports, selectors and
//! ServiceAccounts are read from the manifests; an allow rule is drafted
//! only from evidence (an env value, argument or ConfigMap value naming a
//! Service of the input), and each rule carries that evidence and its file
//! as a comment. An address naming no Service of the input is reported,
//! never drafted. This module reads manifests only (of the compiler it uses
//! just `model::Protocol`, Istio's port-name rule); its output is policy
//! text for a person to review, which the tests compile.

mod draft;
mod evidence;
mod manifests;

pub use draft::{draft, Draft, Rule};
pub use evidence::{Evidence, Unresolved};
pub use manifests::{read_input, Doc, Input, Inventory, PortInfo, WorkloadInfo};

/// Read the input, collect its workloads and the evidence of their calls.
pub fn import(input: &Input, name: Option<&str>) -> Result<Draft, String> {
    let docs = read_input(input)?;
    let inv = Inventory::new(&docs);
    if inv.workloads.is_empty() {
        return Err(format!(
            "{}: no Deployment, StatefulSet, DaemonSet, Job or CronJob found; expected rendered Kubernetes manifests",
            input.describe()
        ));
    }
    // A workload without a name is not a manifest Kubernetes accepts, and
    // its policy service would be an empty key: refuse the input.
    if let Some(w) = inv.workloads.iter().find(|w| w.name.is_empty()) {
        return Err(format!(
            "{}: a {} has no metadata.name; Kubernetes requires one (a chart value that renders the name empty?)",
            w.file, w.kind
        ));
    }
    let found = evidence::scan(&inv);
    let name = name
        .map(str::to_string)
        .or_else(|| input.chart_name().map(|n| format!("{n}-mesh")))
        .unwrap_or_else(|| "imported-mesh".to_string());
    Ok(draft(&inv, &found, &name, input))
}
