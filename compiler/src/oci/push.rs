//! `meshpack images push BUNDLE --to REGISTRY`: load a bundle's images into
//! a registry (the customer's), keeping every digest.
//!
//! Two passes over the archive: the first is `verify::scan` (every blob
//! hashed, the manifests kept, nothing pushed from a bundle that does not
//! verify); the second streams each config and layer into every repository
//! that needs it (mounting from the first where the registry can), then
//! the manifests go up children first and the top ones under their tag.
//! Each tag is then read back and its digest compared with the bundle's.
//!
//! Invariant: the bytes pushed are the bundle's bytes, hashed again on the
//! way (the registry also checks the digest on the final PUT); blobs the
//! registry already has are skipped, so a failed push can simply be run
//! again.

use super::layout::{self, Children, Entry};
use super::{explain, Registries};
use flate2::read::GzDecoder;
use oci_client::{Reference, RegistryOperation};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// What was pushed: `registry/repository:tag` -> digest.
pub type Pushed = BTreeMap<String, String>;

/// `to` is `host[:port][/path]`; every image goes to `to/<repository>:<tag>`.
pub fn push(
    reg: &Registries,
    bundle: &Path,
    to: &str,
    key: Option<&str>,
) -> Result<Pushed, String> {
    let to = to.trim_end_matches('/');
    if to.is_empty() || to.contains("://") {
        return Err(format!(
            "--to takes a registry as `host[:port][/path]`, not `{to}`\nhelp: e.g. --to registry.corp:5000/mirror (use --plain-http for a registry without TLS)"
        ));
    }
    let mut scan = super::verify::scan(bundle)?;
    super::verify::check(&mut scan, key)?;
    if !scan.problems.is_empty() {
        return Err(format!(
            "{} does not verify; nothing was pushed:\n  {}",
            bundle.display(),
            scan.problems.join("\n  ")
        ));
    }
    let root = scan.root.clone();
    let Some(index) = scan.small.get(&format!("{root}images/index.json")) else {
        return Err(format!(
            "{} carries no images (made without `bundle --images`)",
            bundle.display()
        ));
    };
    let entries = layout::read_index(index)?;
    let target = |e: &Entry, tag_or_digest: &str| -> Result<Reference, String> {
        let s = format!("{to}/{}{tag_or_digest}", e.repository);
        s.parse::<Reference>()
            .map_err(|err| format!("`{s}` is not an image reference: {err}"))
    };
    // Which repositories each blob and manifest must reach.
    let mut blob_repos: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Manifests to push per image, children before parents.
    let mut plan: Vec<(Entry, Vec<String>)> = vec![];
    for e in &entries {
        let mut order = vec![];
        walk(
            &scan.manifests,
            &e.manifest.digest,
            &mut order,
            &mut |blob| {
                blob_repos
                    .entry(blob.to_string())
                    .or_default()
                    .insert(e.repository.clone());
            },
        )
        .map_err(|m| format!("{}: {m}", e.name))?;
        plan.push((e.clone(), order));
    }
    let by_repo: BTreeMap<String, Entry> = entries
        .iter()
        .map(|e| (e.repository.clone(), e.clone()))
        .collect();
    let rt = super::runtime()?;
    rt.block_on(async {
        // Log in once per repository, for pushing.
        for e in by_repo.values() {
            let r = target(e, &format!(":{}", e.tag))?;
            let auth = reg.auth.get(r.registry())?;
            reg.client
                .auth(&r, &auth, RegistryOperation::Push)
                .await
                .map_err(|err| explain(&err, &r, true))?;
        }
        // Pass 2: stream configs and layers.
        let f = std::fs::File::open(bundle)
            .map_err(|e| format!("cannot read {}: {e}", bundle.display()))?;
        let mut a = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(f)));
        let bad = |e: std::io::Error| format!("{}: {e}", bundle.display());
        for en in a.entries().map_err(bad)? {
            let mut en = en.map_err(bad)?;
            let p = en.path().map_err(bad)?.to_string_lossy().to_string();
            let Some(hex) = p.strip_prefix(&format!("{root}images/blobs/sha256/")) else {
                continue;
            };
            let digest = format!("sha256:{hex}");
            let Some(repos) = blob_repos.get(&digest) else {
                continue; // a manifest: pushed below
            };
            let mut first: Option<Reference> = None;
            for repo in repos {
                let e = &by_repo[repo];
                let r = target(e, &format!("@{digest}"))?;
                if reg
                    .client
                    .blob_exists(&r, &digest)
                    .await
                    .map_err(|err| explain(&err, &r, true))?
                {
                    first.get_or_insert(r);
                    continue;
                }
                if let Some(src) = &first {
                    if reg.client.mount_blob(&r, src, &digest).await.is_ok()
                        && reg.client.blob_exists(&r, &digest).await.unwrap_or(false)
                    {
                        continue;
                    }
                }
                if first.is_some() {
                    // Mounting was refused and the entry was read already:
                    // this registry needs the bytes again, from a new pass.
                    push_from_archive(reg, bundle, &p, &r, &digest).await?;
                } else {
                    push_entry(reg, &mut en, &r, &digest).await?;
                }
                first.get_or_insert(r);
            }
        }
        // Manifests, children first, then the tag.
        let mut pushed = Pushed::new();
        for (e, order) in &plan {
            for d in order {
                let bytes = &scan.manifests[d];
                let mt = layout::media_type(bytes)?;
                let is_top = *d == e.manifest.digest;
                let r = if is_top {
                    target(e, &format!(":{}", e.tag))?
                } else {
                    target(e, &format!("@{d}"))?
                };
                let ct = reqwest::header::HeaderValue::from_str(&mt)
                    .map_err(|_| format!("{}: bad media type `{mt}`", e.name))?;
                reg.client
                    .push_manifest_raw(&r, bytes.clone(), ct)
                    .await
                    .map_err(|err| format!("manifest {d}: {}", explain(&err, &r, true)))?;
            }
            // Read the tag back: the registry must serve the same digest.
            let r = target(e, &format!(":{}", e.tag))?;
            let auth = reg.auth.get(r.registry())?;
            let got = reg
                .client
                .fetch_manifest_digest(&r, &auth)
                .await
                .map_err(|err| explain(&err, &r, true))?;
            if got != e.manifest.digest {
                return Err(format!(
                    "{r}: the registry serves {got} after the push, not {}",
                    e.manifest.digest
                ));
            }
            pushed.insert(r.whole(), got);
        }
        Ok(pushed)
    })
}

/// Manifests under `digest` in push order (children first); `blob` is
/// called for each config and layer.
fn walk(
    manifests: &BTreeMap<String, Vec<u8>>,
    digest: &str,
    order: &mut Vec<String>,
    blob: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let Some(bytes) = manifests.get(digest) else {
        return Err(format!("manifest {digest} is not in the bundle"));
    };
    match layout::children(bytes)? {
        Children::Index(ms) => {
            for m in ms {
                walk(manifests, &m.digest, order, blob)?;
            }
        }
        Children::Image(bs) => {
            for b in bs {
                blob(&b.digest);
            }
        }
    }
    if !order.iter().any(|d| d == digest) {
        order.push(digest.to_string());
    }
    Ok(())
}

async fn push_from_archive(
    reg: &Registries,
    bundle: &Path,
    path: &str,
    r: &Reference,
    digest: &str,
) -> Result<(), String> {
    let f = std::fs::File::open(bundle)
        .map_err(|e| format!("cannot read {}: {e}", bundle.display()))?;
    let mut a = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(f)));
    let bad = |e: std::io::Error| format!("{}: {e}", bundle.display());
    for en in a.entries().map_err(bad)? {
        let mut en = en.map_err(bad)?;
        if en.path().map_err(bad)?.to_string_lossy() == path {
            return push_entry(reg, &mut en, r, digest).await;
        }
    }
    Err(format!("{path} vanished from {}", bundle.display()))
}

/// Stream one archive entry into `r`'s repository, 4 MiB at a time,
/// hashing it again; a mismatch aborts the upload before it completes.
async fn push_entry<R: Read>(
    reg: &Registries,
    en: &mut R,
    r: &Reference,
    digest: &str,
) -> Result<(), String> {
    let mut hash = Some(Sha256::new());
    let want = digest.to_string();
    let chunks = std::iter::from_fn(|| {
        let h = hash.as_mut()?;
        let mut buf = vec![0u8; 4 << 20];
        let mut n = 0;
        while n < buf.len() {
            match en.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => {
                    hash = None;
                    return Some(Err(oci_client::errors::OciDistributionError::IoError(e)));
                }
            }
        }
        if n == 0 {
            let got = format!("sha256:{}", super::hex(&hash.take()?.finalize()));
            if got != want {
                return Some(Err(oci_client::errors::OciDistributionError::GenericError(
                    Some(format!("the bundle's blob {want} hashes to {got}")),
                )));
            }
            return None;
        }
        buf.truncate(n);
        h.update(&buf);
        Some(Ok(bytes::Bytes::from(buf)))
    });
    reg.client
        .push_blob_stream(r, futures_util::stream::iter(chunks), digest)
        .await
        .map_err(|err| format!("blob {digest}: {}", explain(&err, r, true)))?;
    Ok(())
}
