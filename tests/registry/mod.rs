//! A real OCI registry for the air-gap tests: Debian's `docker-registry`
//! (CNCF distribution), started on 127.0.0.1 with a temporary config and
//! storage, optionally behind htpasswd auth and/or TLS with a private CA,
//! and stopped by its PID when dropped. Test images are built here (one
//! uncompressed tar layer each; one index for multi-arch) and pushed with
//! `curl` through the distribution API, independently of meshpack's client.
//!
//! Missing tools are a failure, never a skip: `tests/tools.sh` installs
//! them (`bash tests/run.sh` runs it).
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn sha256(b: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(b)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// A tool the test needs, or a failure saying how to get it.
pub fn tool(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed: run `bash tests/tools.sh` (it installs docker-registry, apache2-utils, openssl and curl)");
}

pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub auth: Option<(String, String)>,
    /// The CA certificate clients must trust, with TLS.
    pub ca: Option<PathBuf>,
    child: Option<Child>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private CA and a certificate for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) -> PathBuf {
    let openssl = tool("openssl");
    let sh = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=meshpack test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    sh(&ca);
    let mut req = vec!["req"];
    req.extend(ec);
    req.extend([
        "-keyout",
        "tls.key",
        "-out",
        "tls.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    sh(&req);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
    )
    .unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tls.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    dir.join("ca.pem")
}

/// A port no other registry of this test process was given. The port
/// comes from binding port 0 and is free again when the listener is
/// dropped, so two tests running side by side could be handed the same
/// one: the second registry then fails to bind, `wait_ready` connects to
/// the first, and the test talks to a registry another test may stop (CI
/// saw `Couldn't connect to server` that way).
fn fresh_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

impl Registry {
    /// Start a registry; `auth` adds htpasswd, `tls` a certificate.
    pub fn start(auth: Option<(&str, &str)>, tls: bool) -> Registry {
        let bin = tool("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = fresh_port();
        let mut cfg = format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: meshpack-test\n",
            dir.path().join("storage").display()
        );
        let ca = tls.then(|| make_certs(dir.path()));
        if tls {
            cfg += &format!(
                "  tls: {{certificate: {}, key: {}}}\n",
                dir.path().join("tls.pem").display(),
                dir.path().join("tls.key").display()
            );
        }
        if let Some((u, p)) = auth {
            let out = Command::new(tool("htpasswd"))
                .args(["-Bbn", u, p])
                .output()
                .unwrap();
            assert!(out.status.success());
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            cfg += &format!(
                "auth:\n  htpasswd: {{realm: meshpack-test, path: {}}}\n",
                dir.path().join("htpasswd").display()
            );
        }
        std::fs::write(dir.path().join("config.yml"), cfg).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut r = Registry {
            dir,
            port,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            ca,
            child: Some(child),
        };
        r.wait_ready();
        r
    }

    fn wait_ready(&mut self) {
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "docker-registry exited ({st}):\n{}",
                    std::fs::read_to_string(self.dir.path().join("registry.log"))
                        .unwrap_or_default()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not listen on 127.0.0.1:{} within 10s",
            self.port
        );
    }

    /// Kill the registry by its PID (the "registry down" case too).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn base(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    fn curl(&self) -> Command {
        let mut c = Command::new(tool("curl"));
        c.args(["-sS", "--fail-with-body"]);
        if let Some((u, p)) = &self.auth {
            c.args(["-u", &format!("{u}:{p}")]);
        }
        if let Some(ca) = &self.ca {
            c.arg("--cacert").arg(ca);
        }
        c
    }

    fn run(c: &mut Command) -> (String, Vec<u8>) {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{c:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (String::new(), out.stdout)
    }

    /// Upload a blob (POST then PUT with its digest: a monolithic upload).
    pub fn put_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let headers = self.dir.path().join(format!("h-{}", &digest[7..19]));
        Self::run(
            self.curl()
                .args(["-X", "POST", "-D"])
                .arg(&headers)
                .arg(format!("{}/v2/{repo}/blobs/uploads/", self.base())),
        );
        let h = std::fs::read_to_string(&headers).unwrap();
        let loc = h
            .lines()
            .find_map(|l| {
                l.strip_prefix("Location: ")
                    .or_else(|| l.strip_prefix("location: "))
            })
            .expect("Location header")
            .trim()
            .to_string();
        let loc = if loc.starts_with('/') {
            format!("{}{loc}", self.base())
        } else {
            loc
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let body = self.dir.path().join(format!("b-{}", &digest[7..19]));
        std::fs::write(&body, data).unwrap();
        Self::run(
            self.curl()
                .args([
                    "-X",
                    "PUT",
                    "-H",
                    "Content-Type: application/octet-stream",
                    "--data-binary",
                ])
                .arg(format!("@{}", body.display()))
                .arg(format!("{loc}{sep}digest={digest}")),
        );
        digest
    }

    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let f = self.dir.path().join("manifest.json");
        std::fs::write(&f, body).unwrap();
        Self::run(
            self.curl()
                .args([
                    "-X",
                    "PUT",
                    "-H",
                    &format!("Content-Type: {media_type}"),
                    "--data-binary",
                ])
                .arg(format!("@{}", f.display()))
                .arg(format!("{}/v2/{repo}/manifests/{reference}", self.base())),
        );
        sha256(body)
    }

    /// GET a manifest (by tag or digest) with every manifest type accepted.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Vec<u8> {
        let mut c = self.curl();
        for t in [
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
        ] {
            c.args(["-H", &format!("Accept: {t}")]);
        }
        Self::run(c.arg(format!("{}/v2/{repo}/manifests/{reference}", self.base()))).1
    }

    pub fn get_blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        Self::run(
            self.curl()
                .arg("-L")
                .arg(format!("{}/v2/{repo}/blobs/{digest}", self.base())),
        )
        .1
    }

    /// The file holding a blob in the registry's storage (to damage it).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// A docker config folder with this registry's credentials.
    pub fn docker_config(&self, dir: &Path, password: Option<&str>) -> PathBuf {
        use base64::Engine;
        let d = dir.join("docker");
        std::fs::create_dir_all(&d).unwrap();
        let (u, p) = self.auth.clone().unwrap_or_default();
        let p = password.map(str::to_string).unwrap_or(p);
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        std::fs::write(
            d.join("config.json"),
            format!(
                "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
                self.host()
            ),
        )
        .unwrap();
        d
    }
}

/// A small OCI image: one uncompressed tar layer holding `files`.
pub struct TestImage {
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
    pub manifest: Vec<u8>,
}

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn image(arch: &str, files: &[(&str, &[u8])]) -> TestImage {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    for (p, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, *data).unwrap();
    }
    let layer = b.into_inner().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": ["/app"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&layer), "size": layer.len()}],
    }))
    .unwrap();
    TestImage {
        config,
        layer,
        manifest,
    }
}

impl Registry {
    /// Push one image under `repo:tag`; returns the manifest digest.
    pub fn push_image(&self, repo: &str, tag: &str, img: &TestImage) -> String {
        self.put_blob(repo, &img.layer);
        self.put_blob(repo, &img.config);
        self.put_manifest(repo, tag, MANIFEST, &img.manifest)
    }

    /// Push a multi-arch image: each platform's image by digest, then an
    /// index under `tag`. Returns (index digest, [(arch, manifest digest)]).
    pub fn push_index(
        &self,
        repo: &str,
        tag: &str,
        imgs: &[(&str, &TestImage)],
    ) -> (String, Vec<(String, String)>) {
        let mut entries = vec![];
        let mut out = vec![];
        for (arch, img) in imgs {
            self.put_blob(repo, &img.layer);
            self.put_blob(repo, &img.config);
            let d = self.put_manifest(repo, &sha256(&img.manifest), MANIFEST, &img.manifest);
            entries.push(serde_json::json!({
                "mediaType": MANIFEST, "digest": d, "size": img.manifest.len(),
                "platform": {"os": "linux", "architecture": arch},
            }));
            out.push((arch.to_string(), d));
        }
        let index = serde_json::to_vec_pretty(&serde_json::json!({
            "schemaVersion": 2, "mediaType": INDEX, "manifests": entries,
        }))
        .unwrap();
        (self.put_manifest(repo, tag, INDEX, &index), out)
    }
}
