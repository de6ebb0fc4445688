//! M006: a Gateway server whose `credentialName` no Certificate (its
//! `secretName`) or Secret in the set provides. A warning: the Secret may
//! be made outside the chart; then the gateway serves no TLS until it is.

use super::Set;
use std::collections::HashSet;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let provided: HashSet<&str> = set
        .objects
        .iter()
        .filter_map(|o| match (o.kind(), o.group()) {
            ("Certificate", "cert-manager.io") => o.value["spec"]["secretName"].as_str(),
            ("Secret", "") => Some(o.name()),
            _ => None,
        })
        .collect();
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "Gateway") {
        for s in o.value["spec"]["servers"].as_array().into_iter().flatten() {
            if let Some(c) = s["tls"]["credentialName"].as_str() {
                if !provided.contains(c) {
                    out.push((
                        i,
                        format!(
                            "credentialName {c}: no Certificate or Secret in the set provides it"
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    #[test]
    fn certificates_and_secrets_provide() {
        let y = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 443, name: a, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: from-cert}}
  - {port: {number: 443, name: b, protocol: HTTPS}, hosts: [b.example.com], tls: {mode: SIMPLE, credentialName: from-secret}}
  - {port: {number: 443, name: c, protocol: HTTPS}, hosts: [c.example.com], tls: {mode: SIMPLE, credentialName: nowhere}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: c, namespace: istio-ingress}
spec: {secretName: from-cert, dnsNames: [a.example.com], issuerRef: {name: i}}
---
apiVersion: v1
kind: Secret
metadata: {name: from-secret, namespace: istio-ingress}
";
        assert_eq!(
            check(super::run, y),
            vec![(
                "Gateway/shop/g".to_string(),
                "credentialName nowhere: no Certificate or Secret in the set provides it"
                    .to_string()
            )]
        );
    }
}
