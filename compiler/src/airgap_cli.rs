//! The command layer of air-gapped delivery (docs/air-gapped.md): flags of
//! `images lock`, `images push`, `keys generate`, `bundle --images`,
//! `bundle --sign-key` and `bundle --verify --key`; their rules are in
//! `meshpack::actions::airgap`.
//!
//! Invariant: parses, calls, prints; exit 1 for a problem found (a bundle
//! that does not verify, an image that cannot be resolved or pulled), 2 for
//! bad usage (`airgap::Error::exit_code`).

use clap::{Args, Subcommand};
use meshpack::actions::airgap::{self, Error};
use meshpack::oci;
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

/// Print an error as the commands do: a policy's diagnostics as rendered,
/// each unresolved image on its own line before the summary.
fn fail(e: Error) -> ExitCode {
    match &e {
        Error::Invalid(f) => eprint!("{}", f.render()),
        Error::Unresolved(errors) => {
            for x in errors {
                eprintln!("error: {x}");
            }
            eprintln!("error: {e}");
        }
        _ => eprintln!("error: {e}"),
    }
    ExitCode::from(e.exit_code())
}

pub fn images(action: ImagesAction) -> ExitCode {
    match action {
        ImagesAction::Lock {
            policy,
            output,
            platform,
            profile,
            registry,
        } => match airgap::lock(
            &policy,
            output,
            platform.as_deref(),
            profile.as_deref(),
            &registry.options(),
        ) {
            Ok(l) => {
                for (r, d) in &l.digests {
                    println!("{r}@{d}");
                }
                println!("wrote {} ({} images)", l.path.display(), l.digests.len());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        ImagesAction::Push {
            bundle,
            to,
            key,
            registry,
        } => match airgap::push(&bundle, &to, key.as_deref(), &registry.options()) {
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
            Err(e) => fail(e),
        },
    }
}

pub fn keys(action: KeysAction) -> ExitCode {
    match action {
        KeysAction::Generate { prefix } => match airgap::generate_keys(&prefix) {
            Ok((k, p)) => {
                println!(
                    "wrote {} (private: keep it secret, sign with `bundle --sign-key`) and {} (give it to customers: `bundle --verify --key`)",
                    k.display(),
                    p.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
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
    let (compiled, text) = match crate::load_compiled(policy, profile) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let o = airgap::BundleOptions {
        images: a.images,
        sign_key: a.sign_key.clone(),
        cache: a.cache.clone(),
        registry: a.registry.options(),
    };
    match airgap::bundle(&compiled, &text, policy, output, &o) {
        Ok(b) => {
            println!(
                "wrote {} ({} files, {} image blobs, {} bytes)\n{}",
                output.display(),
                b.files,
                b.blobs,
                b.bytes,
                b.digest
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `bundle --verify X [--key PUB]`.
pub fn verify_bundle(archive: &Path, key: Option<&Path>) -> ExitCode {
    let v = match airgap::verify_bundle(archive, key) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    if v.problems.is_empty() {
        let signed = if v.signed {
            "; the signature matches the key"
        } else {
            ""
        };
        println!(
            "verified: {} (every sum matches; the chart and Kustomize tree compile from its policy; {} image(s), {} blob(s) match their digests{signed})",
            archive.display(),
            v.images,
            v.blobs
        );
        ExitCode::SUCCESS
    } else {
        for p in &v.problems {
            println!("{p}");
        }
        println!(
            "FAILED: {} problem(s) in {}",
            v.problems.len(),
            archive.display()
        );
        ExitCode::from(1)
    }
}
