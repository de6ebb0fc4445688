//! Pull locked images by digest into a content-addressed blob cache
//! (`<cache>/blobs/sha256/<hex>`), several transfers at once.
//!
//! Invariant: a file appears under `blobs/` only complete and with the
//! sha256 its name says: bytes stream into a temporary file in the cache
//! (bounded memory: one chunk per transfer), are hashed and counted on the
//! way, and the file is renamed into place only when size and digest
//! match. An interrupted or failed run leaves nothing under `blobs/` that
//! a later run could trust wrongly, so running again resumes from the
//! blobs already complete.

use super::layout::{self, Children, Descriptor, Entry};
use super::{explain, sha256_hex, Registries};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::Reference;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An image to pull: the lock's name and digest.
#[derive(Debug, Clone)]
pub struct Locked {
    /// `registry/repository:tag`.
    pub name: String,
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

/// What was pulled: the layout's index entries and every blob, by digest.
#[derive(Debug, Default)]
pub struct Pulled {
    pub entries: Vec<Entry>,
    /// `sha256:<hex>` -> size.
    pub blobs: BTreeMap<String, u64>,
}

pub fn blob_path(cache: &Path, digest: &str) -> PathBuf {
    let hex = sha256_hex(digest).expect("digests are checked before use");
    cache.join("blobs").join("sha256").join(hex)
}

fn reference(l: &Locked, digest: &str) -> Reference {
    let registry = if l.registry.is_empty() {
        "docker.io"
    } else {
        &l.registry
    };
    Reference::with_digest(registry.into(), l.repository.clone(), digest.into())
}

/// Pull every image into `cache`. Stops at the first error, naming the
/// image and blob.
pub fn pull(reg: &Registries, images: &[Locked], cache: &Path) -> Result<Pulled, String> {
    let tmp = cache.join("tmp");
    std::fs::create_dir_all(&tmp)
        .and_then(|()| std::fs::create_dir_all(cache.join("blobs").join("sha256")))
        .map_err(|e| format!("cannot create the cache {}: {e}", cache.display()))?;
    let rt = super::runtime()?;
    rt.block_on(pull_async(reg, images, cache))
}

async fn pull_async(reg: &Registries, images: &[Locked], cache: &Path) -> Result<Pulled, String> {
    let mut out = Pulled::default();
    // Blobs to fetch: digest -> (descriptor, image it comes from).
    let mut wanted: BTreeMap<String, (Descriptor, Locked)> = BTreeMap::new();
    for l in images {
        let top = reference(l, &l.digest);
        let auth = reg.auth.get(top.registry())?;
        let mut queue = vec![(l.digest.clone(), None::<Descriptor>)];
        let mut top_desc = None;
        while let Some((digest, desc)) = queue.pop() {
            let r = reference(l, &digest);
            let (bytes, _) = reg
                .client
                .pull_manifest_raw(&r, &auth, super::MANIFEST_TYPES)
                .await
                .map_err(|e| explain(&e, &r, true))?;
            // oci-client checked the digest too; a manifest is small, so
            // check again here, where the invariant is stated.
            let got = super::digest_of(&bytes);
            if got != digest {
                return Err(format!(
                    "{}: manifest {digest} arrived with sha256 {got}: the registry's copy is corrupt or was tampered with\nhelp: push the image again, or lock another digest",
                    l.name
                ));
            }
            if let Some(d) = &desc {
                if d.size != bytes.len() as u64 {
                    return Err(format!(
                        "{}: manifest {digest} is {} bytes, its index says {}",
                        l.name,
                        bytes.len(),
                        d.size
                    ));
                }
            }
            let media_type = layout::media_type(&bytes).map_err(|e| format!("{}: {e}", l.name))?;
            store(cache, &digest, &bytes)?;
            out.blobs.insert(digest.clone(), bytes.len() as u64);
            if top_desc.is_none() {
                top_desc = Some(Descriptor {
                    media_type: media_type.clone(),
                    digest: digest.clone(),
                    size: bytes.len() as u64,
                    platform: None,
                    annotations: BTreeMap::new(),
                });
            }
            match layout::children(&bytes)
                .map_err(|e| format!("{}: manifest {digest} {e}", l.name))?
            {
                Children::Index(ms) => {
                    for m in ms {
                        queue.push((m.digest.clone(), Some(m)));
                    }
                }
                Children::Image(blobs) => {
                    for b in blobs {
                        wanted
                            .entry(b.digest.clone())
                            .or_insert_with(|| (b, l.clone()));
                    }
                }
            }
        }
        out.entries.push(Entry {
            name: l.name.clone(),
            repository: l.repository.clone(),
            tag: l.tag.clone(),
            manifest: top_desc.expect("the top manifest was pulled"),
        });
    }
    for (d, (desc, _)) in &wanted {
        out.blobs.insert(d.clone(), desc.size);
    }
    // Blobs already complete in the cache are kept (their name is their
    // digest; `archive` hashes them again while packing).
    let todo: Vec<(Descriptor, Locked)> = wanted
        .into_values()
        .filter(|(d, _)| {
            std::fs::metadata(blob_path(cache, &d.digest))
                .map(|m| m.len())
                .ok()
                != Some(d.size)
        })
        .collect();
    futures_util::stream::iter(todo.into_iter().map(Ok::<_, String>))
        .try_for_each_concurrent(
            reg.jobs,
            |(d, l)| async move { fetch(reg, &l, &d, cache).await },
        )
        .await?;
    Ok(out)
}

/// Write small content (a manifest) into the cache, atomically.
fn store(cache: &Path, digest: &str, bytes: &[u8]) -> Result<(), String> {
    let dest = blob_path(cache, digest);
    let mut f =
        tempfile::NamedTempFile::new_in(cache.join("tmp")).map_err(|e| disk_error(cache, &e))?;
    f.write_all(bytes).map_err(|e| disk_error(cache, &e))?;
    f.persist(&dest).map_err(|e| disk_error(cache, &e.error))?;
    Ok(())
}

pub fn disk_error(path: &Path, e: &std::io::Error) -> String {
    // The kind, not the errno: tempfile wraps errors with their path.
    use std::io::ErrorKind as K;
    let full = matches!(
        e.kind(),
        K::StorageFull | K::FileTooLarge | K::QuotaExceeded
    ) || matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT)
    );
    if full {
        format!(
            "cannot write to {}: {e} (the disk is full or a file size limit was hit)\nhelp: free space there, or point --cache (or -o) at a larger disk; nothing partial was kept",
            path.display()
        )
    } else {
        format!("cannot write to {}: {e}", path.display())
    }
}

/// Stream one blob into the cache, hashing and counting on the way.
async fn fetch(reg: &Registries, l: &Locked, d: &Descriptor, cache: &Path) -> Result<(), String> {
    let r = reference(l, &d.digest);
    // The manifest pull stored this registry's credentials in the client.
    let mut stream = reg
        .client
        .pull_blob_stream(&r, d.digest.as_str())
        .await
        .map_err(|e| format!("blob {}: {}", d.digest, explain(&e, &r, true)))?;
    let mut f =
        tempfile::NamedTempFile::new_in(cache.join("tmp")).map_err(|e| disk_error(cache, &e))?;
    let mut hash = Sha256::new();
    let mut n: u64 = 0;
    let mut broken = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                n += c.len() as u64;
                if n > d.size {
                    return Err(format!(
                        "{}: blob {} is longer than the {} bytes its manifest says: the registry's copy is corrupt or was tampered with",
                        l.name, d.digest, d.size
                    ));
                }
                hash.update(&c);
                f.write_all(&c).map_err(|e| disk_error(cache, &e))?;
            }
            // oci-client's own digest check ends the stream with an error;
            // the checks below say what happened in meshpack's words.
            Err(e) => {
                broken = Some(e);
                break;
            }
        }
    }
    let got = format!("sha256:{}", super::hex(&hash.finalize()));
    if n < d.size {
        let why = broken.map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(format!(
            "{}: blob {} is truncated: received {n} of {} bytes{why}\nhelp: run again to retry; if it persists, the registry's copy is damaged: push the image again",
            l.name, d.digest, d.size
        ));
    }
    if got != d.digest {
        return Err(format!(
            "{}: blob {} arrived with sha256 {got}: the registry's copy is corrupt or was tampered with\nhelp: push the image again from a trusted source, or lock another digest",
            l.name, d.digest
        ));
    }
    if let Some(e) = broken {
        return Err(format!("{}: blob {}: {e}", l.name, d.digest));
    }
    f.as_file().sync_all().map_err(|e| disk_error(cache, &e))?;
    f.persist(blob_path(cache, &d.digest))
        .map_err(|e| disk_error(cache, &e.error))?;
    Ok(())
}
