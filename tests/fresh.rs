//! The committed `charts/` and `kustomize/` are what `policies/` compile to
//! now. Hermetic (Rust only), so plain `cargo test` catches a stale output;
//! `meshpack compile` regenerates them.

use std::process::Command;

#[test]
fn committed_outputs_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .args(["compile", "--check"])
        .current_dir(&root)
        .output()
        .expect("run meshpack");
    assert!(
        out.status.success(),
        "charts/ or kustomize/ differ from what policies/ compile to; run `cargo run -p meshpack -- compile` and review the diff:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
