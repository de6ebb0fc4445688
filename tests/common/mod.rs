//! Shared helpers of the integration tests: the fetched tools, rendering
//! with real Helm, and the upstream schemas in `../shared/schemas`.
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Folder of the tools `tests/tools.sh` fetched.
pub fn tools() -> PathBuf {
    let dir = std::env::var_os("MESHPACK_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/tools"));
    for t in ["helm3/helm", "helm4/helm", "helm4/kubectl"] {
        assert!(
            dir.join(t).is_file(),
            "{} is missing: run `bash tests/tools.sh` first (the README's test command does)",
            dir.join(t).display()
        );
    }
    dir
}

pub const HELMS: [&str; 2] = ["helm3", "helm4"];

pub fn helm(version: &str) -> PathBuf {
    tools().join(version).join("helm")
}

/// The Istio and cert-manager APIs an offline render must be told about:
/// Istio by kind, as the chart checks it.
pub const MESH_APIS: &[&str] = &[
    "security.istio.io/v1",
    "networking.istio.io/v1",
    "telemetry.istio.io/v1",
    "gateway.networking.k8s.io/v1",
    "cert-manager.io/v1",
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

/// Run a command; return stdout, or panic with its stderr.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `helm template` of a chart, released under the chart directory's name
/// (so objects are named `<app>-<service>`, as the Kustomize tree names them).
pub fn template(version: &str, chart: &Path, namespace: &str, args: &[&str]) -> String {
    let release = chart
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("release");
    let mut c = Command::new(helm(version));
    c.args(["template", release])
        .arg(chart)
        .args(["--namespace", namespace])
        .args(args);
    run(&mut c)
}

pub fn mesh_api_args() -> Vec<&'static str> {
    MESH_APIS
        .iter()
        .flat_map(|a| ["--api-versions", a])
        .collect()
}

/// Parse a multi-document YAML stream into objects (empty documents skipped).
pub fn parse(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|d| {
            let v = Value::deserialize(d).expect("rendered YAML parses");
            (!v.is_null()).then_some(v)
        })
        .collect()
}

/// `Kind/name` of an object.
pub fn id(o: &Value) -> String {
    format!(
        "{}/{}",
        o["kind"].as_str().unwrap_or("?"),
        o["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Objects by `Kind/name`; duplicates are a failure.
pub fn by_id(objs: &[Value]) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for o in objs {
        assert!(
            m.insert(id(o), o.clone()).is_none(),
            "duplicate object {}",
            id(o)
        );
    }
    m
}

/// `got` holds the same objects as `want` (by `Kind/name`), each equal.
pub fn assert_same_objects(
    got: &BTreeMap<String, Value>,
    want: &BTreeMap<String, Value>,
    what: &str,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: the same objects"
    );
    for (id, o) in want {
        assert_eq!(&got[id], o, "{what}: {id}");
    }
}

pub fn shared_schemas() -> PathBuf {
    let p = root().join("../shared/schemas");
    assert!(
        p.is_dir(),
        "{} is missing: CI puts shared/ beside the project",
        p.display()
    );
    p
}

/// Path of the upstream schema for an object, following kubeconform's names.
pub fn schema_path(o: &Value) -> PathBuf {
    let api = o["apiVersion"].as_str().expect("apiVersion");
    let kind = o["kind"].as_str().expect("kind").to_lowercase();
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let base = shared_schemas();
    if group.ends_with("istio.io") {
        base.join("istio")
            .join(group)
            .join(format!("{kind}_{version}.json"))
    } else {
        let g = group.split('.').next().unwrap_or("");
        let name = if g.is_empty() {
            format!("{kind}-{version}.json")
        } else {
            format!("{kind}-{g}-{version}.json")
        };
        base.join("kubernetes/v1.34-standalone-strict").join(name)
    }
}

fn validators(
) -> &'static std::sync::Mutex<BTreeMap<PathBuf, std::sync::Arc<jsonschema::Validator>>> {
    static V: OnceLock<std::sync::Mutex<BTreeMap<PathBuf, std::sync::Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    V.get_or_init(Default::default)
}

/// Kinds with no upstream schema in shared/ (cert-manager's).
pub const NO_UPSTREAM_SCHEMA: [&str; 1] = ["cert-manager.io/v1/Certificate"];

/// API groups with no upstream schema in shared/: the Gateway API's CRDs are
/// not among them (its objects are checked field by field instead).
pub const NO_UPSTREAM_SCHEMA_GROUPS: [&str; 1] = ["gateway.networking.k8s.io/"];

/// Validate every object against its upstream schema; returns the errors.
pub fn schema_errors(objs: &[Value]) -> Vec<String> {
    let mut errors = vec![];
    for o in objs {
        let gvk = format!(
            "{}/{}",
            o["apiVersion"].as_str().unwrap_or(""),
            o["kind"].as_str().unwrap_or("")
        );
        if NO_UPSTREAM_SCHEMA.contains(&gvk.as_str()) {
            continue;
        }
        let path = schema_path(o);
        let v = {
            let mut cache = validators().lock().unwrap();
            if !cache.contains_key(&path) {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("no schema for {gvk} at {}: {e}", path.display()));
                let schema: Value = serde_json::from_str(&text).expect("schema JSON");
                let v = jsonschema::validator_for(&schema).expect("schema compiles");
                cache.insert(path.clone(), std::sync::Arc::new(v));
            }
            cache[&path].clone()
        };
        for e in v.iter_errors(o) {
            errors.push(format!("{}: {} at {}", id(o), e, e.instance_path()));
        }
    }
    errors
}

/// Run `meshpack ARGS`; exit code (-1 if killed) and all it printed
/// (stdout, then stderr).
pub fn meshpack(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `--set istio.enabled=true`, each of `sets`, and the mesh APIs: the
/// arguments of an offline `helm template` with Istio on.
pub fn istio_args(sets: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["--set", "istio.enabled=true"];
    for s in sets {
        args.extend(["--set", s]);
    }
    args.extend(mesh_api_args());
    args
}

/// Run `meshpack ARGS` with `input` on standard input; exit code and all
/// it printed (stdout, then stderr).
pub fn meshpack_stdin(args: &[&str], input: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Every file under `dir`, by path relative to it, with its bytes.
pub fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push((
                    e.path().strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// `schema_errors` over the objects whose group has upstream schemas.
pub fn upstream_schema_errors(objs: &[Value]) -> Vec<String> {
    let checked: Vec<Value> = objs
        .iter()
        .filter(|o| {
            let api = o["apiVersion"].as_str().unwrap_or("");
            !NO_UPSTREAM_SCHEMA_GROUPS.iter().any(|g| api.starts_with(g))
        })
        .cloned()
        .collect();
    schema_errors(&checked)
}

/// Rendered objects as `meshpack verify` reads them (trust domain
/// `cluster.local`), each placed at its index as its line.
pub fn rendered_set(objs: Vec<Value>, namespace: &str) -> meshpack::verify::Rendered {
    let objects = objs
        .into_iter()
        .enumerate()
        .map(|(i, value)| meshpack::validate::input::Object::new("rendered", i + 1, value.into()))
        .collect();
    meshpack::verify::Rendered::new(objects, namespace, "cluster.local")
}

/// `meshpack verify` in process: the differences between what `model`
/// intends and what the rendered objects allow (empty when they agree).
pub fn verify_differences(
    model: &meshpack::model::Model,
    objs: Vec<Value>,
    namespace: &str,
) -> Vec<String> {
    use meshpack::verify;
    let set = rendered_set(objs, namespace);
    let c = verify::intent::compare(model, &set, &verify::intent::GatewayIdentity::default());
    let mut out: Vec<String> = c
        .missing
        .iter()
        .map(|m| format!("missing workload {m}"))
        .collect();
    out.extend(c.differences.iter().map(|d| d.to_string()));
    out
}

/// Whether a generated output (by policy name) is an attach-mode mesh layer:
/// it renders no workloads of its own, so `tests/attach.rs` checks it with
/// the vendor's chart and manifests instead of alone.
pub fn attach_output(name: &str) -> bool {
    // The vendor's manifests are the base: an attach-mode tree has none.
    let tree = root().join("kustomize").join(name);
    tree.is_dir() && !tree.join("base").is_dir()
}

/// Plain scalars that yamllint's `truthy` rule refuses with its default
/// `allowed-values: ['true', 'false']` (keys checked too), plus `y`/`n`,
/// which YAML 1.1 and go-yaml v2 (Helm, kubectl) also read as booleans.
/// https://yamllint.readthedocs.io/en/stable/rules.html#module-yamllint.rules.truthy
pub const TRUTHY: [&str; 20] = [
    "YES", "Yes", "yes", "NO", "No", "no", "TRUE", "True", "FALSE", "False", "ON", "On", "on",
    "OFF", "Off", "off", "y", "Y", "n", "N",
];

/// The truthy offences of a YAML stream, as `what:line:col: value`: every
/// plain, untagged scalar (key or value) in [`TRUTHY`]. Panics on YAML
/// that does not parse.
pub fn truthy_offences(what: &str, text: &str) -> Vec<String> {
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::{Marker, TScalarStyle};
    struct R(Vec<String>, String);
    impl MarkedEventReceiver for R {
        fn on_event(&mut self, ev: Event, m: Marker) {
            if let Event::Scalar(v, TScalarStyle::Plain, _, None) = ev {
                if TRUTHY.contains(&v.as_str()) {
                    self.0
                        .push(format!("{}:{}:{}: {v}", self.1, m.line(), m.col() + 1));
                }
            }
        }
    }
    let mut r = R(vec![], what.to_string());
    Parser::new_from_str(text)
        .load(&mut r, true)
        .unwrap_or_else(|e| panic!("{what} is not YAML: {e}"));
    r.0
}

/// Every `.yaml` file under `dir` (a chart's templates excepted: they are
/// Go templates, checked once rendered) has no truthy offence.
pub fn assert_tree_truthy_clean(dir: &Path) {
    let mut all = vec![];
    for (p, bytes) in read_tree(dir) {
        if (p.ends_with(".yaml") || p.ends_with(".yml")) && !p.starts_with("templates/") {
            all.extend(truthy_offences(&p, &String::from_utf8_lossy(&bytes)));
        }
    }
    assert!(
        all.is_empty(),
        "plain YAML 1.1 booleans in {}: {all:?}",
        dir.display()
    );
}
