//! Version-scoped allow rules on Istio's Bookinfo
//! (`tests/policies/good/bookinfo.yaml`): reviews v2 and v3 call ratings,
//! v1 does not. Rendered with Helm 3 and 4 (NetworkPolicies alone, Istio
//! with sidecars, Istio ambient, Gateway API) and as the Kustomize tree;
//! the ServiceAccounts, the AuthorizationPolicy principals and the
//! NetworkPolicy peers are asserted field by field, and `verify` proves
//! reviews v1 -> ratings denied and v2/v3 -> ratings allowed.

mod common;

use common::*;
use meshpack::verify::{self, Access, Dest, Source};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const NS: &str = "books";

fn policy() -> String {
    std::fs::read_to_string(root().join("tests/policies/good/bookinfo.yaml")).unwrap()
}

fn model() -> meshpack::model::Model {
    meshpack::compile_model(&policy(), None).expect("bookinfo compiles")
}

/// The chart and the Kustomize tree, written under `dir`.
fn outputs(dir: &Path) -> (PathBuf, PathBuf) {
    outputs_of(dir, &model())
}

fn outputs_of(dir: &Path, m: &meshpack::model::Model) -> (PathBuf, PathBuf) {
    let chart = dir.join("bookinfo");
    let tree = dir.join("kustomize");
    meshpack::package::write_dir(&chart, &meshpack::package::helm::chart(m), "test", false)
        .unwrap();
    meshpack::package::write_dir(&tree, &meshpack::package::kustomize::tree(m), "test", false)
        .unwrap();
    (chart, tree)
}

/// `helm template` with NetworkPolicies alone (`None`), or with Istio on
/// and these values.
fn render(h: &str, chart: &Path, istio: Option<&[&'static str]>) -> Vec<Value> {
    let args = istio.map(istio_args).unwrap_or_default();
    parse(&template(h, chart, NS, &args))
}

fn get<'a>(objs: &'a BTreeMap<String, Value>, id: &str) -> &'a Value {
    objs.get(id)
        .unwrap_or_else(|| panic!("{id} not rendered; have {:?}", objs.keys()))
}

fn selector(component: &str, version: Option<&str>) -> Value {
    let mut s = json!({
        "app.kubernetes.io/name": "bookinfo",
        "app.kubernetes.io/instance": "bookinfo",
        "app.kubernetes.io/component": component,
    });
    if let Some(v) = version {
        s["version"] = json!(v);
    }
    s
}

/// One ServiceAccount per reviews version, each Deployment running as its
/// own with its own env; no ServiceAccount for reviews as a whole.
fn assert_identities(what: &str, objs: &BTreeMap<String, Value>) {
    assert!(
        !objs.contains_key("ServiceAccount/bookinfo-reviews"),
        "{what}: reviews' versions run under their own ServiceAccounts"
    );
    for (v, env) in [
        ("v1", json!([{"name": "LOG_DIR", "value": "/tmp/logs"}])),
        (
            "v2",
            json!([
                {"name": "ENABLE_RATINGS", "value": "true"},
                {"name": "LOG_DIR", "value": "/tmp/logs"},
                {"name": "STAR_COLOR", "value": "black"},
            ]),
        ),
        (
            "v3",
            json!([
                {"name": "ENABLE_RATINGS", "value": "true"},
                {"name": "LOG_DIR", "value": "/tmp/logs"},
                {"name": "STAR_COLOR", "value": "red"},
            ]),
        ),
    ] {
        let sa = get(objs, &format!("ServiceAccount/bookinfo-reviews-{v}"));
        assert_eq!(sa["automountServiceAccountToken"], json!(false), "{what}");
        let labels = &sa["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/component"],
            json!("reviews"),
            "{what}"
        );
        assert_eq!(labels["version"], json!(v), "{what}");
        let d = get(objs, &format!("Deployment/bookinfo-reviews-{v}"));
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(
            pod["serviceAccountName"],
            json!(format!("bookinfo-reviews-{v}")),
            "{what}"
        );
        assert_eq!(
            d["spec"]["selector"]["matchLabels"],
            selector("reviews", Some(v)),
            "{what}"
        );
        assert_eq!(
            pod["containers"][0]["image"],
            json!(format!(
                "docker.io/istio/examples-bookinfo-reviews-{v}:1.20.3"
            )),
            "{what}"
        );
        assert_eq!(pod["containers"][0]["env"], env, "{what} {v}");
    }
    // Services without a version-scoped rule keep one ServiceAccount.
    for s in ["productpage", "details", "ratings"] {
        let d = get(objs, &format!("Deployment/bookinfo-{s}"));
        assert_eq!(
            d["spec"]["template"]["spec"]["serviceAccountName"],
            json!(format!("bookinfo-{s}")),
            "{what}"
        );
        get(objs, &format!("ServiceAccount/bookinfo-{s}"));
    }
}

/// ratings admits reviews v2 and v3 from their own pods only.
fn assert_network_policies(what: &str, objs: &BTreeMap<String, Value>) {
    let np = &get(objs, "NetworkPolicy/bookinfo-ratings-allow")["spec"];
    assert_eq!(
        np["podSelector"]["matchLabels"],
        selector("ratings", None),
        "{what}"
    );
    assert_eq!(
        np["ingress"],
        json!([{
            "from": [
                {"podSelector": {"matchLabels": selector("reviews", Some("v2"))}},
                {"podSelector": {"matchLabels": selector("reviews", Some("v3"))}},
            ],
            "ports": [{"protocol": "TCP", "port": 9080}],
        }]),
        "{what}"
    );
    // A rule from productpage to every version of reviews: no version label.
    let np = &get(objs, "NetworkPolicy/bookinfo-reviews-allow")["spec"];
    assert_eq!(
        np["ingress"],
        json!([{
            "from": [{"podSelector": {"matchLabels": selector("productpage", None)}}],
            "ports": [{"protocol": "TCP", "port": 9080}],
        }]),
        "{what}"
    );
}

/// The rule of ratings' AuthorizationPolicy (sidecars) names the two
/// versions' identities, in the form the Istio version takes.
fn ratings_rule(from: Value) -> Value {
    json!([{
        "to": [{"operation": {"ports": ["9080"], "methods": ["GET"]}}],
        "from": from,
    }])
}

fn accounts() -> Value {
    json!([{"source": {"serviceAccounts": ["bookinfo-reviews-v2", "bookinfo-reviews-v3"]}}])
}

fn principals() -> Value {
    json!([{"source": {"principals": [
        format!("cluster.local/ns/{NS}/sa/bookinfo-reviews-v2"),
        format!("cluster.local/ns/{NS}/sa/bookinfo-reviews-v3"),
    ]}}])
}

/// `verify` in process: no difference, and the cells that matter.
fn assert_verified(what: &str, objs: Vec<Value>) {
    assert_verified_against(what, &model(), objs)
}

fn assert_verified_against(what: &str, m: &meshpack::model::Model, objs: Vec<Value>) {
    let set = rendered(objs);
    let c = verify::intent::compare(m, &set, &verify::intent::GatewayIdentity::default());
    assert!(c.missing.is_empty(), "{what}: missing {:?}", c.missing);
    let diffs: Vec<String> = c.differences.iter().map(|d| d.to_string()).collect();
    assert!(diffs.is_empty(), "{what}:\n{}", diffs.join("\n"));
    let ratings = Dest::Port {
        workload: "ratings".into(),
        port: 9080,
        name: "http".into(),
    };
    let cell = |src: &str| {
        c.actual
            .get(&(Source::Workload(src.into()), ratings.clone()))
            .unwrap_or_else(|| panic!("{what}: no cell {src} -> ratings"))
            .clone()
    };
    assert_eq!(cell("reviews@v1"), Access::Denied, "{what}");
    for v in ["reviews@v2", "reviews@v3"] {
        assert_ne!(cell(v), Access::Denied, "{what}: {v}");
        assert_eq!(
            c.intended[&(Source::Workload(v.into()), ratings.clone())],
            cell(v),
            "{what}: {v}"
        );
    }
    // The whole service is no source of its own once its versions are.
    assert!(
        !c.actual
            .contains_key(&(Source::Workload("reviews".into()), ratings.clone())),
        "{what}"
    );
}

fn rendered(objs: Vec<Value>) -> verify::Rendered {
    rendered_set(objs, NS)
}

#[test]
fn bookinfo_scopes_ratings_to_reviews_v2_and_v3() {
    let tmp = tempfile::tempdir().unwrap();
    let (chart, tree) = outputs(tmp.path());
    for h in HELMS {
        // NetworkPolicies alone.
        let objs = render(h, &chart, None);
        let by = by_id(&objs);
        assert_identities(&format!("{h} plain"), &by);
        assert_network_policies(&format!("{h} plain"), &by);
        assert_verified(&format!("{h} plain"), objs);

        // Istio with sidecars, 1.25+ (serviceAccounts) and before (principals).
        for (sets, from) in [
            (vec![], accounts()),
            (vec!["istio.version=1.24.3"], principals()),
        ] {
            let what = format!("{h} istio {sets:?}");
            let objs = render(h, &chart, Some(&sets));
            let by = by_id(&objs);
            assert_identities(&what, &by);
            assert_network_policies(&what, &by);
            let ap = &get(&by, "AuthorizationPolicy/bookinfo-ratings")["spec"];
            assert_eq!(
                ap["selector"]["matchLabels"],
                selector("ratings", None),
                "{what}"
            );
            assert_eq!(ap["action"], json!("ALLOW"), "{what}");
            assert_eq!(ap["rules"], ratings_rule(from), "{what}");
            // productpage -> reviews admits productpage's one identity.
            let ap = &get(&by, "AuthorizationPolicy/bookinfo-reviews")["spec"];
            assert_eq!(
                ap["rules"][0]["from"][0]["source"]
                    .as_object()
                    .unwrap()
                    .len(),
                1
            );
            let ids = &ap["rules"][0]["from"][0]["source"];
            assert!(
                ids == &json!({"serviceAccounts": ["bookinfo-productpage"]})
                    || ids
                        == &json!({"principals": [format!("cluster.local/ns/{NS}/sa/bookinfo-productpage")]}),
                "{what}: {ids}"
            );
            assert_verified(&what, objs);
        }

        // Ambient: the waypoint's policy on ratings' Service names the same
        // identities (ztunnel sees the same ServiceAccounts).
        let what = format!("{h} ambient");
        let objs = render(h, &chart, Some(&["istio.dataplane=ambient"]));
        let by = by_id(&objs);
        assert_identities(&what, &by);
        let ap = &get(&by, "AuthorizationPolicy/bookinfo-ratings-waypoint")["spec"];
        assert_eq!(ap["rules"], ratings_rule(accounts()), "{what}");
        assert_verified(&what, objs);

        // Gateway API in front: nothing of the versions changes.
        let what = format!("{h} gateway api");
        let objs = render(h, &chart, Some(&["gatewayApi.enabled=true"]));
        assert_identities(&what, &by_id(&objs));
        assert_verified(&what, objs);

        // The connectivity probes of `helm test`: one per reviews version,
        // as that version.
        let objs = render(h, &chart, Some(&["tests.enabled=true"]));
        let by = by_id(&objs);
        for v in ["v1", "v2", "v3"] {
            let pod = get(&by, &format!("Pod/bookinfo-probe-reviews-{v}"));
            assert_eq!(
                pod["spec"]["serviceAccountName"],
                json!(format!("bookinfo-reviews-{v}"))
            );
            assert_eq!(pod["metadata"]["labels"]["version"], json!(v));
            // `sh -c SCRIPT`: the version is the row's source, ratings
            // allowed to v2 and v3 and probed as forbidden for v1.
            let script = pod["spec"]["containers"][0]["command"][2].as_str().unwrap();
            let want = if v == "v1" { "deny" } else { "allow" };
            assert!(
                script.contains(&format!("\nSOURCE='reviews@{v}'\n")),
                "{h} {v}"
            );
            assert!(
                script.contains(&format!(
                    "\ncheck {want} http 'ratings' 9080 'GET' '/' 'ratings:9080 (http)'\n"
                )),
                "{h} probe {v}:\n{script}"
            );
        }
        assert!(!by.contains_key("Pod/bookinfo-probe-reviews"));
    }
    // The Kustomize tree: the same objects.
    for overlay in ["plain", "istio", "istio-gateway-api"] {
        let out = std::process::Command::new(tools().join("helm4/kubectl"))
            .arg("kustomize")
            .arg(tree.join("overlays").join(overlay))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let objs = parse(&String::from_utf8(out.stdout).unwrap());
        let by = by_id(&objs);
        let what = format!("kustomize {overlay}");
        assert_identities(&what, &by);
        assert_network_policies(&what, &by);
        if overlay != "plain" {
            let ap = &get(&by, "AuthorizationPolicy/bookinfo-ratings")["spec"];
            assert_eq!(ap["rules"], ratings_rule(accounts()), "{what}");
        }
        assert_verified(&what, objs);
    }
}

/// The evaluator reads the manifests: a chart that let v1 reach ratings
/// (its identity in the AuthorizationPolicy, its pods in the
/// NetworkPolicy) is caught, as an edge the policy does not intend.
#[test]
fn verify_catches_reviews_v1_reaching_ratings() {
    let tmp = tempfile::tempdir().unwrap();
    let (chart, _) = outputs(tmp.path());
    let mut objs = render("helm4", &chart, Some(&["istio.version=1.24.3"]));
    for o in &mut objs {
        match id(o).as_str() {
            "AuthorizationPolicy/bookinfo-ratings" => {
                o["spec"]["rules"][0]["from"][0]["source"]["principals"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(format!(
                        "cluster.local/ns/{NS}/sa/bookinfo-reviews-v1"
                    )));
            }
            "NetworkPolicy/bookinfo-ratings-allow" => {
                o["spec"]["ingress"][0]["from"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"podSelector": {"matchLabels": selector("reviews", Some("v1"))}}));
            }
            _ => {}
        }
    }
    let set = rendered(objs);
    let c = verify::intent::compare(&model(), &set, &verify::intent::GatewayIdentity::default());
    let diffs: Vec<String> = c.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        diffs,
        ["allowed but not intended: reviews@v1 -> ratings:9080 (http) for GET /, GET (any other path)"],
    );
    // Only one of the two layers opened: the other still denies, and the
    // layer on its own is reported.
    let set_matrix = verify::output::matrix_of_set(&set);
    let ratings = Dest::Port {
        workload: "ratings".into(),
        port: 9080,
        name: "http".into(),
    };
    assert_ne!(
        set_matrix[&(Source::Workload("reviews@v1".into()), ratings)],
        Access::Denied
    );
}

/// A version the policy checks apart that the manifests do not deploy is
/// reported missing, not skipped.
#[test]
fn a_missing_version_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (chart, _) = outputs(tmp.path());
    let objs: Vec<Value> = render("helm4", &chart, None)
        .into_iter()
        .filter(|o| id(o) != "Deployment/bookinfo-reviews-v3")
        .collect();
    let c = verify::intent::compare(
        &model(),
        &rendered(objs),
        &verify::intent::GatewayIdentity::default(),
    );
    assert_eq!(c.missing, ["reviews@v3"]);
}

/// `spec.serviceNames: release` renames the Services, not the
/// ServiceAccounts: those are `<release>-<service>[-<version>]` under
/// either choice, as the Deployments are.
#[test]
fn release_service_names_keep_the_version_identities() {
    let text = policy().replace(
        "  version: 1.20.3\n",
        "  version: 1.20.3\n  serviceNames: release\n",
    );
    assert!(text.contains("serviceNames: release"));
    let m = meshpack::compile_model(&text, None).expect("compiles");
    let tmp = tempfile::tempdir().unwrap();
    let (chart, _) = outputs_of(tmp.path(), &m);
    for h in HELMS {
        let objs = render(h, &chart, Some(&[]));
        let by = by_id(&objs);
        get(&by, "Service/bookinfo-reviews");
        assert!(!by.contains_key("Service/reviews"), "{h}");
        assert_identities(h, &by);
        assert_network_policies(h, &by);
        let ap = &get(&by, "AuthorizationPolicy/bookinfo-ratings")["spec"];
        assert_eq!(ap["rules"], ratings_rule(accounts()), "{h}");
        assert_verified_against(h, &m, objs);
    }
}
