//! M009: an ALLOW rule with `paths` or `methods` on a port that is not
//! HTTP. Istio cannot see HTTP there and drops the rule, so the traffic it
//! meant to allow is denied.
//! <https://istio.io/latest/docs/ops/common-problems/security-issues/>

use super::{protocol, selector_of, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("security.istio.io", "AuthorizationPolicy") {
        let ns = set.ns(i);
        let sel = selector_of(&o.value["spec"]["selector"]).unwrap_or_default();
        let pods: Vec<_> = set.selected(ns, &sel).collect();
        // Container ports of the selected pods, with Istio's protocol as the
        // Services fronting them declare it.
        let mut ports: Vec<(u64, String, bool)> = vec![];
        for s in set.services_in(ns) {
            for p in &s.ports {
                let target = match &p.target {
                    serde_json::Value::Number(n) => n.as_u64(),
                    serde_json::Value::String(name) => pods
                        .iter()
                        .flat_map(|w| &w.ports)
                        .find(|(n, _)| n == name)
                        .map(|(_, n)| *n),
                    _ => Some(p.port),
                };
                let fronts = pods
                    .iter()
                    .any(|w| s.selector.iter().all(|(k, v)| w.labels.get(k) == Some(v)))
                    && !s.selector.is_empty();
                if let (Some(t), true) = (target, fronts) {
                    ports.push((
                        t,
                        p.name.clone(),
                        protocol(&p.name, p.app_protocol.as_deref()) == Some(true),
                    ));
                }
            }
        }
        for (r, rule) in o.value["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for to in rule["to"].as_array().into_iter().flatten() {
                let op = &to["operation"];
                let l7 = ["paths", "methods", "notPaths", "notMethods"]
                    .iter()
                    .any(|k| op[*k].as_array().is_some_and(|a| !a.is_empty()));
                if !l7 {
                    continue;
                }
                let listed: Vec<u64> = op["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str()?.parse().ok())
                    .collect();
                for (port, name, http) in &ports {
                    if !http && (listed.is_empty() || listed.contains(port)) {
                        out.push((i, format!("rule {r} has HTTP fields but covers port {port} ({name}), which is not HTTP")));
                    }
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
