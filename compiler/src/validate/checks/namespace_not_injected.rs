//! M043 (IST0102, Info in Istio): a Namespace in the set has neither
//! `istio-injection` nor `istio.io/rev` (nor ambient mode): its pods get no
//! sidecar unless each asks. Label it `istio-injection=enabled`, or
//! `istio-injection=disabled` to say it needs none.
//! Semantics of Istio's `injection/injection.go` (`istio-system` skipped).
//! A warning here: meshpack has no info level.

use super::{string_map, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.objects.iter().enumerate() {
        if o.kind() != "Namespace" || o.group() != "" || o.name() == "istio-system" {
            continue;
        }
        let labels = string_map(&o.value["metadata"]["labels"]);
        if labels
            .get("istio.io/dataplane-mode")
            .is_some_and(|v| v == "ambient")
        {
            continue;
        }
        if !labels.contains_key("istio-injection") && !labels.contains_key("istio.io/rev") {
            out.push((
                i,
                format!(
                    "namespace is not enabled for Istio injection; label it istio-injection=enabled, or istio-injection=disabled if it needs no sidecars (kubectl label namespace {} istio-injection=enabled)",
                    o.name()
                ),
            ));
        }
    }
    out
}
