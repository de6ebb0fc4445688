//! The grouped template layout of large releases (`package::helm_groups`)
//! renders exactly the objects of the one-file-per-service layout: one
//! synthesized policy of 120 services compiled both ways (the threshold
//! forced down through `helm::chart_with`), rendered by Helm 3 and Helm 4
//! with the mesh off, with Istio sidecars, with Istio before 1.25
//! (principals instead of service accounts), in ambient mode and with
//! namespace-wide mTLS, and compared object by object.

mod common;

use common::*;
use meshpack::package::helm_groups::Layout;
use meshpack::package::{helm, write_dir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const NS: &str = "layout";

fn rendered(h: &str, chart: &Path, sets: Option<&[&'static str]>) -> BTreeMap<String, Value> {
    let args = sets.map(istio_args).unwrap_or_default();
    by_id(&parse(&template(h, chart, NS, &args)))
}

#[test]
fn grouped_and_per_service_layouts_render_the_same_objects() {
    let policy = meshpack::synthetic::policy(&meshpack::synthetic::Shape {
        services: 120,
        ..Default::default()
    });
    let m = meshpack::compile_model(&policy, None).expect("the synthetic policy compiles");
    let tmp = tempfile::tempdir().unwrap();
    // Both released as `bench`, the policy's name.
    let per_service = tmp.path().join("one/bench");
    let grouped = tmp.path().join("two/bench");
    let mixed = tmp.path().join("three/bench");
    let unranged = tmp.path().join("four/bench");
    let one = helm::chart_with(
        &m,
        &Layout {
            group_above: usize::MAX,
            ..Layout::default()
        },
    );
    let two = helm::chart_with(
        &m,
        &Layout {
            group_above: 100,
            ..Layout::default()
        },
    );
    // Between the smallest and the largest bucket of `two`: some buckets
    // are written whole, the others as one file per service.
    let buckets: Vec<usize> = two
        .iter()
        .filter(|(p, _)| p.contains("/bucket-"))
        .map(|(_, b)| b.len())
        .collect();
    let (small, large) = (buckets.iter().min().unwrap(), buckets.iter().max().unwrap());
    assert!(small < large, "{buckets:?}");
    let three = helm::chart_with(
        &m,
        &Layout {
            group_above: 100,
            max_group_bytes: (small + large) / 2,
            ranges: true,
        },
    );
    // Objects of one shape one by one instead of once in a range.
    let four = helm::chart_with(
        &m,
        &Layout {
            group_above: 100,
            ranges: false,
            ..Layout::default()
        },
    );
    assert!(two
        .values()
        .any(|t| String::from_utf8_lossy(t).contains("{{- range $s := list ")));
    assert!(!four
        .values()
        .any(|t| String::from_utf8_lossy(t).contains("{{- range $s := list ")));
    let fell_back = |t: &meshpack::package::Tree| {
        t.keys()
            .filter(|p| !p.contains("/bucket-") && p.contains("svc-"))
            .count()
    };
    assert!(three.keys().any(|p| p.contains("/bucket-")));
    assert!(fell_back(&three) > 0 && fell_back(&two) == 0);
    assert!(one.contains_key("templates/svc-00007.yaml"));
    assert!(!one.keys().any(|p| p.contains("/bucket-")));
    assert!(two.contains_key("templates/istio/services/bucket-0001.yaml"));
    assert!(!two.contains_key("templates/svc-00007.yaml"));
    write_dir(&per_service, &one, "test", false).unwrap();
    write_dir(&grouped, &two, "test", false).unwrap();
    write_dir(&mixed, &three, "test", false).unwrap();
    write_dir(&unranged, &four, "test", false).unwrap();

    // Namespace-wide mTLS turns off every PeerAuthentication of a bucket,
    // which share one guard there.
    let cases: [(&str, Option<&[&'static str]>); 6] = [
        ("mesh off", None),
        ("istio sidecars", Some(&[])),
        ("istio 1.24", Some(&["istio.version=1.24"])),
        ("istio ambient", Some(&["istio.dataplane=ambient"])),
        ("istio namespace-wide", Some(&["istio.namespaceWide=true"])),
        // Guards and pieces that read one service's values.
        (
            "per-service values",
            Some(&[
                "services.svc-00006.replicas=3",
                "services.svc-00007.resources.limits.cpu=2",
            ]),
        ),
    ];
    for h in HELMS {
        for (what, sets) in cases {
            // Ranges change the templates, not one byte of what they render.
            let args = sets.map(istio_args).unwrap_or_default();
            assert_eq!(
                template(h, &grouped, NS, &args),
                template(h, &unranged, NS, &args),
                "{h} {what}: ranged and unranged"
            );
            let want = rendered(h, &per_service, sets);
            for (layout, chart) in [("grouped", &grouped), ("mixed", &mixed)] {
                let got = rendered(h, chart, sets);
                assert_same_objects(&got, &want, &format!("{h} {what} {layout}"));
            }
            // The renders hold what the layouts group: every service's
            // Deployment or StatefulSet, and with Istio its DestinationRule.
            for s in &m.services {
                let name = format!("bench-{}", s.name);
                assert!(
                    want.contains_key(&format!("Deployment/{name}"))
                        || want.contains_key(&format!("StatefulSet/{name}")),
                    "{h} {what}: {name}"
                );
                if sets.is_some() {
                    assert!(
                        want.contains_key(&format!("DestinationRule/{name}")),
                        "{h} {what}: {name}"
                    );
                }
            }
        }
    }
}

/// Names a range must not confuse: Go keywords, the range's own variable,
/// names that are prefixes of others, names inside longer strings, a brace
/// right before a name; with replicas, StatefulSets, versions, per-service
/// mTLS and egress. Grouped from three services up, rendered with and
/// without ranges: the text is the same, byte for byte.
#[test]
fn ranges_render_the_same_text_for_uneven_names() {
    let names = [
        "if", "end", "s", "list", "with", "api", "api-v1", "svc-1", "svc-10", "svc-11", "a", "b",
    ];
    let mut policy = String::from(
        "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata:\n  name: uneven\nspec:\n  version: 1.0.0\n  services:\n",
    );
    for (i, n) in names.iter().enumerate() {
        policy.push_str(&format!(
            "    {n}:\n      image: registry.example.com/x/{n}:1.0.0\n      ports:\n        http: 8080\n"
        ));
        if i % 3 == 0 {
            policy.push_str(&format!(
                "      env:\n        SELF: http://{n}:8080/{n}/x\n        QUOTED: '\"{n}\"'\n        BRACE: '{{{n}}}'\n"
            ));
        }
        if i % 4 == 1 {
            policy.push_str("      replicas: 2\n");
        }
        if i == 2 || i == 5 {
            policy.push_str("      workload: StatefulSet\n      storage: 1Gi\n");
        }
        if i == 7 {
            policy.push_str("      mtls: PERMISSIVE\n");
        }
        if i == 8 {
            policy.push_str("      versions:\n        v1: {}\n        v2: {replicas: 2}\n      traffic:\n        split: {v1: 80, v2: 20}\n");
        }
    }
    policy.push_str("  allow:\n");
    for w in names.windows(2) {
        policy.push_str(&format!("  - {{from: {}, to: {}}}\n", w[0], w[1]));
    }
    policy.push_str(
        "  egress:\n  - host: api.example.com\n    port: 443\n    from: [if, svc-1, a]\n",
    );
    let m = meshpack::compile_model(&policy, None).expect("the policy compiles");
    let tmp = tempfile::tempdir().unwrap();
    let layout = |ranges| Layout {
        group_above: 2,
        ranges,
        ..Layout::default()
    };
    let ranged = helm::chart_with(&m, &layout(true));
    let single = helm::chart_with(&m, &layout(false));
    assert!(ranged
        .values()
        .any(|t| String::from_utf8_lossy(t).contains("{{- range $s := list ")));
    write_dir(&tmp.path().join("r/uneven"), &ranged, "test", false).unwrap();
    write_dir(&tmp.path().join("s/uneven"), &single, "test", false).unwrap();
    let cases: [(&str, Option<&[&'static str]>); 4] = [
        ("mesh off", None),
        ("istio sidecars", Some(&[])),
        ("istio ambient", Some(&["istio.dataplane=ambient"])),
        (
            "per-service values",
            Some(&[
                "services.svc-11.replicas=3",
                "services.list.resources.limits.cpu=2",
                "services.end.replicas=0",
            ]),
        ),
    ];
    for h in HELMS {
        for (what, sets) in cases {
            let args = sets.map(istio_args).unwrap_or_default();
            let got = template(h, &tmp.path().join("r/uneven"), NS, &args);
            assert!(got.contains("kind: Deployment"), "{h} {what}: {got}");
            assert_eq!(
                got,
                template(h, &tmp.path().join("s/uneven"), NS, &args),
                "{h} {what}"
            );
        }
    }
}
