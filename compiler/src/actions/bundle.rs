//! `bundle`: write a reproducible archive of a policy's outputs, or verify
//! one: its sums, and that its chart and Kustomize tree are still what its
//! policy compiles to.
//!
//! Invariant: the packaging stage (`package::bundle`) reads and writes
//! archives only; running the pipeline again to compare is done here, so
//! `package` imports no later stage.

use super::{policy, Error};
use crate::package::bundle;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A bundle written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub files: usize,
    pub bytes: usize,
    /// Hex SHA-256 of the archive.
    pub sha256: String,
}

/// The files of a compiled policy's bundle: what `create` packs and what
/// `verify` compares an archive against.
fn files_of(compiled: &crate::Compiled, text: &str) -> crate::package::Tree {
    let out = crate::package(&compiled.model);
    bundle::files(
        &compiled.model,
        text,
        compiled.lock.as_ref(),
        &out.chart,
        &out.kustomize,
    )
}

/// Compile `policy` and write its bundle to `output`, atomically (beside
/// the target, then renamed: no half-written archive).
pub fn create(policy: &Path, output: &Path, profile: Option<&str>) -> Result<Written, Error> {
    let (compiled, text) = policy::load_compiled(policy, profile)?;
    let files = files_of(&compiled, &text);
    let bytes = bundle::archive(&files).map_err(|e| Error::Bundle(e.to_string()))?;
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::NamedTempFile::new_in(dir)
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(&bytes)?;
            f.persist(output).map_err(|e| e.error)?;
            Ok(())
        })
        .map_err(|source| Error::Io {
            path: output.to_path_buf(),
            source,
        })?;
    let sha256 = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Written {
        path: output.to_path_buf(),
        files: files.len(),
        bytes: bytes.len(),
        sha256,
    })
}

/// Check a bundle: every entry a plain file or folder, every sum, no file
/// unlisted, and the chart and Kustomize tree still what its policy
/// compiles to. Returns the problems (none: verified); `Err` when it is
/// not a meshpack bundle at all.
pub fn verify(r: impl Read) -> Result<Vec<String>, bundle::Error> {
    let mut c = bundle::check(r)?;
    let text = c.policy_text()?;
    let profile = c.profile();
    let read = |name: &str| {
        c.top(name)
            .map(|b| String::from_utf8_lossy(b).to_string())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not in the bundle"))
    };
    match crate::compile_policy("policy.yaml", &text, profile.as_deref(), &read) {
        Err(f) => {
            let p = format!(
                "{}{} does not compile: {}",
                c.root(),
                f.file,
                crate::diag::visible(&f.diagnostics[0].message)
            );
            c.problem(p);
        }
        Ok(compiled) => c.compare(&files_of(&compiled, &text)),
    }
    Ok(c.finish())
}

/// [`verify`] an archive on disk, streamed (a small archive may claim huge
/// entries).
pub fn verify_file(archive: &Path) -> Result<Vec<String>, Error> {
    let file = std::fs::File::open(archive).map_err(|source| Error::Read {
        path: archive.to_path_buf(),
        source,
    })?;
    verify(std::io::BufReader::new(file))
        .map_err(|e| Error::Bundle(format!("{}: {e}", archive.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::bundle::{archive, files};

    #[test]
    fn archives_verify_and_tampering_is_named() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/evalhub.yaml"
        ))
        .unwrap();
        let m = crate::compile_model(&text, None).unwrap();
        let out = crate::package(&m);
        let f = files(&m, &text, None, &out.chart, &out.kustomize);
        let a = archive(&f).unwrap();
        assert_eq!(a, archive(&f).unwrap(), "same bytes twice");
        assert_eq!(verify(a.as_slice()).unwrap(), Vec::<String>::new());
        let mut bad = f.clone();
        let k = "evalhub-2.3.0/chart/evalhub/templates/istio/postgres.yaml".to_string();
        bad.get_mut(&k).unwrap().extend_from_slice(b"# tampered\n");
        let problems = verify(archive(&bad).unwrap().as_slice()).unwrap();
        assert_eq!(
            problems,
            vec![
                format!("{k}: checksum differs from SHA256SUMS"),
                format!("{k}: differs from what policy.yaml compiles to"),
            ]
        );
    }

    #[test]
    fn an_archive_without_sums_is_not_a_bundle() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/evalhub.yaml"
        ))
        .unwrap();
        let m = crate::compile_model(&text, None).unwrap();
        let out = crate::package(&m);
        let mut f = files(&m, &text, None, &out.chart, &out.kustomize);
        f.remove("evalhub-2.3.0/SHA256SUMS");
        let e = verify(archive(&f).unwrap().as_slice()).unwrap_err();
        assert!(matches!(e, bundle::Error::NoSums), "{e:?}");
        assert_eq!(
            e.to_string(),
            "not a meshpack bundle: no SHA256SUMS at its top"
        );
        // Not a gzipped tar at all.
        let e = verify(&b"not an archive"[..]).unwrap_err();
        assert!(matches!(e, bundle::Error::Unreadable(_)), "{e:?}");
        assert!(e.to_string().starts_with("not a meshpack bundle: "), "{e}");
    }
}
