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

/// Objects of one apiVersion and kind without a schema that get a V003
/// finding each in a format; one more finding counts the rest. Text and
/// JUnit are read by people (a million identical lines, or test cases,
/// hide everything else); JSON is read by programs, which may want every
/// object, so it lists them all.
pub const MISSING_SCHEMAS_SHOWN: usize = 5;

/// [`Options::missing_schemas_shown`] for a format.
pub fn missing_schemas_shown(format: Format) -> Option<usize> {
    match format {
        Format::Json => None,
        Format::Junit | Format::Text => Some(MISSING_SCHEMAS_SHOWN),
    }
}

/// Write the report in a format, finding by finding.
pub fn write(r: &Report, format: Format, w: &mut impl std::io::Write) -> std::io::Result<()> {
    match format {
        Format::Json => report::json(r, w),
        Format::Junit => report::junit(r, w),
        Format::Text => report::text(r, w),
    }
}

/// The report in a format, as a string.
pub fn render(r: &Report, format: Format) -> String {
    let mut out = vec![];
    write(r, format, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("reports are UTF-8")
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
