//! Who `gateway/<name>` is when gateways are Kubernetes Ingresses: the
//! ingress controller, as each Ingress meshpack renders names it in its
//! annotations (`meshpack.dev/gateway`, `meshpack.dev/ingress-controller:
//! <namespace>/<serviceAccount>`).
//!
//! Invariant: reads manifests only, like the evaluators; an Ingress
//! without both annotations (not meshpack's) names no identity.

use super::{Rendered, Source};
use std::collections::BTreeMap;

/// Gateway name -> (namespace, ServiceAccount) of the controller serving it.
pub fn controllers(set: &Rendered) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for o in set
        .objects
        .iter()
        .filter(|o| o.kind() == "Ingress" && o.group() == "networking.k8s.io")
    {
        let ann = &o.value["metadata"]["annotations"];
        let (Some(g), Some(id)) = (
            ann["meshpack.dev/gateway"].as_str(),
            ann["meshpack.dev/ingress-controller"].as_str(),
        ) else {
            continue;
        };
        if let Some((ns, sa)) = id.split_once('/') {
            out.insert(g.to_string(), (ns.to_string(), sa.to_string()));
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
