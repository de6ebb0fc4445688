//! Every code in the source is registered; `docs/errors.md` lists them.

use super::{check_block, root};
use meshpack::codes::{CODES, FAMILIES};
use meshpack::diag::Severity;
use meshpack::validate::checks::CHECKS;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code literals (`"E0231"`, `"M003"`, `"V004"`) in `compiler/src`, with
/// the first place each is used; `compiler/src/codes.rs` (the registry)
/// is left out.
fn code_literals() -> BTreeMap<String, String> {
    let src = root().join("compiler/src");
    let re = regex::Regex::new(r#""([EMV][0-9]{3,4})""#).unwrap();
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        if f.ends_with("codes.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            for m in re.captures_iter(line) {
                let shown = format!(
                    "{}:{}",
                    f.strip_prefix(root()).unwrap_or(&f).display(),
                    i + 1
                );
                out.entry(m[1].to_string()).or_insert(shown);
            }
        }
    }
    out
}

/// `# expect: CODE ...` lines of the bad-input corpora: code -> files.
fn corpus_examples() -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dir in ["tests/policies/bad", "tests/manifests/invalid"] {
        let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let name = format!("{dir}/{}", f.file_name().unwrap().to_string_lossy());
            for line in text.lines() {
                if let Some(rest) = line.trim_start().strip_prefix("# expect:") {
                    let code = rest.split_whitespace().next().unwrap_or("").to_string();
                    let files = out.entry(code).or_default();
                    if !files.contains(&name) {
                        files.push(name.clone());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_code_in_the_source_is_registered_and_every_registered_code_is_used() {
    let used = code_literals();
    let registered: BTreeSet<&str> = CODES.iter().map(|c| c.code).collect();
    let checks: BTreeSet<&str> = CHECKS.iter().map(|c| c.code).collect();
    let mut problems = vec![];
    for (code, at) in &used {
        let known = if code.starts_with('M') {
            checks.contains(code.as_str())
        } else {
            registered.contains(code.as_str())
        };
        if !known {
            problems.push(format!(
                "{at}: `{code}` is not registered; add it to {}",
                if code.starts_with('M') {
                    "validate::checks::CHECKS"
                } else {
                    "compiler/src/codes.rs"
                }
            ));
        }
    }
    for code in registered.iter().chain(&checks) {
        if !used.contains_key(*code) {
            problems.push(format!(
                "`{code}` is registered but no code in compiler/src reports it; remove it (and never reuse the code)"
            ));
        }
    }
    for (code, files) in corpus_examples() {
        if !registered.contains(code.as_str()) && !checks.contains(code.as_str()) {
            problems.push(format!(
                "{}: `# expect: {code}` names no registered code",
                files[0]
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn errors_block() -> String {
    let examples = corpus_examples();
    // Integration tests that name a code, for the codes no corpus file has.
    let mut tests: Vec<PathBuf> = std::fs::read_dir(root().join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && !p.ends_with("docs.rs"))
        .collect();
    tests.sort();
    let tests: Vec<(String, String)> = tests
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    let example = |code: &str| match examples.get(code).map(Vec::as_slice) {
        None | Some([]) => {
            let named: Vec<String> = tests
                .iter()
                .filter(|(_, text)| {
                    text.contains(&format!("[{code}]")) || text.contains(&format!("\"{code}\""))
                })
                .map(|(name, _)| format!("[{name}](../tests/{name})"))
                .collect();
            if named.is_empty() {
                "none".to_string()
            } else {
                named.join(", ")
            }
        }
        Some([first, rest @ ..]) => {
            let name = first.rsplit('/').next().unwrap();
            let more = if rest.is_empty() {
                String::new()
            } else {
                format!(" (+{})", rest.len())
            };
            format!("[{name}](../{first}){more}")
        }
    };
    let mut s = String::new();
    for (prefix, title) in FAMILIES {
        s.push_str(&format!("### {prefix}: {title}\n\n"));
        s.push_str("| code | what was found | what to do | example |\n| --- | --- | --- | --- |\n");
        for c in CODES.iter().filter(|c| c.code.starts_with(prefix)) {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.code,
                c.summary,
                c.action,
                example(c.code)
            ));
        }
        s.push('\n');
    }
    s.push_str("### M: mesh checks of `meshpack validate`\n\n");
    s.push_str("What each finding means and how to fix it: [checks.md](checks.md).\n\n");
    s.push_str("| code | severity | finding | example |\n| --- | --- | --- | --- |\n");
    for c in CHECKS {
        let sev = match c.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        s.push_str(&format!(
            "| {} | {sev} | {} | {} |\n",
            c.code,
            c.summary.replace('|', "\\|"),
            example(c.code)
        ));
    }
    s
}

#[test]
fn errors_md_lists_every_code() {
    check_block("docs/errors.md", "errors", &errors_block());
}
