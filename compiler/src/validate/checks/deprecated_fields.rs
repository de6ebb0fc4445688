//! M046 (IST0002): a field Istio has deprecated or ignores: a
//! VirtualService `fault.delay.percent` (use `percentage.value`), a Sidecar
//! `outboundTrafficPolicy.egressProxy` (ignored).
//! Semantics of Istio's `deprecation/deprecation.go` for those fields; its
//! third case, CustomResourceDefinitions of removed Istio kinds, concerns
//! the cluster's CRDs and is left out.

use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        for (n, r) in o.value["spec"]["http"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if r["fault"]["delay"]["percent"]
                .as_i64()
                .is_some_and(|p| p > 0)
            {
                out.push((
                    i,
                    format!("http[{n}].fault.delay.percent is deprecated; use fault.delay.percentage.value"),
                ));
            }
        }
    }
    for (i, o) in set.of_kind("networking.istio.io", "Sidecar") {
        if o.value["spec"]["outboundTrafficPolicy"]["egressProxy"].is_object() {
            out.push((
                i,
                "outboundTrafficPolicy.egressProxy is ignored by Istio; route egress through an egress gateway".to_string(),
            ));
        }
    }
    out
}
