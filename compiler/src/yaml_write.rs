//! YAML text of JSON values, written directly: block style as kubectl and
//! Helm print it, sequences not indented under their key, and a string
//! plain only when every YAML 1.1 and 1.2 reader (Helm's go-yaml, kyaml,
//! libyaml) reads it back as that same string; otherwise double-quoted.
//!
//! Written here rather than through serde_yaml because serialising every
//! object through libyaml's event emitter was a quarter of a large
//! compile's time. The golden, equivalence and hostile-input tests read the
//! output back with Helm, kustomize and serde_yaml.
//!
//! Invariant: the one YAML writer of every emitted file (`emit` writes
//! install-time fragments with it, `package` whole files); depends on
//! nothing in the crate but `yaml_pos`.

use serde_json::{Map, Value};

/// One document, ending in a newline.
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(1024);
    write(&mut out, v, &mut Plain);
    out
}

/// What a writer of template text adds to plain YAML (`package::markers`
/// writes chart templates in the same pass as their YAML).
pub trait Hooks {
    /// `out[start..]` is the text of one key or string just written
    /// (plain, quoted or a literal block); the hook may rewrite it.
    fn scalar(&mut self, out: &mut String, start: usize);
    /// A map entry `key: null` about to be written at indentation `ind`
    /// (`first_in_item`: right after a list item's `- `). Returns whether
    /// the hook wrote something in its place.
    fn null_entry(&mut self, out: &mut String, key: &str, ind: usize, first_in_item: bool) -> bool;
}

/// Plain YAML: no hooks.
pub(crate) struct Plain;

/// A map key (or any string scalar) as [`write`] writes it: plain when
/// safe, else double-quoted.
pub(crate) fn key(out: &mut String, k: &str) {
    string(out, k, &mut Plain);
}

impl Hooks for Plain {
    #[inline]
    fn scalar(&mut self, _: &mut String, _: usize) {}
    #[inline]
    fn null_entry(&mut self, _: &mut String, _: &str, _: usize, _: bool) -> bool {
        false
    }
}

/// One document appended to `out`, ending in a newline, through `h`.
pub fn write<H: Hooks>(out: &mut String, v: &Value, h: &mut H) {
    match v {
        Value::Object(m) if !m.is_empty() => map(out, m, 0, false, h),
        Value::Array(a) if !a.is_empty() => seq(out, a, 0, false, h),
        other => {
            scalar(out, other, h);
            out.push('\n');
        }
    }
}

/// `n` spaces: copied from one constant (pushing them one `char` at a time
/// was a visible share of writing 80 MB of templates, perf).
pub(crate) fn indent(out: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

/// A mapping at `ind`; `inline` when the first key follows a `- ` already written.
fn map<H: Hooks>(out: &mut String, m: &Map<String, Value>, ind: usize, inline: bool, h: &mut H) {
    for (i, (k, v)) in m.iter().enumerate() {
        let first_in_item = i == 0 && inline;
        if v.is_null() && h.null_entry(out, k, ind, first_in_item) {
            continue;
        }
        if !first_in_item {
            indent(out, ind);
        }
        string(out, k, h);
        out.push(':');
        after_key(out, v, ind, h);
    }
}

fn after_key<H: Hooks>(out: &mut String, v: &Value, ind: usize, h: &mut H) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(out, m, ind + 2, false, h);
        }
        // Kubernetes style: a sequence's dashes at its key's indentation.
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            seq(out, a, ind, false, h);
        }
        Value::String(s) if literal_is_safe(s) => {
            let start = out.len();
            literal(out, s, ind + 2);
            h.scalar(out, start);
        }
        other => {
            out.push(' ');
            scalar(out, other, h);
            out.push('\n');
        }
    }
}

/// Whether a multi-line string can be written as a literal block (`|`,
/// or `|-` without a final newline) and read back unchanged by every
/// reader: only printable characters and `\n` (YAML 1.1 also breaks lines
/// at U+0085, U+2028, U+2029), no trailing blanks on a line, no leading
/// blank on the first non-empty line (it sets the indentation), one final
/// newline at most (chomping).
fn literal_is_safe(s: &str) -> bool {
    let body = s.strip_suffix('\n').unwrap_or(s);
    let first = body.split('\n').find(|l| !l.is_empty()).unwrap_or("");
    body.contains('\n')
        && !body.ends_with('\n')
        && !first.starts_with([' ', '\t'])
        && body
            .split('\n')
            .all(|l| l.trim_end_matches([' ', '\t']) == l && l.chars().all(raw_ok))
}

/// A literal block at indentation `ind`, after its key.
fn literal(out: &mut String, s: &str, ind: usize) {
    let body = s.strip_suffix('\n');
    out.push_str(if body.is_some() { " |\n" } else { " |-\n" });
    for line in body.unwrap_or(s).split('\n') {
        if !line.is_empty() {
            indent(out, ind);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn seq<H: Hooks>(out: &mut String, a: &[Value], ind: usize, inline: bool, h: &mut H) {
    for (i, item) in a.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, ind);
        }
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                map(out, m, ind + 2, true, h);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push(' ');
                seq(out, inner, ind + 2, true, h);
            }
            other => {
                out.push(' ');
                scalar(out, other, h);
                out.push('\n');
            }
        }
    }
}

fn scalar<H: Hooks>(out: &mut String, v: &Value, h: &mut H) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s, h),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn string<H: Hooks>(out: &mut String, s: &str, h: &mut H) {
    let start = out.len();
    if plain_is_safe(s) {
        out.push_str(s);
    } else {
        quoted(out, s);
    }
    h.scalar(out, start);
}

/// Words YAML 1.1 or 1.2 resolves to null or a boolean, and its value and merge keys.
const RESERVED: [&str; 12] = [
    "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", "=", "<<",
];

/// Whether `c` may appear raw in a scalar: printable for YAML (not U+FFFE,
/// say), and no control character, line separator or byte-order mark.
fn raw_ok(c: char) -> bool {
    crate::yaml_pos::yaml_printable(c)
        && !c.is_control()
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Whether `s` written plain reads back as the string `s` everywhere.
/// One pass over the bytes: this runs for every key and string written.
fn plain_is_safe(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    // Indicators; a leading `.` is only a problem for numbers (`.5`, `.inf`).
    // `matches!` rather than `[u8]::contains`, which calls memchr: this
    // runs for every key and string of a chart (millions at 10,000
    // services), and byte by byte below.
    if matches!(
        first,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b' '
    ) {
        return false;
    }
    if matches!(b[b.len() - 1], b' ' | b':') {
        return false;
    }
    // Anything a reader might take for a number, a date or a time
    // (YAML 1.1 has hex, octal, binary, base 60, underscores; .inf, .nan).
    let mut numberish = true;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'#' => return false,
            b':' if b.get(i + 1) == Some(&b' ') => return false,
            0x20..=0x7e => {}
            // Not printable ASCII: the rest is judged by characters.
            _ => {
                let rest = &s[i..];
                if rest.contains('#') || rest.contains(": ") || !rest.chars().all(raw_ok) {
                    return false;
                }
                numberish = false;
                break;
            }
        }
        numberish = numberish
            && (c.is_ascii_hexdigit()
                || matches!(
                    c,
                    b'+' | b'-'
                        | b'.'
                        | b'_'
                        | b':'
                        | b'x'
                        | b'X'
                        | b'o'
                        | b'O'
                        | b'b'
                        | b'B'
                        | b't'
                        | b'T'
                        | b'z'
                        | b'Z'
                        | b' '
                ));
    }
    if b.len() <= 5 && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    let starts_numeric = first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.');
    if numberish && starts_numeric && s != "." {
        return false;
    }
    let special_float = s.trim_start_matches(['+', '-']);
    if special_float.eq_ignore_ascii_case(".inf") || special_float.eq_ignore_ascii_case(".nan") {
        return false;
    }
    true
}

/// A double-quoted scalar: `"` and `\` escaped, and every character YAML
/// does not allow printed raw (C0, DEL, C1, line and paragraph separators,
/// the byte-order mark, U+FFFE and U+FFFF) as `\u` escapes.
fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if !raw_ok(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_like_kubectl() {
        let v = json!({
            "apiVersion": "v1",
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"ports": [{"name": "http", "port": 80}, {"port": 81}], "empty": {}, "none": [], "n": null},
            "list": [["a", "b"], "c"],
        });
        assert_eq!(
            to_string(&v),
            "apiVersion: v1\nmetadata:\n  name: a\n  labels:\n    app.kubernetes.io/name: x\nspec:\n  ports:\n  - name: http\n    port: 80\n  - port: 81\n  empty: {}\n  none: []\n  \"n\": null\nlist:\n- - a\n  - b\n- c\n"
        );
    }

    /// Every string reads back as itself, whatever the reader.
    #[test]
    fn strings_round_trip() {
        let tricky = [
            "",
            " ",
            "a ",
            " a",
            "true",
            "True",
            "yes",
            "NO",
            "on",
            "y",
            "~",
            "null",
            "8080",
            "2.3.0",
            "1e3",
            "0x1F",
            "0o17",
            "1_000",
            "1:20",
            ".5",
            ".inf",
            "-.inf",
            ".NaN",
            "2024-10-13",
            "2001-12-14t21:59:43.10-05:00",
            "-",
            "- a",
            "a: b",
            "a:",
            "#c",
            "a #c",
            "a#c",
            "*",
            "&a",
            "!t",
            "|",
            ">",
            "'q",
            "\"q",
            "%x",
            "@x",
            "`x",
            "{a}",
            "[a]",
            "?",
            ",",
            "a\nb",
            "a\nb\n",
            "a\n\nb\n",
            "a\nb\n\n",
            " a\nb\n",
            "\n a\nb\n",
            "a\n  b\n\tc\n",
            "a \nb",
            "a\n b\n",
            "\na",
            "a\n",
            "a\r\nb\n",
            "a\n#b\n- c\n{{ x }}: y\n",
            "tab\there",
            "\u{7f}",
            "\u{85}",
            "\u{2028}",
            "\u{feff}x",
            "\u{fffe}",
            "a\u{ffff}\nb\n",
            "ünïcode",
            "./api.ns.svc.cluster.local",
            "istio-system/*",
            "cluster.local/ns/x/sa/y",
            "mpx12x",
            "=",
            "<<",
        ];
        for s in tricky {
            let text = to_string(&json!({ "k": s, s: 1 }));
            let back: Value =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{s:?}: {e}\n{text}"));
            assert_eq!(back["k"], json!(s), "{text}");
            assert_eq!(back[s], json!(1), "{text}");
        }
        assert_eq!(to_string(&json!({"k": "mpx3x"})), "k: mpx3x\n");
        assert_eq!(
            to_string(&json!({"k": {"l": "a\n\nb: c\n"}, "m": "x\ny"})),
            "k:\n  l: |\n    a\n\n    b: c\nm: |-\n  x\n  y\n"
        );
        assert_eq!(to_string(&json!({"k": "8080"})), "k: \"8080\"\n");
    }

    /// The definition `plain_is_safe` computes in one pass.
    fn plain_is_safe_by_rules(s: &str) -> bool {
        let Some(first) = s.chars().next() else {
            return false;
        };
        if "-?:,[]{}#&*!|>'\"%@` ".contains(first) || s.ends_with(' ') || s.ends_with(':') {
            return false;
        }
        if s.contains(": ") || s.contains('#') || s.chars().any(|c| !raw_ok(c)) {
            return false;
        }
        if s.len() <= 5 && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            return false;
        }
        let numberish = s
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "+-._:xXoObBtTzZ ".contains(c));
        let starts_numeric = first.is_ascii_digit() || "+-.".contains(first);
        if numberish && starts_numeric && s != "." {
            return false;
        }
        let f = s.trim_start_matches(['+', '-']);
        !(f.eq_ignore_ascii_case(".inf") || f.eq_ignore_ascii_case(".nan"))
    }

    /// Every string of up to three characters from an alphabet of the
    /// characters the rules name (ASCII and not), and longer mixes.
    #[test]
    fn plain_is_safe_follows_its_rules() {
        let alphabet: Vec<char> = "a0x.:# -+_eE\t\u{7f}\u{85}\u{a0}\u{2028}\u{feff}ü{\"'~nNyY"
            .chars()
            .collect();
        let mut words = vec![String::new()];
        let mut last = words.clone();
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            words.extend(last.iter().cloned());
        }
        for extra in [
            "ü #x",
            "ü: x",
            "üa:b",
            "0x1F",
            "1_000",
            "2024-10-13",
            ".Inf",
            "-.nan",
            "on",
            "Null",
            "a\u{85}",
            "ab c: d",
            "x:y",
            "üx#",
        ] {
            words.push(extra.to_string());
        }
        for w in &words {
            assert_eq!(plain_is_safe(w), plain_is_safe_by_rules(w), "{w:?}");
        }
        assert!(words.len() > 10_000, "{}", words.len());
    }
}
