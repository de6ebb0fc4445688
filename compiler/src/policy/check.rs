//! Structural errors of a policy, all at once, from its JSON Schema: unknown
//! fields (with the closest known one), missing fields, wrong types, values
//! outside an enum. Each points at the node's position.

use crate::diag::{suggest, Diagnostic, Pos};
use crate::policy::load::Spans;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

/// `/spec/allow/0/from` -> `spec.allow[0].from`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// The schema node a keyword location points into, following `$ref`s.
fn schema_at<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut cur = root;
    for seg in pointer.split('/').skip(1) {
        if seg == "$ref" {
            let r = cur.get("$ref")?.as_str()?.strip_prefix("#/")?;
            cur = r.split('/').try_fold(root, |v, k| v.get(k))?;
        } else {
            cur = cur.get(seg.replace("~1", "/").replace("~0", "~"))?;
        }
    }
    Some(cur)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn kind_name(k: &TypeKind) -> String {
    let one = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a map".to_string(),
        "array" => "a list".to_string(),
        "integer" => "an integer".to_string(),
        "null" => "nothing".to_string(),
        other => format!("a {other}"),
    };
    match k {
        TypeKind::Single(t) => one(t),
        // `null` comes from optional fields; leaving a field out is the way to say nothing.
        TypeKind::Multiple(ts) => ts
            .iter()
            .filter(|t| t.to_string() != "null")
            .map(|t| one(&t))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// The diagnostics, and whether some error was left to serde (the short
/// forms, whose own messages say more than the schema's `anyOf`).
pub fn schema_errors(
    validator: &jsonschema::Validator,
    schema: &Value,
    doc: &Value,
    spans: &Spans,
) -> (Vec<Diagnostic>, bool) {
    let mut out = vec![];
    let mut deferred = false;
    for e in validator.iter_errors(doc) {
        let path = dotted(&e.instance_path().to_string());
        // The root has no path: say what it is rather than print "``".
        let shown = if path.is_empty() {
            "the document".to_string()
        } else {
            format!("`{path}`")
        };
        let at = |p: &str| spans.value(p).or_else(|| spans.value(""));
        let d = match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let sp = e.schema_path().to_string();
                let known: Vec<String> =
                    schema_at(schema, sp.trim_end_matches("/additionalProperties"))
                        .and_then(|n| n.get("properties"))
                        .and_then(Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                for u in unexpected {
                    let field = if path.is_empty() {
                        u.clone()
                    } else {
                        format!("{path}.{u}")
                    };
                    let help = match suggest(u, known.iter().map(String::as_str)) {
                        Some(k) => {
                            format!("did you mean `{k}`? known fields: {}", known.join(", "))
                        }
                        None => format!("known fields: {}", known.join(", ")),
                    };
                    out.push(
                        Diagnostic::error("E0011", format!("unknown field `{u}`"))
                            .at(spans.key(&field))
                            .help(help),
                    );
                }
                continue;
            }
            ValidationErrorKind::Required { property } => {
                let p = property.as_str().unwrap_or("?");
                let where_ = if path.is_empty() {
                    "the document".to_string()
                } else {
                    format!("`{path}`")
                };
                Diagnostic::error("E0012", format!("missing field `{p}` in {where_}"))
                    .at(spans.key(&path).or_else(|| at(&path)))
                    .help(format!(
                        "add `{p}`; `meshpack schema` describes every field"
                    ))
            }
            ValidationErrorKind::Type { kind } => Diagnostic::error(
                "E0013",
                format!(
                    "{shown} is {}, expected {}",
                    type_name(e.instance()),
                    kind_name(kind)
                ),
            )
            .at(at(&path)),
            ValidationErrorKind::Enum { options } => {
                let opts: Vec<String> = options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        o.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| o.to_string())
                    })
                    .collect();
                let found = e
                    .instance()
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.instance().to_string());
                let help = match suggest(&found, opts.iter().map(String::as_str)).or_else(|| {
                    opts.iter()
                        .find(|o| o.eq_ignore_ascii_case(&found))
                        .cloned()
                }) {
                    Some(s) => format!("did you mean `{s}`? expected one of {}", opts.join(", ")),
                    None => format!("expected one of {}", opts.join(", ")),
                };
                Diagnostic::error("E0014", format!("`{found}` is not allowed for {shown}"))
                    .at(at(&path))
                    .help(help)
            }
            ValidationErrorKind::Constant { expected_value } => Diagnostic::error(
                "E0014",
                format!("{shown} must be {expected_value}, found {}", e.instance()),
            )
            .at(at(&path)),
            // anyOf and the like: the short forms; serde's own message,
            // added by the loader, says what was expected.
            ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
                deferred = true;
                continue;
            }
            _ => Diagnostic::error("E0015", format!("{shown}: {e}")).at(at(&path)),
        };
        out.push(d);
    }
    out.sort_by_key(|d| d.pos.unwrap_or(Pos { line: 0, col: 0 }));
    (out, deferred)
}
