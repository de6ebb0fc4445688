//! Read manifests: multi-document YAML or JSON from files, folders and
//! standard input, each object with the file and line it starts at.
//!
//! Invariant: reads rendered manifests only, never the compiler's model;
//! documents are cut at the same lines whether a source is read whole
//! (`split`) or streamed (`DocReader`).

use super::object::Parsed;
use serde_json::Value;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A document that could not be read as an object.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// What a folder search found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Files to read, in order.
    pub files: Vec<PathBuf>,
    /// Kustomize's own files (`kustomization.yaml`...) inside folders,
    /// passed over: they are build instructions, not objects (a file named
    /// on the command line is read whatever its name).
    pub kustomizations: Vec<PathBuf>,
}

impl Expanded {
    /// A note for the person running the command when Kustomize's files
    /// were passed over; `None` otherwise.
    pub fn note(&self) -> Option<String> {
        let first = self.kustomizations.first()?;
        let dir = first.parent().unwrap_or(Path::new("."));
        Some(format!(
            "note: passed over {} Kustomize file(s) such as {}: they say how to build objects, they are not objects; to check what they build, run `kubectl kustomize {} | meshpack <command> -`",
            self.kustomizations.len(),
            first.display(),
            dir.display()
        ))
    }
}

/// The file names Kustomize reads as a kustomization
/// (<https://kubectl.docs.kubernetes.io/references/kustomize/glossary/#kustomization-root>).
const KUSTOMIZATION_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Files to read: the paths given, folders searched for `*.yaml|*.yml|*.json`.
pub fn expand(paths: &[PathBuf]) -> std::io::Result<Expanded> {
    let mut out = Expanded::default();
    for p in paths {
        if p.is_dir() {
            let mut found = vec![];
            walk(p, &mut found)?;
            found.sort();
            for f in found {
                let kustomize = f
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| KUSTOMIZATION_NAMES.contains(&n));
                if kustomize {
                    out.kustomizations.push(f);
                } else {
                    out.files.push(f);
                }
            }
        } else if p.exists() || p.as_os_str() == "-" {
            out.files.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or folder", p.display()),
            ));
        }
    }
    Ok(out)
}

/// Most bytes read from one manifest file or standard input.
pub const MAX_SOURCE_BYTES: usize = 128 << 20;

/// Files under a folder. Links inside it are refused, not followed: a
/// folder from a pull request must not make CI read (and print) files
/// outside it, nor loop forever.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        let ty = e.file_type()?;
        if ty.is_symlink() {
            return Err(std::io::Error::other(format!(
                "{}: a symbolic link inside a folder; meshpack does not follow them (name the file itself)",
                p.display()
            )));
        }
        if ty.is_dir() {
            walk(&p, out)?;
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// A file's name and text, at most [`MAX_SOURCE_BYTES`].
pub fn read_source(path: &Path) -> std::io::Result<(String, String)> {
    let text = crate::fsread::read_text(path, MAX_SOURCE_BYTES)?;
    if path.as_os_str() == "-" {
        Ok(("stdin".into(), text))
    } else {
        Ok((path.display().to_string(), text))
    }
}

/// Split a YAML stream at `---` lines, keeping each document's first line.
fn documents(text: &str) -> Vec<(usize, Range<usize>)> {
    let mut docs = vec![];
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        // A byte-order mark may open the stream (YAML 1.2 section 5.2).
        let l = line.trim_start_matches('\u{feff}').trim_end();
        if l == "---" || l.starts_with("--- ") || l == "..." {
            docs.push((start_line, start..offset));
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    docs.push((start_line, start..text.len()));
    docs
}

/// Documents of one source read as a stream, one at a time: only the
/// document being read is held, so `validate` runs in memory bounded by
/// what it keeps of each object, not by the size of the input. Documents
/// are cut as `documents` cuts a whole text (same lines, same start line).
pub struct DocReader<R> {
    file: Arc<str>,
    reader: R,
    /// 1-based number of the next line to read.
    next_line: usize,
    done: bool,
}

impl<R: std::io::BufRead> DocReader<R> {
    pub fn new(file: &str, reader: R) -> Self {
        DocReader {
            file: Arc::from(file),
            reader,
            next_line: 1,
            done: false,
        }
    }
}

impl<R: std::io::BufRead> Iterator for DocReader<R> {
    type Item = std::io::Result<Doc>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start_line = self.next_line;
        let mut text = String::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            match self.reader.read_until(b'\n', &mut line) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {}
            }
            self.next_line += 1;
            let l = match std::str::from_utf8(&line) {
                Ok(l) => l,
                Err(e) => {
                    self.done = true;
                    return Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("line {}: not UTF-8: {e}", self.next_line - 1),
                    )));
                }
            };
            let t = l.trim_end();
            if t == "---" || t.starts_with("--- ") || t == "..." {
                break;
            }
            text.push_str(l);
        }
        let range = 0..text.len();
        Some(Ok(Doc {
            file: self.file.clone(),
            line: start_line,
            text: Arc::from(text),
            range,
        }))
    }
}

/// A source to stream: standard input for `-`, else the file.
pub fn open_source(path: &Path) -> std::io::Result<(String, Box<dyn std::io::BufRead + Send>)> {
    const BUF: usize = 1 << 20;
    if path.as_os_str() == "-" {
        Ok((
            "stdin".into(),
            Box::new(std::io::BufReader::with_capacity(BUF, std::io::stdin())),
        ))
    } else {
        let f = std::fs::File::open(path)?;
        Ok((
            path.display().to_string(),
            Box::new(std::io::BufReader::with_capacity(BUF, f)),
        ))
    }
}

/// Parse one source into objects; `List` kinds are flattened.
pub fn parse(file: &str, text: &str, objects: &mut Vec<Parsed>, errors: &mut Vec<ReadError>) {
    for doc in split(file, text) {
        parse_doc(&doc, objects, errors);
    }
}

/// One YAML document of a source, not parsed yet.
pub struct Doc {
    pub file: Arc<str>,
    pub line: usize,
    pub text: Arc<str>,
    pub range: Range<usize>,
}

/// Cut a source into documents (cheap; parsing them can then run in parallel).
pub fn split(file: &str, text: &str) -> Vec<Doc> {
    let shared: Arc<str> = Arc::from(text);
    let file: Arc<str> = Arc::from(file);
    documents(text)
        .into_iter()
        .map(|(line, range)| Doc {
            file: file.clone(),
            line,
            text: shared.clone(),
            range,
        })
        .collect()
}

pub fn parse_doc(d: &Doc, objects: &mut Vec<Parsed>, errors: &mut Vec<ReadError>) {
    let (file, line) = (&*d.file, d.line);
    match super::yaml11::parse(&d.text[d.range.clone()]) {
        Ok(Value::Null) => {}
        Ok(value @ Value::Object(_)) => push(
            &d.file,
            line,
            value,
            Some((d.text.clone(), d.range.clone())),
            objects,
        ),
        Ok(other) => errors.push(ReadError {
            file: file.into(),
            line,
            message: format!("expected an object, found {}", kind_of(&other)),
        }),
        Err(e) => errors.push(ReadError {
            file: file.into(),
            line: line + e.line - 1,
            message: format!("column {}: {}", e.col, e.message),
        }),
    }
}

fn push(
    file: &Arc<str>,
    line: usize,
    value: Value,
    text: Option<(Arc<str>, Range<usize>)>,
    objects: &mut Vec<Parsed>,
) {
    let is_list = value["kind"]
        .as_str()
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && value["items"].is_array();
    if is_list {
        for item in value["items"].as_array().into_iter().flatten() {
            push(file, line, item.clone(), None, objects);
        }
        return;
    }
    objects.push(Parsed {
        file: file.clone(),
        line,
        value,
        text,
    });
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_pass_over_kustomize_files_and_named_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "base/kustomization.yaml",
            "base/api.yaml",
            "overlays/x/kustomization.yml",
            "overlays/x/patch.yaml",
            "overlays/x/notes.txt",
        ] {
            std::fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
            std::fs::write(d.join(f), "kind: X\n").unwrap();
        }
        let named = d.join("base/kustomization.yaml");
        let got = expand(&[d.to_path_buf(), named.clone()]).unwrap();
        assert_eq!(
            got,
            Expanded {
                files: vec![
                    d.join("base/api.yaml"),
                    d.join("overlays/x/patch.yaml"),
                    named
                ],
                kustomizations: vec![
                    d.join("base/kustomization.yaml"),
                    d.join("overlays/x/kustomization.yml")
                ],
            }
        );
        assert_eq!(
            got.note().unwrap(),
            format!(
                "note: passed over 2 Kustomize file(s) such as {}: they say how to build objects, they are not objects; to check what they build, run `kubectl kustomize {} | meshpack <command> -`",
                d.join("base/kustomization.yaml").display(),
                d.join("base").display()
            )
        );
        let plain = expand(&[d.join("base/api.yaml")]).unwrap();
        assert_eq!(plain.note(), None);
    }

    #[test]
    fn documents_keep_their_lines_and_lists_flatten() {
        let text =
            "# c\n---\na: 1\nkind: X\n---\n\n---\nkind: List\nitems:\n- {kind: A}\n- {kind: B}\n";
        let (mut o, mut e) = (vec![], vec![]);
        parse("f", text, &mut o, &mut e);
        assert!(e.is_empty());
        let got: Vec<(usize, &str)> = o.iter().map(|x| (x.line, x.kind())).collect();
        assert_eq!(got, vec![(3, "X"), (8, "A"), (8, "B")]);
    }

    #[test]
    fn the_stream_cuts_documents_as_the_whole_text_does() {
        let text = "# c\n---\na: 1\nkind: X\n--- \n\n...\nkind: List\nitems:\n- {kind: A}\n---";
        let streamed: Vec<(usize, String)> = DocReader::new("f", text.as_bytes())
            .map(|d| {
                let d = d.unwrap();
                (d.line, d.text[d.range.clone()].to_string())
            })
            .collect();
        let whole: Vec<(usize, String)> = split("f", text)
            .into_iter()
            .map(|d| (d.line, d.text[d.range.clone()].to_string()))
            .collect();
        assert_eq!(streamed, whole);
        assert_eq!(
            streamed,
            vec![
                (1, "# c\n".to_string()),
                (3, "a: 1\nkind: X\n".to_string()),
                (6, "\n".to_string()),
                (8, "kind: List\nitems:\n- {kind: A}\n".to_string()),
                (12, String::new()),
            ]
        );
    }

    #[test]
    fn duplicate_keys_and_scalars_are_errors() {
        let (mut o, mut e) = (vec![], vec![]);
        parse("f", "kind: A\nkind: B\n---\n- 1\n", &mut o, &mut e);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].message.contains("duplicate"), "{}", e[0].message);
        assert_eq!(
            (e[1].line, e[1].message.as_str()),
            (4, "expected an object, found a list")
        );
    }
}
