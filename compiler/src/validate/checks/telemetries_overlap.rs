//! M040 (IST0159): two or more Telemetries with selectors pick the same
//! workload: Istio applies one of them, which one is undefined.
//! Semantics of Istio's `telemetry/selector.go`, on pod templates.

use super::{string_map, Set};
use std::collections::BTreeMap;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut by_workload: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, o) in set.of_kind("telemetry.istio.io", "Telemetry") {
        let sel = string_map(&o.value["spec"]["selector"]["matchLabels"]);
        if sel.is_empty() {
            continue;
        }
        for w in set.selected_indexes(set.ns(i), &sel) {
            by_workload.entry(w).or_default().push(i);
        }
    }
    let mut out = vec![];
    for (w, list) in by_workload {
        if list.len() < 2 {
            continue;
        }
        let names: Vec<&str> = list.iter().map(|t| set.objects[*t].name()).collect();
        let workload = set.objects[set.workloads[w].object].id();
        for t in &list {
            out.push((
                *t,
                format!(
                    "Telemetries {} all select {workload}; Istio applies only one of them: make their selectors disjoint",
                    names.join(", ")
                ),
            ));
        }
    }
    out.sort();
    out
}
