//! The README shows the example's graph and matrix as meshpack prints them
//! now. `UPDATE_GOLDEN=1 cargo test --test readme` rewrites the blocks.

mod common;

use common::*;
use std::process::Command;

fn block(text: &str, name: &str) -> (usize, usize) {
    let open = format!("<!-- meshpack:{name} -->\n");
    let close = format!("<!-- /meshpack:{name} -->");
    let a = text
        .find(&open)
        .unwrap_or_else(|| panic!("README has no {open}"))
        + open.len();
    let b = text[a..]
        .find(&close)
        .unwrap_or_else(|| panic!("README has no {close}"))
        + a;
    (a, b)
}

#[test]
fn readme_shows_the_current_graph_and_matrix() {
    let bin = env!("CARGO_BIN_EXE_meshpack");
    let policy = root().join("policies/evalhub.yaml");
    let graph = run(Command::new(bin).args(["graph"]).arg(&policy));
    let args = istio_args(&[]);
    let rendered = template("helm4", &root().join("charts/evalhub"), "evalhub", &args);
    let (_, matrix) = meshpack_stdin(&["matrix", "-o", "markdown", "-"], &rendered);

    let path = root().join("README.md");
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
                panic!("README's {name} block is stale; run UPDATE_GOLDEN=1 cargo test --test readme and review the diff");
            }
        }
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
    }
}
