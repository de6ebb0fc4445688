//! M001: an AuthorizationPolicy whose selector matches no workload protects
//! nothing (a label typo leaves the intended pods open, or closed).

use super::{selector_of, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("security.istio.io", "AuthorizationPolicy") {
        let Some(sel) = selector_of(&o.value["spec"]["selector"]) else {
            continue;
        };
        let ns = set.ns(i);
        if !sel.is_empty() && set.selected(ns, &sel).next().is_none() {
            let labels: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push((
                i,
                format!(
                    "selector {} matches no workload in namespace {ns}",
                    labels.join(",")
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn flags_selectors_that_match_nothing() {
        let y = format!(
            "{APP}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: good, namespace: shop}}
spec: {{selector: {{matchLabels: {{app: api}}}}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: typo, namespace: shop}}
spec: {{selector: {{matchLabels: {{app: apii}}}}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: other-ns, namespace: web}}
spec: {{selector: {{matchLabels: {{app: api}}}}}}
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![
                (
                    "AuthorizationPolicy/shop/typo".to_string(),
                    "selector app=apii matches no workload in namespace shop".to_string()
                ),
                (
                    "AuthorizationPolicy/web/other-ns".to_string(),
                    "selector app=api matches no workload in namespace web".to_string()
                ),
            ]
        );
    }
}
