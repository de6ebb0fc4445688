//! Reading and compiling one policy file for an action: the file read at
//! most the loader's limit, the image lock it names read beside it.
//!
//! Invariant: a policy the user named is read following links
//! (`fsread::read_text`); one meshpack found itself (`policies/*.yaml`),
//! and every lock, is read without following them (`fsread::read_found`).

use super::Error;
use crate::{compile_policy, fsread, model::Model, policy::load::MAX_BYTES, Compiled};
use std::path::Path;

/// Read a policy, at most the loader's limit; `found` when meshpack found
/// the file itself (then links are refused).
pub fn read(path: &Path, found: bool) -> Result<String, Error> {
    let r = if found {
        fsread::read_found(path, MAX_BYTES)
    } else {
        fsread::read_text(path, MAX_BYTES)
    };
    r.map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the files a policy names (its image lock) beside it: regular files
/// only, never through a link, at most the loader's limit.
pub fn lock_reader(policy: &Path) -> impl Fn(&str) -> std::io::Result<String> {
    let dir = policy.parent().unwrap_or(Path::new(".")).to_path_buf();
    move |name: &str| fsread::read_found(&dir.join(name), MAX_BYTES)
}

/// Compile the policy `text` read from `path`, with the image lock it names.
pub fn compile_text(path: &Path, text: &str, profile: Option<&str>) -> Result<Compiled, Error> {
    let read = lock_reader(path);
    compile_policy(&path.display().to_string(), text, profile, &read).map_err(Error::Invalid)
}

/// Read and compile a policy with the image lock it names (read next to
/// it). Returns the policy's text too.
pub fn load_compiled(path: &Path, profile: Option<&str>) -> Result<(Compiled, String), Error> {
    let text = read(path, false)?;
    let c = compile_text(path, &text, profile)?;
    Ok((c, text))
}

/// Read and compile a policy to its model.
pub fn load_model(path: &Path, profile: Option<&str>) -> Result<Model, Error> {
    load_compiled(path, profile).map(|(c, _)| c.model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_policy_cannot_be_read_and_a_bad_one_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.yaml");
        let e = load_model(&missing, None).err().unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with(&format!("cannot read {}: ", missing.display())),
            "{e}"
        );
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "apiVersion: meshpack.dev/v1alpha1\nkind: Nope\n").unwrap();
        match load_model(&bad, None).err().unwrap() {
            e @ Error::Invalid(_) => {
                assert_eq!(e.exit_code(), 1);
                let Error::Invalid(f) = &e else {
                    unreachable!()
                };
                assert_eq!(f.file, bad.display().to_string());
                assert!(!f.diagnostics.is_empty());
                assert_eq!(e.to_string(), f.render());
            }
            e => panic!("expected Invalid, got {e:?}"),
        }
    }
}
