//! Conditions over the chart's values, written once and read two ways: as
//! Helm template text (the chart decides at install time) and evaluated
//! against values (the Kustomize tree, which has no install-time
//! expressions, takes the defaults' answer).
//!
//! Invariant: a switch that Helm tests and Kustomize bakes in is one
//! [`Cond`]; `emit::Group::cond`, `package::helm::condition`, the
//! Kustomize overlays and `emit::injection`'s pod labels derive from it.
//! Evaluation follows Go templates: `and`/`or`/`not` take truthiness
//! (false, 0, "", empty lists and maps and nil are false) and `eq`/`ne`
//! compare values.
//! <https://pkg.go.dev/text/template#hdr-Functions>

use super::values::{Bool, Kind, Ref, Root, Val};
use crate::model::Model;
use serde_json::Value;

/// What a condition compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A chart value.
    Value(Ref),
    /// A template variable bound before the condition (`$inject`).
    Var(&'static str),
    /// A string literal.
    Str(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// The term is truthy.
    Is(Term),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Eq(Term, Term),
    Ne(Term, Term),
}

impl Cond {
    /// A boolean value is true.
    pub fn is(v: &Val<Bool>) -> Cond {
        Cond::Is(Term::Value(v.untyped().clone()))
    }

    /// Any value is non-empty (`{{ if $.Values.istio.revision }}`).
    pub fn set<K: Kind>(v: &Val<K>) -> Cond {
        Cond::Is(Term::Value(v.untyped().clone()))
    }

    /// A value equals a string.
    pub fn eq<K: Kind>(v: &Val<K>, s: &'static str) -> Cond {
        Cond::Eq(Term::Value(v.untyped().clone()), Term::Str(s))
    }

    /// A value differs from a string.
    pub fn ne<K: Kind>(v: &Val<K>, s: &'static str) -> Cond {
        Cond::Ne(Term::Value(v.untyped().clone()), Term::Str(s))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Cond {
        Cond::Not(Box::new(self))
    }

    pub fn and(self, other: Cond) -> Cond {
        match self {
            Cond::And(mut v) => {
                v.push(other);
                Cond::And(v)
            }
            c => Cond::And(vec![c, other]),
        }
    }

    pub fn or(self, other: Cond) -> Cond {
        match self {
            Cond::Or(mut v) => {
                v.push(other);
                Cond::Or(v)
            }
            c => Cond::Or(vec![c, other]),
        }
    }

    /// The template text (without `{{ if }}`), values as `$.Values...`.
    pub fn helm(&self) -> String {
        self.render(Root::Dollar)
    }

    /// The same with `.Values...`, for the top of a template file.
    pub fn helm_top(&self) -> String {
        self.render(Root::Dot)
    }

    fn render(&self, root: Root) -> String {
        let term = |t: &Term| match t {
            Term::Value(r) => r.expr_at(root),
            Term::Var(v) => v.to_string(),
            Term::Str(s) => format!("{s:?}"),
        };
        let arg = |c: &Cond| match c {
            Cond::Is(t) => term(t),
            c => format!("({})", c.render(root)),
        };
        let args = |cs: &[Cond]| cs.iter().map(arg).collect::<Vec<_>>().join(" ");
        match self {
            Cond::Is(t) => term(t),
            Cond::Not(c) => format!("not {}", arg(c)),
            Cond::And(cs) => format!("and {}", args(cs)),
            Cond::Or(cs) => format!("or {}", args(cs)),
            Cond::Eq(a, b) => format!("eq {} {}", term(a), term(b)),
            Cond::Ne(a, b) => format!("ne {} {}", term(a), term(b)),
        }
    }

    /// Evaluate with `env` giving each value (by dotted path) and variable
    /// (by `$name`).
    pub fn eval(&self, env: &dyn Fn(&Term) -> Value) -> bool {
        let get = |t: &Term| match t {
            Term::Str(s) => Value::String(s.to_string()),
            t => env(t),
        };
        match self {
            Cond::Is(t) => truthy(&get(t)),
            Cond::Not(c) => !c.eval(env),
            Cond::And(cs) => cs.iter().all(|c| c.eval(env)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(env)),
            Cond::Eq(a, b) => get(a) == get(b),
            Cond::Ne(a, b) => get(a) != get(b),
        }
    }

    /// Evaluate against the chart's defaults for the model, with some
    /// values set (`istio.enabled=true` for the Kustomize istio component).
    ///
    /// Panics on a value without a release-wide default or a variable not
    /// in `set`: a programming error, caught by the tests of every group.
    pub fn eval_defaults(&self, m: &Model, set: &[(Val<Bool>, bool)]) -> bool {
        self.eval(&|t| match t {
            Term::Value(r) => set
                .iter()
                .find(|(v, _)| v.untyped() == r)
                .map(|(_, b)| Value::Bool(*b))
                .or_else(|| r.default(m))
                .unwrap_or_else(|| panic!("{} has no release-wide default", r.path())),
            Term::Var(v) => panic!("variable {v} in a condition on defaults"),
            Term::Str(_) => unreachable!("literals are not looked up"),
        })
    }
}

/// Go template truthiness.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::{GATEWAY_API_ENABLED, ISTIO_DATAPLANE, ISTIO_ENABLED};
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_as_helm_writes_it() {
        let c = Cond::is(&ISTIO_ENABLED).and(Cond::is(&GATEWAY_API_ENABLED).not());
        assert_eq!(
            c.helm_top(),
            "and .Values.istio.enabled (not .Values.gatewayApi.enabled)"
        );
        let a = Cond::is(&ISTIO_ENABLED).and(Cond::eq(&ISTIO_DATAPLANE, "ambient"));
        assert_eq!(
            a.helm(),
            "and $.Values.istio.enabled (eq $.Values.istio.dataplane \"ambient\")"
        );
        let o =
            Cond::Eq(Term::Var("$inject"), Term::Str("true")).or(Cond::ne(&ISTIO_DATAPLANE, "x"));
        assert_eq!(
            o.helm(),
            "or (eq $inject \"true\") (ne $.Values.istio.dataplane \"x\")"
        );
    }

    #[test]
    fn evaluates_as_go_templates_do() {
        let env = |t: &Term| match t {
            Term::Value(r) if r.path() == "istio.enabled" => json!(true),
            Term::Value(r) if r.path() == "gatewayApi.enabled" => json!(false),
            Term::Value(r) if r.path() == "istio.dataplane" => json!("ambient"),
            Term::Var("$inject") => json!("namespace"),
            t => panic!("unexpected {t:?}"),
        };
        let on = Cond::is(&ISTIO_ENABLED);
        let gw = Cond::is(&GATEWAY_API_ENABLED);
        assert!(on.eval(&env));
        assert!(!gw.eval(&env));
        assert!(on.clone().and(gw.clone().not()).eval(&env));
        assert!(!on.clone().and(gw.clone()).eval(&env));
        assert!(on.clone().or(gw.clone()).eval(&env));
        assert!(Cond::eq(&ISTIO_DATAPLANE, "ambient").eval(&env));
        assert!(!Cond::ne(&ISTIO_DATAPLANE, "ambient").eval(&env));
        assert!(Cond::Ne(Term::Var("$inject"), Term::Str("true")).eval(&env));
        for (v, t) in [
            (json!(null), false),
            (json!(0), false),
            (json!(2), true),
            (json!(""), false),
            (json!("x"), true),
            (json!([]), false),
            (json!({}), false),
            (json!({"a": 1}), true),
        ] {
            assert_eq!(truthy(&v), t, "{v}");
        }
    }
}
