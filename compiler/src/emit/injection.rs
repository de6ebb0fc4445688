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

use super::cond::{truthy, Cond, Term};
use super::values::{
    Str, Svc, Val, ISTIO_DATAPLANE, ISTIO_ENABLED, ISTIO_INJECTION, ISTIO_REVISION,
};
use crate::model::Dataplane;
use crate::model::{Model, Service, Version};
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

/// The mesh labels of a pod template (its selector labels aside).
///
/// - mesh off: `sidecar.istio.io/inject: "false"` and `istio.io/dataplane-mode:
///   none`, so a namespace labelled for injection or ambient does not pull
///   the pods into a mesh whose NetworkPolicies (istiod, HBONE) this
///   release did not render; `namespace` leaves both to the namespace's.
/// - sidecar: the injection label as the value says (none for `namespace`).
/// - ambient: `istio.io/dataplane-mode: ambient`, or `none` to opt out.
/// - the revision label whenever the mesh is on and a revision is set.
///
/// This is [`steps`] evaluated; the chart's template lines are the same
/// steps rendered ([`helm_label_lines`]).
pub fn decide(i: &Inputs) -> Map<String, Value> {
    let env = |t: &Term| match t {
        Term::Value(r) if r == ISTIO_ENABLED.untyped() => json!(i.mesh),
        Term::Value(r) if r == ISTIO_DATAPLANE.untyped() => json!(i.dataplane.as_str()),
        Term::Value(r) if r == ISTIO_REVISION.untyped() => json!(i.revision),
        Term::Var(INJECT_VAR) => json!(i.injection.as_str()),
        t => unreachable!("the injection steps read no {t:?}"),
    };
    let mut l = Map::new();
    eval(&steps(), &env, &mut l);
    l
}

/// [`decide`] over the chart's defaults (the handles' defaults, as the
/// values table has them), with the mesh on or off: what the Kustomize
/// tree bakes in.
pub fn decide_defaults(m: &Model, mesh: bool) -> Map<String, Value> {
    let env = |t: &Term| match t {
        Term::Value(r) if r == ISTIO_ENABLED.untyped() => json!(mesh),
        Term::Value(r) => r
            .default(m)
            .unwrap_or_else(|| panic!("{} has no release-wide default", r.path())),
        // `toString`, as the chart binds it.
        Term::Var(INJECT_VAR) => match ISTIO_INJECTION.default(m) {
            Some(Value::String(s)) => json!(s),
            Some(v) => json!(v.to_string()),
            None => unreachable!("istio.injection has a default"),
        },
        t => unreachable!("the injection steps read no {t:?}"),
    };
    let mut l = Map::new();
    eval(&steps(), &env, &mut l);
    l
}

/// The template variable holding the effective injection value.
const INJECT_VAR: &str = "$inject";

/// A label's value in a [`Step::Set`].
enum Text {
    /// A quoted string (`"false"`).
    Quoted(&'static str),
    /// A plain YAML string (`none`).
    Plain(&'static str),
    /// The effective injection value.
    Inject,
    /// Go's `ternary`: the first when the condition holds.
    Ternary(Cond, &'static str, &'static str),
}

/// The decision as a program over the values: one table, evaluated for
/// Kustomize and rendered for Helm.
enum Step {
    /// `if`, its steps, and the `else` steps (one `If` there renders as
    /// `else if`).
    If(Cond, Vec<Step>, Vec<Step>),
    /// The label, set to the value when it is non-empty (`with`).
    With(Val<Str>, &'static str),
    Set(&'static str, Text),
}

fn steps() -> Vec<Step> {
    let mesh = || Cond::is(&ISTIO_ENABLED);
    let inject = |s| Cond::Eq(Term::Var(INJECT_VAR), Term::Str(s));
    vec![
        Step::If(
            Cond::Ne(Term::Var(INJECT_VAR), Term::Str("namespace")),
            vec![Step::If(
                mesh().not(),
                vec![
                    Step::Set(INJECT, Text::Quoted("false")),
                    Step::Set(DATAPLANE, Text::Plain("none")),
                ],
                vec![Step::If(
                    Cond::eq(&ISTIO_DATAPLANE, "ambient"),
                    vec![Step::Set(
                        DATAPLANE,
                        Text::Ternary(inject("true"), "ambient", "none"),
                    )],
                    vec![Step::Set(INJECT, Text::Inject)],
                )],
            )],
            vec![],
        ),
        Step::If(mesh(), vec![Step::With(ISTIO_REVISION, REVISION)], vec![]),
    ]
}

fn eval(steps: &[Step], env: &dyn Fn(&Term) -> Value, l: &mut Map<String, Value>) {
    for s in steps {
        match s {
            Step::If(c, then, other) => eval(if c.eval(env) { then } else { other }, env, l),
            Step::With(v, key) => {
                let x = env(&Term::Value(v.untyped().clone()));
                if truthy(&x) {
                    l.insert(key.to_string(), x);
                }
            }
            Step::Set(key, text) => {
                let x = match text {
                    Text::Quoted(s) | Text::Plain(s) => json!(s),
                    Text::Inject => env(&Term::Var(INJECT_VAR)),
                    Text::Ternary(c, a, b) => json!(if c.eval(env) { a } else { b }),
                };
                l.insert(key.to_string(), x);
            }
        }
    }
}

fn render(steps: &[Step], lines: &mut Vec<String>) {
    for s in steps {
        match s {
            Step::If(c, then, other) => {
                lines.push(format!("{{{{- if {} }}}}", c.helm()));
                let mut then = then;
                let mut other = other;
                loop {
                    render(then, lines);
                    match other.as_slice() {
                        [] => break,
                        [Step::If(c, t, o)] => {
                            lines.push(format!("{{{{- else if {} }}}}", c.helm()));
                            then = t;
                            other = o;
                        }
                        rest => {
                            lines.push("{{- else }}".into());
                            render(rest, lines);
                            break;
                        }
                    }
                }
                lines.push("{{- end }}".into());
            }
            Step::With(v, key) => {
                lines.push(format!("{{{{- with {} }}}}", v.expr()));
                lines.push(format!("{key}: {{{{ . | quote }}}}"));
                lines.push("{{- end }}".into());
            }
            Step::Set(key, text) => lines.push(match text {
                Text::Quoted(s) => format!("{key}: {s:?}"),
                Text::Plain(s) => format!("{key}: {s}"),
                Text::Inject => format!("{key}: {{{{ {INJECT_VAR} | quote }}}}"),
                Text::Ternary(c, a, b) => {
                    format!("{key}: {{{{ ternary {a:?} {b:?} ({}) }}}}", c.helm())
                }
            }),
        }
    }
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
/// `istio.inject`, else `istio.injection`.
pub fn helm_injection(sv: &Svc) -> String {
    sv.dig_inject(&ISTIO_INJECTION)
}

/// [`helm_injection`] of the service's values bound to `var`.
pub fn dig_own(var: &str) -> String {
    Svc::dig_inject_in(var, &ISTIO_INJECTION)
}

/// [`decide`]'s steps as template lines, the injection value read from
/// `inject` (a service's [`helm_injection`], or `istio.injection` alone
/// for a service that does not set its own, in `hoist`).
pub fn helm_mesh_lines(inject: &str) -> Vec<String> {
    let mut lines = vec![format!("{{{{- {INJECT_VAR} := {inject} | toString }}}}")];
    render(&steps(), &mut lines);
    lines
}

/// Template lines for the pod labels after the selector labels: the
/// canonical service, then [`decide`]'s steps over the values.
pub fn helm_label_lines(s: &Service, version: Option<&Version>, sv: &Svc) -> Vec<String> {
    let mut lines = helm_canonical_lines(s, version);
    lines.extend(helm_mesh_lines(&helm_injection(sv)));
    lines
}

/// The canonical-service label lines of a pod template.
pub fn helm_canonical_lines(s: &Service, version: Option<&Version>) -> Vec<String> {
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
    ]
}

/// The Kustomize istio component's patch of pod labels: the mesh-on
/// answer over the base's mesh-off one (`null` deletes a label in a
/// strategic-merge patch).
pub fn kustomize_patch_labels(m: &Model) -> Map<String, Value> {
    let on = decide_defaults(m, true);
    let off = decide_defaults(m, false);
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
    fn defaults_are_the_tables() {
        for text in [
            include_str!("../../../policies/orderflow.yaml"),
            include_str!("../../../policies/evalhub.yaml"),
        ] {
            let m = crate::compile_model(text, None).expect("the example compiles");
            for mesh in [false, true] {
                let by_hand = decide(&Inputs {
                    mesh,
                    dataplane: m.mesh.dataplane,
                    injection: Injection::On,
                    revision: m.mesh.revision.as_deref().unwrap_or(""),
                });
                assert_eq!(decide_defaults(&m, mesh), by_hand, "mesh {mesh}");
            }
        }
        let m = crate::compile_model(include_str!("../../../policies/orderflow.yaml"), None)
            .expect("compiles");
        assert_eq!(
            Value::Object(decide_defaults(&m, true)),
            json!({INJECT: "true", REVISION: "1-24-2"})
        );
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
