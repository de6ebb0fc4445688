//! M022 (IST0109): two VirtualServices bound to the mesh (no `gateways`, or
//! `mesh` among them) declare the same host for the same namespaces: Istio
//! merges them in an undefined order. Merge them into one.
//! Semantics of Istio's `virtualservice/conflictingmeshgatewayhosts.go`:
//! hosts are compared as FQDNs (a short host is in the VirtualService's
//! namespace), per `exportTo` scope; a VirtualService exported to every
//! namespace also conflicts with one exported to a single namespace when
//! the first's host matches the second's.

use super::analysis::{fqdn, hosts_overlap, strings};
use super::Set;
use std::collections::{BTreeMap, BTreeSet};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    // (scope, fqdn) -> VirtualServices; scope "*" is every namespace.
    let mut hosts: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let spec = &o.value["spec"];
        let gateways = strings(&spec["gateways"]);
        if !gateways.is_empty() && !gateways.contains(&"mesh") {
            continue;
        }
        let ns = set.ns(i);
        let export = strings(&spec["exportTo"]);
        let scopes: BTreeSet<String> = if export.is_empty() || export.contains(&"*") {
            ["*".to_string()].into()
        } else {
            export
                .iter()
                .map(|e| if *e == "." { ns } else { e }.to_string())
                .collect()
        };
        for scope in scopes {
            for h in strings(&spec["hosts"]) {
                let list = hosts.entry((scope.clone(), fqdn(ns, h))).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
    }
    // Hosts exported everywhere, for the scoped ones to be compared with;
    // only wildcards need a scan, exact hosts are looked up.
    let wildcards: Vec<(&String, &Vec<usize>)> = hosts
        .iter()
        .filter(|((s, h), _)| s == "*" && h.starts_with('*'))
        .map(|((_, h), v)| (h, v))
        .collect();
    let mut reported = BTreeSet::new();
    let mut out = vec![];
    for ((scope, host), list) in &hosts {
        let mut all = list.clone();
        if scope != "*" {
            if let Some(v) = hosts.get(&("*".to_string(), host.clone())) {
                all.extend(v);
            }
            for (h, v) in &wildcards {
                if *h != host && hosts_overlap(h, host) {
                    all.extend(*v);
                }
            }
        }
        all.sort();
        all.dedup();
        if all.len() < 2 {
            continue;
        }
        let names: Vec<String> = all
            .iter()
            .map(|v| format!("{}/{}", set.ns(*v), set.objects[*v].name()))
            .collect();
        for v in &all {
            if reported.insert(*v) {
                out.push((
                    *v,
                    format!(
                        "VirtualServices {} bound to the mesh all declare host {host}; Istio merges them in an undefined order: merge them into one",
                        names.join(",")
                    ),
                ));
            }
        }
    }
    out.sort();
    out
}
