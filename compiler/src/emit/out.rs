//! Values that the chart decides at install time and Kustomize fixes at build
//! time.
//!
//! Emitters build typed objects, turn them into JSON values, then put the
//! install-time parts in through an [`Out`]. In `Helm` mode each such part
//! becomes a marker string (`mpx3x`) recorded with the template text that
//! replaces it after serialisation (`package::helm`); in `Plain` mode it is
//! the default value itself. One emitter thus yields both outputs, which is
//! what keeps the chart and the Kustomize tree equivalent.

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Helm,
    Plain,
}

/// Template text that replaces a marker.
#[derive(Clone, Debug, PartialEq)]
pub enum Fragment {
    /// Replaces the marker inside a line: `replicas: {{ $svc.replicas }}`.
    Inline(String),
    /// Replaces the whole line `<indent>mpxNx: null` (a marker used as a
    /// map key) with these lines, each indented like that line. `{N}` in a
    /// line stands for the line's indentation plus N (for `nindent`).
    Lines(Vec<String>),
}

/// A piece of a string value: literal text, or text from the values.
pub enum Part<'a> {
    Lit(&'a str),
    /// Template expression (without braces) and its default.
    Val(&'a str, &'a str),
}

/// A string that embeds the release namespace in one `delimiter`-separated
/// segment (`cluster.local/ns/<ns>/sa/x`: `/`, segment 2). Kustomize's
/// namespace transformer cannot reach inside strings; `package::kustomize`
/// turns these into `replacements`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespacedString {
    pub value: String,
    pub delimiter: char,
    pub index: usize,
}

/// The template expression for the release namespace.
pub const RELEASE_NAMESPACE: &str = "$.Release.Namespace";

#[derive(Debug)]
pub struct Out {
    pub mode: Mode,
    pub fragments: Vec<Fragment>,
    /// Plain mode: strings embedding the namespace, and where.
    pub namespaced: Vec<NamespacedString>,
}

pub fn marker(i: usize) -> String {
    format!("mpx{i}x")
}

impl Out {
    pub fn new(mode: Mode) -> Self {
        Out {
            mode,
            fragments: vec![],
            namespaced: vec![],
        }
    }

    pub fn helm(&self) -> bool {
        self.mode == Mode::Helm
    }

    fn push(&mut self, f: Fragment) -> String {
        self.fragments.push(f);
        marker(self.fragments.len() - 1)
    }

    /// A scalar taken from the values (`expr` prints it as YAML).
    pub fn scalar(&mut self, expr: &str, default: Value) -> Value {
        match self.mode {
            Mode::Plain => default,
            Mode::Helm => Value::String(self.push(Fragment::Inline(format!("{{{{ {expr} }}}}")))),
        }
    }

    /// A string assembled from literal text and values, always quoted.
    pub fn text(&mut self, parts: &[Part]) -> Value {
        match self.mode {
            Mode::Plain => {
                let mut text = String::new();
                for (i, p) in parts.iter().enumerate() {
                    if let Part::Val(RELEASE_NAMESPACE, _) = p {
                        let next = match parts.get(i + 1) {
                            Some(Part::Lit(l)) => l.chars().next(),
                            _ => None,
                        };
                        // A namespace that ends the string (or is all of
                        // it) is the last `.`-separated segment.
                        let delimiter = match next {
                            Some(c @ ('/' | '.')) => c,
                            None if i + 1 == parts.len() => '.',
                            _ => panic!("the namespace is followed by a `/` or `.` literal"),
                        };
                        self.namespaced.push(NamespacedString {
                            value: String::new(),
                            delimiter,
                            index: text.matches(delimiter).count(),
                        });
                    }
                    match p {
                        Part::Lit(s) | Part::Val(_, s) => text.push_str(s),
                    }
                }
                // The entries just pushed learn the whole string now.
                for ns in self.namespaced.iter_mut().filter(|x| x.value.is_empty()) {
                    ns.value = text.clone();
                }
                Value::String(text)
            }
            Mode::Helm => {
                let t = template_text(parts);
                Value::String(self.push(Fragment::Inline(t)))
            }
        }
    }

    /// A structured value from the values, rendered with `toYaml`.
    pub fn yaml(&mut self, expr: &str, default: Value) -> Value {
        match self.mode {
            Mode::Plain => default,
            Mode::Helm => {
                let m = self.push(Fragment::Lines(vec![format!(
                    "{{{{- toYaml {expr} | nindent {{0}} }}}}"
                )]));
                // The marker is a key, so the parent becomes `key:` plus lines.
                let mut o = serde_json::Map::new();
                o.insert(m, Value::Null);
                Value::Object(o)
            }
        }
    }

    /// Lines of template inserted into a map in place of one key (used for
    /// optional keys and conditional entries). Returns the marker key, or
    /// `None` in plain mode, where such entries do not exist.
    pub fn lines(&mut self, lines: Vec<String>) -> Option<String> {
        match self.mode {
            Mode::Plain => None,
            Mode::Helm => Some(self.push(Fragment::Lines(lines))),
        }
    }

    /// An optional key: `key: <toYaml expr>` when the value is non-empty.
    pub fn optional(&mut self, map: &mut Value, key: &str, expr: &str, default: Option<Value>) {
        match self.mode {
            Mode::Plain => {
                if let Some(v) = default {
                    map[key] = v;
                }
            }
            Mode::Helm => {
                let m = self.push(Fragment::Lines(vec![
                    format!("{{{{- with {expr} }}}}"),
                    format!("{key}:"),
                    "  {{- toYaml . | nindent {2} }}".to_string(),
                    "{{- end }}".to_string(),
                ]));
                map[m.as_str()] = Value::Null;
            }
        }
    }
}

/// A field of a typed object that the chart may decide at install time:
/// the value itself, or what [`Out`] returned for it (a marker in Helm
/// mode). Typed objects hold these where `package::helm` puts template
/// text, instead of being patched as JSON after serialisation.
#[derive(Clone, Debug, PartialEq)]
pub enum At<T> {
    Lit(T),
    Install(Value),
}

impl<T> At<T> {
    /// A scalar from the values (`expr` prints it), `default` in plain mode.
    pub fn scalar(out: &mut Out, expr: &str, default: T) -> Self
    where
        T: serde::Serialize,
    {
        match out.mode {
            Mode::Plain => At::Lit(default),
            Mode::Helm => At::Install(out.scalar(expr, Value::Null)),
        }
    }

    /// A structured value from the values, rendered with `toYaml`.
    pub fn yaml(out: &mut Out, expr: &str, default: T) -> Self
    where
        T: serde::Serialize,
    {
        match out.mode {
            Mode::Plain => At::Lit(default),
            Mode::Helm => At::Install(out.yaml(expr, Value::Null)),
        }
    }
}

impl<T: serde::Serialize> serde::Serialize for At<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            At::Lit(t) => t.serialize(s),
            At::Install(v) => v.serialize(s),
        }
    }
}

/// The Helm template of a string assembled from parts: a double-quoted
/// YAML scalar, literals escaped, values as `{{ expr }}`.
pub fn template_text(parts: &[Part]) -> String {
    // Written into one string: this runs for every name of every object
    // (a string or two per part: 3.8% of a 10,000-service compile's
    // instructions, callgrind). YAML's escapes hold no `{`, so escaping `{{` after them,
    // in the part's own text, is what escaping the whole string gives.
    let mut t = String::with_capacity(64);
    t.push('"');
    for p in parts {
        match p {
            Part::Lit(s) => {
                let start = t.len();
                push_yaml_dq_escaped(&mut t, s);
                if t[start..].contains("{{") {
                    let escaped = escape_template(&t[start..]);
                    t.truncate(start);
                    t.push_str(&escaped);
                }
            }
            Part::Val(e, _) => {
                t.push_str("{{ ");
                t.push_str(e);
                t.push_str(" }}");
            }
        }
    }
    t.push('"');
    t
}

/// Characters that would start template actions in Helm render literally.
pub fn escape_template(s: &str) -> String {
    s.replace("{{", "{{ \"{{\" }}")
}

fn push_yaml_dq_escaped(o: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if c.is_control() => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_mode_uses_defaults() {
        let mut o = Out::new(Mode::Plain);
        assert_eq!(o.scalar("$svc.replicas", json!(2)), json!(2));
        assert_eq!(
            o.text(&[Part::Val(".Release.Namespace", "ns"), Part::Lit("/x")]),
            json!("ns/x")
        );
        assert!(o.fragments.is_empty());
    }

    #[test]
    fn helm_text_escapes_literals() {
        let mut o = Out::new(Mode::Helm);
        let v = o.text(&[Part::Lit("a{{b\"c"), Part::Val(".X", "")]);
        assert_eq!(v, json!("mpx0x"));
        assert_eq!(
            o.fragments[0],
            Fragment::Inline(r#""a{{ "{{" }}b\"c{{ .X }}""#.to_string())
        );
    }
}
