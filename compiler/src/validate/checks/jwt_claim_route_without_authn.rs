//! M036 (IST0149): a VirtualService routes on a JWT claim
//! (`@request.auth.claims.<name>` or `@request.auth.claims[<name>]` header
//! matches) through a gateway whose pods no RequestAuthentication selects
//! (in `istio-system` or the pods' namespace): the claims are never
//! extracted, so the match never holds.
//! Semantics of Istio's `virtualservice/jwtclaimroute.go`; decided only
//! when the gateway's pods are in the set.

use super::analysis::{short_or_full, strings};
use super::{string_map, Set};
use std::collections::{BTreeMap, HashMap};

/// `jwt.ToRoutingClaim(...).Match`.
fn claim_key(k: &str) -> bool {
    const PREFIX: &str = "@request.auth.claims";
    if !k.to_ascii_lowercase().starts_with(PREFIX) {
        return false;
    }
    let rest = &k[PREFIX.len()..];
    (rest.starts_with('.') && rest.len() > 1)
        || (rest.starts_with('[') && rest.ends_with(']') && rest.len() > 2)
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let mut authn: HashMap<&str, Vec<BTreeMap<String, String>>> = HashMap::new();
    for (i, o) in set.of_kind("security.istio.io", "RequestAuthentication") {
        authn
            .entry(set.ns(i))
            .or_default()
            .push(string_map(&o.value["spec"]["selector"]["matchLabels"]));
    }
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        let spec = &o.value["spec"];
        let key = spec["http"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["match"].as_array().into_iter().flatten())
            .flat_map(|m| {
                ["headers", "withoutHeaders"]
                    .into_iter()
                    .flat_map(move |k| m[k].as_object().into_iter().flatten())
            })
            .map(|(k, _)| k)
            .find(|k| claim_key(k));
        let Some(key) = key else { continue };
        let ns = set.ns(i);
        for g in strings(&spec["gateways"]) {
            if g == "mesh" {
                continue;
            }
            let (gns, name) = short_or_full(ns, g);
            let Some(gw) = ix.gateways.get(&(gns.to_string(), name.to_string())) else {
                continue;
            };
            let sel = string_map(&set.objects[*gw].value["spec"]["selector"]);
            for w in ix.select_any(set, &sel) {
                let wl = &set.workloads[w];
                let covered = ["istio-system", &*wl.namespace]
                    .iter()
                    .flat_map(|n| authn.get(n).into_iter().flatten())
                    .any(|s| s.iter().all(|(k, v)| wl.labels.get(k) == Some(v)));
                if !covered {
                    out.push((
                        i,
                        format!(
                            "routes on JWT claim {key} through gateway {gns}/{name}, but no RequestAuthentication selects its pods ({}); add one so the claims are extracted",
                            set.objects[wl.object].id()
                        ),
                    ));
                }
            }
        }
    }
    out
}
