//! meshpack: compile one mesh policy into a Helm chart and a Kustomize tree
//! where one switch turns the Istio mesh on or off.
//!
//! Stages, each depending only on the ones before it:
//! `policy` (load with positions) -> `profile` (merge settings) -> `model`
//! (resolve) -> `emit` (typed Kubernetes and Istio objects) -> `package`
//! (chart, Kustomize tree). `diag` serves them all. `validate` checks
//! rendered manifests and never uses the compiler's model.

pub mod actions;
pub mod codes;
pub mod diag;
pub(crate) mod diff;
pub mod emit;
pub(crate) mod fsread;
pub(crate) mod gateway_api;
pub(crate) mod heap;
pub mod import;
pub(crate) mod istio;
pub(crate) mod keyed_hash;
pub mod lock;
pub(crate) mod manifest;
pub mod model;
pub mod oci;
pub mod package;
pub mod policy;
pub(crate) mod profile;
pub(crate) mod sbom;
pub mod sign;
pub mod synthetic;
pub mod validate;
pub mod verify;
pub(crate) mod yaml_pos;
pub(crate) mod yaml_write;

use diag::Diagnostic;
use model::Model;
use package::Tree;

/// Load, merge and resolve a policy. `profile` overrides `spec.profile`.
pub fn compile_model(text: &str, profile: Option<&str>) -> Result<Model, Vec<Diagnostic>> {
    let (validator, schema) = policy::validator();
    let loaded = policy::load::load_checked::<policy::PolicyFile>(text, Some((validator, schema)))?;
    let spec = &loaded.doc.spec;
    let (name, at) = match profile {
        Some(p) => (p.to_string(), None),
        None => (
            spec.profile
                .clone()
                .unwrap_or_else(|| profile::DEFAULT.to_string()),
            loaded.spans.value("spec.profile"),
        ),
    };
    let settings = profile::find(&name, at).map_err(|d| vec![d])?;
    let settings = profile::merge(spec, settings);
    let m = model::resolve(&loaded.doc, &loaded.spans, &name, &settings)?;
    // Value paths of `spec.upgrades` are checked against the chart's values.
    let bad = package::upgrades::check(&m, &loaded.spans);
    if bad.is_empty() {
        Ok(m)
    } else {
        Err(bad)
    }
}

/// Diagnostics of one file.
#[derive(Debug)]
pub struct Failure {
    pub file: String,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Failure {
    /// The diagnostics as a person reads them.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.file, &self.text))
            .collect()
    }
}

/// A compiled policy and the image lock it read (file name, text).
pub struct Compiled {
    pub model: Model,
    pub lock: Option<(String, String)>,
    /// Warnings about the policy (a deprecated apiVersion), to render
    /// against its text.
    pub warnings: Vec<Diagnostic>,
}

/// Compile a policy named `file` and pin the digests of the image lock it
/// names; `read` reads a file named relative to the policy.
pub fn compile_policy(
    file: &str,
    text: &str,
    profile: Option<&str>,
    read: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Compiled, Failure> {
    let fail = |file: &str, text: &str, diagnostics| Failure {
        file: file.to_string(),
        text: text.to_string(),
        diagnostics,
    };
    let mut model = compile_model(text, profile).map_err(|d| fail(file, text, d))?;
    read_pod_files(&mut model, text, read).map_err(|d| fail(file, text, d))?;
    let Some(name) = model.image_lock.clone() else {
        return Ok(Compiled {
            model,
            lock: None,
            warnings: policy::version::warnings(text),
        });
    };
    // A plain file name: the lock travels beside the policy, in bundles too.
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(fail(
            file,
            text,
            vec![Diagnostic::error(
                "E0300",
                format!("`{name}` is not a file name beside the policy"),
            )
            .help("keep the lock next to the policy, e.g. `lock: images.lock`")],
        ));
    }
    let lock_text = read(&name).map_err(|e| {
        fail(
            file,
            text,
            vec![Diagnostic::error("E0300", format!("cannot read the image lock `{name}`: {e}"))
                .help("the lock is read relative to the policy file; create it with `meshpack images --lock`")],
        )
    })?;
    let shown = std::path::Path::new(file)
        .parent()
        .map(|d| d.join(&name).display().to_string())
        .unwrap_or_else(|| name.clone());
    lock::apply(&mut model, &lock_text).map_err(|d| fail(&shown, &lock_text, d))?;
    Ok(Compiled {
        model,
        lock: Some((name, lock_text)),
        warnings: policy::version::warnings(text),
    })
}

/// Most bytes of one file a policy packs into a ConfigMap: a ConfigMap
/// holds at most 1 MiB in all.
/// <https://kubernetes.io/docs/concepts/configuration/configmap/#motivation>
pub const MAX_POD_FILE: usize = 1 << 20;

/// Read the files services name (`files:`) through `read`, beside the
/// policy: the model checked they are plain names, `read` refuses links.
fn read_pod_files(
    model: &mut Model,
    text: &str,
    read: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<(), Vec<Diagnostic>> {
    // Positions are only for errors about files: a policy without files
    // (most, and every large one measured) builds no second table.
    if model.services.iter().all(|s| s.pod.files.is_empty()) {
        return Ok(());
    }
    let spans = crate::yaml_pos::positions(text);
    let ports = model::ports_of(&model.services);
    let mut diags = vec![];
    for s in &mut model.services {
        let name = s.name.clone();
        for f in &mut s.pod.files {
            let at = spans
                .as_ref()
                .and_then(|sp| sp.value(&format!("spec.services.{name}.files.{}", f.mount_path)));
            match read(&f.source) {
                Ok(c) if c.len() > MAX_POD_FILE => diags.push(
                    Diagnostic::error("E0318", format!("`{}` is larger than 1 MiB", f.source))
                        .at(at)
                        .help("a ConfigMap holds at most 1 MiB; mount a volume for larger files"),
                ),
                Ok(c) if policy::load::marker_in(&c).is_some() => diags.push(
                    Diagnostic::error(
                        "E0009",
                        format!(
                            "`{}` holds `{}`, the form of meshpack's template markers",
                            f.source,
                            policy::load::marker_in(&c).unwrap_or_default()
                        ),
                    )
                    .at(at)
                    .help("change the text (e.g. `mpx-1-x`): meshpack writes `mpx<N>x` into chart templates in place of install-time values"),
                ),
                Ok(c) => {
                    // References in a file, as in env: errors name the file.
                    let (t, errors) = model::parse_text(&c, &ports);
                    for (code, msg, help) in errors {
                        diags.push(
                            Diagnostic::error(code, format!("in `{}`: {msg}", f.source))
                                .at(at)
                                .help(help),
                        );
                    }
                    f.content = t;
                    f.raw = c;
                }
                Err(e) => diags.push(
                    Diagnostic::error("E0318", format!("cannot read `{}`: {e}", f.source))
                        .at(at)
                        .help("files are read beside the policy file; a link is refused"),
                ),
            }
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags)
    }
}

/// Everything `compile` writes for one model, by output root.
pub struct Output {
    pub chart: Tree,
    pub kustomize: Tree,
}

pub fn package(m: &Model) -> Output {
    package_only(m, true)
}

/// The chart, and the Kustomize tree only when `kustomize` (else it is
/// empty): nothing is built that was not asked for.
pub fn package_only(m: &Model, kustomize: bool) -> Output {
    // The two outputs share nothing but the model: build them side by side.
    std::thread::scope(|s| {
        let tree = kustomize.then(|| s.spawn(|| package::kustomize::tree(m)));
        let chart = package::helm::chart(m);
        Output {
            chart,
            kustomize: tree
                .map(|t| t.join().expect("the Kustomize tree builds"))
                .unwrap_or_default(),
        }
    })
}
