//! M028 (IST0116): a workload in the mesh is selected by several Services
//! that use the same port number with different protocols (TCP, UDP,
//! SCTP): Istio builds one listener per port and cannot serve both.
//! Semantics of Istio's `deployment/services.go` (protocol defaults to
//! TCP), for every pod template in the mesh (Istio reads Deployments only);
//! Istio's own waypoint Deployments are skipped.

use super::analysis::in_mesh;
use super::Set;
use std::collections::{BTreeMap, BTreeSet};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let mut out = vec![];
    for (w, services) in (0..set.workloads.len()).map(|w| (w, set.fronting_indexes(w))) {
        if services.len() < 2 || !in_mesh(set, ix, w) || is_waypoint(set, w) {
            continue;
        }
        // port -> protocol -> Services
        let mut ports: BTreeMap<u64, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for s in services {
            let svc = &set.services[*s as usize];
            for p in set.objects[svc.object].value["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let Some(port) = p["port"].as_u64() else {
                    continue;
                };
                let proto = p["protocol"].as_str().unwrap_or("TCP").to_string();
                ports
                    .entry(port)
                    .or_default()
                    .entry(proto)
                    .or_default()
                    .insert(format!("{}/{}", svc.namespace, svc.name));
            }
        }
        for (port, protos) in ports {
            if protos.len() > 1 {
                let names: BTreeSet<&String> = protos.values().flatten().collect();
                let list: Vec<String> = protos.keys().cloned().collect();
                out.push((
                    set.workloads[w].object,
                    format!(
                        "Services {} select these pods with port {port} as {}; Istio serves one protocol per port: use different port numbers",
                        names.into_iter().cloned().collect::<Vec<_>>().join(","),
                        list.join(" and ")
                    ),
                ));
            }
        }
    }
    out
}

/// Istio's own waypoint proxies (`gateway.istio.io/managed=istio.io-mesh-controller`).
pub(super) fn is_waypoint(set: &Set, w: usize) -> bool {
    let o = &set.objects[set.workloads[w].object];
    o.value["metadata"]["labels"]["gateway.istio.io/managed"] == "istio.io-mesh-controller"
}
