//! M013: a Gateway API HTTPRoute backend that no Service in the set has
//! (name or port): the route reports `ResolvedRefs: False` and answers 500.
//! <https://gateway-api.sigs.k8s.io/reference/spec/#httpbackendref>

use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("gateway.networking.k8s.io", "HTTPRoute") {
        let ns = set.ns(i);
        let refs = o.value["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["backendRefs"].as_array().into_iter().flatten());
        for b in refs {
            // Only core Services in the route's namespace are judged.
            let kind = b["kind"].as_str().unwrap_or("Service");
            let group = b["group"].as_str().unwrap_or("");
            let bns = b["namespace"].as_str().unwrap_or(ns);
            if kind != "Service" || !group.is_empty() || bns != ns {
                continue;
            }
            let Some(name) = b["name"].as_str() else {
                continue;
            };
            match set.service_for_host(name, ns) {
                None => out.push((
                    i,
                    format!("backend {name}: no Service of that name in namespace {ns}"),
                )),
                Some(svc) => {
                    if let Some(port) = b["port"].as_u64() {
                        if !svc.ports.iter().any(|p| p.port == port) {
                            let have: Vec<String> =
                                svc.ports.iter().map(|p| p.port.to_string()).collect();
                            out.push((
                                i,
                                format!(
                                    "backend {name} port {port}; the Service has ports {}",
                                    have.join(", ")
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn backends_must_exist() {
        let y = format!(
            "{APP}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: shop}}
spec:
  parentRefs: [{{name: gw, namespace: ingress}}]
  rules:
  - backendRefs: [{{name: api, port: 80}}]
  - backendRefs: [{{name: api, port: 81}}]
  - backendRefs: [{{name: web, port: 80}}]
  - backendRefs: [{{name: other, namespace: elsewhere, port: 80}}]
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![
                (
                    "HTTPRoute/shop/r".to_string(),
                    "backend api port 81; the Service has ports 80, 5432".to_string()
                ),
                (
                    "HTTPRoute/shop/r".to_string(),
                    "backend web: no Service of that name in namespace shop".to_string()
                ),
            ]
        );
    }
}
