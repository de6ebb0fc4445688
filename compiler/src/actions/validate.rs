//! `validate`: rendered manifests against schemas (with CEL rules) and the
//! mesh checks.
//!
//! Invariant: the command's rules (which Kubernetes versions have built-in
//! schemas, how a report is written) live here; the checking itself is
//! `crate::validate`'s.

use super::Error;
use crate::validate::{report, schemas, Options, Report};
use std::path::PathBuf;

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

/// The `major.minor` of a `--kubernetes-version` that has built-in schemas
/// (`v1.34.2` -> `1.34`).
pub fn kubernetes_minor(version: &str) -> Result<String, Error> {
    let v = version.trim_start_matches('v');
    let minor = v.split('.').take(2).collect::<Vec<_>>().join(".");
    if schemas::KUBERNETES_VERSIONS.contains(&minor.as_str()) {
        Ok(minor)
    } else {
        Err(Error::Usage(format!(
            "no built-in schemas for Kubernetes {version}; built in: {}. Use --schema-location for others.",
            schemas::KUBERNETES_VERSIONS.join(", ")
        )))
    }
}

/// Validate files and folders (`-`: standard input).
pub fn run(paths: &[PathBuf], opts: &Options) -> Result<Report, Error> {
    let files =
        crate::manifest::read::expand(paths).map_err(|e| Error::Manifests(e.to_string()))?;
    crate::validate::validate_paths(&files, opts).map_err(Error::Manifests)
}

/// The report in a format.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Json => report::json(r),
        Format::Junit => report::junit(r),
        Format::Text => report::text(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_without_schemas_name_the_built_in_ones() {
        assert_eq!(kubernetes_minor("v1.34.1").unwrap(), "1.34");
        let e = kubernetes_minor("1.2").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            format!(
                "no built-in schemas for Kubernetes 1.2; built in: {}. Use --schema-location for others.",
                schemas::KUBERNETES_VERSIONS.join(", ")
            )
        );
    }
}
