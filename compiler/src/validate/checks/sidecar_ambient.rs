//! M021 (IST0167): a Sidecar that selects workloads in ambient mode, or a
//! namespace-wide Sidecar in an ambient namespace: ambient pods have no
//! sidecar proxy, so the Sidecar has no effect.
//! Semantics of Istio's `sidecar/selector.go` (IneffectivePolicy), with the
//! pod template's or Namespace's `istio.io/dataplane-mode=ambient` label
//! standing for the redirection annotation of running pods.

use super::analysis::{in_ambient, namespace_ambient};
use super::{string_map, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "Sidecar") {
        let sel = string_map(&o.value["spec"]["workloadSelector"]["labels"]);
        let ns = set.ns(i);
        if sel.is_empty() {
            if namespace_ambient(set, ix, ns) {
                out.push((
                    i,
                    format!("namespace {ns} is in ambient mode; a Sidecar has no effect there"),
                ));
            }
        } else if let Some(w) = set
            .selected_indexes(ns, &sel)
            .find(|w| in_ambient(set, ix, *w))
        {
            out.push((
                i,
                format!(
                    "selects {}, which runs in ambient mode; a Sidecar has no effect on it",
                    set.objects[set.workloads[w].object].id()
                ),
            ));
        }
    }
    out
}
