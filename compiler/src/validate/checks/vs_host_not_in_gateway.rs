//! M024 (IST0132): a VirtualService bound to a Gateway in the set declares
//! no host that Gateway serves: the gateway never routes by it.
//! Semantics of Istio's `virtualservice/gateways.go`: a Gateway host
//! `ns/host` counts only for VirtualServices in `ns` (`./host`: the
//! Gateway's namespace, `*/host`: all); hosts match as Istio's
//! `host.Name.Matches` (either side's wildcard). A Gateway API Gateway
//! serves a VirtualService's hosts when a listener has no hostname or an
//! overlapping one.

use super::analysis::{hosts_overlap, short_or_full, strings};
use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let ns = set.ns(i);
        let vs_hosts = strings(&o.value["spec"]["hosts"]);
        for g in strings(&o.value["spec"]["gateways"]) {
            if g == "mesh" {
                continue;
            }
            let (gns, name) = short_or_full(ns, g);
            let key = (gns.to_string(), name.to_string());
            let served: Vec<String> = if let Some(gw) = ix.gateways.get(&key) {
                let mut hosts = vec![];
                for s in set.objects[*gw].value["spec"]["servers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    for h in strings(&s["hosts"]) {
                        match h.split_once('/') {
                            None => hosts.push(h.to_string()),
                            Some((".", h)) if gns == ns => hosts.push(h.to_string()),
                            Some(("*", h)) => hosts.push(h.to_string()),
                            Some((n, h)) if n == ns => hosts.push(h.to_string()),
                            Some(_) => {}
                        }
                    }
                }
                hosts
            } else if let Some(gw) = ix.k8s_gateways.get(&key) {
                let listeners = set.objects[*gw].value["spec"]["listeners"].as_array();
                let mut hosts = vec![];
                for l in listeners.into_iter().flatten() {
                    match l["hostname"].as_str().filter(|h| !h.is_empty()) {
                        Some(h) => hosts.push(h.to_string()),
                        None => hosts.push("*".to_string()),
                    }
                }
                hosts
            } else {
                continue; // M023
            };
            let matched = served
                .iter()
                .any(|gh| vs_hosts.iter().any(|vh| hosts_overlap(gh, vh)));
            if !matched {
                out.push((
                    i,
                    format!(
                        "hosts {} are not served by gateway {gns}/{name} (it serves {}); add them to the Gateway or fix the VirtualService's hosts",
                        vs_hosts.join(","),
                        if served.is_empty() { "none for this namespace".to_string() } else { served.join(",") }
                    ),
                ));
            }
        }
    }
    out
}
