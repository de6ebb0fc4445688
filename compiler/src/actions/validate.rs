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

/// Validate files and folders (`-`: standard input); with the report, a
/// note for stderr when folders held Kustomize files, which are passed over.
pub fn run(paths: &[PathBuf], opts: &Options) -> Result<(Report, Option<String>), Error> {
    let found =
        crate::manifest::read::expand(paths).map_err(|e| Error::Manifests(e.to_string()))?;
    let report = crate::validate::validate_paths(&found.files, opts)?;
    Ok((report, found.note()))
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

    #[test]
    fn a_manifest_that_cannot_be_read_is_a_typed_read_error() {
        let missing = std::env::temp_dir().join("meshpack-validate-no-such-file.yaml");
        let e =
            crate::validate::validate_paths(std::slice::from_ref(&missing), &Options::default())
                .unwrap_err();
        let crate::validate::Error::Read { file, source } = &e else {
            panic!("expected a read error, got {e:?}");
        };
        assert_eq!(file, &missing.display().to_string());
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        let text = format!("{}: {source}", missing.display());
        assert_eq!(e.to_string(), text);
        let wrapped = Error::from(e);
        assert_eq!(wrapped.exit_code(), 2);
        assert_eq!(wrapped.to_string(), text);
    }

    #[test]
    fn schemas_that_cannot_be_loaded_are_a_typed_schemas_error() {
        let mut opts = Options::default();
        opts.schemas.locations = vec!["https://example.invalid/schemas".into()];
        let e = crate::validate::validate(&[("x.yaml".into(), String::new())], &opts).unwrap_err();
        let crate::validate::Error::Schemas(message) = &e else {
            panic!("expected a schemas error, got {e:?}");
        };
        assert_eq!(
            message,
            "schema location https://example.invalid/schemas: meshpack reads schemas from local folders only; download them and pass the folder"
        );
        assert_eq!(Error::from(e).exit_code(), 2);
    }
}
