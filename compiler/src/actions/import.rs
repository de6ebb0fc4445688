//! `import`: a draft attach-mode policy from a chart, a folder of
//! manifests or a `kustomize build` output, written to a file or returned
//! for standard output.
//!
//! Invariant: the draft is `crate::import`'s; this action only resolves
//! the input from the arguments and writes the result where asked.

use super::Error;
use crate::import::{self, Draft, Input};
use std::path::{Path, PathBuf};

/// Draft a policy from `input` (a chart with `values` files and `set`
/// overrides, a folder, a file or `-`), named `name` when given.
pub fn draft(
    input: &Path,
    values: Vec<PathBuf>,
    set: Vec<String>,
    name: Option<&str>,
) -> Result<Draft, Error> {
    let input = Input::from_args(input, values, set)?;
    Ok(import::import(&input, name)?)
}

/// Write a draft's text to `path`.
pub fn save(d: &Draft, path: &Path) -> Result<(), Error> {
    std::fs::write(path, &d.text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_is_made_from_manifests_and_saved_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let manifests = dir.path().join("app.yaml");
        std::fs::write(&manifests, crate::manifest::testing::APP).unwrap();
        let d = draft(&manifests, vec![], vec![], Some("shop-mesh")).unwrap();
        assert!(d.text.contains("name: shop-mesh"), "{}", d.text);
        let out = dir.path().join("policy.yaml");
        save(&d, &out).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), d.text);
        let nowhere = dir.path().join("no/such/dir/policy.yaml");
        let e = save(&d, &nowhere).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with(&format!("cannot write {}: ", nowhere.display())),
            "{e}"
        );
    }
}
