//! `migrate`: a policy rewritten from its apiVersion to the current one
//! (`crate::policy::version` does the rewriting), in place or returned.
//!
//! Invariant: what is written must load: a migration that does not
//! compile is refused and the file is left alone; the file is replaced in
//! one rename, never half-written.

use super::{policy, Error};
use crate::{compile_model, policy::version, Failure};
use std::io::Write;
use std::path::Path;

/// What `migrate` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file was rewritten (or, with `--stdout`, `text` is the result).
    Migrated {
        from: String,
        to: &'static str,
        text: String,
    },
    /// The file is already current; nothing was written.
    Current { to: &'static str, text: String },
}

/// Why a migration was refused (exit 1), as opposed to an [`Error`].
#[derive(Debug)]
pub enum Refused {
    /// The apiVersion cannot be migrated (diagnostics against the file).
    Version(Failure),
    /// The migrated text does not compile (diagnostics against it).
    DoesNotCompile { to: &'static str, failure: Failure },
}

/// Migrate `path`; rewrite it when `write` and something changed.
pub fn run(path: &Path, write: bool) -> Result<Result<Outcome, Refused>, Error> {
    let shown = path.display().to_string();
    let text = policy::read(path, false)?;
    let m = match version::migrate(&text) {
        Ok(m) => m,
        Err(d) => {
            return Ok(Err(Refused::Version(Failure {
                file: shown,
                text,
                diagnostics: vec![d],
            })))
        }
    };
    if let Err(diagnostics) = compile_model(&m.text, None) {
        return Ok(Err(Refused::DoesNotCompile {
            to: m.to,
            failure: Failure {
                file: shown,
                text: m.text,
                diagnostics,
            },
        }));
    }
    if m.text == text {
        return Ok(Ok(Outcome::Current {
            to: m.to,
            text: m.text,
        }));
    }
    if write {
        write_beside(path, m.text.as_bytes()).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(Ok(Outcome::Migrated {
        from: m.from,
        to: m.to,
        text: m.text,
    }))
}

/// Replace a file in one rename: no half-written policy.
fn write_beside(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut f = tempfile::NamedTempFile::new_in(dir)?;
    f.write_all(bytes)?;
    if let Ok(meta) = std::fs::metadata(path) {
        f.as_file().set_permissions(meta.permissions())?;
    }
    f.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "# keep\napiVersion: meshpack.dev/v1alpha1\nkind: MeshPolicy\nmetadata: {name: a}\nspec:\n  version: 1.0.0\n  services:\n    web: {image: 'r.example.com/web:1'}\n";

    #[test]
    fn rewrites_once_then_finds_the_file_current() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, V1).unwrap();
        let Ok(Outcome::Migrated { from, to, text }) = run(&file, true).unwrap() else {
            panic!("not migrated")
        };
        assert_eq!(
            (from.as_str(), to),
            ("meshpack.dev/v1alpha1", "meshpack.dev/v1alpha2")
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        assert!(matches!(
            run(&file, true).unwrap(),
            Ok(Outcome::Current { .. })
        ));
        std::fs::write(&file, V1.replace("v1alpha1", "v9")).unwrap();
        assert!(matches!(
            run(&file, true).unwrap(),
            Err(Refused::Version(_))
        ));
        assert_eq!(
            run(&dir.path().join("none.yaml"), true)
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
