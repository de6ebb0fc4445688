//! Air-gapped delivery against real registries (Debian's docker-registry,
//! CNCF distribution): `images lock`, `bundle --images --sign-key`,
//! `bundle --verify --key`, `images push`, and what each does when the
//! registry, the network, the credentials or the disk fail.
//! Needs docker-registry, htpasswd, openssl, curl and prlimit: the test
//! FAILS without them (`bash tests/tools.sh` installs them).

mod registry;

use registry::{image, sha256, tool, Registry, TestImage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const USER: (&str, &str) = ("vendor", "s3cret-pw");

fn meshpack(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_meshpack"));
    c.args(args).current_dir(dir).env_remove("DOCKER_CONFIG");
    // Never the user's cache or credentials.
    c.env("MESHPACK_CACHE", dir.join("default-cache"));
    c.env("HOME", dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "meshpack failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn failed(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "meshpack should have failed:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout)
}

/// Deterministic bytes that do not compress (a layer big enough to hit a
/// file size limit).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct Shop {
    web: TestImage,
    api_amd64: TestImage,
    api_arm64: TestImage,
    proxy: TestImage,
    pilot: TestImage,
    ztunnel: TestImage,
    /// reference (as the lock names it) -> digest
    digests: BTreeMap<String, String>,
    api_arm64_digest: String,
}

fn push_shop(r: &Registry) -> Shop {
    let big = noise(600 * 1024, 7);
    let web = image("amd64", &[("app", b"web 1.0"), ("data.bin", &big)]);
    let api_amd64 = image("amd64", &[("app", b"api 2.0 amd64")]);
    let api_arm64 = image("arm64", &[("app", b"api 2.0 arm64")]);
    let proxy = image("amd64", &[("usr/local/bin/envoy", b"proxy")]);
    let pilot = image("amd64", &[("usr/local/bin/pilot-discovery", b"pilot")]);
    let ztunnel = image("amd64", &[("usr/local/bin/ztunnel", b"ztunnel")]);
    let h = r.host();
    let mut digests = BTreeMap::new();
    digests.insert(
        format!("{h}/shop/web:1.0"),
        r.push_image("shop/web", "1.0", &web),
    );
    let (ix, per) = r.push_index(
        "shop/api",
        "2.0",
        &[("amd64", &api_amd64), ("arm64", &api_arm64)],
    );
    digests.insert(format!("{h}/shop/api:2.0"), ix);
    digests.insert(
        format!("{h}/istio/proxyv2:1.24.2"),
        r.push_image("istio/proxyv2", "1.24.2", &proxy),
    );
    digests.insert(
        format!("{h}/istio/pilot:1.24.2"),
        r.push_image("istio/pilot", "1.24.2", &pilot),
    );
    digests.insert(
        format!("{h}/istio/ztunnel:1.24.2"),
        r.push_image("istio/ztunnel", "1.24.2", &ztunnel),
    );
    Shop {
        web,
        api_amd64,
        api_arm64,
        proxy,
        pilot,
        ztunnel,
        digests,
        api_arm64_digest: per[1].1.clone(),
    }
}

fn write_policy(dir: &Path, host: &str, web_tag: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("shop.yaml");
    std::fs::write(
        &p,
        format!(
            "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {{name: shop}}
spec:
  version: 1.0.0
  images: {{lock: images.lock}}
  mesh:
    proxy: {host}/istio/proxyv2:1.24.2
    controlPlane: {host}/istio/pilot:1.24.2
    ztunnel: {host}/istio/ztunnel:1.24.2
  services:
    web: {{image: {host}/shop/web:{web_tag}, ports: {{http: 8080}}}}
    api: {{image: {host}/shop/api:2.0, ports: {{http: 8080}}}}
  allow:
    - {{from: web, to: api}}
"
        ),
    )
    .unwrap();
    p
}

/// The lock's entries, image -> digest.
fn lock_entries(path: &Path) -> BTreeMap<String, String> {
    let v: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(v["kind"], "ImageLock");
    v["images"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["image"].as_str().unwrap().to_string(),
                e["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn untar(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let o = Command::new("tar")
        .arg("xzf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn lock_bundle_sign_verify_push_and_pull_back() {
    let src = Registry::start(Some(USER), false);
    let shop = push_shop(&src);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let policy = write_policy(&t.join("policy"), &src.host(), "1.0");
    let docker = src.docker_config(t, None);
    let env = [("DOCKER_CONFIG", docker.as_path())];
    let pol = policy.to_str().unwrap();

    // Vendor, command 1: lock every image (services and mesh runtime).
    let out = ok(&meshpack(t, &["images", "lock", pol, "--plain-http"], &env));
    assert!(out.ends_with("(5 images)\n"), "{out}");
    assert_eq!(lock_entries(&t.join("policy/images.lock")), shop.digests);

    // Vendor, command 2: the archive, signed; twice, from empty caches.
    ok(&meshpack(t, &["keys", "generate", "vendor"], &[]));
    let bundle = |name: &str, cache: &str| {
        let c = t.join(cache);
        let mut e = env.to_vec();
        e.push(("MESHPACK_CACHE", c.as_path()));
        ok(&meshpack(
            t,
            &[
                "bundle",
                pol,
                "-o",
                name,
                "--images",
                "--plain-http",
                "--sign-key",
                "vendor.key",
            ],
            &e,
        ));
        std::fs::read(t.join(name)).unwrap()
    };
    let a = bundle("a.tgz", "cache-a");
    let b = bundle("b.tgz", "cache-b");
    assert!(a == b, "two runs gave different bundles");
    // Restartable: a third run reuses the cache and still gives the same bytes.
    assert!(a == bundle("c.tgz", "cache-a"));

    // Customer: verify offline (no registry, no network needed).
    let v = ok(&meshpack(
        t,
        &["bundle", "--verify", "a.tgz", "--key", "vendor.pub"],
        &[],
    ));
    assert!(
        v.starts_with("verified: a.tgz (")
            && v.contains(
                "5 image(s), 19 blob(s) match their digests; the signature matches the key"
            ),
        "{v}"
    );
    let unsigned_check = failed(&meshpack(t, &["bundle", "--verify", "a.tgz"], &[]));
    assert!(
        unsigned_check.contains("SHA256SUMS.sig: the bundle is signed but no key was given"),
        "{unsigned_check}"
    );
    ok(&meshpack(t, &["keys", "generate", "other"], &[]));
    let wrong_key = failed(&meshpack(
        t,
        &["bundle", "--verify", "a.tgz", "--key", "other.pub"],
        &[],
    ));
    assert!(
        wrong_key.contains("the signature does not match"),
        "{wrong_key}"
    );

    // The layout, independently of meshpack: sha256sum, OpenSSL, the files.
    let x = t.join("x");
    untar(&t.join("a.tgz"), &x);
    let top = x.join("shop-1.0.0");
    let o = Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&top)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sha256sum -c: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    use base64::Engine;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(
            std::fs::read_to_string(top.join("SHA256SUMS.sig"))
                .unwrap()
                .trim(),
        )
        .unwrap();
    std::fs::write(t.join("sig.der"), sig).unwrap();
    let o = Command::new(tool("openssl"))
        .args(["dgst", "-sha256", "-verify"])
        .arg(t.join("vendor.pub"))
        .arg("-signature")
        .arg(t.join("sig.der"))
        .arg(top.join("SHA256SUMS"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Verified OK\n");
    assert_eq!(
        std::fs::read_to_string(top.join("images/oci-layout")).unwrap(),
        "{\"imageLayoutVersion\":\"1.0.0\"}"
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(top.join("images/index.json")).unwrap()).unwrap();
    let h = src.host();
    let want = [
        (
            format!("{h}/istio/pilot:1.24.2"),
            "istio/pilot",
            "1.24.2",
            registry::MANIFEST,
        ),
        (
            format!("{h}/istio/proxyv2:1.24.2"),
            "istio/proxyv2",
            "1.24.2",
            registry::MANIFEST,
        ),
        (
            format!("{h}/istio/ztunnel:1.24.2"),
            "istio/ztunnel",
            "1.24.2",
            registry::MANIFEST,
        ),
        (
            format!("{h}/shop/api:2.0"),
            "shop/api",
            "2.0",
            registry::INDEX,
        ),
        (
            format!("{h}/shop/web:1.0"),
            "shop/web",
            "1.0",
            registry::MANIFEST,
        ),
    ];
    for (i, (name, repo, tag, mt)) in want.iter().enumerate() {
        let m = &index["manifests"][i];
        assert_eq!(m["digest"], shop.digests[name].as_str(), "{name}");
        assert_eq!(m["mediaType"], *mt);
        assert_eq!(m["annotations"]["io.containerd.image.name"], name.as_str());
        assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], *tag);
        assert_eq!(m["annotations"]["dev.meshpack.repository"], *repo);
    }
    assert_eq!(index["manifests"].as_array().unwrap().len(), 5);
    let blob = |d: &str| {
        std::fs::read(
            top.join("images/blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    for img in [
        &shop.web,
        &shop.api_amd64,
        &shop.api_arm64,
        &shop.proxy,
        &shop.pilot,
        &shop.ztunnel,
    ] {
        assert!(blob(&sha256(&img.layer)) == img.layer);
        assert_eq!(blob(&sha256(&img.config)), img.config);
        assert_eq!(blob(&sha256(&img.manifest)), img.manifest);
    }
    // The SBOM names every image by digest; the chart is there as `helm package` lays it out.
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(top.join("sbom.cdx.json")).unwrap()).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let comps: BTreeMap<String, String> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "container")
        .map(|c| {
            (
                c["bom-ref"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("image:")
                    .to_string(),
                c["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(comps, shop.digests);
    let o = Command::new("tar")
        .arg("tzf")
        .arg(top.join("chart/shop-1.0.0.tgz"))
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&o.stdout);
    assert!(names.lines().any(|l| l == "shop/Chart.yaml"), "{names}");
    assert!(names.lines().any(|l| l == "shop/values.yaml"), "{names}");

    // A layer changed inside the bundle: --verify names it, push refuses.
    let layer_hex = sha256(&shop.web.layer)[7..].to_string();
    let victim = top.join("images/blobs/sha256").join(&layer_hex);
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&victim, &bytes).unwrap();
    let o = Command::new("tar")
        .arg("czf")
        .arg(t.join("tampered.tgz"))
        .arg("-C")
        .arg(&x)
        .arg("shop-1.0.0")
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::write(&victim, &shop.web.layer).unwrap();
    let e = failed(&meshpack(
        t,
        &["bundle", "--verify", "tampered.tgz", "--key", "vendor.pub"],
        &[],
    ));
    let p = format!("shop-1.0.0/images/blobs/sha256/{layer_hex}");
    assert!(
        e.contains(&format!(
            "{p}: content has sha256 {}, not the digest its name says",
            &sha256(&bytes)[7..]
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("{p}: checksum differs from SHA256SUMS")),
        "{e}"
    );
    assert!(e.contains("FAILED: 2 problem(s) in tampered.tgz"), "{e}");

    // Customer, command 1: push into their registry (TLS with a private CA).
    let dst = Registry::start(None, true);
    let to = format!("{}/mirror", dst.host());
    let no_ca = failed(&meshpack(
        t,
        &[
            "images",
            "push",
            "a.tgz",
            "--to",
            &to,
            "--key",
            "vendor.pub",
        ],
        &[],
    ));
    assert!(
        no_ca.contains("help: is the registry up? A registry with its own CA needs --ca-file"),
        "{no_ca}"
    );
    let ca = dst.ca.clone().unwrap();
    let pushed = ok(&meshpack(
        t,
        &[
            "images",
            "push",
            "a.tgz",
            "--to",
            &to,
            "--key",
            "vendor.pub",
            "--ca-file",
            ca.to_str().unwrap(),
        ],
        &[],
    ));
    let mut want_lines: Vec<String> = shop
        .digests
        .iter()
        .map(|(r, d)| format!("{}@{d}", r.replacen(&src.host(), &to, 1)))
        .collect();
    want_lines.sort();
    let got_lines: Vec<String> = pushed
        .lines()
        .filter(|l| l.contains('@'))
        .map(str::to_string)
        .collect();
    assert_eq!(got_lines, want_lines);

    // Pull back from the second registry and compare digests and bytes.
    for (r, d) in &shop.digests {
        let (repo, tag) = r
            .trim_start_matches(&format!("{}/", src.host()))
            .split_once(':')
            .unwrap();
        let m = dst.get_manifest(&format!("mirror/{repo}"), tag);
        assert_eq!(&sha256(&m), d, "{r}");
    }
    for img in [&shop.api_amd64, &shop.api_arm64] {
        assert_eq!(
            dst.get_manifest("mirror/shop/api", &sha256(&img.manifest)),
            img.manifest
        );
        assert_eq!(
            dst.get_blob("mirror/shop/api", &sha256(&img.layer)),
            img.layer
        );
    }
    assert!(dst.get_blob("mirror/shop/web", &sha256(&shop.web.layer)) == shop.web.layer);
    // Pushing again is harmless (blobs already there are skipped).
    ok(&meshpack(
        t,
        &[
            "images",
            "push",
            "a.tgz",
            "--to",
            &to,
            "--key",
            "vendor.pub",
            "--ca-file",
            ca.to_str().unwrap(),
        ],
        &[],
    ));
    let e = failed(&meshpack(
        t,
        &[
            "images",
            "push",
            "tampered.tgz",
            "--to",
            &to,
            "--key",
            "vendor.pub",
            "--ca-file",
            ca.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(
        e.contains("tampered.tgz does not verify; nothing was pushed:"),
        "{e}"
    );
    // A signed bundle is not pushed unchecked.
    let e = failed(&meshpack(
        t,
        &[
            "images",
            "push",
            "a.tgz",
            "--to",
            &to,
            "--ca-file",
            ca.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(e.contains("a.tgz does not verify; nothing was pushed:\n  shop-1.0.0/SHA256SUMS.sig: the bundle is signed but no key was given"), "{e}");

    // Customer, command 2: install, images from their registry by digest.
    let helm = std::env::var_os("MESHPACK_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/tools"))
        .join("helm4/helm");
    assert!(
        helm.is_file(),
        "{} is missing: run `bash tests/tools.sh`",
        helm.display()
    );
    let o = Command::new(&helm)
        .args(["template", "shop"])
        .arg(top.join("chart/shop-1.0.0.tgz"))
        .args(["--set", &format!("global.imageRegistry={to}")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rendered = String::from_utf8_lossy(&o.stdout);
    let web = format!(
        "image: \"{to}/shop/web@{}\"",
        shop.digests[&format!("{h}/shop/web:1.0")]
    );
    assert!(rendered.contains(&web), "{web} not in:\n{rendered}");
}

#[test]
fn platform_lock_carries_one_image_of_an_index() {
    let src = Registry::start(None, false);
    let shop = push_shop(&src);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let policy = write_policy(&t.join("policy"), &src.host(), "1.0");
    let pol = policy.to_str().unwrap();
    ok(&meshpack(
        t,
        &[
            "images",
            "lock",
            pol,
            "--plain-http",
            "--platform",
            "linux/arm64",
        ],
        &[],
    ));
    let mut want = shop.digests.clone();
    want.insert(
        format!("{}/shop/api:2.0", src.host()),
        shop.api_arm64_digest.clone(),
    );
    assert_eq!(lock_entries(&t.join("policy/images.lock")), want);
    let e = failed(&meshpack(
        t,
        &[
            "images",
            "lock",
            pol,
            "--plain-http",
            "--platform",
            "linux/s390x",
        ],
        &[],
    ));
    assert!(
        e.contains("shop/api:2.0 has no linux/s390x image (it has linux/amd64, linux/arm64)"),
        "{e}"
    );
    ok(&meshpack(
        t,
        &["bundle", pol, "-o", "arm.tgz", "--images", "--plain-http"],
        &[],
    ));
    let x = t.join("x");
    untar(&t.join("arm.tgz"), &x);
    let blobs = listing(&x.join("shop-1.0.0/images/blobs/sha256"));
    assert!(blobs.contains(&sha256(&shop.api_arm64.layer)[7..].to_string()));
    assert!(!blobs.contains(&sha256(&shop.api_amd64.layer)[7..].to_string()));
}

/// Each failure: exit status 1, a message naming the cause, and nothing
/// left in the output folder.
#[test]
fn failures_are_named_and_leave_no_bundle() {
    let mut src = Registry::start(Some(USER), false);
    let shop = push_shop(&src);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let policy = write_policy(&t.join("policy"), &src.host(), "1.0");
    let pol = policy.to_str().unwrap();
    let docker = src.docker_config(t, None);
    let bad_docker = src.docker_config(&t.join("bad"), Some("wrong"));
    let out = t.join("out");
    std::fs::create_dir(&out).unwrap();
    let target = out.join("shop.tgz");
    let tgt = target.to_str().unwrap();
    let mut n = 0;
    let mut bundle_fails = |docker: &Path, extra: &[&str]| -> String {
        n += 1;
        let cache = t.join(format!("cache-{n}"));
        let mut args = vec!["bundle", pol, "-o", tgt, "--images", "--plain-http"];
        args.extend(extra);
        let e = failed(&meshpack(
            t,
            &args,
            &[("DOCKER_CONFIG", docker), ("MESHPACK_CACHE", &cache)],
        ));
        assert!(e.contains("no bundle was written"), "{e}");
        assert_eq!(
            listing(&out),
            Vec::<String>::new(),
            "left behind after: {e}"
        );
        e
    };

    // Wrong credentials: no lock, no bundle.
    let e = failed(&meshpack(
        t,
        &["images", "lock", pol, "--plain-http"],
        &[("DOCKER_CONFIG", &bad_docker)],
    ));
    assert!(
        e.contains(&format!(
            "{} refused access to {}/shop/",
            src.host(),
            src.host()
        )),
        "{e}"
    );
    assert!(e.contains("wrong or missing credentials"), "{e}");
    assert!(!t.join("policy/images.lock").exists());
    // A tag that does not exist.
    let missing = write_policy(&t.join("missing"), &src.host(), "9.9");
    let e = failed(&meshpack(
        t,
        &["images", "lock", missing.to_str().unwrap(), "--plain-http"],
        &[("DOCKER_CONFIG", &docker)],
    ));
    assert!(
        e.contains(&format!(
            "web: {}/shop/web:9.9 does not exist in {}",
            src.host(),
            src.host()
        )),
        "{e}"
    );
    assert!(
        e.contains("1 image(s) could not be resolved; the lock was not written"),
        "{e}"
    );
    assert_eq!(listing(&t.join("missing")), vec!["shop.yaml".to_string()]);

    ok(&meshpack(
        t,
        &["images", "lock", pol, "--plain-http"],
        &[("DOCKER_CONFIG", &docker)],
    ));
    let e = bundle_fails(&bad_docker, &[]);
    assert!(e.contains("wrong or missing credentials"), "{e}");

    // A layer tampered with in the registry's storage (same size).
    let layer = src.blob_file(&sha256(&shop.web.layer));
    let good = std::fs::read(&layer).unwrap();
    let mut evil = good.clone();
    evil[1000] ^= 0xff;
    std::fs::write(&layer, &evil).unwrap();
    let e = bundle_fails(&docker, &[]);
    assert!(
        e.contains(&format!(
            "/shop/web:1.0: blob {} arrived with sha256 {}: the registry's copy is corrupt or was tampered with",
            sha256(&shop.web.layer),
            sha256(&evil)
        )),
        "{e}"
    );
    // The same layer truncated.
    std::fs::write(&layer, &good[..good.len() / 2]).unwrap();
    let e = bundle_fails(&docker, &[]);
    assert!(
        e.contains(&format!(
            "blob {} is truncated: received {} of {} bytes",
            sha256(&shop.web.layer),
            good.len() / 2,
            good.len()
        )),
        "{e}"
    );
    std::fs::write(&layer, &good).unwrap();

    // Disk full (a 256 KiB file size limit): first while filling the
    // cache, then, with the cache complete, while writing the archive.
    let limited = |cache: &Path| -> String {
        let o = Command::new(tool("prlimit"))
            .arg("--fsize=262144")
            .arg(env!("CARGO_BIN_EXE_meshpack"))
            .args(["bundle", pol, "-o", tgt, "--images", "--plain-http"])
            .current_dir(t)
            .env("DOCKER_CONFIG", &docker)
            .env("MESHPACK_CACHE", cache)
            .output()
            .unwrap();
        let e = failed(&o);
        assert!(
            e.contains("(the disk is full or a file size limit was hit)"),
            "{e}"
        );
        assert!(e.contains("no bundle was written"), "{e}");
        assert_eq!(
            listing(&out),
            Vec::<String>::new(),
            "left behind after: {e}"
        );
        e
    };
    let cache = t.join("cache-full");
    let e = limited(&cache);
    assert!(
        e.contains(&format!("cannot write to {}", cache.join("oci").display())),
        "{e}"
    );
    // Nothing partial in the cache either: only complete blobs, by digest.
    for f in listing(&cache.join("oci/blobs/sha256")) {
        let b = std::fs::read(cache.join("oci/blobs/sha256").join(&f)).unwrap();
        assert_eq!(sha256(&b), format!("sha256:{f}"));
    }
    assert_eq!(listing(&cache.join("oci/tmp")), Vec::<String>::new());
    let warm = t.join("cache-warm");
    ok(&meshpack(
        t,
        &[
            "bundle",
            pol,
            "-o",
            t.join("warm.tgz").to_str().unwrap(),
            "--images",
            "--plain-http",
        ],
        &[("DOCKER_CONFIG", &docker), ("MESHPACK_CACHE", &warm)],
    ));
    let e = limited(&warm);
    assert!(e.contains(&format!("cannot write to {}", tgt)), "{e}");

    // The registry down.
    src.stop();
    let e = bundle_fails(&docker, &[]);
    assert!(e.contains(&format!("cannot reach {}", src.host())), "{e}");
    assert!(
        e.contains("Connection refused") || e.contains("connection refused"),
        "{e}"
    );
}
