//! meshpack: compile one mesh policy into a Helm chart and a Kustomize tree
//! where one switch turns the Istio mesh on or off.
//!
//! Stages, each depending only on the ones before it:
//! `policy` (load with positions) -> `profile` (merge settings) -> `model`
//! (resolve) -> `emit` (typed Kubernetes and Istio objects) -> `package`
//! (chart, Kustomize tree). `diag` serves them all. `validate` checks
//! rendered manifests and never uses the compiler's model.

pub mod diag;
pub mod diff;
pub mod emit;
pub mod gateway_api;
pub mod graph;
pub mod istio;
pub mod model;
pub mod package;
pub mod policy;
pub mod profile;
pub mod synthetic;
pub mod validate;
pub mod verify;

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
    model::resolve(&loaded.doc, &loaded.spans, &name, &settings)
}

/// Everything `compile` writes for one model, by output root.
pub struct Output {
    pub chart: Tree,
    pub kustomize: Tree,
}

pub fn package(m: &Model) -> Output {
    Output {
        chart: package::helm::chart(m),
        kustomize: package::kustomize::tree(m),
    }
}
