//! M007: a DestinationRule sending plaintext (`tls.mode: DISABLE`) to a host
//! whose pods a PeerAuthentication makes STRICT: every connection fails.

use super::{selector_of, Set};
use std::collections::HashMap;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    // The first STRICT PeerAuthentication (object order) per namespace
    // without a selector, and per workload among those selecting it:
    // indexed once, so each DestinationRule costs only its own pods.
    // Per workload a slot, not a map: at a million objects (125,000
    // workloads selected one by one) the map and its growth were 12 MB.
    let mut ns_wide: HashMap<&str, usize> = HashMap::new();
    let mut per_pod: Vec<Option<u32>> = vec![None; set.workloads.len()];
    for (j, pa) in set.of_kind("security.istio.io", "PeerAuthentication") {
        if pa.value["spec"]["mtls"]["mode"].as_str() != Some("STRICT") {
            continue;
        }
        match selector_of(&pa.value["spec"]["selector"]) {
            None => {
                ns_wide.entry(set.ns(j)).or_insert(j);
            }
            Some(sel) => {
                for w in set.selected_indexes(set.ns(j), &sel) {
                    per_pod[w].get_or_insert(j as u32);
                }
            }
        }
    }
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "DestinationRule") {
        if o.value["spec"]["trafficPolicy"]["tls"]["mode"].as_str() != Some("DISABLE") {
            continue;
        }
        let Some(host) = o.value["spec"]["host"].as_str() else {
            continue;
        };
        let Some(svc) = set.service_for_host(host, set.ns(i)) else {
            continue;
        };
        let strict = set
            .selected_indexes(&svc.namespace, &svc.selector)
            .filter_map(|w| per_pod[w].map(|j| j as usize))
            .chain(ns_wide.get(&*svc.namespace).copied())
            .min();
        if let Some(j) = strict {
            out.push((
                i,
                format!(
                    "sends plaintext to {host}, but PeerAuthentication {} requires mTLS there",
                    set.objects[j].name()
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn disable_against_strict() {
        let y = format!(
            "{APP}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: strict, namespace: shop}}
spec: {{mtls: {{mode: STRICT}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: plain, namespace: shop}}
spec: {{host: api, trafficPolicy: {{tls: {{mode: DISABLE}}}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: mutual, namespace: shop}}
spec: {{host: api, trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}}}
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![(
                "DestinationRule/shop/plain".to_string(),
                "sends plaintext to api, but PeerAuthentication strict requires mTLS there"
                    .to_string()
            )]
        );
    }
}
