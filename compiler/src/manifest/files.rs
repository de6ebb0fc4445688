//! The names of the files objects are read from, numbered once per
//! process, so that an [`Object`](super::Object) names its file with a
//! 4-byte number instead of an 8-byte pointer (with a 4-byte line, an
//! object is 16 bytes, not 24: 8 MB at a million objects).
//!
//! Invariant: a name is added once and never removed or changed, so a
//! number, once given, names the same file for the rest of the process.
//! The table grows with the distinct file names a process reads (a few
//! per run; a test process that validates the same names again reuses
//! them), never with the objects.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// A file's number in the process's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(u32);

#[derive(Default)]
struct Table {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, u32>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl FileId {
    /// The number of `name`, given it on first use. Names are leaked: they
    /// live as long as the numbers that refer to them.
    pub fn of(name: &str) -> FileId {
        let mut t = table().lock().expect("file table");
        if let Some(id) = t.ids.get(name) {
            return FileId(*id);
        }
        let id = u32::try_from(t.names.len()).expect("fewer than 2^32 file names");
        let kept: &'static str = Box::leak(name.into());
        t.names.push(kept);
        t.ids.insert(kept, id);
        FileId(id)
    }

    /// The file's name.
    pub fn name(self) -> &'static str {
        table().lock().expect("file table").names[self.0 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::FileId;

    #[test]
    fn a_name_keeps_its_number_and_reads_back() {
        let a = FileId::of("files-test/a.yaml");
        let b = FileId::of("files-test/b.yaml");
        assert_ne!(a, b);
        assert_eq!(FileId::of(&String::from("files-test/a.yaml")), a);
        assert_eq!(a.name(), "files-test/a.yaml");
        assert_eq!(b.name(), "files-test/b.yaml");
    }
}
