//! Load a YAML policy (or profile, or image lock) into typed values,
//! keeping source positions.
//!
//! Invariant: the only module that knows serde_yaml; positions come from
//! `crate::yaml_pos` (the low-level YAML reader the manifest side uses
//! too), looked up by path by later stages.

use crate::diag::{Diagnostic, Pos};
pub use crate::yaml_pos::Spans;
use crate::yaml_pos::{forbidden_char, scan, strip_bom};
use serde::de::DeserializeOwned;

/// Largest policy accepted; real policies are a few kilobytes.
pub(crate) const MAX_BYTES: usize = 4 << 20;
// Aliases may copy at most as much text as a whole policy holds.
const _: () = assert!(crate::yaml_pos::MAX_ALIAS_BYTES == MAX_BYTES);

#[derive(Debug)]
pub struct Loaded<T> {
    pub doc: T,
    pub spans: Spans,
}

pub fn load<T: DeserializeOwned>(text: &str) -> Result<Loaded<T>, Vec<Diagnostic>> {
    load_checked(text, None)
}

/// Load, first checking the document against a JSON Schema so that every
/// structural mistake is reported at once (serde stops at the first).
pub(crate) fn load_checked<T: DeserializeOwned>(
    text: &str,
    schema: Option<(&jsonschema::Validator, &serde_json::Value)>,
) -> Result<Loaded<T>, Vec<Diagnostic>> {
    let text = strip_bom(text);
    if text.len() > MAX_BYTES {
        return Err(vec![Diagnostic::error(
            "E0001",
            format!(
                "file is {} bytes; at most {MAX_BYTES} are accepted",
                text.len()
            ),
        )
        .help(
            "a policy describes services and rules; split generated data out of it",
        )]);
    }
    if let Some(d) = forbidden_char(text) {
        return Err(vec![d]);
    }
    let (spans, tree) = scan_and_parse(text, schema.is_some());
    let spans = spans?;
    if let Some(d) = reserved_marker(text, &spans) {
        return Err(vec![d]);
    }
    let (mut diags, deferred) = match schema {
        Some((v, s)) => match tree.expect("parsed when there is a schema") {
            Ok(value) => {
                let (diags, deferred) = super::check::schema_errors(v, s, &value, &spans);
                // A document the schema accepts is read from the tree just
                // built instead of parsed a second time: the second parse
                // held serde_yaml's whole event list (50 MiB at 10,000
                // services, heaptrack) beside the spans and the typed doc.
                // Where the tree does not convert, the YAML parse below
                // decides as before, with its positions.
                if diags.is_empty() {
                    if let Ok(doc) = T::deserialize(value) {
                        return Ok(Loaded { doc, spans });
                    }
                }
                (diags, deferred)
            }
            Err(e) => return Err(vec![serde_error(&e)]),
        },
        None => (vec![], true),
    };
    match serde_yaml::from_str::<T>(text) {
        Ok(doc) if diags.is_empty() => Ok(Loaded { doc, spans }),
        Ok(_) => Err(diags),
        Err(e) => {
            // serde's message adds to the schema's only where it says
            // something new (the short forms' own messages).
            let d = serde_error(&e);
            let new_line = !diags
                .iter()
                .any(|x| x.pos.map(|p| p.line) == d.pos.map(|p| p.line));
            if (deferred || diags.is_empty()) && new_line {
                diags.push(d);
            }
            diags.sort_by_key(|d| d.pos);
            Err(diags)
        }
    }
}

/// Above this size the position scan and serde's parse run side by side
/// (each is about a tenth of compiling a 10,000-service policy).
const PARALLEL_BYTES: usize = 64 << 10;

/// The positions (which also reject duplicate keys, deep nesting and alias
/// bombs) and, when `parse`, serde's tree of the same text. The two are
/// independent reads of the text; serde_yaml bounds recursion and alias
/// expansion on its own (`RecursionLimitExceeded`, `RepetitionLimitExceeded`
/// in serde_yaml 0.9 `de.rs`), so it may run before the scan's verdict.
#[allow(clippy::type_complexity)]
fn scan_and_parse(
    text: &str,
    parse: bool,
) -> (
    Result<Spans, Vec<Diagnostic>>,
    Option<Result<serde_json::Value, serde_yaml::Error>>,
) {
    let tree = || parse.then(|| serde_yaml::from_str::<serde_json::Value>(text));
    if text.len() < PARALLEL_BYTES {
        return (scan(text), tree());
    }
    std::thread::scope(|s| {
        // yaml-rust2 recurses per nesting level: the main thread's stack size.
        let scanner = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(s, || scan(text));
        match scanner {
            Ok(h) => {
                let tree = tree();
                let spans = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                (spans, tree)
            }
            Err(_) => (scan(text), tree()),
        }
    })
}

/// The chart's templates are written with `mpx<N>x` markers in place of
/// install-time expressions (`emit::out`), substituted after the YAML is
/// serialised; a policy string holding that text would be substituted too,
/// so it is refused. Strings are read as parsed, so an escaped spelling
/// (`"mp\x78"`) is caught as well.
/// The first `mpx<N>x` in `s`: the form of the chart templates' markers.
pub(crate) fn marker_in(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(i) = rest.find("mpx") {
        let tail = &rest[i + 3..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with('x') {
            return Some(&rest[i..i + 3 + digits + 1]);
        }
        rest = tail;
    }
    None
}

fn reserved_marker(text: &str, spans: &Spans) -> Option<Diagnostic> {
    use serde_json::Value;
    /// The marker text and where it is: (path, is a key).
    fn find(v: &Value, path: &str) -> Option<(String, String, bool)> {
        let join = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match v {
            Value::String(s) => marker_in(s).map(|m| (m.to_string(), path.to_string(), false)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, x)| find(x, &format!("{path}[{i}]"))),
            Value::Object(o) => o.iter().find_map(|(k, x)| match marker_in(k) {
                Some(m) => Some((m.to_string(), join(k), true)),
                None => find(x, &join(k)),
            }),
            _ => None,
        }
    }
    if !text.contains("mpx") && !text.contains('\\') {
        return None;
    }
    let value = serde_yaml::from_str::<Value>(text).ok()?;
    let (found, path, key) = find(&value, "")?;
    let pos = if key {
        spans.key(&path)
    } else {
        spans.value(&path)
    };
    Some(
        Diagnostic::error(
            "E0009",
            format!("`{found}` is the form of meshpack's template markers and cannot appear in a policy"),
        )
        .at(pos)
        .help("change the text (e.g. `mpx-1-x`): meshpack writes `mpx<N>x` into chart templates in place of install-time values"),
    )
}

fn serde_error(e: &serde_yaml::Error) -> Diagnostic {
    let pos = e.location().map(|l| Pos {
        line: l.line(),
        col: l.column(),
    });
    // serde_yaml appends " at line L column C"; the position is shown apart.
    let mut msg = e.to_string();
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    let (msg, help) = split_expected(msg);
    let d = Diagnostic::error("E0010", msg).at(pos);
    match help {
        Some(h) => d.help(h),
        None => d,
    }
}

/// serde says "unknown field `x`, expected one of ..."; the second half is help.
fn split_expected(msg: String) -> (String, Option<String>) {
    if msg.contains("unknown field") || msg.contains("unknown variant") {
        if let Some(i) = msg.find(", expected") {
            return (msg[..i].to_string(), Some(msg[i + 2..].to_string()));
        }
    }
    if msg.contains("missing field") {
        return (
            msg,
            Some("add the field; `meshpack schema` prints every field".into()),
        );
    }
    (msg, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyFile;

    /// The doc read from the schema's tree is the doc serde_yaml reads from
    /// the text, for every policy of the repository, the good test policies
    /// and a synthetic one (the fast path must change nothing).
    #[test]
    fn the_tree_gives_the_same_policy_as_a_second_parse() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut texts = vec![crate::synthetic::policy(&crate::synthetic::Shape::default())];
        for dir in ["policies", "tests/policies/good"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect();
            paths.sort();
            assert!(!paths.is_empty(), "{dir} holds policies");
            texts.extend(paths.iter().map(|p| std::fs::read_to_string(p).unwrap()));
        }
        let (validator, schema) = crate::policy::validator();
        for text in &texts {
            let loaded = load_checked::<PolicyFile>(text, Some((validator, schema)))
                .unwrap_or_else(|d| panic!("{d:?}"));
            let parsed: PolicyFile = serde_yaml::from_str(strip_bom(text)).unwrap();
            assert_eq!(format!("{:?}", loaded.doc), format!("{parsed:?}"));
        }
    }

    /// Hostile documents give the same diagnostics, codes and positions,
    /// whether the scan runs before serde's parse (small files) or beside
    /// it (large ones: here the same text padded with a long comment).
    #[test]
    fn the_scan_beside_the_parse_rejects_what_it_rejects_alone() {
        let bomb = crate::yaml_pos::tests::alias_bomb();
        let deep = "a: ".to_string() + &"[".repeat(100) + &"]".repeat(100) + "\n";
        let duplicate =
            "apiVersion: meshpack.dev/v1alpha2\nkind: Policy\nkind: Policy\n".to_string();
        let tagged = "apiVersion: !secret meshpack.dev/v1alpha2\n".to_string();
        let (validator, schema) = crate::policy::validator();
        let errors = |text: &str| {
            load_checked::<PolicyFile>(text, Some((validator, schema)))
                .expect_err("rejected")
                .iter()
                .map(|d| (d.code, d.pos))
                .collect::<Vec<_>>()
        };
        let padding = format!("# {}\n", "x".repeat(PARALLEL_BYTES));
        for (code, text) in [
            ("E0006", bomb),
            ("E0005", deep),
            ("E0003", duplicate),
            ("E0007", tagged),
        ] {
            let alone = errors(&text);
            assert!(alone.iter().any(|(c, _)| *c == code), "{code}: {alone:?}");
            assert_eq!(errors(&(text.clone() + &padding)), alone, "{code}");
        }
    }
}
