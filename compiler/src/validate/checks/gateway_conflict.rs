//! M014 (IST0145): two Istio Gateways with the same workload selector
//! serve the same host on the same port (and bind address): the gateway
//! proxy cannot tell which server a request belongs to, and Istio keeps
//! only one of them.
//! Semantics of Istio's `gateway/conflictinggateway.go`: hosts are compared
//! as written (no wildcard matching, as `model.CheckDuplicates`), per port
//! and bind; the selectors must be the same label set, or one's text must
//! contain the other's while a workload in the set matches both.

use super::analysis::selector_string;
use super::{string_map, Set};
use std::collections::{BTreeSet, HashMap};

/// Selector text -> the selector it is grouped with: Istio treats two
/// selectors as one gateway workload when they are equal, or when one's
/// text contains the other's and a workload matches both.
fn selector_groups(set: &Set) -> HashMap<String, String> {
    let ix = set.analysis();
    let mut selectors: Vec<(String, std::collections::BTreeMap<String, String>)> = vec![];
    for (_, o) in set.of_kind("networking.istio.io", "Gateway") {
        let m = string_map(&o.value["spec"]["selector"]);
        let s = selector_string(&m);
        if !selectors.iter().any(|(x, _)| *x == s) {
            selectors.push((s, m));
        }
    }
    let mut parent: Vec<usize> = (0..selectors.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut by_workload: HashMap<usize, Vec<usize>> = HashMap::new();
    for (si, (_, m)) in selectors.iter().enumerate() {
        if m.is_empty() {
            continue;
        }
        for w in ix.select_any(set, m) {
            by_workload.entry(w).or_default().push(si);
        }
    }
    let mut workloads: Vec<_> = by_workload.into_iter().collect();
    workloads.sort();
    for (_, sels) in workloads {
        for (k, a) in sels.iter().enumerate() {
            for b in &sels[k + 1..] {
                let (x, y) = (&selectors[*a].0, &selectors[*b].0);
                if x.contains(y.as_str()) || y.contains(x.as_str()) {
                    let (ra, rb) = (find(&mut parent, *a), find(&mut parent, *b));
                    parent[ra.max(rb)] = ra.min(rb);
                }
            }
        }
    }
    (0..selectors.len())
        .map(|i| {
            let r = find(&mut parent, i);
            (selectors[i].0.clone(), selectors[r].0.clone())
        })
        .collect()
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let groups = selector_groups(set);
    // (selector group, port, bind, host) -> gateways serving it.
    let mut served: HashMap<(String, u64, String, String), BTreeSet<usize>> = HashMap::new();
    let mut servers = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "Gateway") {
        let own = selector_string(&string_map(&o.value["spec"]["selector"]));
        let sel = groups[&own].clone();
        for s in o.value["spec"]["servers"].as_array().into_iter().flatten() {
            let port = s["port"]["number"].as_u64().unwrap_or(0);
            let bind = s["bind"].as_str().unwrap_or("").to_string();
            let hosts: Vec<String> = super::analysis::strings(&s["hosts"])
                .into_iter()
                .map(str::to_string)
                .collect();
            for h in &hosts {
                served
                    .entry((sel.clone(), port, bind.clone(), h.clone()))
                    .or_default()
                    .insert(i);
            }
            servers.push((i, sel.clone(), own.clone(), port, bind, hosts));
        }
    }
    let mut out = vec![];
    for (i, sel, own, port, bind, hosts) in servers {
        let others: BTreeSet<String> = hosts
            .iter()
            .flat_map(|h| &served[&(sel.clone(), port, bind.clone(), h.clone())])
            .filter(|g| **g != i)
            .map(|g| format!("{}/{}", set.ns(*g), set.objects[*g].name()))
            .collect();
        if !others.is_empty() {
            out.push((
                i,
                format!(
                    "conflicts with gateway {} (workload selector {own}, port {port}, hosts {}): merge the servers into one Gateway or give them different hosts",
                    others.into_iter().collect::<Vec<_>>().join(","),
                    hosts.join(",")
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    #[test]
    fn same_selector_port_and_host_conflict() {
        let y = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com, a.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b, namespace: web}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}
  - {port: {number: 8080, name: http2, protocol: HTTP}, hosts: [a.example.com]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other-selector, namespace: shop}
spec:
  selector: {istio: internal}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other-bind, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, bind: 10.0.0.1, hosts: [shop.example.com]}]
";
        assert_eq!(
            check(super::run, y),
            vec![
                (
                    "Gateway/shop/a".to_string(),
                    "conflicts with gateway web/b (workload selector istio=ingressgateway, port 80, hosts shop.example.com,a.example.com): merge the servers into one Gateway or give them different hosts".to_string()
                ),
                (
                    "Gateway/web/b".to_string(),
                    "conflicts with gateway shop/a (workload selector istio=ingressgateway, port 80, hosts shop.example.com): merge the servers into one Gateway or give them different hosts".to_string()
                ),
            ]
        );
    }
}
