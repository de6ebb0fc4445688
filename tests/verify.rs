//! `meshpack verify` and `matrix` on every rendering of every policy, and
//! mutations of rendered policies that verify must catch, naming the edge.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn meshpack(args: &[&str], input: &str) -> (i32, String) {
    meshpack_stdin(args, input)
}

fn verify(policy: &Path, rendered: &str) -> (i32, String) {
    meshpack(
        &["verify", "--policy", policy.to_str().unwrap(), "-"],
        rendered,
    )
}

/// Every policy's chart in every mode, with both Helms, and its overlays.
#[test]
fn every_rendering_allows_exactly_the_intent() {
    for e in std::fs::read_dir(root().join("policies")).unwrap() {
        let policy = e.unwrap().path();
        if policy.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let name = meshpack::compile_model(&std::fs::read_to_string(&policy).unwrap(), None)
            .unwrap()
            .name;
        if attach_output(&name) {
            continue;
        }
        let chart = root().join("charts").join(&name);
        for h in HELMS {
            for args in [
                vec![],
                istio_args(&[]),
                istio_args(&["networkPolicy.enabled=false"]),
                istio_args(&["istio.namespaceWide=true"]),
            ] {
                let (code, out) = verify(&policy, &template(h, &chart, &name, &args));
                assert_eq!(code, 0, "{name} {h} {args:?}:\n{out}");
                assert!(out.starts_with("verified ("), "{out}");
            }
        }
        for overlay in ["plain", "istio"] {
            let dir = root()
                .join("kustomize")
                .join(&name)
                .join("overlays")
                .join(overlay);
            let built = run(Command::new(tools().join("helm4/kubectl"))
                .arg("kustomize")
                .arg(&dir));
            let (code, out) = verify(&policy, &built);
            assert_eq!(code, 0, "{}:\n{out}", dir.display());
        }
    }
}

fn evalhub() -> std::path::PathBuf {
    root().join("policies/evalhub.yaml")
}

fn rendered(istio: bool) -> Vec<Value> {
    let args = if istio { istio_args(&[]) } else { vec![] };
    parse(&template(
        "helm4",
        &root().join("charts/evalhub"),
        "evalhub",
        &args,
    ))
}

fn to_yaml(objs: &[Value]) -> String {
    objs.iter()
        .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
        .collect()
}

fn mutate(objs: &mut [Value], kind: &str, name: &str, f: impl FnOnce(&mut Value)) {
    let o = objs
        .iter_mut()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name}"));
    f(o);
}

fn assert_caught(objs: &[Value], lines: &[&str]) {
    let (code, out) = verify(&evalhub(), &to_yaml(objs));
    assert_eq!(code, 1, "{out}");
    for l in lines {
        assert!(out.lines().any(|x| x == *l), "missing `{l}` in:\n{out}");
    }
}

/// Deleting a principal: an outage on exactly that edge.
#[test]
fn removed_principal_is_an_outage() {
    let mut objs = rendered(true);
    mutate(&mut objs, "AuthorizationPolicy", "evalhub-postgres", |o| {
        o["spec"]["rules"][0]["from"][0]["source"]["serviceAccounts"]
            .as_array_mut()
            .unwrap()
            .remove(1);
    });
    assert_caught(
        &objs,
        &["intended but not allowed: scheduler -> postgres:5432 (tcp-postgres)"],
    );
    let (_, out) = verify(&evalhub(), &to_yaml(&objs));
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("intended") || l.starts_with("allowed"))
            .count(),
        1,
        "{out}"
    );
}

/// Widening a rule: a security bug on exactly the new edge. With the
/// NetworkPolicies in place the combined matrix stays closed at L3, but
/// the Istio layer alone no longer enforces the edge: verify fails there.
#[test]
fn added_principal_is_a_security_bug() {
    let mut objs = rendered(true);
    let widen = |o: &mut Value| {
        o["spec"]["rules"][0]["from"][0]["source"]["serviceAccounts"]
            .as_array_mut()
            .unwrap()
            .push("evalhub-websocket".into());
    };
    let mut with_np = objs.clone();
    mutate(
        &mut with_np,
        "AuthorizationPolicy",
        "evalhub-postgres",
        widen,
    );
    assert_caught(
        &with_np,
        &["Istio alone: allowed but not intended: websocket -> postgres:5432 (tcp-postgres)"],
    );
    objs.retain(|o| o["kind"] != "NetworkPolicy");
    mutate(&mut objs, "AuthorizationPolicy", "evalhub-postgres", widen);
    assert_caught(
        &objs,
        &["allowed but not intended: websocket -> postgres:5432 (tcp-postgres)"],
    );
}

/// Dropping the path and method limits of the gateway's rule on api.
#[test]
fn widened_http_rule_is_caught_per_request() {
    let mut objs = rendered(true);
    mutate(&mut objs, "AuthorizationPolicy", "evalhub-api", |o| {
        let op = &mut o["spec"]["rules"][1]["to"][0]["operation"];
        op.as_object_mut().unwrap().remove("paths");
    });
    let (code, out) = verify(&evalhub(), &to_yaml(&objs));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("allowed but not intended: istio-ingress/istio-ingressgateway -> api:8080 (http) for DELETE /")),
        "{out}"
    );
}

/// Deleting the allow-nothing policy and the per-service policy of kafka
/// opens kafka to everyone.
#[test]
fn deleted_policies_open_the_workload() {
    let mut objs = rendered(true);
    objs.retain(|o| {
        !(o["kind"] == "AuthorizationPolicy"
            && (o["metadata"]["name"] == "evalhub-kafka"
                || o["metadata"]["name"] == "evalhub-allow-nothing"))
    });
    // Without NetworkPolicies too, so Istio alone decides.
    objs.retain(|o| o["kind"] != "NetworkPolicy");
    assert_caught(
        &objs,
        &[
            "allowed but not intended: frontend -> kafka:9092 (tcp-kafka)",
            "allowed but not intended: (any other workload) -> kafka:9092 (tcp-kafka)",
        ],
    );
}

/// PERMISSIVE where STRICT was meant lets plaintext in.
#[test]
fn weakened_mtls_lets_plaintext_in() {
    let mut objs = rendered(true);
    objs.retain(|o| o["kind"] != "NetworkPolicy");
    mutate(&mut objs, "PeerAuthentication", "evalhub-minio", |o| {
        o["spec"]["mtls"]["mode"] = "DISABLE".into()
    });
    // DISABLE strips identities: minio's allowed callers lose access.
    assert_caught(
        &objs,
        &["intended but not allowed: api -> minio:9000 (http)"],
    );
}

/// NetworkPolicy mutations without Istio.
#[test]
fn network_policy_mutations() {
    let mut objs = rendered(false);
    mutate(&mut objs, "NetworkPolicy", "evalhub-postgres-allow", |o| {
        o["spec"]["ingress"][0]
            .as_object_mut()
            .unwrap()
            .remove("from");
    });
    assert_caught(
        &objs,
        &["allowed but not intended: (any other workload) -> postgres:5432 (tcp-postgres)"],
    );

    let mut objs = rendered(false);
    mutate(&mut objs, "NetworkPolicy", "evalhub-frontend-allow", |o| {
        o["spec"]["egress"][0]["ports"][0]["port"] = 9999.into();
    });
    assert_caught(
        &objs,
        &["intended but not allowed: frontend -> api:8080 (http)"],
    );

    // A service's one policy holds both directions: without `Egress` in
    // its `policyTypes` its egress rules count for nothing (the default
    // deny still isolates the pods' egress), while its ingress rules stand.
    let mut objs = rendered(false);
    mutate(
        &mut objs,
        "NetworkPolicy",
        "evalhub-taskrunner-allow",
        |o| {
            o["spec"]["policyTypes"] = serde_json::json!(["Ingress"]);
        },
    );
    assert_caught(
        &objs,
        &["intended but not allowed: taskrunner -> postgres:5432 (tcp-postgres)"],
    );
    // Exactly taskrunner's egress edges, nothing into it.
    let (_, out) = verify(&evalhub(), &to_yaml(&objs));
    let found: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("intended") || l.starts_with("allowed"))
        .collect();
    assert_eq!(
        found,
        [
            "intended but not allowed: taskrunner -> clickhouse:8123 (http)",
            "intended but not allowed: taskrunner -> clickhouse:9000 (tcp-native)",
            "intended but not allowed: taskrunner -> kafka:9092 (tcp-kafka)",
            "intended but not allowed: taskrunner -> minio:9000 (http)",
            "intended but not allowed: taskrunner -> postgres:5432 (tcp-postgres)",
            "intended but not allowed: taskrunner -> *.s3.amazonaws.com:443",
            "intended but not allowed: taskrunner -> api.openai.com:443",
            // The evaluator's probe of a host the policy does not list:
            // `networkPolicy.egressCIDRs` admits any host on the port.
            "intended but not allowed: taskrunner -> meshpack-unlisted.example.org:443",
        ],
        "{out}"
    );

    let mut objs = rendered(false);
    objs.retain(|o| {
        !(o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "evalhub-default-deny")
    });
    mutate(
        &mut objs,
        "NetworkPolicy",
        "evalhub-taskrunner-allow",
        |o| {
            o["spec"]["egress"][4]["ports"][0]["port"] = 80.into();
        },
    );
    assert_caught(
        &objs,
        &["intended but not allowed: taskrunner -> api.openai.com:443"],
    );
}

#[test]
fn matrix_formats() {
    let objs = rendered(true);
    let y = to_yaml(&objs);
    let (code, text) = meshpack(&["matrix", "-"], &y);
    assert_eq!(code, 0);
    assert!(
        text.starts_with("Reachability (Istio and NetworkPolicy)"),
        "{text}"
    );
    assert!(
        text.contains("monitoring/prometheus\n  -> api:9090 (http-metrics)\n"),
        "{text}"
    );
    let (_, json) = meshpack(&["matrix", "-o", "json", "-"], &y);
    let v: Value = serde_json::from_str(&json).unwrap();
    let cell = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "frontend" && c["destination"] == "api" && c["port"] == 8080)
        .unwrap();
    assert_eq!(cell["access"], "allowed");
    let (_, csv) = meshpack(&["matrix", "-o", "csv", "-"], &y);
    assert!(
        csv.lines()
            .any(|l| l == "scheduler,postgres,5432,allowed,allowed"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l == "scheduler,clickhouse,8123,denied,denied"),
        "{csv}"
    );
    let (_, md) = meshpack(&["matrix", "-o", "markdown", "-"], &y);
    assert!(md.contains("| from \\ to |") && md.contains("◐"), "{md}");
}
