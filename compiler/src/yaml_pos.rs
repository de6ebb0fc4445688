//! YAML with positions: the low-level reader both front ends use (the
//! policy loader, `policy::load`, and the manifest reader, `manifest`).
//!
//! Invariant: the one place that walks yaml-rust2's events for positions.
//! serde_yaml gives positions only for syntax and type errors, so a pass
//! over the events builds a table from a node's path
//! (`spec.allow[3].from[0]`) to its position; callers look positions up by
//! path. The same pass rejects what serde_yaml would accept silently or too
//! late: duplicate keys, several documents, deep nesting and alias bombs.
//! Depends on nothing in the crate but `diag` and `keyed_hash`.

use crate::diag::{Diagnostic, Pos};
use crate::keyed_hash::Keyed;
use std::collections::{HashMap, HashSet};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::Marker;

/// Deepest nesting accepted; the policy language needs about eight levels.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to once aliases are resolved.
pub(crate) const MAX_NODES: usize = 200_000;
/// Most bytes of scalar text aliases may add to a document: a few
/// aliases of one long string stay under [`MAX_NODES`] yet copy it
/// thousands of times, so nodes alone do not bound memory. As large as the
/// largest policy (`policy::load::MAX_BYTES`).
pub(crate) const MAX_ALIAS_BYTES: usize = 4 << 20;

/// Positions of the nodes of one document, by path. Paths are kept as the
/// 64-bit FNV-1a hash of their text, computed while scanning a segment at
/// a time ([`PathKey`]): a 10,000-service policy has ~500,000 nodes, and
/// a `String` per node was the scan's main cost. Two paths of one document
/// sharing a hash (odds ~1e-8 at that size) would only swap the positions
/// of two diagnostics; the maps' own hasher stays keyed ([`Keyed`]), so
/// a hostile file cannot make its lookups slow.
#[derive(Debug, Default)]
pub struct Spans {
    values: HashMap<u64, Pos, Keyed>,
    keys: HashMap<u64, Pos, Keyed>,
}

impl Spans {
    /// Where the value at `path` starts.
    pub(crate) fn value(&self, path: &str) -> Option<Pos> {
        self.values.get(&PathKey::of(path)).copied()
    }
    /// Where the key naming `path` starts (falls back to the value).
    pub(crate) fn key(&self, path: &str) -> Option<Pos> {
        self.keys
            .get(&PathKey::of(path))
            .copied()
            .or_else(|| self.value(path))
    }
}

/// The FNV-1a hash of a path's text, extended a segment at a time: the key
/// of `a.b[3]` made as `ROOT.key("a").key("b").index(3)` equals
/// `PathKey::of("a.b[3]")`, because FNV-1a reads bytes in order and keeps
/// no other state.
#[derive(Debug, Clone, Copy)]
struct PathKey {
    hash: u64,
    /// Whether the path's text is empty (a key then takes no leading `.`).
    empty: bool,
}

impl PathKey {
    const ROOT: PathKey = PathKey {
        hash: 0xcbf2_9ce4_8422_2325,
        empty: true,
    };

    fn bytes(mut hash: u64, bytes: &[u8]) -> u64 {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }

    fn of(path: &str) -> u64 {
        Self::bytes(Self::ROOT.hash, path.as_bytes())
    }

    /// The path of `key` in the mapping at this path (see [`join`]).
    fn key(self, key: &str) -> PathKey {
        let hash = if self.empty {
            self.hash
        } else {
            Self::bytes(self.hash, b".")
        };
        PathKey {
            hash: Self::bytes(hash, key.as_bytes()),
            empty: self.empty && key.is_empty(),
        }
    }

    /// The path of item `i` of the sequence at this path (`path[i]`).
    fn index(self, i: usize) -> PathKey {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = i;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let hash = Self::bytes(self.hash, b"[");
        let hash = Self::bytes(hash, &digits[at..]);
        PathKey {
            hash: Self::bytes(hash, b"]"),
            empty: false,
        }
    }
}

/// Positions of the nodes of a YAML document, by path (`spec.ports[0].name`),
/// for callers that read YAML another way but want to point at a line.
pub(crate) fn positions(text: &str) -> Option<Spans> {
    scan(text).ok()
}

/// The text without a leading UTF-8 byte-order mark, which YAML allows at
/// the start of a stream (YAML 1.2 section 5.2) and editors on Windows write.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Whether YAML allows `c` in a stream: its printable set (YAML 1.2
/// section 5.1, `c-printable`), line breaks included.
pub(crate) fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{85}')
        || (' '..='\u{7e}').contains(&c)
        || ('\u{a0}'..='\u{d7ff}').contains(&c)
        || ('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}'
        || c >= '\u{10000}'
}

/// The first character YAML does not allow, with its position: a NUL or
/// other control byte is reported where it is, not at 1:1.
pub(crate) fn forbidden_char(text: &str) -> Option<Diagnostic> {
    // Almost every policy is printable ASCII: one pass over the bytes,
    // which the compiler vectorises, settles it. Line by line with
    // `chars()` was ~1% of compiling 10,000 services, on one core before
    // any other work starts. Any other byte (UTF-8 or a control
    // character) goes the slow way, which finds and places it.
    let plain = |b: &u8| matches!(b, b' '..=b'~' | b'\t' | b'\n' | b'\r');
    if text.as_bytes().iter().all(plain) {
        return None;
    }
    for (i, line) in text.split('\n').enumerate() {
        if let Some((col, c)) = line.chars().enumerate().find(|(_, c)| !yaml_printable(*c)) {
            return Some(
                Diagnostic::error(
                    "E0008",
                    format!("the character U+{:04X} is not allowed in YAML", c as u32),
                )
                .at(Some(Pos {
                    line: i + 1,
                    col: col + 1,
                }))
                .help(
                    "remove it; a file with NUL bytes is binary or UTF-16, save it as UTF-8 text",
                ),
            );
        }
    }
    None
}

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

/// Where a container sits in its parent: the last segment of its path.
/// A path's text is made from the open frames' segments only when a
/// message needs it ([`Scan::path_text`]): made for every container, it
/// was a `format!` per node.
enum Seg {
    Root,
    Key(String),
    Index(usize),
    /// A complex key (`? [a, b]`): serde rejects it later; the path is `?`.
    Complex,
}

/// The keys of one mapping seen so far: a list scanned for a mapping's
/// few keys (a hash set per mapping cost more than the scan), a keyed
/// set beyond [`SCAN_KEYS`], so a hostile mapping stays linear.
#[derive(Default)]
struct Keys {
    list: Vec<String>,
    set: Option<HashSet<String>>,
}

/// Keys of one mapping held in a list before a set takes them.
const SCAN_KEYS: usize = 16;

impl Keys {
    /// Whether `k` is new (and remember it).
    fn insert(&mut self, k: &str) -> bool {
        if let Some(set) = &mut self.set {
            return !set.contains(k) && set.insert(k.to_string());
        }
        if self.list.iter().any(|x| x == k) {
            return false;
        }
        self.list.push(k.to_string());
        if self.list.len() > SCAN_KEYS {
            self.set = Some(self.list.drain(..).collect());
        }
        true
    }
}

enum Frame {
    Map {
        seg: Seg,
        at: PathKey,
        key: Option<String>,
        seen: Keys,
        anchor: usize,
        nodes: usize,
        bytes: usize,
    },
    Seq {
        seg: Seg,
        at: PathKey,
        next: usize,
        anchor: usize,
        nodes: usize,
        bytes: usize,
    },
}

#[derive(Default)]
struct Scan {
    spans: Spans,
    stack: Vec<Frame>,
    /// Expanded size of each anchored node: (nodes, scalar bytes).
    anchors: HashMap<usize, (usize, usize)>,
    documents: usize,
    nodes: usize,
    /// Scalar bytes added by aliases.
    alias_bytes: usize,
    errors: Vec<Diagnostic>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Scan {
    /// The path of the node that starts now, advancing the parent, and its
    /// last segment (containers keep it for messages).
    fn next_path(&mut self) -> (PathKey, Seg) {
        match self.stack.last_mut() {
            None => (PathKey::ROOT, Seg::Root),
            Some(Frame::Map { at, key, .. }) => {
                let k = key.take().unwrap_or_default();
                (at.key(&k), Seg::Key(k))
            }
            Some(Frame::Seq { at, next, .. }) => {
                *next += 1;
                (at.index(*next - 1), Seg::Index(*next - 1))
            }
        }
    }

    /// The text of the innermost open container's path (`spec.allow[3]`).
    fn path_text(&self) -> String {
        let mut path = String::new();
        for f in &self.stack {
            let (Frame::Map { seg, .. } | Frame::Seq { seg, .. }) = f;
            match seg {
                Seg::Root => {}
                Seg::Key(k) => path = join(&path, k),
                Seg::Index(i) => path = format!("{path}[{i}]"),
                Seg::Complex => path = "?".to_string(),
            }
        }
        path
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// Count `n` expanded nodes of `b` scalar bytes towards the document
    /// and the open containers.
    fn count(&mut self, n: usize, b: usize) {
        self.nodes = self.nodes.saturating_add(n);
        if let Some(Frame::Map { nodes, bytes, .. } | Frame::Seq { nodes, bytes, .. }) =
            self.stack.last_mut()
        {
            *nodes = nodes.saturating_add(n);
            *bytes = bytes.saturating_add(b);
        }
    }

    /// A tag other than YAML's own (`!!str`...) means nothing to serde but
    /// "an enum"; say so where it is.
    fn tag(&mut self, tag: Option<&Tag>, at: Pos) {
        if let Some(t) = tag {
            if t.handle != "tag:yaml.org,2002:" {
                self.errors.push(
                    Diagnostic::error(
                        "E0007",
                        format!(
                            "the YAML tag `{}{}` has no meaning here",
                            t.handle, t.suffix
                        ),
                    )
                    .at(Some(at))
                    .help("remove the tag; quote the value if it is meant as text"),
                );
            }
        }
    }

    fn push(&mut self, f: Frame, at: Pos) {
        self.stack.push(f);
        if self.stack.len() == MAX_DEPTH + 1 {
            self.errors.push(
                Diagnostic::error("E0005", format!("nesting deeper than {MAX_DEPTH} levels"))
                    .at(Some(at))
                    .help("the policy language needs only a few levels"),
            );
        }
    }

    fn pop(&mut self) {
        if let Some(
            Frame::Map {
                anchor,
                nodes,
                bytes,
                ..
            }
            | Frame::Seq {
                anchor,
                nodes,
                bytes,
                ..
            },
        ) = self.stack.pop()
        {
            if anchor != 0 {
                self.anchors.insert(anchor, (nodes + 1, bytes));
            }
            if let Some(
                Frame::Map {
                    nodes: n, bytes: b, ..
                }
                | Frame::Seq {
                    nodes: n, bytes: b, ..
                },
            ) = self.stack.last_mut()
            {
                *n = n.saturating_add(nodes);
                *b = b.saturating_add(bytes);
            }
        }
    }
}

impl MarkedEventReceiver for Scan {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = pos(&mark);
        match ev {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(value, _, anchor, tag) => {
                self.tag(tag.as_ref(), at);
                let len = value.len();
                if self.expecting_key() {
                    let new = match self.stack.last_mut() {
                        Some(Frame::Map { seen, .. }) => seen.insert(&value),
                        _ => true,
                    };
                    if !new {
                        let full = join(&self.path_text(), &value);
                        self.errors.push(
                            Diagnostic::error("E0003", format!("duplicate key `{value}`"))
                                .at(Some(at))
                                .help(format!(
                                    "`{full}` is already set above; keep one of the two"
                                )),
                        );
                    }
                    if let Some(Frame::Map { at: here, key, .. }) = self.stack.last_mut() {
                        self.spans.keys.insert(here.key(&value).hash, at);
                        *key = Some(value);
                    }
                } else {
                    let (p, _) = self.next_path();
                    self.spans.values.insert(p.hash, at);
                    if anchor != 0 {
                        self.anchors.insert(anchor, (1, len));
                    }
                }
                self.count(1, len);
            }
            Event::Alias(id) => {
                if !self.expecting_key() {
                    let (p, _) = self.next_path();
                    self.spans.values.insert(p.hash, at);
                } else if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                    *key = Some("*alias".into());
                }
                let (n, b) = self.anchors.get(&id).copied().unwrap_or((1, 0));
                self.count(n, b);
                self.alias_bytes = self.alias_bytes.saturating_add(b);
                let past = if self.nodes > MAX_NODES {
                    Some(format!("{MAX_NODES} nodes"))
                } else if self.alias_bytes > MAX_ALIAS_BYTES {
                    Some(format!("{MAX_ALIAS_BYTES} bytes of copied text"))
                } else {
                    None
                };
                if let Some(past) = past {
                    if !self.errors.iter().any(|e| e.code == "E0006") {
                        self.errors.push(
                            Diagnostic::error(
                                "E0006",
                                format!("aliases expand the document past {past}"),
                            )
                            .at(Some(at))
                            .help("write the values out, or use fewer nested aliases"),
                        );
                    }
                }
            }
            Event::MappingStart(anchor, ref tag) | Event::SequenceStart(anchor, ref tag) => {
                self.tag(tag.as_ref(), at);
                let is_map = matches!(ev, Event::MappingStart(..));
                let (here, seg) = if self.expecting_key() {
                    // A complex key: serde rejects it later; keep paths sane.
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some("?".into());
                    }
                    (PathKey::ROOT.key("?"), Seg::Complex)
                } else {
                    self.next_path()
                };
                self.spans.values.insert(here.hash, at);
                let frame = if is_map {
                    Frame::Map {
                        seg,
                        at: here,
                        key: None,
                        seen: Keys::default(),
                        anchor,
                        nodes: 0,
                        bytes: 0,
                    }
                } else {
                    Frame::Seq {
                        seg,
                        at: here,
                        next: 0,
                        anchor,
                        nodes: 0,
                        bytes: 0,
                    }
                };
                self.nodes += 1;
                self.push(frame, at);
            }
            Event::MappingEnd | Event::SequenceEnd => self.pop(),
            _ => {}
        }
    }
}

pub(crate) fn scan(text: &str) -> Result<Spans, Vec<Diagnostic>> {
    let mut s = Scan::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut s, true) {
        let m = e.marker();
        return Err(vec![Diagnostic::error(
            "E0002",
            format!("YAML syntax error: {}", e.info()),
        )
        .at(Some(pos(m)))
        .help("check indentation and quoting near this position")]);
    }
    if s.documents == 0 || (s.nodes == 1 && s.spans.value("").is_some() && text.trim().is_empty()) {
        s.errors.push(
            Diagnostic::error("E0004", "the file holds no document")
                .help("a policy starts with `apiVersion: meshpack.dev/v1alpha1`"),
        );
    } else if s.documents > 1 {
        s.errors.push(
            Diagnostic::error(
                "E0004",
                format!("the file holds {} YAML documents", s.documents),
            )
            .help("put one policy in each file"),
        );
    }
    if s.errors.is_empty() {
        Ok(s.spans)
    } else {
        Err(s.errors)
    }
}
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(&'static str, Option<Pos>)> {
        match scan(text) {
            Ok(_) => vec![],
            Err(d) => d.into_iter().map(|d| (d.code, d.pos)).collect(),
        }
    }

    #[test]
    fn paths_and_positions() {
        let s = scan("spec:\n  allow:\n    - {from: api, to: [a, b]}\n").unwrap();
        assert_eq!(
            s.value("spec.allow[0].from"),
            Some(Pos { line: 3, col: 14 })
        );
        assert_eq!(
            s.value("spec.allow[0].to[1]"),
            Some(Pos { line: 3, col: 27 })
        );
        assert_eq!(s.key("spec.allow"), Some(Pos { line: 2, col: 3 }));
    }

    #[test]
    fn a_path_key_made_by_segments_is_the_key_of_the_whole_text() {
        let r = PathKey::ROOT;
        for (made, text) in [
            (
                r.key("spec").key("allow").index(3).key("from").index(12),
                "spec.allow[3].from[12]",
            ),
            (r.key("").key("x"), "x"),
            (r.index(0).key("k"), "[0].k"),
            (r.key("a.b").index(100), "a.b[100]"),
            (r.key("ключ").key(""), "ключ."),
            (r, ""),
        ] {
            assert_eq!(made.hash, PathKey::of(text), "{text}");
        }
        assert_ne!(PathKey::of("a[1]"), PathKey::of("a[10]"));
    }

    #[test]
    fn positions_of_keys_values_and_sequences_at_every_depth() {
        let s = scan("a:\n  - x\n  - {b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}\n").unwrap();
        assert_eq!(s.value("a[0]"), Some(Pos { line: 2, col: 5 }));
        assert_eq!(s.value("a[1]"), Some(Pos { line: 3, col: 5 }));
        assert_eq!(s.key("a[1].b"), Some(Pos { line: 3, col: 6 }));
        assert_eq!(s.value("a[1].b[10]"), Some(Pos { line: 3, col: 41 }));
        assert_eq!(s.value("a[1].b[11]"), None);
        assert_eq!(s.key("a"), Some(Pos { line: 1, col: 1 }));
        assert_eq!(s.value("a"), Some(Pos { line: 2, col: 3 }));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        assert_eq!(
            codes("a: 1\nb: {c: 1, c: 2}\n"),
            vec![("E0003", Some(Pos { line: 2, col: 11 }))]
        );
    }

    /// The message names the whole path of a duplicate key, made from the
    /// open containers' segments, at every kind of nesting; a mapping with
    /// more keys than a list holds finds its duplicates too.
    #[test]
    fn a_duplicate_key_is_named_by_its_whole_path() {
        let helps = |text: &str| -> Vec<(String, Option<String>, Option<Pos>)> {
            scan(text)
                .expect_err("a duplicate key")
                .into_iter()
                .map(|d| (d.message, d.help, d.pos))
                .collect()
        };
        let many: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        let flow = format!(
            "top:\n  - {{{}, k39: 0}}\n",
            many.trim_end().replace('\n', ", ")
        );
        for (text, want, line) in [
            ("a: 1\na: 2\n", "`a`", 2),
            (
                "s:\n  l:\n    - x\n    - {m: [{k: 1, k: 2}]}\n",
                "`s.l[1].m[0].k`",
                4,
            ),
            ("? [c]\n: {k: 1, k: 2}\n", "`?.k`", 2),
            (&format!("{many}k7: 0\n"), "`k7`", 41),
            (&flow, "`top[0].k39`", 2),
        ] {
            let key = want.trim_matches('`').rsplit(['.', ']']).next().unwrap();
            // The second spelling of the key: the last on its line.
            let col = text.lines().nth(line - 1).unwrap().rfind(key).unwrap() + 1;
            let got = helps(text);
            let expected = (
                format!("duplicate key `{key}`"),
                Some(format!("{want} is already set above; keep one of the two")),
                Some(Pos { line, col }),
            );
            assert!(got.contains(&expected), "{text}: {got:?}");
        }
    }

    #[test]
    fn several_documents_are_rejected() {
        assert_eq!(codes("a: 1\n---\nb: 2\n")[0].0, "E0004");
    }

    /// Nine levels of nine aliases each: 9^9 nodes once expanded.
    pub(crate) fn alias_bomb() -> String {
        let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            y.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        y
    }

    #[test]
    fn alias_bomb_is_stopped() {
        assert_eq!(codes(&alias_bomb())[0].0, "E0006");
    }

    #[test]
    fn deep_nesting_is_stopped() {
        let y = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(codes(&y)[0].0, "E0005");
    }

    #[test]
    fn syntax_error_has_position() {
        let c = codes("a: [1, 2\nb: 3\n");
        assert_eq!(c[0].0, "E0002");
        assert!(c[0].1.is_some());
    }

    #[test]
    fn forbidden_characters_are_found_and_placed_past_the_ascii_fast_path() {
        let at = |t: &str| forbidden_char(t).map(|d| (d.pos.map(|p| (p.line, p.col)), d.message));
        assert_eq!(at("a: b\n\tc: 'd'\r\n"), None);
        // UTF-8 text is allowed: the slow path runs and finds nothing.
        assert_eq!(at("a: caf\u{e9}\nb: \u{1F600}\n"), None);
        assert_eq!(
            at("a: b\nc: d\u{0}e\n"),
            Some((
                Some((2, 5)),
                "the character U+0000 is not allowed in YAML".into()
            ))
        );
        // After a multi-byte character, columns count characters.
        assert_eq!(
            at("a: \u{e9}\u{7f}\n"),
            Some((
                Some((1, 5)),
                "the character U+007F is not allowed in YAML".into()
            ))
        );
        assert_eq!(
            at("x: \u{feff}\n"),
            Some((
                Some((1, 4)),
                "the character U+FEFF is not allowed in YAML".into()
            ))
        );
        assert_eq!(
            at("x: \u{80}\n"),
            Some((
                Some((1, 4)),
                "the character U+0080 is not allowed in YAML".into()
            ))
        );
    }
}
