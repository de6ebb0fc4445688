//! `matrix` and `verify`: who can reach whom in rendered manifests, and
//! whether that is exactly what a policy intends.
//!
//! Invariant: the manifests are read through `crate::manifest` and judged
//! by `crate::verify`'s evaluators; the policy only gives the intent. The
//! command's rules (how a gateway identity is written, how the layers are
//! named) live here.

use super::{policy, Error};
use crate::model::Model;
use crate::verify::intent::{self, Comparison, GatewayIdentity, LayerGap};
use crate::verify::{output, Matrix, Rendered};
use std::path::{Path, PathBuf};

/// How a matrix is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
    Markdown,
}

/// How the rendered set is read.
#[derive(Debug, Clone)]
pub struct Mesh {
    pub trust_domain: String,
    /// Namespace of objects that name none.
    pub namespace: String,
    /// Namespace of the ingress gateways behind `gateway/<name>` sources
    /// (none: the values file's `istio.gateway.namespace`, else the chart's
    /// default).
    pub gateway_namespace: Option<String>,
    /// `<gateway>=<namespace>/<serviceAccount>` each.
    pub gateway_identity: Vec<String>,
    /// Namespace of the Prometheus the chart admits to metrics ports (none:
    /// the values file's, else the chart's default).
    pub prometheus_namespace: Option<String>,
    /// `KEY=VALUE` labels of the Prometheus pods (replacing the values file's).
    pub prometheus_label: Vec<String>,
    /// The values files the chart was installed with, merged in Helm's
    /// order (flags win over them).
    pub values: Vec<PathBuf>,
}

/// Read rendered manifests (files, folders, `-`) into the evaluators' set.
pub fn read_rendered(paths: &[PathBuf], mesh: &Mesh) -> Result<Rendered, Error> {
    use crate::manifest::read;
    let files = read::expand(paths)
        .map_err(|e| Error::Manifests(e.to_string()))?
        .files;
    let (mut objects, mut errors) = (vec![], vec![]);
    for f in &files {
        let (name, text) =
            read::read_source(f).map_err(|e| Error::Manifests(format!("{}: {e}", f.display())))?;
        read::parse(&name, &text, &mut objects, &mut errors);
    }
    if let Some(e) = errors.first() {
        return Err(Error::Manifests(format!(
            "{}:{}: {}",
            e.file, e.line, e.message
        )));
    }
    let objects = crate::manifest::object::compact(objects);
    Ok(Rendered::new(objects, &mesh.namespace, &mesh.trust_domain))
}

/// The layers a set holds, as people name them.
pub fn mode_name(set: &Rendered) -> String {
    let l = set.layers();
    let istio = if l.ambient { "Istio ambient" } else { "Istio" };
    match (l.istio, l.netpol) {
        (true, true) => format!("{istio} and NetworkPolicy"),
        (true, false) => istio.into(),
        (false, true) => "NetworkPolicy".into(),
        _ => "no policy: everything is open".into(),
    }
}

/// Who can reach whom in rendered manifests, and how the layers are named.
pub fn matrix(paths: &[PathBuf], mesh: &Mesh) -> Result<(Matrix, String), Error> {
    let set = read_rendered(paths, mesh)?;
    Ok((output::matrix_of_set(&set), mode_name(&set)))
}

/// A matrix in a format.
pub fn render(m: &Matrix, mode: &str, format: Format) -> String {
    match format {
        Format::Json => output::json(m, mode),
        Format::Csv => output::csv(m),
        Format::Markdown => output::markdown(m, mode),
        Format::Text => output::text(m, mode),
    }
}

/// The identities of the install: the values file's (`--values`), then
/// `--gateway-namespace`, `--prometheus-namespace`, `--prometheus-label`
/// and `--gateway-identity` over them.
pub fn gateway_identity(mesh: &Mesh, model: &Model) -> Result<GatewayIdentity, Error> {
    let mut gw = GatewayIdentity::default();
    if !mesh.values.is_empty() {
        let values = crate::verify::values::read_files(&mesh.values)
            .map_err(|e| Error::Usage(format!("--values {e}")))?;
        gw.apply_values(model, &values);
    }
    if let Some(ns) = &mesh.gateway_namespace {
        gw.namespace = ns.clone();
        // The values file's gateway ServiceAccounts live there too.
        for o in gw.overrides.values_mut() {
            o.0 = ns.clone();
        }
    }
    if let Some(ns) = &mesh.prometheus_namespace {
        gw.prometheus_namespace = ns.clone();
    }
    if !mesh.prometheus_label.is_empty() {
        gw.prometheus_labels.clear();
        for l in &mesh.prometheus_label {
            let Some((k, v)) = l.split_once('=') else {
                return Err(Error::Usage(format!(
                    "--prometheus-label takes KEY=VALUE, not `{l}`"
                )));
            };
            gw.prometheus_labels.insert(k.into(), v.into());
        }
    }
    for id in &mesh.gateway_identity {
        let parsed = id
            .split_once('=')
            .and_then(|(g, rest)| Some((g, rest.split_once('/')?)));
        let Some((g, (ns, sa))) = parsed else {
            return Err(Error::Usage(format!(
                "--gateway-identity takes <gateway>=<namespace>/<serviceAccount>, not `{id}`"
            )));
        };
        gw.overrides.insert(g.into(), (ns.into(), sa.into()));
    }
    Ok(gw)
}

/// What `verify` found.
pub struct Verdict {
    /// The layers of the set, named (`Istio and NetworkPolicy`).
    pub mode: String,
    pub comparison: Comparison,
    /// Where one layer alone allows more than intended.
    pub gaps: Vec<LayerGap>,
    /// Both Istio and NetworkPolicies are present (each layer was judged alone too).
    pub both_layers: bool,
}

impl Verdict {
    /// The manifests allow exactly what the policy intends.
    pub fn verified(&self) -> bool {
        self.comparison.differences.is_empty()
            && self.comparison.missing.is_empty()
            && self.gaps.is_empty()
    }
}

/// Where the customer's install-time additions (`extraSources`,
/// `extraEgress`; docs/additions.md) that widen the intent come from.
#[derive(Debug, Clone)]
pub enum Additions {
    /// Values files the chart was installed with, merged in Helm's order
    /// (`--values`; none: no additions).
    Values(Vec<PathBuf>),
    /// The `meshpack.dev/addition` annotations of the rendered objects
    /// (`--additions-from-manifests`).
    FromManifests,
}

/// Fold the additions into the model's intent.
fn fold_additions(
    model: &mut crate::model::Model,
    set: &Rendered,
    from: &Additions,
) -> Result<(), Error> {
    use crate::verify::{additions, values};
    let a = match from {
        Additions::FromManifests => additions::from_manifests(set),
        Additions::Values(files) if files.is_empty() => return Ok(()),
        Additions::Values(files) => {
            values::read_files(files).and_then(|v| additions::from_values(&v))
        }
    };
    a.and_then(|a| additions::fold(model, &a))
        .map_err(Error::Additions)
}

/// Compare rendered manifests with what a policy intends, widened by the
/// customer's additions. Every error is "could not run" (exit 2), an
/// invalid policy included.
pub fn run(
    policy_path: &Path,
    profile: Option<&str>,
    paths: &[PathBuf],
    mesh: &Mesh,
    additions: &Additions,
) -> Result<Verdict, Error> {
    let mut model = policy::load_model(policy_path, profile)?;
    let gw = gateway_identity(mesh, &model)?;
    let set = read_rendered(paths, mesh)?;
    // Without a mesh, gateways are the ingress controller the set names
    // (`GatewayIdentity::with_pod_labels`; flags win).
    fold_additions(&mut model, &set, additions)?;
    let comparison = intent::compare(&model, &set, &gw);
    let gaps = intent::layer_gaps(&model, &set, &gw);
    let l = set.layers();
    Ok(Verdict {
        mode: mode_name(&set),
        comparison,
        gaps,
        both_layers: l.istio && l.netpol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(ids: &[&str]) -> Mesh {
        Mesh {
            trust_domain: "cluster.local".into(),
            namespace: "default".into(),
            gateway_namespace: None,
            gateway_identity: ids.iter().map(|s| s.to_string()).collect(),
            prometheus_namespace: None,
            prometheus_label: vec![],
            values: vec![],
        }
    }

    fn model() -> Model {
        crate::compile_model(include_str!("../../../policies/orderflow.yaml"), None)
            .expect("the example compiles")
    }

    #[test]
    fn gateway_identities_are_parsed_or_refused() {
        let gw = gateway_identity(&mesh(&["public=edge/gw"]), &model()).unwrap();
        assert_eq!(gw.namespace, "istio-ingress");
        assert_eq!(
            gw.overrides.get("public"),
            Some(&("edge".to_string(), "gw".to_string()))
        );
        let e = gateway_identity(&mesh(&["public"]), &model()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "--gateway-identity takes <gateway>=<namespace>/<serviceAccount>, not `public`"
        );
    }

    #[test]
    fn the_layers_are_named() {
        let o = crate::manifest::testing::objects(crate::manifest::testing::APP);
        let set = Rendered::new(o, "default", "cluster.local");
        assert_eq!(mode_name(&set), "no policy: everything is open");
    }
}
