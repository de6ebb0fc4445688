//! The `meshpack` command line.

// glibc's allocator spent a third of a large compile consolidating and
// unlinking freed chunks (perf); mimalloc does not.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod airgap_cli;
mod upgrade_cli;

use clap::{Parser, Subcommand};
use meshpack::{compile_policy, diff, graph, package, package_only, policy, validate, verify};
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
        /// Output: text, json or junit.
        #[arg(short, long, default_value = "text", value_parser = ["text", "json", "junit"])]
        output: String,
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
        #[arg(short, long, default_value = "text", value_parser = ["text", "json", "csv", "markdown"])]
        output: String,
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
        #[command(flatten)]
        mesh: MeshArgs,
    },
    /// Draw the intended graph of a policy.
    Graph {
        policy: PathBuf,
        /// mermaid, dot or svg (laid out by meshpack; no Graphviz needed).
        #[arg(short, long, default_value = "mermaid", value_parser = ["mermaid", "dot", "svg"])]
        format: String,
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
        #[arg(short, long, default_value = "text", value_parser = ["text", "json", "lock"])]
        output: String,
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
        #[arg(short, long, default_value = "text", value_parser = ["text", "markdown"])]
        output: String,
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
    /// (their ServiceAccounts are the policy's, as the chart's defaults).
    #[arg(long, default_value = "istio-ingress")]
    gateway_namespace: String,
    /// Identity of one gateway, when installed with other values:
    /// `<gateway>=<namespace>/<serviceAccount>` (repeatable).
    #[arg(long)]
    gateway_identity: Vec<String>,
}

/// Helm's limit on one file of a chart (`chart file ... is larger than the maximum file size`).
const HELM_MAX_FILE: usize = 5 << 20;

/// Where the committed JSON Schema of the policy language lives.
const SCHEMA_PATH: &str = "policies/meshpolicy.schema.json";

fn main() -> ExitCode {
    // `meshpack images ... | head` must end quietly when the reader stops,
    // as Unix tools do, not panic on a broken pipe (Rust ignores SIGPIPE).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any
    // thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
            namespace,
        } => {
            let version = kubernetes_version.trim_start_matches('v');
            let minor = version.split('.').take(2).collect::<Vec<_>>().join(".");
            if !validate::schemas::KUBERNETES_VERSIONS.contains(&minor.as_str()) {
                eprintln!(
                    "error: no built-in schemas for Kubernetes {kubernetes_version}; built in: {}. Use --schema-location for others.",
                    validate::schemas::KUBERNETES_VERSIONS.join(", ")
                );
                return ExitCode::from(2);
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
            };
            run_validate(&paths, &output, &opts)
        }
        Command::Matrix {
            paths,
            output,
            mesh,
        } => {
            let Some(set) = read_set(&paths, &mesh) else {
                return ExitCode::from(2);
            };
            let m = verify::output::matrix_of_set(&set);
            let mode = mode_name(&set);
            print!(
                "{}",
                match output.as_str() {
                    "json" => verify::output::json(&m, &mode),
                    "csv" => verify::output::csv(&m),
                    "markdown" => verify::output::markdown(&m, &mode),
                    _ => verify::output::text(&m, &mode),
                }
            );
            ExitCode::SUCCESS
        }
        Command::Verify {
            policy,
            profile,
            paths,
            show_matrix,
            mesh,
        } => run_verify(&policy, profile.as_deref(), &paths, show_matrix, &mesh),
        Command::Graph {
            policy,
            format,
            args,
        } => {
            let m = match load_model(&policy, args.profile.as_deref()) {
                Ok(m) => m,
                Err(code) => return code,
            };
            let g = graph::build(&m);
            print!(
                "{}",
                match format.as_str() {
                    "dot" => graph::dot(&g),
                    "svg" => graph::svg(&g),
                    _ => graph::mermaid(&g),
                }
            );
            ExitCode::SUCCESS
        }
        Command::Diff {
            old,
            new,
            output,
            args,
        } => {
            let (a, b) = match (
                load_model(&old, args.profile.as_deref()),
                load_model(&new, args.profile.as_deref()),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(code), _) | (_, Err(code)) => return code,
            };
            let d = diff::diff(&a, &b);
            print!(
                "{}",
                if output == "markdown" {
                    diff::markdown(&d)
                } else {
                    diff::text(&d)
                }
            );
            ExitCode::SUCCESS
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
                eprintln!("error: name a policy: meshpack images POLICY (or `images lock`, `images push`)");
                return ExitCode::from(2);
            };
            let m = match load_model(&policy, args.profile.as_deref()) {
                Ok(m) => m,
                Err(code) => return code,
            };
            let list = package::bundle::images(&m, registry.as_deref());
            if output == "lock" {
                print!("{}", meshpack::lock::template(&m));
            } else if output == "json" {
                println!("{}", serde_json::to_string_pretty(&list).expect("json"));
            } else {
                for i in list {
                    println!("{i}");
                }
            }
            ExitCode::SUCCESS
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
        } => run_bundle(policy, output, verify, args.profile.as_deref()),
        Command::Schema => {
            println!("{}", schema_text().trim_end());
            ExitCode::SUCCESS
        }
        Command::Compile {
            policies,
            output,
            kustomize,
            profile,
            check,
            force,
        } => compile(policies, output, kustomize, profile, check, force),
    }
}

fn schema_text() -> String {
    serde_json::to_string_pretty(&policy::schema()).expect("schema") + "\n"
}

struct Job {
    policy: PathBuf,
    chart: PathBuf,
    kustomize: Option<PathBuf>,
}

fn compile(
    policies: Vec<PathBuf>,
    output: Option<PathBuf>,
    kustomize: Option<PathBuf>,
    profile: Option<String>,
    check: bool,
    force: bool,
) -> ExitCode {
    let repo_mode = policies.is_empty();
    let policies = if repo_mode {
        match policy_files(Path::new("policies")) {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => {
                eprintln!("error: no policies/*.yaml here; name a policy file: meshpack compile POLICY -o DIR");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("error: cannot read policies/: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        policies
    };
    if output.is_some() && policies.len() > 1 {
        eprintln!("error: -o names one chart directory; give one policy, or none to compile policies/ into charts/");
        return ExitCode::from(2);
    }
    let mut failed = false;
    let mut problems = vec![];
    for path in &policies {
        // Policies found in policies/ are not read through links.
        let text = match read_policy(path, repo_mode) {
            Ok(t) => t,
            Err(code) => return code,
        };
        let shown = path.display().to_string();
        let read = lock_reader(path);
        let model = match compile_policy(&shown, &text, profile.as_deref(), &read) {
            Ok(c) => {
                c.warnings
                    .iter()
                    .for_each(|w| eprint!("{}", w.render(&shown, &text)));
                c.model
            }
            Err(f) => {
                eprint!("{}", f.render());
                let n = f.diagnostics.len();
                eprintln!(
                    "error: {} could not be compiled ({n} error{})",
                    shown,
                    if n == 1 { "" } else { "s" }
                );
                failed = true;
                continue;
            }
        };
        let job = Job {
            policy: path.clone(),
            chart: output
                .clone()
                .unwrap_or_else(|| Path::new("charts").join(&model.name)),
            kustomize: kustomize.clone().or_else(|| {
                output
                    .is_none()
                    .then(|| Path::new("kustomize").join(&model.name))
            }),
        };
        let marker = format!(
            "Generated by meshpack from {}; do not edit: change the policy and run `meshpack compile`.\n",
            job.policy.display()
        );
        let too_large = |p: &str, bytes: usize| {
            eprintln!(
                "error: {shown}: the chart's {p} would be {bytes} bytes; Helm loads no chart file over {HELM_MAX_FILE}\nhelp: split the application into several policies"
            );
        };
        if !check {
            // Only the outputs asked for, the chart streamed to disk.
            let targets = package::outputs::Targets {
                chart: &job.chart,
                kustomize: job.kustomize.as_deref(),
                marker: &marker,
                force,
                max_file: HELM_MAX_FILE,
            };
            match package::outputs::write(&model, &targets) {
                Ok(written) => {
                    for (dir, n) in written {
                        eprintln!("wrote {} ({n} files) from {shown}", dir.display());
                    }
                }
                Err(package::outputs::Failure::TooLarge { path, bytes }) => {
                    too_large(&path, bytes);
                    failed = true;
                }
                Err(package::outputs::Failure::Io { dir, error }) => {
                    eprintln!("error: {}: {error}", dir.display());
                    return ExitCode::from(2);
                }
            }
            continue;
        }
        let out = package_only(&model, job.kustomize.is_some());
        // Helm refuses to load a chart with any file over 5 MiB.
        if let Some((p, b)) = out.chart.iter().find(|(_, b)| b.len() > HELM_MAX_FILE) {
            too_large(p, b.len());
            failed = true;
            continue;
        }
        let mut targets = vec![(job.chart.clone(), out.chart)];
        if let Some(k) = &job.kustomize {
            targets.push((k.clone(), out.kustomize));
        }
        for (dir, tree) in targets {
            if tree.is_empty() {
                continue;
            }
            if let Err(e) = package::check_dir(&dir, &tree).map(|p| problems.extend(p)) {
                eprintln!("error: {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        }
    }
    if repo_mode && !failed {
        let want = schema_text();
        if check {
            if std::fs::read_to_string(SCHEMA_PATH).ok().as_deref() != Some(want.as_str()) {
                problems.push(format!("changed: {SCHEMA_PATH}"));
            }
        } else if let Err(e) = std::fs::write(SCHEMA_PATH, want) {
            eprintln!("error: {SCHEMA_PATH}: {e}");
            return ExitCode::from(2);
        }
    }
    if failed {
        return ExitCode::from(1);
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!(
            "error: {} generated file(s) are out of date\nhelp: run `cargo run -p meshpack -- compile` and commit the result",
            problems.len()
        );
        return ExitCode::from(1);
    }
    if check {
        eprintln!(
            "up to date: {} polic{}",
            policies.len(),
            if policies.len() == 1 { "y" } else { "ies" }
        );
    }
    ExitCode::SUCCESS
}

fn policy_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    v.sort();
    Ok(v)
}

fn run_validate(paths: &[PathBuf], output: &str, opts: &validate::Options) -> ExitCode {
    let files = match validate::input::expand(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match validate::validate_paths(&files, opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match output {
        "json" => validate::report::json(&report),
        "junit" => validate::report::junit(&report),
        _ => validate::report::text(&report),
    };
    print!("{text}");
    if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn read_set(paths: &[PathBuf], mesh: &MeshArgs) -> Option<verify::Set> {
    let files = validate::input::expand(paths)
        .map_err(|e| eprintln!("error: {e}"))
        .ok()?;
    let (mut objects, mut errors) = (vec![], vec![]);
    for f in &files {
        let (name, text) = validate::input::read_source(f)
            .map_err(|e| eprintln!("error: {}: {e}", f.display()))
            .ok()?;
        validate::input::parse(&name, &text, &mut objects, &mut errors);
    }
    if let Some(e) = errors.first() {
        eprintln!("error: {}:{}: {}", e.file, e.line, e.message);
        return None;
    }
    Some(verify::Set::new(
        objects,
        &mesh.namespace,
        &mesh.trust_domain,
    ))
}

fn mode_name(set: &verify::Set) -> String {
    let l = set.layers();
    let istio = if l.ambient { "Istio ambient" } else { "Istio" };
    match (l.istio, l.netpol) {
        (true, true) => format!("{istio} and NetworkPolicy"),
        (true, false) => istio.into(),
        (false, true) => "NetworkPolicy".into(),
        _ => "no policy: everything is open".into(),
    }
}

fn run_verify(
    policy: &Path,
    profile: Option<&str>,
    paths: &[PathBuf],
    show: bool,
    mesh: &MeshArgs,
) -> ExitCode {
    // Exit 2 for a policy that cannot be read or compiled: verify could not run.
    let Ok(model) = load_model(policy, profile) else {
        return ExitCode::from(2);
    };
    let mut gw = verify::intent::GatewayIdentity {
        namespace: mesh.gateway_namespace.clone(),
        ..Default::default()
    };
    for id in &mesh.gateway_identity {
        let parsed = id
            .split_once('=')
            .and_then(|(g, rest)| Some((g, rest.split_once('/')?)));
        let Some((g, (ns, sa))) = parsed else {
            eprintln!("error: --gateway-identity takes <gateway>=<namespace>/<serviceAccount>, not `{id}`");
            return ExitCode::from(2);
        };
        gw.overrides.insert(g.into(), (ns.into(), sa.into()));
    }
    let Some(set) = read_set(paths, mesh) else {
        return ExitCode::from(2);
    };
    // Gateways rendered as Ingresses are their controller (flags win).
    for (g, id) in verify::ingress::controllers(&set) {
        gw.overrides.entry(g).or_insert(id);
    }
    let mode = mode_name(&set);
    let c = verify::intent::compare(&model, &set, &gw);
    if show {
        print!("{}", verify::output::text(&c.actual, &mode));
    }
    for s in &c.missing {
        println!("missing: service `{s}` of the policy has no workload in the manifests");
    }
    for d in &c.differences {
        println!("{d}");
    }
    let gaps = verify::intent::layer_gaps(&model, &set, &gw);
    for g in &gaps {
        println!("{}: {}", g.layer, g.difference);
    }
    let cells = c.intended.len();
    if c.differences.is_empty() && c.missing.is_empty() && gaps.is_empty() {
        let each = if set.layers().istio && set.layers().netpol {
            "; each layer alone allows nothing more"
        } else {
            ""
        };
        println!(
            "verified ({mode}): {cells} source/destination pairs allow exactly what {} intends{each}",
            policy.display()
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "FAILED ({mode}): {} difference(s) between {} and the manifests",
            c.differences.len() + c.missing.len() + gaps.len(),
            policy.display()
        );
        ExitCode::from(1)
    }
}

/// Compile a policy to its model, printing diagnostics on failure.
/// Exit 2 when the file cannot be read, 1 when it does not compile.
fn load_model(path: &Path, profile: Option<&str>) -> Result<meshpack::model::Model, ExitCode> {
    load_compiled(path, profile).map(|(c, _)| c.model)
}

/// Read a policy, at most the loader's limit; a file that cannot be read is
/// exit 2 in every command ("could not run").
fn read_policy(path: &Path, found: bool) -> Result<String, ExitCode> {
    let max = policy::load::MAX_BYTES;
    let r = if found {
        meshpack::fsread::read_found(path, max)
    } else {
        meshpack::fsread::read_text(path, max)
    };
    r.map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        ExitCode::from(2)
    })
}

/// Reads the files a policy names (its image lock) beside it: regular files
/// only, never through a link, at most the loader's limit.
fn lock_reader(policy: &Path) -> impl Fn(&str) -> std::io::Result<String> {
    let dir = policy.parent().unwrap_or(Path::new(".")).to_path_buf();
    move |name: &str| meshpack::fsread::read_found(&dir.join(name), policy::load::MAX_BYTES)
}

/// Read and compile a policy with the image lock it names (read next to it).
/// Returns the policy's text too.
fn load_compiled(
    path: &Path,
    profile: Option<&str>,
) -> Result<(meshpack::Compiled, String), ExitCode> {
    let text = read_policy(path, false)?;
    let read = lock_reader(path);
    let shown = path.display().to_string();
    match compile_policy(&shown, &text, profile, &read) {
        Ok(c) => {
            c.warnings
                .iter()
                .for_each(|w| eprint!("{}", w.render(&shown, &text)));
            Ok((c, text))
        }
        Err(f) => {
            eprint!("{}", f.render());
            Err(ExitCode::from(1))
        }
    }
}

fn run_bundle(
    policy: Option<PathBuf>,
    output: Option<PathBuf>,
    verify: Option<PathBuf>,
    profile: Option<&str>,
) -> ExitCode {
    if let Some(archive) = verify {
        // Streamed: a small archive may claim huge entries.
        let file = match std::fs::File::open(&archive) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", archive.display());
                return ExitCode::from(2);
            }
        };
        return match package::bundle::verify(file) {
            Err(e) => {
                eprintln!("error: {}: {e}", archive.display());
                ExitCode::from(2)
            }
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
        eprintln!("error: give a policy and -o ARCHIVE, or --verify ARCHIVE");
        return ExitCode::from(2);
    };
    let (compiled, text) = match load_compiled(&policy, profile) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let m = compiled.model;
    let out = package(&m);
    let files = package::bundle::files(
        &m,
        &text,
        compiled.lock.as_ref(),
        &out.chart,
        &out.kustomize,
    );
    let bytes = match package::bundle::archive(&files) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Write beside the target, then rename: no half-written archive.
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let result = tempfile::NamedTempFile::new_in(dir).and_then(|mut f| {
        use std::io::Write;
        f.write_all(&bytes)?;
        f.persist(&output).map_err(|e| e.error)?;
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("error: {}: {e}", output.display());
        return ExitCode::from(2);
    }
    let digest: String =
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    println!(
        "wrote {} ({} files, {} bytes)\nsha256:{digest}",
        output.display(),
        files.len(),
        bytes.len()
    );
    ExitCode::SUCCESS
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
    let input = match meshpack::import::Input::from_args(input, values, set) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let d = match meshpack::import::import(&input, name) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
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
            if let Err(e) = std::fs::write(p, &d.text) {
                eprintln!("error: cannot write {}: {e}", p.display());
                return ExitCode::from(2);
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
