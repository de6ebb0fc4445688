//! M003: a principal `<td>/ns/<ns>/sa/<sa>`, or a `serviceAccounts` entry
//! (`<ns>/<sa>`, or a bare `<sa>` in the policy's own namespace), naming a
//! namespace whose workloads the set holds, but a ServiceAccount none of
//! them runs as: the rule admits nobody, usually a typo that becomes an
//! outage. Namespaces
//! without workloads in the set (an ingress gateway's, a monitoring
//! namespace) are not judged.

use super::{principal_parts, principals, service_accounts, Set};
use std::collections::HashSet;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let namespaces: HashSet<&str> = set.workloads.iter().map(|w| &*w.namespace).collect();
    // (namespace, ServiceAccount) pairs as the index's string ids, sorted:
    // 8 bytes a workload, where a `HashSet<(&str, &str)>` took 12.5 MB at
    // its peak for 125,000 workloads (the checks' peak at a million
    // objects). Every workload's strings are in the index, so a string
    // without an id is one no workload has.
    let id = |s: &str| set.strings.id(s);
    let mut accounts: Vec<(u32, u32)> = set
        .workloads
        .iter()
        .filter_map(|w| Some((id(&w.namespace)?, id(&w.service_account)?)))
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let runs_as = |ns: &str, sa: &str| match (id(ns), id(sa)) {
        (Some(ns), Some(sa)) => accounts.binary_search(&(ns, sa)).is_ok(),
        _ => false,
    };
    let mut out = vec![];
    for (i, o) in set.of_kind("security.istio.io", "AuthorizationPolicy") {
        for p in principals(o) {
            let Some((ns, sa)) = principal_parts(p) else {
                continue;
            };
            if ns.contains('*') || sa.contains('*') || !namespaces.contains(ns) {
                continue;
            }
            if !runs_as(ns, sa) {
                out.push((
                    i,
                    format!(
                        "principal {p}: no workload in namespace {ns} runs as ServiceAccount {sa}"
                    ),
                ));
            }
        }
        for (ns, sa) in service_accounts(o, set.ns(i)) {
            if ns.contains('*') || sa.contains('*') || !namespaces.contains(ns) {
                continue;
            }
            if !runs_as(ns, sa) {
                out.push((
                    i,
                    format!(
                        "serviceAccounts entry {sa} (namespace {ns}): no workload in namespace {ns} runs as ServiceAccount {sa}"
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn only_namespaces_of_the_set_are_judged() {
        let y = format!("{APP}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: p, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: api}}}}
  rules:
  - from:
    - source: {{principals: [cluster.local/ns/shop/sa/api, cluster.local/ns/shop/sa/apj, cluster.local/ns/monitoring/sa/prometheus]}}
");
        assert_eq!(
            check(super::run, &y),
            vec![("AuthorizationPolicy/shop/p".to_string(), "principal cluster.local/ns/shop/sa/apj: no workload in namespace shop runs as ServiceAccount apj".to_string())]
        );
    }

    #[test]
    fn service_accounts_entries_are_judged_in_their_namespace() {
        let y = format!(
            "{APP}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: p, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: api}}}}
  rules:
  - from:
    - source: {{serviceAccounts: [api, apj, shop/apk, monitoring/prometheus]}}
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![
                ("AuthorizationPolicy/shop/p".to_string(), "serviceAccounts entry apj (namespace shop): no workload in namespace shop runs as ServiceAccount apj".to_string()),
                ("AuthorizationPolicy/shop/p".to_string(), "serviceAccounts entry apk (namespace shop): no workload in namespace shop runs as ServiceAccount apk".to_string()),
            ]
        );
    }
}
