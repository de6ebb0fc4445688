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
    let cases: [(&str, Option<&[&'static str]>); 5] = [
        ("mesh off", None),
        ("istio sidecars", Some(&[])),
        ("istio 1.24", Some(&["istio.version=1.24"])),
        ("istio ambient", Some(&["istio.dataplane=ambient"])),
        ("istio namespace-wide", Some(&["istio.namespaceWide=true"])),
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
