//! M030 (IST0150): an ExternalName Service with a port whose name leaves
//! Istio guessing the protocol, or named `tcp`: the sidecar may not forward
//! TCP traffic to it (Istio builds no listener for an ExternalName TCP port
//! without an address). Name the port `<protocol>[-suffix]` with an L7
//! protocol, or set `appProtocol`.
//! Semantics of Istio's `service/portname.go` (M008 covers other Services).

use super::{protocol, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for s in &set.services {
        let o = &set.objects[s.object];
        if o.value["spec"]["type"] != "ExternalName"
            || super::analysis::istio_managed_service(o, &s.namespace)
        {
            continue;
        }
        for p in s.ports.iter() {
            if protocol(&p.name, p.app_protocol.as_deref()).is_none() || &*p.name == "tcp" {
                out.push((
                    s.object,
                    format!(
                        "ExternalName port {} is named {:?}: the sidecar may not forward it; name it <protocol>[-suffix] (http, https, tls...) or set appProtocol",
                        p.port, p.name
                    ),
                ));
            }
        }
    }
    out
}
