//! M016 (IST0162): a Gateway server listens on a port that no Service of
//! the gateway's pods exposes (as `port` or `targetPort`): the port is not
//! reachable through the gateway's Service.
//! Semantics of Istio's `gateway/gateway.go`. Only decided when the
//! gateway's pods are in the set: a rendered chart usually ships its
//! Gateway without the ingress gateway's Deployment, where Istio reports
//! the selector as not found (IST0101), a false positive meshpack skips.
//! A port without `protocol` counts as TCP (the Kubernetes default; Istio's
//! analyzer only sees defaulted objects from a cluster).

use super::{string_map, Set};
use std::collections::BTreeSet;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "Gateway") {
        let sel = string_map(&o.value["spec"]["selector"]);
        let pods = ix.select_any(set, &sel);
        if pods.is_empty() {
            continue;
        }
        let mut ports = BTreeSet::new();
        for w in &pods {
            for s in set.fronting_indexes(*w) {
                let svc = &set.services[*s as usize];
                let spec = &set.objects[svc.object].value["spec"]["ports"];
                for p in spec.as_array().into_iter().flatten() {
                    if p["protocol"].as_str().unwrap_or("TCP") != "TCP" {
                        continue;
                    }
                    if let Some(n) = p["port"].as_u64() {
                        ports.insert(n);
                    }
                    if let Some(t) = p["targetPort"].as_u64() {
                        ports.insert(t);
                    }
                }
            }
        }
        for s in o.value["spec"]["servers"].as_array().into_iter().flatten() {
            let Some(port) = s["port"]["number"].as_u64() else {
                continue;
            };
            if !ports.contains(&port) {
                out.push((
                    i,
                    format!(
                        "server port {port} is not a port or targetPort of any Service of the gateway's pods (selector {}); add it to the gateway's Service",
                        super::analysis::selector_string(&sel)
                    ),
                ));
            }
        }
    }
    out
}
