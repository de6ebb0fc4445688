//! The generated parts of `docs/` are what the code declares now: the error
//! codes (`meshpack::codes`, the mesh checks), the chart's values
//! (`package::values::entries` of the example policies) and the policy
//! language's fields (its JSON Schema). Hermetic: Rust only.
//!
//! Each generated part sits between `<!-- meshpack:NAME -->` and
//! `<!-- /meshpack:NAME -->` in a hand-written page;
//! `UPDATE_GOLDEN=1 cargo test --test docs` rewrites the blocks. Review the
//! diff, never edit a block by hand.

use std::path::{Path, PathBuf};

#[path = "docs/code_map.rs"]
mod code_map;
#[path = "docs/codes.rs"]
mod codes;
#[path = "docs/examples.rs"]
mod examples;
#[path = "docs/fields.rs"]
mod fields;
#[path = "docs/links.rs"]
mod links;
#[path = "docs/readme.rs"]
mod readme;
#[path = "docs/values.rs"]
mod values;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compare the block `name` of `file` (relative to the root) with `body`,
/// or rewrite it under `UPDATE_GOLDEN=1`.
pub fn check_block(file: &str, name: &str, body: &str) {
    let path = root().join(file);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let open = format!("<!-- meshpack:{name} -->\n");
    let close = format!("<!-- /meshpack:{name} -->");
    let a = text
        .find(&open)
        .unwrap_or_else(|| panic!("{file} has no line `{}`", open.trim_end()))
        + open.len();
    let b = text[a..]
        .find(&close)
        .unwrap_or_else(|| panic!("{file} has no line `{close}` after `{}`", open.trim_end()))
        + a;
    if text[a..b] == *body {
        return;
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        text.replace_range(a..b, body);
        std::fs::write(&path, text).unwrap();
    } else {
        let diff = similar::TextDiff::from_lines(&text[a..b], body)
            .unified_diff()
            .header("committed", "generated")
            .to_string();
        panic!(
            "{file}: the `{name}` block is stale; run `UPDATE_GOLDEN=1 cargo test --test docs` and review the diff:\n{diff}"
        );
    }
}
