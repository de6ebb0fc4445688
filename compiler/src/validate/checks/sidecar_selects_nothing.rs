//! M018 (IST0101): a Sidecar whose `workloadSelector` matches no pod
//! template in its namespace configures nothing (a label typo leaves the
//! intended pods with the namespace's default).
//! Semantics of Istio's `sidecar/selector.go`, reading pod templates
//! instead of running Pods (Istio's analyzer on rendered files sees no
//! Pods and reports every selector).

use super::analysis::selector_string;
use super::{string_map, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "Sidecar") {
        let sel = string_map(&o.value["spec"]["workloadSelector"]["labels"]);
        if sel.is_empty() {
            continue;
        }
        let ns = set.ns(i);
        if set.selected_indexes(ns, &sel).next().is_none() {
            out.push((
                i,
                format!(
                    "workloadSelector {} matches no pod template in namespace {ns}",
                    selector_string(&sel)
                ),
            ));
        }
    }
    out
}
