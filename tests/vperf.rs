//! `validate` at scale and its built-in schemas: the schemas generated from
//! the upstream CRDs in `../shared/schemas` are fresh and equal to
//! kubeconform's schema files there; rules the old hand-typed schemas
//! missed now fail without `--crd`; the mesh checks stay linear.
//! `UPDATE_GOLDEN=1 cargo test --test vperf` regenerates
//! `compiler/src/validate/builtin-crds.json`.

mod common;

use common::*;
use meshpack::validate::{self, crd, schemas, Options};
use serde_json::Value;

/// The CRD files the built-in schemas come from, relative to `../shared/schemas`.
const CRD_FILES: [&str; 4] = [
    "istio/crd-all.gen.yaml",
    "gateway-api/standard/gateway.networking.k8s.io_gateways.yaml",
    "gateway-api/standard/gateway.networking.k8s.io_httproutes.yaml",
    "cert-manager/cert-manager.crds.yaml",
];

fn generated_file() -> std::path::PathBuf {
    root().join("compiler/src/validate/builtin-crds.json")
}

#[test]
fn builtin_schemas_are_generated_from_the_upstream_crds() {
    let shared = shared_schemas();
    let crds: Vec<(String, String)> = CRD_FILES
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(shared.join(f)).unwrap();
            (format!("../shared/schemas/{f}"), text)
        })
        .collect();
    let want = crd::generate(&crds, schemas::CRD_KINDS).unwrap();
    let path = generated_file();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run UPDATE_GOLDEN=1 cargo test --test vperf and commit it",
        path.display()
    );
}

/// The generated schema of each kind is kubeconform's schema file for it,
/// descriptions dropped: the same structural verdicts by construction.
#[test]
fn builtin_schemas_equal_kubeconforms_files() {
    let shared = shared_schemas();
    for (api, kind) in schemas::CRD_KINDS {
        let (group, version) = api.split_once('/').unwrap();
        let top = match group {
            g if g.ends_with("istio.io") => "istio",
            "gateway.networking.k8s.io" => "gateway-api",
            "cert-manager.io" => "cert-manager",
            other => panic!("no upstream folder for {other}"),
        };
        let file = shared.join(format!(
            "{top}/{group}/{}_{version}.json",
            kind.to_lowercase()
        ));
        let mut upstream: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        crd::strip_descriptions(&mut upstream);
        let ours = schemas::builtin(api, kind, true).unwrap();
        assert!(
            ours == upstream,
            "{api} {kind} differs from {}",
            file.display()
        );
    }
}

/// What meshpack emits of a kind (its typed struct) is covered by the
/// upstream schema: no field of meshpack's is unknown upstream.
#[test]
fn every_field_meshpack_knows_is_in_the_generated_schema() {
    fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/")
                .and_then(|p| p.split('/').try_fold(root, |v, k| v.get(k)))
                .unwrap_or(s),
            None => s,
        }
    }
    /// Property names of a schema node, through `$ref` and one-of branches.
    fn props<'a>(root: &'a Value, s: &'a Value) -> Vec<(&'a String, &'a Value)> {
        let s = resolve(root, s);
        let mut out: Vec<(&String, &Value)> =
            s["properties"].as_object().into_iter().flatten().collect();
        for k in ["anyOf", "oneOf", "allOf"] {
            for b in s[k].as_array().into_iter().flatten() {
                out.extend(props(root, b));
            }
        }
        out
    }
    fn below<'a>(root: &'a Value, s: &'a Value) -> Vec<&'a Value> {
        let s = resolve(root, s);
        let mut out = vec![s];
        for k in ["items", "additionalProperties"] {
            if let Some(c) = s.get(k).filter(|c| c.is_object()) {
                out.extend(below(root, c));
            }
        }
        for k in ["anyOf", "oneOf", "allOf"] {
            for b in s[k].as_array().into_iter().flatten() {
                out.extend(below(root, b));
            }
        }
        out
    }
    fn walk(
        troot: &Value,
        typed: &Value,
        upstream: &Value,
        path: &str,
        missing: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 24 {
            return;
        }
        let up: Vec<&Value> = below(upstream, upstream);
        let up_props: Vec<(&String, &Value)> = up.iter().flat_map(|u| props(upstream, u)).collect();
        for t in below(troot, typed) {
            for (name, child) in props(troot, t) {
                match up_props.iter().find(|(n, _)| *n == name) {
                    None => missing.push(format!("{path}/{name}")),
                    Some((_, u)) => walk(
                        troot,
                        child,
                        u,
                        &format!("{path}/{name}"),
                        missing,
                        depth + 1,
                    ),
                }
            }
        }
    }
    let mut missing = vec![];
    for (api, kind) in schemas::CRD_KINDS {
        let typed = schemas::typed_spec_schema(api, kind).unwrap();
        let upstream = schemas::builtin(api, kind, true).unwrap();
        walk(
            &typed,
            &typed,
            &upstream["properties"]["spec"],
            &format!("{api}/{kind}: spec"),
            &mut missing,
            0,
        );
    }
    assert!(
        missing.is_empty(),
        "not in the upstream schema: {missing:#?}"
    );
}

/// (code, message) of every error finding of one document, built-in schemas only.
fn errors(yaml: &str) -> Vec<(String, String)> {
    let opts = Options::default();
    let r = validate::validate(&[("t.yaml".into(), yaml.into())], &opts).unwrap();
    r.findings
        .iter()
        .filter(|f| f.severity == meshpack::diag::Severity::Error)
        .map(|f| (f.code.to_string(), f.message.clone()))
        .collect()
}

#[test]
fn authorization_policy_action_is_an_enum_without_crd() {
    let ap = "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a, namespace: shop}
spec:
  action: PERMIT
  rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/x]}}]}]
";
    let got = errors(ap);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "V004");
    assert!(
        got[0]
            .1
            .starts_with("/spec/action: \"PERMIT\" is not one of"),
        "{}",
        got[0].1
    );
    assert!(errors(&ap.replace("PERMIT", "DENY")).is_empty());
}

#[test]
fn port_level_mtls_without_selector_fails_without_crd() {
    let pa = "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: shop}
spec:
  mtls: {mode: STRICT}
  portLevelMtls: {\"8080\": {mode: PERMISSIVE}}
";
    assert_eq!(
        errors(pa),
        vec![(
            "V005".to_string(),
            "/spec: portLevelMtls requires selector (CEL rule)".to_string()
        )]
    );
    let with_selector = pa.replace(
        "  mtls: {mode: STRICT}\n",
        "  mtls: {mode: STRICT}\n  selector: {matchLabels: {app: api}}\n",
    );
    assert_eq!(errors(&with_selector), vec![]);
}

/// `n` apps in ONE namespace (as a meshpack chart lays a release out): a
/// Deployment, a Service with an HTTP and a TCP port, and an
/// AuthorizationPolicy whose methods rule covers every port, so M009 fires
/// once per app and has to find the Services in front of each policy's pods.
fn one_namespace(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: one}}
spec:
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}, part-of: shop}}}}
    spec:
      serviceAccountName: app-{i}
      containers: [{{name: c, image: x:1, ports: [{{name: http, containerPort: 8080}}, {{name: tcp-db, containerPort: 5432}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: one}}
spec:
  selector: {{app: app-{i}, part-of: shop}}
  ports: [{{name: http, port: 80, targetPort: http}}, {{name: tcp-db, port: 5432, targetPort: tcp-db}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: app-{i}, namespace: one}}
spec:
  selector: {{matchLabels: {{app: app-{i}, part-of: shop}}}}
  rules: [{{from: [{{source: {{principals: [cluster.local/ns/one/sa/app-{i}]}}}}], to: [{{operation: {{methods: [GET]}}}}]}}]
"
        ));
    }
    s
}

/// (object id, code, message) of every mesh finding, and the seconds the
/// checks took (index building included, parsing not).
fn mesh_findings(yaml: &str) -> (Vec<(String, &'static str, String)>, f64) {
    let (mut objs, mut errs) = (vec![], vec![]);
    validate::input::parse("one.yaml", yaml, &mut objs, &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    let objs = validate::input::compact(objs);
    let start = std::time::Instant::now();
    let set = validate::checks::Set::new(&objs, "default");
    let found = validate::checks::run_all(&set).expect("no check panics");
    let t = start.elapsed().as_secs_f64();
    let out = found
        .into_iter()
        .map(|f| (objs[f.object].id(), f.code, f.message))
        .collect();
    (out, t)
}

#[test]
fn mesh_checks_are_linear_in_one_namespace() {
    let expected = |n: usize| -> Vec<(String, &'static str, String)> {
        (0..n)
            .map(|i| {
                (
                    format!("AuthorizationPolicy/one/app-{i}"),
                    "M009",
                    "rule 0 has HTTP fields but covers port 5432 (tcp-db), which is not HTTP"
                        .to_string(),
                )
            })
            .collect()
    };
    let (small, t_small) = mesh_findings(&one_namespace(2_000));
    assert_eq!(small, expected(2_000));
    let (large, t_large) = mesh_findings(&one_namespace(16_000));
    assert_eq!(large, expected(16_000));
    // 8x the objects: linear is ~8x the time, quadratic ~64x. Measured in
    // the debug test build: 0.33 s and 3.0 s with the index; before it,
    // the 16,000 apps had not finished after 10 minutes. 24x leaves room
    // for a busy machine.
    assert!(
        t_large < 24.0 * t_small.max(0.002),
        "2,000 apps: {t_small:.3} s, 16,000 apps: {t_large:.3} s"
    );
}

/// Streaming the files gives the report reading them whole gives: the
/// same findings (file, line, object, code, message) and counts, on the
/// valid and invalid corpora.
#[test]
fn streamed_files_give_the_same_report_as_whole_texts() {
    let mut compared = 0;
    for dir in ["valid", "invalid"] {
        let d = root().join("tests/manifests").join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let name = f.display().to_string();
            let opts = Options::default();
            let whole = validate::validate(&[(name, text)], &opts).unwrap();
            let streamed = validate::validate_paths(std::slice::from_ref(&f), &opts).unwrap();
            assert_eq!(streamed.findings, whole.findings, "{}", f.display());
            assert_eq!(
                (
                    streamed.files,
                    streamed.resources,
                    streamed.valid,
                    streamed.invalid,
                    streamed.errors,
                    streamed.skipped
                ),
                (
                    whole.files,
                    whole.resources,
                    whole.valid,
                    whole.invalid,
                    whole.errors,
                    whole.skipped
                ),
                "{}",
                f.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} files");
}
