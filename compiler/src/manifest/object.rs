//! One object of a manifest stream, in two forms: [`Parsed`], as read (a
//! `serde_json::Value` and, for documents read from text, the source, so
//! a schema finding can point at the line of a field), and [`Object`],
//! what the mesh checks and `verify` read (a compact [`Node`] tree and the
//! line the document starts at).
//!
//! Invariant: positions come from `crate::yaml_pos`, the reader the policy
//! loader uses too; a line is always one the input has. Readers that need
//! a `serde_json::Value` (the schema and CEL checks, CRDs read as schemas)
//! take `Parsed`; readers of many objects (`validate`'s mesh checks,
//! `verify`) take `Object`, which holds the same values in far less memory.

use super::files::FileId;
use super::node::{Interner, Node};
use serde_json::Value;
use std::ops::Range;
use std::sync::Arc;

/// One object of the input, as read.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The file it was read from, shared by every object of that file (one
    /// allocation per file, not per object: a million objects read from one
    /// file kept a million copies of its name).
    pub file: Arc<str>,
    /// 1-based line where its document starts.
    pub line: usize,
    pub value: Value,
    /// The source text and the byte range of this object's document (None
    /// for items of a `List`, which share one document).
    pub text: Option<(Arc<str>, Range<usize>)>,
}

/// One object as the checks read it: the same values as the [`Parsed`] it
/// came from, without the source text. 16 bytes besides its tree (a
/// million are kept): its file is a number in the process's table of
/// file names (`files`), its line 32 bits.
#[derive(Debug, Clone)]
pub struct Object {
    pub value: Node,
    file: FileId,
    line: u32,
}

impl Object {
    /// An object read from `file` at `line` (for readers that build trees
    /// themselves).
    pub fn new(file: &str, line: usize, value: Node) -> Object {
        Object {
            value,
            file: FileId::of(file),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        }
    }

    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file(), self.line)
    }
    /// The file it was read from.
    pub fn file(&self) -> &'static str {
        self.file.name()
    }
    /// 1-based line where its document starts.
    pub fn line(&self) -> usize {
        self.line as usize
    }
}

impl Parsed {
    /// The compact form, its strings shared through `strings`.
    pub fn into_object(self, strings: &mut Interner) -> Object {
        Object {
            file: strings.file(&self.file),
            // A line past 2^32 would need a 4 GiB document before it.
            line: u32::try_from(self.line).unwrap_or(u32::MAX),
            value: strings.node(self.value),
        }
    }
}

/// Objects as the checks read them, strings shared among them all.
pub fn compact(parsed: Vec<Parsed>) -> Vec<Object> {
    let mut strings = Interner::default();
    parsed
        .into_iter()
        .map(|p| p.into_object(&mut strings))
        .collect()
}

/// The accessors both forms have (`Node` and `Value` read alike).
macro_rules! ids {
    ($t:ty) => {
        impl $t {
            pub fn api_version(&self) -> &str {
                self.value["apiVersion"].as_str().unwrap_or("")
            }
            pub fn kind(&self) -> &str {
                self.value["kind"].as_str().unwrap_or("")
            }
            pub fn name(&self) -> &str {
                self.value["metadata"]["name"].as_str().unwrap_or("")
            }
            /// The object's namespace, or `default_ns` when it names none.
            pub fn namespace<'a>(&'a self, default_ns: &'a str) -> &'a str {
                self.value["metadata"]["namespace"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(default_ns)
            }
            pub fn group(&self) -> &str {
                self.api_version()
                    .rsplit_once('/')
                    .map(|(g, _)| g)
                    .unwrap_or("")
            }
            /// `Kind/name`, or `Kind/namespace/name` when namespaced.
            pub fn id(&self) -> String {
                match self.value["metadata"]["namespace"].as_str() {
                    Some(ns) if !ns.is_empty() => {
                        format!("{}/{}/{}", self.kind(), ns, self.name())
                    }
                    _ => format!("{}/{}", self.kind(), self.name()),
                }
            }
        }
    };
}
ids!(Parsed);
ids!(Object);

impl Parsed {
    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The line of the node at a JSON pointer (`/spec/replicas`), or of the
    /// nearest ancestor found; the document's first line otherwise.
    pub fn line_of(&self, pointer: &str) -> usize {
        let Some((text, range)) = &self.text else {
            return self.line;
        };
        let Some(spans) = crate::yaml_pos::positions(&text[range.clone()]) else {
            return self.line;
        };
        let mut parts: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|p| p.replace("~1", "/").replace("~0", "~"))
            .collect();
        while !parts.is_empty() {
            let mut path = String::new();
            for p in &parts {
                if p.chars().all(|c| c.is_ascii_digit()) && !path.is_empty() {
                    path.push_str(&format!("[{p}]"));
                } else {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(p);
                }
            }
            if let Some(pos) = spans.key(&path) {
                return self.line + pos.line - 1;
            }
            parts.pop();
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The objects of a file share one number for its name, however long;
    /// an object is 16 bytes besides its tree.
    #[test]
    fn objects_share_their_file_name_and_are_16_bytes() {
        assert_eq!(std::mem::size_of::<Object>(), 16);
        let long: Arc<str> = Arc::from(format!("{}/m.yaml", "d".repeat(300)).as_str());
        let other: Arc<str> = Arc::from("other.yaml");
        let parsed = |file: &Arc<str>, line| Parsed {
            file: file.clone(),
            line,
            value: serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "c"}}),
            text: None,
        };
        let objects = compact(vec![parsed(&long, 1), parsed(&long, 5), parsed(&other, 1)]);
        assert_eq!(objects[0].file(), &*long);
        assert_eq!(objects[1].location(), format!("{long}:5"));
        assert_eq!(objects[0].file, objects[1].file);
        assert_eq!(objects[2].file(), "other.yaml");
        assert_eq!((objects[2].line(), objects[1].line()), (1, 5));
        assert_eq!(objects[2].id(), "ConfigMap/c");
    }
}
