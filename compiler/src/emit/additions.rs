//! The parts of the install-time additions (issue #19) that live inside
//! objects other emitters build: the release-wide mTLS mode
//! (`istio.mtls.mode`) in the PeerAuthentications (and the client side of
//! a policy-wide DISABLE in the DestinationRules), the extraEgress hosts in
//! each service's Sidecar, and OpenShift's security context in the pods. The additions' own objects are the
//! chart's `templates/additions.yaml` (`package::additions`).
//!
//! Invariant: in plain mode (the Kustomize tree) nothing changes: the
//! defaults (`""`, `[]`) mean the policy's mode and no extra host, and the
//! Kustomize tree's additions are the customer's own files
//! (docs/additions.md).

use super::cond::Cond;
use super::values::{EXTRA_EGRESS, ISTIO_MTLS_MODE};
use super::{Fragment, Out};
use crate::model::Model;
use crate::model::MtlsMode;
use serde_json::{json, Value};

/// The mode of a PeerAuthentication that follows the release's: the
/// policy's, unless the customer sets `istio.mtls.mode`. Per-service and
/// per-port modes the policy sets never call this, so they are kept.
pub fn release_mtls(out: &mut Out, policy: MtlsMode) -> Value {
    out.scalar(
        &format!(
            "{} | default \"{}\" | quote",
            ISTIO_MTLS_MODE.expr(),
            policy.as_str()
        ),
        json!(policy.as_str()),
    )
}

/// The client TLS mode of a DestinationRule to a service that follows a
/// release-wide `DISABLE`: mutual TLS once `istio.mtls.mode` turns it on
/// (both STRICT and PERMISSIVE servers accept Istio's mTLS).
/// The Kustomize tree takes the chart's default (`DISABLE`).
pub fn client_tls(out: &mut Out, m: &Model) -> Value {
    let mutual = Cond::ne(&ISTIO_MTLS_MODE, "");
    let plain = if mutual.eval_defaults(m, &[]) {
        "ISTIO_MUTUAL"
    } else {
        "DISABLE"
    };
    out.scalar(
        &format!(
            "ternary \"ISTIO_MUTUAL\" \"DISABLE\" ({}) | quote",
            mutual.helm()
        ),
        json!(plain),
    )
}

/// The template line binding `$openshift` once per workload file (the
/// chart's `<app>.openshift` helper in `_additions.tpl`: the value, or
/// with `auto` the `security.openshift.io/v1` API).
pub fn openshift_binding(app: &str) -> String {
    format!("{{{{- $openshift := eq (include \"{app}.openshift\" $) \"true\" }}}}")
}

/// A security context (a Go template expression) as the platform accepts
/// it: on OpenShift (`$openshift`, see [`openshift_binding`]) without UID,
/// GID and fsGroup, which the restricted-v2 SCC assigns from the
/// namespace's range and refuses when fixed outside it; everything else
/// (runAsNonRoot, seccompProfile, allowPrivilegeEscalation, capabilities)
/// stays.
/// <https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/authentication_and_authorization/managing-pod-security-policies>
pub fn platform(expr: &str) -> String {
    format!("(ternary (omit {expr} \"runAsUser\" \"runAsGroup\" \"fsGroup\") {expr} $openshift)")
}

/// Append the extraEgress hosts naming `service` to the egress hosts of a
/// Sidecar `spec` built by `identity::set_sidecar_egress` (whose hosts are
/// a `Lines` fragment under a marker key).
pub fn sidecar_hosts(out: &mut Out, spec: &Value, service: &str) {
    let Some(marker) = spec
        .as_object()
        .and_then(|o| o.keys().find(|k| k.starts_with("mpx")))
    else {
        return; // plain mode: no extra hosts by default
    };
    let index: usize = marker
        .trim_start_matches("mpx")
        .trim_end_matches('x')
        .parse()
        .expect("a marker");
    let Some(Fragment::Lines(lines)) = out.fragments.get_mut(index) else {
        panic!("the Sidecar's egress is a Lines fragment");
    };
    let svc = serde_json::to_string(service).expect("json");
    lines.extend([
        format!("{{{{- range index {EXTRA_EGRESS_HOSTS} {svc} }}}}"),
        "      - {{ . }}".to_string(),
        "{{- end }}".to_string(),
    ]);
}

/// The variable a template file binds, when its Sidecars read it, to the
/// extraEgress hosts of each service (a dict: service name to the quoted
/// hosts, in extraEgress order); see [`extra_egress_binding`].
pub const EXTRA_EGRESS_HOSTS: &str = "$extraEgressHosts";

/// The line binding [`EXTRA_EGRESS_HOSTS`] once per template file, which
/// `package::helm` adds to a file whose objects read it. A Sidecar then
/// ranges over its own entry (`index` of a service no entry names is
/// nil, which `range` skips), instead of ranging over every entry with a
/// `has` test: Helm parses every template on every render, and those five
/// actions per Sidecar were about 5% of a large chart's actions. The
/// values schema makes `services` a list of distinct service names, so
/// each host comes once per service, as the `has` test gave it.
pub fn extra_egress_binding(app: &str) -> String {
    format!(
        "{{{{- {v} := dict }}}}{{{{- range {list} }}}}{{{{- $h := printf \"./%s\" (include \"{app}.extraEgressHost\" .) | quote }}}}{{{{- range .services }}}}{{{{- $_ := set {v} . (append (index {v} . | default list) $h) }}}}{{{{- end }}}}{{{{- end }}}}",
        v = EXTRA_EGRESS_HOSTS,
        list = EXTRA_EGRESS.expr(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::Mode;

    #[test]
    fn mtls_override_keeps_the_policy_default() {
        let mut o = Out::new(Mode::Helm);
        release_mtls(&mut o, MtlsMode::Strict);
        assert_eq!(
            o.fragments[0],
            Fragment::Inline(
                "{{ $.Values.istio.mtls.mode | default \"STRICT\" | quote }}".to_string()
            )
        );
        let mut p = Out::new(Mode::Plain);
        assert_eq!(
            release_mtls(&mut p, MtlsMode::Permissive),
            json!("PERMISSIVE")
        );
    }

    #[test]
    fn sidecar_hosts_extend_the_egress_lines() {
        let mut o = Out::new(Mode::Helm);
        let marker = o.lines(vec!["egress:".into()]).unwrap();
        let spec = json!({ marker: null });
        sidecar_hosts(&mut o, &spec, "web");
        let Fragment::Lines(lines) = &o.fragments[0] else {
            panic!("lines")
        };
        assert_eq!(
            lines[1..],
            [
                "{{- range index $extraEgressHosts \"web\" }}",
                "      - {{ . }}",
                "{{- end }}",
            ]
        );
        assert_eq!(
            extra_egress_binding("shop"),
            "{{- $extraEgressHosts := dict }}{{- range $.Values.extraEgress }}\
             {{- $h := printf \"./%s\" (include \"shop.extraEgressHost\" .) | quote }}\
             {{- range .services }}\
             {{- $_ := set $extraEgressHosts . (append (index $extraEgressHosts . | default list) $h) }}\
             {{- end }}{{- end }}"
        );
    }
}
