//! The generated chart, rendered with real Helm 3 and Helm 4.
//!
//! Needs the tools `tests/tools.sh` fetches (the README's test command runs
//! it first). Golden files: `UPDATE_GOLDEN=1 cargo test --test helm`
//! regenerates them; review the diff before committing.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
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

fn chart() -> PathBuf {
    root().join("charts/evalhub")
}

fn render_plain(h: &str) -> Vec<Value> {
    parse(&template(h, &chart(), "evalhub", &[]))
}

fn render_istio(h: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = istio_args(&[]);
    args.extend(extra);
    parse(&template(h, &chart(), "evalhub", &args))
}

fn is_mesh_kind(o: &Value) -> bool {
    let api = o["apiVersion"].as_str().unwrap_or("");
    api.contains("istio.io") || api.starts_with("cert-manager.io")
}

/// A ServiceAccount of the release as a rule names it (Istio 1.25+'s bare
/// `source.serviceAccounts` entry: the policy's own namespace).
fn account(sa: &str) -> String {
    format!("evalhub-{sa}")
}

fn selector(component: Option<&str>) -> Value {
    let mut l =
        json!({"app.kubernetes.io/name": "evalhub", "app.kubernetes.io/instance": "evalhub"});
    if let Some(c) = component {
        l["app.kubernetes.io/component"] = json!(c);
    }
    json!({ "matchLabels": l })
}

/// Every key of every `labels` and `annotations` map in an object.
fn label_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "labels" || k == "annotations" {
                    if let Value::Object(m) = x {
                        out.extend(m.keys().cloned());
                    }
                }
                label_keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| label_keys(x, out)),
        _ => {}
    }
}

#[test]
fn committed_output_is_fresh() {
    let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .args(["compile", "--check"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "charts/ is stale:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lint_strict_passes_in_both_modes() {
    for h in HELMS {
        for set in ["istio.enabled=false", "istio.enabled=true"] {
            let mut c = Command::new(helm(h));
            c.args(["lint", "--strict"])
                .arg(chart())
                .args(["--set", set]);
            let out = run(&mut c);
            assert!(out.contains("0 chart(s) failed"), "{h} {set}: {out}");
        }
    }
}

#[test]
fn without_istio_no_mesh_object_label_or_annotation() {
    for h in HELMS {
        let objs = render_plain(h);
        for o in &objs {
            assert!(
                !is_mesh_kind(o),
                "{h}: {} rendered with istio.enabled=false",
                id(o)
            );
            // Pods opt out of a namespace labelled for injection and name
            // their canonical service: the only Istio keys without the mesh.
            let allowed = [
                "sidecar.istio.io/inject",
                "istio.io/dataplane-mode",
                "service.istio.io/canonical-name",
                "service.istio.io/canonical-revision",
            ];
            let pod_labels = &o["spec"]["template"]["metadata"]["labels"];
            if pod_labels.is_object() {
                assert_eq!(
                    pod_labels["sidecar.istio.io/inject"],
                    "false",
                    "{h}: {}",
                    id(o)
                );
                assert_eq!(
                    pod_labels["istio.io/dataplane-mode"],
                    "none",
                    "{h}: {}",
                    id(o)
                );
            }
            let mut keys = vec![];
            label_keys(o, &mut keys);
            for k in keys {
                assert!(
                    !k.contains("istio")
                        || (pod_labels.is_object() && allowed.contains(&k.as_str())),
                    "{h}: {} has label/annotation {k}",
                    id(o)
                );
            }
        }
        let ids: BTreeSet<String> = objs.iter().map(id).collect();
        for s in SERVICES {
            // Services are named as the policy names the service.
            for id in [
                format!("ServiceAccount/evalhub-{s}"),
                format!("Service/{s}"),
            ] {
                assert!(ids.contains(&id), "{h}: {id}");
            }
        }
    }
}

#[test]
fn network_policies_encode_the_allow_graph() {
    for h in HELMS {
        let objs = by_id(&render_plain(h));
        let np = |n: &str| {
            objs.get(&format!("NetworkPolicy/evalhub-{n}"))
                .unwrap_or_else(|| panic!("{h}: no NetworkPolicy {n}"))["spec"]
                .clone()
        };

        assert_eq!(
            np("default-deny"),
            json!({"podSelector": selector(None), "policyTypes": ["Ingress", "Egress"]})
        );
        assert_eq!(
            np("allow-dns")["egress"],
            json!([{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}])
        );
        // postgres: api, scheduler and taskrunner on 5432, nothing else.
        assert_eq!(
            np("postgres-allow"),
            json!({
                "podSelector": selector(Some("postgres")),
                "policyTypes": ["Ingress"],
                "ingress": [{
                    "from": [
                        {"podSelector": selector(Some("api"))},
                        {"podSelector": selector(Some("scheduler"))},
                        {"podSelector": selector(Some("taskrunner"))},
                    ],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }],
            })
        );
        // api: frontend on http; prometheus's namespace on http-metrics,
        // as the policy says and again as the chart's metrics rule (its
        // namespace a value, `metrics.prometheus.namespace`); the gateway
        // (here, without Istio, the ingress controller's namespace,
        // `ingress.controller.namespace`) on both ports, in a policy of its own.
        let monitoring = json!({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}], "ports": [{"protocol": "TCP", "port": 9090}]});
        assert_eq!(
            np("api-allow")["ingress"],
            json!([
                {"from": [{"podSelector": selector(Some("frontend"))}], "ports": [{"protocol": "TCP", "port": 8080}]},
                monitoring,
                monitoring,
            ])
        );
        assert_eq!(np("api-allow")["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(
            np("api-gateways")["ingress"],
            json!([
                {"from": [{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["ingress-nginx"]}]}}],
                 "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 9090}]},
            ])
        );
        // taskrunner reaches its four stores and, on 443, the outside.
        assert_eq!(
            np("taskrunner-allow")["egress"],
            json!([
                {"to": [{"podSelector": selector(Some("clickhouse"))}], "ports": [{"protocol": "TCP", "port": 8123}, {"protocol": "TCP", "port": 9000}]},
                {"to": [{"podSelector": selector(Some("kafka"))}], "ports": [{"protocol": "TCP", "port": 9092}]},
                {"to": [{"podSelector": selector(Some("minio"))}], "ports": [{"protocol": "TCP", "port": 9000}]},
                {"to": [{"podSelector": selector(Some("postgres"))}], "ports": [{"protocol": "TCP", "port": 5432}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
            ])
        );
        // frontend only talks to api and websocket on http.
        assert_eq!(
            np("frontend-allow")["egress"],
            json!([
                {"to": [{"podSelector": selector(Some("api"))}], "ports": [{"protocol": "TCP", "port": 8080}]},
                {"to": [{"podSelector": selector(Some("websocket"))}], "ports": [{"protocol": "TCP", "port": 8081}]},
            ])
        );
        // Nothing sends to frontend but the gateway; nothing leaves postgres.
        assert_eq!(np("frontend-allow")["policyTypes"], json!(["Egress"]));
        assert!(np("frontend-allow").get("ingress").is_none(), "{h}");
        assert!(np("postgres-allow").get("egress").is_none(), "{h}");
        assert!(
            !objs.contains_key("NetworkPolicy/evalhub-allow-istiod"),
            "{h}: istiod rule without Istio"
        );
    }
}

#[test]
fn network_policies_can_be_switched_off() {
    for h in HELMS {
        let objs = parse(&template(
            h,
            &chart(),
            "evalhub",
            &["--set", "networkPolicy.enabled=false"],
        ));
        assert!(objs.iter().all(|o| o["kind"] != "NetworkPolicy"), "{h}");
    }
}

/// The exact set of mesh objects for evalhub.
fn expected_mesh_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for s in SERVICES {
        for kind in [
            "PeerAuthentication",
            "AuthorizationPolicy",
            "DestinationRule",
            "Sidecar",
        ] {
            ids.insert(format!("{kind}/evalhub-{s}"));
        }
    }
    ids.insert("AuthorizationPolicy/evalhub-allow-nothing".into());
    ids.insert("Gateway/evalhub-public".into());
    ids.insert("VirtualService/evalhub-public".into());
    ids.insert("Certificate/evalhub-public".into());
    ids.insert("ServiceEntry/evalhub-egress-api-openai-com".into());
    ids.insert("ServiceEntry/evalhub-egress-wildcard-s3-amazonaws-com".into());
    ids
}

#[test]
fn with_istio_exactly_the_expected_mesh_objects() {
    for h in HELMS {
        let objs = render_istio(h, &[]);
        let mesh: BTreeSet<String> = objs.iter().filter(|o| is_mesh_kind(o)).map(id).collect();
        assert_eq!(mesh, expected_mesh_ids(), "{h}");
        let by = by_id(&objs);
        let spec = |i: &str| by[i]["spec"].clone();

        assert_eq!(
            spec("AuthorizationPolicy/evalhub-allow-nothing"),
            json!({"selector": selector(None)})
        );
        assert_eq!(
            spec("PeerAuthentication/evalhub-postgres"),
            json!({"selector": selector(Some("postgres")), "mtls": {"mode": "STRICT"}})
        );
        assert_eq!(
            spec("AuthorizationPolicy/evalhub-postgres"),
            json!({
                "selector": selector(Some("postgres")),
                "action": "ALLOW",
                "rules": [{
                    "from": [{"source": {"serviceAccounts": [account("api"), account("scheduler"), account("taskrunner")]}}],
                    "to": [{"operation": {"ports": ["5432"]}}],
                }],
            })
        );
        assert_eq!(
            spec("AuthorizationPolicy/evalhub-api")["rules"],
            json!([
                {"from": [{"source": {"serviceAccounts": [account("frontend")]}}], "to": [{"operation": {"ports": ["8080"]}}]},
                {"from": [{"source": {"serviceAccounts": ["istio-ingress/istio-ingressgateway"]}}],
                 "to": [{"operation": {"ports": ["8080", "9090"], "methods": ["GET", "POST", "PUT", "DELETE"], "paths": ["/api/*"]}}]},
                {"from": [{"source": {"serviceAccounts": ["monitoring/prometheus"]}}], "to": [{"operation": {"ports": ["9090"]}}]},
            ])
        );
        assert_eq!(
            spec("DestinationRule/evalhub-kafka"),
            json!({"host": "kafka", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}, "exportTo": ["."]})
        );
        assert_eq!(
            spec("Gateway/evalhub-public"),
            json!({
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["evalhub.example.com"],
                     "tls": {"mode": "SIMPLE", "credentialName": "evalhub-tls"}},
                    {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["evalhub.example.com"],
                     "tls": {"httpsRedirect": true}},
                ],
            })
        );
        let route = |prefix: &str, host: &str, port: u16| json!({"match": [{"uri": {"prefix": prefix}}], "route": [{"destination": {"host": host, "port": {"number": port}}}]});
        assert_eq!(
            spec("VirtualService/evalhub-public"),
            json!({
                "hosts": ["evalhub.example.com"],
                "gateways": ["evalhub-public"],
                "http": [route("/api", "api", 8080), route("/ws", "websocket", 8081), route("/", "frontend", 3000)],
            })
        );
        let cert = &by["Certificate/evalhub-public"];
        assert_eq!(
            cert["metadata"]["namespace"], "istio-ingress",
            "{h}: TLS Secret must be in the gateway's namespace"
        );
        assert_eq!(
            cert["spec"],
            json!({"secretName": "evalhub-tls", "dnsNames": ["evalhub.example.com"],
                   "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}})
        );
        assert_eq!(
            spec("ServiceEntry/evalhub-egress-wildcard-s3-amazonaws-com"),
            json!({"hosts": ["*.s3.amazonaws.com"], "ports": [{"number": 443, "name": "tls-443", "protocol": "TLS"}],
                   "location": "MESH_EXTERNAL", "resolution": "NONE", "exportTo": ["."]})
        );
        assert_eq!(
            spec("ServiceEntry/evalhub-egress-api-openai-com")["resolution"],
            "DNS"
        );
        assert_eq!(
            spec("Sidecar/evalhub-taskrunner"),
            json!({
                "workloadSelector": {"labels": selector(Some("taskrunner"))["matchLabels"]},
                "egress": [{"hosts": [
                    "istio-system/*",
                    "./*.svc.cluster.local",
                    "./*.s3.amazonaws.com",
                    "./api.openai.com",
                ]}],
                "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
            })
        );
        // Every pod template is injected by label (the annotation is
        // deprecated and could contradict the label) and is its own
        // canonical service.
        for s in SERVICES {
            let w = by
                .get(&format!("Deployment/evalhub-{s}"))
                .or_else(|| by.get(&format!("StatefulSet/evalhub-{s}")))
                .unwrap();
            let meta = &w["spec"]["template"]["metadata"];
            assert_eq!(meta["labels"]["sidecar.istio.io/inject"], "true", "{h} {s}");
            assert_eq!(
                meta["labels"]["service.istio.io/canonical-name"],
                json!(format!("evalhub-{s}")),
                "{h} {s}"
            );
            assert!(
                meta.get("annotations")
                    .is_none_or(|a| a.get("sidecar.istio.io/inject").is_none()),
                "{h} {s}"
            );
        }
        assert_eq!(
            by["NetworkPolicy/evalhub-allow-istiod"]["spec"]["egress"],
            json!([{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}}}],
                    "ports": [{"protocol": "TCP", "port": 15012}]}])
        );
    }
}

fn golden(name: &str) -> PathBuf {
    root().join("tests/golden").join(name)
}

/// Compare objects with a golden file object by object; regenerate with
/// UPDATE_GOLDEN=1.
fn check_golden(name: &str, objs: &[Value]) {
    let mut objs: Vec<Value> = objs.to_vec();
    objs.sort_by_key(id);
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text: String = objs
            .iter()
            .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
            .collect();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = by_id(&parse(&std::fs::read_to_string(&path).unwrap_or_else(
        |_| panic!("{} missing; run with UPDATE_GOLDEN=1", path.display()),
    )));
    let have = by_id(&objs);
    let mut diffs = vec![];
    for (k, w) in &want {
        match have.get(k) {
            None => diffs.push(format!("missing {k}")),
            Some(h) if h != w => diffs.push(format!(
                "{k} differs:\n{}",
                similar::TextDiff::from_lines(
                    &serde_yaml::to_string(w).unwrap(),
                    &serde_yaml::to_string(h).unwrap()
                )
                .unified_diff()
                .header("golden", "rendered")
            )),
            _ => {}
        }
    }
    for k in have.keys().filter(|k| !want.contains_key(*k)) {
        diffs.push(format!("unexpected {k}"));
    }
    assert!(
        diffs.is_empty(),
        "{name} (UPDATE_GOLDEN=1 regenerates):\n{}",
        diffs.join("\n")
    );
}

#[test]
fn renders_match_golden_files_in_both_helms() {
    for h in HELMS {
        check_golden("evalhub-istio.yaml", &render_istio(h, &[]));
        check_golden("evalhub-plain.yaml", &render_plain(h));
    }
}

#[test]
fn every_rendered_object_validates_against_upstream_schemas() {
    for h in HELMS {
        for objs in [
            render_plain(h),
            render_istio(h, &[]),
            render_istio(h, &["--set", "istio.namespaceWide=true"]),
        ] {
            let errors = schema_errors(&objs);
            assert!(errors.is_empty(), "{h}:\n{}", errors.join("\n"));
        }
    }
}

#[test]
fn namespace_wide_mode_drops_selectors() {
    for h in HELMS {
        let by = by_id(&render_istio(h, &["--set", "istio.namespaceWide=true"]));
        assert_eq!(
            by["PeerAuthentication/evalhub-mtls"]["spec"],
            json!({"mtls": {"mode": "STRICT"}})
        );
        assert_eq!(
            by["AuthorizationPolicy/evalhub-allow-nothing"]["spec"],
            json!({})
        );
        for s in SERVICES {
            assert!(
                !by.contains_key(&format!("PeerAuthentication/evalhub-{s}")),
                "{h}: {s} would conflict"
            );
        }
    }
}

#[test]
fn values_schema_rejects_wrong_types_and_unknown_keys() {
    for h in HELMS {
        for (set, want) in [
            ("istio.enabled=yes", "istio.enabled"),
            ("services.api.replicas=two", "services.api.replicas"),
            ("istio.injection=maybe", "istio.injection"),
            ("unknownKey=1", "unknownKey"),
            (
                "services.api.image.digest=sha256:abc",
                "services.api.image.digest",
            ),
        ] {
            let out = Command::new(helm(h))
                .args(["template", "evalhub"])
                .arg(chart())
                .args(["--set", set])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{h}: --set {set} was accepted");
            // Helm 3 names the field `a.b`, Helm 4 `/a/b`.
            let slashed = format!("/{}", want.replace('.', "/"));
            assert!(
                err.contains(want) || err.contains(&slashed),
                "{h}: --set {set}: {err}"
            );
        }
        // A parent chart's globals pass through a closed schema.
        template(h, &chart(), "evalhub", &["--set", "global.parentSetting=1"]);
    }
}

/// A chart of `services` (a policy body under `spec.services`), written to
/// a temporary folder.
fn chart_of(name: &str, services: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let policy = format!(
        "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata:\n  name: {name}\nspec:\n  version: 1.0.0\n  services:\n{services}"
    );
    let m = meshpack::compile_model(&policy, None).unwrap_or_else(|d| panic!("{d:?}"));
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join(name);
    meshpack::package::write_dir(&chart, &meshpack::package(&m).chart, "test", false).unwrap();
    (dir, chart)
}

/// `helm template <release>`: the rendered objects, or Helm's error.
fn template_as(
    h: &str,
    chart: &std::path::Path,
    release: &str,
    args: &[&str],
) -> Result<String, String> {
    let out = Command::new(helm(h))
        .args(["template", release])
        .arg(chart)
        .args(args)
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

/// Helm takes release names with dots and leading digits, and any
/// `fullnameOverride`. Where an object rendered with the given values would
/// be refused (a Service is a DNS-1035 label: the chart's own with
/// `serviceNames: release`, or the one Istio deploys for a Gateway API
/// gateway or the ambient waypoint), or accepted with pods that never start
/// (a StatefulSet's pods take its name as their DNS-1123 host name), or
/// is no DNS-1123 subdomain at all, the chart fails first, saying which name
/// and what to do; where nothing needs more (Deployments, Services named by
/// the service, Istio's own Gateway), such a name installs as before.
#[test]
fn release_names_that_make_invalid_object_names_fail_saying_what_to_do() {
    let (_d1, deployments) = chart_of(
        "shop",
        "    api: {image: registry.example.com/api:1.0.0, ports: {http: 8080}}\n",
    );
    let (_d2, stateful) = chart_of(
        "shop",
        "    db: {image: registry.example.com/db:1.0.0, workload: StatefulSet, storage: {size: 1Gi, mountPath: /data}, ports: {tcp-db: 5432}}\n",
    );
    let evalhub = chart();
    let subdomain = "object names are DNS-1123 subdomains";
    let hostnames =
        "a StatefulSet's pods take its name as their host name, which must be a DNS-1123 label";
    let gateways = "with gatewayApi.enabled Istio names each gateway's Service after it";
    let mut gateway_api = mesh_api_args();
    gateway_api.extend(["--set", "gatewayApi.enabled=true"]);
    for h in HELMS {
        for (chart, release, args, prefix, why) in [
            (
                &evalhub,
                "shop.prod",
                &[][..],
                "shop.prod-evalhub",
                hostnames,
            ),
            (
                &evalhub,
                "1shop",
                &gateway_api[..],
                "1shop-evalhub",
                gateways,
            ),
            (
                &evalhub,
                "shop",
                &["--set", "fullnameOverride=my.app"][..],
                "my.app",
                hostnames,
            ),
            (&stateful, "shop.prod", &[][..], "shop.prod", hostnames),
            (
                &deployments,
                "shop",
                &["--set", "fullnameOverride=My_App"][..],
                "My_App",
                subdomain,
            ),
        ] {
            let err = template_as(h, chart, release, args)
                .expect_err(&format!("{h}: {release} {args:?} was accepted"));
            assert!(
                err.contains(&format!("object names would start with \"{prefix}\""))
                    && err.contains(why)
                    && err.contains("or set fullnameOverride"),
                "{h}: {release}: {err}"
            );
        }
        // A leading digit is a DNS-1123 label; Istio's own Gateway (the
        // default) names no Service after the release.
        let objs = by_id(&parse(&template_as(h, &evalhub, "1shop", &[]).unwrap()));
        assert_eq!(
            objs["StatefulSet/1shop-evalhub-postgres"]["spec"]["serviceName"], "postgres",
            "{h}"
        );
        let objs = by_id(&parse(&template_as(h, &stateful, "1shop", &[]).unwrap()));
        assert_eq!(
            objs["StatefulSet/1shop-db"]["spec"]["serviceName"], "db",
            "{h}"
        );
        // Dots are fine without StatefulSets, gateways or `serviceNames:
        // release`.
        let objs = by_id(&parse(
            &template_as(h, &deployments, "shop.prod", &[]).unwrap(),
        ));
        let d = &objs["Deployment/shop.prod-api"];
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/instance"], "shop.prod",
            "{h}"
        );
        let objs = by_id(&parse(
            &template_as(
                h,
                &evalhub,
                "shop.prod",
                &["--set", "fullnameOverride=shop-prod"],
            )
            .unwrap(),
        ));
        let d = &objs["Deployment/shop-prod-api"];
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/component"], "api",
            "{h}"
        );
    }
}

/// Istio deploys a Gateway API Gateway of class `istio` as a Deployment
/// and Service named `<gateway>-istio`, a name the chart's own cut of the
/// release name does not count. Under those values a prefix that leaves
/// that Service over 63 characters fails the install, naming the gateway,
/// the Service and the longest prefix that fits; without them the same
/// release name installs with the prefix it always had (no object renamed),
/// and a prefix that fits installs with the gateway.
#[test]
fn release_names_too_long_for_the_service_istio_deploys_per_gateway_fail() {
    let gateway = "customer-facing-public-entrypoint";
    let policy = format!(
        "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata:\n  name: shop\nspec:\n  version: 1.0.0\n  services:\n    web: {{image: registry.example.com/web:1.0.0, ports: {{http: 8080}}}}\n  gateways:\n    {gateway}:\n      hosts: [shop.example.com]\n      routes:\n      - {{prefix: /, to: web}}\n  allow:\n  - {{from: gateway/{gateway}, to: web}}\n"
    );
    let m = meshpack::compile_model(&policy, None).unwrap_or_else(|d| panic!("{d:?}"));
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("shop");
    meshpack::package::write_dir(&chart, &meshpack::package(&m).chart, "test", false).unwrap();
    // 63 - len("-customer-facing-public-entrypoint-istio") = 23.
    let room = 63 - gateway.len() - "--istio".len();
    assert_eq!(room, 23);
    // Not cut by the chart's own limit (29 here), too long for the gateway.
    let long = "production-eu-west-1";
    let gateway_names = |objs: &std::collections::BTreeMap<String, Value>| -> Vec<String> {
        objs.iter()
            .filter(|(id, o)| {
                id.starts_with("Gateway/") && o["apiVersion"] == "gateway.networking.k8s.io/v1"
            })
            .map(|(_, o)| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    for h in HELMS {
        let gateway_api = istio_args(&["gatewayApi.enabled=true"]);
        let err = template_as(h, &chart, long, &gateway_api)
            .expect_err(&format!("{h}: {long} was accepted"));
        let prefix = format!("{long}-shop");
        assert!(
            err.contains(&format!("object names would start with \"{prefix}\""))
                && err.contains(&format!("Istio deploys the gateway \"{gateway}\" as a Service named \"{prefix}-{gateway}-istio\""))
                && err.contains("set fullnameOverride to at most 23 characters"),
            "{h}: {err}"
        );
        // Istio's own Gateway (the default): the same name installs as before.
        let objs = by_id(&parse(
            &template_as(h, &chart, long, &istio_args(&[])).unwrap(),
        ));
        assert_eq!(
            objs[&format!("Deployment/{prefix}-web")]["metadata"]["labels"]
                ["app.kubernetes.io/component"],
            "web",
            "{h}"
        );
        // A prefix that fits: the Service Istio deploys is 63 characters.
        let mut args = gateway_api.clone();
        args.extend(["--set", "fullnameOverride=shop-prod-eu-west-1-abc"]);
        let objs = by_id(&parse(&template_as(h, &chart, long, &args).unwrap()));
        let gw = gateway_names(&objs);
        assert_eq!(gw, [format!("shop-prod-eu-west-1-abc-{gateway}")], "{h}");
        assert_eq!(format!("{}-istio", gw[0]).len(), 63, "{h}");
    }
}

/// With the Gateway API a gateway's listeners are the policy's hosts, and
/// an HTTPRoute serves only hosts a listener has: `gateways.<name>.hosts`
/// set at install time to other hosts (the value's Certificate and
/// HTTPRoute hostnames, no listener's) fails the render, naming the value
/// and the policy's hosts, where before the routes were applied and served
/// nothing. The policy's hosts in another order render; Istio's Gateway
/// takes any hosts, 17 too.
#[test]
fn install_time_gateway_hosts_other_than_the_listeners_fail_with_the_gateway_api() {
    let list = |hosts: &[&str]| format!("gateways.public.hosts={{{}}}", hosts.join(","));
    let seventeen: Vec<String> = (0..17).map(|i| format!("h{i}.example.com")).collect();
    let seventeen: Vec<&str> = seventeen.iter().map(String::as_str).collect();
    let policy = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata:\n  name: shop\nspec:\n  version: 1.0.0\n  services:\n    web: {image: registry.example.com/web:1.0.0, ports: {http: 8080}}\n  gateways:\n    public:\n      hosts: [a.example.com, b.example.com]\n      routes:\n      - {prefix: /, to: web}\n  allow:\n  - {from: gateway/public, to: web}\n";
    let m = meshpack::compile_model(policy, None).unwrap_or_else(|d| panic!("{d:?}"));
    let dir = tempfile::tempdir().unwrap();
    let two_hosts = dir.path().join("shop");
    meshpack::package::write_dir(&two_hosts, &meshpack::package(&m).chart, "test", false).unwrap();
    for h in HELMS {
        let gateway_api = |hosts: &str| {
            let mut args = istio_args(&["gatewayApi.enabled=true"]);
            args.extend(["--set", hosts]);
            template_as(h, &chart(), "evalhub", &args)
        };
        for hosts in [
            list(&["shop.customer.com"]),
            list(&["evalhub.example.com", "shop.customer.com"]),
            list(&seventeen),
        ] {
            let err = gateway_api(&hosts).expect_err(&format!("{h}: {hosts} was accepted"));
            assert!(
                err.contains("but with gatewayApi.enabled=true the Gateway's listeners are the policy's hosts, [\"evalhub.example.com\"]")
                    && err.contains("gateways.public.hosts is [\"")
                    && err.contains("keep Istio's Gateway (gatewayApi.enabled=false)"),
                "{h}: {hosts}: {err}"
            );
        }
        // The policy's own hosts: listeners, HTTPRoute and Certificate agree.
        let objs = by_id(&parse(
            &gateway_api(&list(&["evalhub.example.com"])).unwrap(),
        ));
        let listeners: Vec<&Value> = objs["Gateway/evalhub-public"]["spec"]["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| &l["hostname"])
            .collect();
        assert_eq!(
            listeners,
            [&json!("evalhub.example.com"), &json!("evalhub.example.com")],
            "{h}"
        );
        assert_eq!(
            objs["HTTPRoute/evalhub-public"]["spec"]["hostnames"],
            json!(["evalhub.example.com"]),
            "{h}"
        );
        // The same hosts in another order.
        let mut args = istio_args(&["gatewayApi.enabled=true"]);
        args.extend([
            "--set",
            "gateways.public.hosts={b.example.com,a.example.com}",
        ]);
        let objs = by_id(&parse(&template_as(h, &two_hosts, "shop", &args).unwrap()));
        assert_eq!(
            objs["HTTPRoute/shop-public"]["spec"]["hostnames"],
            json!(["b.example.com", "a.example.com"]),
            "{h}"
        );
        // Istio's Gateway takes the values' hosts, however many.
        let mut args = istio_args(&[]);
        let many = list(&seventeen);
        args.extend(["--set", &many]);
        let objs = by_id(&parse(&template_as(h, &chart(), "evalhub", &args).unwrap()));
        let servers = objs["Gateway/evalhub-public"]["spec"]["servers"]
            .as_array()
            .unwrap();
        assert!(
            servers
                .iter()
                .any(|s| s["hosts"].as_array().unwrap().len() == 17),
            "{h}: {servers:?}"
        );
    }
}

#[test]
fn istio_without_istio_apis_fails_saying_what_to_install() {
    for h in HELMS {
        let out = Command::new(helm(h))
            .args(["template", "evalhub"])
            .arg(chart())
            .args(["--set", "istio.enabled=true"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{h}");
        assert!(
            err.contains("does not serve security.istio.io/v1") && err.contains("Install Istio"),
            "{h}: {err}"
        );
    }
}

#[test]
fn global_registry_digest_and_pull_secrets() {
    for h in HELMS {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let objs = by_id(&parse(&template(
            h,
            &chart(),
            "evalhub",
            &[
                "--set",
                "global.imageRegistry=mirror.corp:5000",
                "--set",
                &format!("services.api.image.digest={digest}"),
                "--set",
                "global.imagePullSecrets[0]=regcred",
            ],
        )));
        let pod = &objs["Deployment/evalhub-api"]["spec"]["template"]["spec"];
        assert_eq!(
            pod["containers"][0]["image"],
            json!(format!("mirror.corp:5000/evalhub/api@{digest}"))
        );
        assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
        let pg = &objs["StatefulSet/evalhub-postgres"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(pg["image"], "mirror.corp:5000/library/postgres:16.4");
    }
}

#[test]
fn workloads_follow_security_defaults() {
    for h in HELMS {
        for o in render_plain(h)
            .iter()
            .filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet")))
        {
            let pod = &o["spec"]["template"]["spec"];
            let n = id(o);
            assert_eq!(pod["automountServiceAccountToken"], false, "{n}");
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{n}");
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{n}"
            );
            for c in pod["containers"].as_array().unwrap() {
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{n}");
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{n}");
                assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{n}");
                for k in ["cpu", "memory"] {
                    assert!(
                        c["resources"]["requests"][k].is_string(),
                        "{n}: requests.{k}"
                    );
                    assert!(c["resources"]["limits"][k].is_string(), "{n}: limits.{k}");
                }
                assert_ne!(
                    c["readinessProbe"], c["livenessProbe"],
                    "{n}: probes must differ"
                );
                let image = c["image"].as_str().unwrap();
                assert!(
                    !image.ends_with(":latest") && image.contains(':'),
                    "{n}: {image}"
                );
            }
        }
    }
}

fn compile_to(dir: &Path, args: &[&str]) {
    run(Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .arg("compile")
        .arg(root().join("policies/evalhub.yaml"))
        .arg("-o")
        .arg(dir)
        .args(args));
}

#[test]
fn permissive_profile_dry_runs_authorization_under_the_policys_own_mtls() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("evalhub");
    compile_to(&out, &["--profile", "permissive"]);
    for h in HELMS {
        let args = istio_args(&[]);
        let by = by_id(&parse(&template(h, &out, "evalhub", &args)));
        for (k, o) in &by {
            if k.starts_with("AuthorizationPolicy/") {
                assert_eq!(
                    o["metadata"]["annotations"]["istio.io/dry-run"], "true",
                    "{h} {k}"
                );
            }
            // evalhub sets `mtls: STRICT` itself, which wins over the profile.
            if k.starts_with("PeerAuthentication/") {
                assert_eq!(o["spec"]["mtls"]["mode"], "STRICT", "{h} {k}");
            }
        }
    }
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    compile_to(&a, &[]);
    compile_to(&b, &[]);
    let read = |d: &Path| read_tree(d);
    assert_eq!(read(&a), read(&b));
    assert_eq!(
        read(&a)
            .into_iter()
            .filter(|(p, _)| p != ".meshpack")
            .collect::<Vec<_>>(),
        read(&chart())
            .into_iter()
            .filter(|(p, _)| p != ".meshpack")
            .collect::<Vec<_>>()
    );
}
