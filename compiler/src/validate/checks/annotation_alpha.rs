//! M058 (IST0136): an Istio annotation of an alpha-phase feature: it may be
//! incompletely supported or change without notice.
//! Semantics of Istio's `maturity.AlphaAnalyzer`, which `istioctl analyze`
//! leaves out of its run for noise: opt-in here too (`checks::OPT_IN`,
//! `validate --enable M058`). `sidecar.istio.io/status` is never reported,
//! and on a Pod
//! without an `istio-init` init container (every pod template, since
//! injection happens at admission) neither are the annotations istiod sets
//! there by default (interception mode, inbound ports, outbound IP ranges).
//! <https://github.com/istio/istio/blob/master/pkg/config/analysis/analyzers/maturity/maturity.go>

use super::annotations::{self, Status};
use super::Set;

const SET_BY_ISTIOD: [&str; 4] = [
    "sidecar.istio.io/interceptionMode",
    "traffic.sidecar.istio.io/includeInboundPorts",
    "traffic.sidecar.istio.io/excludeInboundPorts",
    "traffic.sidecar.istio.io/includeOutboundIPRanges",
];

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for p in annotations::places(set) {
        for (name, _, def) in p.istio() {
            if !def.is_some_and(|d| d.status == Status::Alpha) || name == "sidecar.istio.io/status"
            {
                continue;
            }
            if p.without_istio_init && SET_BY_ISTIOD.contains(&name) {
                continue;
            }
            out.push((
                p.object,
                format!(
                    "{}: annotation {name} belongs to an alpha-phase Istio feature and may be incompletely supported; check its status in Istio's annotation reference before relying on it",
                    p.path
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    #[test]
    fn alpha_annotations_but_not_istiod_defaults() {
        let got = check(
            super::run,
            "apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: '@daily'
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            sidecar.istio.io/proxyCPU: 100m
            sidecar.istio.io/inject: 'false'
            sidecar.istio.io/status: '{}'
            traffic.sidecar.istio.io/includeInboundPorts: '*'
        spec: {containers: [{name: r, image: x:1}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: injected
  namespace: shop
  annotations: {traffic.sidecar.istio.io/includeInboundPorts: '*'}
spec:
  initContainers: [{name: istio-init, image: proxyv2}]
  containers: [{name: a, image: x:1}]
",
        );
        assert_eq!(
            got,
            vec![
                (
                    "CronJob/shop/report".to_string(),
                    "spec.jobTemplate.spec.template.metadata.annotations: annotation sidecar.istio.io/proxyCPU belongs to an alpha-phase Istio feature and may be incompletely supported; check its status in Istio's annotation reference before relying on it".to_string()
                ),
                (
                    "Pod/shop/injected".to_string(),
                    "metadata.annotations: annotation traffic.sidecar.istio.io/includeInboundPorts belongs to an alpha-phase Istio feature and may be incompletely supported; check its status in Istio's annotation reference before relying on it".to_string()
                ),
            ]
        );
    }
}
