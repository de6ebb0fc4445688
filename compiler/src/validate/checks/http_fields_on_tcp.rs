//! M009: an ALLOW rule with `paths` or `methods` on a port that is not
//! HTTP. Istio cannot see HTTP there and drops the rule, so the traffic it
//! meant to allow is denied.
//! <https://istio.io/latest/docs/ops/common-problems/security-issues/>

use super::{protocol, selector_of, Set, Svc};
use crate::manifest::View;
use std::collections::HashSet;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("security.istio.io", "AuthorizationPolicy") {
        // Rules with HTTP fields, and the ports each lists: most policies
        // have none, and then the ports below need not be worked out.
        let l7_rules: Vec<(usize, Vec<u64>)> = o.value["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .flat_map(|(r, rule)| {
                rule["to"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |to| (r, &to["operation"]))
            })
            .filter(|(_, op)| {
                ["paths", "methods", "notPaths", "notMethods"]
                    .iter()
                    .any(|k| op[*k].as_array().is_some_and(|a| !a.is_empty()))
            })
            .map(|(r, op)| {
                let listed = op["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str()?.parse().ok())
                    .collect();
                (r, listed)
            })
            .collect();
        if l7_rules.is_empty() {
            continue;
        }
        let ns = set.ns(i);
        let sel = selector_of(&o.value["spec"]["selector"]).unwrap_or_default();
        let pods: Vec<usize> = set.selected_indexes(ns, &sel).collect();
        // The Services fronting the selected pods (from the index, not a
        // scan of the namespace), in object order.
        let mut fronting: Vec<&Svc> = pods
            .iter()
            .flat_map(|w| set.services_fronting(*w))
            .collect();
        fronting.sort_by_key(|s| s.object);
        fronting.dedup_by_key(|s| s.object);
        let chosen: HashSet<usize> = if sel.is_empty() {
            HashSet::new()
        } else {
            pods.iter().copied().collect()
        };
        // Container ports of the selected pods, with Istio's protocol as the
        // Services fronting them declare it; a named targetPort resolves in
        // the first selected pod of that Service that has the name.
        let mut ports: Vec<(u64, &str, bool)> = vec![];
        for s in fronting {
            for p in s.ports.iter() {
                let target = match p.target.view() {
                    View::Number(n) => n.as_u64(),
                    View::String(name) => set
                        .selected_indexes(&s.namespace, &s.selector)
                        .filter(|w| sel.is_empty() || chosen.contains(w))
                        .flat_map(|w| set.workloads[w].ports.iter())
                        .find(|(n, _)| **n == **name)
                        .map(|(_, n)| *n),
                    _ => Some(p.port),
                };
                if let Some(t) = target {
                    ports.push((
                        t,
                        &p.name,
                        protocol(&p.name, p.app_protocol.as_deref()) == Some(true),
                    ));
                }
            }
        }
        for (r, listed) in &l7_rules {
            for (port, name, http) in &ports {
                if !http && (listed.is_empty() || listed.contains(port)) {
                    out.push((
                        i,
                        format!(
                            "rule {r} has HTTP fields but covers port {port} ({name}), which is not HTTP"
                        ),
                    ));
                }
            }
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn l7_fields_need_http_ports() {
        let y = format!(
            "{APP}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: p, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: api}}}}
  rules:
  - to: [{{operation: {{ports: ['8080'], paths: [/x]}}}}]
  - to: [{{operation: {{methods: [GET]}}}}]
  - to: [{{operation: {{ports: ['5432']}}}}]
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![(
                "AuthorizationPolicy/shop/p".to_string(),
                "rule 1 has HTTP fields but covers port 5432 (tcp-db), which is not HTTP"
                    .to_string()
            )]
        );
    }
}
