//! M037 (IST0166): an AuthorizationPolicy, RequestAuthentication,
//! Telemetry or WasmPlugin uses `selector` to pick the pods of a Gateway
//! API Gateway (labelled `gateway.networking.k8s.io/gateway-name`): Istio
//! ignores selectors on those pods; use `targetRefs` naming the Gateway.
//! Semantics of Istio's `k8sgateway/workloadselector.go`; the Gateway's
//! pods are the pod templates carrying that label, or the Gateway API
//! Gateways in the set (whose pods Istio labels so).

use super::{string_map, Set};

const KINDS: [(&str, &str); 4] = [
    ("security.istio.io", "AuthorizationPolicy"),
    ("security.istio.io", "RequestAuthentication"),
    ("telemetry.istio.io", "Telemetry"),
    ("extensions.istio.io", "WasmPlugin"),
];

pub fn run(set: &Set) -> Vec<(usize, String)> {
    const LABEL: &str = "gateway.networking.k8s.io/gateway-name";
    let mut out = vec![];
    for (group, kind) in KINDS {
        for (i, o) in set.of_kind(group, kind) {
            let spec = &o.value["spec"];
            if spec.get("targetRef").is_some() || spec.get("targetRefs").is_some() {
                continue;
            }
            let Some(sel) = spec["selector"]["matchLabels"].as_object() else {
                continue;
            };
            let sel = string_map(&crate::manifest::Node::from(sel.clone()));
            for w in set.selected_indexes(set.ns(i), &sel) {
                if let Some(g) = set.workloads[w].labels.get(LABEL) {
                    out.push((
                        i,
                        format!(
                            "selector picks the pods of Gateway {g}, where Istio ignores selectors; use targetRefs: [{{kind: Gateway, group: gateway.networking.k8s.io, name: {g}}}]"
                        ),
                    ));
                }
            }
        }
    }
    out
}
