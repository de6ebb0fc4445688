//! The values a chart was installed with, as `verify --values` reads them:
//! values files merged in Helm's order into one `serde_json::Value`.
//! Whatever `verify` takes from the customer's values (today the
//! additions, `verify::additions::from_values`) reads this merged value.
//!
//! Invariant: the merge is Helm's (maps key by key, the later file
//! winning; lists and scalars replaced), so a value read here is the one
//! the chart saw; the chart's defaults are not merged in (a reader treats
//! a missing key as the default).

use serde_json::Value;
use std::path::PathBuf;

/// The largest values file read (the policy loader's limit, which the
/// YAML reader's alias limit equals).
const MAX_BYTES: usize = crate::yaml_pos::MAX_ALIAS_BYTES;

/// Helm's merge of values files: maps merge key by key, the later file
/// winning; anything else (lists too) is replaced.
/// <https://helm.sh/docs/chart_template_guide/values_files/>
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Values files merged in the order given (`-f a -f b`: b wins, as with
/// Helm); an empty map for none. Errors name the file and, for YAML,
/// line:col.
pub fn read_files(paths: &[PathBuf]) -> Result<Value, String> {
    let mut values = Value::Object(Default::default());
    for p in paths {
        let text =
            crate::fsread::read_text(p, MAX_BYTES).map_err(|e| format!("{}: {e}", p.display()))?;
        let v = crate::manifest::yaml11::parse(&text)
            .map_err(|e| format!("{}:{}:{}: {}", p.display(), e.line, e.col, e.message))?;
        match v {
            Value::Null => {}
            Value::Object(_) => merge(&mut values, v),
            _ => {
                return Err(format!(
                    "{}: a values file is a map of values, e.g. `extraSources: [...]`",
                    p.display()
                ))
            }
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helm_merge_order() {
        let mut v = json!({"extraEgress": [{"host": "a.example.com"}], "istio": {"enabled": true, "mtls": {"mode": ""}}});
        merge(
            &mut v,
            json!({"extraEgress": [{"host": "b.example.com"}], "istio": {"mtls": {"mode": "PERMISSIVE"}}}),
        );
        assert_eq!(
            v,
            json!({"extraEgress": [{"host": "b.example.com"}], "istio": {"enabled": true, "mtls": {"mode": "PERMISSIVE"}}})
        );
    }
}
