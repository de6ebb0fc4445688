//! The field reference of `docs/policy-language.md`, from the policy
//! language's JSON Schema.

use super::check_block;
use serde_json::Value;

struct Walker<'a> {
    defs: &'a serde_json::Map<String, Value>,
    rows: Vec<[String; 4]>,
}

impl<'a> Walker<'a> {
    fn resolve(&self, node: &'a Value) -> (&'a Value, Option<&'a str>) {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/$defs/");
                let def = self
                    .defs
                    .get(name)
                    .unwrap_or_else(|| panic!("schema has no $defs/{name}"));
                let (inner, _) = self.resolve(def);
                (inner, Some(name))
            }
            None => (node, None),
        }
    }

    /// The alternatives of a node, without `null` (which only makes a field
    /// optional).
    fn alternatives(&self, node: &'a Value) -> Vec<&'a Value> {
        let (node, _) = self.resolve(node);
        let list = node
            .get("anyOf")
            .or_else(|| node.get("oneOf"))
            .and_then(Value::as_array);
        match list {
            Some(alts) => alts
                .iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .flat_map(|a| self.alternatives(a))
                .collect(),
            None => vec![node],
        }
    }

    fn type_text(&self, node: &'a Value) -> String {
        let alts = self.alternatives(node);
        let mut parts: Vec<String> = vec![];
        for a in alts {
            let t = if let Some(c) = a.get("const") {
                format!(
                    "`{}`",
                    c.as_str().map(str::to_string).unwrap_or(c.to_string())
                )
            } else if let Some(e) = a.get("enum").and_then(Value::as_array) {
                e.iter()
                    .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(" \\| ")
            } else {
                let ty = match a.get("type") {
                    Some(Value::String(t)) => t.clone(),
                    Some(Value::Array(ts)) => ts
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|t| *t != "null")
                        .collect::<Vec<_>>()
                        .join(" or "),
                    _ => String::new(),
                };
                match ty.as_str() {
                    "array" => match a.get("items") {
                        Some(items) => format!("list of {}", self.type_text(items)),
                        None => "list".into(),
                    },
                    "object" if a.get("properties").is_none() => {
                        match a.get("additionalProperties") {
                            Some(v @ Value::Object(_)) => {
                                format!("map of {}", self.type_text(v))
                            }
                            _ => "map".into(),
                        }
                    }
                    "object" => "object".into(),
                    "" => "any".into(),
                    other => other.to_string(),
                }
            };
            if !parts.contains(&t) {
                parts.push(t);
            }
        }
        parts.join(" or ")
    }

    fn description(&self, node: &'a Value) -> String {
        let own = node.get("description").and_then(Value::as_str);
        let via_ref = || {
            let (def, _) = self.resolve(node);
            def.get("description").and_then(Value::as_str)
        };
        own.or_else(via_ref)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|")
    }

    /// Rows for every field below `node`, reached at `path`.
    fn fields(&mut self, node: &'a Value, path: &str, seen: &mut Vec<&'a str>) {
        for alt in self.alternatives(node) {
            if let Some(name) = alt.get("title").and_then(Value::as_str) {
                if seen.contains(&name) {
                    continue;
                }
            }
            if let Some(props) = alt.get("properties").and_then(Value::as_object) {
                let required: Vec<&str> = alt
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for (key, sub) in props {
                    let p = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    self.rows.push([
                        format!("`{p}`"),
                        self.type_text(sub),
                        if required.contains(&key.as_str()) {
                            "yes"
                        } else {
                            ""
                        }
                        .into(),
                        self.description(sub),
                    ]);
                    self.descend(sub, &p, key, seen);
                }
            }
        }
    }

    /// Fields of the objects a field holds: itself, a map's values, a
    /// list's items.
    fn descend(&mut self, node: &'a Value, path: &str, key: &str, seen: &mut Vec<&'a str>) {
        let refs = self.refs(node);
        if refs.iter().any(|r| seen.contains(r)) {
            return;
        }
        let n = seen.len();
        seen.extend(refs);
        self.fields(node, path, seen);
        for alt in self.alternatives(node) {
            if let Some(v @ Value::Object(_)) = alt.get("additionalProperties") {
                let singular = key.strip_suffix('s').unwrap_or("name");
                self.fields(v, &format!("{path}.<{singular}>"), seen);
            }
            if let Some(items) = alt.get("items") {
                self.fields(items, &format!("{path}[]"), seen);
            }
        }
        seen.truncate(n);
    }

    /// The `$defs` a node names, directly or through its alternatives.
    fn refs(&self, node: &'a Value) -> Vec<&'a str> {
        let mut out = vec![];
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            out.push(name);
            out.extend(self.refs(&self.defs[name]));
        }
        for k in ["anyOf", "oneOf"] {
            for a in node.get(k).and_then(Value::as_array).into_iter().flatten() {
                out.extend(self.refs(a));
            }
        }
        out
    }
}

fn fields_block() -> String {
    let schema = meshpack::policy::schema();
    let defs = schema["$defs"].as_object().expect("the schema has $defs");
    let mut w = Walker { defs, rows: vec![] };
    w.fields(&schema, "", &mut vec![]);
    let mut s = String::from("| field | type | required | what |\n| --- | --- | --- | --- |\n");
    for [field, ty, req, what] in &w.rows {
        s.push_str(&format!("| {field} | {ty} | {req} | {what} |\n"));
    }
    s
}

#[test]
fn policy_language_md_lists_every_field() {
    check_block("docs/policy-language.md", "fields", &fields_block());
}
