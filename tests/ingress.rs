//! Gateways as Kubernetes Ingress, with real Helm 3 and 4 and kubectl: the
//! same routes as the Gateway API and Istio forms, rendered only while
//! neither is on, valid against the upstream schemas, the controller
//! admitted by NetworkPolicy, and `verify`/`matrix` reading it.

mod common;

use common::{by_id, helm, meshpack_stdin, parse, root, run, schema_errors, tools, HELMS};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn render(h: &str, chart: &Path, sets: &[&str]) -> Vec<Value> {
    let mut c = Command::new(helm(h));
    c.args(["template", "evalhub"])
        .arg(chart)
        .args(["-n", "evalhub"]);
    for s in sets {
        c.args(["--set", s]);
    }
    c.args(common::mesh_api_args());
    parse(&run(&mut c))
}

fn of_kind<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| o["kind"] == kind).collect()
}

/// (host, match kind, path, backend Service, port) of every route.
type Route = (String, String, String, String, u64);

fn ingress_routes(objs: &[Value]) -> BTreeSet<Route> {
    let mut out = BTreeSet::new();
    for i in of_kind(objs, "Ingress") {
        for r in i["spec"]["rules"].as_array().unwrap() {
            for p in r["http"]["paths"].as_array().unwrap() {
                let kind = match p["pathType"].as_str().unwrap() {
                    "Prefix" => "PathPrefix",
                    other => other,
                };
                out.insert((
                    r["host"].as_str().unwrap().into(),
                    kind.into(),
                    p["path"].as_str().unwrap().into(),
                    p["backend"]["service"]["name"].as_str().unwrap().into(),
                    p["backend"]["service"]["port"]["number"].as_u64().unwrap(),
                ));
            }
        }
    }
    out
}

fn http_route_routes(objs: &[Value]) -> BTreeSet<Route> {
    let mut out = BTreeSet::new();
    for r in of_kind(objs, "HTTPRoute") {
        for host in r["spec"]["hostnames"].as_array().unwrap() {
            for rule in r["spec"]["rules"].as_array().unwrap() {
                let Some(b) = rule["backendRefs"].get(0) else {
                    continue; // the HTTPS redirect
                };
                let m = &rule["matches"][0]["path"];
                out.insert((
                    host.as_str().unwrap().into(),
                    m["type"].as_str().unwrap().into(),
                    m["value"].as_str().unwrap().into(),
                    b["name"].as_str().unwrap().into(),
                    b["port"].as_u64().unwrap(),
                ));
            }
        }
    }
    out
}

fn virtual_service_routes(objs: &[Value]) -> BTreeSet<Route> {
    let mut out = BTreeSet::new();
    for vs in of_kind(objs, "VirtualService")
        .into_iter()
        .filter(|v| v["spec"]["gateways"].is_array())
    {
        for host in vs["spec"]["hosts"].as_array().unwrap() {
            for r in vs["spec"]["http"].as_array().unwrap() {
                let uri = &r["match"][0]["uri"];
                let (kind, path) = match (uri.get("prefix"), uri.get("exact")) {
                    (Some(p), _) => ("PathPrefix", p),
                    (_, Some(p)) => ("Exact", p),
                    _ => ("RegularExpression", &uri["regex"]),
                };
                let d = &r["route"][0]["destination"];
                out.insert((
                    host.as_str().unwrap().into(),
                    kind.into(),
                    path.as_str().unwrap().into(),
                    d["host"].as_str().unwrap().into(),
                    d["port"]["number"].as_u64().unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn ingress_routes_equal_the_other_forms_and_render_only_without_them() {
    let chart = root().join("charts/evalhub");
    for h in HELMS {
        let objs = render(
            h,
            &chart,
            &["ingress.enabled=true", "ingress.annotations.team=web"],
        );
        let ing = by_id(&objs);
        let i = &ing["Ingress/evalhub-public"];
        assert_eq!(i["apiVersion"], "networking.k8s.io/v1", "{h}");
        assert_eq!(i["metadata"]["namespace"], "evalhub", "{h}");
        assert_eq!(
            i["metadata"]["annotations"],
            json!({
                "meshpack.dev/gateway": "public",
                "meshpack.dev/ingress-controller": "ingress-nginx/ingress-nginx",
                "team": "web",
            }),
            "{h}"
        );
        assert_eq!(i["spec"]["ingressClassName"], "nginx", "{h}");
        assert_eq!(
            i["spec"]["tls"],
            json!([{"hosts": ["evalhub.example.com"], "secretName": "evalhub-tls"}]),
            "{h}"
        );
        let paths = |svc: &str, path: &str, port: u16| json!({"path": path, "pathType": "Prefix", "backend": {"service": {"name": svc, "port": {"number": port}}}});
        // Longest prefix first, as Ingress (and the Gateway API) order them.
        assert_eq!(
            i["spec"]["rules"],
            json!([{"host": "evalhub.example.com", "http": {"paths": [
                paths("api", "/api", 8080), paths("websocket", "/ws", 8081), paths("frontend", "/", 3000),
            ]}}]),
            "{h}"
        );
        let routes = ingress_routes(&objs);
        let gateway_api = http_route_routes(&render(h, &chart, &["gatewayApi.enabled=true"]));
        let istio = virtual_service_routes(&render(h, &chart, &["istio.enabled=true"]));
        assert_eq!(routes, gateway_api, "{h}: Ingress and HTTPRoute routes");
        assert_eq!(routes, istio, "{h}: Ingress and VirtualService routes");
        assert_eq!(routes.len(), 3, "{h}");

        // The controller's NetworkPolicies: exactly the ports gateway rules
        // allow.
        for (svc, ports) in [
            ("api", json!([8080, 9090])),
            ("frontend", json!([3000])),
            ("websocket", json!([8081])),
        ] {
            let np = &ing[&format!("NetworkPolicy/evalhub-{svc}-from-ingress")];
            assert_eq!(
                np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], svc,
                "{h}"
            );
            assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]), "{h}");
            let ports: Vec<Value> = ports
                .as_array()
                .unwrap()
                .iter()
                .map(|p| json!({"protocol": "TCP", "port": p}))
                .collect();
            assert_eq!(
                np["spec"]["ingress"],
                json!([{
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}, "podSelector": {"matchLabels": {}}}],
                    "ports": ports,
                }]),
                "{h}: {svc}"
            );
            // The controller is the only way in from outside: neither the
            // service's own policy nor the no-mesh gateway policy (which
            // steps aside with `ingress.enabled`) admits another namespace.
            // (a service only gateways call has one only for its egress).
            if let Some(own) = ing.get(&format!("NetworkPolicy/evalhub-{svc}-allow")) {
                assert!(
                    !own["spec"]["ingress"].to_string().contains("istio-ingress"),
                    "{h}: {svc} admits the gateway namespace: {}",
                    own["spec"]["ingress"]
                );
            }
            assert!(
                !ing.contains_key(&format!("NetworkPolicy/evalhub-{svc}-gateways")),
                "{h}: {svc} has a second policy for the gateway"
            );
        }
        assert!(
            !ing.contains_key("NetworkPolicy/evalhub-postgres-from-ingress"),
            "{h}"
        );
        assert_eq!(schema_errors(&objs), Vec::<String>::new(), "{h}");

        // The third form only: never beside Istio's or the Gateway API's.
        for other in ["istio.enabled=true", "gatewayApi.enabled=true"] {
            let objs = render(h, &chart, &["ingress.enabled=true", other]);
            assert!(of_kind(&objs, "Ingress").is_empty(), "{h}: {other}");
        }
        // Off by default.
        assert!(
            of_kind(&render(h, &chart, &[]), "Ingress").is_empty(),
            "{h}"
        );
        // Without NetworkPolicies, no controller policy.
        let objs = render(
            h,
            &chart,
            &["ingress.enabled=true", "networkPolicy.enabled=false"],
        );
        assert_eq!(of_kind(&objs, "Ingress").len(), 1, "{h}");
        assert!(of_kind(&objs, "NetworkPolicy").is_empty(), "{h}");

        // One value set names the controller: the renamed
        // `networkPolicy.ingressController.*` of an older values file
        // still win over `ingress.controller.*` here too, in the policies
        // and in the identity `verify` reads.
        let objs = by_id(&render(
            h,
            &chart,
            &[
                "ingress.enabled=true",
                "ingress.controller.namespace=edge",
                "ingress.controller.serviceAccount=edge-sa",
                "networkPolicy.ingressController.namespace=legacy",
                "networkPolicy.ingressController.podLabels.app=nginx",
            ],
        ));
        assert_eq!(
            objs["Ingress/evalhub-public"]["metadata"]["annotations"],
            json!({"meshpack.dev/gateway": "public", "meshpack.dev/ingress-controller": "legacy/edge-sa"}),
            "{h}"
        );
        assert_eq!(
            objs["NetworkPolicy/evalhub-frontend-from-ingress"]["spec"]["ingress"],
            json!([{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "legacy"}}, "podSelector": {"matchLabels": {"app": "nginx"}}}],
                "ports": [{"protocol": "TCP", "port": 3000}],
            }]),
            "{h}"
        );
    }
}

#[test]
fn kustomize_ingress_overlay_matches_the_chart() {
    let overlay = root().join("kustomize/evalhub/overlays/ingress");
    let k = by_id(&parse(&run(Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(&overlay))));
    let chart = by_id(&render(
        "helm4",
        &root().join("charts/evalhub"),
        &["ingress.enabled=true"],
    ));
    let kinds = |m: &std::collections::BTreeMap<String, Value>| -> BTreeSet<String> {
        m.keys()
            .filter(|id| id.starts_with("Ingress/") || id.ends_with("-from-ingress"))
            .cloned()
            .collect()
    };
    assert_eq!(kinds(&k), kinds(&chart));
    assert_eq!(
        k["Ingress/evalhub-public"]["spec"],
        chart["Ingress/evalhub-public"]["spec"]
    );
}

#[test]
fn verify_and_matrix_take_gateways_to_be_the_controller() {
    let chart = root().join("charts/evalhub");
    let policy = root().join("policies/evalhub.yaml");
    for h in HELMS {
        let mut c = Command::new(helm(h));
        c.args(["template", "evalhub"]).arg(&chart).args([
            "-n",
            "evalhub",
            "--set",
            "ingress.enabled=true",
        ]);
        let manifests = run(&mut c);
        let (code, out) = meshpack_stdin(
            &[
                "verify",
                "--policy",
                policy.to_str().unwrap(),
                "--namespace",
                "evalhub",
                "-",
            ],
            &manifests,
        );
        assert_eq!(code, 0, "{h}: {out}");
        assert!(out.starts_with("verified (NetworkPolicy): "), "{h}: {out}");
        let (code, out) = meshpack_stdin(&["matrix", "--namespace", "evalhub", "-"], &manifests);
        assert_eq!(code, 0, "{h}: {out}");
        let rows: Vec<&str> = out
            .split("\ningress-nginx/ingress-nginx\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{h}: no controller in\n{out}"))
            .lines()
            .take_while(|l| l.starts_with("  -> "))
            .collect();
        assert_eq!(
            rows,
            [
                "  -> api:8080 (http)",
                "  -> api:9090 (http-metrics)",
                "  -> frontend:3000 (http)",
                "  -> websocket:8081 (http)"
            ],
            "{h}"
        );
        // The same render without the controller's policies cuts the gateway off.
        let cut: String = manifests
            .split("\n---")
            .filter(|d| !d.contains("-from-ingress\""))
            .collect::<Vec<_>>()
            .join("\n---");
        let (code, out) = meshpack_stdin(
            &[
                "verify",
                "--policy",
                policy.to_str().unwrap(),
                "--namespace",
                "evalhub",
                "-",
            ],
            &cut,
        );
        assert_eq!(code, 1, "{h}: {out}");
        assert!(out.contains("ingress-nginx/ingress-nginx"), "{h}: {out}");
    }
}

/// A host's own route, an exact path and routes Ingress cannot carry: the
/// chart (Helm 3 and 4) and the Kustomize overlay render the same rules.
#[test]
fn chart_and_kustomize_render_the_same_rules() {
    let policy = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 1.0.0\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n    api: {image: 'r.example.com/api:1', ports: {http: 9000}}\n  gateways:\n    public:\n      hosts: [shop.example.com, api.example.com]\n      tls: {credentialName: shop-tls}\n      routes:\n        - {prefix: /, to: web}\n        - {exact: /healthz, to: api}\n        - {prefix: /v1, host: api.example.com, to: api}\n        - {prefix: /beta, headers: {x-beta: 'on'}, to: api}\n  allow:\n    - {from: gateway/public, to: [web, api]}\n";
    let dir = tempfile::tempdir().unwrap();
    let m = meshpack::compile_model(policy, None).unwrap();
    let out = meshpack::package(&m);
    let chart = dir.path().join("shop");
    let tree = dir.path().join("k");
    meshpack::package::write_dir(&chart, &out.chart, "test", false).unwrap();
    meshpack::package::write_dir(&tree, &out.kustomize, "test", false).unwrap();
    let k = by_id(&parse(&run(Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(tree.join("overlays/ingress")))));
    let spec = &k["Ingress/shop-public"]["spec"];
    let paths = |h: usize| -> Vec<&str> {
        spec["rules"][h]["http"]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path"].as_str().unwrap())
            .collect()
    };
    assert_eq!(spec["rules"][0]["host"], "shop.example.com");
    assert_eq!(paths(0), ["/healthz", "/"]);
    assert_eq!(spec["rules"][1]["host"], "api.example.com");
    assert_eq!(paths(1), ["/healthz", "/", "/v1"]);
    assert_eq!(
        spec["tls"],
        json!([{"hosts": ["shop.example.com", "api.example.com"], "secretName": "shop-tls"}])
    );
    for h in HELMS {
        let mut c = Command::new(helm(h));
        c.args(["template", "shop"])
            .arg(&chart)
            .args(["--set", "ingress.enabled=true"]);
        let objs = by_id(&parse(&run(&mut c)));
        assert_eq!(&objs["Ingress/shop-public"]["spec"], spec, "{h}");
        for np in [
            "NetworkPolicy/shop-api-from-ingress",
            "NetworkPolicy/shop-web-from-ingress",
        ] {
            assert_eq!(objs[np]["spec"], k[np]["spec"], "{h}: {np}");
        }
    }
}
