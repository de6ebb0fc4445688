//! `meshpack images lock`: the digest of every image of a policy, read
//! from its registry. A tag naming a multi-arch index locks the index (all
//! platforms travel); `--platform os/arch[/variant]` locks that platform's
//! manifest instead, as `docker pull --platform` would pick it (platform
//! matching per image-spec `image-index.md`).
//!
//! Invariant: reads registries, writes nothing; the caller writes the lock.

use super::{explain, Registries};
use crate::model::Image;
use oci_client::Reference;
use std::collections::BTreeMap;

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).map(|v| v.to_string()).filter(|v| !v.is_empty()),
            }),
            _ => Err(format!(
                "`{s}` is not a platform\nhelp: write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8"
            )),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The index entry for `p`: os and architecture equal, and the variant
/// too when both name one.
pub fn pick(index: &[super::layout::Descriptor], p: &Platform) -> Option<String> {
    index
        .iter()
        .find(|d| {
            let Some(pl) = &d.platform else { return false };
            pl["os"] == p.os.as_str()
                && pl["architecture"] == p.architecture.as_str()
                && match (&p.variant, pl["variant"].as_str()) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                }
        })
        .map(|d| d.digest.clone())
}

pub fn reference(i: &Image) -> Reference {
    let registry = if i.registry.is_empty() {
        "docker.io"
    } else {
        &i.registry
    };
    Reference::with_tag(registry.into(), i.repository.clone(), i.tag.clone())
}

/// The digest of each image (keyed by `lock::reference`). Every failure is
/// reported, not just the first.
pub fn resolve(
    reg: &Registries,
    images: &[(String, Image)],
    platform: Option<&Platform>,
) -> Result<BTreeMap<String, String>, Vec<String>> {
    let rt = super::runtime().map_err(|e| vec![e])?;
    rt.block_on(async {
        let mut out = BTreeMap::new();
        let mut errors = vec![];
        for (what, img) in images {
            let key = crate::lock::reference(img);
            if out.contains_key(&key) {
                continue;
            }
            match one(reg, img, platform).await {
                Ok(d) => {
                    out.insert(key, d);
                }
                Err(e) => errors.push(format!("{what}: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    })
}

async fn one(reg: &Registries, img: &Image, platform: Option<&Platform>) -> Result<String, String> {
    let r = reference(img);
    let auth = reg.auth.get(r.registry())?;
    let (bytes, digest) = reg
        .client
        .pull_manifest_raw(&r, &auth, super::MANIFEST_TYPES)
        .await
        .map_err(|e| explain(&e, &r, true))?;
    let got = super::digest_of(&bytes);
    if got != digest {
        return Err(format!(
            "{r}: the registry names it {digest} but its content hashes to {got}"
        ));
    }
    let Some(p) = platform else {
        return Ok(digest);
    };
    match super::layout::children(&bytes).map_err(|e| format!("{r}: {e}"))? {
        super::layout::Children::Index(ms) => pick(&ms, p).ok_or_else(|| {
            let have: Vec<String> = ms
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|pl| {
                    let mut s = format!(
                        "{}/{}",
                        pl["os"].as_str().unwrap_or("?"),
                        pl["architecture"].as_str().unwrap_or("?")
                    );
                    if let Some(v) = pl["variant"].as_str() {
                        s += &format!("/{v}");
                    }
                    s
                })
                .collect();
            format!("{r} has no {p} image (it has {})", have.join(", "))
        }),
        // A single-platform image is locked as it is.
        super::layout::Children::Image(_) => Ok(digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::layout::Descriptor;

    fn entry(c: char, platform: serde_json::Value) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: format!("sha256:{}", c.to_string().repeat(64)),
            size: 1,
            platform: Some(platform),
            annotations: Default::default(),
        }
    }

    #[test]
    fn platforms_parse_and_match() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(
            p,
            Platform {
                os: "linux".into(),
                architecture: "arm64".into(),
                variant: Some("v8".into())
            }
        );
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!("linux"
            .parse::<Platform>()
            .unwrap_err()
            .starts_with("`linux` is not a platform"));
        let index = vec![
            entry(
                'a',
                serde_json::json!({"os": "linux", "architecture": "amd64"}),
            ),
            entry(
                'b',
                serde_json::json!({"os": "linux", "architecture": "arm", "variant": "v7"}),
            ),
            entry(
                'c',
                serde_json::json!({"os": "linux", "architecture": "arm64", "variant": "v8"}),
            ),
        ];
        let d = |c: char| Some(format!("sha256:{}", c.to_string().repeat(64)));
        assert_eq!(pick(&index, &"linux/amd64".parse().unwrap()), d('a'));
        assert_eq!(pick(&index, &"linux/arm64".parse().unwrap()), d('c'));
        assert_eq!(pick(&index, &"linux/arm/v7".parse().unwrap()), d('b'));
        assert_eq!(pick(&index, &"linux/arm/v6".parse().unwrap()), None);
        assert_eq!(pick(&index, &"windows/amd64".parse().unwrap()), None);
    }
}
