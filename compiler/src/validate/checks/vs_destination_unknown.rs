//! M004: a VirtualService route to an in-cluster host or port that no
//! Service in the set has: requests get 503s (Istio's "no healthy upstream").
//! A route without a port to a Service with several is M059's.

use super::{is_cluster_host, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let spec = &o.value["spec"];
        let routes = ["http", "tcp", "tls"]
            .iter()
            .flat_map(|k| spec[*k].as_array().into_iter().flatten())
            .flat_map(|r| r["route"].as_array().into_iter().flatten());
        for r in routes {
            let d = &r["destination"];
            let Some(host) = d["host"].as_str() else {
                continue;
            };
            if host.contains('*')
                || !is_cluster_host(host)
                || set.analysis().service_entry_visible(host, set.ns(i))
            {
                continue;
            }
            match set.service_for_host(host, set.ns(i)) {
                None => out.push((
                    i,
                    format!("routes to {host}, which no Service in the set declares"),
                )),
                Some(svc) => {
                    if let Some(port) = d["port"]["number"].as_u64() {
                        if !svc.ports.iter().any(|p| p.port == port) {
                            let have: Vec<String> =
                                svc.ports.iter().map(|p| p.port.to_string()).collect();
                            out.push((
                                i,
                                format!(
                                    "routes to {host} port {port}; the Service has ports {}",
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
    fn unknown_hosts_and_ports() {
        let y = format!(
            "{APP}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: v, namespace: shop}}
spec:
  hosts: [shop.example.com]
  gateways: [gw]
  http:
  - route: [{{destination: {{host: api, port: {{number: 80}}}}}}]
  - route: [{{destination: {{host: api, port: {{number: 8080}}}}}}]
  - route: [{{destination: {{host: web.shop.svc.cluster.local, port: {{number: 80}}}}}}]
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![
                (
                    "VirtualService/shop/v".to_string(),
                    "routes to api port 8080; the Service has ports 80, 5432".to_string()
                ),
                (
                    "VirtualService/shop/v".to_string(),
                    "routes to web.shop.svc.cluster.local, which no Service in the set declares"
                        .to_string()
                ),
            ]
        );
    }
}
