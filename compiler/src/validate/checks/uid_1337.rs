//! M031 (IST0144): a pod or one of its containers runs as UID 1337, the
//! user Istio's sidecar runs as: its traffic bypasses the sidecar's capture
//! (iptables exempt UID 1337), so it is neither encrypted nor policed.
//! Semantics of Istio's `deployment/pod.go` (the `istio-proxy` and
//! `istio-operator` containers may, and the control plane's objects are
//! skipped), for every pod template; one finding per workload.

use super::analysis::pod_template;
use super::Set;

const SIDECAR_UID: u64 = 1337;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for w in &set.workloads {
        let o = &set.objects[w.object];
        let Some((_, spec)) = pod_template(&o.value) else {
            continue;
        };
        // Istio's `util.IsIstioControlPlane`.
        let labels = &o.value["metadata"]["labels"];
        if labels.get("istio").is_some() || labels["release"] == "istio" {
            continue;
        }
        // One finding per workload, naming every place (Istio reports the
        // object once).
        let mut places = vec![];
        if spec["securityContext"]["runAsUser"].as_u64() == Some(SIDECAR_UID) {
            places.push("the pod".to_string());
        }
        for c in spec["containers"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("");
            if name == "istio-proxy" || name == "istio-operator" {
                continue;
            }
            if c["securityContext"]["runAsUser"].as_u64() == Some(SIDECAR_UID) {
                places.push(format!("container {name}"));
            }
        }
        if !places.is_empty() {
            out.push((
                w.object,
                format!(
                    "runAsUser 1337, the sidecar's UID, set for {}: its traffic bypasses the sidecar; pick another UID",
                    places.join(" and ")
                ),
            ));
        }
    }
    out
}
