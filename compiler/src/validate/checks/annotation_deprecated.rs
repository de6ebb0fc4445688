//! M057 (IST0135): an Istio annotation the table marks deprecated (the
//! `sidecar.istio.io/inject` annotation, the `sidecar.istio.io/stats*`
//! family, ...): it may stop working in a later Istio.
//! Semantics of Istio's `annotations.K8sAnalyzer`: the `sidecar.istio.io/inject`
//! annotation beside the label of the same name is not reported (the label
//! decides; the annotation is kept for older Istio), wherever it stands.

use super::annotations::{self, ISTIO};
use super::Set;

const INJECT: &str = "sidecar.istio.io/inject";

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for p in annotations::places(set) {
        for (name, _, def) in p.istio() {
            if !def.is_some_and(|d| d.deprecated) {
                continue;
            }
            if name == INJECT && p.labels.contains_key(INJECT) {
                continue;
            }
            let instead = if name == INJECT {
                " in favor of the sidecar.istio.io/inject label; set the label (keep the annotation too only for Istio before 1.16)"
            } else {
                "; remove it or use what Istio's annotation reference names instead"
            };
            out.push((
                p.object,
                format!(
                    "{}: annotation {name} is deprecated in Istio {ISTIO}{instead}",
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
    fn inject_annotation_without_label() {
        let got = check(
            super::run,
            "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {annotations: {sidecar.istio.io/inject: 'true'}}
    spec: {containers: [{name: db, image: x:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {sidecar.istio.io/inject: 'true'}, annotations: {sidecar.istio.io/inject: 'true'}}
    spec: {containers: [{name: web, image: x:1}]}
",
        );
        assert_eq!(
            got,
            vec![(
                "StatefulSet/shop/db".to_string(),
                "spec.template.metadata.annotations: annotation sidecar.istio.io/inject is deprecated in Istio 1.30 in favor of the sidecar.istio.io/inject label; set the label (keep the annotation too only for Istio before 1.16)".to_string()
            )]
        );
    }
}
