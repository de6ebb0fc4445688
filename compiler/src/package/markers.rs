//! Chart template text of an emitted object, in one pass over its value:
//! the YAML writer (`yaml_write`) with hooks that escape every `{{` of the
//! data and put each marker's template text (`emit::out::Fragment`) in its
//! place.
//!
//! Invariant: the result is what escaping the whole YAML text and then
//! replacing the markers line by line gives (the test
//! `one_pass_equals_escape_then_substitute` compares both on every file of
//! the committed policies and of a synthesized one). Data never becomes
//! template code: every key and string is escaped before markers are put
//! in, and fragment text is never escaped; a marker is always a whole key
//! or string or inside one, never across two, so per-scalar work equals
//! per-line work.

use crate::emit::{out, Fragment};
use crate::yaml_write::{self, Hooks};
use serde_json::Value;
use std::fmt::Write as _;

/// `v` as chart template text, appended to `out`.
pub(crate) fn write(out: &mut String, v: &Value, fragments: &[Fragment]) {
    yaml_write::write(out, v, &mut Template { fragments });
}

struct Template<'a> {
    fragments: &'a [Fragment],
}

impl Hooks for Template<'_> {
    fn scalar(&mut self, out: &mut String, start: usize) {
        let (braces, marker) = scan(&out.as_bytes()[start..]);
        if !braces && !marker {
            return;
        }
        let text = out.split_off(start);
        let text = if braces {
            out::escape_template(&text)
        } else {
            text
        };
        if marker {
            push_inline(out, &text, self.fragments);
        } else {
            out.push_str(&text);
        }
    }

    fn null_entry(&mut self, out: &mut String, key: &str, ind: usize, first_in_item: bool) -> bool {
        assert!(
            !(first_in_item && key.starts_with("mpx")),
            "a line marker as a list item's first key: {key}"
        );
        let Some(Fragment::Lines(lines)) = marker_index(key).and_then(|i| self.fragments.get(i))
        else {
            return false;
        };
        for l in lines {
            push_spaces(out, ind);
            push_indented(out, l, ind);
            out.push('\n');
        }
        true
    }
}

/// Whether `b` holds `{{`, and whether it holds `mpx`: one pass.
fn scan(b: &[u8]) -> (bool, bool) {
    // `memchr2` skips the bytes that are neither (most of every scalar).
    let (mut braces, mut marker) = (false, false);
    for i in memchr::memchr2_iter(b'{', b'm', b) {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => braces = true,
            b'm' if b[i + 1..].starts_with(b"px") => marker = true,
            _ => {}
        }
    }
    (braces, marker)
}

pub(super) fn marker_index(s: &str) -> Option<usize> {
    s.strip_prefix("mpx")?.strip_suffix('x')?.parse().ok()
}

fn push_spaces(out: &mut String, n: usize) {
    crate::yaml_write::indent(out, n);
}

/// `line` with each `{N}` (N = 0..=4) replaced by `indent + N`: a fragment
/// line's placeholders for the indentation of the marker it replaces.
fn push_indented(out: &mut String, line: &str, indent: usize) {
    let mut rest = line;
    while let Some(i) = rest.find('{') {
        let b = rest.as_bytes();
        match (b.get(i + 1), b.get(i + 2)) {
            (Some(d @ b'0'..=b'4'), Some(b'}')) => {
                out.push_str(&rest[..i]);
                let _ = write!(out, "{}", indent + usize::from(d - b'0'));
                rest = &rest[i + 3..];
            }
            _ => {
                out.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
}

/// `text` with each inline marker `mpxNx` replaced by its fragment.
fn push_inline(out: &mut String, text: &str, fragments: &[Fragment]) {
    let mut rest = text;
    while let Some(i) = rest.find("mpx") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 3..];
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        let idx = tail[..digits].parse::<usize>().ok();
        match (idx, tail[digits..].starts_with('x')) {
            (Some(n), true) => {
                match fragments.get(n) {
                    Some(Fragment::Inline(t)) => out.push_str(t),
                    _ => panic!("marker mpx{n}x has no inline fragment"),
                }
                rest = &tail[digits + 1..];
            }
            _ => {
                out.push_str("mpx");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::{self, Mode};
    use serde_json::json;

    /// The two-pass form this module replaced: the whole YAML text
    /// escaped, then markers replaced line by line.
    fn escape_then_substitute(v: &Value, fragments: &[Fragment]) -> String {
        let yaml = out::escape_template(&yaml_write::to_string(v));
        let mut o = String::new();
        for line in yaml.lines() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if let Some(key) = trimmed.strip_suffix(": null") {
                if let Some(Fragment::Lines(lines)) =
                    marker_index(key).and_then(|i| fragments.get(i))
                {
                    for l in lines {
                        push_spaces(&mut o, indent);
                        push_indented(&mut o, l, indent);
                        o.push('\n');
                    }
                    continue;
                }
            }
            push_inline(&mut o, line, fragments);
            o.push('\n');
        }
        o
    }

    fn one_pass(v: &Value, fragments: &[Fragment]) -> String {
        let mut o = String::new();
        write(&mut o, v, fragments);
        o
    }

    #[test]
    fn markers_escapes_and_indentation() {
        let fragments = vec![
            Fragment::Inline("{{ $svc.replicas }}".into()),
            Fragment::Lines(vec![
                "{{- with .Values.x }}".into(),
                "key:".into(),
                "  {{- toYaml . | nindent {2} }}".into(),
                "{{- end }}".into(),
            ]),
            Fragment::Inline("\"{{ .Release.Namespace }}\"".into()),
        ];
        let v = json!({
            "spec": {
                "replicas": "mpx0x",
                "template": {"mpx1x": null, "n": null},
                "items": [{"name": "{{ not code }}", "ns": "mpx2x"}, "a{{b"],
                "script": "x\n{{ y }}\n",
            },
            "{{k": "v",
        });
        let expected = "spec:\n  replicas: {{ $svc.replicas }}\n  template:\n    {{- with .Values.x }}\n    key:\n      {{- toYaml . | nindent 6 }}\n    {{- end }}\n    \"n\": null\n  items:\n  - name: \"{{ \"{{\" }} not code }}\"\n    ns: \"{{ .Release.Namespace }}\"\n  - a{{ \"{{\" }}b\n  script: |\n    x\n    {{ \"{{\" }} y }}\n\"{{ \"{{\" }}k\": v\n";
        assert_eq!(one_pass(&v, &fragments), expected);
        assert_eq!(escape_then_substitute(&v, &fragments), expected);
    }

    #[test]
    #[should_panic(expected = "a line marker as a list item's first key")]
    fn a_line_marker_first_in_a_list_item_is_refused() {
        let fragments = vec![Fragment::Lines(vec!["a: b".into()])];
        one_pass(&json!({"l": [{"mpx0x": null}]}), &fragments);
    }

    /// Every object of the committed policies and of a synthesized one, in
    /// Helm mode: byte for byte what the two-pass form gives.
    #[test]
    fn one_pass_equals_escape_then_substitute() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut models = vec![];
        for dir in [
            "policies",
            "tests/policies/good",
            "tests/policies/workloads",
        ] {
            let dir = root.join(dir);
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_none_or(|x| x != "yaml") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                if !text.contains("kind: MeshPolicy") {
                    continue; // a file a policy packs, not a policy
                }
                let read = |f: &str| std::fs::read_to_string(dir.join(f));
                let shown = p.display().to_string();
                let c = crate::compile_policy(&shown, &text, None, &read)
                    .unwrap_or_else(|e| panic!("{shown}: {e:?}"));
                models.push(c.model);
            }
        }
        let text = crate::synthetic::policy(&crate::synthetic::Shape {
            services: 60,
            ..Default::default()
        });
        models.push(crate::compile_model(&text, None).unwrap());
        let mut docs = 0;
        for m in &models {
            emit::each(m, Mode::Helm, &mut |f| {
                for d in &f.docs {
                    docs += 1;
                    assert_eq!(
                        one_pass(&d.value, &f.out.fragments),
                        escape_then_substitute(&d.value, &f.out.fragments),
                        "{} {}",
                        m.name,
                        f.path
                    );
                }
            });
        }
        assert!(docs > 500, "{docs}");
    }
}
