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
use std::path::PathBuf;

/// Why no draft could be made: the input cannot be read or is not
/// rendered Kubernetes manifests. Each message names the file (or chart)
/// and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `-f`/`--set` given for an input that is not a chart folder.
    #[error("{input}: `-f`/`--set` apply to a chart folder (one with Chart.yaml), and this is not one; render the manifests with those values yourself, or remove them")]
    OptionsNeedChart { input: String },
    /// Helm could not be started.
    #[error("cannot run `helm template` for {} ({source}); put helm on PATH, or render the chart yourself and import the output (`helm template ... > out.yaml; meshpack import out.yaml`)", dir.display())]
    HelmMissing {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// `helm template` failed; its standard error follows.
    #[error("`helm template` failed for {}:\n{stderr}", dir.display())]
    HelmFailed { dir: PathBuf, stderr: String },
    /// A file or folder of the input cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Standard input cannot be read.
    #[error("standard input: {0}")]
    Stdin(std::io::Error),
    /// A document is not YAML.
    #[error("{file}: {source}")]
    Yaml {
        file: String,
        source: serde_yaml::Error,
    },
    /// A document is YAML but not a mapping.
    #[error("{file}: a document is not a Kubernetes object")]
    NotAnObject { file: String },
    /// The input holds no workload.
    #[error("{input}: no Deployment, StatefulSet, DaemonSet, Job or CronJob found; expected rendered Kubernetes manifests")]
    NoWorkloads { input: String },
    /// A workload without `metadata.name`.
    #[error("{file}: a {kind} has no metadata.name; Kubernetes requires one (a chart value that renders the name empty?)")]
    Unnamed { file: String, kind: String },
}

/// Read the input, collect its workloads and the evidence of their calls.
pub fn import(input: &Input, name: Option<&str>) -> Result<Draft, Error> {
    let docs = read_input(input)?;
    let inv = Inventory::new(&docs);
    if inv.workloads.is_empty() {
        return Err(Error::NoWorkloads {
            input: input.describe(),
        });
    }
    // A workload without a name is not a manifest Kubernetes accepts, and
    // its policy service would be an empty key: refuse the input.
    if let Some(w) = inv.workloads.iter().find(|w| w.name.is_empty()) {
        return Err(Error::Unnamed {
            file: w.file.clone(),
            kind: w.kind.clone(),
        });
    }
    let found = evidence::scan(&inv);
    let name = name
        .map(str::to_string)
        .or_else(|| input.chart_name().map(|n| format!("{n}-mesh")))
        .unwrap_or_else(|| "imported-mesh".to_string());
    Ok(draft(&inv, &found, &name, input))
}
