//! What a customer's cluster breaks on day one (issue 15): injection with
//! the mesh off, canonical services, metrics under STRICT,
//! namespace-portable identities, per-kind capability guards, services
//! without ports, Istio's injection precedence in `verify`, and each
//! layer verified on its own. Helm 3 and 4 and the Kustomize tree.

mod common;

use common::*;
use meshpack::emit::injection::{self, Injection, Inputs};
use meshpack::model::Dataplane;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chart(name: &str) -> PathBuf {
    root().join("charts").join(name)
}

fn kubectl_kustomize(dir: &Path) -> Vec<Value> {
    parse(&run(Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(dir)))
}

/// Pod templates by workload name (`Deployment/evalhub-api`).
fn pods(objs: &[Value]) -> BTreeMap<String, Value> {
    objs.iter()
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
        .map(|o| (id(o), o["spec"]["template"]["metadata"].clone()))
        .collect()
}

/// The labels `injection::decide` owns.
fn mesh_labels(pod: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [injection::INJECT, injection::DATAPLANE, injection::REVISION] {
        if let Some(v) = pod["labels"].get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

fn helm_with(h: &str, name: &str, args: &[&str]) -> Vec<Value> {
    parse(&template(h, &chart(name), name, args))
}

/// Render with the Istio kinds declared; `sets` as `--set`.
fn istio(h: &str, name: &str, sets: &[&str]) -> Vec<Value> {
    let mut args: Vec<&str> = mesh_api_args();
    for s in sets {
        args.extend(["--set", s]);
    }
    helm_with(h, name, &args)
}

/// The chart implements `injection::decide` for every input: mesh on and
/// off, each injection value given as boolean or string, and one service's
/// own override.
#[test]
fn every_pod_carries_the_one_injection_decision() {
    let values: [(&str, Injection); 4] = [
        ("istio.injection=true", Injection::On),
        ("istio.injection=false", Injection::Off),
        ("istio.injection=namespace", Injection::Namespace),
        ("istio.injection=", Injection::On),
    ];
    for h in HELMS {
        for mesh in [false, true] {
            for (set, inj) in values {
                let mut sets = vec![if mesh {
                    "istio.enabled=true"
                } else {
                    "istio.enabled=false"
                }];
                // `istio.injection=` leaves the default (boolean true).
                if !set.ends_with('=') {
                    sets.push(set);
                }
                sets.push("services.api.istio.inject=false");
                let objs = istio(h, "evalhub", &sets);
                for (w, pod) in pods(&objs) {
                    let own = if w == "Deployment/evalhub-api" {
                        Injection::Off
                    } else {
                        inj
                    };
                    let want = injection::decide(&Inputs {
                        mesh,
                        dataplane: Dataplane::Sidecar,
                        injection: own,
                        revision: "",
                    });
                    assert_eq!(mesh_labels(&pod), Value::Object(want), "{h} {sets:?} {w}");
                    // No annotation that could disagree with the label.
                    assert!(
                        pod.get("annotations")
                            .is_none_or(|a| a.get(injection::INJECT).is_none()),
                        "{h} {sets:?} {w}"
                    );
                }
            }
        }
    }
}

/// With the mesh off, pods opt out of a namespace labelled for injection
/// (or ambient) in the chart and the Kustomize tree, so the mesh-off
/// NetworkPolicies never meet a sidecar that needs istiod.
#[test]
fn mesh_off_pods_opt_out_of_a_labelled_namespace() {
    let off = json!({"sidecar.istio.io/inject": "false", "istio.io/dataplane-mode": "none"});
    for h in HELMS {
        let objs = helm_with(h, "evalhub", &[]);
        assert_eq!(pods(&objs).len(), 9, "{h}");
        for (w, pod) in pods(&objs) {
            assert_eq!(mesh_labels(&pod), off, "{h} {w}");
        }
        // A team that labels the namespace itself leaves it to the namespace.
        let objs = helm_with(h, "evalhub", &["--set", "istio.injection=namespace"]);
        for (w, pod) in pods(&objs) {
            assert_eq!(mesh_labels(&pod), json!({}), "{h} {w}");
        }
    }
    let plain = kubectl_kustomize(&root().join("kustomize/evalhub/overlays/plain"));
    assert_eq!(pods(&plain).len(), 9);
    for (w, pod) in pods(&plain) {
        assert_eq!(mesh_labels(&pod), off, "kustomize {w}");
    }
    let mesh = kubectl_kustomize(&root().join("kustomize/evalhub/overlays/istio"));
    for (w, pod) in pods(&mesh) {
        assert_eq!(
            mesh_labels(&pod),
            json!({"sidecar.istio.io/inject": "true"}),
            "kustomize istio {w}"
        );
    }
}

/// `istio.injection` takes a boolean (`--set x=false` passes one) or a
/// string, and nothing else.
#[test]
fn injection_values_are_booleans_or_strings() {
    for h in HELMS {
        for ok in [
            vec!["--set", "istio.injection=false"],
            vec!["--set-string", "istio.injection=false"],
            vec!["--set", "services.api.istio.inject=namespace"],
        ] {
            let out = Command::new(helm(h))
                .args(["template", "evalhub"])
                .arg(chart("evalhub"))
                .args(&ok)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{h} {ok:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for bad in ["istio.injection=maybe", "services.api.istio.inject=1"] {
            let out = Command::new(helm(h))
                .args(["template", "evalhub"])
                .arg(chart("evalhub"))
                .args(["--set", bad])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            // Helm 3 names the value `istio.injection`, Helm 4 `/istio/injection`.
            let key = bad.split('=').next().unwrap();
            assert!(
                !out.status.success()
                    && (err.contains(key) || err.contains(&format!("/{}", key.replace('.', "/")))),
                "{h} {bad}: {err}"
            );
        }
    }
}

/// Each service and version is its own canonical service, in both Helms and
/// the Kustomize tree, mesh on or off.
#[test]
fn canonical_service_per_service_and_version() {
    let want = |objs: &[Value]| -> BTreeMap<String, (Value, Value)> {
        pods(objs)
            .into_iter()
            .map(|(w, p)| {
                (
                    w,
                    (
                        p["labels"]["service.istio.io/canonical-name"].clone(),
                        p["labels"]["service.istio.io/canonical-revision"].clone(),
                    ),
                )
            })
            .collect()
    };
    let expected: BTreeMap<String, (Value, Value)> = [
        ("Deployment/orderflow-admin", "orderflow-admin", "1.4.0"),
        ("Deployment/orderflow-api-canary", "orderflow-api", "canary"),
        ("Deployment/orderflow-api-stable", "orderflow-api", "stable"),
        ("Deployment/orderflow-web", "orderflow-web", "1.4.0"),
        ("Deployment/orderflow-worker", "orderflow-worker", "1.4.0"),
        ("StatefulSet/orderflow-queue", "orderflow-queue", "1.4.0"),
    ]
    .iter()
    .map(|(w, n, r)| (w.to_string(), (json!(n), json!(r))))
    .collect();
    for h in HELMS {
        assert_eq!(want(&helm_with(h, "orderflow", &[])), expected, "{h}");
        assert_eq!(
            want(&istio(h, "orderflow", &["istio.enabled=true"])),
            expected,
            "{h} istio"
        );
    }
    for overlay in ["plain", "istio"] {
        let objs = kubectl_kustomize(&root().join("kustomize/orderflow/overlays").join(overlay));
        assert_eq!(want(&objs), expected, "kustomize {overlay}");
    }
}

/// Prometheus reaches metrics ports, and with Istio the sidecars' 15020 and
/// 15090, through the NetworkPolicies; pods carry the scrape annotations
/// Istio's metrics merging rewrites.
#[test]
fn prometheus_is_admitted_under_strict() {
    let peer = json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}});
    let selector = |c: Option<&str>| {
        let mut l =
            json!({"app.kubernetes.io/name": "evalhub", "app.kubernetes.io/instance": "evalhub"});
        if let Some(c) = c {
            l["app.kubernetes.io/component"] = json!(c);
        }
        json!({ "matchLabels": l })
    };
    let mut renders: Vec<(String, Vec<Value>)> = vec![];
    for h in HELMS {
        renders.push((h.to_string(), istio(h, "evalhub", &["istio.enabled=true"])));
    }
    renders.push((
        "kustomize".into(),
        kubectl_kustomize(&root().join("kustomize/evalhub/overlays/istio")),
    ));
    for (what, objs) in &renders {
        let by = by_id(objs);
        // The metrics rule closes the ingress rules of api's own policy.
        let api = &by["NetworkPolicy/evalhub-api-allow"]["spec"];
        assert_eq!(api["podSelector"], selector(Some("api")), "{what}");
        assert_eq!(api["policyTypes"], json!(["Ingress", "Egress"]), "{what}");
        let rules = api["ingress"].as_array().expect("ingress rules");
        assert_eq!(
            rules.last(),
            Some(&json!({"from": [peer], "ports": [{"protocol": "TCP", "port": 9090}]})),
            "{what}"
        );
        // Before it, frontend's rule and the policy's own from monitoring
        // (the same rule by default; the metrics rule's namespace is a
        // value of the chart).
        assert_eq!(
            rules[0]["from"][0]["podSelector"],
            selector(Some("frontend")),
            "{what}"
        );
        assert_eq!(rules.len(), 3, "{what}: {rules:?}");
        assert_eq!(rules[1], rules[2], "{what}");
        assert_eq!(
            by["NetworkPolicy/evalhub-allow-prometheus-envoy"]["spec"],
            json!({"policyTypes": ["Ingress"], "podSelector": selector(None),
                   "ingress": [{"from": [peer], "ports": [{"protocol": "TCP", "port": 15020}, {"protocol": "TCP", "port": 15090}]}]}),
            "{what}"
        );
        // frontend has no metrics port: no rule admits Prometheus to it.
        let frontend = &by["NetworkPolicy/evalhub-frontend-allow"]["spec"];
        assert!(frontend.get("ingress").is_none(), "{what}: {frontend}");
        assert_eq!(frontend["policyTypes"], json!(["Egress"]), "{what}");
        let api = &by["Deployment/evalhub-api"]["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(
            api,
            &json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "/metrics"}),
            "{what}"
        );
    }
    // Other Prometheus pods: a namespace and labels.
    for h in HELMS {
        let by = by_id(&istio(
            h,
            "evalhub",
            &[
                "istio.enabled=true",
                "metrics.prometheus.namespace=observability",
                "metrics.prometheus.podLabels.app=prometheus",
            ],
        ));
        assert_eq!(
            by["NetworkPolicy/evalhub-allow-prometheus-envoy"]["spec"]["ingress"][0]["from"],
            json!([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
                    "podSelector": {"matchLabels": {"app": "prometheus"}}}]),
            "{h}"
        );
        // Without the mesh there is no sidecar port to admit.
        let plain = by_id(&helm_with(h, "evalhub", &[]));
        assert!(!plain.contains_key("NetworkPolicy/evalhub-allow-prometheus-envoy"));
        assert_eq!(
            plain["NetworkPolicy/evalhub-api-allow"]["spec"]["ingress"]
                .as_array()
                .and_then(|r| r.last()),
            Some(
                &json!({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                         "ports": [{"protocol": "TCP", "port": 9090}]})
            ),
            "{h}"
        );
    }
}

/// ServiceMonitor and PodMonitor: off by default, rendered on request,
/// valid against the Prometheus Operator's schemas, refused loudly where
/// the cluster does not serve them.
#[test]
fn monitors_are_optional_and_capability_guarded() {
    let monitors = |objs: &[Value]| -> Vec<String> {
        objs.iter()
            .filter(|o| o["apiVersion"] == "monitoring.coreos.com/v1")
            .map(id)
            .collect()
    };
    for h in HELMS {
        assert!(monitors(&istio(h, "evalhub", &["istio.enabled=true"])).is_empty());
        let mut args = mesh_api_args();
        args.extend([
            "--api-versions",
            "monitoring.coreos.com/v1/ServiceMonitor",
            "--api-versions",
            "monitoring.coreos.com/v1/PodMonitor",
            "--set",
            "istio.enabled=true",
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "metrics.podMonitor.enabled=true",
        ]);
        let objs = helm_with(h, "evalhub", &args);
        let mut found = monitors(&objs);
        found.sort();
        assert_eq!(
            found,
            vec![
                "PodMonitor/evalhub-envoy-stats",
                "ServiceMonitor/evalhub-api",
                "ServiceMonitor/evalhub-scheduler",
                "ServiceMonitor/evalhub-taskrunner",
            ],
            "{h}"
        );
        let by = by_id(&objs);
        assert_eq!(
            by["ServiceMonitor/evalhub-api"]["spec"],
            json!({"selector": {"matchLabels": {"app.kubernetes.io/name": "evalhub", "app.kubernetes.io/instance": "evalhub", "app.kubernetes.io/component": "api"}},
                   "endpoints": [{"port": "http-metrics", "path": "/metrics"}]})
        );
        assert_eq!(
            by["PodMonitor/evalhub-envoy-stats"]["spec"]["podMetricsEndpoints"],
            json!([{"port": "http-envoy-prom", "path": "/stats/prometheus"}])
        );
        for o in objs
            .iter()
            .filter(|o| o["apiVersion"] == "monitoring.coreos.com/v1")
        {
            let file = format!(
                "prometheus-operator/monitoring.coreos.com/{}_v1.json",
                o["kind"].as_str().unwrap().to_lowercase()
            );
            let schema: Value = serde_json::from_str(
                &std::fs::read_to_string(shared_schemas().join(file)).unwrap(),
            )
            .unwrap();
            let v = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> = v.iter_errors(o).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", id(o));
        }
        // Asked for, not served: a message saying what to install.
        let out = Command::new(helm(h))
            .args(["template", "evalhub"])
            .arg(chart("evalhub"))
            .args(["--set", "metrics.serviceMonitor.enabled=true"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && err.contains("does not serve monitoring.coreos.com/v1/ServiceMonitor")
                && err.contains("Install the Prometheus Operator CRDs"),
            "{h}: {err}"
        );
    }
}

/// Istio 1.18 to 1.21 serve the groups but not PeerAuthentication v1: the
/// chart checks each kind it renders.
#[test]
fn istio_is_checked_kind_by_kind() {
    for h in HELMS {
        let out = Command::new(helm(h))
            .args(["template", "evalhub"])
            .arg(chart("evalhub"))
            .args(["--set", "istio.enabled=true"])
            .args(["--api-versions", "security.istio.io/v1"])
            .args(["--api-versions", "networking.istio.io/v1"])
            .args(["--api-versions", "cert-manager.io/v1"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{h}");
        assert!(
            err.contains("istio.enabled=true, but the cluster does not serve security.istio.io/v1/PeerAuthentication. Install Istio 1.22 or later first"),
            "{h}: {err}"
        );
        // Every kind but one: that one is named.
        let mut args: Vec<&str> = vec![];
        for a in MESH_APIS
            .iter()
            .filter(|a| **a != "networking.istio.io/v1/Sidecar")
        {
            args.extend(["--api-versions", a]);
        }
        let out = Command::new(helm(h))
            .args(["template", "evalhub"])
            .arg(chart("evalhub"))
            .args(["--set", "istio.enabled=true"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("does not serve networking.istio.io/v1/Sidecar."),
            "{h}: {err}"
        );
    }
}

/// Istio 1.25+ (the default): bare ServiceAccounts for the release's own
/// callers, `<ns>/<sa>` for others, Sidecars without the namespace; before
/// 1.25 the principals and FQDNs of old.
#[test]
fn identities_follow_istio_version() {
    for h in HELMS {
        let by = by_id(&istio(h, "evalhub", &["istio.enabled=true"]));
        assert_eq!(
            by["AuthorizationPolicy/evalhub-postgres"]["spec"]["rules"],
            json!([{"to": [{"operation": {"ports": ["5432"]}}],
                    "from": [{"source": {"serviceAccounts": ["evalhub-api", "evalhub-scheduler", "evalhub-taskrunner"]}}]}])
        );
        assert_eq!(
            by["Sidecar/evalhub-frontend"]["spec"]["egress"],
            json!([{"hosts": ["istio-system/*", "./*.svc.cluster.local"]}])
        );
        let old = by_id(&parse(&template(
            h,
            &chart("evalhub"),
            "shop",
            &[
                &[
                    "--set",
                    "istio.enabled=true",
                    "--set-string",
                    "istio.version=1.24",
                ][..],
                &mesh_api_args(),
            ]
            .concat(),
        )));
        assert_eq!(
            old["AuthorizationPolicy/evalhub-postgres"]["spec"]["rules"][0]["from"],
            json!([{"source": {"principals": [
                "cluster.local/ns/shop/sa/evalhub-api",
                "cluster.local/ns/shop/sa/evalhub-scheduler",
                "cluster.local/ns/shop/sa/evalhub-taskrunner"]}}])
        );
        assert_eq!(
            old["AuthorizationPolicy/evalhub-api"]["spec"]["rules"][2]["from"],
            json!([{"source": {"principals": ["cluster.local/ns/monitoring/sa/prometheus"]}}])
        );
        assert_eq!(
            old["Sidecar/evalhub-frontend"]["spec"]["egress"],
            json!([{"hosts": ["istio-system/*",
                "./evalhub-api.shop.svc.cluster.local",
                "./evalhub-websocket.shop.svc.cluster.local"]}])
        );
        // A patch version counts as its minor.
        let patch = by_id(&parse(&template(
            h,
            &chart("evalhub"),
            "shop",
            &[
                &[
                    "--set",
                    "istio.enabled=true",
                    "--set",
                    "istio.version=1.24.3",
                ][..],
                &mesh_api_args(),
            ]
            .concat(),
        )));
        assert_eq!(
            patch["AuthorizationPolicy/evalhub-postgres"]["spec"]["rules"][0]["from"],
            old["AuthorizationPolicy/evalhub-postgres"]["spec"]["rules"][0]["from"]
        );
        // A number is refused (a values file's `version: 1.30` reads as 1.3).
        let out = Command::new(helm(h))
            .args(["template", "evalhub"])
            .arg(chart("evalhub"))
            .args(["--set-json", "istio.version=1.30"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{h}");
    }
}

fn many_callers_policy(n: usize) -> String {
    let mut p = String::from(
        "apiVersion: meshpack.dev/v1alpha1\nkind: MeshPolicy\nmetadata: {name: many}\nspec:\n  version: 1.0.0\n  services:\n    db: {image: 'db:1.0', ports: {tcp-db: 5432}}\n",
    );
    for i in 0..n {
        p.push_str(&format!(
            "    c{i:02}: {{image: 'c:1.0', ports: {{http: 8080}}}}\n"
        ));
    }
    p.push_str("  allow:\n");
    for i in 0..n {
        p.push_str(&format!("    - {{from: c{i:02}, to: db}}\n"));
    }
    p
}

/// The CRD's CEL rules: at most 16 `serviceAccounts` per source; a longer
/// list becomes several sources of one rule.
#[test]
fn seventeen_callers_split_into_two_sources() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("many.yaml");
    std::fs::write(&policy, many_callers_policy(17)).unwrap();
    let out_chart = dir.path().join("many");
    let kust = dir.path().join("k");
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        out_chart.to_str().unwrap(),
        "--kustomize",
        kust.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let all: Vec<String> = (0..17).map(|i| format!("many-c{i:02}")).collect();
    let want = json!([
        {"source": {"serviceAccounts": all[..16]}},
        {"source": {"serviceAccounts": all[16..]}},
    ]);
    for h in HELMS {
        let by = by_id(&parse(&template(h, &out_chart, "many", &istio_args(&[]))));
        assert_eq!(
            by["AuthorizationPolicy/many-db"]["spec"]["rules"][0]["from"], want,
            "{h}"
        );
    }
    let by = by_id(&kubectl_kustomize(&kust.join("overlays/istio")));
    assert_eq!(
        by["AuthorizationPolicy/many-db"]["spec"]["rules"][0]["from"],
        want
    );
}

/// `namespace: customer-prod` over `overlays/istio`, the ordinary Kustomize
/// way, with no copied file: nothing names the old namespace and verify
/// passes.
#[test]
fn a_customer_overlay_over_the_istio_overlay_verifies() {
    // Kustomize takes relative paths only: the overlay lives in the
    // repository's target/ (ignored), three levels below the root.
    let parent = root().join("target/dayone-overlays");
    std::fs::create_dir_all(&parent).unwrap();
    let dir = tempfile::tempdir_in(&parent).unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: customer-prod\nresources: [../../../kustomize/evalhub/overlays/istio]\n",
    )
    .unwrap();
    let built = run(Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(dir.path()));
    for o in parse(&built) {
        let text = serde_json::to_string(&o).unwrap();
        assert!(
            !text.contains("/ns/evalhub/") && !text.contains(".evalhub.svc"),
            "{} names the overlay's namespace: {text}",
            id(&o)
        );
    }
    let (code, out) = meshpack_stdin(
        &[
            "verify",
            "--policy",
            root().join("policies/evalhub.yaml").to_str().unwrap(),
            "-",
        ],
        &built,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("verified (Istio and NetworkPolicy)"),
        "{out}"
    );
}

const PORTLESS: &str = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {name: shop}
spec:
  version: 1.0.0
  services:
    web: {image: 'web:1.0', ports: {http: 8080}}
    loadgen: {image: 'loadgen:1.0'}
  allow:
    - {from: loadgen, to: web}
";

/// A worker without ports (Online Boutique's load generator) has no
/// Service, so no DestinationRule, VirtualService or Sidecar host for one;
/// validate and verify pass in every Istio mode.
#[test]
fn a_service_without_ports_gets_nothing_for_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("shop.yaml");
    std::fs::write(&policy, PORTLESS).unwrap();
    let c = dir.path().join("shop");
    let k = dir.path().join("k");
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        c.to_str().unwrap(),
        "--kustomize",
        k.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let mut renders = vec![];
    for h in HELMS {
        for sets in [
            vec![],
            vec!["istio.namespaceWide=true"],
            vec!["networkPolicy.enabled=false"],
        ] {
            renders.push((
                format!("{h} {sets:?}"),
                template(h, &c, "shop", &istio_args(&sets)),
            ));
        }
    }
    renders.push((
        "kustomize".into(),
        run(Command::new(tools().join("helm4/kubectl"))
            .arg("kustomize")
            .arg(k.join("overlays/istio"))),
    ));
    for (what, text) in renders {
        let by = by_id(&parse(&text));
        for absent in [
            "Service/shop-loadgen",
            "DestinationRule/shop-loadgen",
            "VirtualService/shop-loadgen",
        ] {
            assert!(!by.contains_key(absent), "{what}: {absent}");
        }
        assert!(by.contains_key("Deployment/shop-loadgen"), "{what}");
        assert!(by.contains_key("DestinationRule/shop-web"), "{what}");
        let (code, out) = meshpack_stdin(&["validate", "-"], &text);
        assert_eq!(code, 0, "{what}: {out}");
        let (code, out) = meshpack_stdin(
            &["verify", "--policy", policy.to_str().unwrap(), "-"],
            &text,
        );
        assert_eq!(code, 0, "{what}: {out}");
    }
}

/// Istio takes the pod label over the annotation: a service opted out by
/// label but annotated `"true"` has no sidecar, its L7 rules are enforced
/// by nothing, and verify says so (it used to read the annotation and pass).
#[test]
fn verify_reads_injection_as_istio_does() {
    for h in HELMS {
        let mut args = istio_args(&["services.api.istio.inject=false"]);
        args.extend([
            "--set-string",
            "services.api.podAnnotations.sidecar\\.istio\\.io/inject=true",
        ]);
        let text = template(h, &chart("evalhub"), "evalhub", &args);
        let by = by_id(&parse(&text));
        let pod = &by["Deployment/evalhub-api"]["spec"]["template"]["metadata"];
        assert_eq!(pod["labels"]["sidecar.istio.io/inject"], "false", "{h}");
        assert_eq!(pod["annotations"]["sidecar.istio.io/inject"], "true", "{h}");
        let (code, out) = meshpack_stdin(
            &[
                "verify",
                "--policy",
                root().join("policies/evalhub.yaml").to_str().unwrap(),
                "-",
            ],
            &text,
        );
        assert_eq!(code, 1, "{h}: {out}");
        assert!(
            out.lines().any(|l| l.starts_with("allowed but not intended: istio-ingress/istio-ingressgateway -> api:8080 (http) for")),
            "{h}: {out}"
        );
        // validate warns that Istio policy selects a pod without sidecar.
        let (_, out) = meshpack_stdin(&["validate", "-"], &text);
        assert!(
            out.contains("M053") && out.contains("AuthorizationPolicy/evalhub/evalhub-api"),
            "{h}: {out}"
        );
    }
}

/// A namespace labelled for injection decides for pods the chart leaves to
/// it; verify reads the Namespace when the set holds one.
#[test]
fn verify_reads_the_namespace_injection_label() {
    let text = template(
        "helm4",
        &chart("evalhub"),
        "evalhub",
        &istio_args(&["istio.injection=namespace"]),
    );
    let policy = root().join("policies/evalhub.yaml");
    let args = ["verify", "--policy", policy.to_str().unwrap(), "-"];
    // Unlabelled namespace: no sidecars, the L7 rules are enforced by nothing.
    let (code, out) = meshpack_stdin(&args, &text);
    assert_eq!(code, 1, "{out}");
    let ns = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: evalhub, labels: {istio-injection: enabled}}\n";
    let (code, out) = meshpack_stdin(&args, &format!("{text}{ns}"));
    assert_eq!(code, 0, "{out}");
}

/// An AuthorizationPolicy that allows everything under intact
/// NetworkPolicies: the combined matrix hides it, the Istio layer alone
/// does not.
#[test]
fn allow_all_under_network_policies_fails_verify() {
    let text = template("helm4", &chart("evalhub"), "evalhub", &istio_args(&[]));
    let mut objs = parse(&text);
    for o in objs.iter_mut() {
        if o["kind"] == "AuthorizationPolicy" && o["metadata"]["name"] == "evalhub-postgres" {
            o["spec"]["rules"] = json!([{}]);
        }
    }
    let yaml: String = objs
        .iter()
        .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
        .collect();
    let (code, out) = meshpack_stdin(
        &[
            "verify",
            "--policy",
            root().join("policies/evalhub.yaml").to_str().unwrap(),
            "-",
        ],
        &yaml,
    );
    assert_eq!(code, 1, "{out}");
    for l in [
        "Istio alone: allowed but not intended: websocket -> postgres:5432 (tcp-postgres)",
        "Istio alone: allowed but not intended: (any other workload) -> postgres:5432 (tcp-postgres)",
    ] {
        assert!(out.lines().any(|x| x == l), "missing `{l}` in:\n{out}");
    }
    assert!(
        !out.lines()
            .any(|l| l.starts_with("allowed but not intended")),
        "the combined matrix is intact: {out}"
    );
}

/// The matrix describes partial access by the policy's patterns, never by
/// the evaluator's probe paths.
#[test]
fn matrix_names_no_probe_paths() {
    let text = template("helm4", &chart("evalhub"), "evalhub", &istio_args(&[]));
    for format in ["text", "json", "csv", "markdown"] {
        let (code, out) = meshpack_stdin(&["matrix", "-o", format, "-"], &text);
        assert_eq!(code, 0, "{out}");
        assert!(
            !out.contains("/meshpack-") && !out.contains("meshpack-probe"),
            "{format}:\n{out}"
        );
        assert!(out.contains("/api/*"), "{format}:\n{out}");
    }
}

/// The spec of one NetworkPolicy of a render.
fn netpol_spec(objs: &[Value], name: &str) -> Value {
    by_id(objs)
        .get(&format!("NetworkPolicy/{name}"))
        .unwrap_or_else(|| panic!("no NetworkPolicy/{name}"))["spec"]
        .clone()
}

fn component_selector(c: &str) -> Value {
    json!({"matchLabels": {"app.kubernetes.io/name": "evalhub", "app.kubernetes.io/instance": "evalhub", "app.kubernetes.io/component": c}})
}

/// `<service>-gateways` admitting `peer` to the ports.
fn gateway_policy(c: &str, peer: Value, ports: &[u16]) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|p| json!({"protocol": "TCP", "port": p}))
        .collect();
    json!({"policyTypes": ["Ingress"], "podSelector": component_selector(c),
           "ingress": [{"from": [peer], "ports": ports}]})
}

fn gateway_ns(ns: &str) -> Value {
    json!({"matchLabels": {"kubernetes.io/metadata.name": ns}})
}

/// NetworkPolicies admit a gateway's pods, not its whole namespace: with
/// Istio's Gateway by the gateway's selector, with the Gateway API by the
/// label of the pods Istio deploys, both in `istio.gateway.namespace` (one
/// value: the deprecated `networkPolicy.gatewayNamespaces` cannot set them
/// apart); with neither, the ingress controller (`ingress.controller.*`,
/// the values the Ingress form reads too). Helm 3 and 4 and the Kustomize
/// tree.
#[test]
fn gateways_are_admitted_by_their_pods() {
    let istio_peer = |ns: &str| json!({"namespaceSelector": gateway_ns(ns), "podSelector": {"matchLabels": {"istio": "ingressgateway"}}});
    let api_peer = json!({"namespaceSelector": gateway_ns("istio-ingress"),
        "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "evalhub-public"}}});
    let ingress_peer = |nss: &[&str]| json!({"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": nss}]}});
    let kust = |o: &str| kubectl_kustomize(&root().join("kustomize/evalhub/overlays").join(o));
    let mut renders: Vec<(String, Vec<Value>, Value)> = vec![
        (
            "kustomize istio".into(),
            kust("istio"),
            istio_peer("istio-ingress"),
        ),
        (
            "kustomize istio-gateway-api".into(),
            kust("istio-gateway-api"),
            api_peer.clone(),
        ),
        (
            "kustomize plain".into(),
            kust("plain"),
            ingress_peer(&["ingress-nginx"]),
        ),
    ];
    for h in HELMS {
        renders.push((
            format!("{h} istio"),
            istio(h, "evalhub", &["istio.enabled=true"]),
            istio_peer("istio-ingress"),
        ));
        renders.push((
            format!("{h} gateway api"),
            istio(
                h,
                "evalhub",
                &["istio.enabled=true", "gatewayApi.enabled=true"],
            ),
            api_peer.clone(),
        ));
        renders.push((
            format!("{h} plain"),
            helm_with(h, "evalhub", &[]),
            ingress_peer(&["ingress-nginx"]),
        ));
        // With the mesh on, the gateway namespace is the Istio objects' one;
        // the deprecated key no longer sets it apart.
        renders.push((
            format!("{h} istio, other gateway namespace"),
            istio(
                h,
                "evalhub",
                &[
                    "istio.enabled=true",
                    "istio.gateway.namespace=edge",
                    "networkPolicy.gatewayNamespaces={istio-ingress}",
                ],
            ),
            istio_peer("edge"),
        ));
    }
    for (what, objs, peer) in &renders {
        assert_eq!(
            netpol_spec(objs, "evalhub-frontend-gateways"),
            gateway_policy("frontend", peer.clone(), &[3000]),
            "{what}"
        );
        assert_eq!(
            netpol_spec(objs, "evalhub-api-gateways"),
            gateway_policy("api", peer.clone(), &[8080, 9090]),
            "{what}"
        );
        // No other policy admits the gateways (nor their namespace).
        for o in objs.iter().filter(|o| o["kind"] == "NetworkPolicy") {
            let name = o["metadata"]["name"].as_str().unwrap();
            if name.ends_with("-gateways") || name == "evalhub-allow-hbone" {
                continue;
            }
            let text = o["spec"].to_string();
            assert!(
                !text.contains("istio-ingress") && !text.contains("ingressgateway"),
                "{what}: {name} admits the gateway namespace: {text}"
            );
        }
    }
    // Without Istio: the customer's ingress controller, named by the
    // values the Ingress form reads; the renamed
    // `networkPolicy.ingressController.*` of an older values file still
    // win over them, and the deprecated list of namespaces over both.
    let labelled = |ns: &str| {
        let mut peer = ingress_peer(&[ns]);
        peer["podSelector"] = json!({"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}});
        peer
    };
    for h in HELMS {
        let cases: [(&str, Vec<&str>, Value, &str); 4] = [
            (
                "ingress.controller",
                vec![
                    "ingress.controller.namespace=edge",
                    "ingress.controller.podLabels.app\\.kubernetes\\.io/name=ingress-nginx",
                    "ingress.controller.serviceAccount=edge-controller",
                ],
                labelled("edge"),
                "edge/edge-controller",
            ),
            (
                "renamed networkPolicy.ingressController",
                vec![
                    "ingress.controller.namespace=edge",
                    "networkPolicy.ingressController.namespace=legacy",
                    "networkPolicy.ingressController.podLabels.app\\.kubernetes\\.io/name=ingress-nginx",
                ],
                labelled("legacy"),
                "legacy/ingress-nginx",
            ),
            (
                "deprecated gatewayNamespaces",
                vec![
                    "networkPolicy.ingressController.namespace=legacy",
                    "networkPolicy.gatewayNamespaces={a,b}",
                ],
                ingress_peer(&["a", "b"]),
                "a/ingress-nginx",
            ),
            ("defaults", vec![], ingress_peer(&["ingress-nginx"]), "ingress-nginx/ingress-nginx"),
        ];
        for (what, sets, peer, id) in cases {
            let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s]).collect();
            let objs = helm_with(h, "evalhub", &args);
            assert_eq!(
                netpol_spec(&objs, "evalhub-frontend-gateways"),
                gateway_policy("frontend", peer.clone(), &[3000]),
                "{h} {what}"
            );
            assert_eq!(
                netpol_spec(&objs, "evalhub-api-gateways"),
                gateway_policy("api", peer, &[8080, 9090]),
                "{h} {what}"
            );
            // Each names the controller and the gateways it stands for, so
            // `verify` knows who `gateway/public` is.
            for svc in ["frontend", "api"] {
                assert_eq!(
                    by_id(&objs)[&format!("NetworkPolicy/evalhub-{svc}-gateways")]["metadata"]
                        ["annotations"],
                    json!({"meshpack.dev/gateways": "public", "meshpack.dev/ingress-controller": id}),
                    "{h} {what} {svc}"
                );
            }
        }
    }
    // The Kustomize tree's policies carry the defaults' names.
    let objs = kust("plain");
    assert_eq!(
        by_id(&objs)["NetworkPolicy/evalhub-frontend-gateways"]["metadata"]["annotations"],
        json!({"meshpack.dev/gateways": "public", "meshpack.dev/ingress-controller": "ingress-nginx/ingress-nginx"})
    );
}

/// Without a mesh, `verify` takes `gateway/<name>` to be the controller the
/// rendered NetworkPolicies name (`ingress.controller.*`, pods by the
/// labels they select), with no flag:
/// the same render proves the policy, and one whose policies admit another
/// namespace than they name does not.
#[test]
fn verify_knows_the_ingress_controller_without_a_mesh() {
    let policy = root().join("policies/evalhub.yaml");
    let args = ["verify", "--policy", policy.to_str().unwrap(), "-"];
    for sets in [
        vec![],
        vec!["--set", "ingress.controller.namespace=edge"],
        vec!["--set", "networkPolicy.ingressController.namespace=legacy"],
        // The controller pods' labels, which the policies select.
        vec!["--set", "ingress.controller.podLabels.app=nginx"],
        vec![
            "--set",
            "ingress.enabled=true",
            "--set",
            "ingress.controller.podLabels.app=nginx",
        ],
    ] {
        let text = template("helm4", &chart("evalhub"), "evalhub", &sets);
        let (code, out) = meshpack_stdin(&args, &text);
        assert_eq!(code, 0, "{sets:?}: {out}");
    }
    // The controller named elsewhere than the policies admit: not proved.
    let text = template("helm4", &chart("evalhub"), "evalhub", &[]).replace(
        "meshpack.dev/ingress-controller: \"ingress-nginx/ingress-nginx\"",
        "meshpack.dev/ingress-controller: \"other/ingress-nginx\"",
    );
    assert!(text.contains("other/ingress-nginx"), "{text}");
    let (code, out) = meshpack_stdin(&args, &text);
    assert_eq!(code, 1, "{out}");
    for line in [
        "intended but not allowed: other/ingress-nginx -> frontend:3000 (http)",
        "intended but not allowed: other/ingress-nginx -> api:8080 (http)",
    ] {
        assert!(out.contains(line), "{out}");
    }
}

/// `verify` gives each gateway source the labels of its pods, so it
/// proves the pod-level admission in every gateway form; the policies
/// of a render where the gateway pods carry other labels fail it.
#[test]
fn verify_follows_the_gateway_pods() {
    let policy = root().join("policies/evalhub.yaml");
    let args = ["verify", "--policy", policy.to_str().unwrap(), "-"];
    for sets in [vec![], vec!["gatewayApi.enabled=true"]] {
        let text = template("helm4", &chart("evalhub"), "evalhub", &istio_args(&sets));
        let (code, out) = meshpack_stdin(&args, &text);
        assert_eq!(code, 0, "{sets:?}: {out}");
    }
    // The Istio Gateway selects other pods than the NetworkPolicies admit:
    // the gateway's calls are cut at L3.
    let text = template("helm4", &chart("evalhub"), "evalhub", &istio_args(&[]));
    let mut objs = parse(&text);
    for o in objs.iter_mut() {
        if o["kind"] == "Gateway" {
            o["spec"]["selector"] = json!({"istio": "edge-gateway"});
        }
    }
    let yaml: String = objs
        .iter()
        .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
        .collect();
    let (code, out) = meshpack_stdin(&args, &yaml);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(|l| l == "intended but not allowed: istio-ingress/istio-ingressgateway -> frontend:3000 (http)"),
        "{out}"
    );
}

/// Prometheus in both layers: the sidecars' 15020/15090 are destinations
/// only Prometheus may reach (no AuthorizationPolicy applies there), and
/// `verify` learns the install's Prometheus from `--values` or flags.
#[test]
fn verify_proves_the_prometheus_edge() {
    let policy = root().join("policies/evalhub.yaml");
    let mut text = String::new();
    for h in HELMS {
        text = template(h, &chart("evalhub"), "evalhub", &istio_args(&[]));
        let (code, out) = meshpack_stdin(
            &[
                "verify",
                "--show-matrix",
                "--policy",
                policy.to_str().unwrap(),
                "-",
            ],
            &text,
        );
        assert_eq!(code, 0, "{h}: {out}");
        assert!(
            out.contains("api:15020 (istio-merged-metrics)")
                && out.contains("api:15090 (http-envoy-prom)"),
            "{h}: {out}"
        );
    }
    // Without the NetworkPolicy for the sidecar ports, Prometheus is cut off.
    let objs: Vec<Value> = parse(&text)
        .into_iter()
        .filter(|o| o["metadata"]["name"] != "evalhub-allow-prometheus-envoy")
        .collect();
    let yaml: String = objs
        .iter()
        .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
        .collect();
    let (code, out) = meshpack_stdin(
        &["verify", "--policy", policy.to_str().unwrap(), "-"],
        &yaml,
    );
    assert_eq!(code, 1, "{out}");
    for l in [
        "intended but not allowed: monitoring/prometheus -> api:15020 (istio-merged-metrics)",
        "intended but not allowed: monitoring/prometheus -> api:15090 (http-envoy-prom)",
    ] {
        assert!(out.lines().any(|x| x == l), "missing `{l}` in:\n{out}");
    }
    // Prometheus pods picked by label: the chart admits only those, and
    // verify follows with --values or the flag.
    let sets = ["metrics.prometheus.podLabels.app=prometheus"];
    let text = template("helm4", &chart("evalhub"), "evalhub", &istio_args(&sets));
    let (code, out) = meshpack_stdin(
        &["verify", "--policy", policy.to_str().unwrap(), "-"],
        &text,
    );
    // (The policy's own rule admits monitoring/prometheus to http-metrics
    // by namespace; the sidecar ports are admitted by the values' labels.)
    assert_eq!(code, 1, "without its labels verify cannot match: {out}");
    assert!(
        out.lines().any(|l| {
            l
            == "intended but not allowed: monitoring/prometheus -> api:15020 (istio-merged-metrics)"
        }),
        "{out}"
    );
    let (code, out) = meshpack_stdin(
        &[
            "verify",
            "--prometheus-label",
            "app=prometheus",
            "--policy",
            policy.to_str().unwrap(),
            "-",
        ],
        &text,
    );
    assert_eq!(code, 0, "{out}");
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(
        &values,
        "metrics:\n  prometheus:\n    podLabels: {app: prometheus}\n",
    )
    .unwrap();
    let (code, out) = meshpack_stdin(
        &[
            "verify",
            "--values",
            values.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "-",
        ],
        &text,
    );
    assert_eq!(code, 0, "{out}");
}

/// A values file of the last release that still sets the deprecated
/// `networkPolicy.gatewayNamespaces` installs, and NOTES says what to set
/// instead. (Helm 4 renders NOTES offline; Helm 3.17's client dry-run asks
/// a cluster for its version.)
#[test]
fn the_deprecated_gateway_namespaces_key_installs_with_a_warning() {
    let notes = |sets: &[&str]| {
        let mut cmd = Command::new(helm("helm4"));
        cmd.args(["install", "evalhub"])
            .arg(chart("evalhub"))
            .args(["-n", "evalhub", "--dry-run=client"]);
        for s in sets {
            cmd.args(["--set", s]);
        }
        run(&mut cmd)
    };
    let out = notes(&["networkPolicy.gatewayNamespaces={ingress}"]);
    assert!(
        out.contains("WARNING: networkPolicy.gatewayNamespaces is deprecated. With Istio, NetworkPolicies\nadmit the gateway pods in istio.gateway.namespace (istio-ingress) and ignore it;\nwithout Istio, set ingress.controller.namespace (and .podLabels) instead."),
        "{out}"
    );
    let none = notes(&[]);
    assert!(!none.contains("gatewayNamespaces"), "{none}");
    assert!(!none.contains("networkPolicy.ingressController"), "{none}");
    // The renamed `networkPolicy.ingressController`, by either key.
    let warning = "WARNING: networkPolicy.ingressController is renamed ingress.controller (one set of\nvalues for the ingress controller, whoever renders the Ingresses). Its namespace and\npodLabels still apply over ingress.controller's; move them there.";
    for set in [
        "networkPolicy.ingressController.namespace=legacy",
        "networkPolicy.ingressController.podLabels.app=nginx",
    ] {
        let out = notes(&[set]);
        assert!(out.contains(warning), "{set}: {out}");
    }
    assert!(!notes(&["ingress.controller.namespace=edge"]).contains(warning));
}
