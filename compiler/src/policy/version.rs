//! Policy apiVersions: which are accepted, which is deprecated, and
//! `meshpack migrate`, which rewrites a file from one to the next.
//!
//! Invariant: a migration edits only the scalars it changes, in place, so
//! every comment, key order and blank line of the file survives; the result
//! is text for the loader like any other policy (the command loads it
//! before writing it).
//!
//! The versions, oldest first, and what each step changes:
//! - `meshpack.dev/v1alpha1` -> `meshpack.dev/v1alpha2`: adds `spec.upgrades`
//!   (renamed and removed services and chart values); nothing is renamed,
//!   so the step rewrites `apiVersion` only.

use super::types::{API_VERSION, POLICY_API_VERSION};
use crate::diag::{Diagnostic, Pos, Severity};

/// Policy apiVersions, oldest first; the last is current.
pub const VERSIONS: [&str; 2] = [API_VERSION, POLICY_API_VERSION];

/// Warnings about a policy that loads: a deprecated apiVersion.
pub fn warnings(text: &str) -> Vec<Diagnostic> {
    // `api_version` returns the scalar's raw text, so a deprecated version
    // is always a substring of the file: most files skip the second parse
    // (5% of compiling a 10,000-service policy).
    if !text.contains(API_VERSION) {
        return vec![];
    }
    let Some((found, pos)) = api_version(text) else {
        return vec![];
    };
    if found != API_VERSION {
        return vec![];
    }
    vec![Diagnostic {
        code: "E0350",
        severity: Severity::Warning,
        message: format!("apiVersion `{API_VERSION}` is deprecated"),
        pos: Some(pos),
        help: Some(format!(
            "run `meshpack migrate FILE` to rewrite it as `{POLICY_API_VERSION}` (comments are kept)"
        )),
    }]
}

/// The `apiVersion` scalar of a document and where it starts.
fn api_version(text: &str) -> Option<(String, Pos)> {
    let spans = crate::yaml_pos::positions(text)?;
    let pos = spans.value("apiVersion")?;
    let line = text.lines().nth(pos.line - 1)?;
    let rest: String = line.chars().skip(pos.col - 1).collect();
    let value = match rest.chars().next()? {
        q @ ('"' | '\'') => rest[1..].split(q).next()?.to_string(),
        // A plain scalar ends at a blank, or at a flow indicator in `{...}`.
        _ => rest
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '}' | ']'))
            .next()?
            .to_string(),
    };
    Some((value, pos))
}

/// What `migrate` did.
#[derive(Debug, PartialEq, Eq)]
pub struct Migrated {
    pub from: String,
    pub to: &'static str,
    /// The rewritten file; equal to the input when it was already current.
    pub text: String,
}

/// Rewrite a policy to the current apiVersion, one step at a time.
pub fn migrate(text: &str) -> Result<Migrated, Diagnostic> {
    let Some((from, pos)) = api_version(text) else {
        return Err(Diagnostic::error(
            "E0201",
            "no `apiVersion` scalar found at the top of the document",
        )
        .help(format!(
            "a policy starts with `apiVersion: {POLICY_API_VERSION}`"
        )));
    };
    let Some(step) = VERSIONS.iter().position(|v| *v == from) else {
        return Err(Diagnostic::error(
            "E0201",
            format!("unsupported apiVersion `{}`", crate::diag::visible(&from)),
        )
        .at(Some(pos))
        .help(format!("meshpack migrates {}", VERSIONS.join(" -> "))));
    };
    let mut out = text.to_string();
    for next in &VERSIONS[step + 1..] {
        // v1alpha1 -> v1alpha2 renames nothing: only the apiVersion changes.
        out = replace_at(&out, pos, VERSIONS[step], next);
    }
    Ok(Migrated {
        from,
        to: POLICY_API_VERSION,
        text: out,
    })
}

/// `text` with the first `old` at or after `pos` on its line replaced by `new`.
fn replace_at(text: &str, pos: Pos, old: &str, new: &str) -> String {
    let mut out = String::with_capacity(text.len() + new.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == pos.line {
            let start: usize = line.chars().take(pos.col - 1).map(char::len_utf8).sum();
            let (head, tail) = line.split_at(start);
            out.push_str(head);
            out.push_str(&tail.replacen(old, new, 1));
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "# Shop: the vendor's policy.\napiVersion: meshpack.dev/v1alpha1   # the language version\nkind: MeshPolicy\nmetadata: {name: shop}  # keep\nspec:\n  version: 1.0.0\n  services:\n    # the web tier\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n";

    #[test]
    fn migrates_keeping_comments_and_layout() {
        let m = migrate(V1).unwrap();
        assert_eq!(m.from, "meshpack.dev/v1alpha1");
        assert_eq!(m.to, "meshpack.dev/v1alpha2");
        assert_eq!(
            m.text,
            V1.replace(
                "apiVersion: meshpack.dev/v1alpha1   #",
                "apiVersion: meshpack.dev/v1alpha2   #"
            )
        );
        // The result compiles, and without the deprecation warning.
        crate::compile_model(&m.text, None).unwrap();
        assert!(warnings(&m.text).is_empty());
        // Migrating a current file changes nothing.
        assert_eq!(migrate(&m.text).unwrap().text, m.text);
    }

    #[test]
    fn migrates_quoted_and_flow_forms() {
        let quoted = V1.replace(
            "apiVersion: meshpack.dev/v1alpha1",
            "apiVersion: \"meshpack.dev/v1alpha1\"",
        );
        let m = migrate(&quoted).unwrap();
        assert!(m.text.contains("apiVersion: \"meshpack.dev/v1alpha2\"   #"));
        let flow = "{apiVersion: meshpack.dev/v1alpha1, kind: MeshPolicy, metadata: {name: a}, spec: {version: 1.0.0, services: {web: {image: 'r.example.com/web:1'}}}}\n";
        let m = migrate(flow).unwrap();
        assert_eq!(m.from, "meshpack.dev/v1alpha1");
        assert_eq!(m.text, flow.replace("v1alpha1", "v1alpha2"));
    }

    #[test]
    fn warns_about_the_old_version_where_it_is() {
        let w = warnings(V1);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "E0350");
        assert_eq!(w[0].severity, Severity::Warning);
        assert_eq!(w[0].pos, Some(Pos { line: 2, col: 13 }));
        // Both versions compile during the transition.
        crate::compile_model(V1, None).unwrap();
    }

    #[test]
    fn refuses_unknown_versions() {
        let d = migrate(&V1.replace("v1alpha1", "v9")).unwrap_err();
        assert_eq!(d.code, "E0201");
        assert_eq!(d.pos, Some(Pos { line: 2, col: 13 }));
    }
}
