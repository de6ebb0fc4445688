//! Read one YAML document as Kubernetes reads it: `kubectl` and the API
//! machinery parse manifests with go-yaml v2 (through sigs.k8s.io/yaml)
//! into untyped maps, with YAML 1.1's resolution of plain scalars. So a
//! plain `yes` is the boolean true (and fails a string field), `010` is
//! the integer 8, and `2024-10-13` a timestamp, written out as RFC 3339.
//!
//! Invariant: the result is the JSON the API server would receive, or an
//! error at the line and column of its cause; memory is bounded by the
//! document's own size plus [`MAX_ALIAS_BYTES`] and [`MAX_NODES`]:
//! aliases are counted before they are copied.
//!
//! Rules followed (go-yaml v2 `resolve.go`, sigs.k8s.io/yaml `yaml.go`):
//! https://github.com/go-yaml/yaml/blob/v2/resolve.go
//! https://github.com/kubernetes-sigs/yaml/blob/master/yaml.go

use crate::yaml_pos::{MAX_ALIAS_BYTES, MAX_DEPTH, MAX_NODES};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where a document could not be read: 1-based line and column, a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// The first document of `text` as JSON (`Value::Null` when empty).
pub fn parse(text: &str) -> Result<Value, Error> {
    let text = crate::yaml_pos::strip_bom(text);
    if let Some(d) = crate::yaml_pos::forbidden_char(text) {
        let p = d.pos.expect("forbidden_char has a position");
        return Err(Error {
            line: p.line,
            col: p.col,
            message: d.message,
        });
    }
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, false) {
        let m = e.marker();
        return Err(Error {
            line: m.line(),
            col: m.col() + 1,
            message: format!("YAML syntax error: {}", e.info()),
        });
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or(Value::Null))
}

enum Frame {
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        /// The pending key is a plain `<<` (a quoted one is just text).
        merge: bool,
        /// Keys that came from a merge (`<<`): the map's own keys win.
        merged: Vec<String>,
        anchor: usize,
    },
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize, usize)>,
    root: Option<Value>,
    nodes: usize,
    alias_bytes: usize,
    error: Option<Error>,
}

impl Builder {
    fn fail(&mut self, m: &Marker, message: String) {
        if self.error.is_none() {
            self.error = Some(Error {
                line: m.line(),
                col: m.col() + 1,
                message,
            });
        }
    }

    /// Put a finished node where it belongs: a key, a value, an item or the root.
    /// `plain_merge`: `v` is a plain `<<` scalar.
    fn place(&mut self, v: Value, m: &Marker, plain_merge: bool) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(v);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(v),
            Some(Frame::Map {
                map,
                key,
                merge,
                merged,
                ..
            }) => match key.take() {
                None => match key_text(&v) {
                    Some(k) => {
                        *key = Some(k);
                        *merge = plain_merge;
                    }
                    None => {
                        self.fail(m, format!("a {} cannot be a mapping key", kind(&v)));
                    }
                },
                Some(_) if std::mem::take(merge) && as_merge(&v).is_some() => {
                    // A merge key: the merged maps' keys, unless set here.
                    for src in as_merge(&v).into_iter().flatten() {
                        for (mk, mv) in src {
                            if !map.contains_key(mk) {
                                map.insert(mk.clone(), mv.clone());
                                merged.push(mk.clone());
                            }
                        }
                    }
                }
                Some(k) => {
                    if let Some(i) = merged.iter().position(|x| *x == k) {
                        merged.swap_remove(i);
                        map.insert(k, v);
                    } else if map.contains_key(&k) {
                        self.fail(m, format!("duplicate key `{k}`"));
                    } else {
                        map.insert(k, v);
                    }
                }
            },
        }
    }

    fn count(&mut self, m: &Marker, nodes: usize, bytes: usize, alias: bool) {
        self.nodes = self.nodes.saturating_add(nodes);
        if alias {
            self.alias_bytes = self.alias_bytes.saturating_add(bytes);
        }
        if self.nodes > MAX_NODES {
            self.fail(
                m,
                format!("aliases expand the document past {MAX_NODES} nodes"),
            );
        } else if self.alias_bytes > MAX_ALIAS_BYTES {
            self.fail(
                m,
                format!("aliases expand the document past {MAX_ALIAS_BYTES} bytes of copied text"),
            );
        }
    }
}

fn as_merge(v: &Value) -> Option<Vec<&Map<String, Value>>> {
    match v {
        Value::Object(m) => Some(vec![m]),
        Value::Array(a) => a.iter().map(Value::as_object).collect(),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// A map key as sigs.k8s.io/yaml writes it into JSON: booleans and numbers
/// become their text; null and collections are refused.
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Size of a value in nodes and scalar bytes (for aliases of it).
fn size(v: &Value) -> (usize, usize) {
    match v {
        Value::String(s) => (1, s.len()),
        Value::Array(a) => a.iter().fold((1, 0), |(n, b), x| {
            let (xn, xb) = size(x);
            (n + xn, b + xb)
        }),
        Value::Object(m) => m.iter().fold((1, 0), |(n, b), (k, x)| {
            let (xn, xb) = size(x);
            (n + xn + 1, b + xb + k.len())
        }),
        _ => (1, 8),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, m: Marker) {
        if self.error.is_some() || (self.root.is_some() && self.stack.is_empty()) {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = match resolve(&text, style, tag.as_ref()) {
                    Ok(v) => v,
                    Err(msg) => return self.fail(&m, msg),
                };
                self.count(&m, 1, 0, false);
                if anchor != 0 {
                    self.anchors.insert(anchor, (v.clone(), 1, text.len()));
                }
                // Keys resolve as values do, then sigs.k8s.io/yaml prints
                // them (`010:` is the key "8", `on:` the key "true").
                let plain_merge = style == TScalarStyle::Plain && tag.is_none() && text == "<<";
                self.place(v, &m, plain_merge);
            }
            Event::Alias(id) => {
                let Some((v, n, b)) = self.anchors.get(&id).cloned() else {
                    return self.fail(&m, "an alias to an unknown anchor".into());
                };
                self.count(&m, n, b, true);
                if self.error.is_none() {
                    self.place(v, &m, false);
                }
            }
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag)
                if tag
                    .as_ref()
                    .is_some_and(|t| !core_tag(t, &["map", "seq", "omap"])) =>
            {
                let _ = anchor;
                let t = tag.expect("checked");
                self.fail(
                    &m,
                    format!(
                        "the YAML tag `{}{}` is not one Kubernetes reads",
                        t.handle, t.suffix
                    ),
                );
            }
            Event::MappingStart(anchor, _) => {
                self.count(&m, 1, 0, false);
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    merge: false,
                    merged: vec![],
                    anchor,
                });
                if self.stack.len() > MAX_DEPTH {
                    self.fail(&m, format!("nesting deeper than {MAX_DEPTH} levels"));
                }
            }
            Event::SequenceStart(anchor, _) => {
                self.count(&m, 1, 0, false);
                self.stack.push(Frame::Seq {
                    items: vec![],
                    anchor,
                });
                if self.stack.len() > MAX_DEPTH {
                    self.fail(&m, format!("nesting deeper than {MAX_DEPTH} levels"));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (v, anchor) = match self.stack.pop() {
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    Some(Frame::Seq { items, anchor }) => (Value::Array(items), anchor),
                    None => return,
                };
                if anchor != 0 {
                    let (n, b) = size(&v);
                    self.anchors.insert(anchor, (v.clone(), n, b));
                }
                self.place(v, &m, false);
            }
            _ => {}
        }
    }
}

fn core_tag(t: &Tag, names: &[&str]) -> bool {
    t.handle == "tag:yaml.org,2002:" && names.contains(&t.suffix.as_str())
}

/// A scalar's value: quoted and block scalars are strings; plain ones
/// resolve as go-yaml v2 resolves them; core tags force a type.
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(t) = tag {
        if core_tag(t, &["str", "binary"]) {
            return Ok(Value::String(text.to_string()));
        }
        if !core_tag(t, &["int", "float", "bool", "null", "timestamp"]) {
            return Err(format!(
                "the YAML tag `{}{}` is not one Kubernetes reads",
                t.handle, t.suffix
            ));
        }
        let v = plain(text);
        let ok = match t.suffix.as_str() {
            "int" => v.is_i64() || v.is_u64(),
            "float" => v.is_number(),
            "bool" => v.is_boolean(),
            "null" => v.is_null(),
            _ => v.is_string(),
        };
        return if ok {
            Ok(v)
        } else {
            Err(format!("`{text}` is not a !!{}", t.suffix))
        };
    }
    Ok(match style {
        TScalarStyle::Plain => plain(text),
        _ => Value::String(text.to_string()),
    })
}

/// go-yaml v2's resolution of a plain scalar.
pub fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        // JSON has no infinities or NaN: Go's encoder fails on them, and so
        // would the apply; keep the text so the schema reports the field.
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return Value::String(s.to_string()),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Value::String(s.to_string());
    }
    if let Some(date) = date_only(s) {
        return Value::String(date);
    }
    let digits = s.replace('_', "");
    if let Some(n) = go_parse_int(&digits) {
        return n;
    }
    if is_yaml_float(&digits) {
        if let Ok(f) = digits.parse::<f64>() {
            return float(f);
        }
    }
    Value::String(s.to_string())
}

/// Go's encoding/json writes whole floats without a fraction (`8`, not `8.0`).
fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: a sign, then `0x`, `0o`,
/// `0b` or a leading `0` (octal) choose the base.
fn go_parse_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u128::from_str_radix(&digits, radix).ok()?;
    if neg {
        let v = i128::try_from(mag).ok()?.checked_neg()?;
        i64::try_from(v).ok().map(Value::from)
    } else if let Ok(v) = i64::try_from(mag) {
        Some(Value::from(v))
    } else {
        u64::try_from(mag).ok().map(Value::from)
    }
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mant_ok = match mant.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mant),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mant_ok && exp_ok
}

/// A plain `YYYY-M-D` is a timestamp to go-yaml v2, which JSON prints as
/// midnight UTC in RFC 3339. (Timestamps with a time keep their text: the
/// type, a string, is the same either way.)
fn date_only(s: &str) -> Option<String> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
        || ![y, m, d]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let (mo, da): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    Some(format!("{y}-{mo:02}-{da:02}T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_scalars_as_kubernetes_reads_them() {
        let v = parse(
            "a: yes\nb: \"yes\"\nc: 010\nd: 0x1F\ne: 1_000\nf: 08\ng: off\nh: ~\ni: 1.5\nj: 2024-10-13\nk: 'on'\nl: -0b11\nm: !!str 12\nz: 99999999999999999999\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": true, "b": "yes", "c": 8, "d": 31, "e": 1000, "f": 8, "g": false, "h": null,
                   "i": 1.5, "j": "2024-10-13T00:00:00Z", "k": "on", "l": -3, "m": "12",
                   "z": 99999999999999999999.0})
        );
    }

    #[test]
    fn keys_become_text_and_duplicates_are_refused() {
        assert_eq!(
            parse("on: 1\n010: 2\n").unwrap(),
            json!({"true": 1, "8": 2})
        );
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "duplicate key `a`"));
    }

    #[test]
    fn bom_nul_tags_and_alias_bombs_are_placed() {
        assert_eq!(parse("\u{feff}a: 1\n").unwrap(), json!({"a": 1}));
        let e = parse("a: 1\nb: x\0y\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 5));
        let e = parse("a: !custom 1\n").unwrap_err();
        assert!(e.message.contains("`!custom`"), "{e:?}");
        let long = "x".repeat(1 << 20);
        let bomb = format!("a: &a {long}\nb: [*a, *a, *a, *a, *a]\n");
        let e = parse(&bomb).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("bytes of copied text"), "{e:?}");
    }

    #[test]
    fn merge_keys_and_anchors() {
        assert_eq!(
            parse("base: &b {a: 1, b: 2}\nc:\n  <<: *b\n  b: 3\n  y: 4\n").unwrap(),
            json!({"base": {"a": 1, "b": 2}, "c": {"a": 1, "b": 3, "true": 4}})
        );
    }
}
