//! The actions layer: what each command does, between the command line
//! (`main.rs`, which parses arguments and prints) and the stages, as Helm's
//! `pkg/action` sits under `pkg/cmd`
//! (<https://github.com/helm/helm/tree/main/pkg/action>).
//!
//! Invariant: actions hold the business rules of the commands (Helm's file
//! size limit, the repository mode of `compile`, the committed schema,
//! bundle verification) and return typed results or an [`Error`]; they
//! print nothing and never exit. No stage imports this module: it is the
//! one place allowed to run the whole pipeline (`policy` to `package`) and
//! the checkers side by side.

pub mod airgap;
pub mod bundle;
pub mod compile;
pub mod import;
pub mod migrate;
pub mod policy;
pub mod upgrade;
pub mod validate;
pub mod verify;
pub mod views;

use std::path::PathBuf;

/// Why an action could not finish. [`Error::exit_code`] says whether the
/// input was invalid (1) or the action could not run (2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A policy (or its image lock) has errors; the diagnostics say where.
    #[error("{}", .0.render())]
    Invalid(crate::Failure),
    /// A file the user named cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file or folder cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Manifests could not be read (a missing path, a link, a syntax error).
    #[error("{0}")]
    Manifests(String),
    /// `validate` could not run (a manifest cannot be read, the schemas
    /// cannot be loaded).
    #[error(transparent)]
    Validate(#[from] crate::validate::Error),
    /// `import` could not read its input or found no workload in it.
    #[error(transparent)]
    Import(#[from] crate::import::Error),
    /// The arguments ask for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// A bundle is not one meshpack can check, or could not be made.
    #[error("{0}")]
    Bundle(String),
    /// The install-time additions verify was given cannot be read or name
    /// what the policy lacks (`verify --values`).
    #[error("{0}")]
    Additions(String),
    /// A chart, chart archive or bundle (or a values file for it) cannot be
    /// read, or Helm cannot be run (`upgrade-check`).
    #[error("{0}")]
    Chart(String),
}

impl Error {
    /// 1 for invalid input, 2 when the action could not run.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) => 1,
            _ => 2,
        }
    }
}
