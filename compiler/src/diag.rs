//! Diagnostics: what was found, where, what was expected and what to do.
//!
//! Invariant: every stage reports problems in user input as [`Diagnostic`]s
//! with a stable code; user input never panics. Rendering is rustc-like
//! (file:line:column, the source line and a caret) via `codespan-reporting`.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use std::fmt;

/// A position in a source file: 1-based line, 1-based column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `E0102`; tests and users match on it.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub pos: Option<Pos>,
    /// What was expected, or what to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            pos: None,
            help: None,
        }
    }

    pub fn at(mut self, pos: Option<Pos>) -> Self {
        self.pos = pos;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// One line: `file:line:col: error[CODE]: message`.
    pub fn short(&self, file: &str) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let msg = visible(&self.message);
        match self.pos {
            Some(p) => format!("{file}:{p}: {sev}[{}]: {msg}", self.code),
            None => format!("{file}: {sev}[{}]: {msg}", self.code),
        }
    }

    /// rustc-like rendering with the source line and a caret under the token.
    pub fn render(&self, file: &str, source: &str) -> String {
        let sf = SimpleFile::new(file, source);
        let base = match self.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
        }
        .with_code(self.code)
        .with_message(visible(&self.message));
        let mut d = base;
        if let Some(p) = self.pos {
            if let Some(range) = token_range(source, p) {
                d = d.with_labels(vec![Label::primary((), range)]);
            }
        }
        if let Some(h) = &self.help {
            d = d.with_notes(vec![format!("help: {}", visible(h))]);
        }
        let config = term::Config::default();
        let mut out = term::emit_into_string(&config, &sf, &d)
            .unwrap_or_else(|_| format!("{}\n", self.short(file)));
        if self.pos.is_none() {
            // codespan prints no location for unlabelled diagnostics.
            out = out.replacen('\n', &format!("\n  --> {file}\n"), 1);
        }
        out
    }
}

/// The byte range of the token starting at `pos`: up to the next blank or
/// YAML flow indicator, at least one character.
fn token_range(source: &str, pos: Pos) -> Option<std::ops::Range<usize>> {
    let line_start: usize = source
        .split_inclusive('\n')
        .take(pos.line.saturating_sub(1))
        .map(str::len)
        .sum();
    let line = source[line_start..].split('\n').next().unwrap_or("");
    let col_byte = line
        .char_indices()
        .nth(pos.col.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let rest = &line[col_byte..];
    let mut len = 0;
    let mut quote = None;
    for (i, c) in rest.char_indices() {
        match quote {
            Some(q) if c == q && i > 0 => {
                len = i + c.len_utf8();
                break;
            }
            Some(_) => len = i + c.len_utf8(),
            None if i == 0 && (c == '"' || c == '\'') => {
                quote = Some(c);
                len = 1;
            }
            None if c.is_whitespace() || ",{}[]#".contains(c) => break,
            None if c == ':' && rest[i + 1..].starts_with([' ', '\t']) => break,
            None if c == ':' && i + 1 == rest.len() => break,
            None => len = i + c.len_utf8(),
        }
    }
    let start = line_start + col_byte;
    Some(start..start + len.max(1).min(line.len().saturating_sub(col_byte).max(1)))
}

/// Whether a person cannot see `c` where it is printed: control and
/// format characters (zero-width spaces and joiners, bidirectional
/// overrides, the byte-order mark, soft hyphen), and line separators.
fn invisible(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// Text for a terminal: every invisible character as a `\u{..}` escape,
/// so `a\u{200b}b` does not print as `ab`.
pub fn visible(s: &str) -> String {
    if !s.chars().any(invisible) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if invisible(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// User text in a message: in backticks, line breaks and invisible
/// characters escaped; the empty string said in words.
pub fn quoted(s: &str) -> String {
    if s.is_empty() {
        return "the empty string".into();
    }
    format!("`{}`", visible(&s.replace('\n', "\\n")))
}

/// "did you mean" for a name close to one of `known`.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min()
        .map(|(_, k)| k.to_string())
}

/// Errors from a stage, in source order; a stage with any error yields no output.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.0.sort_by_key(|d| d.pos);
        self.0.dedup();
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_token() {
        let src = "a: 1\nb: postgress\n";
        let d = Diagnostic::error("E0001", "unknown service `postgress`")
            .at(Some(Pos { line: 2, col: 4 }))
            .help("did you mean `postgres`?");
        let out = d.render("p.yaml", src);
        assert!(
            out.contains("error[E0001]: unknown service `postgress`"),
            "{out}"
        );
        assert!(out.contains("p.yaml:2:4"), "{out}");
        assert!(out.contains("^^^^^^^^^"), "{out}");
        assert!(out.contains("help: did you mean `postgres`?"), "{out}");
    }

    #[test]
    fn token_stops_at_flow_indicators_and_keeps_quotes() {
        let src = "x: {to: apii, y: \"a b\"}\n";
        assert_eq!(token_range(src, Pos { line: 1, col: 9 }), Some(8..12));
        assert_eq!(token_range(src, Pos { line: 1, col: 18 }), Some(17..22));
    }

    #[test]
    fn invisible_characters_are_escaped() {
        let d = Diagnostic::error(
            "E0210",
            format!("service name {} is bad", quoted("a\u{200b}b\n")),
        )
        .help("not \u{202e}this");
        let out = d.render("p.yaml", "");
        assert!(
            out.contains("service name `a\\u{200b}b\\n` is bad"),
            "{out}"
        );
        assert!(out.contains("help: not \\u{202e}this"), "{out}");
        assert_eq!(quoted(""), "the empty string");
    }

    #[test]
    fn suggests_close_names_only() {
        let known = ["postgres", "api", "kafka"];
        assert_eq!(suggest("postgress", known), Some("postgres".into()));
        assert_eq!(suggest("apu", known), Some("api".into()));
        assert_eq!(suggest("redis", known), None);
    }
}
