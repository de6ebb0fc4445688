//! Whether Istio's injector gives a pod a sidecar, read as Istio reads it.
//!
//! Invariant: manifests only (pod template labels and annotations, and the
//! labels of a Namespace object when the set holds one); no knowledge of
//! how meshpack writes them.
//!
//! Istio's precedence
//! (<https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/#controlling-the-injection-policy>):
//! a namespace labelled `istio-injection=disabled` is never injected; else
//! the pod label `sidecar.istio.io/inject` decides when present; else the
//! deprecated annotation of the same name can opt a pod out of an enabled
//! namespace (the default webhooks match pods by label or namespace only,
//! so an annotation alone never opts a pod in); else a revision label
//! (`istio.io/rev`) on the pod or the namespace, or `istio-injection=enabled`
//! on the namespace, injects.

use std::collections::BTreeMap;

pub(crate) const INJECT: &str = "sidecar.istio.io/inject";
const NS_INJECTION: &str = "istio-injection";
const REVISION: &str = "istio.io/rev";

/// Whether a pod with these labels and annotations, in a namespace with
/// `ns_labels` (empty when unknown), gets a sidecar.
pub(crate) fn injected(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    ns_labels: &BTreeMap<String, String>,
) -> bool {
    let ns_injection = ns_labels.get(NS_INJECTION).map(String::as_str);
    if ns_injection == Some("disabled") {
        return false;
    }
    match labels.get(INJECT).map(String::as_str) {
        Some("true") => return true,
        Some("false") => return false,
        _ => {}
    }
    let ns_enabled = ns_injection == Some("enabled") || ns_labels.contains_key(REVISION);
    let pod_revision = labels.contains_key(REVISION);
    if annotations.get(INJECT).map(String::as_str) == Some("false") {
        return false;
    }
    ns_enabled || pod_revision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_wins_over_annotation() {
        let none = m(&[]);
        assert!(!injected(
            &m(&[(INJECT, "false")]),
            &m(&[(INJECT, "true")]),
            &none
        ));
        assert!(injected(
            &m(&[(INJECT, "true")]),
            &m(&[(INJECT, "false")]),
            &none
        ));
    }

    #[test]
    fn annotation_alone_never_opts_in() {
        assert!(!injected(&m(&[]), &m(&[(INJECT, "true")]), &m(&[])));
    }

    #[test]
    fn namespace_label_decides_without_a_pod_label() {
        let enabled = m(&[(NS_INJECTION, "enabled")]);
        assert!(injected(&m(&[]), &m(&[]), &enabled));
        assert!(!injected(&m(&[]), &m(&[(INJECT, "false")]), &enabled));
        assert!(!injected(&m(&[(INJECT, "false")]), &m(&[]), &enabled));
        let disabled = m(&[(NS_INJECTION, "disabled")]);
        assert!(!injected(&m(&[(INJECT, "true")]), &m(&[]), &disabled));
        assert!(injected(&m(&[]), &m(&[]), &m(&[(REVISION, "canary")])));
    }

    #[test]
    fn revision_label_injects() {
        assert!(injected(&m(&[(REVISION, "canary")]), &m(&[]), &m(&[])));
        assert!(!injected(
            &m(&[(REVISION, "canary"), (INJECT, "false")]),
            &m(&[]),
            &m(&[])
        ));
    }
}
