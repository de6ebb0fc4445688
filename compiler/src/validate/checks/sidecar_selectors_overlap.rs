//! M019 (IST0110): two or more Sidecars select the same workload: Istio
//! applies one of them, which one is undefined.
//! Semantics of Istio's `sidecar/selector.go` on pod templates; workloads
//! in ambient mode are M021's.

use super::analysis::in_ambient;
use super::{string_map, Set};
use std::collections::BTreeMap;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    // workload -> Sidecars selecting it
    let mut by_workload: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, o) in set.of_kind("networking.istio.io", "Sidecar") {
        let sel = string_map(&o.value["spec"]["workloadSelector"]["labels"]);
        if sel.is_empty() {
            continue;
        }
        for w in set.selected_indexes(set.ns(i), &sel) {
            by_workload.entry(w).or_default().push(i);
        }
    }
    let mut out = vec![];
    for (w, sidecars) in by_workload {
        if sidecars.len() < 2 || in_ambient(set, ix, w) {
            continue;
        }
        let names: Vec<&str> = sidecars.iter().map(|s| set.objects[*s].name()).collect();
        let workload = set.objects[set.workloads[w].object].id();
        for s in &sidecars {
            out.push((
                *s,
                format!(
                    "Sidecars {} all select {workload}; Istio applies only one of them: make their workloadSelectors disjoint",
                    names.join(", ")
                ),
            ));
        }
    }
    out.sort();
    out
}
