//! The Kustomize tree, built with the kubectl 1.34 `tests/tools.sh` fetches
//! (kustomize 5.7), and its equivalence with the chart.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The name of every policy in policies/ (= its chart and Kustomize dirs).
fn policy_names() -> Vec<String> {
    let mut names = vec![];
    for e in std::fs::read_dir(root().join("policies")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let m = meshpack::compile_model(&std::fs::read_to_string(&p).unwrap(), None).unwrap();
            if !attach_output(&m.name) {
                names.push(m.name);
            }
        }
    }
    names.sort();
    assert!(!names.is_empty());
    names
}

/// `kubectl kustomize DIR`; warnings on stderr fail the build too.
fn build(dir: &Path) -> Vec<Value> {
    let out = Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "kubectl kustomize {}:\n{err}",
        dir.display()
    );
    parse(&String::from_utf8(out.stdout).unwrap())
}

/// Objects by id, without the labels only Helm sets.
fn normalised(objs: Vec<Value>) -> BTreeMap<String, Value> {
    let mut objs = objs;
    for o in &mut objs {
        if let Some(l) = o["metadata"]
            .get_mut("labels")
            .and_then(Value::as_object_mut)
        {
            l.remove("helm.sh/chart");
            l.remove("app.kubernetes.io/managed-by");
        }
    }
    by_id(&objs)
}

fn assert_same(what: &str, helm: BTreeMap<String, Value>, kust: BTreeMap<String, Value>) {
    let mut diffs = vec![];
    for (k, h) in &helm {
        match kust.get(k) {
            None => diffs.push(format!("only in helm: {k}")),
            Some(x) if x != h => diffs.push(format!(
                "{k} differs:\n{}",
                similar::TextDiff::from_lines(
                    &serde_yaml::to_string(h).unwrap(),
                    &serde_yaml::to_string(x).unwrap()
                )
                .unified_diff()
                .header("helm template", "kubectl kustomize")
            )),
            _ => {}
        }
    }
    for k in kust.keys().filter(|k| !helm.contains_key(*k)) {
        diffs.push(format!("only in kustomize: {k}"));
    }
    assert!(diffs.is_empty(), "{what}:\n{}", diffs.join("\n"));
}

fn kdir(name: &str) -> PathBuf {
    root().join("kustomize").join(name)
}

#[test]
fn overlays_build_and_equal_the_chart() {
    for name in policy_names() {
        let chart = root().join("charts").join(&name);
        let plain = build(&kdir(&name).join("overlays/plain"));
        let istio = build(&kdir(&name).join("overlays/istio"));
        let gateway_api = build(&kdir(&name).join("overlays/istio-gateway-api"));
        for objs in [&plain, &istio, &gateway_api] {
            let upstream: Vec<Value> = objs
                .iter()
                .filter(|o| {
                    !NO_UPSTREAM_SCHEMA_GROUPS
                        .iter()
                        .any(|g| o["apiVersion"].as_str().unwrap_or("").starts_with(g))
                })
                .cloned()
                .collect();
            let errors = schema_errors(&upstream);
            assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
        }
        for h in HELMS {
            let helm_plain = parse(&template(h, &chart, &name, &[]));
            assert_same(
                &format!("{name} plain ({h})"),
                normalised(helm_plain),
                normalised(plain.clone()),
            );
            let mut args = istio_args(&[]);
            let helm_istio = parse(&template(h, &chart, &name, &args));
            assert_same(
                &format!("{name} istio ({h})"),
                normalised(helm_istio),
                normalised(istio.clone()),
            );
            args.extend(["--set", "gatewayApi.enabled=true"]);
            let helm_gateway_api = parse(&template(h, &chart, &name, &args));
            assert_same(
                &format!("{name} istio with Gateway API ({h})"),
                normalised(helm_gateway_api),
                normalised(gateway_api.clone()),
            );
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// A customer's own overlay in another namespace: principals and hosts
/// follow, nothing names the old namespace, and the result equals
/// `helm template -n customer-prod`.
#[test]
fn a_customer_overlay_moves_every_namespace_string() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("evalhub");
    copy_dir(&kdir("evalhub"), &tree);
    let overlay = tree.join("overlays/customer");
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::copy(
        tree.join("overlays/istio/namespace-replacements.yaml"),
        overlay.join("namespace-replacements.yaml"),
    )
    .unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: customer-prod\n\
         resources: [../../base]\n\
         components: [../../components/istio, ../../components/istio-gateway, ../../components/network-policy, ../../components/istio-network-policy, ../../components/istio-gateway-network-policy]\n\
         replacements:\n- path: namespace-replacements.yaml\n",
    )
    .unwrap();
    let objs = build(&overlay);
    let by = by_id(&objs);
    // Bare ServiceAccounts mean the policy's own namespace (Istio 1.25+),
    // Sidecars name the namespace's Services by `./`: nothing to rewrite.
    let accounts = &by["AuthorizationPolicy/evalhub-postgres"]["spec"]["rules"][0]["from"][0]
        ["source"]["serviceAccounts"];
    assert_eq!(
        accounts,
        &serde_json::json!(["evalhub-api", "evalhub-scheduler", "evalhub-taskrunner"])
    );
    assert_eq!(
        by["Sidecar/evalhub-frontend"]["spec"]["egress"][0]["hosts"],
        serde_json::json!(["istio-system/*", "./*.svc.cluster.local"])
    );
    // The gateway's identity and the TLS Secret stay in the gateway's namespace.
    assert_eq!(
        by["AuthorizationPolicy/evalhub-frontend"]["spec"]["rules"][0]["from"][0]["source"]
            ["serviceAccounts"][0],
        "istio-ingress/istio-ingressgateway"
    );
    assert_eq!(
        by["Certificate/evalhub-public"]["metadata"]["namespace"],
        "istio-ingress"
    );
    for o in &objs {
        if o["kind"] != "Certificate" {
            assert_eq!(o["metadata"]["namespace"], "customer-prod", "{}", id(o));
        }
        let mut all = vec![];
        strings(o, &mut all);
        for s in all {
            for old in ["evalhub", "default"] {
                assert!(
                    !s.contains(&format!("/ns/{old}/")) && !s.contains(&format!(".{old}.svc")),
                    "{} still names namespace {old}: {s}",
                    id(o)
                );
            }
        }
    }
    for h in HELMS {
        let args = istio_args(&[]);
        let helm = parse(&template(
            h,
            &root().join("charts/evalhub"),
            "customer-prod",
            &args,
        ));
        assert_same(
            &format!("customer-prod ({h})"),
            normalised(helm),
            normalised(objs.clone()),
        );
    }
}

#[test]
fn base_holds_nothing_of_the_mesh() {
    for name in policy_names() {
        for o in build(&kdir(&name).join("base")) {
            let api = o["apiVersion"].as_str().unwrap();
            assert!(
                !api.contains("istio.io") && !api.starts_with("cert-manager"),
                "{}",
                id(&o)
            );
            // Pods opt out of a namespace's injection and name their
            // canonical service; nothing else of Istio.
            let mut o = o.clone();
            if let Some(l) = o
                .pointer_mut("/spec/template/metadata/labels")
                .and_then(Value::as_object_mut)
            {
                assert_eq!(l.remove("sidecar.istio.io/inject"), Some("false".into()));
                assert_eq!(l.remove("istio.io/dataplane-mode"), Some("none".into()));
                assert!(l.remove("service.istio.io/canonical-name").is_some());
                assert!(l.remove("service.istio.io/canonical-revision").is_some());
            }
            assert!(
                !serde_json::to_string(&o).unwrap().contains("istio"),
                "{} mentions istio",
                id(&o)
            );
        }
    }
}

/// A kustomization file as JSON.
fn kustomization(dir: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap()).unwrap()
}

/// Every ready overlay of every policy renders what the composition it
/// stands for renders, compared as objects by id: `namespace: <release>`
/// over `../../base` and the overlay's Components (each overlay lists a
/// Component's `objects/` folder), then the overlay's
/// `namespace-replacements.yaml`. The ready overlay runs none of those
/// transformers (each costs kustomize a quadratic pass, BENCHMARKS.md):
/// no `namespace:`, `components:` or `replacements:`, no sort pass.
#[test]
fn every_overlay_renders_its_composition() {
    for name in policy_names() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join(&name);
        copy_dir(&kdir(&name), &tree);
        let mut overlays: Vec<String> = std::fs::read_dir(tree.join("overlays"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        overlays.sort();
        assert_eq!(
            overlays,
            ["ingress", "istio", "istio-gateway-api", "plain"],
            "{name}"
        );
        for overlay in overlays {
            let dir = tree.join("overlays").join(&overlay);
            let k = kustomization(&dir);
            let what = format!("{name} overlays/{overlay}");
            for field in ["namespace", "components", "replacements"] {
                assert!(k.get(field).is_none(), "{what} sets {field}: {k}");
            }
            assert_eq!(
                k["sortOptions"],
                serde_json::json!({"order": "fifo"}),
                "{what}"
            );
            let resources: Vec<&str> = k["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            assert_eq!(resources[0], "../../base", "{what}");
            let components: Vec<String> = resources[1..]
                .iter()
                .map(|r| {
                    let c = r
                        .strip_prefix("../../components/")
                        .and_then(|r| r.strip_suffix("/objects"))
                        .unwrap_or_else(|| panic!("{what}: {r} is not a Component's objects"));
                    format!("../../components/{c}")
                })
                .collect();
            let reference = tree.join("overlays").join(format!("reference-{overlay}"));
            std::fs::create_dir_all(&reference).unwrap();
            let mut composed = serde_json::json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": name,
                "resources": ["../../base"],
                "components": components,
            });
            let replacements = dir.join("namespace-replacements.yaml");
            if replacements.exists() {
                std::fs::copy(&replacements, reference.join("namespace-replacements.yaml"))
                    .unwrap();
                composed["replacements"] =
                    serde_json::json!([{"path": "namespace-replacements.yaml"}]);
            }
            std::fs::write(
                reference.join("kustomization.yaml"),
                serde_yaml::to_string(&composed).unwrap(),
            )
            .unwrap();
            let want = build(&reference);
            let got = build(&dir);
            for o in &got {
                assert!(o["metadata"]["namespace"].is_string(), "{what}: {}", id(o));
            }
            assert_same(&what, by_id(&want), by_id(&got));
        }
    }
}

/// docs/kustomize.md's way to choose a namespace: a customer overlay with
/// `namespace:` over a ready overlay, listing the copied
/// `namespace-replacements.yaml`, equals `helm template -n customer-prod`
/// for both Istio overlays (the Gateway API listener's namespace string
/// follows; the Certificate and the Gateway stay in the gateway's namespace).
#[test]
fn a_customer_overlay_over_a_ready_overlay_chooses_the_namespace() {
    for (overlay, sets) in [
        ("istio", vec![]),
        ("istio-gateway-api", vec!["gatewayApi.enabled=true"]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("evalhub");
        copy_dir(&kdir("evalhub"), &tree);
        let mine = tmp.path().join("my-overlay");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::copy(
            tree.join(format!("overlays/{overlay}/namespace-replacements.yaml")),
            mine.join("namespace-replacements.yaml"),
        )
        .unwrap();
        std::fs::write(
            mine.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
                 namespace: customer-prod\nresources: [../evalhub/overlays/{overlay}]\n\
                 replacements:\n- path: namespace-replacements.yaml\n"
            ),
        )
        .unwrap();
        let objs = build(&mine);
        let by = by_id(&objs);
        assert_eq!(
            by["Certificate/evalhub-public"]["metadata"]["namespace"],
            "istio-ingress"
        );
        if overlay == "istio-gateway-api" {
            let gw = &by["Gateway/evalhub-public"];
            assert_eq!(gw["metadata"]["namespace"], "istio-ingress");
            assert_eq!(
                gw["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["selector"]
                    ["matchLabels"]["kubernetes.io/metadata.name"],
                "customer-prod"
            );
        }
        for o in &objs {
            if !["Certificate", "Gateway"].contains(&o["kind"].as_str().unwrap())
                || (overlay == "istio" && o["kind"] == "Gateway")
            {
                assert_eq!(o["metadata"]["namespace"], "customer-prod", "{}", id(o));
            }
        }
        for h in HELMS {
            let args = istio_args(&sets);
            let helm = parse(&template(
                h,
                &root().join("charts/evalhub"),
                "customer-prod",
                &args,
            ));
            assert_same(
                &format!("customer-prod over overlays/{overlay} ({h})"),
                normalised(helm),
                normalised(objs.clone()),
            );
        }
    }
}

/// Write a tree (path -> bytes) under `dir`.
fn write_tree(dir: &Path, t: &meshpack::package::Tree) {
    for (p, b) in t {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    }
}

/// An overlay's `part-*` folders, in order.
fn part_dirs(overlay: &Path) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(overlay)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    parts.sort();
    assert!(!parts.is_empty(), "{}: no parts", overlay.display());
    for p in &parts {
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("part-"), "{}", p.display());
    }
    parts
}

/// A synthesized policy, its chart, and its Kustomize tree twice: forced
/// into parts (at most about 60 objects each) and as single overlays.
fn parted(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let text = meshpack::synthetic::policy(&meshpack::synthetic::Shape {
        services: 40,
        ..Default::default()
    });
    let m = meshpack::compile_model(&text, None).unwrap();
    assert_eq!(m.name, "bench");
    let chart = tmp.join("bench");
    write_tree(&chart, &meshpack::package::helm::chart(&m));
    let parts = tmp.join("parts/bench");
    write_tree(&parts, &meshpack::package::kustomize::tree_with(&m, 60));
    let single = tmp.join("single/bench");
    write_tree(
        &single,
        &meshpack::package::kustomize::tree_with(&m, usize::MAX),
    );
    (chart, parts, single)
}

/// Every overlay of a tree forced into parts: `kubectl kustomize` of each
/// part, together, equals the single overlay of the same policy object by
/// object, and `helm template` with the matching values.
#[test]
fn parts_together_equal_the_single_overlay_and_the_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let (chart, parts, single) = parted(tmp.path());
    for (overlay, istio, sets) in [
        ("plain", false, vec![]),
        ("ingress", false, vec!["--set", "ingress.enabled=true"]),
        ("istio", true, vec![]),
        ("istio-gateway-api", true, vec!["gatewayApi.enabled=true"]),
    ] {
        let dir = parts.join("overlays").join(overlay);
        let found = part_dirs(&dir);
        assert!(found.len() >= 4, "{overlay}: {found:?}");
        let mut union = vec![];
        for p in &found {
            let objs = build(p);
            assert!(!objs.is_empty(), "{}", p.display());
            union.extend(objs);
        }
        let what = format!("bench overlays/{overlay} in {} parts", found.len());
        // by_id fails on an object in two parts.
        let want = build(&single.join("overlays").join(overlay));
        assert_same(&what, by_id(&want), by_id(&union));
        // The overlay's own path still renders everything (every part, as
        // one build), so nothing that named it breaks.
        let aggregate = build(&dir);
        assert_same(
            &format!("{what}: the overlay folder itself"),
            by_id(&want),
            by_id(&aggregate),
        );
        for h in HELMS {
            let args: Vec<&str> = if istio {
                let sets: Vec<&'static str> = sets.clone();
                istio_args(&sets)
            } else {
                sets.clone()
            };
            let helm = parse(&template(h, &chart, "bench", &args));
            assert_same(
                &format!("{what} ({h})"),
                normalised(helm),
                normalised(union.clone()),
            );
        }
    }
}

/// The Istio overlays' parts list the base as the istio Component's
/// patches leave it, patched by meshpack instead of kustomize: for the
/// patches the default policy does not have (ambient's pod labels and
/// the waypoint labels of Services patched by name, a pinned proxy image's
/// pod annotation), each part renders exactly the single overlay's
/// objects of its services, in order, and all parts its objects.
#[test]
fn istio_parts_render_what_the_patches_render() {
    let text = meshpack::synthetic::policy(&meshpack::synthetic::Shape {
        services: 40,
        ..Default::default()
    });
    let pinned = text.replacen(
        "spec:\n",
        "spec:\n  mesh:\n    proxy: docker.io/istio/proxyv2:1.24.2\n",
        1,
    );
    for (what, policy, profile) in [
        ("ambient", &text, Some("ambient")),
        ("pinned proxy", &pinned, None),
    ] {
        let m = meshpack::compile_model(policy, profile).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let parts = tmp.path().join("parts/bench");
        write_tree(&parts, &meshpack::package::kustomize::tree_with(&m, 60));
        let single = tmp.path().join("single/bench");
        write_tree(
            &single,
            &meshpack::package::kustomize::tree_with(&m, usize::MAX),
        );
        for overlay in ["istio", "istio-gateway-api"] {
            let found = part_dirs(&parts.join("overlays").join(overlay));
            assert!(found.len() >= 4, "{what} {overlay}: {found:?}");
            let index = |d: &PathBuf| -> usize {
                let name = d.file_name().unwrap().to_str().unwrap();
                name.strip_prefix("part-").unwrap().parse().unwrap()
            };
            // A power of two; a part holding nothing has no folder.
            let n = found.iter().map(index).max().unwrap().next_power_of_two();
            let want = build(&single.join("overlays").join(overlay));
            let mut union = vec![];
            for p in &found {
                let got = build(p);
                let name = p.file_name().unwrap().to_str().unwrap();
                let k = index(p);
                let mine: Vec<&Value> = want
                    .iter()
                    .filter(|o| {
                        o["metadata"]["labels"]["app.kubernetes.io/component"]
                            .as_str()
                            .filter(|c| m.services.iter().any(|s| s.name == *c))
                            .map_or(1, |c| meshpack::package::kustomize_parts::of_service(c, n))
                            == k
                    })
                    .collect();
                let ids = |v: &[&Value]| v.iter().map(|o| id(o)).collect::<Vec<_>>();
                let got_refs: Vec<&Value> = got.iter().collect();
                let where_ = format!("{what}: overlays/{overlay}/{name}");
                assert_eq!(
                    ids(&got_refs),
                    ids(&mine),
                    "{where_}: objects or their order"
                );
                for (g, w) in got.iter().zip(&mine) {
                    assert_eq!(g, *w, "{where_}: {}", id(g));
                }
                union.extend(got);
            }
            assert_same(
                &format!("{what}: overlays/{overlay}, all parts"),
                by_id(&want),
                by_id(&union),
            );
        }
    }
}

/// Each part of every overlay, on its own: `kubectl kustomize` of the part
/// renders exactly the single overlay's objects of the services that hash
/// to it (and, in part 1, the release-wide ones), field by field and in
/// the same order. The single overlay is the layout of every tree under the
/// limit, so however the files of a tree in parts are laid out (one per
/// service, or one per layer and part), a part renders what it did.
#[test]
fn each_part_renders_the_single_overlays_objects_of_its_services_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, parts, single) = parted(tmp.path());
    let text = meshpack::synthetic::policy(&meshpack::synthetic::Shape {
        services: 40,
        ..Default::default()
    });
    let m = meshpack::compile_model(&text, None).unwrap();
    for overlay in ["plain", "ingress", "istio", "istio-gateway-api"] {
        let found = part_dirs(&parts.join("overlays").join(overlay));
        let index = |d: &PathBuf| -> usize {
            let name = d.file_name().unwrap().to_str().unwrap();
            name.strip_prefix("part-").unwrap().parse().unwrap()
        };
        // The part count is a power of two; a part holding nothing has no
        // folder.
        let n = found.iter().map(index).max().unwrap().next_power_of_two();
        assert!(n >= 4, "{overlay}: {found:?}");
        let mut want: Vec<Vec<Value>> = vec![vec![]; n];
        for o in build(&single.join("overlays").join(overlay)) {
            let k = o["metadata"]["labels"]["app.kubernetes.io/component"]
                .as_str()
                .filter(|c| m.services.iter().any(|s| s.name == *c))
                .map_or(1, |c| meshpack::package::kustomize_parts::of_service(c, n));
            want[k - 1].push(o);
        }
        for (k, wanted) in want.iter().enumerate() {
            let Some(dir) = found.iter().find(|&d| index(d) == k + 1) else {
                assert!(wanted.is_empty(), "{overlay}: no folder for part {}", k + 1);
                continue;
            };
            let got = build(dir);
            let what = format!("overlays/{overlay}/part-{:03}", k + 1);
            let ids = |v: &[Value]| v.iter().map(id).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(wanted), "{what}: objects or their order");
            for (g, w) in got.iter().zip(wanted) {
                assert_eq!(g, w, "{what}: {}", id(g));
            }
        }
    }
}

/// docs/kustomize.md's way to choose a namespace for a tree in parts: one
/// customer overlay per part with `namespace:` and that part's
/// `namespace-replacements.yaml`; together they equal `helm template -n
/// customer-prod` (the Gateway API Gateway stays in the gateway's
/// namespace and its listener names customer-prod).
#[test]
fn a_customer_overlay_per_part_chooses_the_namespace() {
    let tmp = tempfile::tempdir().unwrap();
    let (chart, parts, _) = parted(tmp.path());
    for (overlay, sets) in [
        ("istio", vec![]),
        ("istio-gateway-api", vec!["gatewayApi.enabled=true"]),
    ] {
        let mine = tmp.path().join(format!("my-{overlay}"));
        let mut union = vec![];
        let mut replaced = 0;
        for p in part_dirs(&parts.join("overlays").join(overlay)) {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let d = mine.join(&name);
            std::fs::create_dir_all(&d).unwrap();
            let mut k = format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
                 namespace: customer-prod\nresources: [../../parts/bench/overlays/{overlay}/{name}]\n"
            );
            let r = p.join("namespace-replacements.yaml");
            if r.exists() {
                std::fs::copy(&r, d.join("namespace-replacements.yaml")).unwrap();
                k.push_str("replacements:\n- path: namespace-replacements.yaml\n");
                replaced += 1;
            }
            std::fs::write(d.join("kustomization.yaml"), k).unwrap();
            union.extend(build(&d));
        }
        let by = by_id(&union);
        if overlay == "istio-gateway-api" {
            // The Gateway is pinned and its listener names the namespace.
            assert_eq!(replaced, 1, "{overlay}: parts with replacements");
            let gw = &by["Gateway/bench-public"];
            assert_eq!(gw["metadata"]["namespace"], "istio-ingress");
            assert_eq!(
                gw["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["selector"]
                    ["matchLabels"]["kubernetes.io/metadata.name"],
                "customer-prod"
            );
        }
        for h in HELMS {
            let helm = parse(&template(h, &chart, "customer-prod", &istio_args(&sets)));
            assert_same(
                &format!("customer-prod over bench overlays/{overlay} in parts ({h})"),
                normalised(helm),
                normalised(union.clone()),
            );
        }
    }
}
