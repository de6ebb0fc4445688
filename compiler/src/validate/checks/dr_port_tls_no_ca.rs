//! M033 (IST0129): as M032, for one port of a DestinationRule's host
//! (`trafficPolicy.portLevelSettings[].tls`).
//! Semantics of Istio's `destinationrule/ca-certificates.go`.

use super::dr_tls_no_ca::unverified;
use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "DestinationRule") {
        let spec = &o.value["spec"];
        let selector = spec["workloadSelector"].is_object();
        for p in spec["trafficPolicy"]["portLevelSettings"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(mode) = unverified(&p["tls"], selector) {
                out.push((
                    i,
                    format!(
                        "tls.mode {mode} for host {} port {} sets no caCertificates to verify the server's identity; set caCertificates (or a credentialName holding ca.crt)",
                        spec["host"].as_str().unwrap_or(""),
                        p["port"]["number"]
                    ),
                ));
            }
        }
    }
    out
}
