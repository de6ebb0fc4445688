//! Istio's ambient data plane: the same chart with `istio.dataplane=ambient`
//! (Helm 3 and 4), and a policy compiled with the ambient profile (chart and
//! Kustomize): no sidecars, a waypoint for the rules with paths and methods,
//! policies split between waypoint and ztunnel, HBONE through
//! NetworkPolicies. Checked against the upstream schemas and verified
//! against the policy, and a broken split is caught.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const NS: &str = "evalhub";

fn model(profile: Option<&str>) -> meshpack::model::Model {
    let text = std::fs::read_to_string(root().join("policies/evalhub.yaml")).unwrap();
    meshpack::compile_model(&text, profile).unwrap()
}

/// A committed chart rendered with Istio on the ambient data plane.
fn ambient_render(h: &str, chart: &str, namespace: &str) -> Vec<Value> {
    let args = istio_args(&["istio.dataplane=ambient"]);
    parse(&template(
        h,
        &root().join("charts").join(chart),
        namespace,
        &args,
    ))
}

fn spec<'a>(by: &'a BTreeMap<String, Value>, id: &str) -> &'a Value {
    &by.get(id).unwrap_or_else(|| panic!("{id} not rendered"))["spec"]
}

#[test]
fn the_chart_switches_to_ambient() {
    for h in HELMS {
        let objs = ambient_render(h, "evalhub", NS);
        let by = by_id(&objs);
        // Pods are labelled, not injected; no Sidecar resources.
        let pod = &by["Deployment/evalhub-api"]["spec"]["template"]["metadata"];
        assert_eq!(
            pod["labels"]["istio.io/dataplane-mode"],
            json!("ambient"),
            "{h}"
        );
        assert!(pod["labels"].get("sidecar.istio.io/inject").is_none());
        assert!(pod
            .get("annotations")
            .is_none_or(|a| a.get("sidecar.istio.io/inject").is_none()));
        assert!(!by.keys().any(|k| k.starts_with("Sidecar/")));
        // One waypoint, without the release's selector labels.
        let wp = &by["Gateway/evalhub-waypoint"];
        assert_eq!(wp["apiVersion"], json!("gateway.networking.k8s.io/v1"));
        assert_eq!(
            wp["metadata"]["labels"],
            json!({"app.kubernetes.io/part-of": "evalhub", "istio.io/waypoint-for": "service"})
        );
        assert_eq!(
            wp["spec"],
            json!({"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]})
        );
        // api has rules with paths and methods: its Service uses the
        // waypoint, for the gateway's requests too.
        let labels = &by["Service/api"]["metadata"]["labels"];
        assert_eq!(labels["istio.io/use-waypoint"], json!("evalhub-waypoint"));
        assert_eq!(labels["istio.io/ingress-use-waypoint"], json!("true"));
        assert!(by["Service/postgres"]["metadata"]["labels"]
            .get("istio.io/use-waypoint")
            .is_none());
        // The waypoint enforces every rule with the callers' identities.
        let at_waypoint = spec(&by, "AuthorizationPolicy/evalhub-api-waypoint");
        assert_eq!(
            at_waypoint["targetRefs"],
            json!([{"group": "", "kind": "Service", "name": "api"}])
        );
        assert!(at_waypoint.get("selector").is_none());
        let gateway_rule = at_waypoint["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["from"][0]["source"]["serviceAccounts"]
                    == json!(["istio-ingress/istio-ingressgateway"])
            })
            .expect("gateway rule");
        assert_eq!(
            gateway_rule["to"][0]["operation"]["paths"],
            json!(["/api/*"])
        );
        // ztunnel admits the waypoint and the L4-only rules, nothing with HTTP fields.
        let at_pods = spec(&by, "AuthorizationPolicy/evalhub-api");
        assert_eq!(
            at_pods["rules"][0],
            json!({"from": [{"source": {"serviceAccounts": ["evalhub-waypoint"]}}],
                   "to": [{"operation": {"ports": ["8080", "9090"]}}]})
        );
        assert!(!at_pods.to_string().contains("paths") && !at_pods.to_string().contains("methods"));
        // Services with L4 rules only keep one policy, enforced by ztunnel.
        assert!(!by.contains_key("AuthorizationPolicy/evalhub-postgres-waypoint"));
        // HBONE passes the NetworkPolicies.
        let hbone = spec(&by, "NetworkPolicy/evalhub-allow-hbone");
        assert_eq!(
            hbone["ingress"][0]["ports"],
            json!([{"protocol": "TCP", "port": 15008}])
        );
        assert_eq!(
            hbone["ingress"][1],
            json!({"from": [{"ipBlock": {"cidr": "169.254.7.127/32"}}]})
        );
        // Valid against the upstream schemas, and exactly the policy.
        let errors = upstream_schema_errors(&objs);
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        let diffs = verify_differences(&model(None), objs, NS);
        assert!(diffs.is_empty(), "{h}: {}", diffs.join("\n"));
    }
}

#[test]
fn sidecar_mode_renders_none_of_it() {
    let args = istio_args(&[]);
    let by = by_id(&parse(&template(
        "helm4",
        &root().join("charts/evalhub"),
        NS,
        &args,
    )));
    assert!(!by.contains_key("Gateway/evalhub-waypoint"));
    assert!(!by.contains_key("AuthorizationPolicy/evalhub-api-waypoint"));
    assert!(!by.contains_key("NetworkPolicy/evalhub-allow-hbone"));
    assert!(by["Service/api"]["metadata"]["labels"]
        .get("istio.io/use-waypoint")
        .is_none());
    assert!(by.contains_key("Sidecar/evalhub-api"));
}

#[test]
fn a_split_that_skips_the_waypoint_is_caught() {
    let mut objs = ambient_render("helm4", "evalhub", NS);
    for o in &mut objs {
        if o["kind"] == "AuthorizationPolicy" && o["metadata"]["name"] == "evalhub-api" {
            // Drop the rule that admits the waypoint at the pods.
            o["spec"]["rules"].as_array_mut().unwrap().remove(0);
        }
    }
    let diffs = verify_differences(&model(None), objs, NS);
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("intended but not allowed: frontend -> api:8080")),
        "{diffs:?}"
    );
}

#[test]
fn the_ambient_profile_compiles_chart_and_kustomize_alike() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(Some("ambient"));
    let out = meshpack::package(&m);
    let chart = dir.path().join("evalhub");
    let kust = dir.path().join("kustomize");
    meshpack::package::write_dir(&chart, &out.chart, "test", false).unwrap();
    meshpack::package::write_dir(&kust, &out.kustomize, "test", false).unwrap();
    let built = run(std::process::Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(kust.join("overlays/istio")));
    let objs = parse(&built);
    let by = by_id(&objs);
    assert_eq!(
        by["Service/api"]["metadata"]["labels"]["istio.io/use-waypoint"],
        json!("evalhub-waypoint")
    );
    assert_eq!(
        by["StatefulSet/evalhub-postgres"]["spec"]["template"]["metadata"]["labels"]
            ["istio.io/dataplane-mode"],
        json!("ambient")
    );
    let errors = upstream_schema_errors(&objs);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let diffs = verify_differences(&m, objs, "evalhub");
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The chart's default is ambient too.
    let args = istio_args(&[]);
    let rendered = parse(&template("helm3", &chart, NS, &args));
    let diffs = verify_differences(&m, rendered, NS);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// Routing and connection settings need the waypoint too (ztunnel applies
/// neither), except on a StatefulSet, whose pods clients reach directly.
#[test]
fn traffic_settings_take_the_waypoint() {
    let objs = ambient_render("helm4", "orderflow", "shop");
    let by = by_id(&objs);
    let uses = |svc: &str| {
        by[&format!("Service/{svc}")]["metadata"]["labels"]
            .get("istio.io/use-waypoint")
            .cloned()
    };
    assert_eq!(uses("api"), Some(json!("orderflow-waypoint")));
    assert_eq!(uses("web"), Some(json!("orderflow-waypoint")));
    assert_eq!(uses("queue"), None);
    assert_eq!(uses("worker"), None);
    let text = std::fs::read_to_string(root().join("policies/orderflow.yaml")).unwrap();
    let m = meshpack::compile_model(&text, None).unwrap();
    let diffs = verify_differences(&m, objs, "shop");
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
