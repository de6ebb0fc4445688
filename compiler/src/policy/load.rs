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
    let spans = scan(text)?;
    let (mut diags, deferred) = match schema {
        Some((v, s)) => match serde_yaml::from_str::<serde_json::Value>(text) {
            Ok(value) => super::check::schema_errors(v, s, &value, &spans),
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
