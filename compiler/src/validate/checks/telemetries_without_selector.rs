//! M041 (IST0160): more than one Telemetry without a selector in a
//! namespace: each claims the whole namespace; which applies is undefined.
//! Semantics of Istio's `telemetry/default_selector.go` (a Telemetry with
//! `targetRefs` is not namespace-wide).

use super::Set;
use std::collections::BTreeMap;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in set.of_kind("telemetry.istio.io", "Telemetry") {
        let spec = &o.value["spec"];
        if spec.get("selector").is_none()
            && spec.get("targetRef").is_none()
            && spec.get("targetRefs").is_none()
        {
            by_ns.entry(set.ns(i)).or_default().push(i);
        }
    }
    let mut out = vec![];
    for (ns, list) in by_ns {
        if list.len() < 2 {
            continue;
        }
        let mut names: Vec<&str> = list.iter().map(|t| set.objects[*t].name()).collect();
        names.sort();
        for t in list {
            out.push((
                t,
                format!(
                    "Telemetries {} in namespace {ns} have no selector; keep one namespace-wide Telemetry",
                    names.join(", ")
                ),
            ));
        }
    }
    out
}
