//! A reproducible archive for customer installs: the chart laid out as
//! `helm package` would, the Kustomize tree, `images.txt`, the policy, and
//! `SHA256SUMS` over all of them.
//!
//! Reproducible: entries sorted, every mtime 0, owner 0/0 without names,
//! modes 0644/0755, gzip header without a time or name, fixed compression.
//! The same policy gives the same bytes on any machine and under any umask.
//!
//! Invariant: `check` trusts nothing in an archive: it reads it as a
//! stream with bounded memory, reads no entry but plain files, and reports
//! every link, device, odd mode or path outside the bundle. Recompiling the
//! bundle's policy to compare is `actions::bundle::verify`'s: this stage
//! imports no later one.

use super::Tree;
use crate::model::Model;
use flate2::read::GzDecoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// Why an archive is not a meshpack bundle at all. Problems inside a
/// bundle (a tampered file, a link) are not errors: [`check`] lists them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a gzipped tar, or an entry cannot be read.
    #[error("not a meshpack bundle: {0}")]
    Unreadable(#[from] std::io::Error),
    #[error("not a meshpack bundle: more than {} entries", MAX_ENTRIES)]
    TooManyEntries,
    /// An entry's header claims more than a bundle's file may hold.
    #[error(
        "not a meshpack bundle: {path} claims {size} bytes; no file of a bundle is over {}",
        MAX_ENTRY
    )]
    Claims { path: String, size: u64 },
    /// An entry holds more than a bundle's file may.
    #[error("not a meshpack bundle: {path} is over {} bytes", MAX_ENTRY)]
    TooLarge { path: String },
    #[error("not a meshpack bundle: no SHA256SUMS at its top")]
    NoSums,
    #[error("not a meshpack bundle: no policy.yaml")]
    NoPolicy,
}

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
    // So do the files services pack into ConfigMaps (plain names too).
    for f in m.services.iter().flat_map(|s| &s.pod.files) {
        t.insert(format!("{root}/{}", f.source), f.raw.as_bytes().to_vec());
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

/// Largest entry a bundle can hold: Helm loads no chart file over 5 MiB,
/// and the policy and its lock stop at 4 MiB.
pub const MAX_ENTRY: u64 = 5 << 20;
/// Most entries read from an archive: a large policy's bundle has a few
/// tens of thousands.
pub const MAX_ENTRIES: usize = 200_000;

/// What verify keeps of one file of an archive: its digest, and its bytes
/// only when it sits at the bundle's top (policy, lock, sums, metadata).
struct Seen {
    sha256: String,
    top: Option<Vec<u8>>,
}

/// A writer that hashes what passes, keeping it only when asked.
struct Sink {
    hash: Sha256,
    keep: Option<Vec<u8>>,
}

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.hash.update(b);
        if let Some(k) = &mut self.keep {
            k.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The entries a bundle may hold: regular files (mode 644) and folders
/// (755) at relative paths inside it. Returns whether to read the entry's
/// content (regular files only) and the problem with it, if any. A link,
/// device or FIFO is never followed or read: skipping it silently would let
/// a forged archive read as verified.
pub fn entry_rule(path: &str, ty: tar::EntryType, mode: u32) -> (bool, Option<String>) {
    let inside = !path.starts_with('/')
        && path
            .trim_end_matches('/')
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !inside {
        return (false, Some(format!("{path}: a path outside the bundle")));
    }
    match ty {
        tar::EntryType::Directory => (
            false,
            (mode != 0o755)
                .then(|| format!("{path}: folder mode {mode:o}; bundles hold folders 755")),
        ),
        tar::EntryType::Regular => (
            true,
            (mode != 0o644).then(|| format!("{path}: file mode {mode:o}; bundles hold files 644")),
        ),
        other => {
            let what = match other {
                tar::EntryType::Symlink => "a symbolic link",
                tar::EntryType::Link => "a hard link",
                tar::EntryType::Char | tar::EntryType::Block => "a device node",
                tar::EntryType::Fifo => "a FIFO",
                _ => "an entry of an unexpected type",
            };
            (
                false,
                Some(format!(
                    "{path}: {what}; a bundle holds only regular files and folders"
                )),
            )
        }
    }
}

/// Read an archive as a stream: every entry must be what [`archive`]
/// writes (a regular file 0644 or a folder 0755, inside the bundle); any
/// other entry (a symlink, hardlink, device, FIFO, setuid or odd mode) is
/// a problem and is not read. Memory stays bounded whatever the entry
/// sizes claim: files are hashed as they stream by.
fn scan(r: impl Read, problems: &mut Vec<String>) -> Result<BTreeMap<String, Seen>, Error> {
    let bad = Error::Unreadable;
    let mut a = tar::Archive::new(GzDecoder::new(r));
    let mut seen = BTreeMap::new();
    for (n, e) in a.entries().map_err(bad)?.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(Error::TooManyEntries);
        }
        let mut e = e.map_err(bad)?;
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let h = e.header();
        let (ty, mode, size) = (
            h.entry_type(),
            h.mode().map_err(bad)?,
            h.size().map_err(bad)?,
        );
        let (read, problem) = entry_rule(&path, ty, mode);
        problems.extend(problem);
        if !read {
            continue;
        }
        if size > MAX_ENTRY {
            return Err(Error::Claims { path, size });
        }
        let top = path.matches('/').count() == 1;
        let mut sink = Sink {
            hash: Sha256::new(),
            keep: top.then(Vec::new),
        };
        // At most the declared size plus one byte is read: tar ends the
        // entry at its size; the +1 guards a reader that would not.
        let copied = std::io::copy(&mut (&mut e).take(MAX_ENTRY + 1), &mut sink).map_err(bad)?;
        if copied > MAX_ENTRY {
            return Err(Error::TooLarge { path });
        }
        let sha256 = sink
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if seen
            .insert(
                path.clone(),
                Seen {
                    sha256,
                    top: sink.keep,
                },
            )
            .is_some()
        {
            problems.push(format!("{path}: appears twice in the archive"));
        }
    }
    Ok(seen)
}

/// A bundle read by [`check`]: what it holds, and the problems found so
/// far. Whether its chart and Kustomize tree are still what its policy
/// compiles to is the caller's to ask ([`Checked::compare`]): compiling
/// belongs to the stages before this one (`actions::bundle::verify`).
pub struct Checked {
    root: String,
    seen: BTreeMap<String, Seen>,
    problems: Vec<String>,
}

impl Checked {
    /// The folder every entry is under (`evalhub-2.3.0/`).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The bytes of a file at the bundle's top, by name (`policy.yaml`).
    pub fn top(&self, name: &str) -> Option<&[u8]> {
        self.seen
            .get(&format!("{}{name}", self.root))
            .and_then(|f| f.top.as_deref())
    }

    /// The policy the bundle was made from.
    pub fn policy_text(&self) -> Result<String, Error> {
        let policy = self.top("policy.yaml").ok_or(Error::NoPolicy)?;
        Ok(String::from_utf8_lossy(policy).to_string())
    }

    /// The profile the bundle was made with (`meshpack.json`), if any.
    pub fn profile(&self) -> Option<String> {
        self.top("meshpack.json")
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v["profile"].as_str().map(str::to_string))
    }

    /// Add a problem found outside this module.
    pub fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    /// Compare the archive with the files its policy compiles to now
    /// (`files` of the rebuilt model): every file the same, none missing,
    /// none extra.
    pub fn compare(&mut self, again: &Tree) {
        let t = &self.seen;
        for (p, b) in again {
            if p.ends_with("SHA256SUMS") {
                continue;
            }
            match t.get(p) {
                Some(x) if x.sha256 == sha256(b) => {}
                Some(_) => self
                    .problems
                    .push(format!("{p}: differs from what policy.yaml compiles to")),
                None => self
                    .problems
                    .push(format!("{p}: missing (policy.yaml compiles to it)")),
            }
        }
        for p in t.keys().filter(|p| !again.contains_key(*p)) {
            self.problems
                .push(format!("{p}: not something policy.yaml compiles to"));
        }
    }

    /// Every problem, sorted, each once.
    pub fn finish(mut self) -> Vec<String> {
        self.problems.sort();
        self.problems.dedup();
        self.problems
    }
}

/// Check a bundle's entries and sums: every entry a plain file or folder,
/// every sum, no file unlisted. The caller then compares its chart and
/// Kustomize tree with what its policy compiles to ([`Checked::compare`]).
pub fn check(r: impl Read) -> Result<Checked, Error> {
    let mut problems = vec![];
    let t = scan(r, &mut problems)?;
    let Some((sums_path, sums)) = t
        .iter()
        .find(|(p, _)| p.ends_with("/SHA256SUMS") && p.matches('/').count() == 1)
        .and_then(|(p, s)| Some((p.clone(), s.top.clone()?)))
    else {
        return Err(Error::NoSums);
    };
    let root = sums_path.trim_end_matches("SHA256SUMS").to_string();
    let mut listed = BTreeMap::new();
    for line in String::from_utf8_lossy(&sums).lines() {
        let Some((sum, path)) = line.split_once("  ") else {
            problems.push(format!(
                "SHA256SUMS: malformed line `{}`",
                crate::diag::visible(line)
            ));
            continue;
        };
        listed.insert(format!("{root}{path}"), sum.to_string());
    }
    for (p, f) in &t {
        if *p == sums_path {
            continue;
        }
        match listed.get(p) {
            None => problems.push(format!("{p}: not listed in SHA256SUMS")),
            Some(sum) if *sum != f.sha256 => {
                problems.push(format!("{p}: checksum differs from SHA256SUMS"))
            }
            _ => {}
        }
    }
    for p in listed.keys().filter(|p| !t.contains_key(*p)) {
        problems.push(format!("{p}: listed in SHA256SUMS but missing"));
    }
    Ok(Checked {
        root,
        seen: t,
        problems,
    })
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
        // The helm test probe's image travels with the others (air-gapped).
        assert!(i.contains(&"docker.io/curlimages/curl:8.11.1".to_string()));
        assert_eq!(i.len(), 10);
        let r = images(&m, Some("mirror.corp:5000"));
        assert!(r.contains(&"mirror.corp:5000/evalhub/api:2.3.0".to_string()));
        assert!(r.contains(&"mirror.corp:5000/library/postgres:16.4".to_string()));
    }
}
