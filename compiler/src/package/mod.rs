//! Stage 5: package emitted objects as files: the Helm chart, the Kustomize
//! tree. Output is either streamed file by file to a [`Writer`] (which
//! swaps it into place atomically when complete) or built in memory as a
//! [`Tree`], to be written or compared with what is on disk (`--check`).
//!
//! Invariant: nothing is written unless the whole output was built; a
//! directory meshpack did not create is never overwritten without `--force`;
//! no path leaves the output directory; the output directory is replaced in
//! one step (Linux: `renameat2(RENAME_EXCHANGE)`), so a kill at any moment
//! leaves the old or the new output, and the next run removes what a killed
//! run left beside it; nothing in the output is read through a link.

pub mod additions;
pub mod attach;
pub mod bundle;
#[doc(hidden)]
pub mod fuzzing;
pub mod helm;
pub mod helm_groups;
pub mod helm_package;
pub mod kustomize;
pub mod kustomize_additions;
pub mod kustomize_parts;
mod markers;
pub mod outputs;
mod readme;
pub mod stream;
mod swap;
pub mod upgrades;
pub mod values;
#[cfg(test)]
mod values_contract;
pub(crate) mod values_customer;
/// The YAML writer, one layer down (`crate::yaml_write`) since `emit` uses
/// it too; here under its old name.
pub(crate) use crate::yaml_write as yaml;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
pub use stream::Writer;

/// Files by path relative to an output root, with their bytes.
pub type Tree = BTreeMap<String, Vec<u8>>;

/// Marks a directory as meshpack's own, so it may be replaced.
pub const MARKER: &str = ".meshpack";

/// Most bytes `--check` reads of a committed file beyond the compiled
/// file's size: enough to diff a committed file that shrank when
/// regenerated, and still bounded for a file that is no output at all.
const CHECK_SLACK: usize = 1 << 20;

fn safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Files under `dir` (relative paths), skipping nothing but `.git`. Links
/// are listed as files, never followed into.
fn list(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = vec![];
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        for entry in fs::read_dir(&abs)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == ".git" {
                continue;
            }
            let r = rel.join(&name);
            if entry.file_type()?.is_dir() {
                stack.push(r);
            } else {
                out.push(r.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Write `files` as the whole content of `dir`, atomically: into a temporary
/// directory beside it, then renamed into place.
pub fn write_dir(dir: &Path, files: &Tree, marker: &str, force: bool) -> io::Result<()> {
    for p in files.keys() {
        if !safe_relative(p) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to write `{p}`: not a path inside the output directory"),
            ));
        }
    }
    let mut w = Writer::start(dir, marker, force)?;
    for (p, bytes) in files {
        w.put(p.clone(), bytes.clone())?;
    }
    w.finish()
}

/// Differences between `files` and the content of `dir`, as a report.
pub fn check_dir(dir: &Path, files: &Tree) -> io::Result<Vec<String>> {
    let mut problems = vec![];
    let on_disk: Vec<String> = if dir.exists() { list(dir)? } else { vec![] };
    for (p, want) in files {
        let path = dir.join(p);
        // Never through a link: a link to /proc/self/environ must not get
        // its target printed in the diff. A committed file larger than the
        // compiled one (output that shrank) is still read and diffed, up
        // to CHECK_SLACK bytes more.
        match crate::fsread::read_found_bytes(&path, want.len().saturating_add(CHECK_SLACK)) {
            Ok(have) if &have == want => {}
            Ok(have) => {
                let diff = similar::TextDiff::from_lines(
                    &*String::from_utf8_lossy(&have),
                    &*String::from_utf8_lossy(want),
                )
                .unified_diff()
                .context_radius(2)
                .header(
                    &format!("{} (committed)", path.display()),
                    &format!("{} (compiled)", path.display()),
                )
                .to_string();
                problems.push(format!("changed: {}\n{diff}", path.display()));
            }
            Err(_) if fs::symlink_metadata(&path).is_err() => {
                problems.push(format!("missing: {}", path.display()))
            }
            Err(e) => problems.push(format!("changed: {}: {e}", path.display())),
        }
    }
    for p in on_disk {
        if p != MARKER && !files.contains_key(&p) {
            problems.push(format!(
                "stale: {} (no longer generated)",
                dir.join(p).display()
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Tree {
        files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn unchanged_files_are_linked_not_rewritten_and_links_never_followed() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("chart");
        write_dir(
            &out,
            &tree(&[("a.yaml", "a\n"), ("b.yaml", "b\n")]),
            "m",
            false,
        )
        .unwrap();
        let ino = |p: &str| fs::metadata(out.join(p)).unwrap().ino();
        let (a, b) = (ino("a.yaml"), ino("b.yaml"));
        write_dir(
            &out,
            &tree(&[("a.yaml", "a\n"), ("b.yaml", "B\n")]),
            "m",
            false,
        )
        .unwrap();
        assert_eq!(ino("a.yaml"), a, "unchanged: the same file, linked");
        assert_ne!(ino("b.yaml"), b, "changed: a new file");
        assert_eq!(fs::read_to_string(out.join("b.yaml")).unwrap(), "B\n");
        // A symlink left in the output with the same content is not linked:
        // the new file is a regular file of its own.
        let secret = d.path().join("secret");
        fs::write(&secret, "a\n").unwrap();
        fs::remove_file(out.join("a.yaml")).unwrap();
        std::os::unix::fs::symlink(&secret, out.join("a.yaml")).unwrap();
        write_dir(&out, &tree(&[("a.yaml", "a\n")]), "m", false).unwrap();
        let m = fs::symlink_metadata(out.join("a.yaml")).unwrap();
        assert!(m.file_type().is_file());
        assert_ne!(m.ino(), fs::metadata(&secret).unwrap().ino());
    }

    #[test]
    fn writes_and_checks() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("chart");
        let t = tree(&[("a.yaml", "a\n"), ("t/b.yaml", "b\n")]);
        write_dir(&out, &t, "m", false).unwrap();
        assert_eq!(fs::read_to_string(out.join("t/b.yaml")).unwrap(), "b\n");
        assert!(check_dir(&out, &t).unwrap().is_empty());
        let t2 = tree(&[("a.yaml", "A\n"), ("c.yaml", "c\n")]);
        let p = check_dir(&out, &t2).unwrap();
        assert!(
            p[0].starts_with("changed:") && p[0].contains("-a\n+A"),
            "{p:?}"
        );
        // A committed file longer than the compiled one is diffed too, not
        // refused as too large to read.
        let shorter = tree(&[("a.yaml", "a\n"), ("t/b.yaml", "")]);
        let q = check_dir(&out, &shorter).unwrap();
        assert_eq!(q.len(), 1, "{q:?}");
        assert!(
            q[0].starts_with("changed:") && q[0].contains("-b\n"),
            "{q:?}"
        );
        assert!(p[1].starts_with("missing:"), "{p:?}");
        assert!(
            p[2].starts_with("stale:") && p[2].contains("t/b.yaml"),
            "{p:?}"
        );
        // Rewriting replaces the whole directory: no stale files remain.
        write_dir(&out, &t2, "m", false).unwrap();
        assert!(!out.join("t/b.yaml").exists());
        let leftovers: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary directories were removed");
    }

    #[test]
    fn refuses_foreign_directories_and_escaping_paths() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("precious.txt"), "keep").unwrap();
        let e = write_dir(d.path(), &tree(&[("a", "a")]), "m", false).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(
            fs::read_to_string(d.path().join("precious.txt")).unwrap(),
            "keep"
        );
        let out = d.path().join("o");
        for bad in ["../x", "/etc/x", "a/../../x", ""] {
            assert!(
                write_dir(&out, &tree(&[(bad, "x")]), "m", false).is_err(),
                "{bad}"
            );
        }
        assert!(!out.exists());
    }
}
