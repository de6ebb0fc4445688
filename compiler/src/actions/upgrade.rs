//! `meshpack upgrade-check OLD NEW --values customer.yaml`: whether a
//! customer's values still install on the new chart, and how reachability
//! changes between the old and the new render.
//!
//! Invariant: reads charts, chart archives and bundles as Helm does (it
//! renders them with `helm template`, Helm on PATH as for `import`) and
//! judges reachability with the `verify` evaluators on the two renders,
//! never with the compiler's model: it checks what the customer would
//! install. The values are checked against the new chart's own
//! `values.schema.json`, with the position of each problem in the values
//! file; Helm's verdict (it applies the same schema) decides.

use super::Error;
use crate::diag::Diagnostic;
use crate::diff::Section;
use crate::verify::{self, Access, Rendered};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Largest chart archive or bundle read (a chart is kilobytes; a bundle
/// with images is not read whole: only its chart entry is kept).
const MAX_CHART_BYTES: u64 = 64 << 20;

/// The Istio, Gateway API and cert-manager APIs an offline render is told
/// about, so a values file that turns the mesh on renders as it would in a
/// cluster that has them (the chart checks each Istio kind).
pub const MESH_APIS: &[&str] = &[
    "security.istio.io/v1",
    "networking.istio.io/v1",
    "telemetry.istio.io/v1",
    "gateway.networking.k8s.io/v1",
    "cert-manager.io/v1",
    "monitoring.coreos.com/v1",
    "security.istio.io/v1/PeerAuthentication",
    "security.istio.io/v1/AuthorizationPolicy",
    "networking.istio.io/v1/DestinationRule",
    "networking.istio.io/v1/VirtualService",
    "networking.istio.io/v1/Sidecar",
    "networking.istio.io/v1/Gateway",
    "networking.istio.io/v1/ServiceEntry",
    "networking.istio.io/v1/WorkloadEntry",
    "telemetry.istio.io/v1/Telemetry",
];

pub struct Options {
    pub helm: PathBuf,
    pub values: Vec<PathBuf>,
    pub set: Vec<String>,
    pub release: String,
    pub namespace: String,
    pub trust_domain: String,
}

/// A chart Helm can render: a folder or a chart archive (kept alive here
/// when taken out of a bundle).
struct Chart {
    path: PathBuf,
    schema: Option<String>,
    _temp: Option<tempfile::TempDir>,
}

/// What `upgrade-check` found.
pub struct Report {
    /// Problems of the values files against the new chart's schema, each
    /// rendered with its file, line and column.
    pub values_problems: Vec<String>,
    /// Why `helm template` of the new chart failed, if it did.
    pub new_error: Option<String>,
    /// Why `helm template` of the old chart failed, if it did.
    pub old_error: Option<String>,
    /// How who-can-reach-whom changes (empty when a render failed).
    pub(crate) reachability: Section,
}

impl Report {
    /// Whether the values install on the new chart.
    pub fn installs(&self) -> bool {
        self.values_problems.is_empty() && self.new_error.is_none()
    }

    /// How many problems stop the install.
    pub fn problems(&self) -> usize {
        self.values_problems.len() + usize::from(self.new_error.is_some())
    }
}

/// The reachability change as `meshpack diff` writes it, or `no change`.
pub fn reachability_text(r: &Report, format: super::views::DiffFormat) -> String {
    let d = std::slice::from_ref(&r.reachability);
    if crate::diff::is_empty(d) {
        "reachability: no change\n".to_string()
    } else {
        match format {
            super::views::DiffFormat::Markdown => crate::diff::markdown(d),
            super::views::DiffFormat::Text => crate::diff::text(d),
        }
    }
}

/// Check the values files against the new chart and compare the two
/// renders. A chart that cannot be read, or values that cannot, is
/// [`Error::Chart`] (could not run); a render Helm refuses is in the report.
pub fn check(old: &Path, new: &Path, o: &Options) -> Result<Report, Error> {
    check_inner(old, new, o).map_err(Error::Chart)
}

fn check_inner(old: &Path, new: &Path, o: &Options) -> Result<Report, String> {
    let (old_chart, new_chart) = (open(old)?, open(new)?);
    let mut values_problems = vec![];
    if let Some(schema) = &new_chart.schema {
        for f in &o.values {
            let text = crate::fsread::read_text(f, crate::policy::load::MAX_BYTES)
                .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            for d in values_errors(schema, &text)? {
                values_problems.push(d.render(&f.display().to_string(), &text));
            }
        }
    }
    let old_render = render(&old_chart.path, o);
    let new_render = render(&new_chart.path, o);
    let reachability = match (&old_render, &new_render) {
        (Ok(a), Ok(b)) => reachability(&rows(a, o)?, &rows(b, o)?),
        _ => Section {
            title: "reachability",
            ..Default::default()
        },
    };
    Ok(Report {
        values_problems,
        old_error: old_render.err(),
        new_error: new_render.err(),
        reachability,
    })
}

/// The diagnostics of one values file against a chart's values schema.
pub fn values_errors(schema: &str, text: &str) -> Result<Vec<Diagnostic>, String> {
    let schema: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("the chart's values.schema.json: {e}"))?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| format!("the chart's values.schema.json does not compile: {e}"))?;
    // An empty values file is an empty map to Helm.
    if text.trim().is_empty() {
        return Ok(vec![]);
    }
    Ok(
        match crate::policy::load::load_checked::<serde_json::Value>(
            text,
            Some((&validator, &schema)),
        ) {
            Ok(_) => vec![],
            Err(d) => d,
        },
    )
}

/// A chart folder, a chart archive, or a bundle (an archive with
/// `SHA256SUMS` at its top, holding `chart/<name>-<version>.tgz`).
fn open(path: &Path) -> Result<Chart, String> {
    if path.is_dir() {
        if !path.join("Chart.yaml").is_file() {
            return Err(format!(
                "{}: a folder without Chart.yaml is no chart",
                path.display()
            ));
        }
        return Ok(Chart {
            path: path.to_path_buf(),
            schema: std::fs::read_to_string(path.join("values.schema.json")).ok(),
            _temp: None,
        });
    }
    let entries = tar_entries(path)?;
    let top_sums = entries
        .iter()
        .any(|(p, _)| p.ends_with("/SHA256SUMS") && p.matches('/').count() == 1);
    if top_sums {
        let Some((name, tgz)) = entries.into_iter().find(|(p, _)| {
            let parts: Vec<&str> = p.split('/').collect();
            parts.len() == 3 && parts[1] == "chart" && parts[2].ends_with(".tgz")
        }) else {
            return Err(format!(
                "{}: a bundle without chart/<name>-<version>.tgz",
                path.display()
            ));
        };
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let file = dir
            .path()
            .join(name.rsplit('/').next().unwrap_or("chart.tgz"));
        std::fs::write(&file, &tgz).map_err(|e| e.to_string())?;
        let schema = chart_schema(&tar_bytes(&tgz)?);
        return Ok(Chart {
            path: file,
            schema,
            _temp: Some(dir),
        });
    }
    Ok(Chart {
        path: path.to_path_buf(),
        schema: chart_schema(&entries),
        _temp: None,
    })
}

/// `<chart>/values.schema.json` of a chart archive's entries.
fn chart_schema(entries: &[(String, Vec<u8>)]) -> Option<String> {
    entries
        .iter()
        .find(|(p, _)| p.matches('/').count() == 1 && p.ends_with("/values.schema.json"))
        .and_then(|(_, b)| String::from_utf8(b.clone()).ok())
}

fn tar_entries(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    read_tar(f).map_err(|e| format!("{}: {e}", path.display()))
}

fn tar_bytes(b: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    read_tar(b).map_err(|e| format!("the bundle's chart archive: {e}"))
}

/// The regular files of a gzipped tar that a chart check needs (a chart's
/// `Chart.yaml` and schema, a bundle's sums and chart archive), each read
/// at most to [`MAX_CHART_BYTES`]; other entries are skipped unread.
fn read_tar(r: impl Read) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(r));
    let mut out = vec![];
    for e in a.entries().map_err(|e| format!("not a gzipped tar: {e}"))? {
        let e = e.map_err(|e| format!("not a gzipped tar: {e}"))?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .to_string();
        let wanted = p.ends_with("/SHA256SUMS")
            || p.ends_with("/values.schema.json")
            || p.ends_with("/Chart.yaml")
            || p.ends_with(".tgz");
        if !wanted {
            continue;
        }
        let mut b = vec![];
        e.take(MAX_CHART_BYTES + 1)
            .read_to_end(&mut b)
            .map_err(|e| e.to_string())?;
        if b.len() as u64 > MAX_CHART_BYTES {
            return Err(format!("{p} is larger than {MAX_CHART_BYTES} bytes"));
        }
        out.push((p, b));
    }
    Ok(out)
}

/// `helm template` with the customer's values; the manifests, or Helm's
/// error.
fn render(chart: &Path, o: &Options) -> Result<String, String> {
    let mut cmd = Command::new(&o.helm);
    cmd.args(["template", &o.release])
        .arg(chart)
        .args(["--namespace", &o.namespace]);
    for v in &o.values {
        cmd.arg("-f").arg(v);
    }
    for s in &o.set {
        cmd.arg("--set").arg(s);
    }
    for a in MESH_APIS {
        cmd.args(["--api-versions", a]);
    }
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run `{} template` ({e}); put helm on PATH",
            o.helm.display()
        )
    })?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim_end().to_string());
    }
    String::from_utf8(out.stdout).map_err(|_| "helm printed no UTF-8".to_string())
}

/// The rows `meshpack matrix` prints for a render: `source -> destination`,
/// with the requests that pass when not all do.
fn rows(manifests: &str, o: &Options) -> Result<BTreeSet<String>, String> {
    let (mut objects, mut errors) = (vec![], vec![]);
    crate::manifest::read::parse("render", manifests, &mut objects, &mut errors);
    if let Some(e) = errors.first() {
        return Err(format!("the render, line {}: {}", e.line, e.message));
    }
    let objects = crate::manifest::object::compact(objects);
    let set = Rendered::new(objects, &o.namespace, &o.trust_domain);
    let m = verify::output::matrix_of_set(&set);
    Ok(m.iter()
        .filter(|(_, a)| **a != Access::Denied)
        .map(|((s, d), a)| match a {
            Access::Any => format!("{s} -> {d}"),
            other => format!("{s} -> {d} [{}]", verify::output::describe(other)),
        })
        .collect())
}

/// The change between two renders' rows, as a `meshpack diff` section.
pub(crate) fn reachability(old: &BTreeSet<String>, new: &BTreeSet<String>) -> Section {
    Section {
        title: "reachability",
        added: new.difference(old).cloned().collect(),
        removed: old.difference(new).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_errors_point_into_the_values_file() {
        let m = crate::compile_model(
            "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 2.0.0\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n  upgrades:\n    removed:\n      services: [legacy]\n",
            None,
        )
        .unwrap();
        let chart = crate::package(&m).chart;
        let schema = String::from_utf8(chart["values.schema.json"].clone()).unwrap();
        let values = "services:\n  legacy:\n    replicas: 2\n  web:\n    replicas: -1\n  gone:\n    replicas: 1\n";
        let d = values_errors(&schema, values).unwrap();
        let got: Vec<(&str, usize, usize)> = d
            .iter()
            .map(|d| (d.code, d.pos.unwrap().line, d.pos.unwrap().col))
            .collect();
        assert_eq!(got, vec![("E0015", 5, 15), ("E0011", 6, 3)]);
        assert_eq!(d[1].message, "unknown field `gone`");
        assert!(d[1].help.as_deref().unwrap().contains("legacy"));
        assert!(values_errors(&schema, "").unwrap().is_empty());
    }

    #[test]
    fn reachability_lists_rows_added_and_removed() {
        let old: BTreeSet<String> =
            ["a -> b:8080 (http)".into(), "a -> c:5432 (tcp)".into()].into();
        let new: BTreeSet<String> =
            ["a -> b:8080 (http)".into(), "b -> c:5432 (tcp)".into()].into();
        let s = reachability(&old, &new);
        assert_eq!(s.added, vec!["b -> c:5432 (tcp)"]);
        assert_eq!(s.removed, vec!["a -> c:5432 (tcp)"]);
    }
}
