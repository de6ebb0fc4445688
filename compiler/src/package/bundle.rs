//! A reproducible archive for customer installs: the chart laid out as
//! `helm package` would, the Kustomize tree, `images.txt`, the policy, and
//! `SHA256SUMS` over all of them.
//!
//! Reproducible: entries sorted, every mtime 0, owner 0/0 without names,
//! modes 0644/0755, gzip header without a time or name, fixed compression.
//! The same policy gives the same bytes on any machine and under any umask.

use super::Tree;
use crate::model::Model;
use flate2::read::GzDecoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// Every image a chart can render, as mirroring tools take them.
pub fn images(m: &Model, registry: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = m
        .images()
        .into_iter()
        .map(|(_, i)| {
            let reg = registry
                .map(str::to_string)
                .unwrap_or_else(|| i.registry.clone());
            let repo = if reg.is_empty() {
                i.repository.clone()
            } else {
                format!("{reg}/{}", i.repository)
            };
            if i.digest.is_empty() {
                format!("{repo}:{}", i.tag)
            } else if i.tag.is_empty() {
                format!("{repo}@{}", i.digest)
            } else {
                format!("{repo}:{}@{}", i.tag, i.digest)
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files of a bundle, by path inside the archive.
pub fn files(
    m: &Model,
    policy_text: &str,
    lock: Option<&(String, String)>,
    chart: &Tree,
    kustomize: &Tree,
) -> Tree {
    let root = format!("{}-{}", m.name, m.version);
    let mut t = Tree::new();
    for (p, b) in chart {
        t.insert(format!("{root}/chart/{}/{p}", m.name), b.clone());
    }
    for (p, b) in kustomize {
        t.insert(format!("{root}/kustomize/{p}"), b.clone());
    }
    t.insert(
        format!("{root}/images.txt"),
        (images(m, None).join("\n") + "\n").into_bytes(),
    );
    t.insert(
        format!("{root}/policy.yaml"),
        policy_text.as_bytes().to_vec(),
    );
    // The lock travels under the name the policy gives it, beside the policy.
    if let Some((name, text)) = lock {
        t.insert(format!("{root}/{name}"), text.as_bytes().to_vec());
    }
    // The chart as `helm package` writes it, and the SBOM (src/sbom.rs).
    let tgz = super::helm_package::package(&m.name, chart);
    let sbom = crate::sbom::cyclonedx(m, &tgz, policy_text, lock);
    t.insert(format!("{root}/chart/{}-{}.tgz", m.name, m.version), tgz);
    t.insert(format!("{root}/sbom.cdx.json"), sbom);
    // What verify needs to compile the policy again as it was compiled.
    let meta = serde_json::json!({ "policy": "policy.yaml", "profile": m.profile, "meshpack": env!("CARGO_PKG_VERSION") });
    t.insert(
        format!("{root}/meshpack.json"),
        (serde_json::to_string_pretty(&meta).expect("json") + "\n").into_bytes(),
    );
    let sums: String = t
        .iter()
        .map(|(p, b)| {
            format!(
                "{}  {}\n",
                sha256(b),
                p.strip_prefix(&format!("{root}/")).unwrap_or(p)
            )
        })
        .collect();
    t.insert(format!("{root}/SHA256SUMS"), sums.into_bytes());
    t
}

/// The archive's bytes: a gzipped tar of `files`.
pub fn archive(files: &Tree) -> std::io::Result<Vec<u8>> {
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(9));
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut dirs: Vec<String> = files
        .keys()
        .flat_map(|p| {
            let parts: Vec<&str> = p.split('/').collect();
            (1..parts.len())
                .map(move |i| parts[..i].join("/"))
                .collect::<Vec<_>>()
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut entries: BTreeMap<String, Option<&Vec<u8>>> =
        dirs.into_iter().map(|d| (format!("{d}/"), None)).collect();
    for (p, b) in files {
        entries.insert(p.clone(), Some(b));
    }
    for (path, body) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match body {
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                tar.append_data(&mut h, &path, std::io::empty())?;
            }
            Some(b) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(b.len() as u64);
                tar.append_data(&mut h, &path, b.as_slice())?;
            }
        }
    }
    let gz = tar.into_inner()?;
    let mut out = gz.finish()?;
    out.flush()?;
    Ok(out)
}

/// The regular files of an archive.
pub fn read(bytes: &[u8]) -> std::io::Result<Tree> {
    let mut a = tar::Archive::new(GzDecoder::new(bytes));
    let mut t = Tree::new();
    for e in a.entries()? {
        let mut e = e?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = e.path()?.to_string_lossy().to_string();
        let mut b = vec![];
        e.read_to_end(&mut b)?;
        t.insert(path, b);
    }
    Ok(t)
}

/// Check a bundle: every sum, no file unlisted, and the chart and
/// Kustomize tree still what its policy compiles to. Returns the problems.
pub fn verify(bytes: &[u8]) -> Result<Vec<String>, String> {
    let t = read(bytes).map_err(|e| format!("not a meshpack bundle: {e}"))?;
    let Some((sums_path, sums)) = t
        .iter()
        .find(|(p, _)| p.ends_with("/SHA256SUMS") && p.matches('/').count() == 1)
    else {
        return Err("not a meshpack bundle: no SHA256SUMS at its top".into());
    };
    let root = sums_path.trim_end_matches("SHA256SUMS").to_string();
    let mut problems = vec![];
    let mut listed = BTreeMap::new();
    for line in String::from_utf8_lossy(sums).lines() {
        let Some((sum, path)) = line.split_once("  ") else {
            problems.push(format!("SHA256SUMS: malformed line `{line}`"));
            continue;
        };
        listed.insert(format!("{root}{path}"), sum.to_string());
    }
    for (p, b) in &t {
        if p == sums_path {
            continue;
        }
        match listed.get(p) {
            None => problems.push(format!("{p}: not listed in SHA256SUMS")),
            Some(sum) if *sum != sha256(b) => {
                problems.push(format!("{p}: checksum differs from SHA256SUMS"))
            }
            _ => {}
        }
    }
    for p in listed.keys().filter(|p| !t.contains_key(*p)) {
        problems.push(format!("{p}: listed in SHA256SUMS but missing"));
    }
    // The chart and Kustomize tree must still be what the policy compiles to.
    let policy = t
        .get(&format!("{root}policy.yaml"))
        .ok_or("not a meshpack bundle: no policy.yaml")?;
    let text = String::from_utf8_lossy(policy).to_string();
    let profile = t
        .get(&format!("{root}meshpack.json"))
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v["profile"].as_str().map(str::to_string));
    let read = |name: &str| {
        t.get(&format!("{root}{name}"))
            .map(|b| String::from_utf8_lossy(b).to_string())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not in the bundle"))
    };
    match crate::compile_policy("policy.yaml", &text, profile.as_deref(), &read) {
        Err(f) => problems.push(format!(
            "{root}{} does not compile: {}",
            f.file, f.diagnostics[0].message
        )),
        Ok(c) => {
            let m = c.model;
            let out = crate::package(&m);
            let again = files(&m, &text, c.lock.as_ref(), &out.chart, &out.kustomize);
            for (p, b) in &again {
                if p.ends_with("SHA256SUMS") {
                    continue;
                }
                match t.get(p) {
                    Some(x) if x == b => {}
                    Some(_) => {
                        problems.push(format!("{p}: differs from what policy.yaml compiles to"))
                    }
                    None => problems.push(format!("{p}: missing (policy.yaml compiles to it)")),
                }
            }
            for p in t.keys().filter(|p| !again.contains_key(*p)) {
                problems.push(format!("{p}: not something policy.yaml compiles to"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evalhub() -> (Model, String) {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/evalhub.yaml"
        ))
        .unwrap();
        (crate::compile_model(&text, None).unwrap(), text)
    }

    #[test]
    fn images_and_registry_rewrite() {
        let (m, _) = evalhub();
        let i = images(&m, None);
        assert!(i.contains(&"quay.io/evalhub/api:2.3.0".to_string()));
        assert!(i.contains(&"docker.io/library/postgres:16.4".to_string()));
        assert_eq!(i.len(), 9);
        let r = images(&m, Some("mirror.corp:5000"));
        assert!(r.contains(&"mirror.corp:5000/evalhub/api:2.3.0".to_string()));
        assert!(r.contains(&"mirror.corp:5000/library/postgres:16.4".to_string()));
    }

    #[test]
    fn archives_verify_and_tampering_is_named() {
        let (m, text) = evalhub();
        let out = crate::package(&m);
        let f = files(&m, &text, None, &out.chart, &out.kustomize);
        let a = archive(&f).unwrap();
        assert_eq!(a, archive(&f).unwrap(), "same bytes twice");
        assert_eq!(verify(&a).unwrap(), Vec::<String>::new());
        let mut bad = f.clone();
        let k = "evalhub-2.3.0/chart/evalhub/templates/istio/postgres.yaml".to_string();
        bad.get_mut(&k).unwrap().extend_from_slice(b"# tampered\n");
        let problems = verify(&archive(&bad).unwrap()).unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p == &format!("{k}: checksum differs from SHA256SUMS")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == &format!("{k}: differs from what policy.yaml compiles to")),
            "{problems:?}"
        );
    }
}
