//! M026 (IST0140): a VirtualService bound to a gateway routes to a host
//! without a subset while another VirtualService splits that host by
//! subsets: requests through the gateway go straight to every pod of the
//! host and skip the split (a gateway applies only its own routes).
//! Semantics of Istio's `virtualservice/destinationhosts.go`
//! (`analyzeSubset`): hosts compared as written; the splitting
//! VirtualService must declare the host it routes to by subset.

use super::analysis::strings;
use super::Set;
use std::collections::{BTreeSet, HashMap};

fn http_destinations(v: &crate::manifest::Node) -> impl Iterator<Item = &crate::manifest::Node> {
    v["spec"]["http"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["route"].as_array().into_iter().flatten())
        .map(|r| &r["destination"])
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    // host -> VirtualServices routing to it by subset (and declaring it)
    let mut split: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    let vss: Vec<(usize, &super::Object)> = set
        .of_kind("networking.istio.io", "VirtualService")
        .collect();
    for (i, o) in &vss {
        let hosts = strings(&o.value["spec"]["hosts"]);
        for d in http_destinations(&o.value) {
            let (Some(h), Some(s)) = (d["host"].as_str(), d["subset"].as_str()) else {
                continue;
            };
            if !s.is_empty() && hosts.contains(&h) {
                split.entry(h).or_default().insert(*i);
            }
        }
    }
    let mut out = vec![];
    for (i, o) in &vss {
        if strings(&o.value["spec"]["gateways"]).is_empty() {
            continue;
        }
        let mut seen = BTreeSet::new();
        for d in http_destinations(&o.value) {
            if d["subset"].as_str().is_some_and(|s| !s.is_empty()) {
                continue;
            }
            let Some(h) = d["host"].as_str() else {
                continue;
            };
            for other in split.get(h).into_iter().flatten() {
                if seen.insert((h, *other)) {
                    out.push((
                        *i,
                        format!(
                            "routes to {h} without a subset, so the subsets VirtualService {}/{} splits {h} by do not apply to requests through the gateway; route to the subsets here too",
                            set.ns(*other),
                            set.objects[*other].name()
                        ),
                    ));
                }
            }
        }
    }
    out
}
