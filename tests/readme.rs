//! `docs/verify.md` shows the example's graph and matrix as meshpack prints
//! them now (the matrix of a real Helm render, so this needs the `tools`
//! feature). `UPDATE_GOLDEN=1 cargo test --features meshpack/tools --test
//! readme` rewrites the blocks.

mod common;

use common::*;
use std::process::Command;

/// The page with the generated blocks, relative to the repository root.
const DOC: &str = "docs/verify.md";

fn block(text: &str, name: &str) -> (usize, usize) {
    let open = format!("<!-- meshpack:{name} -->\n");
    let close = format!("<!-- /meshpack:{name} -->");
    let a = text
        .find(&open)
        .unwrap_or_else(|| panic!("{DOC} has no {open}"))
        + open.len();
    let b = text[a..]
        .find(&close)
        .unwrap_or_else(|| panic!("{DOC} has no {close}"))
        + a;
    (a, b)
}

#[test]
fn verify_doc_shows_the_current_graph_and_matrix() {
    let bin = env!("CARGO_BIN_EXE_meshpack");
    let policy = root().join("policies/evalhub.yaml");
    let graph = run(Command::new(bin).args(["graph"]).arg(&policy));
    let args = istio_args(&[]);
    let rendered = template("helm4", &root().join("charts/evalhub"), "evalhub", &args);
    let (_, matrix) = meshpack_stdin(&["matrix", "-o", "markdown", "-"], &rendered);

    let path = root().join(DOC);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (name, body) in [
        ("graph", format!("```mermaid\n{graph}```\n")),
        ("matrix", matrix),
    ] {
        let (a, b) = block(&text, name);
        if text[a..b] != body {
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                text.replace_range(a..b, &body);
            } else {
                panic!("{DOC}: the {name} block is stale; run `UPDATE_GOLDEN=1 cargo test --features meshpack/tools --test readme` and review the diff");
            }
        }
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
    }
}
