//! Upgrades with real Helm 3 and 4: a values file written for version N
//! installs on N+1 and N+2 after a service removal and a rename, its
//! values reaching the renamed service, with NOTES warnings; and
//! `upgrade-check` reports the reachability change of a real policy edit.

mod common;

use common::{by_id, helm, meshpack, parse, root, run, HELMS};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Version N: web calls db, legacy calls db (the apiVersion customers'
/// charts were made from before v1alpha2).
const V1: &str = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {name: shop}
spec:
  version: 1.0.0
  services:
    web: {image: 'registry.example.com/shop/web:1.0.0', ports: {http: 8080}}
    legacy: {image: 'registry.example.com/shop/legacy:1.0.0', ports: {http: 8080}}
    db: {image: 'registry.example.com/shop/db:1.0.0', ports: {tcp-pg: 5432}}
  allow:
    - {from: web, to: db}
    - {from: legacy, to: db}
";

/// Version N+1: web is renamed storefront, legacy is removed.
const V2: &str = "apiVersion: meshpack.dev/v1alpha2
kind: MeshPolicy
metadata: {name: shop}
spec:
  version: 2.0.0
  services:
    storefront: {image: 'registry.example.com/shop/storefront:2.0.0', ports: {http: 8080}}
    db: {image: 'registry.example.com/shop/db:2.0.0', ports: {tcp-pg: 5432}}
  allow:
    - {from: storefront, to: db}
  upgrades:
    renamed:
      services: {web: storefront}
    removed:
      services: [legacy]
";

/// The customer's values, written for version N.
const CUSTOMER: &str = "services:
  web:
    replicas: 3
    image:
      tag: 1.0.1-patched
  legacy:
    replicas: 2
";

fn compile(dir: &Path, name: &str, policy: &str) -> PathBuf {
    let m = meshpack::compile_model(policy, None)
        .unwrap_or_else(|d| panic!("{name} does not compile: {d:?}"));
    let chart = dir.join(name);
    meshpack::package::write_dir(&chart, &meshpack::package(&m).chart, "test", false).unwrap();
    chart
}

fn template(h: &str, chart: &Path, values: &Path) -> Result<Vec<Value>, String> {
    let out = Command::new(helm(h))
        .args(["template", "shop"])
        .arg(chart)
        .args(["-n", "shop", "-f"])
        .arg(values)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(parse(&String::from_utf8_lossy(&out.stdout)))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// NOTES.txt as an install would print it: Helm 4's `helm install
/// --dry-run=client` renders the notes without a cluster (Helm 3.17's still
/// asks the cluster for its version, and `helm template` leaves NOTES out).
fn notes(h: &str, chart: &Path, values: &Path) -> String {
    let text = run(Command::new(helm(h))
        .args(["install", "shop"])
        .arg(chart)
        .args(["-n", "shop", "--dry-run=client", "-f"])
        .arg(values));
    text.split("NOTES:\n").nth(1).expect("NOTES").to_string()
}

fn deployments(objs: &[Value]) -> Vec<(String, Value, String)> {
    by_id(objs)
        .into_iter()
        .filter(|(id, _)| id.starts_with("Deployment/"))
        .map(|(id, d)| {
            let c = &d["spec"]["template"]["spec"]["containers"][0];
            (
                id,
                d["spec"]["replicas"].clone(),
                c["image"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn values_for_version_n_install_on_n_plus_1_and_2() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = compile(dir.path(), "v1", V1);
    let v2 = compile(dir.path(), "v2", V2);
    // N+2 keeps N+1's entries and renames db to postgres.
    let v3_policy = V2
        .replace("version: 2.0.0", "version: 3.0.0")
        .replace(
            "    db: {image: 'registry.example.com/shop/db:2.0.0'",
            "    postgres: {image: 'registry.example.com/shop/db:3.0.0'",
        )
        .replace("to: db}", "to: postgres}")
        .replace(
            "services: {web: storefront}",
            "services: {web: storefront, db: postgres}",
        );
    let v3 = compile(dir.path(), "v3", &v3_policy);
    // Without the upgrades block, the same N+1 refuses the values: the
    // failure this feature exists for.
    let bare = compile(dir.path(), "bare", V2.split("  upgrades:").next().unwrap());
    let values = dir.path().join("customer.yaml");
    std::fs::write(&values, CUSTOMER.to_string() + "  db:\n    replicas: 2\n").unwrap();
    for h in HELMS {
        let n = deployments(&template(h, &v1, &values).unwrap());
        assert_eq!(
            n,
            vec![
                (
                    "Deployment/shop-db".into(),
                    json!(2),
                    "registry.example.com/shop/db:1.0.0".into()
                ),
                (
                    "Deployment/shop-legacy".into(),
                    json!(2),
                    "registry.example.com/shop/legacy:1.0.0".into()
                ),
                (
                    "Deployment/shop-web".into(),
                    json!(3),
                    "registry.example.com/shop/web:1.0.1-patched".into()
                ),
            ],
            "{h}"
        );
        let err = template(h, &bare, &values).unwrap_err();
        assert!(err.contains("legacy") && err.contains("web"), "{h}: {err}");

        let n1 = deployments(&template(h, &v2, &values).unwrap());
        assert_eq!(
            n1,
            vec![
                (
                    "Deployment/shop-db".into(),
                    json!(2),
                    "registry.example.com/shop/db:2.0.0".into()
                ),
                // web's replicas and tag apply to storefront; its repository is storefront's.
                (
                    "Deployment/shop-storefront".into(),
                    json!(3),
                    "registry.example.com/shop/storefront:1.0.1-patched".into()
                ),
            ],
            "{h}"
        );
        let n2 = deployments(&template(h, &v3, &values).unwrap());
        assert_eq!(
            n2,
            vec![
                (
                    "Deployment/shop-postgres".into(),
                    json!(2),
                    "registry.example.com/shop/db:3.0.0".into()
                ),
                (
                    "Deployment/shop-storefront".into(),
                    json!(3),
                    "registry.example.com/shop/storefront:1.0.1-patched".into()
                ),
            ],
            "{h}"
        );
        if h != "helm4" {
            continue;
        }
        let text = notes(h, &v2, &values);
        assert!(
            text.contains("WARNING: your values set `services.web`, which this chart renamed to `services.storefront`:\nthey apply to `services.storefront`."),
            "{h}: {text}"
        );
        assert!(
            text.contains("WARNING: your values set `services.legacy`, which this chart no longer has: they are\nignored."),
            "{h}: {text}"
        );
        // A values file without old keys gets no warning.
        let clean = dir.path().join("clean.yaml");
        std::fs::write(&clean, "services:\n  storefront:\n    replicas: 1\n").unwrap();
        assert!(!notes(h, &v2, &clean).contains("WARNING"), "{h}");
    }
}

/// evalhub with one rule removed: `upgrade-check` reports exactly the rows
/// of the matrix that change, from the renders.
#[test]
fn upgrade_check_reports_the_reachability_change_of_a_policy_edit() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("policies/evalhub.yaml")).unwrap();
    let edited = text.replace("    - {from: websocket, to: kafka}\n", "");
    assert_ne!(edited, text, "the edit applies");
    let old = compile(dir.path(), "old", &text);
    let new = compile(dir.path(), "new", &edited);
    let values = dir.path().join("customer.yaml");
    std::fs::write(&values, "istio:\n  enabled: true\n").unwrap();
    let helm3 = helm("helm3");
    // The reachability change the edit makes, whatever the two renders are.
    let check_websocket_gains_kafka = |old: &std::path::Path, new: &std::path::Path| {
        let (code, out) = meshpack(&[
            "upgrade-check",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
            "-f",
            values.to_str().unwrap(),
            "--helm",
            helm3.to_str().unwrap(),
            "-n",
            "evalhub",
        ]);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.starts_with("reachability:\n  - websocket -> kafka:9092 (tcp-kafka)\n"),
            "{out}"
        );
        out
    };
    let out = check_websocket_gains_kafka(&old, &new);
    assert_eq!(
        out,
        format!(
            "reachability:\n  - websocket -> kafka:9092 (tcp-kafka)\nthe values install on {} (upgrade from {})\n",
            new.display(),
            old.display()
        )
    );

    // The same check from a chart archive (`helm package`) of the old version.
    run(Command::new(helm("helm4"))
        .arg("package")
        .arg(&old)
        .arg("-d")
        .arg(dir.path()));
    let old_tgz = dir.path().join("evalhub-2.3.0.tgz");
    check_websocket_gains_kafka(&old_tgz, &new);

    // The same check against a bundle of the new version.
    let policy = dir.path().join("evalhub.yaml");
    std::fs::write(&policy, &edited).unwrap();
    // The files the policy packs into ConfigMaps are read beside it.
    std::fs::copy(
        root().join("policies/clickhouse-config.xml"),
        dir.path().join("clickhouse-config.xml"),
    )
    .unwrap();
    let bundle = dir.path().join("evalhub.tgz");
    let (code, out) = meshpack(&[
        "bundle",
        policy.to_str().unwrap(),
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    check_websocket_gains_kafka(&old, &bundle);
}

#[test]
fn upgrade_check_points_at_values_that_no_longer_install() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = compile(dir.path(), "v1", V1);
    let bare = compile(dir.path(), "bare", V2.split("  upgrades:").next().unwrap());
    let values = dir.path().join("customer.yaml");
    std::fs::write(&values, CUSTOMER).unwrap();
    for h in HELMS {
        let (code, out) = meshpack(&[
            "upgrade-check",
            v1.to_str().unwrap(),
            bare.to_str().unwrap(),
            "-f",
            values.to_str().unwrap(),
            "--helm",
            helm(h).to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{h}: {out}");
        let shown = values.display().to_string();
        assert!(
            out.contains(&format!(
                "error[E0011]: unknown field `web`\n  ┌─ {shown}:2:3"
            )),
            "{h}: {out}"
        );
        assert!(
            out.contains(&format!(
                "error[E0011]: unknown field `legacy`\n  ┌─ {shown}:6:3"
            )),
            "{h}: {out}"
        );
        assert!(
            out.contains("the new chart does not render with these values:"),
            "{h}: {out}"
        );
        assert!(
            out.ends_with(&format!(
                "FAILED: the values do not install on {}: 3 problem(s)\n",
                bare.display()
            )),
            "{h}: {out}"
        );
    }
}

/// A renamed chart value: what a values file sets under the old path
/// reaches the new one (a map value here, replaced whole).
#[test]
fn a_renamed_value_applies_to_its_new_path() {
    let dir = tempfile::tempdir().unwrap();
    let policy = V2.replace(
        "      services: {web: storefront}\n",
        "      services: {web: storefront}\n      values: {serviceDefaults.annotations: serviceDefaults.podAnnotations}\n",
    );
    let chart = compile(dir.path(), "v2", &policy);
    let values = dir.path().join("customer.yaml");
    std::fs::write(
        &values,
        "serviceDefaults:\n  annotations:\n    team: shop\n",
    )
    .unwrap();
    for h in HELMS {
        let objs = by_id(&template(h, &chart, &values).unwrap());
        for d in ["Deployment/shop-db", "Deployment/shop-storefront"] {
            assert_eq!(
                objs[d]["spec"]["template"]["metadata"]["annotations"],
                json!({"team": "shop"}),
                "{h}: {d}"
            );
        }
        if h == "helm4" {
            assert!(notes(h, &chart, &values).contains(
                "WARNING: your values set `serviceDefaults.annotations`, which this chart renamed to `serviceDefaults.podAnnotations`:"
            ));
        }
    }
}

/// `meshpack migrate` rewrites the file in place, comments and all, and the
/// result compiles without the deprecation warning it had before.
#[test]
fn migrate_rewrites_a_policy_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.yaml");
    let text = format!(
        "# Shop, version N.\n{}",
        V1.replace("kind: MeshPolicy", "kind: MeshPolicy   # always")
    );
    std::fs::write(&file, &text).unwrap();
    let path = file.to_str().unwrap();
    let (code, out) = meshpack(&["graph", path]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning[E0350]: apiVersion `meshpack.dev/v1alpha1` is deprecated"),
        "{out}"
    );
    let (code, out) = meshpack(&["migrate", path]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        format!("migrated {path} from meshpack.dev/v1alpha1 to meshpack.dev/v1alpha2\n")
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text.replace(
            "apiVersion: meshpack.dev/v1alpha1",
            "apiVersion: meshpack.dev/v1alpha2"
        )
    );
    let (code, out) = meshpack(&["graph", path]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("warning"), "{out}");
    let (code, out) = meshpack(&["migrate", path]);
    assert_eq!(
        (code, out),
        (0, format!("{path} is already meshpack.dev/v1alpha2\n"))
    );
}
