//! M012: a VirtualService route (or mirror) to a subset that no
//! DestinationRule of its host defines: Envoy has no such cluster and
//! answers 503 (`istioctl analyze` IST0101). Also: route weights that do
//! not add up to 100, which Istio normalises silently, so the split is not
//! the one written.

use super::{split_host, Set};
use crate::manifest::Node;
use std::collections::{BTreeMap, BTreeSet};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    // The (namespace, service name or external host) keys some route names
    // a subset of: only their DestinationRules are read (a set of a
    // hundred thousand DestinationRules and no subsets builds nothing).
    let mut wanted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let spec = &o.value["spec"];
        for kind in ["http", "tcp", "tls"] {
            for r in spec[kind].as_array().into_iter().flatten() {
                let dests = r["route"].as_array().into_iter().flatten();
                for d in dests.map(|d| &d["destination"]).chain([&r["mirror"]]) {
                    if let (Some(host), Some(_)) = (d["host"].as_str(), d["subset"].as_str()) {
                        wanted.insert(key_of(host, set.ns(i)), BTreeSet::new());
                    }
                }
            }
        }
    }
    // Those keys -> the subsets their DestinationRules define.
    let mut defined = wanted;
    if !defined.is_empty() {
        for (i, o) in set.of_kind("networking.istio.io", "DestinationRule") {
            let Some(host) = o.value["spec"]["host"].as_str() else {
                continue;
            };
            let Some(names) = defined.get_mut(&key_of(host, set.ns(i))) else {
                continue;
            };
            names.extend(
                o.value["spec"]["subsets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["name"].as_str().map(str::to_string)),
            );
        }
    }
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let spec = &o.value["spec"];
        for kind in ["http", "tcp", "tls"] {
            for r in spec[kind].as_array().into_iter().flatten() {
                let dests: Vec<&Node> = r["route"].as_array().into_iter().flatten().collect();
                let mut targets: Vec<&Node> = dests.iter().map(|d| &d["destination"]).collect();
                targets.push(&r["mirror"]);
                for d in targets {
                    let (Some(host), Some(subset)) = (d["host"].as_str(), d["subset"].as_str())
                    else {
                        continue;
                    };
                    let key = key_of(host, set.ns(i));
                    if !defined.get(&key).is_some_and(|s| s.contains(subset)) {
                        out.push((
                            i,
                            format!("routes to subset {subset} of {host}, which no DestinationRule defines"),
                        ));
                    }
                }
                if dests.len() > 1 {
                    let sum: u64 = dests
                        .iter()
                        .map(|d| d["weight"].as_u64().unwrap_or(0))
                        .sum();
                    if sum != 100 {
                        out.push((i, format!("{kind} route weights add up to {sum}, not 100")));
                    }
                }
            }
        }
    }
    out
}

fn key_of(host: &str, ns: &str) -> (String, String) {
    match split_host(host, ns) {
        Some((name, ns)) => (ns.to_string(), name.to_string()),
        None => (String::new(), host.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn subsets_must_be_defined_and_weights_whole() {
        let y = format!(
            "{APP}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: d, namespace: shop}}
spec:
  host: api.shop.svc.cluster.local
  subsets: [{{name: v1, labels: {{version: v1}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: v, namespace: shop}}
spec:
  hosts: [api]
  http:
  - route:
    - {{destination: {{host: api, subset: v1}}, weight: 80}}
    - {{destination: {{host: api, subset: v2}}, weight: 10}}
    mirror: {{host: api, subset: v3}}
  tcp:
  - route:
    - {{destination: {{host: api, subset: v1}}, weight: 100}}
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![
                (
                    "VirtualService/shop/v".to_string(),
                    "routes to subset v2 of api, which no DestinationRule defines".to_string()
                ),
                (
                    "VirtualService/shop/v".to_string(),
                    "routes to subset v3 of api, which no DestinationRule defines".to_string()
                ),
                (
                    "VirtualService/shop/v".to_string(),
                    "http route weights add up to 90, not 100".to_string()
                ),
            ]
        );
    }
}
