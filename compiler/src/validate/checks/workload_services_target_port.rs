//! M029 (IST0137): Services selecting a workload in the mesh send
//! different ports to the same targetPort: Istio's inbound listener for
//! the container port takes the settings of one of them.
//! Semantics of Istio's `deployment/services.go` (a missing targetPort is
//! the port; a named targetPort is compared by name), for every pod
//! template in the mesh.

use super::analysis::in_mesh;
use super::workload_services_protocol::is_waypoint;
use super::Set;
use crate::manifest::View;
use std::collections::{BTreeMap, BTreeSet};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let mut out = vec![];
    for (w, services) in (0..set.workloads.len()).map(|w| (w, set.fronting_indexes(w))) {
        if services.is_empty() || !in_mesh(set, ix, w) || is_waypoint(set, w) {
            continue;
        }
        // targetPort -> port -> Service
        let mut targets: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
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
                let target = match p["targetPort"].view() {
                    View::String(s) if !s.is_empty() => s.to_string(),
                    View::Number(n) if n.as_u64() != Some(0) => n.to_string(),
                    _ => port.to_string(),
                };
                targets
                    .entry(target)
                    .or_default()
                    .insert(port, format!("{}/{}", svc.namespace, svc.name));
            }
        }
        for (target, ports) in targets {
            if ports.len() > 1 {
                let names: BTreeSet<&String> = ports.values().collect();
                let numbers: Vec<String> = ports.keys().map(u64::to_string).collect();
                out.push((
                    set.workloads[w].object,
                    format!(
                        "Services {} send ports {} to targetPort {target}; Istio's inbound listener takes the settings of one: use one port per targetPort",
                        names.into_iter().cloned().collect::<Vec<_>>().join(","),
                        numbers.join(",")
                    ),
                ));
            }
        }
    }
    out
}
