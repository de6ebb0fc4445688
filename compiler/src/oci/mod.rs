//! Images for air-gapped delivery: resolving tags to digests (`images
//! lock`), pulling locked images into an OCI image layout inside a bundle
//! (`bundle --images`), and pushing them into a customer's registry
//! (`images push`). The OCI distribution API is spoken by `oci-client`.
//!
//! Architecture Invariant: every byte taken from a registry or a bundle is
//! checked against the sha256 digest that names it before it is kept or
//! sent on; nothing is written where the user looks (a bundle, a lock)
//! until it is complete. This module may use `model` and `package`, never
//! the other way round, and it is the only one doing network IO.

pub mod archive;
pub mod auth;
pub mod layout;
pub mod pull;
pub mod push;
pub mod resolve;
pub mod verify;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::{Client, Reference};
use std::path::PathBuf;

/// Media types meshpack accepts for manifests: OCI and Docker, single
/// images and multi-arch indexes.
pub const MANIFEST_TYPES: &[&str] = &[
    oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE,
];

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// PEM files of certificate authorities to trust besides the system's.
    pub ca_files: Vec<PathBuf>,
    /// Speak plain HTTP (only when asked: `--plain-http`).
    pub plain_http: bool,
    /// Folder of docker's `config.json` (default `$DOCKER_CONFIG`, then `~/.docker`).
    pub docker_config: Option<PathBuf>,
    /// Transfers at once.
    pub jobs: usize,
}

/// Why a connection to registries cannot be set up (`Registries::new`).
/// Transfers (`pull`, `push`, `resolve`) still report `String`s.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--ca-file` cannot be read.
    #[error("cannot read the CA file {}: {source}\nhelp: --ca-file takes a PEM certificate", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `--ca-file` holds no PEM certificate.
    #[error("{}: not a PEM certificate (no `-----BEGIN CERTIFICATE-----`)", path.display())]
    NotPem { path: PathBuf },
    /// The HTTP client rejects the TLS set-up (a bad certificate).
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] OciDistributionError),
    /// docker's `config.json` cannot be read or parsed; the message says
    /// which file and where.
    #[error("{0}")]
    Credentials(String),
}

/// A connection to registries plus the credentials to use with them.
pub struct Registries {
    pub client: Client,
    pub auth: auth::Credentials,
    pub jobs: usize,
}

impl Registries {
    pub fn new(o: &Options) -> Result<Self, Error> {
        // reqwest is built without a default TLS provider (ring is much
        // cheaper to build than aws-lc); install it once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut certs = vec![];
        for f in &o.ca_files {
            let data = std::fs::read(f).map_err(|source| Error::CaFile {
                path: f.clone(),
                source,
            })?;
            if !String::from_utf8_lossy(&data).contains("-----BEGIN CERTIFICATE-----") {
                return Err(Error::NotPem { path: f.clone() });
            }
            certs.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let config = ClientConfig {
            protocol: if o.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: certs,
            connect_timeout: Some(std::time::Duration::from_secs(15)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            ..Default::default()
        };
        // `Client::new` would fall back to a default client on a bad
        // certificate; `try_from` reports it.
        let client = Client::try_from(config).map_err(Error::Tls)?;
        Ok(Registries {
            client,
            auth: auth::Credentials::load(o.docker_config.as_deref())
                .map_err(Error::Credentials)?,
            jobs: o.jobs.max(1),
        })
    }
}

/// A single-threaded runtime: transfers overlap on it, hashing is cheap.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the IO runtime: {e}"))
}

/// `sha256:<hex>` of bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex part of a `sha256:` digest, if it is one.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// What a person should read when a registry operation on `what` fails.
pub fn explain(e: &OciDistributionError, what: &Reference, opts_hint: bool) -> String {
    let reg = what.registry();
    let refused = || {
        format!(
            "{reg} refused access to {what}: wrong or missing credentials\nhelp: check the entry for {reg} in docker's config.json (`docker login {reg}`, or $DOCKER_CONFIG)"
        )
    };
    let missing = || {
        format!(
            "{what} does not exist in {reg}\nhelp: check the tag (and that the image was pushed)"
        )
    };
    use oci_client::errors::OciErrorCode as Code;
    match e {
        OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => refused(),
        OciDistributionError::RegistryError { envelope, .. }
            if envelope
                .errors
                .iter()
                .any(|x| matches!(x.code, Code::Unauthorized | Code::Denied)) =>
        {
            refused()
        }
        OciDistributionError::ImageManifestNotFoundError(_)
        | OciDistributionError::ServerError { code: 404, .. } => missing(),
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|x| {
                matches!(
                    x.code,
                    Code::ManifestUnknown | Code::NameUnknown | Code::NotFound
                )
            }) =>
        {
            missing()
        }
        OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
            // The innermost cause says it best ("Connection refused",
            // "invalid peer certificate: UnknownIssuer").
            let mut chain = r.to_string();
            let mut src = std::error::Error::source(r);
            while let Some(s) = src {
                chain = s.to_string();
                src = s.source();
            }
            let mut m = format!("cannot reach {reg} for {what}: {chain}");
            if opts_hint {
                m.push_str("\nhelp: is the registry up? A registry with its own CA needs --ca-file; one without TLS, --plain-http");
            }
            m
        }
        OciDistributionError::DigestError(d) => {
            format!("{what}: the registry sent content that does not match its digest ({d})")
        }
        other => {
            let mut chain = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(s) = src {
                chain.push_str(&format!(": {s}"));
                src = s.source();
            }
            format!("{what}: {chain}")
        }
    }
}
