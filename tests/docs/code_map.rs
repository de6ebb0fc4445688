//! ARCHITECTURE.md's code map names every module.

use super::root;

#[test]
fn architecture_md_maps_every_module() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let src = root().join("compiler/src");
    let mut missing = vec![];
    // Top-level modules, as `name.rs` or `name/`.
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("pub(crate) mod "))
            .or_else(|| line.strip_prefix("mod "))
            .and_then(|rest| rest.strip_suffix(';'))
        {
            if !text.contains(&format!("`{name}.rs`")) && !text.contains(&format!("`{name}/`")) {
                missing.push(format!("module `{name}`"));
            }
        }
    }
    // The files of each stage folder; `istio/` and `validate/checks/` are
    // one kind or one check per file and are described as families.
    for dir in [
        "actions", "emit", "manifest", "model", "package", "policy", "validate", "verify",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(src.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name != "mod.rs" && !text.contains(&format!("`{name}`")) {
                missing.push(format!("{dir}/{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name: {}; say what each does and its invariant",
        missing.join(", ")
    );
}
