//! M020 (IST0111): more than one Sidecar without a `workloadSelector` in a
//! namespace: each claims to be the namespace's default and Istio applies
//! one of them, which one is undefined.
//! Semantics of Istio's `sidecar/selector.go`; an ambient namespace is
//! M021's.

use super::analysis::namespace_ambient;
use super::{string_map, Set};
use std::collections::BTreeMap;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in set.of_kind("networking.istio.io", "Sidecar") {
        if string_map(&o.value["spec"]["workloadSelector"]["labels"]).is_empty() {
            by_ns.entry(set.ns(i)).or_default().push(i);
        }
    }
    let mut out = vec![];
    for (ns, sidecars) in by_ns {
        if sidecars.len() < 2 || namespace_ambient(set, ix, ns) {
            continue;
        }
        let mut names: Vec<&str> = sidecars.iter().map(|s| set.objects[*s].name()).collect();
        names.sort();
        for s in sidecars {
            out.push((
                s,
                format!(
                    "Sidecars {} in namespace {ns} have no workloadSelector; keep one namespace default and give the others selectors",
                    names.join(", ")
                ),
            ));
        }
    }
    out
}
