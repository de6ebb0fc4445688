//! M035 (IST0177): ServiceEntries visible in one namespace declare the
//! same host and port with different protocols: Istio keeps one.
//! Semantics of Istio's `serviceentry/conflictingserviceentries.go`: per
//! `exportTo` scope (all namespaces counts in every scope), hosts as
//! written, protocols case-insensitive.

use super::analysis::strings;
use super::Set;
use std::collections::{BTreeMap, BTreeSet};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    // (scope, host, port) -> [(protocol, ServiceEntry)]
    let mut index: BTreeMap<(String, String, u64), Vec<(String, usize)>> = BTreeMap::new();
    for (i, o) in set.of_kind("networking.istio.io", "ServiceEntry") {
        let ns = set.ns(i);
        let ex = strings(&o.value["spec"]["exportTo"]);
        let scopes: BTreeSet<String> = if ex.is_empty() || ex.contains(&"*") {
            ["*".to_string()].into()
        } else {
            ex.iter()
                .map(|e| if *e == "." { ns } else { e }.to_string())
                .collect()
        };
        for s in &scopes {
            for h in strings(&o.value["spec"]["hosts"]) {
                for p in o.value["spec"]["ports"].as_array().into_iter().flatten() {
                    let n = p["number"].as_u64().unwrap_or(0);
                    let proto = p["protocol"].as_str().unwrap_or("").to_ascii_uppercase();
                    index
                        .entry((s.clone(), h.to_string(), n))
                        .or_default()
                        .push((proto, i));
                }
            }
        }
    }
    let mut reported = BTreeSet::new();
    let mut out = vec![];
    for ((scope, host, port), entries) in &index {
        let mut all = entries.clone();
        if scope != "*" {
            if let Some(e) = index.get(&("*".to_string(), host.clone(), *port)) {
                all.extend(e.iter().cloned());
            }
        }
        let protos: BTreeSet<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
        if protos.len() < 2 {
            continue;
        }
        let names: BTreeSet<String> = all
            .iter()
            .map(|(_, i)| format!("{}/{}", set.ns(*i), set.objects[*i].name()))
            .collect();
        for (_, i) in &all {
            if reported.insert(*i) {
                out.push((
                    *i,
                    format!(
                        "ServiceEntries {} declare host {host} port {port} with different protocols ({}); Istio keeps one: agree on the protocol",
                        names.iter().cloned().collect::<Vec<_>>().join(", "),
                        protos.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    out.sort();
    out
}
