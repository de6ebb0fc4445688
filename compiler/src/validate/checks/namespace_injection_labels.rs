//! M042 (IST0123): a Namespace carries more than one kind of Istio
//! data-plane label (`istio-injection`, `istio.io/rev`,
//! `istio.io/dataplane-mode`): which wins depends on the Istio version.
//! Semantics of Istio's `injection/injection.go` (`istio-injection` other
//! than `enabled` hides the other two; `istio-system` is skipped).

use super::{string_map, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.objects.iter().enumerate() {
        if o.kind() != "Namespace" || o.group() != "" || o.name() == "istio-system" {
            continue;
        }
        let labels = string_map(&o.value["metadata"]["labels"]);
        let injection = labels.get("istio-injection");
        let mut found: Vec<String> = injection
            .map(|v| format!("istio-injection={v}"))
            .into_iter()
            .collect();
        for l in ["istio.io/rev", "istio.io/dataplane-mode"] {
            if let Some(v) = labels.get(l) {
                if injection.is_none_or(|v| v == "enabled") {
                    found.push(format!("{l}={v}"));
                }
            }
        }
        if found.len() > 1 {
            out.push((
                i,
                format!(
                    "labels {} select different data planes; keep one",
                    found.join(", ")
                ),
            ));
        }
    }
    out
}
