//! Image lock files: the `sha256:` digest of every image a release runs
//! (each service and version, and the mesh runtime), so the chart renders
//! `image@sha256:...` and a customer's security team sees exactly what runs.
//!
//! ```yaml
//! apiVersion: meshpack.dev/v1alpha1
//! kind: ImageLock
//! images:
//!   - image: registry.example.com/shop/api:1.4.0      # as `meshpack images` prints it
//!     digest: sha256:<64 hex digits>                  # `meshpack images lock` fills these
//! ```
//!
//! A lock must cover every image; digests the policy pins itself must agree.

use crate::diag::Diagnostic;
use crate::model::{Image, Model};
use crate::policy::{self, load};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LockFile {
    api_version: String,
    kind: String,
    #[serde(default)]
    images: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    image: String,
    digest: String,
}

/// `registry/repository:tag`, the reference a lock entry names.
pub fn reference(i: &Image) -> String {
    let repo = if i.registry.is_empty() {
        i.repository.clone()
    } else {
        format!("{}/{}", i.registry, i.repository)
    };
    format!("{repo}:{}", i.tag)
}

fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// Pin the digests of `text` (a lock file) into the model's images. All
/// problems are reported at once, positioned in the lock file.
pub fn apply(m: &mut Model, text: &str) -> Result<(), Vec<Diagnostic>> {
    let loaded = load::load::<LockFile>(text)?;
    let (doc, spans) = (&loaded.doc, &loaded.spans);
    let mut errors = vec![];
    if doc.api_version != policy::API_VERSION || doc.kind != "ImageLock" {
        errors.push(
            Diagnostic::error("E0301", "not an image lock")
                .at(spans.value("kind"))
                .help(format!(
                    "an image lock starts `apiVersion: {}` and `kind: ImageLock`",
                    policy::API_VERSION
                )),
        );
    }
    let mut pins: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    // Entries already reported: their images are not "missing" as well.
    let mut broken = std::collections::BTreeSet::new();
    for (i, e) in doc.images.iter().enumerate() {
        let at = |field: &str| spans.value(&format!("images[{i}].{field}"));
        let parsed = crate::model::parse_image(&e.image, None);
        match parsed {
            Ok(img) if img.digest.is_empty() && !img.tag.is_empty() => {}
            _ => {
                errors.push(
                    Diagnostic::error("E0302", format!("`{}` is not `repository:tag`", e.image))
                        .at(at("image"))
                        .help("name the image as `meshpack images` prints it, without a digest"),
                );
                continue;
            }
        }
        if !is_digest(&e.digest) {
            errors.push(
                Diagnostic::error("E0303", format!("`{}` is not a sha256 digest", e.digest))
                    .at(at("digest"))
                    .help("write `sha256:` and 64 lower-case hex digits, as `crane digest <image>` prints"),
            );
            broken.insert(e.image.as_str());
            continue;
        }
        if let Some((_, first)) = pins.insert(&e.image, (&e.digest, i)) {
            errors.push(
                Diagnostic::error("E0304", format!("`{}` is locked twice", e.image))
                    .at(at("image"))
                    .help(format!("keep one entry (the other is images[{first}])")),
            );
        }
    }
    let listed = spans.key("images").or(spans.key("kind"));
    for (what, img) in m.images_mut() {
        let r = reference(img);
        match pins.get(r.as_str()) {
            None if img.digest.is_empty() && !broken.contains(r.as_str()) => errors.push(
                Diagnostic::error("E0305", format!("{what}: `{r}` is not in the lock"))
                    .at(listed)
                    .help(format!("run `meshpack images lock` to fill the lock from the registries, or add `- {{image: {r}, digest: sha256:...}}`")),
            ),
            None => {}
            Some((d, _)) if !img.digest.is_empty() && img.digest != *d => errors.push(
                Diagnostic::error(
                    "E0306",
                    format!("{what}: the policy pins `{}`, the lock `{d}`", img.digest),
                )
                .at(listed)
                .help("remove the digest from the policy, or update the lock"),
            ),
            Some((d, _)) => img.digest = d.to_string(),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A lock file for the model's images as they are (digests the policy
/// pins, else empty for the vendor to fill).
pub fn template(m: &Model) -> String {
    let mut s = format!(
        "# Image lock of {} {}: fill each digest (e.g. `crane digest <image>`).\napiVersion: {}\nkind: ImageLock\nimages:\n",
        m.name,
        m.version,
        policy::API_VERSION
    );
    let mut seen = std::collections::BTreeSet::new();
    for (what, img) in m.images() {
        let r = reference(img);
        if seen.insert(r.clone()) {
            s.push_str(&format!(
                "  - image: {r}   # {what}\n    digest: \"{}\"\n",
                img.digest
            ));
        }
    }
    s
}

/// A complete lock: `digests` (by `reference`, as `meshpack images lock`
/// reads them from the registries) for every image of the model.
pub fn filled(m: &Model, digests: &BTreeMap<String, String>, platform: Option<&str>) -> String {
    let mut s = format!(
        "# Image lock of {} {}, written by `meshpack images lock`{}.\napiVersion: {}\nkind: ImageLock\nimages:\n",
        m.name,
        m.version,
        platform.map(|p| format!(" for {p}")).unwrap_or_default(),
        policy::API_VERSION
    );
    let mut seen = std::collections::BTreeSet::new();
    for (what, img) in m.images() {
        let r = reference(img);
        if seen.insert(r.clone()) {
            let d = digests.get(&r).map(String::as_str).unwrap_or(&img.digest);
            s.push_str(&format!("  - image: {r}   # {what}\n    digest: \"{d}\"\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {name: shop}
spec:
  version: 1.0.0
  images: {lock: images.lock}
  mesh: {proxy: docker.io/istio/proxyv2:1.24.2}
  services:
    web: {image: example.com/web:1.0, ports: {http: 8080}}
";

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn digests_are_pinned() {
        let mut m = crate::compile_model(POLICY, None).unwrap();
        let lock = format!(
            "apiVersion: meshpack.dev/v1alpha1\nkind: ImageLock\nimages:\n- {{image: example.com/web:1.0, digest: {}}}\n- {{image: docker.io/istio/proxyv2:1.24.2, digest: {}}}\n",
            digest('a'),
            digest('b')
        );
        apply(&mut m, &lock).unwrap();
        assert_eq!(m.services[0].image.digest, digest('a'));
        assert_eq!(m.mesh.proxy.as_ref().unwrap().digest, digest('b'));
    }

    #[test]
    fn filled_lock_applies() {
        let m = crate::compile_model(POLICY, None).unwrap();
        let digests = BTreeMap::from([
            ("example.com/web:1.0".to_string(), digest('c')),
            ("docker.io/istio/proxyv2:1.24.2".to_string(), digest('d')),
        ]);
        let text = filled(&m, &digests, Some("linux/arm64"));
        assert!(
            text.starts_with(
                "# Image lock of shop 1.0.0, written by `meshpack images lock` for linux/arm64.\n"
            ),
            "{text}"
        );
        let mut again = crate::compile_model(POLICY, None).unwrap();
        apply(&mut again, &text).unwrap();
        assert_eq!(again.services[0].image.digest, digest('c'));
        assert_eq!(again.mesh.proxy.as_ref().unwrap().digest, digest('d'));
    }

    #[test]
    fn errors_name_the_entry() {
        let mut m = crate::compile_model(POLICY, None).unwrap();
        let lock = "apiVersion: meshpack.dev/v1alpha1\nkind: ImageLock\nimages:\n- {image: example.com/web:1.0, digest: sha256:ABC}\n- {image: example.com/web, digest: sha256:abc}\n";
        let errs = apply(&mut m, lock).unwrap_err();
        let got: Vec<String> = errs
            .iter()
            .map(|d| {
                let p = d.pos.expect("positioned");
                format!("{} {}:{} {}", d.code, p.line, p.col, d.message)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                "E0303 4:40 `sha256:ABC` is not a sha256 digest",
                "E0302 5:11 `example.com/web` is not `repository:tag`",
                "E0305 3:1 istio proxy: `docker.io/istio/proxyv2:1.24.2` is not in the lock",
            ]
        );
    }
}
