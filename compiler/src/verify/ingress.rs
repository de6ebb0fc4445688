//! Who `gateway/<name>` is when no mesh fronts the gateways: the ingress
//! controller, as meshpack names it on each Ingress it renders
//! (`meshpack.dev/gateway`, `meshpack.dev/ingress-controller:
//! <namespace>/<serviceAccount>`) and on each NetworkPolicy admitting a
//! controller the customer's own Ingresses use (`meshpack.dev/gateways`, a
//! comma-separated list, with the same controller annotation). The
//! controller pods' labels are those the latter policies select.
//!
//! Invariant: reads manifests only, like the evaluators; an object
//! without both annotations (not meshpack's) names no identity.

use super::{Rendered, Source};
use std::collections::BTreeMap;

const CONTROLLER: &str = "meshpack.dev/ingress-controller";

/// Gateway name -> (namespace, ServiceAccount) of the controller serving it.
pub fn controllers(set: &Rendered) -> BTreeMap<String, (String, String)> {
    annotated(set)
        .into_iter()
        .map(|(g, (id, _))| (g, id))
        .collect()
}

/// Gateway name -> the labels of its controller's pods, as the
/// NetworkPolicies naming the controller select them (none: any pod of
/// its namespace).
pub fn pod_labels(set: &Rendered) -> BTreeMap<String, BTreeMap<String, String>> {
    annotated(set)
        .into_iter()
        .filter_map(|(g, (_, labels))| Some((g, labels?)))
        .collect()
}

type Controller = ((String, String), Option<BTreeMap<String, String>>);

fn annotated(set: &Rendered) -> BTreeMap<String, Controller> {
    let mut out: BTreeMap<String, Controller> = BTreeMap::new();
    for o in &set.objects {
        let (gateways, policy) = match (o.group(), o.kind()) {
            ("networking.k8s.io", "Ingress") => ("meshpack.dev/gateway", false),
            ("networking.k8s.io", "NetworkPolicy") => ("meshpack.dev/gateways", true),
            _ => continue,
        };
        let ann = &o.value["metadata"]["annotations"];
        let (Some(gs), Some(id)) = (ann[gateways].as_str(), ann[CONTROLLER].as_str()) else {
            continue;
        };
        let Some((ns, sa)) = id.split_once('/') else {
            continue;
        };
        // The first peer of the policy's rules is the controller.
        let labels = policy.then(|| {
            let peer = &o.value["spec"]["ingress"][0]["from"][0];
            peer["podSelector"]["matchLabels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        });
        for g in gs.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let e = out
                .entry(g.to_string())
                .or_insert_with(|| ((ns.to_string(), sa.to_string()), None));
            if labels.is_some() {
                e.1 = labels.clone();
            }
        }
    }
    out
}

/// The controllers as matrix sources.
pub fn sources(set: &Rendered) -> impl Iterator<Item = Source> {
    controllers(set)
        .into_values()
        .map(|(namespace, service_account)| Source::Identity {
            namespace,
            service_account,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop-public
  annotations: {meshpack.dev/gateway: public, meshpack.dev/ingress-controller: edge/nginx}
spec: {rules: []}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: shop-web-gateways
  annotations: {meshpack.dev/gateways: "admin,public", meshpack.dev/ingress-controller: edge/nginx}
spec:
  podSelector: {}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}
          podSelector: {matchLabels: {app: nginx}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: someone-elses
  annotations: {meshpack.dev/gateways: other}
spec: {podSelector: {}}
"#;

    #[test]
    fn ingresses_and_policies_name_the_controller_and_its_pods() {
        let o = crate::manifest::testing::objects(SET);
        let set = Rendered::new(o, "shop", "cluster.local");
        let id = ("edge".to_string(), "nginx".to_string());
        assert_eq!(
            controllers(&set),
            BTreeMap::from([
                ("admin".to_string(), id.clone()),
                ("public".to_string(), id)
            ])
        );
        let labels = BTreeMap::from([("app".to_string(), "nginx".to_string())]);
        assert_eq!(
            pod_labels(&set),
            BTreeMap::from([
                ("admin".to_string(), labels.clone()),
                ("public".to_string(), labels)
            ])
        );
    }
}
