//! M059 (IST0112): a VirtualService route without a port to a Service with
//! several goes to a port that Service lacks. Without `destination.port`,
//! Istio sends a request to the destination's only port, else to the port
//! of the listener the route was matched on (`GetDestinationCluster`):
//! - for a route bound to a gateway, the gateway's port: reported whenever
//!   the Service has several ports, as Istio does;
//! - inside the mesh, the port the client called on one of the
//!   VirtualService's hosts: reported only for the ports of those hosts'
//!   Services (HTTP ports for `http` routes, the others for `tcp`/`tls`)
//!   that the destination lacks. Istio's analyzer reports every mesh route
//!   without a port to a multi-port Service, also a VirtualService for that
//!   very Service, where each call keeps a port it has (its own test case
//!   `reviews-2port-missing`); meshpack does not.
//!   <https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/route.go>

use super::{is_cluster_host, protocol, Set, Svc};
use crate::manifest::Node;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let spec = &o.value["spec"];
        let gateways = spec["gateways"].as_array();
        let at_gateway = gateways.is_some_and(|g| g.iter().any(|x| x.as_str() != Some("mesh")));
        let in_mesh =
            gateways.is_none_or(|g| g.is_empty() || g.iter().any(|x| x.as_str() == Some("mesh")));
        // The Services the VirtualService's hosts name: their ports are the
        // listeners its mesh routes are matched on.
        let fronts: Vec<&Svc> = spec["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Node::as_str)
            .filter(|h| !h.contains('*') && is_cluster_host(h))
            .filter_map(|h| set.service_for_host(h, set.ns(i)))
            .collect();
        let routes = ["http", "tcp", "tls"].iter().flat_map(|k| {
            spec[*k]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["route"].as_array().into_iter().flatten())
                .map(move |r| (*k == "http", r))
        });
        for (http, r) in routes {
            let d = &r["destination"];
            let Some(host) = d["host"].as_str() else {
                continue;
            };
            if !d["port"].is_null()
                || host.contains('*')
                || !is_cluster_host(host)
                || set.analysis().service_entry_visible(host, set.ns(i))
            {
                continue;
            }
            let Some(svc) = set.service_for_host(host, set.ns(i)) else {
                continue; // M004
            };
            if svc.ports.len() < 2 {
                continue;
            }
            if at_gateway {
                out.push((
                    i,
                    format!("routes to {host} without a port, but the Service has several: requests keep the gateway's port; add destination.port"),
                ));
            }
            if in_mesh {
                let lacking = ports_lacking(&fronts, svc, http);
                if !lacking.is_empty() {
                    let names: Vec<&str> = fronts.iter().map(|f| &*f.name).collect();
                    out.push((
                        i,
                        format!(
                            "routes to {host} without a port: a call keeps the port it was made on, and {host} lacks port {} of {}; add destination.port",
                            lacking.join(", "),
                            names.join(", "),
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Ports of the front Services (HTTP ones for an `http` route, the others
/// for `tcp`/`tls`; a port of undetected protocol counts for both) that
/// `dest` does not have, ascending.
fn ports_lacking(fronts: &[&Svc], dest: &Svc, http: bool) -> Vec<String> {
    let mut out: Vec<u64> = fronts
        .iter()
        .flat_map(|f| f.ports.iter())
        .filter(|p| protocol(&p.name, p.app_protocol.as_deref()) != Some(!http))
        .map(|p| p.port)
        .filter(|port| !dest.ports.iter().any(|d| d.port == *port))
        .collect();
    out.sort();
    out.dedup();
    out.iter().map(u64::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn gateway_routes_need_a_port() {
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
  - route: [{{destination: {{host: api}}}}]
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![(
                "VirtualService/shop/v".to_string(),
                "routes to api without a port, but the Service has several: requests keep the gateway's port; add destination.port".to_string()
            )]
        );
    }

    /// Istio's own test case (`reviews-2port-missing`: the VirtualService
    /// of a two-port Service routes to it without a port) is fine in a
    /// cluster: each call keeps its port. A VirtualService for another
    /// host whose port the destination lacks is not.
    #[test]
    fn mesh_routes_without_port_keep_the_callers_port() {
        let y = format!(
            "{APP}---
apiVersion: v1
kind: Service
metadata: {{name: legacy, namespace: shop}}
spec:
  selector: {{app: legacy}}
  ports: [{{name: http, port: 80}}, {{name: http-admin, port: 9000}}, {{name: tcp-db, port: 6000}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: api, namespace: shop}}
spec:
  hosts: [api]
  http:
  - route: [{{destination: {{host: api}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: legacy, namespace: shop}}
spec:
  hosts: [legacy.shop.svc.cluster.local]
  http:
  - route: [{{destination: {{host: api}}}}]
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![(
                "VirtualService/shop/legacy".to_string(),
                "routes to api without a port: a call keeps the port it was made on, and api lacks port 9000 of legacy; add destination.port".to_string()
            )]
        );
    }
}
