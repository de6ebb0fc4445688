//! "No stage imports a later one" (ARCHITECTURE.md): every `crate::` path
//! outside a module's unit tests names a module its layer may use.
//!
//! The pipeline is `policy` -> `profile` -> `model` (then `lock`) -> `emit`
//! -> `package`; beside it, the manifest side (`manifest` under `validate`
//! and `verify`) never sees the compiler's model except in `verify`'s
//! intent; `actions` sits on top of everything, under `main.rs`.
//! Rust-only: reads `compiler/src`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Modules everything may use: diagnostics, bounded reads, the low-level
/// YAML reader, the typed resources and the allocator's knobs (`heap`).
const BASE: &[&str] = &[
    "diag",
    "heap",
    "codes",
    "fsread",
    "yaml_pos",
    "yaml_write",
    "istio",
    "keyed_hash",
    "gateway_api",
];

/// What each top-level module may use besides [`BASE`] and itself.
/// `(root)` is lib.rs's pipeline (`compile_model`, `compile_policy`,
/// `package`), which only the layers above the stages call.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        // The stages, each only the ones before it.
        ("policy", &[][..]),
        ("profile", &["policy"][..]),
        ("model", &["policy"][..]),
        ("lock", &["policy", "model"][..]),
        // The model is emit's only input: no `policy` types past it (the
        // model has its own enums, converted at resolve time).
        ("emit", &["model"][..]),
        ("package", &["policy", "model", "lock", "emit", "sbom"][..]),
        // Views of a model.
        ("diff", &["model"][..]),
        ("synthetic", &[][..]),
        ("sbom", &["model", "lock"][..]),
        ("import", &["model"][..]),
        // The manifest side: reads manifests only.
        ("manifest", &[][..]),
        ("validate", &["manifest"][..]),
        ("verify", &["manifest", "model"][..]),
        // Delivery.
        ("sign", &[][..]),
        ("oci", &["model", "lock", "package", "sign"][..]),
        // On top of everything.
        (
            "actions",
            &[
                "(root)",
                "policy",
                "profile",
                "model",
                "lock",
                "emit",
                "package",
                "diff",
                "synthetic",
                "sbom",
                "manifest",
                "validate",
                "verify",
                "import",
                "oci",
                "sign",
            ][..],
        ),
    ])
}

/// Known exceptions, each with its reason: (file, module it names).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "import/draft.rs",
        "policy",
        "a draft is written as the current policy apiVersion (policy::POLICY_API_VERSION), never a deprecated one",
    ),
    (
        "synthetic.rs",
        "policy",
        "synthetic policies are written as the current policy apiVersion (policy::POLICY_API_VERSION)",
    ),
    (
        "package/fuzzing.rs",
        "(root)",
        "the fuzz oracles compile the example policy; kept in the library so `cargo test` runs them",
    ),
    (
        "package/fuzzing.rs",
        "manifest",
        "the fuzz oracles read output back as Kubernetes does (manifest::yaml11)",
    ),
];

/// lib.rs's items (`crate::package(..)`, the function, is counted as the
/// `package` module it calls).
const ROOT_ITEMS: &[&str] = &[
    "compile_model",
    "compile_policy",
    "package_only",
    "Compiled",
    "Failure",
    "Output",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its unit tests (from a `#[cfg(test)]`
/// module with a body, `mod tests {`, to the end) and without comments.
fn code(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = (1..lines.len())
        .find(|&i| {
            let l = lines[i].trim();
            lines[i - 1].trim() == "#[cfg(test)]"
                && (l.starts_with("mod ") || l.starts_with("pub(crate) mod "))
                && l.ends_with('{')
        })
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

/// The first segment of every `crate::` path on a line, grouped imports
/// (`use crate::{a, b::c}`) included; a root item is `(root)`.
fn named(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let heads: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let close = group.find('}').unwrap_or(group.len());
            group[..close]
                .split(',')
                .map(|s| s.trim().split("::").next().unwrap_or("").trim())
                .collect()
        } else {
            vec![rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("")]
        };
        for h in heads.into_iter().filter(|h| !h.is_empty() && *h != "self") {
            out.push(if ROOT_ITEMS.contains(&h) {
                "(root)".to_string()
            } else {
                h.to_string()
            });
        }
    }
    out
}

/// Whether `rel` (a file of `module`, which may use `may`) may name `n`.
fn may_use(rel: &str, module: &str, may: &[&str], n: &str) -> bool {
    n == module
        || BASE.contains(&n)
        || may.contains(&n)
        || EXCEPTIONS.iter().any(|(f, m, _)| *f == rel && *m == n)
}

#[test]
fn no_module_imports_a_later_layer() {
    let allowed = allowed();
    let mut all = vec![];
    files(&src(), &mut all);
    all.sort();
    let mut wrong = vec![];
    let mut checked = 0;
    for path in &all {
        let rel = path
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        let Some(may) = allowed.get(module) else {
            continue;
        };
        checked += 1;
        let text = std::fs::read_to_string(path).unwrap();
        for (line, l) in code(&text) {
            for n in named(&l) {
                if !may_use(&rel, module, may, &n) {
                    wrong.push(format!(
                        "compiler/src/{rel}:{line}: `{module}` uses `{n}`, which it may not (allowed: {})",
                        may.join(", ")
                    ));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} files checked: is compiler/src where it was?"
    );
    assert!(
        wrong.is_empty(),
        "{}\nhelp: a stage imports only earlier stages (ARCHITECTURE.md, \"Invariants across the code\"); move the code up a layer (often into `actions`), or add a reasoned exception in tests/layers.rs",
        wrong.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let allowed = allowed();
    let mut missing = vec![];
    for e in std::fs::read_dir(src()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let module = name.trim_end_matches(".rs");
        if ["lib", "main", "airgap_cli", "upgrade_cli"].contains(&module) || BASE.contains(&module)
        {
            continue;
        }
        if !allowed.contains_key(module) {
            missing.push(module.to_string());
        }
    }
    missing.sort();
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "give each module a layer in tests/layers.rs"
    );
}

#[test]
fn paths_are_read_as_the_compiler_reads_them() {
    assert_eq!(named("use crate::model::Model;"), vec!["model"]);
    assert_eq!(
        named("use crate::{compile_policy, fsread, model::Model};"),
        vec!["(root)", "fsread", "model"]
    );
    assert_eq!(
        named("let m = crate::compile_model(t, None); crate::emit::x()"),
        vec!["(root)", "emit"]
    );
    assert_eq!(named("use super::Set;"), Vec::<String>::new());
    assert_eq!(named("let out = crate::package(&m);"), vec!["package"]);
}

#[test]
fn a_back_edge_is_caught() {
    // The rule the first test applies, on made-up lines of `emit`.
    let may = allowed()["emit"];
    let n = &named("    use crate::package::helm::chart;")[0];
    assert_eq!(n, "package");
    assert!(!may_use("emit/routing.rs", "emit", may, n));
    // The model is emit's only input: a policy type past it is refused.
    let n = &named("use crate::policy::MtlsMode;")[0];
    assert_eq!(n, "policy");
    for file in [
        "emit/routing.rs",
        "emit/workload.rs",
        "emit/ambient.rs",
        "emit/mesh.rs",
    ] {
        assert!(!may_use(file, "emit", may, n), "{file} may use policy");
    }
    assert!(may_use("emit/routing.rs", "emit", may, "model"));
}

/// The modules of `emit/` one file of it names (`super::x`,
/// `crate::emit::x`, grouped imports over several lines included), outside
/// its unit tests and comments; `modules` are the names that count.
fn emit_refs(text: &str, modules: &[String]) -> std::collections::BTreeSet<String> {
    let code: String = code(text).into_iter().map(|(_, l)| l + "\n").collect();
    let mut out = std::collections::BTreeSet::new();
    for prefix in ["super::", "crate::emit::"] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let heads: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                // Up to the matching brace, split at the top level.
                let (mut depth, mut end) = (0, group.len());
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            end = j;
                            break;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                let mut parts = vec![];
                let (mut depth, mut start) = (0, 0);
                let inner = &group[..end];
                for (j, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            parts.push(&inner[start..j]);
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                parts.push(&inner[start..]);
                parts
                    .iter()
                    .map(|p| p.trim().split("::").next().unwrap_or("").trim().to_string())
                    .collect()
            } else {
                vec![rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("")
                    .to_string()]
            };
            out.extend(heads.into_iter().filter(|h| modules.contains(h)));
        }
    }
    out
}

/// `emit/`'s files (module name -> code), `mod.rs` apart: it declares the
/// modules and holds the types they share.
fn emit_files() -> BTreeMap<String, String> {
    let dir = src().join("emit");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.extension().is_some_and(|x| x == "rs") && name != "mod" {
            out.insert(name, std::fs::read_to_string(&p).unwrap());
        }
    }
    out
}

/// A cycle in `graph` (module -> modules it names), as a path, if any.
fn cycle(graph: &BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut vec![], &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn emit_modules_import_each_other_without_a_cycle() {
    let files = emit_files();
    let modules: Vec<String> = files.keys().cloned().collect();
    assert!(
        ["registry", "mesh", "workload", "values", "cond"]
            .iter()
            .all(|m| modules.contains(&m.to_string())),
        "emit/ is not where it was: {modules:?}"
    );
    let graph: BTreeMap<String, std::collections::BTreeSet<String>> = files
        .iter()
        .map(|(m, text)| {
            let mut refs = emit_refs(text, &modules);
            refs.remove(m);
            (m.clone(), refs)
        })
        .collect();
    assert_eq!(
        cycle(&graph),
        None,
        "emit modules import each other in a cycle; move what they share into a helper module (emit/registry.rs says which are helpers)"
    );
    // The orchestrator alone names the emitters (the modules it lists).
    let emitters = &graph["registry"];
    assert!(emitters.contains("workload") && emitters.contains("mesh"));
    let mut wrong = vec![];
    for (m, refs) in &graph {
        for e in refs.intersection(emitters) {
            if m != "registry" {
                wrong.push(format!("emit/{m}.rs names the emitter `{e}`"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\nhelp: emitters use only helpers; move the shared piece into a helper module",
        wrong.join("\n")
    );
}

#[test]
fn an_emit_cycle_is_caught() {
    let modules: Vec<String> = ["mesh", "gateway", "values"].map(String::from).to_vec();
    // Grouped over lines, as rustfmt writes them; comments and tests do not count.
    let mesh = "use super::{\n    gateway::istio_file, to_value,\n    values::{self, X},\n};\n// super::nothing\n";
    assert_eq!(
        emit_refs(mesh, &modules).into_iter().collect::<Vec<_>>(),
        ["gateway", "values"]
    );
    let gateway = "fn f() { crate::emit::mesh::guarded(); }\n#[cfg(test)]\nmod tests {\n    use super::values;\n}\n";
    assert_eq!(
        emit_refs(gateway, &modules).into_iter().collect::<Vec<_>>(),
        ["mesh"]
    );
    let graph = BTreeMap::from([
        ("mesh".to_string(), emit_refs(mesh, &modules)),
        ("gateway".to_string(), emit_refs(gateway, &modules)),
        ("values".to_string(), Default::default()),
    ]);
    assert_eq!(
        cycle(&graph),
        Some(vec!["gateway".into(), "mesh".into(), "gateway".into()])
    );
    let graph = BTreeMap::from([
        ("mesh".to_string(), emit_refs(mesh, &modules)),
        ("gateway".to_string(), Default::default()),
    ]);
    assert_eq!(cycle(&graph), None);
}
