//! `graph`, `diff` and `images`: views of compiled policies, each in the
//! formats the command offers.
//!
//! Invariant: a view reads models only (compiled by `actions::policy`);
//! it writes nothing.

use super::{policy, Error};
use crate::emit::graph;
use crate::{diff, model::Model};
use std::path::Path;

/// How a graph is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    // Laid out by meshpack; no Graphviz needed.
    Svg,
}

/// How a diff is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    // A pull-request comment.
    Markdown,
}

/// How the image list is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImagesFormat {
    // One reference per line.
    Text,
    Json,
    // An image lock to fill with digests.
    Lock,
}

/// The intended graph of a policy.
pub fn graph(path: &Path, profile: Option<&str>, format: GraphFormat) -> Result<String, Error> {
    let m = policy::load_model(path, profile)?;
    let g = graph::build(&m);
    Ok(match format {
        GraphFormat::Dot => graph::dot(&g),
        GraphFormat::Svg => graph::svg(&g),
        GraphFormat::Mermaid => graph::mermaid(&g),
    })
}

/// What changes between two versions of a policy (each compiled with
/// `actions::policy::load_model`, so that both report their errors).
pub fn diff(old: &Model, new: &Model, format: DiffFormat) -> String {
    let d = diff::diff(old, new);
    match format {
        DiffFormat::Markdown => diff::markdown(&d),
        DiffFormat::Text => diff::text(&d),
    }
}

/// Every image a policy's chart can render (mirrored to `registry` when
/// given), in a format.
pub fn images(m: &Model, registry: Option<&str>, format: ImagesFormat) -> String {
    let list = crate::package::bundle::images(m, registry);
    match format {
        ImagesFormat::Lock => crate::lock::template(m),
        ImagesFormat::Json => serde_json::to_string_pretty(&list).expect("json") + "\n",
        ImagesFormat::Text => list.iter().map(|i| format!("{i}\n")).collect(),
    }
}

/// [`images`] of a policy file.
pub fn images_of(
    path: &Path,
    profile: Option<&str>,
    registry: Option<&str>,
    format: ImagesFormat,
) -> Result<String, Error> {
    let m = policy::load_model(path, profile)?;
    Ok(images(&m, registry, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_in_each_format() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/evalhub.yaml"
        ))
        .unwrap();
        let m = crate::compile_model(&text, None).unwrap();
        let list = crate::package::bundle::images(&m, Some("mirror.corp:5000"));
        assert_eq!(
            images(&m, Some("mirror.corp:5000"), ImagesFormat::Text),
            list.iter().map(|i| format!("{i}\n")).collect::<String>()
        );
        let json: Vec<String> =
            serde_json::from_str(&images(&m, Some("mirror.corp:5000"), ImagesFormat::Json))
                .unwrap();
        assert_eq!(json, list);
        assert_eq!(
            images(&m, None, ImagesFormat::Lock),
            crate::lock::template(&m)
        );
    }
}
