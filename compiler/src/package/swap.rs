//! Replace an output directory by a new one in one step, and clean up what
//! a killed run left behind.
//!
//! Invariant: at every instant the output path names a complete directory
//! (the old one or the new one), once it existed. On Linux the swap is one
//! `renameat2(RENAME_EXCHANGE)`; elsewhere, or where a filesystem refuses
//! it, two renames with a window between them. A temporary directory is
//! named `.meshpack-{new,old}-<pid>-<random>`; one whose process is gone
//! is a leftover, removed by the next run in the same parent folder.
//! https://man7.org/linux/man-pages/man2/rename.2.html

use std::fs;
use std::io;
use std::path::Path;

pub const NEW: &str = ".meshpack-new-";
pub const OLD: &str = ".meshpack-old-";

/// The prefix of this process's temporary directories of one kind.
pub fn prefix(kind: &str) -> String {
    format!("{kind}{}-", std::process::id())
}

/// Put `new` at `dir` (replacing what is there) and remove the old one.
/// `new` is removed on failure.
pub fn replace(new: &Path, dir: &Path, parent: &Path) -> io::Result<()> {
    let result = if fs::symlink_metadata(dir).is_ok() {
        exchange(new, dir).or_else(|e| {
            if unsupported(&e) {
                two_renames(new, dir, parent)
            } else {
                Err(e)
            }
        })
    } else {
        // Nothing to replace: one rename is already atomic.
        fs::rename(new, dir)
    };
    // After an exchange `new` holds the old output; after a failure, the
    // unused new one. Either way it goes.
    if fs::symlink_metadata(new).is_ok() {
        let _ = fs::remove_dir_all(new);
    }
    result
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths relative to the working
    // directory; renameat2 reads them and touches no memory of ours.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A filesystem or kernel without RENAME_EXCHANGE.
fn unsupported(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
    ) {
        return true;
    }
    e.kind() == io::ErrorKind::Unsupported
}

/// The portable fallback: the old directory aside, the new one in.
fn two_renames(new: &Path, dir: &Path, parent: &Path) -> io::Result<()> {
    let old = tempfile::Builder::new()
        .prefix(&prefix(OLD))
        .tempdir_in(parent)?;
    let aside = old.path().join("d");
    fs::rename(dir, &aside)?;
    if let Err(e) = fs::rename(new, dir) {
        let _ = fs::rename(&aside, dir);
        return Err(e);
    }
    Ok(())
}

/// Remove the temporary directories of runs that are no longer running.
/// Best effort: a folder that cannot be read or removed is left alone.
pub fn remove_leftovers(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(NEW).or_else(|| name.strip_prefix(OLD)) else {
            continue;
        };
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if is_dir && pid.is_some_and(|p| !alive(p)) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(unix)]
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn alive(_: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_swaps_and_leftovers_of_dead_runs_go() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("chart");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("f"), "old").unwrap();
        let new = d.path().join(format!("{}x", prefix(NEW)));
        fs::create_dir(&new).unwrap();
        fs::write(new.join("f"), "new").unwrap();
        replace(&new, &out, d.path()).unwrap();
        assert_eq!(fs::read_to_string(out.join("f")).unwrap(), "new");
        assert!(!new.exists(), "the old output was removed");
        // A killed run (pid 2^22+1 cannot exist: Linux's pid_max is at
        // most 2^22) left two directories; ours and an unrelated one stay.
        let dead_new = d.path().join(".meshpack-new-4194305-abc");
        let dead_old = d.path().join(".meshpack-old-4194305-def");
        let ours = d.path().join(format!("{}live", prefix(NEW)));
        let other = d.path().join(".meshpack-notes");
        for p in [&dead_new, &dead_old, &ours, &other] {
            fs::create_dir_all(p.join("d")).unwrap();
        }
        remove_leftovers(d.path());
        assert!(!dead_new.exists() && !dead_old.exists());
        assert!(ours.exists() && other.exists());
    }
}
