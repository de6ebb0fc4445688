//! What every generated pod carries whichever emitter builds it (a
//! service's workload, a `helm test` probe, an attached vendor pod): the
//! version label, the security contexts, the labels (selector, canonical
//! service, injection) and the annotation lines (scrape annotations, the
//! pinned sidecar image, `istio.annotations`).
//!
//! Invariant: one definition per pod fact, read by `workload`, `pod`,
//! `probes`, `routing` and `package::attach` alike; the mesh decisions are
//! `Cond`s (`injection`), rendered for Helm and evaluated for Kustomize.

use super::cond::Cond;
use super::values::{
    istio_proxy_image, ISTIO_ANNOTATIONS, ISTIO_ENABLED, ISTIO_PROXY_IMAGE_REPOSITORY,
};
use super::{injection, svc_values, Names, Out};
use crate::model::{Model, Service, Version};
use serde_json::{json, Map, Value};

pub const VERSION_LABEL: &str = "version";

pub fn pod_security_context(run_as_user: i64) -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": run_as_user,
        "runAsGroup": run_as_user,
        "fsGroup": run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

pub fn container_security_context(read_only_root_filesystem: bool) -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": read_only_root_filesystem,
        "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]},
    })
}

/// Selector labels, the canonical service and the injection labels
/// (`injection::decide`; Kustomize's base takes its mesh-off answer).
pub fn pod_labels(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    version: Option<&Version>,
) -> Value {
    let mut lines = vec![
        "{{- $selector | nindent {0} }}".to_string(),
        format!("app.kubernetes.io/component: \"{}\"", s.name),
    ];
    lines.extend(injection::helm_label_lines(s, version, &svc_values(s)));
    labels_from(m, n, out, s, version, lines)
}

/// The pod labels from these template lines (Helm), or the selector,
/// canonical and mesh-off injection labels (plain).
pub fn labels_from(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    version: Option<&Version>,
    lines: Vec<String>,
) -> Value {
    match out.lines(lines) {
        Some(mk) => json!({ (mk): null }),
        None => {
            let mut l = n.selector_map(Some(&s.name));
            l.extend(injection::canonical(m, s, version));
            l.extend(injection::decide_defaults(m, false));
            Value::Object(l)
        }
    }
}

/// Pods run sidecars: the mesh on, not ambient.
fn sidecar_mesh() -> Cond {
    Cond::is(&ISTIO_ENABLED).and(super::ambient::sidecar())
}

/// When pods pin the sidecar's image: sidecars, and a repository set
/// (the chart's annotation lines and the Kustomize patch alike).
pub fn proxy_image_cond() -> Cond {
    sidecar_mesh().and(Cond::set(&ISTIO_PROXY_IMAGE_REPOSITORY))
}

/// Pins the sidecar's image per pod.
/// <https://istio.io/latest/docs/reference/config/annotations/#SidecarProxyImage>
pub const PROXY_IMAGE: &str = "sidecar.istio.io/proxyImage";

/// The scrape annotations, the pod's own annotations, then with Istio the pinned proxy image and
/// `istio.annotations`; the pod's own win. No injection annotation: the
/// label decides (see `injection`), and an annotation disagreeing with it
/// misled readers of the manifests.
/// `own` is the pod's own annotations (`Svc::own_or_default`, or the
/// chart-wide `serviceDefaults.podAnnotations` in `hoist`).
pub fn pod_annotation_lines(app: &str, own: &str, metrics: &Map<String, Value>) -> Vec<String> {
    let mut lines = vec!["{{- $annotations := dict }}".to_string()];
    // Scrape annotations (`metrics`): Istio rewrites them to its merged
    // metrics port on injected pods.
    for (k, v) in metrics {
        lines.push(format!(
            "{{{{- $_ := set $annotations {k:?} {} }}}}",
            serde_json::to_string(v).expect("string")
        ));
    }
    lines.extend::<Vec<String>>(vec![
        format!("{{{{- if {} }}}}", sidecar_mesh().helm()),
        format!("{{{{- if {} }}}}", Cond::set(&ISTIO_PROXY_IMAGE_REPOSITORY).helm()),
        format!("{{{{- $_ := set $annotations \"{PROXY_IMAGE}\" (include \"{app}.image\" (dict \"image\" {} \"ctx\" $)) }}}}", istio_proxy_image().expr()),
        "{{- end }}".into(),
        "{{- end }}".into(),
        format!("{{{{- if {} }}}}", Cond::is(&ISTIO_ENABLED).helm()),
        format!("{{{{- $annotations = merge $annotations ({} | default dict) }}}}", ISTIO_ANNOTATIONS.expr()),
        "{{- end }}".into(),
        format!("{{{{- $annotations = merge (deepCopy ({own} | default dict)) $annotations }}}}"),
        "{{- with $annotations }}".into(),
        "annotations:".into(),
        "  {{- toYaml . | nindent {2} }}".into(),
        "{{- end }}".into(),
    ]);
    lines
}
