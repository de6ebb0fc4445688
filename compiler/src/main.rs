//! The `meshpack` command line.

// glibc's allocator spent a third of a large compile consolidating and
// unlinking freed chunks (perf); mimalloc does not. It is built without
// transparent huge pages (`no_thp` in Cargo.toml: the kernel zeroing 2 MiB
// pages dominated large runs). The `system-alloc` feature keeps the system
// allocator, whose calls heaptrack can see.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod airgap_cli;
mod upgrade_cli;

use clap::{Parser, Subcommand};
use meshpack::actions::{self, bundle, compile, verify, views, Error};
use meshpack::validate;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "meshpack",
    version,
    about = "Compile a mesh policy into a Helm chart and Kustomize tree where istio.enabled switches the Istio mesh on or off"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile policies into charts (and Kustomize trees).
    ///
    /// Without POLICY, compiles every `policies/*.yaml` into `charts/<name>`
    /// and `kustomize/<name>` (the layout of a meshpack repository).
    Compile {
        /// Policy files.
        policies: Vec<PathBuf>,
        /// Where the chart goes (default `charts/<name>`); one policy only.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Where the Kustomize tree goes (default `kustomize/<name>`, or
        /// none when `-o` is given without it).
        #[arg(long)]
        kustomize: Option<PathBuf>,
        /// Profile to use instead of the policy's `spec.profile`.
        #[arg(long)]
        profile: Option<String>,
        /// Write nothing; exit 1 and name the files that differ when the
        /// output on disk is not what the policies compile to.
        #[arg(long)]
        check: bool,
        /// Replace output directories meshpack did not create.
        #[arg(long)]
        force: bool,
    },
    /// Print the JSON Schema of the policy language.
    Schema,
    /// Validate rendered manifests: schemas (with CEL rules) and mesh checks.
    ///
    /// Exit 0 when valid, 1 when invalid, 2 when it could not run.
    Validate {
        /// Files or folders (`*.yaml`, `*.yml`, `*.json`); `-` for standard input.
        #[arg(default_value = "-")]
        paths: Vec<PathBuf>,
        /// Output: text, json or junit. Text and junit show 5 objects of
        /// each kind without a schema and count the rest; json lists every one.
        #[arg(short, long, value_enum, default_value_t = actions::validate::Format::Text)]
        output: actions::validate::Format,
        /// Kubernetes version of the built-in schemas.
        #[arg(long, default_value = "1.34")]
        kubernetes_version: String,
        /// kubeconform-style schema location template, tried in order
        /// (`default` = built-in), e.g. `dir/{{.ResourceKind}}{{.KindSuffix}}.json`.
        #[arg(long = "schema-location")]
        schema_locations: Vec<String>,
        /// CustomResourceDefinitions whose kinds to validate (schema and CEL rules).
        #[arg(long = "crd")]
        crds: Vec<PathBuf>,
        /// Skip objects without a schema instead of failing on them.
        #[arg(long)]
        ignore_missing_schemas: bool,
        /// Allow fields the schemas do not list.
        #[arg(long)]
        no_strict: bool,
        /// Skip the mesh checks (schemas only).
        #[arg(long)]
        no_mesh_checks: bool,
        /// Run an opt-in mesh check too (M058; repeatable).
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(validate::checks::OPT_IN))]
        enable: Vec<String>,
        /// Namespace of objects that name none.
        #[arg(long, default_value = "default")]
        namespace: String,
    },
    /// Print who can reach whom in rendered manifests (Istio, NetworkPolicy or both).
    Matrix {
        /// Files or folders; `-` for standard input.
        #[arg(default_value = "-")]
        paths: Vec<PathBuf>,
        /// Output: text, json, csv or markdown.
        #[arg(short, long, value_enum, default_value_t = verify::Format::Text)]
        output: verify::Format,
        #[command(flatten)]
        mesh: MeshArgs,
    },
    /// Check that rendered manifests allow exactly what a policy intends.
    ///
    /// Lists every edge allowed but not intended (a security bug) and
    /// intended but not allowed (an outage); exit 1 on any.
    Verify {
        /// The policy the manifests were compiled from.
        #[arg(long)]
        policy: PathBuf,
        /// Profile to use instead of the policy's `spec.profile`.
        #[arg(long)]
        profile: Option<String>,
        /// Files or folders; `-` for standard input.
        #[arg(default_value = "-")]
        paths: Vec<PathBuf>,
        /// Also print the rendered matrix.
        #[arg(long)]
        show_matrix: bool,
        /// Read extraSources and extraEgress from the annotations of the
        /// rendered objects instead of values files.
        #[arg(long, conflicts_with = "values")]
        additions_from_manifests: bool,
        #[command(flatten)]
        mesh: MeshArgs,
    },
    /// Draw the intended graph of a policy.
    Graph {
        policy: PathBuf,
        /// mermaid, dot or svg (laid out by meshpack; no Graphviz needed).
        #[arg(short, long, value_enum, default_value_t = views::GraphFormat::Mermaid)]
        format: views::GraphFormat,
        #[command(flatten)]
        args: PolicyArgs,
    },
    /// List every image a policy's chart can render, as mirroring tools take
    /// them; `images lock` resolves their digests, `images push` loads a
    /// bundle's images into a registry.
    #[command(args_conflicts_with_subcommands = true)]
    Images {
        #[command(subcommand)]
        action: Option<airgap_cli::ImagesAction>,
        policy: Option<PathBuf>,
        /// Rewrite every reference to this registry (a private mirror).
        #[arg(long)]
        registry: Option<String>,
        /// text (one per line), json, or lock (an image lock to fill with digests).
        #[arg(short, long, value_enum, default_value_t = views::ImagesFormat::Text)]
        output: views::ImagesFormat,
        #[command(flatten)]
        args: PolicyArgs,
    },
    /// Pack chart, Kustomize tree, images.txt, policy and SHA256SUMS into a
    /// reproducible archive; or check one with --verify.
    Bundle {
        /// The policy (not with --verify).
        policy: Option<PathBuf>,
        /// The archive to write, e.g. evalhub-2.3.0.tgz.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Check every sum of an archive and that its chart still compiles from its policy.
        #[arg(long, conflicts_with_all = ["policy", "output"])]
        verify: Option<PathBuf>,
        #[command(flatten)]
        args: PolicyArgs,
        #[command(flatten)]
        airgap: airgap_cli::BundleArgs,
    },
    /// Signing keys for bundles.
    Keys {
        #[command(subcommand)]
        action: airgap_cli::KeysAction,
    },
    /// Print a synthetic policy (benchmarks): N services, fan-out k, a share of HTTP rules.
    Synthesize {
        #[arg(long, default_value_t = 100)]
        services: usize,
        #[arg(long, default_value_t = 3)]
        fanout: usize,
        /// Percentage of rules limited to HTTP paths and methods.
        #[arg(long, default_value_t = 30)]
        http_percent: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// What changes between two versions of a policy (for pull-request review).
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// text or markdown (a PR comment).
        #[arg(short, long, value_enum, default_value_t = views::DiffFormat::Text)]
        output: views::DiffFormat,
        #[command(flatten)]
        args: PolicyArgs,
    },
    /// Draft an attach-mode policy from an existing chart, manifests folder
    /// or `kustomize build` output (see docs/attach.md).
    ///
    /// Services, ports, selectors and ServiceAccounts come from the
    /// manifests; allow rules only from evidence (env values, args and
    /// ConfigMap values naming a Service), each with that evidence quoted.
    Import {
        /// A chart folder (rendered with `helm template`; helm on PATH), a
        /// folder of manifests, a YAML file, or `-` for standard input.
        input: PathBuf,
        /// Values file for the chart (repeatable).
        #[arg(short = 'f', long = "values")]
        values: Vec<PathBuf>,
        /// `--set` for the chart (repeatable).
        #[arg(long)]
        set: Vec<String>,
        /// Policy name (default `<chart>-mesh`).
        #[arg(long)]
        name: Option<String>,
        /// Write the draft here instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Rewrite a policy from its apiVersion to the current one, keeping
    /// comments (see docs/upgrades.md).
    Migrate(upgrade_cli::MigrateArgs),
    /// Whether a customer's values still install on a new chart, and how
    /// reachability changes between the old and new renders (Helm on PATH).
    UpgradeCheck(upgrade_cli::UpgradeCheckArgs),
}

#[derive(clap::Args)]
struct PolicyArgs {
    /// Profile to use instead of the policy's `spec.profile`.
    #[arg(long)]
    profile: Option<String>,
}

#[derive(clap::Args)]
struct MeshArgs {
    /// Trust domain of the principals.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// Namespace of objects that name none.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Namespace of the ingress gateways behind `gateway/<name>` sources
    /// (their ServiceAccounts are the policy's, as the chart's defaults);
    /// default: `--values`' `istio.gateway.namespace`, else istio-ingress.
    #[arg(long)]
    gateway_namespace: Option<String>,
    /// Identity of one gateway, when installed with other values:
    /// `<gateway>=<namespace>/<serviceAccount>` (repeatable).
    #[arg(long)]
    gateway_identity: Vec<String>,
    /// Namespace of the Prometheus the chart admits to metrics ports
    /// (`metrics.prometheus.namespace`); default: `--values`', else monitoring.
    #[arg(long)]
    prometheus_namespace: Option<String>,
    /// A label of the Prometheus pods (`metrics.prometheus.podLabels`):
    /// `KEY=VALUE` (repeatable; replaces `--values`' labels).
    #[arg(long)]
    prometheus_label: Vec<String>,
    /// Values files the chart was installed with (repeatable, later files
    /// win as with Helm): the gateway namespace and ServiceAccounts and the
    /// Prometheus namespace and pod labels are read from them (flags win),
    /// and for `verify` their extraSources and extraEgress widen the intent
    /// (docs/additions.md).
    #[arg(long = "values", short = 'f')]
    values: Vec<PathBuf>,
}

impl MeshArgs {
    fn mesh(&self) -> verify::Mesh {
        verify::Mesh {
            trust_domain: self.trust_domain.clone(),
            namespace: self.namespace.clone(),
            gateway_namespace: self.gateway_namespace.clone(),
            gateway_identity: self.gateway_identity.clone(),
            prometheus_namespace: self.prometheus_namespace.clone(),
            prometheus_label: self.prometheus_label.clone(),
            values: self.values.clone(),
        }
    }
}

fn main() -> ExitCode {
    // `meshpack images ... | head` must end quietly when the reader stops,
    // as Unix tools do, not panic on a broken pipe (Rust ignores SIGPIPE).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any
    // thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // No transparent huge pages for this process, whatever the host's THP
    // mode: `no_thp` (Cargo.toml) only stops mimalloc asking for them, and
    // on hosts set to `always` the kernel would still back its arenas with
    // 2 MiB pages, zeroing each whole on first touch and again after a
    // purge (perf: up to half of a large compile). Inherited by children,
    // which is harmless for the tools meshpack runs.
    #[cfg(all(target_os = "linux", not(feature = "system-alloc")))]
    // SAFETY: prctl with integer arguments only; it reads and writes no
    // memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate(a) => upgrade_cli::migrate(a),
        Command::UpgradeCheck(a) => upgrade_cli::upgrade_check(a),
        Command::Import {
            input,
            values,
            set,
            name,
            output,
        } => run_import(&input, values, set, name.as_deref(), output.as_deref()),
        Command::Validate {
            paths,
            output,
            kubernetes_version,
            schema_locations,
            crds,
            ignore_missing_schemas,
            no_strict,
            no_mesh_checks,
            enable,
            namespace,
        } => {
            if let Err(e) = actions::validate::kubernetes_minor(&kubernetes_version) {
                return fail(e);
            }
            let opts = validate::Options {
                schemas: validate::schemas::Options {
                    strict: !no_strict,
                    locations: schema_locations,
                    crd_files: crds,
                },
                ignore_missing_schemas,
                default_namespace: namespace,
                mesh_checks: !no_mesh_checks,
                enable,
                // One validation, then the process exits.
                keep_until_exit: true,
                missing_schemas_shown: actions::validate::missing_schemas_shown(output),
            };
            match actions::validate::run(&paths, &opts) {
                Ok((report, note)) => {
                    if let Some(note) = note {
                        eprintln!("{note}");
                    }
                    // Written as it is formatted: a report can hold a
                    // million findings (`-o json`), its text gigabytes.
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    let written = actions::validate::write(&report, output, &mut out)
                        .and_then(|()| std::io::Write::flush(&mut out));
                    match written {
                        // A reader that stopped early (`| head`) took what it wanted.
                        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                            eprintln!("error: writing the report: {e}");
                            return ExitCode::from(2);
                        }
                        _ => {}
                    }
                    if report.failed() {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => fail(e),
            }
        }
        Command::Matrix {
            paths,
            output,
            mesh,
        } => match verify::matrix(&paths, &mesh.mesh()) {
            Ok((m, mode)) => {
                print!("{}", verify::render(&m, &mode, output));
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Verify {
            policy,
            profile,
            paths,
            show_matrix,
            additions_from_manifests,
            mesh,
        } => {
            warn(&policy, profile.as_deref());
            run_verify(
                &policy,
                profile.as_deref(),
                &paths,
                show_matrix,
                &if additions_from_manifests {
                    verify::Additions::FromManifests
                } else {
                    verify::Additions::Values(mesh.values.clone())
                },
                &mesh,
            )
        }
        Command::Graph {
            policy,
            format,
            args,
        } => {
            warn(&policy, args.profile.as_deref());
            print_or_fail(views::graph(&policy, args.profile.as_deref(), format))
        }
        Command::Diff {
            old,
            new,
            output,
            args,
        } => {
            // Both policies report their errors; the first decides the exit.
            let profile = args.profile.as_deref();
            warn(&old, profile);
            warn(&new, profile);
            let (a, b) = (
                actions::policy::load_model(&old, profile).map_err(fail),
                actions::policy::load_model(&new, profile).map_err(fail),
            );
            match (a, b) {
                (Ok(a), Ok(b)) => print_or_fail(Ok(views::diff(&a, &b, output))),
                (Err(code), _) | (_, Err(code)) => code,
            }
        }
        Command::Synthesize {
            services,
            fanout,
            http_percent,
            seed,
        } => {
            let shape = meshpack::synthetic::Shape {
                services,
                fanout,
                http_percent,
                seed,
            };
            print!("{}", meshpack::synthetic::policy(&shape));
            ExitCode::SUCCESS
        }
        Command::Images {
            action: Some(action),
            ..
        } => airgap_cli::images(action),
        Command::Keys { action } => airgap_cli::keys(action),
        Command::Images {
            policy,
            registry,
            output,
            args,
            ..
        } => {
            let Some(policy) = policy else {
                return fail(Error::Usage(
                    "name a policy: meshpack images POLICY (or `images lock`, `images push`)"
                        .into(),
                ));
            };
            warn(&policy, args.profile.as_deref());
            print_or_fail(views::images_of(
                &policy,
                args.profile.as_deref(),
                registry.as_deref(),
                output,
            ))
        }
        Command::Bundle {
            policy,
            output,
            verify: Some(archive),
            airgap,
            ..
        } if policy.is_none() && output.is_none() => {
            airgap_cli::verify_bundle(&archive, airgap.key.as_deref())
        }
        Command::Bundle {
            policy: Some(policy),
            output: Some(output),
            verify: None,
            args,
            airgap,
        } if airgap.wanted() => {
            airgap_cli::bundle(&policy, &output, args.profile.as_deref(), &airgap)
        }
        Command::Bundle {
            policy,
            output,
            verify,
            args,
            ..
        } => {
            if let Some(p) = &policy {
                warn(p, args.profile.as_deref());
            }
            run_bundle(policy, output, verify, args.profile.as_deref())
        }
        Command::Schema => {
            println!("{}", compile::schema_text().trim_end());
            ExitCode::SUCCESS
        }
        Command::Compile {
            policies,
            output,
            kustomize,
            profile,
            check,
            force,
        } => run_compile(&compile::Request {
            policies,
            output,
            kustomize,
            profile,
            check,
            force,
        }),
    }
}

/// Print the warnings of a policy a command reads (a deprecated apiVersion).
fn warn(policy: &Path, profile: Option<&str>) {
    eprint!("{}", actions::policy::warnings(policy, profile));
}

/// Print an action's error as people read it; its exit code.
fn fail(e: Error) -> ExitCode {
    match &e {
        // Diagnostics carry their own `error[E....]` headers.
        Error::Invalid(_) => eprint!("{e}"),
        _ => eprintln!("error: {e}"),
    }
    ExitCode::from(e.exit_code())
}

fn print_or_fail(r: Result<String, Error>) -> ExitCode {
    match r {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn run_compile(req: &compile::Request) -> ExitCode {
    let outcome = compile::run(req, &mut |event| match event {
        compile::Event::Wrote { dir, files, policy } => {
            eprintln!("wrote {} ({files} files) from {policy}", dir.display())
        }
        compile::Event::Invalid { policy, failure: f } => {
            eprint!("{}", f.render());
            let n = f.diagnostics.len();
            eprintln!(
                "error: {policy} could not be compiled ({n} error{})",
                if n == 1 { "" } else { "s" }
            );
        }
        compile::Event::TooLarge(t) => eprintln!("error: {t}"),
        compile::Event::Warnings { text, .. } => eprint!("{text}"),
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    if outcome.failed {
        return ExitCode::from(1);
    }
    if !outcome.stale.is_empty() {
        for p in &outcome.stale {
            eprintln!("{p}");
        }
        eprintln!(
            "error: {} generated file(s) are out of date\nhelp: run `cargo run -p meshpack -- compile` and commit the result",
            outcome.stale.len()
        );
        return ExitCode::from(1);
    }
    if req.check {
        eprintln!(
            "up to date: {} polic{}",
            outcome.policies,
            if outcome.policies == 1 { "y" } else { "ies" }
        );
    }
    ExitCode::SUCCESS
}

fn run_verify(
    policy: &Path,
    profile: Option<&str>,
    paths: &[PathBuf],
    show: bool,
    additions: &verify::Additions,
    mesh: &MeshArgs,
) -> ExitCode {
    let v = match verify::run(policy, profile, paths, &mesh.mesh(), additions) {
        Ok(v) => v,
        // An invalid policy too: verify could not run.
        Err(e) => {
            fail(e);
            return ExitCode::from(2);
        }
    };
    let (c, mode) = (&v.comparison, &v.mode);
    if show {
        print!("{}", meshpack::verify::output::text(&c.actual, mode));
    }
    for s in &c.missing {
        println!("missing: service `{s}` of the policy has no workload in the manifests");
    }
    for d in &c.differences {
        println!("{d}");
    }
    for g in &v.gaps {
        println!("{}: {}", g.layer, g.difference);
    }
    if v.verified() {
        let each = if v.both_layers {
            "; each layer alone allows nothing more"
        } else {
            ""
        };
        println!(
            "verified ({mode}): {} source/destination pairs allow exactly what {} intends{each}",
            c.intended.len(),
            policy.display()
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "FAILED ({mode}): {} difference(s) between {} and the manifests",
            c.differences.len() + c.missing.len() + v.gaps.len(),
            policy.display()
        );
        ExitCode::from(1)
    }
}

/// Read and compile a policy with the image lock it names, printing
/// diagnostics on failure (for `airgap_cli`). Returns the policy's text too.
fn load_compiled(
    path: &Path,
    profile: Option<&str>,
) -> Result<(meshpack::Compiled, String), ExitCode> {
    let (c, text) = actions::policy::load_compiled(path, profile).map_err(fail)?;
    eprint!(
        "{}",
        actions::policy::render_warnings(&c, &path.display().to_string(), &text)
    );
    Ok((c, text))
}

fn run_bundle(
    policy: Option<PathBuf>,
    output: Option<PathBuf>,
    verify: Option<PathBuf>,
    profile: Option<&str>,
) -> ExitCode {
    if let Some(archive) = verify {
        return match bundle::verify_file(&archive) {
            Err(e) => fail(e),
            Ok(problems) if problems.is_empty() => {
                println!("verified: {} (every sum matches; the chart and Kustomize tree compile from its policy)", archive.display());
                ExitCode::SUCCESS
            }
            Ok(problems) => {
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
        };
    }
    let (Some(policy), Some(output)) = (policy, output) else {
        return fail(Error::Usage(
            "give a policy and -o ARCHIVE, or --verify ARCHIVE".into(),
        ));
    };
    match bundle::create(&policy, &output, profile) {
        Ok(w) => {
            println!(
                "wrote {} ({} files, {} bytes)\nsha256:{}",
                w.path.display(),
                w.files,
                w.bytes,
                w.sha256
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `meshpack import`: the draft to a file or standard output; what was not
/// drafted to standard error as well.
fn run_import(
    input: &Path,
    values: Vec<PathBuf>,
    set: Vec<String>,
    name: Option<&str>,
    output: Option<&Path>,
) -> ExitCode {
    let d = match actions::import::draft(input, values, set, name) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    for u in &d.unresolved {
        let addr = match u.port {
            Some(p) => format!("{}:{p}", u.host),
            None => u.host.clone(),
        };
        eprintln!(
            "warning: {}: {} {} names `{addr}`, which is no Service of the input; not drafted",
            u.file, u.from, u.place
        );
    }
    for e in &d.wrong_port {
        eprintln!(
            "warning: {}: {} {} names port {} of `{}`, which has no such port; not drafted",
            e.file,
            e.from,
            e.place,
            e.port.unwrap_or(0),
            e.service
        );
    }
    match output {
        Some(p) => {
            if let Err(e) = actions::import::save(&d, p) {
                return fail(e);
            }
            eprintln!(
                "drafted {} services and {} allow rules into {}",
                d.services.len(),
                d.rules.len(),
                p.display()
            );
        }
        None => print!("{}", d.text),
    }
    ExitCode::SUCCESS
}
