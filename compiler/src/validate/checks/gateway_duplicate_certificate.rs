//! M015 (IST0138): Gateways whose workloads overlap serve the same
//! certificate (`credentialName`, or the same file pair): browsers reuse an
//! HTTP/2 connection for every host of the certificate and get 404s from
//! the gateway that does not serve the host.
//! Semantics of Istio's `gateway/certificate.go`: the other Gateway's
//! selector must include every label of this one's (an empty selector
//! includes all), in any namespace.

use super::{string_map, Set};
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn certificates(o: &super::Object) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in o.value["spec"]["servers"].as_array().into_iter().flatten() {
        let tls = &s["tls"];
        if let Some(c) = tls["credentialName"].as_str().filter(|c| !c.is_empty()) {
            out.insert(format!("credentialName {c}"));
        } else if let (Some(c), Some(k)) = (
            tls["serverCertificate"].as_str().filter(|c| !c.is_empty()),
            tls["privateKey"].as_str().filter(|k| !k.is_empty()),
        ) {
            out.insert(format!("serverCertificate {c}"));
            let _ = k;
        }
    }
    out
}

fn includes(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    a.iter().all(|(k, v)| b.get(k) == Some(v))
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut by_cert: HashMap<String, Vec<usize>> = HashMap::new();
    let mut gateways = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "Gateway") {
        let certs = certificates(o);
        for c in &certs {
            by_cert.entry(c.clone()).or_default().push(i);
        }
        gateways.push((i, string_map(&o.value["spec"]["selector"]), certs));
    }
    let selectors: HashMap<usize, &BTreeMap<String, String>> =
        gateways.iter().map(|(i, s, _)| (*i, s)).collect();
    let mut out = vec![];
    for (i, sel, certs) in &gateways {
        for c in certs {
            let others: BTreeSet<usize> = by_cert[c]
                .iter()
                .copied()
                .filter(|g| g != i && includes(sel, selectors[g]))
                .collect();
            for g in others {
                out.push((
                    *i,
                    format!(
                        "{c} is also served by gateway {}/{} on the same workloads; clients reusing HTTP/2 connections get 404s: use one certificate per Gateway or merge the Gateways",
                        set.ns(g),
                        set.objects[g].name()
                    ),
                ));
            }
        }
    }
    out
}
