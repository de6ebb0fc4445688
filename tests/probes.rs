//! The `helm test` connectivity probes with real Helm 3 and 4 and kubectl:
//! they render only with `tests.enabled`, pass `validate`, carry their
//! source's identity, labels and injection field by field, stay out of
//! the source's Service, and leave `verify`'s proof exactly as it was.

mod common;

use common::{by_id, helm, meshpack_stdin, parse, read_tree, root, run, tools, HELMS, MESH_APIS};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;

const SERVICES: [&str; 9] = [
    "api",
    "clickhouse",
    "frontend",
    "kafka",
    "minio",
    "postgres",
    "scheduler",
    "taskrunner",
    "websocket",
];

fn render(h: &str, sets: &[&str]) -> String {
    let mut c = Command::new(helm(h));
    c.args(["template", "evalhub"])
        .arg(root().join("charts/evalhub"))
        .args(["-n", "evalhub"]);
    for s in sets {
        c.args(["--set", s]);
    }
    for a in MESH_APIS {
        c.args(["--api-versions", a]);
    }
    run(&mut c)
}

/// Pod templates of the workloads, by service.
fn templates(objs: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    objs.values()
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
        .map(|o| {
            (
                o["metadata"]["labels"]["app.kubernetes.io/component"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                o["spec"]["template"].clone(),
            )
        })
        .collect()
}

fn probes_of(objs: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    objs.iter()
        .filter(|(id, _)| id.starts_with("Pod/"))
        .map(|(id, p)| (id.clone(), p.clone()))
        .collect()
}

#[test]
fn each_probe_is_its_source() {
    for h in HELMS {
        for mesh in ["false", "true"] {
            let istio = format!("istio.enabled={mesh}");
            let objs = by_id(&parse(&render(h, &[&istio, "tests.enabled=true"])));
            let probes = probes_of(&objs);
            let want: Vec<String> = SERVICES
                .iter()
                .map(|s| format!("Pod/evalhub-probe-{s}"))
                .collect();
            assert_eq!(
                probes.keys().cloned().collect::<Vec<_>>(),
                want,
                "{h} {istio}"
            );
            let templates = templates(&objs);
            for s in SERVICES {
                let p = &probes[&format!("Pod/evalhub-probe-{s}")];
                let t = &templates[s];
                let why = format!("{h} {istio} {s}");
                // Identity, labels (selectors, canonical service, injection).
                assert_eq!(
                    p["spec"]["serviceAccountName"], t["spec"]["serviceAccountName"],
                    "{why}"
                );
                assert_eq!(
                    p["spec"]["serviceAccountName"],
                    format!("evalhub-{s}"),
                    "{why}"
                );
                assert_eq!(p["metadata"]["labels"], t["metadata"]["labels"], "{why}");
                let inject = if mesh == "true" { "true" } else { "false" };
                assert_eq!(
                    p["metadata"]["labels"]["sidecar.istio.io/inject"], inject,
                    "{why}"
                );
                assert_eq!(
                    p["metadata"]["labels"]["app.kubernetes.io/component"], s,
                    "{why}"
                );
                // The pod's own annotations, the hook, the sidecar hold.
                // (Not the scrape annotations: a probe has no metrics port.)
                let mut ann = t["metadata"]["annotations"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                ann.retain(|k, _| !k.starts_with("prometheus.io/"));
                ann.insert("helm.sh/hook".into(), json!("test"));
                ann.insert(
                    "helm.sh/hook-delete-policy".into(),
                    json!("before-hook-creation"),
                );
                ann.insert(
                    "proxy.istio.io/config".into(),
                    json!("{\"holdApplicationUntilProxyStarts\":true}"),
                );
                assert_eq!(p["metadata"]["annotations"], Value::Object(ann), "{why}");
                assert_eq!(
                    p["spec"]["securityContext"], t["spec"]["securityContext"],
                    "{why}"
                );
                // Never a Service endpoint, never a destination.
                assert_eq!(
                    p["spec"]["readinessGates"],
                    json!([{"conditionType": "meshpack.dev/probe"}]),
                    "{why}"
                );
                assert_eq!(p["spec"]["restartPolicy"], "Never", "{why}");
                let c = &p["spec"]["containers"][0];
                assert_eq!(c.get("ports"), None, "{why}");
                assert_eq!(c["image"], "docker.io/curlimages/curl:8.11.1", "{why}");
                assert_eq!(
                    c["env"],
                    json!([{"name": "MESHPACK_PROBE_TIMEOUT", "value": "15"}]),
                    "{why}"
                );
                assert!(
                    c["command"][2]
                        .as_str()
                        .unwrap()
                        .starts_with("prefix=evalhub\n"),
                    "{why}"
                );
            }
            // frontend's probe: its two edges, then three forbidden ports.
            let script = probes["Pod/evalhub-probe-frontend"]["spec"]["containers"][0]["command"]
                [2]
            .as_str()
            .unwrap()
            .to_string();
            let lines: Vec<&str> = script.lines().filter(|l| l.starts_with("check ")).collect();
            assert_eq!(
                lines,
                [
                    "check allow http 'api' 8080 'GET' '/' 'api:8080 (http)'",
                    "check allow http 'websocket' 8081 'GET' '/' 'websocket:8081 (http)'",
                    "check deny http 'api' 9090 'GET' '/' 'api:9090 (http-metrics)'",
                    "check deny http 'clickhouse' 8123 'GET' '/' 'clickhouse:8123 (http)'",
                    "check deny tcp 'kafka' 9092 'GET' '/' 'kafka:9092 (tcp-kafka)'",
                ],
                "{h} {istio}"
            );
            // Every probe connects to a Service the chart renders, by the
            // name clients call it (the script's `$prefix` is the fullname).
            for p in probes.values() {
                let script = p["spec"]["containers"][0]["command"][2].as_str().unwrap();
                for line in script.lines().filter(|l| l.starts_with("check ")) {
                    let host = line.split(' ').nth(3).unwrap();
                    let name = host.trim_matches('\'').replace("\"$prefix\"", "evalhub");
                    assert!(
                        objs.contains_key(&format!("Service/{name}")),
                        "{h} {istio}: `{line}` names no rendered Service"
                    );
                }
            }
            // Off by default.
            let plain = by_id(&parse(&render(h, &[&istio])));
            assert!(probes_of(&plain).is_empty(), "{h} {istio}");
        }
    }
}

#[test]
fn validate_passes_and_verify_proves_the_same_intent_with_tests() {
    let policy = root().join("policies/evalhub.yaml");
    for h in HELMS {
        for sets in [
            vec!["tests.enabled=true"],
            vec!["tests.enabled=true", "istio.enabled=true"],
        ] {
            let with = render(h, &sets);
            let without = render(h, &sets[1..]);
            let (code, out) = meshpack_stdin(&["validate", "--namespace", "evalhub", "-"], &with);
            assert_eq!(code, 0, "{h} {sets:?}: {out}");
            let verify = |text: &str| {
                meshpack_stdin(
                    &[
                        "verify",
                        "--policy",
                        policy.to_str().unwrap(),
                        "--namespace",
                        "evalhub",
                        "-",
                    ],
                    text,
                )
            };
            let (code, proof) = verify(&with);
            assert_eq!(code, 0, "{h} {sets:?}: {proof}");
            assert!(proof.starts_with("verified ("), "{h} {sets:?}: {proof}");
            assert_eq!(
                proof,
                verify(&without).1,
                "{h} {sets:?}: the probes change nothing"
            );
            // The matrix is the same too: the probes add no source or destination.
            let matrix =
                |text: &str| meshpack_stdin(&["matrix", "--namespace", "evalhub", "-"], text).1;
            assert_eq!(matrix(&with), matrix(&without), "{h} {sets:?}");
        }
    }
}

#[test]
fn the_kustomize_tests_component_takes_the_mesh_labels() {
    // A customer's overlay beside the tree (Kustomize takes no absolute
    // paths): the tests component before Istio's, which patches its Pods.
    let dir = tempfile::tempdir().unwrap();
    for (p, b) in read_tree(&root().join("kustomize/evalhub")) {
        let to = dir.path().join("evalhub").join(p);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, b).unwrap();
    }
    let overlay = dir.path().join("evalhub/overlays/tested");
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: evalhub\nresources: [../../base]\ncomponents: [../../components/tests, ../../components/istio]\n",
    )
    .unwrap();
    let objs = by_id(&parse(&run(Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(&overlay))));
    let probes = probes_of(&objs);
    assert_eq!(probes.len(), SERVICES.len());
    let templates = templates(&objs);
    for s in SERVICES {
        let p = &probes[&format!("Pod/evalhub-probe-{s}")];
        assert_eq!(
            p["metadata"]["labels"], templates[s]["metadata"]["labels"],
            "{s}"
        );
        assert_eq!(
            p["metadata"]["labels"]["sidecar.istio.io/inject"], "true",
            "{s}"
        );
        assert_eq!(
            p["spec"]["serviceAccountName"],
            format!("evalhub-{s}"),
            "{s}"
        );
    }
}
