//! M031 (IST0144): a pod or one of its containers runs as UID 1337, the
//! user Istio's sidecar runs as: its traffic bypasses the sidecar's capture
//! (iptables exempt UID 1337), so it is neither encrypted nor policed.
//! Semantics of Istio's `deployment/pod.go` (the `istio-proxy` and
//! `istio-operator` containers may), for every pod template.

use super::index::pod_template;
use super::Set;

const SIDECAR_UID: u64 = 1337;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for w in &set.workloads {
        let o = &set.objects[w.object];
        let Some((meta, spec)) = pod_template(&o.value) else {
            continue;
        };
        if meta["labels"]["app"] == "istiod" || o.value["metadata"]["labels"]["app"] == "istiod" {
            continue;
        }
        if spec["securityContext"]["runAsUser"].as_u64() == Some(SIDECAR_UID) {
            out.push((
                w.object,
                "pod securityContext.runAsUser is 1337, the sidecar's UID: its traffic bypasses the sidecar; pick another UID".to_string(),
            ));
        }
        for k in ["containers"] {
            for c in spec[k].as_array().into_iter().flatten() {
                let name = c["name"].as_str().unwrap_or("");
                if name == "istio-proxy" || name == "istio-operator" {
                    continue;
                }
                if c["securityContext"]["runAsUser"].as_u64() == Some(SIDECAR_UID) {
                    out.push((
                        w.object,
                        format!("container {name} runs as UID 1337, the sidecar's UID: its traffic bypasses the sidecar; pick another UID"),
                    ));
                }
            }
        }
    }
    out
}
