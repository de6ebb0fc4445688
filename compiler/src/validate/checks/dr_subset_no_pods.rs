//! M005: a DestinationRule subset whose labels, together with the host
//! Service's selector, match no pod: traffic routed to it fails.

use super::Set;
use std::collections::BTreeMap;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "DestinationRule") {
        let Some(host) = o.value["spec"]["host"].as_str() else {
            continue;
        };
        let Some(svc) = set.service_for_host(host, set.ns(i)) else {
            continue;
        };
        for s in o.value["spec"]["subsets"].as_array().into_iter().flatten() {
            let mut sel: BTreeMap<String, String> = svc.selector.to_map();
            for (k, v) in s["labels"].as_object().into_iter().flatten() {
                sel.insert(k.to_string(), v.as_str().unwrap_or_default().to_string());
            }
            if set.selected(&svc.namespace, &sel).next().is_none() {
                let name = s["name"].as_str().unwrap_or("?");
                out.push((i, format!("subset {name} of {host} matches no pod")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn subsets_need_pods() {
        let y = format!(
            "{APP}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: d, namespace: shop}}
spec:
  host: api
  subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]
"
        );
        assert_eq!(
            check(super::run, &y),
            vec![(
                "DestinationRule/shop/d".to_string(),
                "subset v2 of api matches no pod".to_string()
            )]
        );
    }
}
