//! `meshpack images` and `meshpack bundle`: reproducible archives a
//! customer can list, mirror and verify offline.

mod common;

use common::*;
use std::process::Command;

fn bundle_in(dir: &std::path::Path, umask: &str) -> Vec<u8> {
    let out = dir.join("evalhub-2.3.0.tgz");
    let script = format!(
        "umask {umask} && cd {} && {} bundle {} -o {}",
        dir.display(),
        env!("CARGO_BIN_EXE_meshpack"),
        root().join("policies/evalhub.yaml").display(),
        out.display()
    );
    run(Command::new("sh").args(["-c", &script]));
    std::fs::read(out).unwrap()
}

#[test]
fn same_bytes_in_different_folders_and_umasks() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(bundle_in(a.path(), "022"), bundle_in(b.path(), "077"));
}

#[test]
fn verify_passes_and_names_a_tampered_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = bundle_in(dir.path(), "022");
    let archive = dir.path().join("evalhub-2.3.0.tgz");
    let out = run(Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .args(["bundle", "--verify"])
        .arg(&archive));
    assert!(out.starts_with("verified: "), "{out}");

    // Unpack, change one template, pack again with the system tar.
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    std::fs::write(dir.path().join("in.tgz"), &bytes).unwrap();
    run(Command::new("tar")
        .args(["xzf"])
        .arg(dir.path().join("in.tgz"))
        .arg("-C")
        .arg(&x));
    let victim = x.join("evalhub-2.3.0/chart/evalhub/templates/istio/postgres.yaml");
    let text = std::fs::read_to_string(&victim)
        .unwrap()
        .replace("STRICT", "PERMISSIVE");
    std::fs::write(&victim, text).unwrap();
    let tampered = dir.path().join("tampered.tgz");
    run(Command::new("tar")
        .arg("czf")
        .arg(&tampered)
        .arg("-C")
        .arg(&x)
        .arg("evalhub-2.3.0"));
    let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .args(["bundle", "--verify"])
        .arg(&tampered)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("evalhub-2.3.0/chart/evalhub/templates/istio/postgres.yaml: checksum differs from SHA256SUMS"), "{text}");
}

#[test]
fn images_list_and_registry_rewrite() {
    let bin = env!("CARGO_BIN_EXE_meshpack");
    let policy = root().join("policies/evalhub.yaml");
    let list = run(Command::new(bin).arg("images").arg(&policy));
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        vec![
            "docker.io/bitnami/kafka:3.8",
            "docker.io/clickhouse/clickhouse-server:24.8",
            "docker.io/curlimages/curl:8.11.1",
            "docker.io/library/postgres:16.4",
            "docker.io/minio/minio:RELEASE.2024-10-13T13-34-11Z",
            "quay.io/evalhub/api:2.3.0",
            "quay.io/evalhub/frontend:2.3.0",
            "quay.io/evalhub/scheduler:2.3.0",
            "quay.io/evalhub/taskrunner:2.3.0",
            "quay.io/evalhub/websocket:2.3.0",
        ]
    );
    let mirrored: Vec<String> = serde_json::from_str(&run(Command::new(bin)
        .arg("images")
        .arg(&policy)
        .args(["--registry", "mirror.corp:5000", "-o", "json"])))
    .unwrap();
    // What the chart renders with global.imageRegistry is exactly the mirrored list, in both modes.
    for h in HELMS {
        for istio in [false, true] {
            // With the helm test probes, whose image is listed too.
            let mut args = vec![
                "--set",
                "global.imageRegistry=mirror.corp:5000",
                "--set",
                "tests.enabled=true",
            ];
            if istio {
                args.extend(["--set", "istio.enabled=true"]);
                args.extend(mesh_api_args());
            }
            let mut rendered: Vec<String> = parse(&template(
                h,
                &root().join("charts/evalhub"),
                "evalhub",
                &args,
            ))
            .iter()
            .filter_map(|o| {
                let pod = match o["kind"].as_str() {
                    Some("Pod") => &o["spec"],
                    _ => &o["spec"]["template"]["spec"],
                };
                pod["containers"][0]["image"].as_str().map(str::to_string)
            })
            .collect();
            rendered.sort();
            rendered.dedup();
            assert_eq!(rendered, mirrored, "{h} istio={istio}");
        }
    }
}
