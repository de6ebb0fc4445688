//! Whether a pod joins the mesh, and as which service: the injection and
//! canonical-service labels of every pod template.
//!
//! Invariant: [`decide`] is the one place this decision is made. The
//! Kustomize tree takes its output (the base is the mesh-off answer, the
//! istio component patches to the mesh-on answer), and the chart's template
//! lines ([`helm_label_lines`]) implement the same table at install time;
//! `tests/dayone.rs` renders the chart for every input and compares each
//! pod with `decide`, so the two cannot drift.
//!
//! Istio's injection precedence: a pod label `sidecar.istio.io/inject`
//! wins over the namespace's `istio-injection` label, and `"false"` opts a
//! pod out of a namespace labelled for injection; the annotation of the same
//! name is deprecated (Istio 1.15) and not written.
//! <https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/#controlling-the-injection-policy>
//! Canonical service: telemetry and Kiali group workloads by
//! `service.istio.io/canonical-name` and `-revision`; without them every pod
//! of the release shares `app.kubernetes.io/name` and shows as one service.
//! <https://istio.io/latest/docs/reference/config/labels/#ServiceCanonicalName>

use crate::model::{Model, Service, Version};
use crate::policy::Dataplane;
use serde_json::{json, Map, Value};

pub const INJECT: &str = "sidecar.istio.io/inject";
pub const DATAPLANE: &str = "istio.io/dataplane-mode";
pub const REVISION: &str = "istio.io/rev";
pub const CANONICAL_NAME: &str = "service.istio.io/canonical-name";
pub const CANONICAL_REVISION: &str = "service.istio.io/canonical-revision";

/// `istio.injection` and `services.<n>.istio.inject`: `true`, `false`, or
/// `namespace` (write no injection label: the namespace's label decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    On,
    Off,
    Namespace,
}

impl Injection {
    /// The chart's reading of the value (`toString`: booleans and strings alike).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "true" => Some(Injection::On),
            "false" => Some(Injection::Off),
            "namespace" => Some(Injection::Namespace),
            _ => None,
        }
    }

    pub const ALL: [Injection; 3] = [Injection::On, Injection::Off, Injection::Namespace];

    pub fn as_str(self) -> &'static str {
        match self {
            Injection::On => "true",
            Injection::Off => "false",
            Injection::Namespace => "namespace",
        }
    }
}

/// The install-time inputs of the decision.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// `istio.enabled`.
    pub mesh: bool,
    /// `istio.dataplane`.
    pub dataplane: Dataplane,
    /// `services.<n>.istio.inject`, else `istio.injection`.
    pub injection: Injection,
    /// `istio.revision` (empty: the default revision).
    pub revision: &'a str,
}

impl<'a> Inputs<'a> {
    /// The chart's defaults for the model, with the mesh on or off.
    pub fn defaults(m: &'a Model, mesh: bool) -> Self {
        Inputs {
            mesh,
            dataplane: m.mesh.dataplane,
            injection: Injection::On,
            revision: m.mesh.revision.as_deref().unwrap_or(""),
        }
    }
}

/// The mesh labels of a pod template (its selector labels aside).
///
/// - mesh off: `sidecar.istio.io/inject: "false"` and `istio.io/dataplane-mode:
///   none`, so a namespace labelled for injection or ambient does not pull
///   the pods into a mesh whose NetworkPolicies (istiod, HBONE) this
///   release did not render; `namespace` leaves both to the namespace.
/// - sidecar: the injection label as the value says (none for `namespace`).
/// - ambient: `istio.io/dataplane-mode: ambient`, or `none` to opt out.
/// - the revision label whenever the mesh is on and a revision is set.
pub fn decide(i: &Inputs) -> Map<String, Value> {
    let mut l = Map::new();
    let off = |l: &mut Map<String, Value>| {
        l.insert(INJECT.into(), json!("false"));
        l.insert(DATAPLANE.into(), json!("none"));
    };
    match (i.mesh, i.dataplane, i.injection) {
        (_, _, Injection::Namespace) => {}
        (false, _, _) => off(&mut l),
        (true, Dataplane::Sidecar, inj) => {
            l.insert(INJECT.into(), json!(inj.as_str()));
        }
        (true, Dataplane::Ambient, Injection::On) => {
            l.insert(DATAPLANE.into(), json!("ambient"));
        }
        (true, Dataplane::Ambient, _) => {
            l.insert(DATAPLANE.into(), json!("none"));
        }
    }
    if i.mesh && !i.revision.is_empty() {
        l.insert(REVISION.into(), json!(i.revision));
    }
    l
}

/// The canonical service of a workload: the Service's object name, and the
/// version's name or the chart's appVersion.
pub fn canonical(m: &Model, s: &Service, version: Option<&Version>) -> Map<String, Value> {
    let mut l = Map::new();
    l.insert(
        CANONICAL_NAME.into(),
        json!(match &s.attach {
            Some(a) => a.service.clone(),
            None => format!("{}-{}", m.name, s.name),
        }),
    );
    l.insert(
        CANONICAL_REVISION.into(),
        json!(version.map_or(m.version.as_str(), |v| v.name.as_str())),
    );
    l
}

/// The effective injection value of a service in the chart: its own
/// `istio.inject`, else `istio.injection`, as a string.
pub fn helm_injection(sv: &str) -> String {
    format!(
        "{{{{- $inject := dig \"istio\" \"inject\" $.Values.istio.injection {sv} | toString }}}}"
    )
}

/// Template lines for the pod labels after the selector labels: the
/// canonical service, then [`decide`]'s table over the values.
pub fn helm_label_lines(s: &Service, version: Option<&Version>, sv: &str) -> Vec<String> {
    let revision = match version {
        Some(v) => format!("\"{}\"", v.name),
        None => "{{ $.Chart.AppVersion | quote }}".to_string(),
    };
    // An attached service's workload is found by the vendor's Service name.
    let name = match &s.attach {
        Some(a) => a.service.clone(),
        None => format!("{{{{ $fullname }}}}-{}", s.name),
    };
    vec![
        format!("{CANONICAL_NAME}: \"{name}\""),
        format!("{CANONICAL_REVISION}: {revision}"),
        helm_injection(sv),
        "{{- if ne $inject \"namespace\" }}".into(),
        "{{- if not $.Values.istio.enabled }}".into(),
        format!("{INJECT}: \"false\""),
        format!("{DATAPLANE}: none"),
        "{{- else if eq $.Values.istio.dataplane \"ambient\" }}".into(),
        format!("{DATAPLANE}: {{{{ ternary \"ambient\" \"none\" (eq $inject \"true\") }}}}"),
        "{{- else }}".into(),
        format!("{INJECT}: {{{{ $inject | quote }}}}"),
        "{{- end }}".into(),
        "{{- end }}".into(),
        "{{- if $.Values.istio.enabled }}".into(),
        "{{- with $.Values.istio.revision }}".into(),
        format!("{REVISION}: {{{{ . | quote }}}}"),
        "{{- end }}".into(),
        "{{- end }}".into(),
    ]
}

/// The Kustomize istio component's patch of pod labels: the mesh-on
/// answer over the base's mesh-off one (`null` deletes a label in a
/// strategic-merge patch).
pub fn kustomize_patch_labels(m: &Model) -> Map<String, Value> {
    let on = decide(&Inputs::defaults(m, true));
    let off = decide(&Inputs::defaults(m, false));
    let mut patch = on.clone();
    for k in off.keys() {
        if !on.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(mesh: bool, dataplane: Dataplane, injection: Injection) -> Value {
        Value::Object(decide(&Inputs {
            mesh,
            dataplane,
            injection,
            revision: "",
        }))
    }

    #[test]
    fn mesh_off_opts_out_unless_left_to_the_namespace() {
        for dp in [Dataplane::Sidecar, Dataplane::Ambient] {
            for inj in [Injection::On, Injection::Off] {
                assert_eq!(
                    labels(false, dp, inj),
                    json!({INJECT: "false", DATAPLANE: "none"})
                );
            }
            assert_eq!(labels(false, dp, Injection::Namespace), json!({}));
        }
    }

    #[test]
    fn mesh_on_follows_the_value() {
        let s = Dataplane::Sidecar;
        assert_eq!(labels(true, s, Injection::On), json!({INJECT: "true"}));
        assert_eq!(labels(true, s, Injection::Off), json!({INJECT: "false"}));
        assert_eq!(labels(true, s, Injection::Namespace), json!({}));
        let a = Dataplane::Ambient;
        assert_eq!(
            labels(true, a, Injection::On),
            json!({DATAPLANE: "ambient"})
        );
        assert_eq!(labels(true, a, Injection::Off), json!({DATAPLANE: "none"}));
        assert_eq!(labels(true, a, Injection::Namespace), json!({}));
    }

    #[test]
    fn revision_only_with_the_mesh() {
        let i = |mesh| Inputs {
            mesh,
            dataplane: Dataplane::Sidecar,
            injection: Injection::On,
            revision: "canary",
        };
        assert_eq!(
            Value::Object(decide(&i(true))),
            json!({INJECT: "true", REVISION: "canary"})
        );
        assert_eq!(
            Value::Object(decide(&i(false))),
            json!({INJECT: "false", DATAPLANE: "none"})
        );
    }
}
