//! Write an output directory while its files are still being produced.
//!
//! Invariant: the producer hands finished files to one writer thread in
//! batches of up to [`BATCH_BYTES`] through a channel bounded at
//! [`IN_FLIGHT`] batches, so at most that much (plus one file) waits in
//! memory, and file creation (the kernel's share of
//! a large compile) overlaps producing the next files. Everything goes into
//! a temporary directory beside the target; only [`Writer::finish`] swaps
//! it into place (`swap::replace`). A writer dropped before `finish`, a
//! producer that fails, or a writer thread that fails leaves the target
//! untouched and removes the temporary directory.

use super::{list, safe_relative, swap, MARKER};
use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

/// Batches handed over but not yet written, at most.
pub const IN_FLIGHT: usize = 4;
/// A batch is sent once it holds this many bytes. One file per message
/// cost a thread wake-up per file: 10,834 futex calls, a third of the
/// system time, for a 3,000-file chart (strace -c).
pub const BATCH_BYTES: usize = 256 << 10;

type Batch = Vec<(String, Vec<u8>)>;

/// An output directory being written; see the module comment.
pub struct Writer {
    tx: Option<SyncSender<Batch>>,
    batch: Batch,
    batch_bytes: usize,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// The temporary directory; `None` once swapped into place.
    tmp: Option<PathBuf>,
    dir: PathBuf,
    parent: PathBuf,
    marker: String,
    /// Set when `put` found the writer thread stopped (and reported why).
    failed: bool,
}

impl Writer {
    /// Start writing the whole content of `dir`. Refuses a non-empty
    /// directory without meshpack's marker unless `force`.
    pub fn start(dir: &Path, marker: &str, force: bool) -> io::Result<Writer> {
        if dir.exists() && !force && !dir.join(MARKER).exists() && !list(dir)?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and was not written by meshpack (no {MARKER} file); pass --force to replace it",
                    dir.display()
                ),
            ));
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)?;
        swap::remove_leftovers(&parent);
        let tmp = tempfile::Builder::new()
            .prefix(&swap::prefix(swap::NEW))
            .tempdir_in(&parent)?
            .keep();
        let (tx, rx) = sync_channel::<Batch>(IN_FLIGHT);
        let (new, old) = (tmp.clone(), dir.to_path_buf());
        let thread = std::thread::spawn(move || -> io::Result<()> {
            let mut made: HashSet<PathBuf> = HashSet::new();
            let mut written: HashSet<String> = HashSet::new();
            for (p, bytes) in rx.into_iter().flatten() {
                let path = new.join(&p);
                if let Some(d) = path.parent() {
                    if !made.contains(d) {
                        fs::create_dir_all(d)?;
                        made.insert(d.to_path_buf());
                    }
                }
                // A path handed over twice: the last one wins, as in a
                // `Tree`. Removed first, so a file linked from the previous
                // output is never written through.
                if !written.insert(p.clone()) {
                    fs::remove_file(&path)?;
                }
                // An unchanged file is linked from the previous output
                // instead of written: creating thousands of inodes is most
                // of a large recompile's time on ext4, and a link creates none.
                if !unchanged(&old.join(&p), &bytes) || fs::hard_link(old.join(&p), &path).is_err()
                {
                    fs::write(&path, &bytes)?;
                }
            }
            Ok(())
        });
        Ok(Writer {
            tx: Some(tx),
            batch: vec![],
            batch_bytes: 0,
            thread: Some(thread),
            tmp: Some(tmp),
            dir: dir.to_path_buf(),
            parent,
            marker: marker.to_string(),
            failed: false,
        })
    }

    /// Hand over one file (a path relative to the output directory). Blocks
    /// while [`IN_FLIGHT`] batches wait. When the writer thread has stopped,
    /// returns its error; the output is then abandoned.
    pub fn put(&mut self, path: String, bytes: Vec<u8>) -> io::Result<()> {
        if !safe_relative(&path) || path == MARKER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to write `{path}`: not a path inside the output directory"),
            ));
        }
        self.batch_bytes += bytes.len() + path.len();
        self.batch.push((path, bytes));
        if self.batch_bytes < BATCH_BYTES {
            return Ok(());
        }
        self.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let sent = match &self.tx {
            Some(tx) => batch.is_empty() || tx.send(batch).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        self.failed = true;
        Err(self
            .join()
            .err()
            .unwrap_or_else(|| io::Error::other("the writer thread stopped")))
    }

    /// Wait for every file, write the marker and swap the directory into place.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        self.join()?;
        if self.failed {
            return Err(io::Error::other("a file could not be written"));
        }
        let tmp = self.tmp.take().expect("finish once");
        let result = fs::write(tmp.join(MARKER), &self.marker)
            .and_then(|()| swap::replace(&tmp, &self.dir, &self.parent));
        if result.is_err() && fs::symlink_metadata(&tmp).is_ok() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn join(&mut self) -> io::Result<()> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the writer thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    /// Abandoned before `finish`: the target stays as it was.
    fn drop(&mut self) {
        let _ = self.join();
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_dir_all(tmp);
        }
    }
}

/// Whether `path` is a regular file (not a link) holding exactly `bytes`.
fn unchanged(path: &Path, bytes: &[u8]) -> bool {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() && m.len() == bytes.len() as u64 => {
            fs::read(path).is_ok_and(|b| b == bytes)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, p: &str) -> String {
        fs::read_to_string(dir.join(p)).unwrap()
    }

    #[test]
    fn nothing_is_visible_until_finish_and_a_dropped_writer_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("chart");
        let mut w = Writer::start(&out, "m1", false).unwrap();
        w.put("a.yaml".into(), b"a\n".to_vec()).unwrap();
        w.put("t/b.yaml".into(), b"b\n".to_vec()).unwrap();
        assert!(!out.exists(), "written into a temporary directory first");
        w.finish().unwrap();
        assert_eq!(read(&out, "a.yaml"), "a\n");
        assert_eq!(read(&out, "t/b.yaml"), "b\n");
        assert_eq!(read(&out, MARKER), "m1");

        // Abandoned half way (a failed compile): the old output stays whole
        // and no temporary directory is left beside it.
        let mut w = Writer::start(&out, "m2", false).unwrap();
        w.put("a.yaml".into(), b"changed\n".to_vec()).unwrap();
        drop(w);
        assert_eq!(read(&out, "a.yaml"), "a\n");
        assert_eq!(read(&out, "t/b.yaml"), "b\n");
        assert_eq!(read(&out, MARKER), "m1");
        let names: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["chart".to_string()]);
    }

    #[test]
    fn the_last_of_a_path_handed_over_twice_wins_without_touching_the_old_output() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("chart");
        let mut w = Writer::start(&out, "m", false).unwrap();
        w.put("a.yaml".into(), b"a\n".to_vec()).unwrap();
        w.finish().unwrap();
        let old = fs::canonicalize(out.join("a.yaml")).unwrap();
        let keep = d.path().join("keep");
        fs::hard_link(&old, &keep).unwrap();
        // The first `a.yaml` is unchanged, so it is linked from the old
        // output; the second must not be written through that link.
        let mut w = Writer::start(&out, "m", false).unwrap();
        w.put("a.yaml".into(), b"a\n".to_vec()).unwrap();
        w.put("a.yaml".into(), b"second\n".to_vec()).unwrap();
        w.finish().unwrap();
        assert_eq!(read(&out, "a.yaml"), "second\n");
        assert_eq!(fs::read_to_string(&keep).unwrap(), "a\n");
    }

    #[test]
    fn refuses_escaping_paths_the_marker_and_foreign_directories() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("o");
        let mut w = Writer::start(&out, "m", false).unwrap();
        for bad in ["../x", "/etc/x", "a/../../x", "", MARKER] {
            let e = w.put(bad.into(), b"x".to_vec()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("not a path inside"), "{bad}: {e}");
        }
        drop(w);
        assert!(!out.exists());
        fs::write(d.path().join("precious.txt"), "keep").unwrap();
        let e = Writer::start(d.path(), "m", false).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("--force"), "{e}");
    }

    #[test]
    fn a_failing_writer_thread_is_reported_by_finish() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("o");
        let mut w = Writer::start(&out, "m", false).unwrap();
        // A file where a directory must go: the writer thread fails.
        w.put("a".into(), b"file\n".to_vec()).unwrap();
        let mut first = None;
        let big = vec![b'x'; BATCH_BYTES];
        for i in 0..IN_FLIGHT * 4 {
            if let Err(e) = w.put(format!("a/{i}.yaml"), big.clone()) {
                first = Some(e);
                break;
            }
        }
        // `put` returns the thread's own error (a file is in the way),
        // and `finish` refuses to swap.
        let e = first.expect("the writer thread fails within a few files");
        assert_ne!(e.to_string(), "the writer thread stopped", "{e}");
        assert!(w.finish().is_err());
        assert!(!out.exists(), "nothing swapped into place");
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            0,
            "no temporary directory left"
        );
    }
}
