//! Registry credentials as docker keeps them: `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`), `auths.<registry>.auth` (base64 of
//! `user:password`) or `username`/`password`, `identitytoken`, and the
//! credential helpers named by `credHelpers.<registry>` or `credsStore`
//! (`docker-credential-<name> get`, the server on standard input, JSON
//! `{"Username", "Secret"}` on standard output), as documented at
//! docs.docker.com/reference/cli/docker/login/#credential-stores.
//!
//! Invariant: reads files and runs helpers only; never writes credentials.

use base64::Engine;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The credentials of one docker config, looked up by registry host.
#[derive(Debug, Default)]
pub struct Credentials {
    file: Option<PathBuf>,
    config: ConfigFile,
}

/// `https://host/v1/` and `host` both name `host`; Docker Hub has aliases.
fn normalize(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

impl Credentials {
    /// Read the docker config in `dir` (or `$DOCKER_CONFIG`, or
    /// `~/.docker`); a missing file means anonymous access.
    pub fn load(dir: Option<&Path>) -> Result<Self, String> {
        let dir = dir
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("DOCKER_CONFIG").map(PathBuf::from))
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
        let Some(file) = dir.map(|d| d.join("config.json")) else {
            return Ok(Credentials::default());
        };
        match std::fs::read_to_string(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(e) => Err(format!("cannot read {}: {e}", file.display())),
            Ok(text) => Self::parse(&text)
                .map(|config| Credentials {
                    file: Some(file.clone()),
                    config,
                })
                .map_err(|e| {
                    format!(
                        "{}: {e}\nhelp: docker's config.json is a JSON object with `auths`",
                        file.display()
                    )
                }),
        }
    }

    fn parse(text: &str) -> Result<ConfigFile, String> {
        serde_json::from_str(text).map_err(|e| format!("{}:{}: {e}", e.line(), e.column()))
    }

    /// The credentials for `registry` (a host, with port if any).
    pub fn get(&self, registry: &str) -> Result<RegistryAuth, String> {
        let want = normalize(registry);
        let shown = || {
            self.file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_else(|| "docker's config.json".into())
        };
        let helper = self
            .config
            .cred_helpers
            .iter()
            .find(|(k, _)| normalize(k) == want)
            .map(|(_, h)| h.clone());
        if let Some(h) = helper {
            return run_helper(&h, registry);
        }
        if let Some((_, e)) = self.config.auths.iter().find(|(k, _)| normalize(k) == want) {
            if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(a.trim())
                    .map_err(|err| {
                        format!("{}: auths.{registry}.auth is not base64: {err}", shown())
                    })?;
                let text = String::from_utf8(raw)
                    .map_err(|_| format!("{}: auths.{registry}.auth is not UTF-8", shown()))?;
                let Some((u, p)) = text.split_once(':') else {
                    return Err(format!(
                        "{}: auths.{registry}.auth does not decode to `user:password`",
                        shown()
                    ));
                };
                return Ok(RegistryAuth::Basic(u.into(), p.into()));
            }
            if let (Some(u), Some(p)) = (&e.username, &e.password) {
                return Ok(RegistryAuth::Basic(u.clone(), p.clone()));
            }
            if let Some(t) = &e.identitytoken {
                return Ok(RegistryAuth::Bearer(t.clone()));
            }
        }
        if let Some(store) = &self.config.creds_store {
            return run_helper(store, registry);
        }
        Ok(RegistryAuth::Anonymous)
    }
}

/// `docker-credential-<helper> get`; "credentials not found" is anonymous.
fn run_helper(helper: &str, registry: &str) -> Result<RegistryAuth, String> {
    use std::io::Write;
    let prog = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&prog)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the credential helper {prog} for {registry}: {e}\nhelp: install it, or remove `{helper}` from docker's config.json"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(registry.as_bytes())
        .map_err(|e| format!("{prog}: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if msg.contains("credentials not found") {
            return Ok(RegistryAuth::Anonymous);
        }
        return Err(format!("{prog} get {registry} failed: {}", msg.trim()));
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let r: Reply = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{prog} get {registry}: unexpected answer: {e}"))?;
    // Docker's convention: the user `<token>` marks an identity token.
    if r.username == "<token>" {
        Ok(RegistryAuth::Bearer(r.secret))
    } else {
        Ok(RegistryAuth::Basic(r.username, r.secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(text: &str) -> Credentials {
        Credentials {
            file: None,
            config: Credentials::parse(text).unwrap(),
        }
    }

    fn basic(a: RegistryAuth) -> (String, String) {
        match a {
            RegistryAuth::Basic(u, p) => (u, p),
            other => panic!("expected basic auth, got {other:?}"),
        }
    }

    #[test]
    fn auth_fields_and_docker_hub_aliases() {
        // base64("alice:s3:cret") — the password may contain colons.
        let c = creds(
            r#"{"auths": {
                "registry.corp:5000": {"auth": "YWxpY2U6czM6Y3JldA=="},
                "https://index.docker.io/v1/": {"username": "bob", "password": "pw"}
            }}"#,
        );
        assert_eq!(
            basic(c.get("registry.corp:5000").unwrap()),
            ("alice".to_string(), "s3:cret".to_string())
        );
        assert_eq!(
            basic(c.get("docker.io").unwrap()),
            ("bob".to_string(), "pw".to_string())
        );
        assert!(matches!(c.get("quay.io").unwrap(), RegistryAuth::Anonymous));
    }

    #[test]
    fn broken_entries_are_named() {
        let c = creds(r#"{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}"#);
        assert_eq!(
            c.get("r.example").unwrap_err(),
            "docker's config.json: auths.r.example.auth does not decode to `user:password`"
        );
        let e = Credentials::parse("{\"auths\": [}").unwrap_err();
        assert!(e.starts_with("1:"), "{e}");
    }

    #[test]
    fn missing_helper_is_an_error_naming_it() {
        let c = creds(r#"{"credHelpers": {"r.example": "meshpack-test-nonexistent"}}"#);
        let e = c.get("r.example").unwrap_err();
        assert!(
            e.starts_with("cannot run the credential helper docker-credential-meshpack-test-nonexistent for r.example:"),
            "{e}"
        );
    }
}
