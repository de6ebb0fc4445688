//! Reading the user's files: never more than a limit (`compile /dev/zero`
//! stops at the limit instead of at the end of memory), and never through a
//! link when meshpack found the name itself (a lock named in a policy, a
//! file inside an output or manifest folder): a pull request that adds
//! `images.lock -> /proc/self/environ` must not get CI to print the
//! environment in an error message.
//!
//! Invariant: every read of a user file goes through [`read_text`] (a path
//! the user typed; links followed, as every Unix tool does) or
//! [`read_found`] (a name meshpack found; links refused); both stop at
//! their limit plus one byte.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Read a file the user named, at most `max` bytes.
pub(crate) fn read_text(path: &Path, max: usize) -> io::Result<String> {
    if path.as_os_str() == "-" {
        return bounded(io::stdin().lock(), max, "standard input");
    }
    let f = File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(io::Error::other("is a folder, not a file"));
    }
    bounded(f, max, "the file")
}

/// Read a regular file whose name meshpack found (not the user), at most
/// `max` bytes; a symbolic link, device or pipe is refused unread.
pub(crate) fn read_found(path: &Path, max: usize) -> io::Result<String> {
    utf8(read_found_bytes(path, max)?, "the file")
}

/// [`read_found`] for bytes that need not be text.
pub(crate) fn read_found_bytes(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let f = open_no_follow(path)?;
    let m = f.metadata()?;
    if !m.file_type().is_file() {
        return Err(io::Error::other(
            "is not a regular file; meshpack reads only regular files it finds",
        ));
    }
    bounded_bytes(f, max, "the file")
}

/// Whether `path` is a symbolic link (without following it); where
/// `O_NOFOLLOW` is missing.
#[cfg(not(unix))]
fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NOFOLLOW: the open itself fails on a link, so nothing can swap the
    // file for a link between a check and the open. O_NONBLOCK: opening a
    // FIFO does not wait for a writer (it is then refused as not a file).
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::other("is a symbolic link; meshpack does not follow links it finds")
            } else {
                e
            }
        })
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    if is_link(path) {
        return Err(io::Error::other(
            "is a symbolic link; meshpack does not follow links it finds",
        ));
    }
    File::open(path)
}

fn bounded(r: impl Read, max: usize, what: &str) -> io::Result<String> {
    utf8(bounded_bytes(r, max, what)?, what)
}

fn bounded_bytes(r: impl Read, max: usize, what: &str) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        return Err(io::Error::other(format!(
            "{what} is larger than {max} bytes, the most meshpack reads"
        )));
    }
    Ok(buf)
}

fn utf8(buf: Vec<u8>, what: &str) -> io::Result<String> {
    String::from_utf8(buf).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{what} is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn limits_and_links() {
        let d = tempfile::tempdir().unwrap();
        let e = read_text(Path::new("/dev/zero"), 1000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file is larger than 1000 bytes, the most meshpack reads"
        );
        let secret = d.path().join("secret");
        std::fs::write(&secret, "TOKEN=1").unwrap();
        let link = d.path().join("images.lock");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert_eq!(read_text(&link, 100).unwrap(), "TOKEN=1");
        let e = read_found(&link, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is a symbolic link; meshpack does not follow links it finds"
        );
        assert_eq!(read_found(&secret, 100).unwrap(), "TOKEN=1");
        let e = read_found(Path::new("/dev/null"), 100).unwrap_err();
        assert!(e.to_string().starts_with("is not a regular file"), "{e}");
        std::fs::write(&secret, [0xff, 0xfe]).unwrap();
        let e = read_found(&secret, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file is not UTF-8 text (invalid byte at offset 0)"
        );
    }
}
