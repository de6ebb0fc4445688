//! M034 (IST0134): a ServiceEntry with a TCP port (or one without a
//! protocol) and no `addresses`: without an address the sidecar's listener
//! for the port matches all traffic to that port number, not just this
//! host's. Add `addresses`, or enable Istio's DNS capture with address
//! auto-allocation.
//! Semantics of Istio's `serviceentry/protocoladdresses.go`, assuming the
//! default mesh config (no `ISTIO_META_DNS_AUTO_ALLOCATE`); one finding per
//! such port, as Istio reports.

use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "ServiceEntry") {
        let spec = &o.value["spec"];
        // Addresses Istio allocated (`status.addresses`) count too.
        if spec["addresses"].as_array().is_some_and(|a| !a.is_empty())
            || o.value["status"]["addresses"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        {
            continue;
        }
        for p in spec["ports"].as_array().into_iter().flatten() {
            let proto = p["protocol"].as_str().unwrap_or("");
            if proto.is_empty() || proto.eq_ignore_ascii_case("TCP") {
                out.push((
                    i,
                    format!(
                        "port {} is TCP and the ServiceEntry has no addresses: its listener takes every connection to port {}; add addresses or enable DNS auto-allocation",
                        p["number"], p["number"]
                    ),
                ));
            }
        }
    }
    out
}
