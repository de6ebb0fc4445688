//! Relative links and heading anchors between the pages resolve.

use super::root;
use std::collections::BTreeSet;
use std::path::Path;

/// Pages other branches write; a link to one is checked once it exists.
/// (`docs/checks.md` is generated from the mesh checks on another branch.)
const WRITTEN_ELSEWHERE: &[&str] = &["docs/checks.md"];

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// `path` relative to the root, with `..` resolved without touching the
/// disk (the target may not exist).
fn relative(path: &Path) -> String {
    let mut parts: Vec<String> = vec![];
    for c in path.strip_prefix(root()).unwrap_or(path).components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(n) => parts.push(n.to_string_lossy().into()),
            _ => {}
        }
    }
    parts.join("/")
}

#[test]
fn relative_links_in_the_docs_resolve() {
    let mut pages = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut broken = vec![];
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let shown = page.strip_prefix(root()).unwrap().display().to_string();
        for (i, line) in text.lines().enumerate() {
            for m in link.captures_iter(line) {
                let target = &m[1];
                if target.contains("://") {
                    continue;
                }
                let (file, fragment) = match target.split_once('#') {
                    Some((f, a)) => (f, Some(a)),
                    None => (target, None),
                };
                let path = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().unwrap().join(file)
                };
                let rel = relative(&path);
                if !path.exists() {
                    if !WRITTEN_ELSEWHERE.contains(&rel.as_str()) {
                        broken.push(format!("{shown}:{}: `{target}` does not exist", i + 1));
                    }
                    continue;
                }
                if let Some(a) = fragment {
                    let target_text = std::fs::read_to_string(&path).unwrap_or_default();
                    if !anchors(&target_text).contains(a) {
                        broken.push(format!(
                            "{shown}:{}: `{target}` names no heading of {rel}",
                            i + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn anchors_follow_github() {
    assert_eq!(
        anchor(" V: `meshpack validate`: reading and schema-checking manifests"),
        "v-meshpack-validate-reading-and-schema-checking-manifests"
    );
    assert_eq!(anchor(" Traffic management"), "traffic-management");
}
