//! M053: an AuthorizationPolicy or PeerAuthentication selecting pods that
//! opted out of the mesh (`sidecar.istio.io/inject: "false"`, not ambient):
//! without a sidecar (or ztunnel) nothing enforces the policy, so the rules
//! read as protection the cluster does not have (`istio.enabled=true` with
//! `istio.injection=false`, or one service's `istio.inject=false`).
//!
//! The pod label wins over the namespace's injection label in Istio's
//! injector, so a pod labelled `"false"` has no sidecar whatever its
//! namespace says; pods without the label are left alone (their namespace,
//! which the set may not hold, decides).
//! <https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/#controlling-the-injection-policy>

use super::{selector_of, Set, Workload};
use std::collections::BTreeMap;

fn opted_out(w: &Workload) -> bool {
    w.labels.get("sidecar.istio.io/inject") == Some("false")
        && w.labels.get("istio.io/dataplane-mode") != Some("ambient")
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for kind in ["AuthorizationPolicy", "PeerAuthentication"] {
        for (i, o) in set.of_kind("security.istio.io", kind) {
            let spec = &o.value["spec"];
            // Policies attached to a Service or Gateway (targetRefs) are
            // enforced by a waypoint or gateway, not by the pods' sidecars.
            if spec.get("targetRef").is_some() || spec.get("targetRefs").is_some() {
                continue;
            }
            let selector = spec
                .get("selector")
                .and_then(selector_of)
                .unwrap_or_else(BTreeMap::new);
            let mut bare: Vec<String> = set
                .selected(set.ns(i), &selector)
                .filter(|w| opted_out(w))
                .map(|w| set.objects[w.object].id())
                .collect();
            if bare.is_empty() {
                continue;
            }
            bare.sort();
            bare.dedup();
            out.push((
                i,
                format!(
                    "selects {} labelled sidecar.istio.io/inject: \"false\"; without a sidecar nothing enforces this {kind}. Inject the pods (istio.injection / services.<name>.istio.inject) or leave the mesh off",
                    bare.join(", ")
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    fn pod(inject: &str) -> String {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: shop, labels: {{app: api, sidecar.istio.io/inject: '{inject}'}}}}\nspec: {{containers: [{{name: c, image: x:1}}]}}\n")
    }

    const AP: &str = "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: api, namespace: shop}\nspec: {selector: {matchLabels: {app: api}}, action: ALLOW, rules: [{from: [{source: {serviceAccounts: [web]}}]}]}\n";
    const PA: &str = "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: mtls, namespace: shop}\nspec: {mtls: {mode: STRICT}}\n";

    #[test]
    fn policy_over_pods_without_sidecar_warns() {
        let found = check(super::run, &format!("{}{AP}{PA}", pod("false")));
        assert_eq!(
            found,
            vec![
                (
                    "AuthorizationPolicy/shop/api".to_string(),
                    "selects Pod/shop/p labelled sidecar.istio.io/inject: \"false\"; without a sidecar nothing enforces this AuthorizationPolicy. Inject the pods (istio.injection / services.<name>.istio.inject) or leave the mesh off".to_string()
                ),
                (
                    "PeerAuthentication/shop/mtls".to_string(),
                    "selects Pod/shop/p labelled sidecar.istio.io/inject: \"false\"; without a sidecar nothing enforces this PeerAuthentication. Inject the pods (istio.injection / services.<name>.istio.inject) or leave the mesh off".to_string()
                ),
            ]
        );
    }

    #[test]
    fn injected_pods_pass() {
        assert!(check(super::run, &format!("{}{AP}{PA}", pod("true"))).is_empty());
    }
}
