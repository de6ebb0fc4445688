//! M007: a DestinationRule sending plaintext (`tls.mode: DISABLE`) to a host
//! whose pods a PeerAuthentication makes STRICT: every connection fails.

use super::{selector_of, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
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
        let pods: Vec<_> = set.selected(&svc.namespace, &svc.selector).collect();
        let strict = set
            .of_kind("security.istio.io", "PeerAuthentication")
            .find(|(j, pa)| {
                set.ns(*j) == svc.namespace
                    && pa.value["spec"]["mtls"]["mode"].as_str() == Some("STRICT")
                    && match selector_of(&pa.value["spec"]["selector"]) {
                        None => true,
                        Some(sel) => pods
                            .iter()
                            .any(|w| sel.iter().all(|(k, v)| w.labels.get(k) == Some(v))),
                    }
            });
        if let Some((_, pa)) = strict {
            out.push((
                i,
                format!(
                    "sends plaintext to {host}, but PeerAuthentication {} requires mTLS there",
                    pa.name()
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
