//! The OCI image layout a bundle carries under `images/`
//! (github.com/opencontainers/image-spec/blob/main/image-layout.md):
//! `oci-layout`, `index.json` naming one manifest per locked image, and
//! every manifest, config and layer under `blobs/sha256/<hex>`.
//!
//! Invariant: pure functions over bytes; no IO. `index.json` is written in
//! one order (by image name) so bundles stay byte-identical.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
/// The image's full name, as containerd's `ctr import` reads it.
pub const NAME_ANNOTATION: &str = "io.containerd.image.name";
/// The tag, as the image-spec's layout annotations name it.
pub const REF_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// The repository without its registry: where `images push` puts it.
pub const REPOSITORY_ANNOTATION: &str = "dev.meshpack.repository";

/// A content descriptor (image-spec `descriptor.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct AnyManifest {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// What a manifest refers to.
#[derive(Debug, PartialEq, Eq)]
pub enum Children {
    /// An index (multi-arch): its manifests.
    Index(Vec<Descriptor>),
    /// An image: its config, then its layers.
    Image(Vec<Descriptor>),
}

/// The media type of a manifest, from its `mediaType` field or its shape.
pub fn media_type(bytes: &[u8]) -> Result<String, String> {
    let m: AnyManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("not a manifest: {e}"))?;
    Ok(m.media_type.unwrap_or_else(|| {
        if m.manifests.is_some() {
            oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE.into()
        } else {
            oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.into()
        }
    }))
}

/// The descriptors a manifest (or index) refers to.
pub fn children(bytes: &[u8]) -> Result<Children, String> {
    let m: AnyManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("not a manifest: {e}"))?;
    for d in m
        .manifests
        .iter()
        .flatten()
        .chain(m.config.iter())
        .chain(m.layers.iter().flatten())
    {
        if super::sha256_hex(&d.digest).is_none() {
            return Err(format!(
                "refers to `{}`, not a sha256 digest (meshpack carries sha256 content only)",
                d.digest
            ));
        }
    }
    match (m.manifests, m.config) {
        (Some(ms), None) => Ok(Children::Index(ms)),
        (None, Some(c)) => {
            let mut v = vec![c];
            v.extend(m.layers.unwrap_or_default());
            Ok(Children::Image(v))
        }
        _ => Err("neither an image manifest (config, layers) nor an index (manifests)".into()),
    }
}

/// One image of a bundle: its name and top manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `registry/repository:tag` as the lock names it.
    pub name: String,
    pub repository: String,
    pub tag: String,
    pub manifest: Descriptor,
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: String,
    manifests: Vec<Descriptor>,
}

/// `index.json` for these images, sorted by name.
pub fn index_json(entries: &[Entry]) -> Vec<u8> {
    let mut es = entries.to_vec();
    es.sort_by(|a, b| a.name.cmp(&b.name));
    es.dedup_by(|a, b| a.name == b.name);
    let manifests = es
        .into_iter()
        .map(|e| {
            let mut d = e.manifest;
            d.annotations.insert(NAME_ANNOTATION.into(), e.name);
            d.annotations.insert(REF_ANNOTATION.into(), e.tag);
            d.annotations
                .insert(REPOSITORY_ANNOTATION.into(), e.repository);
            d
        })
        .collect();
    let f = IndexFile {
        schema_version: 2,
        media_type: oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE.into(),
        manifests,
    };
    (serde_json::to_string_pretty(&f).expect("json") + "\n").into_bytes()
}

/// The images `index.json` names, with what `images push` needs.
pub fn read_index(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let f: IndexFile =
        serde_json::from_slice(bytes).map_err(|e| format!("images/index.json: {e}"))?;
    f.manifests
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let get = |k: &str| {
                d.annotations.get(k).cloned().ok_or_else(|| {
                    format!("images/index.json: manifests[{i}] has no `{k}` annotation (not written by meshpack?)")
                })
            };
            if super::sha256_hex(&d.digest).is_none() {
                return Err(format!(
                    "images/index.json: manifests[{i}].digest `{}` is not a sha256 digest",
                    d.digest
                ));
            }
            Ok(Entry {
                name: get(NAME_ANNOTATION)?,
                repository: get(REPOSITORY_ANNOTATION)?,
                tag: get(REF_ANNOTATION)?,
                manifest: d.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char, size: u64, mt: &str) -> Descriptor {
        Descriptor {
            media_type: mt.into(),
            digest: format!("sha256:{}", c.to_string().repeat(64)),
            size,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn image_and_index_children() {
        let img = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
          "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},
          "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":3}]}"#;
        assert_eq!(
            children(img).unwrap(),
            Children::Image(vec![
                d('a', 2, "application/vnd.oci.image.config.v1+json"),
                d('b', 3, "application/vnd.oci.image.layer.v1.tar"),
            ])
        );
        assert_eq!(
            media_type(img).unwrap(),
            "application/vnd.oci.image.manifest.v1+json"
        );
        // An index without mediaType is recognised by its shape.
        let ix = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":4,"platform":{"os":"linux","architecture":"arm64"}}]}"#;
        let mut want = d('c', 4, "application/vnd.oci.image.manifest.v1+json");
        want.platform = Some(serde_json::json!({"os": "linux", "architecture": "arm64"}));
        assert_eq!(children(ix).unwrap(), Children::Index(vec![want]));
        assert_eq!(
            media_type(ix).unwrap(),
            "application/vnd.oci.image.index.v1+json"
        );
    }

    #[test]
    fn foreign_digests_and_shapes_are_refused() {
        let e = children(br#"{"config":{"digest":"sha512:ab","size":1},"layers":[]}"#).unwrap_err();
        assert_eq!(
            e,
            "refers to `sha512:ab`, not a sha256 digest (meshpack carries sha256 content only)"
        );
        assert_eq!(
            children(b"{}").unwrap_err(),
            "neither an image manifest (config, layers) nor an index (manifests)"
        );
    }

    #[test]
    fn index_round_trip_is_sorted() {
        let e = |name: &str, c| Entry {
            name: format!("reg.example/{name}:1.0"),
            repository: name.into(),
            tag: "1.0".into(),
            manifest: d(c, 10, "application/vnd.oci.image.manifest.v1+json"),
        };
        let bytes = index_json(&[e("web", 'b'), e("api", 'a')]);
        assert_eq!(bytes, index_json(&[e("api", 'a'), e("web", 'b')]));
        let back = read_index(&bytes).unwrap();
        assert_eq!(back[0].name, "reg.example/api:1.0");
        assert_eq!(back[0].repository, "api");
        assert_eq!(back[0].tag, "1.0");
        assert_eq!(back[0].manifest.digest, d('a', 0, "").digest);
        assert_eq!(back[0].manifest.size, 10);
        assert_eq!(back[1].name, "reg.example/web:1.0");
        assert_eq!(back.len(), 2);
    }
}
