//! Attach mode on Online Boutique (`../shared/apps/onlineboutique`, read in
//! place; changes go to temporary copies): the upstream chart with the
//! steps of docs/attach.md applied renders with Helm 3 and 4, Istio on and
//! off; the upstream manifests plus the generated Kustomize components
//! build; every rendering validates against ../shared/schemas and verifies
//! against policies/onlineboutique.yaml. The upstream chart's own
//! hand-written layer is verified against the same intent, and the
//! differences are the ones docs/onlineboutique.md reports.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const NS: &str = "shop";
const MESH: &str = "onlineboutique-mesh";

fn boutique() -> PathBuf {
    let p = root().join("../shared/apps/onlineboutique");
    assert!(
        p.is_dir(),
        "{} is missing: CI puts shared/ beside the project",
        p.display()
    );
    p
}

fn policy() -> PathBuf {
    root().join("policies/onlineboutique.yaml")
}

/// Upstream template file -> the policy services whose pods it renders, in order.
const WORKLOAD_FILES: [(&str, &[&str]); 11] = [
    ("adservice", &["adservice"]),
    ("cartservice", &["cartservice", "redis-cart"]),
    ("checkoutservice", &["checkoutservice"]),
    ("currencyservice", &["currencyservice"]),
    ("emailservice", &["emailservice"]),
    ("frontend", &["frontend"]),
    ("loadgenerator", &["loadgenerator"]),
    ("paymentservice", &["paymentservice"]),
    ("productcatalogservice", &["productcatalogservice"]),
    ("recommendationservice", &["recommendationservice"]),
    ("shippingservice", &["shippingservice"]),
];

/// The include line of docs/attach.md step 3, for one service.
fn include_line(service: &str) -> String {
    format!("        {{{{- include \"{MESH}.podLabels\" (dict \"ctx\" $ \"service\" \"{service}\") | nindent 8 }}}}")
}

/// The dependency of docs/attach.md step 2.
const DEPENDENCY: &str = "dependencies:\n  - name: onlineboutique-mesh\n    version: 0.10.6\n    repository: file://../onlineboutique-mesh\n";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            let mut perm = std::fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm).unwrap();
        }
    }
}

/// The walkthrough of docs/attach.md on a temporary copy of the upstream
/// chart: (1) the generated chart beside it, (2) the dependency in
/// Chart.yaml and `helm dependency update`, (3) one include line under each
/// pod template's labels.
fn vendor_chart() -> tempfile::TempDir {
    let doc = std::fs::read_to_string(root().join("docs/attach.md")).unwrap();
    assert!(
        doc.contains(DEPENDENCY),
        "docs/attach.md must show the dependency the test adds"
    );
    assert!(
        doc.contains(&include_line("frontend")),
        "docs/attach.md must show the include line the test adds"
    );
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("onlineboutique");
    copy_dir(&boutique().join("helm-chart"), &chart);
    copy_dir(&root().join("charts").join(MESH), &dir.path().join(MESH));
    let mut chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml")).unwrap();
    chart_yaml.push_str(DEPENDENCY);
    std::fs::write(chart.join("Chart.yaml"), chart_yaml).unwrap();
    run(Command::new(helm("helm4"))
        .args(["dependency", "update"])
        .arg(&chart));
    for (file, services) in WORKLOAD_FILES {
        let path = chart.join("templates").join(format!("{file}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        let mut pending = services.iter();
        let mut in_pod_labels = false;
        for line in text.lines() {
            out.push_str(line);
            out.push('\n');
            // The pod template's labels: `      labels:` under `template:`.
            if line == "      labels:" {
                in_pod_labels = true;
            } else if in_pod_labels && line.starts_with("        app: ") {
                let s = pending
                    .next()
                    .unwrap_or_else(|| panic!("{file}: more pod templates than services"));
                out.push_str(&include_line(s));
                out.push('\n');
                in_pod_labels = false;
            }
        }
        assert!(
            pending.next().is_none(),
            "{file}: a service's pod template was not found"
        );
        std::fs::write(&path, out).unwrap();
    }
    dir
}

fn render(h: &str, chart: &Path, istio: bool) -> String {
    render_with(h, chart, istio, &[])
}

/// `sets` are the mesh chart's values (prefixed with its name here).
fn render_with(h: &str, chart: &Path, istio: bool, sets: &[&str]) -> String {
    let mut c = Command::new(helm(h));
    c.args(["template", "ob"])
        .arg(chart)
        .args(["--namespace", NS]);
    if istio {
        c.args(["--set", &format!("{MESH}.istio.enabled=true")]);
        c.args(mesh_api_args());
    }
    for s in sets {
        c.args(["--set", &format!("{MESH}.{s}")]);
    }
    run(&mut c)
}

/// Gateway API instead of Istio's gateway objects, and the ambient data
/// plane, on the vendor's chart.
#[test]
fn vendor_chart_with_gateway_api_and_ambient() {
    let dir = vendor_chart();
    let chart = dir.path().join("onlineboutique");
    for h in HELMS {
        let rendered = render_with(h, &chart, true, &["gatewayApi.enabled=true"]);
        let objs = parse(&rendered);
        let route = objs
            .iter()
            .find(|o| o["kind"] == "HTTPRoute")
            .expect("an HTTPRoute");
        assert_eq!(
            route["spec"]["rules"][0]["backendRefs"][0]["name"],
            "frontend"
        );
        assert!(!objs
            .iter()
            .any(|o| o["kind"] == "Gateway" && o["apiVersion"] == "networking.istio.io/v1"));
        validate_clean(&format!("{h} gateway API"), &rendered);
        verify_exact(
            &format!("{h} gateway API"),
            &rendered,
            "Istio and NetworkPolicy",
        );

        let rendered = render_with(h, &chart, true, &["istio.dataplane=ambient"]);
        let objs = parse(&rendered);
        for (name, l) in pod_labels(&objs) {
            assert_eq!(
                l.get("istio.io/dataplane-mode").map(String::as_str),
                Some("ambient"),
                "{name}"
            );
            assert_ne!(
                l.get("sidecar.istio.io/inject").map(String::as_str),
                Some("true"),
                "{name}"
            );
        }
        validate_clean(&format!("{h} ambient"), &rendered);
        verify_exact(
            &format!("{h} ambient"),
            &rendered,
            "Istio ambient and NetworkPolicy",
        );
    }
}

/// The shipped policy is the imported draft plus the ingress gateway:
/// `meshpack diff` says exactly that.
#[test]
fn shipped_policy_is_the_import_plus_the_gateway() {
    let mut input = meshpack::import::Input::detect(&boutique().join("helm-chart"), vec![], vec![]);
    if let meshpack::import::Input::Chart { helm: h, .. } = &mut input {
        *h = helm("helm4");
    }
    let d = meshpack::import::import(&input, None).unwrap();
    let draft = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(draft.path(), &d.text).unwrap();
    let (code, out) = meshpack(&[
        "diff",
        draft.path().to_str().unwrap(),
        policy().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "edges:\n  + gateway/public -> frontend:http\ngateways:\n  + public hosts shop.example.com\n  + public route #1 prefix / -> frontend:80\n"
    );
}

/// The one finding of every rendering of Online Boutique (see `validate_clean`).
const ASSISTANT_FINDING: &str = "warning[M060] container server env SHOPPING_ASSISTANT_SERVICE_ADDR names `shoppingassistantservice:80`, but no Service `shoppingassistantservice` is in namespace shop: the application would call a host that does not exist";

fn validate_clean(what: &str, rendered: &str) {
    let crds = shared_schemas().join("istio/crd-all.gen.yaml");
    let (code, out) = meshpack_stdin(
        &["validate", "--crd", crds.to_str().unwrap(), "-"],
        rendered,
    );
    assert_eq!(code, 0, "{what}:\n{out}");
    let findings: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("Summary: "))
        .collect();
    // Online Boutique's frontend is configured for the optional shopping
    // assistant, which neither the chart (by default) nor the manifests
    // deploy: a true finding (M060), the one `meshpack import` reports too.
    let (assistant, other): (Vec<&str>, Vec<&str>) = findings
        .into_iter()
        .partition(|l| l.ends_with(ASSISTANT_FINDING));
    assert!(other.is_empty(), "{what}:\n{out}");
    assert_eq!(
        assistant.len(),
        1,
        "{what}: the shopping assistant address is reported once:\n{out}"
    );
    let errors = upstream_schema_errors(&parse(rendered));
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

fn verify_exact(what: &str, rendered: &str, layers: &str) {
    let (code, out) = meshpack_stdin(
        &[
            "verify",
            "--policy",
            policy().to_str().unwrap(),
            "--namespace",
            NS,
            "-",
        ],
        rendered,
    );
    assert_eq!(code, 0, "{what}:\n{out}");
    assert!(
        out.starts_with(&format!("verified ({layers}): ")),
        "{what}:\n{out}"
    );
}

/// Pod template labels of every Deployment, by name.
fn pod_labels(objs: &[Value]) -> BTreeMap<String, BTreeMap<String, String>> {
    objs.iter()
        .filter(|o| o["kind"] == "Deployment")
        .map(|o| {
            let labels = o["spec"]["template"]["metadata"]["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            (o["metadata"]["name"].as_str().unwrap().to_string(), labels)
        })
        .collect()
}

const SERVICES: [&str; 12] = [
    "adservice",
    "cartservice",
    "checkoutservice",
    "currencyservice",
    "emailservice",
    "frontend",
    "loadgenerator",
    "paymentservice",
    "productcatalogservice",
    "recommendationservice",
    "redis-cart",
    "shippingservice",
];

fn check_pod_labels(what: &str, objs: &[Value], istio: bool) {
    let labels = pod_labels(objs);
    assert_eq!(
        labels.keys().map(String::as_str).collect::<Vec<_>>(),
        SERVICES,
        "{what}"
    );
    for (name, l) in &labels {
        assert_eq!(
            l.get("app").map(String::as_str),
            Some(name.as_str()),
            "{what} {name}: the vendor's own label stays"
        );
        assert_eq!(
            l.get("meshpack.dev/mesh").map(String::as_str),
            Some(MESH),
            "{what} {name}"
        );
        let inject = l.get("sidecar.istio.io/inject").map(String::as_str);
        if istio {
            assert_eq!(inject, Some("true"), "{what} {name}");
        } else {
            assert_ne!(inject, Some("true"), "{what} {name}");
        }
    }
}

#[test]
fn vendor_chart_with_the_walkthrough_renders_validates_and_verifies() {
    let dir = vendor_chart();
    let chart = dir.path().join("onlineboutique");
    for h in HELMS {
        for istio in [false, true] {
            let what = format!("{h} istio={istio}");
            let rendered = render(h, &chart, istio);
            let objs = parse(&rendered);
            check_pod_labels(&what, &objs, istio);
            // The mesh objects exist only with Istio on; NetworkPolicies always.
            let kinds: Vec<&str> = objs.iter().filter_map(|o| o["kind"].as_str()).collect();
            assert_eq!(kinds.contains(&"AuthorizationPolicy"), istio, "{what}");
            assert!(kinds.contains(&"NetworkPolicy"), "{what}");
            validate_clean(&what, &rendered);
            verify_exact(
                &what,
                &rendered,
                if istio {
                    "Istio and NetworkPolicy"
                } else {
                    "NetworkPolicy"
                },
            );
        }
    }
}

/// An attach chart's schema accepts `services.<name>.istio.inject`, which
/// its `podLabels` template reads: the vendor chart installs with it in
/// both Helm versions, and only that service's pods change their
/// injection label, with the mesh on and off.
#[test]
fn attach_chart_takes_a_service_injection_override() {
    let dir = vendor_chart();
    let chart = dir.path().join("onlineboutique");
    for h in HELMS {
        for (istio, others) in [(true, Some("true")), (false, Some("false"))] {
            for (value, label) in [("false", Some("false")), ("namespace", None)] {
                let what = format!("{h} istio={istio} inject={value}");
                let set = format!("services.frontend.istio.inject={value}");
                let objs = parse(&render_with(h, &chart, istio, &[&set]));
                let labels = pod_labels(&objs);
                assert_eq!(
                    labels.keys().map(String::as_str).collect::<Vec<_>>(),
                    SERVICES,
                    "{what}"
                );
                for (name, l) in &labels {
                    let inject = l.get("sidecar.istio.io/inject").map(String::as_str);
                    let want = if name == "frontend" { label } else { others };
                    assert_eq!(inject, want, "{what} {name}");
                    assert_eq!(l.get("app"), Some(name), "{what} {name}");
                    assert_eq!(
                        l.get("meshpack.dev/mesh").map(String::as_str),
                        Some(MESH),
                        "{what} {name}"
                    );
                }
            }
        }
        // A value the schema refuses still fails the install, by name.
        let mut c = Command::new(helm(h));
        c.args(["template", "ob"])
            .arg(&chart)
            .args(["--namespace", NS])
            .args([
                "--set",
                &format!("{MESH}.services.frontend.istio.inject=maybe"),
            ]);
        let out = c.output().unwrap();
        assert!(!out.status.success(), "{h}: inject=maybe installed");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("inject"), "{h}: {err}");
    }
}

/// The principal of the vendor's ServiceAccount and its own Service name
/// are what the AuthorizationPolicy and Sidecar name.
#[test]
fn mesh_objects_name_the_vendors_identities_and_services() {
    let dir = vendor_chart();
    let objs = parse(&render("helm4", &dir.path().join("onlineboutique"), true));
    let ap = objs
        .iter()
        .find(|o| {
            o["kind"] == "AuthorizationPolicy"
                && o["metadata"]["name"] == "ob-onlineboutique-mesh-redis-cart"
        })
        .expect("redis-cart's AuthorizationPolicy");
    assert_eq!(
        ap["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app": "redis-cart"})
    );
    assert_eq!(ap["spec"]["action"], "ALLOW");
    // Istio 1.25+ (the default): the bare ServiceAccount, meaning the
    // policy's own namespace.
    assert_eq!(
        ap["spec"]["rules"],
        serde_json::json!([{ "from": [{ "source": { "serviceAccounts": ["cartservice"] } }],
                              "to": [{ "operation": { "ports": ["6379"] } }] }])
    );
    let sc = objs
        .iter()
        .find(|o| {
            o["kind"] == "Sidecar" && o["metadata"]["name"] == "ob-onlineboutique-mesh-cartservice"
        })
        .expect("cartservice's Sidecar");
    assert_eq!(
        sc["spec"]["workloadSelector"]["labels"],
        serde_json::json!({"app": "cartservice"})
    );
    assert_eq!(
        sc["spec"]["egress"][0]["hosts"],
        serde_json::json!(["istio-system/*", "./*.svc.cluster.local"])
    );
    // An older mesh: the vendor's principal and Service FQDN.
    let old = parse(&render_with(
        "helm4",
        &dir.path().join("onlineboutique"),
        true,
        &["istio.version=1.24"],
    ));
    let find = |kind: &str, name: &str| {
        old.iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{kind} {name}"))
    };
    let ap = find("AuthorizationPolicy", "ob-onlineboutique-mesh-redis-cart");
    assert_eq!(
        ap["spec"]["rules"][0]["from"],
        serde_json::json!([{ "source": { "principals": ["cluster.local/ns/shop/sa/cartservice"] } }])
    );
    let sc = find("Sidecar", "ob-onlineboutique-mesh-cartservice");
    assert_eq!(
        sc["spec"]["egress"][0]["hosts"],
        serde_json::json!(["istio-system/*", "./redis-cart.shop.svc.cluster.local"])
    );
    let dr = objs
        .iter()
        .find(|o| {
            o["kind"] == "DestinationRule"
                && o["metadata"]["name"] == "ob-onlineboutique-mesh-frontend"
        })
        .expect("frontend's DestinationRule");
    assert_eq!(dr["spec"]["host"], "frontend");
    let vs = objs
        .iter()
        .find(|o| {
            o["kind"] == "VirtualService"
                && o["metadata"]["name"] == "ob-onlineboutique-mesh-public"
        })
        .expect("the gateway's VirtualService");
    assert_eq!(
        vs["spec"]["http"][0]["route"][0]["destination"]["host"],
        "frontend"
    );
    // No workload, Service or ServiceAccount of meshpack's own.
    for o in &objs {
        let name = o["metadata"]["name"].as_str().unwrap();
        if ["Deployment", "Service", "ServiceAccount"].contains(&o["kind"].as_str().unwrap()) {
            assert!(
                !name.contains(MESH),
                "{}/{name} is the mesh layer's",
                o["kind"]
            );
        }
    }
}

/// A service the policy does not know fails the render and says why.
#[test]
fn include_of_an_unknown_service_fails_with_the_known_ones() {
    let dir = vendor_chart();
    let chart = dir.path().join("onlineboutique");
    let path = chart.join("templates/adservice.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"service\" \"adservice\"", "\"service\" \"adsvc\""),
    )
    .unwrap();
    let out = Command::new(helm("helm4"))
        .args(["template", "ob"])
        .arg(&chart)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("onlineboutique-mesh: \"adsvc\" is not a service of the policy; expected one of: adservice, cartservice"), "{err}");
}

/// `../a/b` from `from` to `to` (kustomize refuses absolute resource paths).
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to = to.canonicalize().unwrap();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut p = PathBuf::new();
    for _ in common..from.len() {
        p.push("..");
    }
    for c in &to[common..] {
        p.push(c);
    }
    p.display().to_string()
}

/// docs/attach.md's Kustomize walkthrough: upstream `kubernetes-manifests`
/// (plus `loadgenerator.yaml`, which its kustomization leaves out) with the
/// generated components and nothing else: no namespace replacements.
#[test]
fn upstream_manifests_with_the_components_build_validate_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().canonicalize().unwrap();
    let manifests = boutique().join("kubernetes-manifests");
    let generated = root().join("kustomize").join(MESH);
    let comp = |c: &str| {
        format!(
            "  - {}\n",
            relative(&k, &generated.join("components").join(c))
        )
    };
    let text = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {NS}\nresources:\n  - {}\n  - {}\ncomponents:\n{}{}{}{}{}",
        relative(&k, &manifests),
        relative(&k, &manifests.join("loadgenerator.yaml")),
        comp("istio"),
        comp("istio-gateway"),
        comp("network-policy"),
        comp("istio-network-policy"),
        comp("istio-gateway-network-policy"),
    );
    std::fs::write(k.join("kustomization.yaml"), &text).unwrap();
    let built = run(Command::new(tools().join("helm4/kubectl"))
        .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(&k));
    let objs = parse(&built);
    check_pod_labels("kustomize", &objs, true);
    // No replacements: the rules name bare ServiceAccounts, which Istio
    // reads in the policy's own namespace, wherever `namespace:` put it.
    let objs_by_id = by_id(&objs);
    let cart = &objs_by_id["AuthorizationPolicy/onlineboutique-mesh-cartservice"];
    assert_eq!(
        cart["spec"]["rules"][0]["from"][0]["source"]["serviceAccounts"],
        serde_json::json!(["checkoutservice", "frontend"]),
        "{cart}"
    );
    assert!(!built.contains("/ns/default/"), "{built}");
    validate_clean("kustomize", &built);
    verify_exact("kustomize", &built, "Istio and NetworkPolicy");

    // Without the mesh: the network-policy component alone.
    let plain = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {NS}\nresources:\n  - {}\n  - {}\ncomponents:\n{}{}",
        relative(&k, &manifests),
        relative(&k, &manifests.join("loadgenerator.yaml")),
        comp("network-policy"),
        comp("ingress-network-policy"),
    );
    std::fs::write(k.join("kustomization.yaml"), plain).unwrap();
    let built = run(Command::new(tools().join("helm4/kubectl"))
        .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(&k));
    check_pod_labels("kustomize plain", &parse(&built), false);
    validate_clean("kustomize plain", &built);
    verify_exact("kustomize plain", &built, "NetworkPolicy");
}

/// The differences between the intent and a rendering, without the probe
/// details (` for ...`).
fn differences(rendered: &str) -> Vec<String> {
    let (code, out) = meshpack_stdin(
        &[
            "verify",
            "--policy",
            policy().to_str().unwrap(),
            "--namespace",
            NS,
            "-",
        ],
        rendered,
    );
    assert_eq!(code, 1, "{out}");
    out.lines()
        .filter(|l| {
            l.starts_with("allowed but not intended: ")
                || l.starts_with("intended but not allowed: ")
        })
        .map(|l| l.split(" for ").next().unwrap().to_string())
        .collect()
}

/// The upstream chart's own layer (`authorizationPolicies.create`,
/// `networkPolicies.create`, `sidecars.create`), verified against the same
/// intent: what docs/onlineboutique.md reports, edge by edge.
#[test]
fn hand_written_layer_against_the_intent() {
    let chart = boutique().join("helm-chart");
    let rendered = run(Command::new(helm("helm4"))
        .args(["template", "ob"])
        .arg(&chart)
        .args(["--namespace", NS])
        .args([
            "--set",
            "authorizationPolicies.create=true",
            "--set",
            "networkPolicies.create=true",
            "--set",
            "sidecars.create=true",
        ]));
    // Upstream injects through the namespace label `istio-injection=enabled`,
    // which manifests do not show: label the pods as the webhook would see them.
    let mut objs = parse(&rendered);
    for o in &mut objs {
        if o["kind"] == "Deployment" {
            o["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "true".into();
        }
    }
    let injected: String = objs
        .iter()
        .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
        .collect();
    let others = [
        "adservice",
        "cartservice",
        "checkoutservice",
        "currencyservice",
        "emailservice",
        "frontend",
        "loadgenerator",
        "paymentservice",
        "productcatalogservice",
        "recommendationservice",
        "redis-cart",
        "shippingservice",
    ];
    let mut want: Vec<String> = vec![];
    // Blocked: every gRPC request but the named methods (POST), every HTTP
    // request to the frontend but GET and POST.
    for (from, to) in [
        ("checkoutservice", "cartservice:7070 (grpc)"),
        ("checkoutservice", "currencyservice:7000 (grpc)"),
        ("checkoutservice", "emailservice:8080 (grpc)"),
        ("checkoutservice", "paymentservice:50051 (grpc)"),
        ("checkoutservice", "productcatalogservice:3550 (grpc)"),
        ("checkoutservice", "shippingservice:50051 (grpc)"),
        ("frontend", "adservice:9555 (grpc)"),
        ("frontend", "cartservice:7070 (grpc)"),
        ("frontend", "checkoutservice:5050 (grpc)"),
        ("frontend", "currencyservice:7000 (grpc)"),
        ("frontend", "productcatalogservice:3550 (grpc)"),
        ("frontend", "recommendationservice:8080 (grpc)"),
        ("frontend", "shippingservice:50051 (grpc)"),
        ("loadgenerator", "frontend:8080 (http)"),
        ("recommendationservice", "productcatalogservice:3550 (grpc)"),
        ("istio-ingress/istio-ingressgateway", "frontend:8080 (http)"),
    ] {
        want.push(format!("intended but not allowed: {from} -> {to}"));
    }
    // Allowed: every workload (and any client, even without mTLS) to the
    // frontend, and every workload to any host outside the cluster.
    for from in others {
        if from != "loadgenerator" {
            want.push(format!(
                "allowed but not intended: {from} -> frontend:8080 (http)"
            ));
        }
        want.push(format!(
            "allowed but not intended: {from} -> meshpack-unlisted.example.org:443"
        ));
    }
    want.push("allowed but not intended: (any other workload) -> frontend:8080 (http)".into());
    want.push("allowed but not intended: (plaintext client) -> frontend:8080 (http)".into());
    let mut got = differences(&injected);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

const AMBIENT_POLICY: &str = r#"apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata:
  name: tiny-mesh
spec:
  version: 1.0.0
  profile: ambient
  services:
    api:
      attach: {selector: {app.kubernetes.io/name: api}, serviceAccount: api-sa}
      ports: {http: 8080}
    web:
      attach: {}
  allow:
    - {from: web, to: api, methods: [GET], paths: ["/v1/*"]}
"#;

/// A vendor chart of two workloads that includes the mesh chart's pod
/// labels and, on the Service, its service labels.
const TINY_CHART: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: api}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: api
        {{- include "tiny-mesh.podLabels" (dict "ctx" $ "service" "api") | nindent 8 }}
    spec:
      serviceAccountName: api-sa
      containers: [{name: api, image: "example.com/api:1.0", ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api-sa}
---
apiVersion: v1
kind: Service
metadata:
  name: api
  labels:
    app.kubernetes.io/name: api
    {{- include "tiny-mesh.serviceLabels" (dict "ctx" $ "service" "api") | nindent 4 }}
spec:
  selector: {app.kubernetes.io/name: api}
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels:
        app: web
        {{- include "tiny-mesh.podLabels" (dict "ctx" $ "service" "web") | nindent 8 }}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: "example.com/web:1.0"}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
"#;

/// Ambient with an L7 rule: the vendor's Service takes the waypoint label
/// through `serviceLabels` (Helm) or a patch by name (Kustomize).
#[test]
fn ambient_rules_send_the_vendors_service_through_the_waypoint() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tiny.yaml");
    std::fs::write(&policy, AMBIENT_POLICY).unwrap();
    let mesh = dir.path().join("tiny-mesh");
    let kust = dir.path().join("kustomize");
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        mesh.to_str().unwrap(),
        "--kustomize",
        kust.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let vendor = dir.path().join("vendor");
    std::fs::create_dir_all(vendor.join("templates")).unwrap();
    std::fs::write(
        vendor.join("Chart.yaml"),
        "apiVersion: v2\nname: vendor\nversion: 1.0.0\ndependencies:\n  - name: tiny-mesh\n    version: 1.0.0\n    repository: file://../tiny-mesh\n",
    )
    .unwrap();
    std::fs::write(vendor.join("templates/app.yaml"), TINY_CHART).unwrap();
    run(Command::new(helm("helm4"))
        .args(["dependency", "update"])
        .arg(&vendor));
    for h in HELMS {
        let rendered = run(Command::new(helm(h))
            .args(["template", "ob"])
            .arg(&vendor)
            .args(["--namespace", NS, "--set", "tiny-mesh.istio.enabled=true"])
            .args(mesh_api_args()));
        let objs = parse(&rendered);
        let waypoint = objs
            .iter()
            .find(|o| o["kind"] == "Gateway" && o["apiVersion"] == "gateway.networking.k8s.io/v1")
            .expect("the waypoint");
        let svc = objs
            .iter()
            .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "api")
            .unwrap();
        assert_eq!(
            svc["metadata"]["labels"]["istio.io/use-waypoint"], waypoint["metadata"]["name"],
            "{h}"
        );
        assert_eq!(svc["metadata"]["labels"]["app.kubernetes.io/name"], "api");
        for (name, l) in pod_labels(&objs) {
            assert_eq!(
                l.get("istio.io/dataplane-mode").map(String::as_str),
                Some("ambient"),
                "{h} {name}"
            );
        }
        let (code, out) = meshpack_stdin(
            &[
                "verify",
                "--policy",
                policy.to_str().unwrap(),
                "--namespace",
                NS,
                "-",
            ],
            &rendered,
        );
        assert_eq!(code, 0, "{h}:\n{out}");
        assert!(
            out.starts_with("verified (Istio ambient and NetworkPolicy): "),
            "{out}"
        );
    }
    let patch =
        std::fs::read_to_string(kust.join("components/istio/patches/waypoint-api.yaml")).unwrap();
    let patch: Value = serde_yaml::from_str(&patch).unwrap();
    assert_eq!(
        patch,
        serde_json::json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "api", "labels": {"istio.io/use-waypoint": "tiny-mesh-waypoint"}}})
    );
    let k: Value = serde_yaml::from_str(
        &std::fs::read_to_string(kust.join("components/istio/kustomization.yaml")).unwrap(),
    )
    .unwrap();
    assert!(
        k["patches"].as_array().unwrap().iter().any(|p| p
            == &serde_json::json!({
                "path": "patches/waypoint-api.yaml",
                "target": {"version": "v1", "kind": "Service", "name": "api"}
            })),
        "{k}"
    );
}

const KINDS_POLICY: &str = r#"apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata:
  name: kinds-mesh
spec:
  version: 1.0.0
  services:
    web:
      attach: {}
      ports: {http: 8080}
    db:
      attach: {workload: {kind: StatefulSet, name: postgres}, selector: {role: db}}
      ports: {tcp-postgres: 5432}
    agent:
      attach: {workload: {kind: DaemonSet}}
    migrate:
      attach: {workload: {kind: Job}}
    report:
      attach: {workload: {kind: CronJob}}
  allow:
    - {from: [web, migrate, report], to: db}
    - {from: agent, to: web}
"#;

const KINDS_MANIFESTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1"}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: postgres}
spec:
  serviceName: postgres
  selector: {matchLabels: {role: db}}
  template:
    metadata: {labels: {role: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "agent:1"}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    metadata: {labels: {app: migrate}}
    spec: {restartPolicy: Never, containers: [{name: migrate, image: "migrate:1"}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec: {restartPolicy: Never, containers: [{name: report, image: "report:1"}]}
"#;

/// The Kustomize components patch each kind of workload by kind and name
/// (a CronJob's pod template sits under `jobTemplate`).
#[test]
fn kustomize_patches_every_workload_kind_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("kinds.yaml");
    std::fs::write(&policy, KINDS_POLICY).unwrap();
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        dir.path().join("chart").to_str().unwrap(),
        "--kustomize",
        dir.path().join("k").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    std::fs::write(dir.path().join("app.yaml"), KINDS_MANIFESTS).unwrap();
    for (components, istio) in [
        ("[k/components/istio, k/components/network-policy]", true),
        ("[k/components/network-policy]", false),
    ] {
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            format!("resources: [app.yaml]\ncomponents: {components}\n"),
        )
        .unwrap();
        let built = run(Command::new(tools().join("helm4/kubectl"))
            .arg("kustomize")
            .arg(dir.path()));
        let objs = parse(&built);
        let mut seen = vec![];
        for o in objs
            .iter()
            .filter(|o| o["apiVersion"] == "apps/v1" || o["apiVersion"] == "batch/v1")
        {
            let pod = if o["kind"] == "CronJob" {
                &o["spec"]["jobTemplate"]["spec"]["template"]
            } else {
                &o["spec"]["template"]
            };
            let labels = &pod["metadata"]["labels"];
            let what = format!("{}/{} istio={istio}", o["kind"], o["metadata"]["name"]);
            assert_eq!(labels["meshpack.dev/mesh"], "kinds-mesh", "{what}");
            if istio {
                assert_eq!(labels["sidecar.istio.io/inject"], "true", "{what}");
                // The label decides; no annotation that could disagree.
                assert!(
                    pod["metadata"]["annotations"]
                        .get("sidecar.istio.io/inject")
                        .is_none(),
                    "{what}"
                );
            } else {
                assert!(labels.get("sidecar.istio.io/inject").is_none(), "{what}");
            }
            seen.push(what);
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
        // The NetworkPolicies select the vendor's pods by their own labels.
        let db_ingress = objs
            .iter()
            .find(|o| {
                o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "kinds-mesh-db-allow"
            })
            .expect("db's own policy");
        assert_eq!(
            db_ingress["spec"]["podSelector"]["matchLabels"],
            serde_json::json!({"role": "db"})
        );
    }
}
