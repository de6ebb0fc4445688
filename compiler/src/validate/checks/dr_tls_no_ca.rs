//! M032 (IST0128): a DestinationRule originates TLS (`tls.mode` SIMPLE or
//! MUTUAL) for its whole host without `caCertificates`: Istio's analyzer
//! warns that the server's identity is not verified. (Since Istio 1.20
//! proxies fall back to the system's CA bundle, but the warning stands:
//! name the CA to pin it.) A `credentialName` on a DestinationRule with a
//! `workloadSelector` carries the CA and is exempt.
//! Semantics of Istio's `destinationrule/ca-certificates.go`.

use super::Set;
use crate::manifest::Node;

/// Whether TLS settings originate TLS without a CA to verify the server.
pub(super) fn unverified(tls: &Node, has_selector: bool) -> Option<&str> {
    let mode = tls["mode"].as_str()?;
    if mode != "SIMPLE" && mode != "MUTUAL" {
        return None;
    }
    let ca = tls["caCertificates"]
        .as_str()
        .is_some_and(|c| !c.is_empty());
    let credential = tls["credentialName"]
        .as_str()
        .is_some_and(|c| !c.is_empty());
    (!(ca || credential && has_selector)).then_some(mode)
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "DestinationRule") {
        let spec = &o.value["spec"];
        let selector = spec["workloadSelector"].is_object();
        if let Some(mode) = unverified(&spec["trafficPolicy"]["tls"], selector) {
            out.push((
                i,
                format!(
                    "tls.mode {mode} for host {} sets no caCertificates to verify the server's identity; set caCertificates (or a credentialName holding ca.crt)",
                    spec["host"].as_str().unwrap_or("")
                ),
            ));
        }
    }
    out
}
