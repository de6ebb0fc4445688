//! Air-gapped delivery (docs/air-gapped.md): `images lock`, `images push`,
//! `keys generate`, `bundle --images/--sign-key` and `bundle --verify
//! [--key]`. The registry, archive and signature work is in `oci` and
//! `sign`; the rules of the commands are here: a lock is written only when
//! every image resolves and every digest the policy pins is what its
//! registry serves; `bundle --images` takes images by digest only; the
//! sums cover the image blobs and are what the signature signs; a bundle
//! verifies when its sums, signature, policy and images all do.
//!
//! Invariant: prints nothing and never exits (`airgap_cli.rs` does);
//! every failure is an [`Error`] whose [`Error::exit_code`] says whether a
//! problem was found (1) or the command could not run (2). No file is
//! left half-written: the lock and the archive are renamed into place.

use crate::model::Model;
use crate::oci::{self, layout, pull::Locked, verify};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why an air-gap command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the user named cannot be read (2).
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The arguments, the registry options or the environment do not allow
    /// the command (2): a bad `--platform`, a key that cannot be written
    /// or used, a disk error while writing the lock.
    #[error("{0}")]
    Usage(String),
    /// A signing key cannot be made or read (`keys generate`, `bundle
    /// --sign`).
    #[error(transparent)]
    Sign(#[from] crate::sign::Error),
    /// The registry connection cannot be set up (a CA file, TLS, docker's
    /// config.json).
    #[error(transparent)]
    Registries(#[from] crate::oci::Error),
    /// The policy has errors (1); the diagnostics say where.
    #[error("{}", .0.render())]
    Invalid(crate::Failure),
    /// `images lock` without `-o` for a policy that names no lock (2).
    #[error("{} names no image lock\nhelp: add `images: {{lock: images.lock}}` under `spec`, or pass -o FILE", .0.display())]
    NoLock(PathBuf),
    /// Images whose digest the registries did not give (1), each with why.
    #[error("{} image(s) could not be resolved; the lock was not written", .0.len())]
    Unresolved(Vec<String>),
    /// A digest the policy pins differs from what its registry serves (1).
    #[error("{what}: the policy pins {pinned} but {reference} is {served} in its registry\nhelp: remove the digest from the policy (the lock carries it), or fix it")]
    PinMismatch {
        what: String,
        pinned: String,
        reference: String,
        served: String,
    },
    /// `bundle --images` with images the policy does not pin by digest (1).
    #[error("bundle --images takes images by digest, and these have none:\n  {}\nhelp: add `images: {{lock: images.lock}}` to the policy and run `meshpack images lock {}`", .images.join("\n  "), .policy.display())]
    Unpinned {
        images: Vec<String>,
        policy: PathBuf,
    },
    /// Pulling the images or writing the archive failed (1): nothing was
    /// written.
    #[error("{0}\nno bundle was written")]
    NotWritten(String),
    /// `images push` failed (1).
    #[error("{0}")]
    Push(String),
    /// A bundle cannot be read or checked (2).
    #[error("{}: {message}", archive.display())]
    Archive { archive: PathBuf, message: String },
}

impl Error {
    /// 1 for a problem found, 2 when the command could not run.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_)
            | Error::Unresolved(_)
            | Error::PinMismatch { .. }
            | Error::Unpinned { .. }
            | Error::NotWritten(_)
            | Error::Push(_) => 1,
            Error::Read { .. }
            | Error::Usage(_)
            | Error::Sign(_)
            | Error::Registries(_)
            | Error::NoLock(_)
            | Error::Archive { .. } => 2,
        }
    }
}

fn read_text(p: &Path, what: &'static str) -> Result<String, Error> {
    std::fs::read_to_string(p).map_err(|source| Error::Read {
        what,
        path: p.to_path_buf(),
        source,
    })
}

fn registries(o: &oci::Options) -> Result<oci::Registries, Error> {
    Ok(oci::Registries::new(o)?)
}

/// A lock written: every image's `registry/repository:tag` -> digest.
#[derive(Debug)]
pub struct LockWritten {
    pub path: PathBuf,
    pub digests: BTreeMap<String, String>,
}

/// `images lock`: resolve every image of the policy (without its current
/// lock: the lock is what is being written) and write the lock to
/// `output`, or to the file the policy's `spec.images.lock` names.
pub fn lock(
    policy: &Path,
    output: Option<PathBuf>,
    platform: Option<&str>,
    profile: Option<&str>,
    registry: &oci::Options,
) -> Result<LockWritten, Error> {
    let platform = platform
        .map(str::parse::<oci::resolve::Platform>)
        .transpose()
        .map_err(Error::Usage)?;
    let text = read_text(policy, "the policy")?;
    let m = crate::compile_model(&text, profile).map_err(|d| {
        Error::Invalid(crate::Failure {
            file: policy.display().to_string(),
            text: text.clone(),
            diagnostics: d,
        })
    })?;
    let dir = policy.parent().unwrap_or(Path::new(".")).to_path_buf();
    let output = output
        .or_else(|| m.image_lock.as_ref().map(|n| dir.join(n)))
        .ok_or_else(|| Error::NoLock(policy.to_path_buf()))?;
    let reg = registries(registry)?;
    let images: Vec<(String, crate::model::Image)> = m
        .images()
        .into_iter()
        .map(|(w, i)| (w, i.clone()))
        .collect();
    let digests =
        oci::resolve::resolve(&reg, &images, platform.as_ref()).map_err(Error::Unresolved)?;
    // A digest the policy pins must be what the registry serves.
    for (what, i) in m.images() {
        let r = crate::lock::reference(i);
        if !i.digest.is_empty() && platform.is_none() && digests.get(&r) != Some(&i.digest) {
            return Err(Error::PinMismatch {
                what,
                pinned: i.digest.clone(),
                served: digests.get(&r).cloned().unwrap_or_else(|| "?".into()),
                reference: r,
            });
        }
    }
    let body = crate::lock::filled(
        &m,
        &digests,
        platform.as_ref().map(|p| p.to_string()).as_deref(),
    );
    write_atomic(&output, body.as_bytes()).map_err(Error::Usage)?;
    Ok(LockWritten {
        path: output,
        digests,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut f = tempfile::NamedTempFile::new_in(dir).map_err(|e| oci::pull::disk_error(dir, &e))?;
    f.write_all(bytes)
        .map_err(|e| oci::pull::disk_error(path, &e))?;
    f.persist(path)
        .map_err(|e| oci::pull::disk_error(path, &e.error))?;
    Ok(())
}

/// `images push`: the images a bundle carries, into the registry `to`,
/// digests unchanged; with `key`, only from a bundle its signature
/// matches.
pub fn push(
    bundle: &Path,
    to: &str,
    key: Option<&Path>,
    registry: &oci::Options,
) -> Result<oci::push::Pushed, Error> {
    let key = key.map(|k| read_text(k, "the key")).transpose()?;
    let reg = registries(registry)?;
    oci::push::push(&reg, bundle, to, key.as_deref()).map_err(Error::Push)
}

/// `keys generate`: PREFIX.key (private) and PREFIX.pub.
pub fn generate_keys(prefix: &Path) -> Result<(PathBuf, PathBuf), Error> {
    Ok(crate::sign::generate(prefix)?)
}

/// Where `bundle --images` keeps blobs between runs: `$MESHPACK_CACHE`,
/// else `$XDG_CACHE_HOME/meshpack` or `~/.cache/meshpack`.
pub fn default_cache() -> PathBuf {
    if let Some(c) = std::env::var_os("MESHPACK_CACHE") {
        return PathBuf::from(c);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("meshpack")
}

/// What `bundle --images/--sign-key` adds to a plain bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Carry every locked image as an OCI image layout.
    pub images: bool,
    /// Sign SHA256SUMS with this private key.
    pub sign_key: Option<PathBuf>,
    /// Blob cache (none: [`default_cache`]).
    pub cache: Option<PathBuf>,
    pub registry: oci::Options,
}

/// A bundle written with images or a signature.
#[derive(Debug)]
pub struct Bundled {
    /// Files besides the image blobs.
    pub files: usize,
    pub blobs: usize,
    pub bytes: u64,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
}

/// The images of `m` by digest, once each; those without a digest are
/// refused by name.
fn locked_images(m: &Model, policy: &Path) -> Result<Vec<Locked>, Error> {
    let mut locked: BTreeMap<String, Locked> = BTreeMap::new();
    let mut unpinned = vec![];
    for (what, i) in m.images() {
        let name = crate::lock::reference(i);
        if i.digest.is_empty() {
            unpinned.push(format!("{what}: {name}"));
            continue;
        }
        locked.entry(name.clone()).or_insert(Locked {
            name,
            registry: i.registry.clone(),
            repository: i.repository.clone(),
            tag: i.tag.clone(),
            digest: i.digest.clone(),
        });
    }
    if !unpinned.is_empty() {
        return Err(Error::Unpinned {
            images: unpinned,
            policy: policy.to_path_buf(),
        });
    }
    Ok(locked.into_values().collect())
}

/// `bundle POLICY -o OUTPUT --images/--sign-key`, for a policy already
/// compiled from `text` (the caller prints its warnings).
pub fn bundle(
    compiled: &crate::Compiled,
    text: &str,
    policy: &Path,
    output: &Path,
    o: &BundleOptions,
) -> Result<Bundled, Error> {
    let m = &compiled.model;
    let sign_key = o
        .sign_key
        .as_deref()
        .map(|k| read_text(k, "the signing key"))
        .transpose()?;
    let out = crate::package(m);
    let mut files =
        crate::package::bundle::files(m, text, compiled.lock.as_ref(), &out.chart, &out.kustomize);
    let root = format!("{}-{}", m.name, m.version);
    let sums_path = format!("{root}/SHA256SUMS");
    files.remove(&sums_path);
    let cache = o.cache.clone().unwrap_or_else(default_cache).join("oci");
    let mut blobs: BTreeMap<String, (PathBuf, String, u64)> = BTreeMap::new();
    if o.images {
        let locked = locked_images(m, policy)?;
        let reg = registries(&o.registry)?;
        let pulled = oci::pull::pull(&reg, &locked, &cache).map_err(Error::NotWritten)?;
        files.insert(
            format!("{root}/images/oci-layout"),
            layout::OCI_LAYOUT.as_bytes().to_vec(),
        );
        files.insert(
            format!("{root}/images/index.json"),
            layout::index_json(&pulled.entries),
        );
        for (d, size) in &pulled.blobs {
            let hex = oci::sha256_hex(d).expect("checked");
            blobs.insert(
                format!("{root}/images/blobs/sha256/{hex}"),
                (oci::pull::blob_path(&cache, d), d.clone(), *size),
            );
        }
    }
    // The sums cover the blobs by digest; the signature signs the sums.
    let digests: BTreeMap<String, String> = blobs
        .iter()
        .map(|(p, (_, d, _))| (p.clone(), d.clone()))
        .collect();
    let sums = oci::archive::sums(&root, &files, &digests);
    if let Some(k) = &sign_key {
        let sig = crate::sign::sign(k, &sums)?;
        files.insert(format!("{root}/{}", verify::SIGNATURE), sig);
    }
    files.insert(sums_path, sums);
    let mut entries: BTreeMap<String, oci::archive::Source> = files
        .iter()
        .map(|(p, b)| (p.clone(), oci::archive::Source::Bytes(b)))
        .collect();
    for (p, (path, digest, size)) in &blobs {
        entries.insert(
            p.clone(),
            oci::archive::Source::Blob {
                path: path.clone(),
                digest: digest.clone(),
                size: *size,
            },
        );
    }
    let (bytes, digest) = oci::archive::write(output, &entries).map_err(Error::NotWritten)?;
    Ok(Bundled {
        files: files.len(),
        blobs: blobs.len(),
        bytes,
        digest,
    })
}

/// What `bundle --verify` found in an archive with images or a signature.
#[derive(Debug)]
pub struct Verified {
    /// Sorted, each once; empty: the bundle verifies.
    pub problems: Vec<String>,
    /// Images in its `images/index.json`, and blobs under `images/blobs/`.
    pub images: usize,
    pub blobs: usize,
    /// Whether a key was given (and so the signature matched it).
    pub signed: bool,
}

/// `bundle --verify ARCHIVE [--key PUB]`: its sums and signature
/// (`oci::verify`), then its policy and outputs as for a plain bundle
/// (`actions::bundle::verify` on the archive without the blobs).
pub fn verify_bundle(archive: &Path, key: Option<&Path>) -> Result<Verified, Error> {
    let key = key.map(|k| read_text(k, "the key")).transpose()?;
    let at = |message: String| Error::Archive {
        archive: archive.to_path_buf(),
        message,
    };
    let mut scan = verify::scan(archive).map_err(at)?;
    verify::check(&mut scan, key.as_deref()).map_err(at)?;
    let mut problems = std::mem::take(&mut scan.problems);
    let small = verify::small_archive(&scan).map_err(Error::Usage)?;
    problems.extend(super::bundle::verify(small.as_slice()).map_err(|e| at(e.to_string()))?);
    problems.sort();
    problems.dedup();
    let images = scan
        .small
        .get(&format!("{}images/index.json", scan.root))
        .and_then(|b| layout::read_index(b).ok())
        .map(|e| e.len())
        .unwrap_or(0);
    let blobs = scan
        .sums
        .keys()
        .filter(|p| p.contains("/images/blobs/"))
        .count();
    Ok(Verified {
        problems,
        images,
        blobs,
        signed: key.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> oci::Options {
        oci::Options {
            ca_files: vec![],
            plain_http: false,
            docker_config: None,
            jobs: 1,
        }
    }

    #[test]
    fn ca_files_that_cannot_be_used_are_typed_registry_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let mut o = options();
        o.ca_files = vec![missing.clone()];
        let Err(e) = registries(&o) else {
            panic!("a missing CA file was accepted");
        };
        let Error::Registries(oci::Error::CaFile { path, source }) = &e else {
            panic!("expected a CA file error, got {e:?}");
        };
        assert_eq!(path, &missing);
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read the CA file {}: {source}\nhelp: --ca-file takes a PEM certificate",
                missing.display()
            )
        );
        let not_pem = dir.path().join("ca.txt");
        std::fs::write(&not_pem, "hello").unwrap();
        o.ca_files = vec![not_pem.clone()];
        let Err(e) = registries(&o) else {
            panic!("a CA file without a certificate was accepted");
        };
        assert!(
            matches!(&e, Error::Registries(oci::Error::NotPem { path }) if path == &not_pem),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "{}: not a PEM certificate (no `-----BEGIN CERTIFICATE-----`)",
                not_pem.display()
            )
        );
    }

    #[test]
    fn a_policy_without_a_lock_needs_an_output() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.yaml");
        std::fs::write(&p, "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 1.0.0\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n").unwrap();
        let e = lock(&p, None, None, None, &options()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            format!("{} names no image lock\nhelp: add `images: {{lock: images.lock}}` under `spec`, or pass -o FILE", p.display())
        );
    }

    #[test]
    fn errors_say_what_failed_and_how_to_exit() {
        let e = lock(
            Path::new("/nonexistent/p.yaml"),
            None,
            None,
            None,
            &options(),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with("cannot read the policy /nonexistent/p.yaml: "),
            "{e}"
        );
        // The platform is checked before the policy is read.
        let e = lock(Path::new("p.yaml"), None, Some("windows"), None, &options()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "`windows` is not a platform\nhelp: write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8"
        );
        let e = Error::Unpinned {
            images: vec!["web: r.example.com/web:1".into()],
            policy: "shop.yaml".into(),
        };
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "bundle --images takes images by digest, and these have none:\n  web: r.example.com/web:1\nhelp: add `images: {lock: images.lock}` to the policy and run `meshpack images lock shop.yaml`"
        );
        assert_eq!(
            Error::NotWritten("disk full".into()).to_string(),
            "disk full\nno bundle was written"
        );
    }
}
