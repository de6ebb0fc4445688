//! A large Kustomize tree in parts (compiler/src/package/kustomize_parts.rs),
//! without kubectl: every object in exactly one part, the part its service
//! hashes to, and adding a service changes one part. tests/kustomize.rs
//! builds the parts with kubectl and compares them with the chart.

use meshpack::package::kustomize::tree_with;
use meshpack::package::kustomize_parts as parts;
use meshpack::package::Tree;
use meshpack::synthetic::{policy, Shape};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn model(services: usize, profile: Option<&str>) -> meshpack::model::Model {
    let text = policy(&Shape {
        services,
        ..Shape::default()
    });
    meshpack::compile_model(&text, profile).unwrap()
}

fn docs(bytes: &[u8]) -> Vec<Value> {
    serde_yaml::Deserializer::from_slice(bytes)
        .filter_map(|d| {
            let v: Value = serde::Deserialize::deserialize(d).unwrap();
            (!v.is_null()).then_some(v)
        })
        .collect()
}

fn id(o: &Value) -> String {
    format!(
        "{}/{}",
        o["kind"].as_str().unwrap(),
        o["metadata"]["name"].as_str().unwrap()
    )
}

/// The layers of a tree: `base` and each `components/*/objects`.
fn layers(t: &Tree) -> BTreeSet<String> {
    t.keys()
        .filter(|p| p.starts_with("base/") || p.contains("/objects/"))
        .map(|p| match p.find("/objects/") {
            Some(i) => p[..i + "/objects".len()].to_string(),
            None => "base".to_string(),
        })
        .collect()
}

/// The part number in a path (`.../part-03/...` -> 3), if any.
fn part_in(path: &str) -> Option<usize> {
    path.split('/')
        .find_map(|s| s.strip_prefix("part-"))
        .map(|n| n.parse().unwrap())
}

/// A layer's objects, by id, with the part each was written in (0: the
/// layer's own folder, no part).
fn objects(t: &Tree, layer: &str) -> BTreeMap<String, (usize, Value)> {
    let mut out = BTreeMap::new();
    for (p, b) in t.range(format!("{layer}/")..) {
        if !p.starts_with(&format!("{layer}/")) {
            break;
        }
        let rest = &p[layer.len() + 1..];
        if rest.ends_with("kustomization.yaml") || rest.starts_with("patches/") {
            continue;
        }
        for o in docs(b) {
            let k = id(&o);
            let part = part_in(rest).unwrap_or(0);
            assert!(
                out.insert(k.clone(), (part, o)).is_none(),
                "{layer}: {k} twice"
            );
        }
    }
    out
}

fn resources(t: &Tree, path: &str) -> Vec<String> {
    let k: Value = serde_yaml::from_slice(&t[path]).unwrap();
    k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

/// The number of parts a tree needs at `max` objects per part, counted
/// from the single overlays of `whole` (a tree built without a limit).
fn n_parts(whole: &Tree, max: usize) -> usize {
    let largest = ["istio", "istio-gateway-api", "ingress", "plain"]
        .iter()
        .map(|o| {
            resources(whole, &format!("overlays/{o}/kustomization.yaml"))
                .iter()
                .map(|r| objects(whole, &r[6..]).len())
                .sum::<usize>()
        })
        .max()
        .unwrap();
    parts::count(largest, max)
}

#[test]
fn every_object_is_in_the_part_of_its_service() {
    let m = model(60, None);
    let whole = tree_with(&m, usize::MAX);
    let split = tree_with(&m, 80);
    assert!(!whole.keys().any(|p| p.contains("part-")));
    let n = n_parts(&whole, 80);
    assert!(n >= 8, "{n} parts");
    // The overlay's own kustomization now lists its parts (checked in
    // detail below), instead of the layers.
    assert_ne!(
        split["overlays/istio/kustomization.yaml"],
        whole["overlays/istio/kustomization.yaml"]
    );
    let services: BTreeSet<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(layers(&whole), layers(&split));
    for layer in layers(&whole) {
        let want = objects(&whole, &layer);
        let got = objects(&split, &layer);
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "{layer}"
        );
        for (k, (part, o)) in &got {
            assert_eq!(&want[k].1, o, "{layer}: {k} changed");
            let expected = match o["metadata"]["labels"]["app.kubernetes.io/component"].as_str() {
                Some(s) if services.contains(s) => parts::of_service(s, n),
                _ => 1,
            };
            assert_eq!(*part, expected, "{layer}: {k}");
        }
        // The layer lists every file; each part's kustomization its own.
        let listed = resources(&split, &format!("{layer}/kustomization.yaml"));
        let files: Vec<&String> = split
            .keys()
            .filter(|p| {
                p.starts_with(&format!("{layer}/part-")) && !p.ends_with("kustomization.yaml")
            })
            .collect();
        let mut sorted = listed.clone();
        sorted.sort();
        let mut on_disk: Vec<String> = files
            .iter()
            .map(|p| p[layer.len() + 1..].to_string())
            .collect();
        on_disk.sort();
        assert_eq!(sorted, on_disk, "{layer}");
        // One file per part, holding the part's objects in the order of
        // the single tree's files (one per service).
        for f in &on_disk {
            assert!(
                f.starts_with("part-")
                    && f.ends_with("/objects.yaml")
                    && f.matches('/').count() == 1,
                "{layer}/{f}"
            );
        }
        let order = |t: &Tree, k: usize| -> Vec<String> {
            t.range(format!("{layer}/")..)
                .take_while(|(p, _)| p.starts_with(&format!("{layer}/")))
                .filter(|(p, _)| !p.ends_with("kustomization.yaml") && !p.contains("/patches/"))
                .filter(|(p, _)| part_in(p) == Some(k))
                .flat_map(|(_, b)| docs(b))
                .map(|o| id(&o))
                .collect()
        };
        let listed_order: Vec<String> = resources(&whole, &format!("{layer}/kustomization.yaml"))
            .iter()
            .flat_map(|f| docs(&whole[&format!("{layer}/{f}")]))
            .map(|o| id(&o))
            .collect();
        for k in 1..=n {
            let mine: Vec<String> = listed_order
                .iter()
                .filter(|i| got[*i].0 == k)
                .cloned()
                .collect();
            assert_eq!(order(&split, k), mine, "{layer}: part {k}, order");
        }
        for k in 1..=n {
            let d = parts::dir(k, n);
            let path = format!("{layer}/{d}/kustomization.yaml");
            let mine: Vec<String> = listed
                .iter()
                .filter_map(|f| f.strip_prefix(&format!("{d}/")).map(str::to_string))
                .collect();
            match split.get(&path) {
                Some(_) => assert_eq!(resources(&split, &path), mine, "{path}"),
                None => assert!(
                    mine.is_empty(),
                    "{layer}: {d} has files but no kustomization"
                ),
            }
        }
    }
    // Each overlay part lists the layers' same-numbered parts, in the
    // single overlay's layer order; with the istio Component, the base's
    // as its patches leave it (checked below) and no patches.
    for overlay in ["istio", "istio-gateway-api", "ingress", "plain"] {
        let single = resources(&whole, &format!("overlays/{overlay}/kustomization.yaml"));
        let meshed = single.contains(&"../../components/istio/objects".to_string());
        assert_eq!(meshed, overlay.starts_with("istio"), "{overlay}");
        let mut seen = 0;
        for k in 1..=n {
            let d = parts::dir(k, n);
            let path = format!("overlays/{overlay}/{d}/kustomization.yaml");
            let Some(_) = split.get(&path) else { continue };
            seen += 1;
            let want: Vec<String> = single
                .iter()
                .map(|r| match r.as_str() {
                    "../../base" if meshed => format!("../../../components/istio/base/{d}"),
                    r => format!("../{r}/{d}"),
                })
                .filter(|r| split.contains_key(&format!("{}/kustomization.yaml", &r[9..])))
                .collect();
            assert_eq!(resources(&split, &path), want, "{path}");
            let k: Value = serde_yaml::from_slice(&split[&path]).unwrap();
            assert!(k.get("patches").is_none(), "{path}: {k}");
        }
        assert!(seen > n / 2, "{overlay}: {seen} parts");
        let readme =
            String::from_utf8(split[&format!("overlays/{overlay}/README.md")].clone()).unwrap();
        assert!(
            readme.contains(
                "for p in part-*/; do kubectl apply -k \"$p\" || { echo \"failed: $p\" >&2; break; }; done"
            ),
            "{readme}"
        );
        // The overlay's own folder lists every part it has, in order.
        let present: Vec<String> = (1..=n)
            .map(|k| parts::dir(k, n))
            .filter(|d| split.contains_key(&format!("overlays/{overlay}/{d}/kustomization.yaml")))
            .collect();
        assert_eq!(
            resources(&split, &format!("overlays/{overlay}/kustomization.yaml")),
            present,
            "{overlay}"
        );
    }
}

/// Tree paths whose bytes differ between two trees (or exist in one only).
fn changed(a: &Tree, b: &Tree) -> BTreeSet<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

#[test]
fn adding_a_service_changes_one_part() {
    let text = policy(&Shape {
        services: 60,
        ..Shape::default()
    });
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let first = doc["spec"]["services"]["svc-00000"].clone();
    assert!(!first.is_null(), "{text}");
    doc["spec"]["services"]["zz-added"] = first;
    let more = serde_yaml::to_string(&doc).unwrap();
    let before = tree_with(&meshpack::compile_model(&text, None).unwrap(), 80);
    let after = tree_with(&meshpack::compile_model(&more, None).unwrap(), 80);
    let whole = tree_with(&meshpack::compile_model(&text, None).unwrap(), usize::MAX);
    let n = n_parts(&whole, 80);
    assert!(n >= 8, "{n} parts");
    assert_eq!(
        n,
        n_parts(
            &tree_with(&meshpack::compile_model(&more, None).unwrap(), usize::MAX),
            80
        )
    );
    let k = parts::of_service("zz-added", n);
    let diff = changed(&before, &after);
    let touched: BTreeSet<Option<usize>> = diff.iter().map(|p| part_in(p)).collect();
    // The new service's part; outside parts only the layers' own lists of
    // all their files (what a customer composing layers reads) and the
    // optional mtls-permissive Component (its one patch names every
    // service).
    assert_eq!(touched, [None, Some(k)].into_iter().collect(), "{diff:#?}");
    for p in diff.iter().filter(|p| part_in(p).is_none()) {
        assert!(
            p == "base/kustomization.yaml"
                || (p.starts_with("components/") && p.ends_with("/objects/kustomization.yaml"))
                || p == "components/mtls-permissive/kustomization.yaml",
            "{p} changed"
        );
    }
    // The new service's objects are in its part's one file per layer.
    assert!(diff.contains(&format!("base/{}/objects.yaml", parts::dir(k, n))));
    assert!(!after.keys().any(|p| p.ends_with("/zz-added.yaml")));
}

/// The base's objects in `path` (a `part-K/objects.yaml`), in order.
fn part_objects(t: &Tree, path: &str) -> Vec<Value> {
    docs(&t[path])
}

/// `labels` with `changes` applied: a null removes the key.
fn with(labels: &Value, changes: &serde_json::Map<String, Value>) -> Value {
    let mut l = labels.as_object().cloned().unwrap_or_default();
    for (k, v) in changes {
        if v.is_null() {
            l.remove(k);
        } else {
            l.insert(k.clone(), v.clone());
        }
    }
    Value::Object(l)
}

/// A tree in parts writes the base a second time, as the istio
/// Component's patches leave it (`components/istio/base/part-K/`), for the
/// parts of the Istio overlays, which list it instead of the base and
/// carry no patches (a JSON patch costs kustomize a JSON round trip of
/// each workload). Checked field by field against the patches the single
/// overlay carries: ambient (the pod labels, and the waypoint labels of
/// the Services that patches name by id), and a pinned proxy image (an
/// annotation on every pod template).
#[test]
fn the_istio_parts_list_the_base_as_the_patches_leave_it() {
    let ambient = model(60, Some("ambient"));
    let pinned_text = policy(&Shape {
        services: 60,
        ..Shape::default()
    })
    .replacen(
        "spec:\n",
        "spec:\n  mesh:\n    proxy: docker.io/istio/proxyv2:1.24.2\n",
        1,
    );
    let pinned = meshpack::compile_model(&pinned_text, None).unwrap();
    for (what, m) in [("ambient", &ambient), ("pinned proxy", &pinned)] {
        let split = tree_with(m, 80);
        let whole = tree_with(m, usize::MAX);
        let n = n_parts(&whole, 80);
        let (labels, annotations) = meshpack::emit::workload::mesh_pod_metadata(m);
        assert!(!labels.is_empty(), "{what}");
        if what == "pinned proxy" {
            assert_eq!(
                annotations["sidecar.istio.io/proxyImage"], "docker.io/istio/proxyv2:1.24.2",
                "{what}: {annotations:?}"
            );
        }
        // The single overlay's waypoint patches: Service name -> labels.
        let single: Value =
            serde_yaml::from_slice(&whole["overlays/istio/kustomization.yaml"]).unwrap();
        let waypoints: BTreeMap<String, Value> = single["patches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p.get("target").is_none())
            .map(|p| {
                let body: Value = serde_yaml::from_str(p["patch"].as_str().unwrap()).unwrap();
                assert_eq!(body["kind"], "Service", "{what}: {body}");
                (
                    body["metadata"]["name"].as_str().unwrap().to_string(),
                    body["metadata"]["labels"].clone(),
                )
            })
            .collect();
        assert_eq!(waypoints.is_empty(), what != "ambient", "{what}");
        let (mut workloads, mut waypointed) = (0, 0);
        for k in 1..=n {
            let d = parts::dir(k, n);
            let Some(_) = split.get(&format!("base/{d}/objects.yaml")) else {
                assert!(!split.contains_key(&format!("components/istio/base/{d}/objects.yaml")));
                continue;
            };
            assert_eq!(
                resources(
                    &split,
                    &format!("components/istio/base/{d}/kustomization.yaml")
                ),
                ["objects.yaml"]
            );
            let base = part_objects(&split, &format!("base/{d}/objects.yaml"));
            let meshed = part_objects(&split, &format!("components/istio/base/{d}/objects.yaml"));
            assert_eq!(
                base.iter().map(id).collect::<Vec<_>>(),
                meshed.iter().map(id).collect::<Vec<_>>(),
                "{what}: {d}: the same objects in the same order"
            );
            for (b, got) in base.iter().zip(&meshed) {
                let mut want = b.clone();
                match b["kind"].as_str().unwrap() {
                    "Deployment" | "StatefulSet" => {
                        workloads += 1;
                        let meta = &mut want["spec"]["template"]["metadata"];
                        meta["labels"] = with(&meta["labels"], &labels);
                        if !annotations.is_empty() {
                            meta["annotations"] = with(&meta["annotations"], &annotations);
                        }
                        assert_ne!(&want, b, "{what}: {}", id(b));
                    }
                    "Service" => {
                        if let Some(l) = waypoints.get(b["metadata"]["name"].as_str().unwrap()) {
                            waypointed += 1;
                            want["metadata"]["labels"] =
                                with(&want["metadata"]["labels"], l.as_object().unwrap());
                            assert_ne!(&want, b, "{what}: {}", id(b));
                        }
                    }
                    _ => {}
                }
                assert_eq!(got, &want, "{what}: {d}: {}", id(b));
            }
        }
        assert_eq!(workloads, m.services.len(), "{what}");
        assert_eq!(waypointed, waypoints.len(), "{what}");
    }
}

/// The committed policies are far under the limit: no parts, and the same
/// bytes as a tree built with no limit at all.
#[test]
fn small_trees_have_no_parts() {
    for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let m = meshpack::compile_model(&std::fs::read_to_string(&p).unwrap(), None).unwrap();
        let t = meshpack::package::kustomize::tree(&m);
        assert!(!t.keys().any(|k| k.contains("part-")), "{}", p.display());
        assert!(t == tree_with(&m, usize::MAX), "{}", p.display());
    }
}
