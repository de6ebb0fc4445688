//! CEL rules (`x-kubernetes-validations`) that the API server enforces and
//! JSON Schema validators skip: a PeerAuthentication with `portLevelMtls`
//! needs a `selector`, durations must exceed 1ms, and so on.
//! <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-rules>
//!
//! Rules are evaluated where they stand in the schema, with `self` bound to
//! the value there as the API server sees it: the schema's `default`s
//! applied first, and property names that are CEL keywords or hold other
//! characters escaped (`namespace` -> `__namespace__`); see `prepare`.
//! Transition rules (`oldSelf`) need the stored object and
//! are skipped; a rule the interpreter cannot run is reported as such,
//! never silently passed.

use cel::{extensions, Context, Env, Program};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The rule is false for the value at `path`.
    Violated { path: String, message: String },
    /// The rule could not be compiled or run.
    NotEvaluated {
        path: String,
        rule: String,
        why: String,
    },
}

fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Kubernetes CEL includes the strings extension (substring, ...).
        let _ = env.add_extension(extensions::strings);
        Arc::new(env)
    })
}

fn program(rule: &str) -> Result<Arc<Program>, String> {
    type Compiled = Result<Arc<Program>, String>;
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().expect("cache").get(rule) {
        return p.clone();
    }
    let p = env().compile(rule).map(Arc::new).map_err(|e| e.to_string());
    cache
        .lock()
        .expect("cache")
        .insert(rule.to_string(), p.clone());
    p
}

fn eval(rule: &str, value: &Value) -> Result<bool, String> {
    let p = program(rule)?;
    let mut ctx = Context::with_env(env().clone());
    let v = cel::to_value(value).map_err(|e| e.to_string())?;
    ctx.add_variable_from_value("self", v);
    match p.execute(&ctx) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("rule returned {other:?}, not a boolean")),
        Err(e) => Err(e.to_string()),
    }
}

/// Every rule of `schema` that `value` breaks.
pub(crate) fn check(schema: &Value, value: &Value) -> Vec<Outcome> {
    let mut out = vec![];
    walk(schema, schema, value, String::new(), &mut out, 0);
    out
}

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/")
            .map(|p| p.split('/').try_fold(root, |v, k| v.get(k)).unwrap_or(s))
            .unwrap_or(s),
        None => s,
    }
}

fn walk(
    root: &Value,
    schema: &Value,
    value: &Value,
    path: String,
    out: &mut Vec<Outcome>,
    depth: usize,
) {
    if depth > 64 || value.is_null() {
        return;
    }
    let schema = resolve(root, schema);
    let mut prepared: Option<Value> = None;
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(r) = rule["rule"].as_str() else {
            continue;
        };
        if r.contains("oldSelf") {
            continue;
        }
        let at = if path.is_empty() {
            "/".to_string()
        } else {
            path.clone()
        };
        let prepared = prepared.get_or_insert_with(|| prepare(root, schema, value, 0));
        match eval(r, prepared) {
            Ok(true) => {}
            Ok(false) => out.push(Outcome::Violated {
                path: at,
                message: rule["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("failed rule: {r}")),
            }),
            Err(why) => out.push(Outcome::NotEvaluated {
                path: at,
                rule: r.to_string(),
                why,
            }),
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            walk(root, s, value, path.clone(), out, depth + 1);
        }
    }
    match value {
        Value::Object(o) => {
            let props = schema["properties"].as_object();
            for (k, v) in o {
                let child = props
                    .and_then(|p| p.get(k))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                if let Some(c) = child {
                    walk(root, c, v, format!("{path}/{k}"), out, depth + 1);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for (i, v) in a.iter().enumerate() {
                    walk(root, items, v, format!("{path}/{i}"), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// The value at a schema node as CEL sees it on the API server: missing
/// properties with a `default` filled in (defaulting runs before
/// validation), and declared property names escaped as Kubernetes escapes
/// them; map keys (`additionalProperties`) stay as they are.
/// <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#defaulting>
/// <https://kubernetes.io/docs/reference/using-api/cel/#escaping>
fn prepare(root: &Value, schema: &Value, value: &Value, depth: usize) -> Value {
    let schema = resolve(root, schema);
    if depth > 64 {
        return value.clone();
    }
    match value {
        Value::Object(o) => {
            let props = schema["properties"].as_object();
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            let mut out = serde_json::Map::new();
            for (k, v) in o {
                match props.and_then(|p| p.get(k)) {
                    Some(c) => {
                        out.insert(escape(k), prepare(root, c, v, depth + 1));
                    }
                    None => {
                        let v = match extra {
                            Some(c) => prepare(root, c, v, depth + 1),
                            None => v.clone(),
                        };
                        out.insert(k.clone(), v);
                    }
                }
            }
            for (k, c) in props.into_iter().flatten() {
                let c = resolve(root, c);
                if let (Some(d), false) = (c.get("default"), o.contains_key(k)) {
                    out.insert(escape(k), prepare(root, c, d, depth + 1));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => match schema.get("items") {
            Some(items) => Value::Array(
                a.iter()
                    .map(|v| prepare(root, items, v, depth + 1))
                    .collect(),
            ),
            None => value.clone(),
        },
        _ => value.clone(),
    }
}

/// A property name as CEL expressions name it.
fn escape(name: &str) -> String {
    const RESERVED: [&str; 21] = [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    if RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    if !name.contains(['_', '.', '-', '/']) {
        return name.to_string();
    }
    name.replace("__", "__underscores__")
        .replace('.', "__dot__")
        .replace('-', "__dash__")
        .replace('/', "__slash__")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pa_schema() -> Value {
        json!({"type": "object", "properties": {"spec": {
            "type": "object",
            "x-kubernetes-validations": [{
                "rule": "has(self.portLevelMtls) ? (((has(self.selector) && has(self.selector.matchLabels)) ? self.selector.matchLabels : {}).size() > 0) : true",
                "message": "portLevelMtls requires selector"
            }],
            "properties": {
                "portLevelMtls": {"type": "object", "x-kubernetes-validations": [
                    {"rule": "self.all(key, 0 < int(key) && int(key) <= 65535)", "message": "port must be between 1-65535"}
                ]},
                "timeout": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "duration(self) >= duration('1ms')", "message": "must be a valid duration greater than 1ms"}
                ]},
                "host": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self.startsWith('unix://') ? self.substring(7, 8) == '/' : true", "message": "UDS must be absolute"}
                ]}
            }
        }}})
    }

    fn messages(v: Value) -> Vec<String> {
        check(&pa_schema(), &v)
            .into_iter()
            .map(|o| match o {
                Outcome::Violated { path, message } => format!("{path}: {message}"),
                Outcome::NotEvaluated { path, why, .. } => format!("{path}: not evaluated: {why}"),
            })
            .collect()
    }

    #[test]
    fn defaults_apply_and_keywords_are_escaped_before_rules_run() {
        let schema = json!({"type": "object", "properties": {"ref": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.kind == 'Service' ? has(self.port) : true", "message": "Must have port for Service reference"},
                {"rule": "!has(self.__namespace__) || self.__namespace__ != 'x'", "message": "not x"}
            ],
            "properties": {
                "kind": {"type": "string", "default": "Service"},
                "namespace": {"type": "string"},
                "port": {"type": "integer"}
            }
        }}});
        let run = |v: Value| -> Vec<Outcome> { check(&schema, &v) };
        assert_eq!(
            run(json!({"ref": {}})),
            vec![Outcome::Violated {
                path: "/ref".into(),
                message: "Must have port for Service reference".into()
            }]
        );
        assert_eq!(run(json!({"ref": {"port": 80}})), vec![]);
        assert_eq!(run(json!({"ref": {"kind": "Other"}})), vec![]);
        assert_eq!(
            run(json!({"ref": {"port": 80, "namespace": "x"}})),
            vec![Outcome::Violated {
                path: "/ref".into(),
                message: "not x".into()
            }]
        );
        assert_eq!(escape("x-y.z/w"), "x__dash__y__dot__z__slash__w");
        assert_eq!(escape("a__b"), "a__underscores__b");
    }

    #[test]
    fn port_level_mtls_needs_a_selector() {
        assert_eq!(
            messages(json!({"spec": {"portLevelMtls": {"8080": {"mode": "DISABLE"}}}})),
            vec!["/spec: portLevelMtls requires selector"]
        );
        assert!(messages(json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "portLevelMtls": {"8080": {}}}})).is_empty());
    }

    #[test]
    fn ports_durations_and_string_extensions() {
        assert_eq!(
            messages(
                json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "portLevelMtls": {"70000": {}}}})
            ),
            vec!["/spec/portLevelMtls: port must be between 1-65535"]
        );
        assert_eq!(
            messages(json!({"spec": {"timeout": "0s"}})),
            vec!["/spec/timeout: must be a valid duration greater than 1ms"]
        );
        assert!(messages(json!({"spec": {"timeout": "250ms"}})).is_empty());
        assert_eq!(
            messages(json!({"spec": {"host": "unix://x"}})),
            vec!["/spec/host: UDS must be absolute"]
        );
        assert!(messages(json!({"spec": {"host": "unix:///x"}})).is_empty());
    }
}
