//! Check a bundle offline, in one streaming pass: every file against
//! `SHA256SUMS` (images included), the signature of `SHA256SUMS`, every
//! image blob against the digest that names it, and that every manifest
//! the layout's `index.json` reaches is present with its config and
//! layers. Then the small files go to `package::bundle::verify`, which
//! checks that the chart and Kustomize tree still compile from the policy.
//!
//! Invariant: memory is bounded by the small files; blobs are hashed as
//! they stream past and never held.

use super::layout::{self, Children};
use crate::package::Tree;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

pub const SIGNATURE: &str = "SHA256SUMS.sig";

/// What the streaming pass saw.
#[derive(Default)]
pub struct Scan {
    /// The top folder, with a trailing `/`.
    pub root: String,
    /// Small files (not under `images/blobs/`), by path.
    pub small: Tree,
    /// Every regular file's sha256 hex and size, by path.
    pub sums: BTreeMap<String, (String, u64)>,
    /// Manifests (blobs that parse as one): digest -> bytes.
    pub manifests: BTreeMap<String, Vec<u8>>,
    pub problems: Vec<String>,
}

/// Manifests are small; anything bigger under `blobs/` is a layer.
const MANIFEST_MAX: u64 = 4 << 20;

pub fn scan(path: &Path) -> Result<Scan, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut a = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(f)));
    let mut s = Scan::default();
    let bad = |e: std::io::Error| format!("not a meshpack bundle: {e}");
    for e in a.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        // The same entry rules as `package::bundle::verify`: what is
        // skipped here is skipped by every later check too.
        let mode = e.header().mode().map_err(bad)?;
        let (read, problem) = crate::package::bundle::entry_rule(&p, e.header().entry_type(), mode);
        s.problems.extend(problem);
        if !read {
            continue;
        }
        if s.root.is_empty() {
            s.root = p.split('/').next().unwrap_or("").to_string() + "/";
        }
        let in_blobs = p
            .strip_prefix(&s.root)
            .is_some_and(|r| r.starts_with("images/blobs/"));
        let size = e.header().size().map_err(bad)?;
        if in_blobs {
            let mut hash = Sha256::new();
            let mut keep = (size <= MANIFEST_MAX).then(Vec::new);
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let k = e.read(&mut buf).map_err(bad)?;
                if k == 0 {
                    break;
                }
                hash.update(&buf[..k]);
                if let Some(v) = keep.as_mut() {
                    v.extend_from_slice(&buf[..k]);
                }
            }
            let hex = super::hex(&hash.finalize());
            let named = p.rsplit('/').next().unwrap_or("");
            if named != hex || !p.ends_with(&format!("images/blobs/sha256/{named}")) {
                s.problems.push(format!(
                    "{p}: content has sha256 {hex}, not the digest its name says"
                ));
            } else if let Some(v) = keep.filter(|v| layout::children(v).is_ok()) {
                s.manifests.insert(format!("sha256:{hex}"), v);
            }
            s.sums.insert(p, (hex, size));
        } else {
            // Everything but an image blob is read whole: bound it as
            // `package::bundle::verify` does, before reading.
            let max = crate::package::bundle::MAX_ENTRY;
            if size > max {
                return Err(format!(
                    "not a meshpack bundle: {p} claims {size} bytes; no file of a bundle is over {max}"
                ));
            }
            let mut b = vec![];
            e.read_to_end(&mut b).map_err(bad)?;
            s.sums
                .insert(p.clone(), (super::hex(&Sha256::digest(&b)), b.len() as u64));
            s.small.insert(p, b);
        }
    }
    Ok(s)
}

/// Check sums, signature and image layout. `key` is the vendor's public
/// key (PEM); a signed bundle without one is a problem, not a pass.
pub fn check(s: &mut Scan, key: Option<&str>) -> Result<(), String> {
    let root = s.root.clone();
    let sums_path = format!("{root}SHA256SUMS");
    let sig_path = format!("{root}{SIGNATURE}");
    let Some(sums) = s.small.get(&sums_path).cloned() else {
        return Err("not a meshpack bundle: no SHA256SUMS at its top".into());
    };
    let mut listed = BTreeMap::new();
    for line in String::from_utf8_lossy(&sums).lines() {
        match line.split_once("  ") {
            Some((sum, p)) => {
                listed.insert(format!("{root}{p}"), sum.to_string());
            }
            None => s
                .problems
                .push(format!("SHA256SUMS: malformed line `{line}`")),
        }
    }
    for (p, (sum, _)) in &s.sums {
        if *p == sums_path || *p == sig_path {
            continue;
        }
        match listed.get(p) {
            None => s.problems.push(format!("{p}: not listed in SHA256SUMS")),
            Some(l) if l != sum => s
                .problems
                .push(format!("{p}: checksum differs from SHA256SUMS")),
            _ => {}
        }
    }
    for p in listed.keys().filter(|p| !s.sums.contains_key(*p)) {
        s.problems
            .push(format!("{p}: listed in SHA256SUMS but missing"));
    }
    match (s.small.get(&sig_path), key) {
        (Some(sig), Some(k)) => {
            if let Err(e) = crate::sign::verify(k, &sums, sig) {
                s.problems.push(format!("{sig_path}: {e}"));
            }
        }
        (Some(_), None) => s.problems.push(format!(
            "{sig_path}: the bundle is signed but no key was given: pass the vendor's public key with --key"
        )),
        (None, Some(_)) => s.problems.push(format!(
            "{sums_path}: not signed ({SIGNATURE} missing), but --key asks for a signature"
        )),
        (None, None) => {}
    }
    layout_problems(s);
    Ok(())
}

/// Every manifest reachable from `index.json` present, with its children.
fn layout_problems(s: &mut Scan) {
    let root = s.root.clone();
    let Some(index) = s.small.get(&format!("{root}images/index.json")).cloned() else {
        return;
    };
    let entries = match layout::read_index(&index) {
        Ok(e) => e,
        Err(e) => {
            s.problems.push(e);
            return;
        }
    };
    let blob = |d: &str| {
        format!(
            "{root}images/blobs/sha256/{}",
            d.trim_start_matches("sha256:")
        )
    };
    let mut seen = BTreeSet::new();
    for e in entries {
        let mut queue = vec![(e.manifest.digest.clone(), e.manifest.size)];
        while let Some((d, size)) = queue.pop() {
            if !seen.insert(d.clone()) {
                continue;
            }
            match s.sums.get(&blob(&d)) {
                None => {
                    s.problems
                        .push(format!("{}: {d} is missing from images/blobs", e.name));
                    continue;
                }
                Some((_, n)) if *n != size => {
                    s.problems.push(format!(
                        "{}: {d} is {n} bytes, its descriptor says {size}",
                        e.name
                    ));
                    continue;
                }
                _ => {}
            }
            let Some(m) = s.manifests.get(&d) else {
                continue; // a config or layer
            };
            match layout::children(m) {
                Ok(Children::Index(ms)) | Ok(Children::Image(ms)) => {
                    queue.extend(ms.into_iter().map(|c| (c.digest, c.size)));
                }
                Err(err) => s.problems.push(format!("{}: manifest {d} {err}", e.name)),
            }
        }
        // The top manifest must be a manifest, not some blob.
        if !s.manifests.contains_key(&e.manifest.digest)
            && s.sums.contains_key(&blob(&e.manifest.digest))
        {
            s.problems.push(format!(
                "{}: {} is not a manifest",
                e.name, e.manifest.digest
            ));
        }
    }
}

/// The small files as an archive of their own whose `SHA256SUMS` lists
/// only them, for `package::bundle::verify` (which reads archives whole).
pub fn small_archive(s: &Scan) -> Result<Vec<u8>, String> {
    let root = &s.root;
    let sums_path = format!("{root}SHA256SUMS");
    let mut t: Tree = s
        .small
        .iter()
        .filter(|(p, _)| {
            let r = p.strip_prefix(root.as_str()).unwrap_or(p);
            !r.starts_with("images/") && r != SIGNATURE && **p != sums_path
        })
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    let keep: BTreeSet<String> = t
        .keys()
        .map(|p| p.strip_prefix(root.as_str()).unwrap_or(p).to_string())
        .collect();
    let sums: String =
        String::from_utf8_lossy(s.small.get(&sums_path).map(Vec::as_slice).unwrap_or(b""))
            .lines()
            .filter(|l| l.split_once("  ").is_some_and(|(_, p)| keep.contains(p)))
            .map(|l| format!("{l}\n"))
            .collect();
    t.insert(sums_path, sums.into_bytes());
    crate::package::bundle::archive(&t).map_err(|e| e.to_string())
}
