//! M054 (IST0107): a known Istio annotation on a kind it does not apply to
//! (a Pod annotation on a Service or on a Deployment's own metadata, where
//! the injector never looks): Istio ignores it there.
//! Semantics of Istio's `annotations.K8sAnalyzer`: annotations for `Any`
//! kind are never misplaced; pod templates are read as the Pods they
//! become, and a Deployment's own metadata as a Deployment, as Istio reads
//! it in a cluster.

use super::annotations::{self, applies_to};
use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for p in annotations::places(set) {
        for (name, _, def) in p.istio() {
            let Some(def) = def else { continue };
            if applies_to(def, p.kind) {
                continue;
            }
            let kinds = def.resources.join(", ");
            let help = if p.kind == "Deployment" && def.resources.contains(&"Pod") {
                "; move it to spec.template.metadata.annotations".to_string()
            } else {
                format!("; move it to the {kinds}")
            };
            out.push((
                p.object,
                format!(
                    "{}: annotation {name} applies only to {kinds}, not a {}: Istio ignores it here{help}",
                    p.path, p.kind
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
    fn pod_annotation_on_deployment_metadata_and_service() {
        let got = check(
            super::run,
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {sidecar.istio.io/proxyCPU: 100m, galley.istio.io/analyze-suppress: IST0102}}
spec:
  template:
    metadata: {annotations: {sidecar.istio.io/proxyCPU: 100m}}
    spec: {containers: [{name: web, image: x:1}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, annotations: {networking.istio.io/exportTo: '.', sidecar.istio.io/rewriteAppHTTPProbers: 'true'}}
spec: {ports: [{port: 80}]}
",
        );
        assert_eq!(
            got,
            vec![
                (
                    "Deployment/shop/web".to_string(),
                    "metadata.annotations: annotation sidecar.istio.io/proxyCPU applies only to Pod, not a Deployment: Istio ignores it here; move it to spec.template.metadata.annotations".to_string()
                ),
                (
                    "Service/shop/web".to_string(),
                    "metadata.annotations: annotation sidecar.istio.io/rewriteAppHTTPProbers applies only to Pod, not a Service: Istio ignores it here; move it to the Pod".to_string()
                ),
            ]
        );
    }
}
