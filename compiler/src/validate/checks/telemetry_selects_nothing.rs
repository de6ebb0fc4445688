//! M039 (IST0101): a Telemetry whose `selector` matches no pod template in
//! its namespace configures nothing.
//! Semantics of Istio's `telemetry/selector.go`, on pod templates.

use super::analysis::selector_string;
use super::{string_map, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("telemetry.istio.io", "Telemetry") {
        let sel = string_map(&o.value["spec"]["selector"]["matchLabels"]);
        if sel.is_empty() {
            continue;
        }
        let ns = set.ns(i);
        if set.selected_indexes(ns, &sel).next().is_none() {
            out.push((
                i,
                format!(
                    "selector {} matches no pod template in namespace {ns}",
                    selector_string(&sel)
                ),
            ));
        }
    }
    out
}
