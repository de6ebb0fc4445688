//! M052 (IST0175): RequestAuthentications in the set while istiod's
//! Deployment (label `app: istiod`), also in the set, does not set
//! `BLOCKED_CIDRS_IN_JWKS_URIS`: istiod fetches every `jwksUri` from
//! anywhere, including cluster-internal addresses. Set the variable to the
//! ranges istiod must not reach.
//! Semantics of Istio's `authn/blockedcidrs.go`; decided only when istiod's
//! Deployment is in the set (it usually comes with Istio's own install).

use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut names: Vec<String> = set
        .of_kind("security.istio.io", "RequestAuthentication")
        .map(|(i, o)| format!("{}/{}", set.ns(i), o.name()))
        .collect();
    if names.is_empty() {
        return vec![];
    }
    names.sort();
    let count = names.len();
    if names.len() > 5 {
        let more = names.len() - 5;
        names.truncate(5);
        names.push(format!("and {more} more"));
    }
    let mut out = vec![];
    for (i, o) in set.of_kind("apps", "Deployment") {
        if o.value["metadata"]["labels"]["app"] != "istiod" {
            continue;
        }
        let blocked = o.value["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["env"].as_array().into_iter().flatten())
            .any(|e| {
                e["name"] == "BLOCKED_CIDRS_IN_JWKS_URIS"
                    && e["value"].as_str().is_some_and(|v| !v.is_empty())
            });
        if !blocked {
            out.push((
                i,
                format!(
                    "{count} RequestAuthentication(s) ({}) but BLOCKED_CIDRS_IN_JWKS_URIS is not set: istiod fetches JWKS from any address; set it to the ranges istiod must not reach",
                    names.join(", ")
                ),
            ));
        }
    }
    out
}
