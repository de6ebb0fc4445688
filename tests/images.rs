//! Pinned images: the mesh runtime (`spec.mesh`), image locks, the image
//! list mirroring tools take, and a private registry at install time.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn containers_and_pins(objs: &[Value]) -> Vec<String> {
    let mut out = vec![];
    for o in objs {
        let tpl = &o["spec"]["template"];
        for c in tpl["spec"]["containers"].as_array().into_iter().flatten() {
            out.push(c["image"].as_str().unwrap().to_string());
        }
        if let Some(p) = tpl["metadata"]["annotations"]["sidecar.istio.io/proxyImage"].as_str() {
            out.push(format!("proxy {p}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn images_lists_every_version_and_the_mesh_runtime() {
    let policy = root().join("policies/orderflow.yaml");
    let (code, out) = meshpack(&["images", policy.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "docker.io/istio/pilot:1.24.2",
            "docker.io/istio/proxyv2:1.24.2",
            "docker.io/istio/ztunnel:1.24.2",
            "docker.io/library/rabbitmq:3.13",
            "registry.example.com/orderflow/admin:1.4.0",
            "registry.example.com/orderflow/api:1.4.0",
            "registry.example.com/orderflow/api:1.5.0-rc.1",
            "registry.example.com/orderflow/web:1.4.0",
            "registry.example.com/orderflow/worker:1.4.0",
        ]
    );
    let (_, out) = meshpack(&[
        "images",
        policy.to_str().unwrap(),
        "--registry",
        "mirror.corp:5000",
    ]);
    assert!(
        out.lines().all(|l| l.starts_with("mirror.corp:5000/")),
        "{out}"
    );
    assert!(
        out.contains("mirror.corp:5000/istio/proxyv2:1.24.2"),
        "{out}"
    );
}

#[test]
fn revision_and_proxy_image_are_pinned_and_follow_the_mirror() {
    let chart = root().join("charts/orderflow");
    for h in HELMS {
        let istio = istio_args(&[]);
        let objs = parse(&template(h, &chart, "shop", &istio));
        let by = by_id(&objs);
        let pod = &by["Deployment/orderflow-web"]["spec"]["template"]["metadata"];
        assert_eq!(pod["labels"]["istio.io/rev"], json!("1-24-2"), "{h}");
        assert_eq!(pod["labels"]["sidecar.istio.io/inject"], json!("true"));
        assert_eq!(
            pod["annotations"]["sidecar.istio.io/proxyImage"],
            json!("docker.io/istio/proxyv2:1.24.2")
        );
        // A private registry rewrites every image, the pinned proxy too.
        let mut mirrored = istio.clone();
        mirrored.extend(["--set", "global.imageRegistry=mirror.corp:5000"]);
        let pins = containers_and_pins(&parse(&template(h, &chart, "shop", &mirrored)));
        assert!(!pins.is_empty());
        for p in &pins {
            assert!(
                p.starts_with("mirror.corp:5000/") || p.starts_with("proxy mirror.corp:5000/"),
                "{h}: {p}"
            );
        }
        assert!(pins.contains(&"proxy mirror.corp:5000/istio/proxyv2:1.24.2".to_string()));
        // Without Istio, nothing of the mesh on the pods.
        let plain = parse(&template(
            h,
            &chart,
            "shop",
            &["--set", "global.imageRegistry=mirror.corp:5000"],
        ));
        let pins = containers_and_pins(&plain);
        assert!(
            pins.iter()
                .all(|p| p.starts_with("mirror.corp:5000/orderflow/")
                    || p == "mirror.corp:5000/library/rabbitmq:3.13"),
            "{pins:?}"
        );
        for o in &plain {
            let labels = &o["spec"]["template"]["metadata"]["labels"];
            // Without the mesh: no revision, and an opt-out of injection.
            if labels.is_object() {
                assert!(labels.get("istio.io/rev").is_none(), "{}", id(o));
                assert_eq!(labels["sidecar.istio.io/inject"], "false", "{}", id(o));
            }
        }
    }
}

const POLICY: &str = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {name: shop}
spec:
  version: 1.0.0
  images: {registry: registry.example.com/shop, lock: images.lock}
  mesh: {proxy: docker.io/istio/proxyv2:1.24.2}
  services:
    web:
      image: web:1.0
      ports: {http: 8080}
    api:
      ports: {http: 8080}
      versions:
        stable: {image: api:1.0}
        canary: {image: api:1.1}
  allow:
    - {from: web, to: api}
";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn write_policy(dir: &Path, lock: &str) -> String {
    std::fs::write(dir.join("shop.yaml"), POLICY).unwrap();
    std::fs::write(dir.join("images.lock"), lock).unwrap();
    dir.join("shop.yaml").to_str().unwrap().to_string()
}

fn good_lock() -> String {
    format!(
        "apiVersion: meshpack.dev/v1alpha1
kind: ImageLock
images:
  - {{image: registry.example.com/shop/web:1.0, digest: {}}}
  - {{image: registry.example.com/shop/api:1.0, digest: {}}}
  - {{image: registry.example.com/shop/api:1.1, digest: {}}}
  - {{image: docker.io/istio/proxyv2:1.24.2, digest: {}}}
",
        digest('a'),
        digest('b'),
        digest('c'),
        digest('d')
    )
}

#[test]
fn a_lock_pins_every_image_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), &good_lock());
    let chart = dir.path().join("shop");
    let (code, out) = meshpack(&["compile", &policy, "-o", chart.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    for h in HELMS {
        let istio = istio_args(&[]);
        let pins = containers_and_pins(&parse(&template(h, &chart, "shop", &istio)));
        assert_eq!(
            pins,
            vec![
                format!("proxy docker.io/istio/proxyv2@{}", digest('d')),
                format!("registry.example.com/shop/api@{}", digest('b')),
                format!("registry.example.com/shop/api@{}", digest('c')),
                format!("registry.example.com/shop/web@{}", digest('a')),
            ],
            "{h}"
        );
    }
    // The list mirroring tools take carries tag and digest.
    let (_, out) = meshpack(&["images", &policy]);
    assert!(
        out.contains(&format!(
            "registry.example.com/shop/web:1.0@{}",
            digest('a')
        )),
        "{out}"
    );
    // The bundle carries the lock, and verifies with it.
    let archive = dir.path().join("shop.tgz");
    let (code, out) = meshpack(&["bundle", &policy, "-o", archive.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = meshpack(&["bundle", "--verify", archive.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let listing = run(Command::new("tar").arg("tzf").arg(&archive));
    assert!(
        listing.lines().any(|l| l == "shop-1.0.0/images.lock"),
        "{listing}"
    );
}

#[test]
fn lock_errors_point_into_the_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let lock = good_lock().replace(&digest('a'), "sha256:1234").replace(
        "registry.example.com/shop/api:1.1",
        "registry.example.com/shop/api",
    );
    let policy = write_policy(dir.path(), &lock);
    let (code, out) = meshpack(&[
        "compile",
        &policy,
        "-o",
        dir.path().join("c").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    let lock_path = dir.path().join("images.lock").display().to_string();
    for want in [
        format!("error[E0303]: `sha256:1234` is not a sha256 digest\n  ┌─ {lock_path}:4:56"),
        format!("error[E0302]: `registry.example.com/shop/api` is not `repository:tag`\n  ┌─ {lock_path}:6:13"),
        format!("error[E0305]: api (canary): `registry.example.com/shop/api:1.1` is not in the lock\n  ┌─ {lock_path}:3:1"),
    ] {
        assert!(out.contains(&want), "want:\n{want}\ngot:\n{out}");
    }
    // The image of the broken entry is not also reported missing.
    assert!(
        !out.contains("web: `registry.example.com/shop/web:1.0` is not in the lock"),
        "{out}"
    );
    // A missing lock names the file it looked for.
    std::fs::remove_file(dir.path().join("images.lock")).unwrap();
    let (code, out) = meshpack(&["images", &policy]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0300]: cannot read the image lock `images.lock`"),
        "{out}"
    );
}

/// `meshpack images | head -1` ends quietly when head stops reading.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    let script = format!(
        "{} images {} | head -1",
        env!("CARGO_BIN_EXE_meshpack"),
        root().join("policies/orderflow.yaml").display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}
