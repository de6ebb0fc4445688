//! M010: pods asking for a sidecar in a set with no PeerAuthentication: the
//! mesh runs in Istio's default PERMISSIVE mode and accepts plaintext.

use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    if set
        .of_kind("security.istio.io", "PeerAuthentication")
        .next()
        .is_some()
    {
        return vec![];
    }
    set.workloads
        .iter()
        .filter(|w| {
            w.labels.get("sidecar.istio.io/inject") == Some("true")
                || w.annotations.get("sidecar.istio.io/inject") == Some("true")
        })
        .map(|w| (w.object, "injected with a sidecar, but no PeerAuthentication sets the mTLS mode (Istio defaults to PERMISSIVE)".to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    #[test]
    fn injected_pods_need_a_peer_authentication() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {sidecar.istio.io/inject: 'true'}}\nspec: {containers: [{name: c, image: x:1}]}\n";
        assert_eq!(check(super::run, pod).len(), 1);
        let with_pa = format!("{pod}---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: m, namespace: shop}}\nspec: {{mtls: {{mode: STRICT}}}}\n");
        assert!(check(super::run, &with_pa).is_empty());
    }
}
