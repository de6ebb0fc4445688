//! The chart as `helm package` lays it out: `<name>-<version>.tgz` holding
//! `<name>/Chart.yaml`, `<name>/templates/...` (helm.sh/docs/helm/helm_package),
//! so `helm install REL <bundle>/chart/<name>-<version>.tgz` works and the
//! archive can be pushed to a chart repository as it is.
//!
//! Invariant: same chart, same bytes (the rules of `bundle::archive`).

use super::Tree;

pub fn package(name: &str, chart: &Tree) -> Vec<u8> {
    let t: Tree = chart
        .iter()
        .map(|(p, b)| (format!("{name}/{p}"), b.clone()))
        .collect();
    super::bundle::archive(&t).expect("writing to memory does not fail")
}
