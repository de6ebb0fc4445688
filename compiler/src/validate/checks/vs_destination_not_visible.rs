//! M027 (IST0101): a VirtualService routes (or mirrors) to a host that a
//! Service or ServiceEntry in the set declares, but not for the
//! VirtualService's namespace: the Service's `networking.istio.io/exportTo`
//! annotation or the ServiceEntry's `exportTo` hides it there, so Istio
//! finds no such host. (A cluster host no Service declares at all is
//! M004's finding; an external host no ServiceEntry declares is reported
//! here.)
//! Semantics of Istio's `util/service_lookup.go` (`GetDestinationHost`):
//! visible when exported to all namespaces, or to the VirtualService's
//! namespace (or, with the VirtualService's own `exportTo`, to one of
//! those), or matched by a wildcard ServiceEntry host exported to all or to
//! the VirtualService's namespace.

use super::analysis::{fqdn, strings};
use super::{is_cluster_host, Set};
use crate::manifest::Node;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The hosts the VirtualServices route to, with the scopes each is
/// exported to (`*` = all), and every wildcard ServiceEntry host. Only
/// the hosts asked for are kept: a map of every Service's host was 46 MB
/// at the peak of a million-object run with no VirtualService at all.
struct Exports {
    exact: HashMap<String, BTreeSet<String>>,
    wildcards: Vec<(String, String)>,
}

fn exports(set: &Set, wanted: &HashSet<String>) -> Exports {
    let mut e = Exports {
        exact: HashMap::new(),
        wildcards: vec![],
    };
    for (i, o) in set.of_kind("networking.istio.io", "ServiceEntry") {
        let ns = set.ns(i);
        let ex = strings(&o.value["spec"]["exportTo"]);
        let scopes: Vec<String> = if ex.is_empty() || ex.contains(&"*") {
            vec!["*".into()]
        } else {
            ex.iter()
                .map(|s| if *s == "." { ns } else { s }.to_string())
                .collect()
        };
        for h in strings(&o.value["spec"]["hosts"]) {
            let h = fqdn(ns, h);
            for s in &scopes {
                if h.starts_with('*') {
                    e.wildcards.push((s.clone(), h.clone()));
                }
                if wanted.contains(&h) {
                    e.exact.entry(h.clone()).or_default().insert(s.clone());
                }
            }
        }
    }
    for s in &set.services {
        let host = fqdn(&s.namespace, &s.name);
        if !wanted.contains(&host) {
            continue;
        }
        let o = &set.objects[s.object];
        let anno = o.value["metadata"]["annotations"]["networking.istio.io/exportTo"]
            .as_str()
            .unwrap_or("");
        let scopes: Vec<String> = if anno.trim().is_empty() {
            vec!["*".into()]
        } else {
            anno.split(',')
                .map(str::trim)
                .map(|x| if x == "." { &*s.namespace } else { x }.to_string())
                .collect()
        };
        e.exact.entry(host).or_default().extend(scopes);
    }
    e
}

fn destinations(spec: &Node) -> Vec<(&'static str, &Node)> {
    let mut out = vec![];
    for k in ["http", "tcp", "tls"] {
        for r in spec[k].as_array().into_iter().flatten() {
            for d in r["route"].as_array().into_iter().flatten() {
                out.push(("routes to", &d["destination"]));
            }
        }
    }
    for r in spec["http"].as_array().into_iter().flatten() {
        if r["mirror"].is_object() {
            out.push(("mirrors to", &r["mirror"]));
        }
        for m in r["mirrors"].as_array().into_iter().flatten() {
            out.push(("mirrors to", &m["destination"]));
        }
    }
    out
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let wanted: HashSet<String> = set
        .of_kind("networking.istio.io", "VirtualService")
        .flat_map(|(i, o)| {
            destinations(&o.value["spec"])
                .into_iter()
                .filter_map(move |(_, d)| Some(fqdn(set.ns(i), d["host"].as_str()?)))
        })
        .collect();
    let ex = exports(set, &wanted);
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let ns = set.ns(i);
        let vs_export: Vec<String> = strings(&o.value["spec"]["exportTo"])
            .into_iter()
            .map(|e| if e == "." { ns } else { e }.to_string())
            .collect();
        for (verb, d) in destinations(&o.value["spec"]) {
            let Some(host) = d["host"].as_str() else {
                continue;
            };
            let h = fqdn(ns, host);
            let scopes = ex.exact.get(&h);
            if scopes.is_none() && is_cluster_host(host) && verb == "routes to" {
                continue; // declared by nothing: M004
            }
            let visible_in = |scope: &str| scopes.is_some_and(|s| s.contains(scope));
            let visible = visible_in("*")
                || if vs_export.is_empty() {
                    visible_in(ns)
                } else {
                    vs_export.iter().any(|e| visible_in(e))
                }
                || ex.wildcards.iter().any(|(scope, w)| {
                    (scope == "*" || scope == ns)
                        && host
                            .trim_start_matches('*')
                            .ends_with(w.trim_start_matches('*'))
                });
            if visible {
                continue;
            }
            let why = match scopes {
                Some(s) => format!(
                    "it is exported only to {}, not to namespace {ns}; add {ns} to its exportTo",
                    s.iter().cloned().collect::<Vec<_>>().join(",")
                ),
                None if is_cluster_host(host) => "no Service in the set declares it".to_string(),
                None => "no ServiceEntry in the set declares it; add one".to_string(),
            };
            out.push((i, format!("{verb} {host}, but {why}")));
        }
    }
    out
}
