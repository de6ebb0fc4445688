//! The command layer of air-gapped delivery (docs/air-gapped.md): flags of
//! `images lock`, `images push`, `keys generate`, `bundle --images`,
//! `bundle --sign-key` and `bundle --verify --key`; the work is in
//! `meshpack::oci`, `meshpack::sign` and `meshpack::package::bundle`.
//!
//! Invariant: parses, calls, prints; exit 1 for a problem found (a bundle
//! that does not verify, an image that cannot be resolved or pulled), 2 for
//! bad usage.

use clap::{Args, Subcommand};
use meshpack::oci::{self, layout, pull::Locked, verify};
use meshpack::package;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How to reach registries (shared by lock, bundle --images and push).
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// A PEM certificate authority to trust besides the system's (repeatable).
    #[arg(long = "ca-file")]
    ca_files: Vec<PathBuf>,
    /// Speak plain HTTP to the registries (only for registries without TLS).
    #[arg(long)]
    plain_http: bool,
    /// Folder holding docker's config.json (default $DOCKER_CONFIG, then ~/.docker).
    #[arg(long)]
    docker_config: Option<PathBuf>,
    /// Transfers at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
}

impl RegistryArgs {
    fn options(&self) -> oci::Options {
        oci::Options {
            ca_files: self.ca_files.clone(),
            plain_http: self.plain_http,
            docker_config: self.docker_config.clone(),
            jobs: self.jobs,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ImagesAction {
    /// Resolve every image of a policy (services, versions, mesh runtime)
    /// to a digest from its registry and write the policy's image lock.
    Lock {
        policy: PathBuf,
        /// Where to write the lock (default: the file the policy's
        /// `spec.images.lock` names, beside the policy).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Lock one platform's image (os/arch[/variant]) instead of the
        /// multi-arch index.
        #[arg(long)]
        platform: Option<String>,
        /// Profile to use instead of the policy's `spec.profile`.
        #[arg(long)]
        profile: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Push the images a bundle carries into a registry, digests unchanged
    /// (to `<REGISTRY>/<repository>:<tag>`; install with
    /// `--set global.imageRegistry=<REGISTRY>`).
    Push {
        bundle: PathBuf,
        /// The registry: host[:port][/path].
        #[arg(long)]
        to: String,
        /// The vendor's public key: refuse a bundle whose signature does not match.
        #[arg(long)]
        key: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Write a signing key pair: PREFIX.key (private, 0600) and PREFIX.pub.
    Generate { prefix: PathBuf },
}

/// Flags of `bundle` for images, signatures and their verification.
#[derive(Args, Debug)]
pub struct BundleArgs {
    /// Carry every locked image (pulled by digest) as an OCI image layout.
    #[arg(long)]
    pub images: bool,
    /// Sign SHA256SUMS with this private key (from `meshpack keys generate`).
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
    /// With --verify: the vendor's public key, to check the signature.
    #[arg(long, requires = "verify")]
    pub key: Option<PathBuf>,
    /// Blob cache for --images (default $MESHPACK_CACHE, else
    /// $XDG_CACHE_HOME/meshpack or ~/.cache/meshpack); kept between runs,
    /// so an interrupted bundle resumes.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl BundleArgs {
    /// Whether anything beyond a plain bundle was asked for.
    pub fn wanted(&self) -> bool {
        self.images || self.sign_key.is_some()
    }
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

fn read_text(p: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("cannot read {what} {}: {e}", p.display()))
}

pub fn images(action: ImagesAction) -> ExitCode {
    match action {
        ImagesAction::Lock {
            policy,
            output,
            platform,
            profile,
            registry,
        } => lock(&policy, output, platform, profile.as_deref(), &registry),
        ImagesAction::Push {
            bundle,
            to,
            key,
            registry,
        } => {
            let key = match key.as_deref().map(|k| read_text(k, "the key")).transpose() {
                Ok(k) => k,
                Err(e) => return fail(e, 2),
            };
            let reg = match oci::Registries::new(&registry.options()) {
                Ok(r) => r,
                Err(e) => return fail(e, 2),
            };
            match oci::push::push(&reg, &bundle, &to, key.as_deref()) {
                Ok(pushed) => {
                    for (r, d) in &pushed {
                        println!("{r}@{d}");
                    }
                    println!(
                        "pushed {} image(s) from {} to {to}, digests unchanged\ninstall with: --set global.imageRegistry={to}",
                        pushed.len(),
                        bundle.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, 1),
            }
        }
    }
}

fn lock(
    policy: &Path,
    output: Option<PathBuf>,
    platform: Option<String>,
    profile: Option<&str>,
    registry: &RegistryArgs,
) -> ExitCode {
    let platform = match platform
        .as_deref()
        .map(str::parse::<oci::resolve::Platform>)
    {
        Some(Err(e)) => return fail(e, 2),
        Some(Ok(p)) => Some(p),
        None => None,
    };
    let text = match read_text(policy, "the policy") {
        Ok(t) => t,
        Err(e) => return fail(e, 2),
    };
    // The model without the lock: the lock is what is being written.
    let m = match meshpack::compile_model(&text, profile) {
        Ok(m) => m,
        Err(d) => {
            let f = meshpack::Failure {
                file: policy.display().to_string(),
                text,
                diagnostics: d,
            };
            eprint!("{}", f.render());
            return ExitCode::from(1);
        }
    };
    let dir = policy.parent().unwrap_or(Path::new(".")).to_path_buf();
    let Some(output) = output.or_else(|| m.image_lock.as_ref().map(|n| dir.join(n))) else {
        return fail(
            format!(
                "{} names no image lock\nhelp: add `images: {{lock: images.lock}}` under `spec`, or pass -o FILE",
                policy.display()
            ),
            2,
        );
    };
    let reg = match oci::Registries::new(&registry.options()) {
        Ok(r) => r,
        Err(e) => return fail(e, 2),
    };
    let images: Vec<(String, meshpack::model::Image)> = m
        .images()
        .into_iter()
        .map(|(w, i)| (w, i.clone()))
        .collect();
    let digests = match oci::resolve::resolve(&reg, &images, platform.as_ref()) {
        Ok(d) => d,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            return fail(
                format!(
                    "{} image(s) could not be resolved; the lock was not written",
                    errors.len()
                ),
                1,
            );
        }
    };
    // A digest the policy pins must be what the registry serves.
    for (what, i) in m.images() {
        let r = meshpack::lock::reference(i);
        if !i.digest.is_empty() && platform.is_none() && digests.get(&r) != Some(&i.digest) {
            return fail(
                format!(
                    "{what}: the policy pins {} but {r} is {} in its registry\nhelp: remove the digest from the policy (the lock carries it), or fix it",
                    i.digest,
                    digests.get(&r).map(String::as_str).unwrap_or("?")
                ),
                1,
            );
        }
    }
    let body = meshpack::lock::filled(
        &m,
        &digests,
        platform.as_ref().map(|p| p.to_string()).as_deref(),
    );
    if let Err(e) = write_atomic(&output, body.as_bytes()) {
        return fail(e, 2);
    }
    for (r, d) in &digests {
        println!("{r}@{d}");
    }
    println!("wrote {} ({} images)", output.display(), digests.len());
    ExitCode::SUCCESS
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

pub fn keys(action: KeysAction) -> ExitCode {
    match action {
        KeysAction::Generate { prefix } => match meshpack::sign::generate(&prefix) {
            Ok((k, p)) => {
                println!(
                    "wrote {} (private: keep it secret, sign with `bundle --sign-key`) and {} (give it to customers: `bundle --verify --key`)",
                    k.display(),
                    p.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e, 2),
        },
    }
}

fn default_cache() -> PathBuf {
    if let Some(c) = std::env::var_os("MESHPACK_CACHE") {
        return PathBuf::from(c);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("meshpack")
}

/// `bundle POLICY -o X --images/--sign-key`.
pub fn bundle(policy: &Path, output: &Path, profile: Option<&str>, a: &BundleArgs) -> ExitCode {
    // With RLIMIT_FSIZE (a quota) the kernel would kill the process on
    // SIGXFSZ before any cleanup; ignored, the write fails with EFBIG and
    // the temporary files are removed (setrlimit(2), signal(7)).
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let compiled = match crate::load_compiled(policy, profile) {
        Ok((c, _)) => c,
        Err(code) => return code,
    };
    let m = compiled.model;
    let text = match read_text(policy, "the policy") {
        Ok(t) => t,
        Err(e) => return fail(e, 2),
    };
    let sign_key = match a
        .sign_key
        .as_deref()
        .map(|k| read_text(k, "the signing key"))
        .transpose()
    {
        Ok(k) => k,
        Err(e) => return fail(e, 2),
    };
    let out = meshpack::package(&m);
    let mut files = package::bundle::files(
        &m,
        &text,
        compiled.lock.as_ref(),
        &out.chart,
        &out.kustomize,
    );
    let root = format!("{}-{}", m.name, m.version);
    let sums_path = format!("{root}/SHA256SUMS");
    files.remove(&sums_path);
    let cache = a.cache.clone().unwrap_or_else(default_cache).join("oci");
    let mut blobs: BTreeMap<String, (PathBuf, String, u64)> = BTreeMap::new();
    if a.images {
        let mut locked: BTreeMap<String, Locked> = BTreeMap::new();
        let mut unpinned = vec![];
        for (what, i) in m.images() {
            let name = meshpack::lock::reference(i);
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
            return fail(
                format!(
                    "bundle --images takes images by digest, and these have none:\n  {}\nhelp: add `images: {{lock: images.lock}}` to the policy and run `meshpack images lock {}`",
                    unpinned.join("\n  "),
                    policy.display()
                ),
                1,
            );
        }
        let reg = match oci::Registries::new(&a.registry.options()) {
            Ok(r) => r,
            Err(e) => return fail(e, 2),
        };
        let locked: Vec<Locked> = locked.into_values().collect();
        let pulled = match oci::pull::pull(&reg, &locked, &cache) {
            Ok(p) => p,
            Err(e) => return fail(format!("{e}\nno bundle was written"), 1),
        };
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
    let digests: BTreeMap<String, String> = blobs
        .iter()
        .map(|(p, (_, d, _))| (p.clone(), d.clone()))
        .collect();
    let sums = oci::archive::sums(&root, &files, &digests);
    if let Some(k) = &sign_key {
        match meshpack::sign::sign(k, &sums) {
            Ok(sig) => {
                files.insert(format!("{root}/{}", verify::SIGNATURE), sig);
            }
            Err(e) => return fail(e, 2),
        }
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
    match oci::archive::write(output, &entries) {
        Ok((n, digest)) => {
            println!(
                "wrote {} ({} files, {} image blobs, {n} bytes)\n{digest}",
                output.display(),
                files.len(),
                blobs.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("{e}\nno bundle was written"), 1),
    }
}

/// `bundle --verify X [--key PUB]`.
pub fn verify_bundle(archive: &Path, key: Option<&Path>) -> ExitCode {
    let key = match key.map(|k| read_text(k, "the key")).transpose() {
        Ok(k) => k,
        Err(e) => return fail(e, 2),
    };
    let mut scan = match verify::scan(archive) {
        Ok(s) => s,
        Err(e) => return fail(format!("{}: {e}", archive.display()), 2),
    };
    if let Err(e) = verify::check(&mut scan, key.as_deref()) {
        return fail(format!("{}: {e}", archive.display()), 2);
    }
    let mut problems = std::mem::take(&mut scan.problems);
    let small = match verify::small_archive(&scan) {
        Ok(b) => b,
        Err(e) => return fail(e, 2),
    };
    match meshpack::actions::bundle::verify(small.as_slice()) {
        Ok(p) => problems.extend(p),
        Err(e) => return fail(format!("{}: {e}", archive.display()), 2),
    }
    problems.sort();
    problems.dedup();
    if problems.is_empty() {
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
        let signed = if key.is_some() {
            "; the signature matches the key"
        } else {
            ""
        };
        println!(
            "verified: {} (every sum matches; the chart and Kustomize tree compile from its policy; {images} image(s), {blobs} blob(s) match their digests{signed})",
            archive.display()
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            println!("{p}");
        }
        println!(
            "FAILED: {} problem(s) in {}",
            problems.len(),
            archive.display()
        );
        ExitCode::from(1)
    }
}
