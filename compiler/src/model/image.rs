//! How an image reference is written: `registry/repository:tag`, or
//! `registry/repository@digest` once pinned (the digest alone names the
//! image; a tag beside it would be ignored by the runtime).
//!
//! Invariant: the one text of a model's image outside the chart's
//! templates; `diff` and reports use it, never an emitter's helper.

use super::Image;
use std::fmt;

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.registry.is_empty() {
            write!(f, "{}/", self.registry)?;
        }
        f.write_str(&self.repository)?;
        if self.digest.is_empty() {
            write!(f, ":{}", self.tag)
        } else {
            write!(f, "@{}", self.digest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Image;

    fn image(registry: &str, tag: &str, digest: &str) -> Image {
        Image {
            registry: registry.into(),
            repository: "shop/web".into(),
            tag: tag.into(),
            digest: digest.into(),
        }
    }

    #[test]
    fn tags_digests_and_registries() {
        assert_eq!(
            image("registry.example.com", "1.4.0", "").to_string(),
            "registry.example.com/shop/web:1.4.0"
        );
        assert_eq!(image("", "1.4.0", "").to_string(), "shop/web:1.4.0");
        assert_eq!(
            image("quay.io", "1.4.0", "sha256:abc").to_string(),
            "quay.io/shop/web@sha256:abc"
        );
    }
}
