//! The generated parts of `docs/` are what the code declares now: the error
//! codes (`meshpack::codes`, the mesh checks), the chart's values
//! (`package::values::entries` of the example policies) and the policy
//! language's fields (its JSON Schema). Hermetic: Rust only.
//!
//! Each generated part sits between `<!-- meshpack:NAME -->` and
//! `<!-- /meshpack:NAME -->` in a hand-written page;
//! `UPDATE_GOLDEN=1 cargo test --test docs` rewrites the blocks. Review the
//! diff, never edit a block by hand.

use meshpack::codes::{CODES, FAMILIES};
use meshpack::diag::Severity;
use meshpack::validate::checks::CHECKS;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compare the block `name` of `file` (relative to the root) with `body`,
/// or rewrite it under `UPDATE_GOLDEN=1`.
fn check_block(file: &str, name: &str, body: &str) {
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

// ---- values ----

/// A value's path with the policy's own names replaced by placeholders.
fn generic_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let prev = if i > 0 { parts[i - 1] } else { "" };
        let prev2 = if i > 1 { parts[i - 2] } else { "" };
        let named = match (prev2, prev) {
            (_, "services") if i == 1 => Some("<service>"),
            (_, "gateways") if i == 1 => Some("<gateway>"),
            (_, "versions") if i == 3 => Some("<version>"),
            ("traffic", "split") => Some("<version>"),
            _ => None,
        };
        out.push(named.map(str::to_string).unwrap_or_else(|| p.to_string()));
    }
    out.join(".")
}

fn inline(v: &Value) -> String {
    let text = serde_json::to_string(v).unwrap();
    format!("`{}`", text.replace('|', "\\|"))
}

/// A policy that sets everything the examples leave to the profile, so
/// that a default taken from the policy shows as such.
const OTHER_DEFAULTS: &str = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {name: other}
spec:
  version: 0.1.0
  images: {pullSecrets: [other-secret]}
  defaults:
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {cpu: \"2\", memory: 1Gi}}
    readOnlyRootFilesystem: false
    runAsUser: 20002
  mesh: {proxy: \"docker.io/istio/proxyv2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}
  services:
    web: {image: web:0.1.0, ports: {http: 8080}}
";

/// The values of each input: (label, entries).
fn value_inputs() -> Vec<(String, Vec<meshpack::package::values::Entry>)> {
    let compile = |label: &str, file: &str, text: &str, profile: Option<&str>| {
        let dir = root().join("policies");
        let compiled = meshpack::compile_policy(file, text, profile, &|f| {
            std::fs::read_to_string(dir.join(f))
        })
        .unwrap_or_else(|f| panic!("{}", f.render()));
        (
            label.to_string(),
            meshpack::package::values::entries(&compiled.model),
        )
    };
    let read = |name: &str| std::fs::read_to_string(root().join("policies").join(name)).unwrap();
    vec![
        compile("evalhub", "evalhub.yaml", &read("evalhub.yaml"), None),
        compile("orderflow", "orderflow.yaml", &read("orderflow.yaml"), None),
        compile(
            "evalhub with `profile: ambient`",
            "evalhub.yaml",
            &read("evalhub.yaml"),
            Some("ambient"),
        ),
        compile(
            "a policy with its own `defaults`",
            "other.yaml",
            OTHER_DEFAULTS,
            None,
        ),
    ]
}

fn values_block() -> String {
    let inputs = value_inputs();
    // Generic paths in a merged order: a path first seen in a later input
    // goes after the path that precedes it there.
    let mut order: Vec<String> = vec![];
    let mut description: BTreeMap<String, String> = BTreeMap::new();
    let mut listed: BTreeMap<String, bool> = BTreeMap::new();
    let mut defaults: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for (label, entries) in &inputs {
        let mut cursor = 0;
        for e in entries {
            let g = generic_path(&e.path);
            match order.iter().position(|p| *p == g) {
                Some(i) => cursor = i + 1,
                None => {
                    order.insert(cursor, g.clone());
                    cursor += 1;
                    description.insert(g.clone(), e.description.clone());
                }
            }
            *listed.entry(g.clone()).or_insert(false) |= e.listed;
            let seen = defaults.entry(g).or_default();
            if !seen.iter().any(|(l, _)| l == label) {
                seen.push((label.clone(), e.default.clone()));
            }
        }
    }
    let mut s =
        String::from("| value | default | in values.yaml | what |\n| --- | --- | --- | --- |\n");
    for path in &order {
        let ds = &defaults[path];
        let distinct: BTreeSet<String> = ds.iter().map(|(_, v)| v.to_string()).collect();
        let mut default = if distinct.len() == 1 && !path.contains('<') {
            inline(&ds[0].1)
        } else {
            format!("from the policy, e.g. {} ({})", inline(&ds[0].1), ds[0].0)
        };
        if ds.len() < inputs.len() {
            default.push_str("; only when the policy uses it");
        }
        let shown = if listed[path] {
            "yes"
        } else {
            "where the policy sets it"
        };
        s.push_str(&format!(
            "| `{path}` | {default} | {shown} | {} |\n",
            description[path].replace('|', "\\|")
        ));
    }
    s
}

#[test]
fn values_md_lists_every_value() {
    check_block("docs/values.md", "values", &values_block());
}

// ---- the policy language ----

struct Walker<'a> {
    defs: &'a serde_json::Map<String, Value>,
    rows: Vec<[String; 4]>,
}

impl<'a> Walker<'a> {
    fn resolve(&self, node: &'a Value) -> (&'a Value, Option<&'a str>) {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/$defs/");
                let def = self
                    .defs
                    .get(name)
                    .unwrap_or_else(|| panic!("schema has no $defs/{name}"));
                let (inner, _) = self.resolve(def);
                (inner, Some(name))
            }
            None => (node, None),
        }
    }

    /// The alternatives of a node, without `null` (which only makes a field
    /// optional).
    fn alternatives(&self, node: &'a Value) -> Vec<&'a Value> {
        let (node, _) = self.resolve(node);
        let list = node
            .get("anyOf")
            .or_else(|| node.get("oneOf"))
            .and_then(Value::as_array);
        match list {
            Some(alts) => alts
                .iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .flat_map(|a| self.alternatives(a))
                .collect(),
            None => vec![node],
        }
    }

    fn type_text(&self, node: &'a Value) -> String {
        let alts = self.alternatives(node);
        let mut parts: Vec<String> = vec![];
        for a in alts {
            let t = if let Some(c) = a.get("const") {
                format!(
                    "`{}`",
                    c.as_str().map(str::to_string).unwrap_or(c.to_string())
                )
            } else if let Some(e) = a.get("enum").and_then(Value::as_array) {
                e.iter()
                    .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(" \\| ")
            } else {
                let ty = match a.get("type") {
                    Some(Value::String(t)) => t.clone(),
                    Some(Value::Array(ts)) => ts
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|t| *t != "null")
                        .collect::<Vec<_>>()
                        .join(" or "),
                    _ => String::new(),
                };
                match ty.as_str() {
                    "array" => match a.get("items") {
                        Some(items) => format!("list of {}", self.type_text(items)),
                        None => "list".into(),
                    },
                    "object" if a.get("properties").is_none() => {
                        match a.get("additionalProperties") {
                            Some(v @ Value::Object(_)) => {
                                format!("map of {}", self.type_text(v))
                            }
                            _ => "map".into(),
                        }
                    }
                    "object" => "object".into(),
                    "" => "any".into(),
                    other => other.to_string(),
                }
            };
            if !parts.contains(&t) {
                parts.push(t);
            }
        }
        parts.join(" or ")
    }

    fn description(&self, node: &'a Value) -> String {
        let own = node.get("description").and_then(Value::as_str);
        let via_ref = || {
            let (def, _) = self.resolve(node);
            def.get("description").and_then(Value::as_str)
        };
        own.or_else(via_ref)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|")
    }

    /// Rows for every field below `node`, reached at `path`.
    fn fields(&mut self, node: &'a Value, path: &str, seen: &mut Vec<&'a str>) {
        for alt in self.alternatives(node) {
            if let Some(name) = alt.get("title").and_then(Value::as_str) {
                if seen.contains(&name) {
                    continue;
                }
            }
            if let Some(props) = alt.get("properties").and_then(Value::as_object) {
                let required: Vec<&str> = alt
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for (key, sub) in props {
                    let p = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    self.rows.push([
                        format!("`{p}`"),
                        self.type_text(sub),
                        if required.contains(&key.as_str()) {
                            "yes"
                        } else {
                            ""
                        }
                        .into(),
                        self.description(sub),
                    ]);
                    self.descend(sub, &p, key, seen);
                }
            }
        }
    }

    /// Fields of the objects a field holds: itself, a map's values, a
    /// list's items.
    fn descend(&mut self, node: &'a Value, path: &str, key: &str, seen: &mut Vec<&'a str>) {
        let refs = self.refs(node);
        if refs.iter().any(|r| seen.contains(r)) {
            return;
        }
        let n = seen.len();
        seen.extend(refs);
        self.fields(node, path, seen);
        for alt in self.alternatives(node) {
            if let Some(v @ Value::Object(_)) = alt.get("additionalProperties") {
                let singular = key.strip_suffix('s').unwrap_or("name");
                self.fields(v, &format!("{path}.<{singular}>"), seen);
            }
            if let Some(items) = alt.get("items") {
                self.fields(items, &format!("{path}[]"), seen);
            }
        }
        seen.truncate(n);
    }

    /// The `$defs` a node names, directly or through its alternatives.
    fn refs(&self, node: &'a Value) -> Vec<&'a str> {
        let mut out = vec![];
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            out.push(name);
            out.extend(self.refs(&self.defs[name]));
        }
        for k in ["anyOf", "oneOf"] {
            for a in node.get(k).and_then(Value::as_array).into_iter().flatten() {
                out.extend(self.refs(a));
            }
        }
        out
    }
}

fn fields_block() -> String {
    let schema = meshpack::policy::schema();
    let defs = schema["$defs"].as_object().expect("the schema has $defs");
    let mut w = Walker { defs, rows: vec![] };
    w.fields(&schema, "", &mut vec![]);
    let mut s = String::from("| field | type | required | what |\n| --- | --- | --- | --- |\n");
    for [field, ty, req, what] in &w.rows {
        s.push_str(&format!("| {field} | {ty} | {req} | {what} |\n"));
    }
    s
}

#[test]
fn policy_language_md_lists_every_field() {
    check_block("docs/policy-language.md", "fields", &fields_block());
}

#[test]
fn generic_paths_name_their_placeholders() {
    assert_eq!(
        generic_path("services.api.replicas"),
        "services.<service>.replicas"
    );
    assert_eq!(
        generic_path("services.api.versions.canary.image.tag"),
        "services.<service>.versions.<version>.image.tag"
    );
    assert_eq!(
        generic_path("services.api.traffic.split.stable"),
        "services.<service>.traffic.split.<version>"
    );
    assert_eq!(
        generic_path("gateways.public.hosts"),
        "gateways.<gateway>.hosts"
    );
    assert_eq!(
        generic_path("istio.gateway.namespace"),
        "istio.gateway.namespace"
    );
}

// ---- error examples ----

/// A policy's diagnostics as `meshpack compile` prints them, in a `text`
/// fence.
fn rendered_errors(file: &str, text: &str) -> String {
    let failure = match meshpack::compile_policy(file, text, None, &|f| {
        Err(std::io::Error::other(format!("{f} is not read here")))
    }) {
        Ok(_) => panic!("{file} compiled, but the docs show its errors"),
        Err(f) => f,
    };
    format!(
        "```text\n{}\n```\n",
        failure.render().trim_end_matches('\n')
    )
}

/// Two mistakes in one file: both are reported.
const SHOP_WITH_TYPOS: &str = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata:
  name: shop
spec:
  version: 1.4.0
  services:
    web:
      image: web:1.4.0
      ports: {http: 8080}
      replica: 2
    db:
      image: docker.io/library/postgres:16.4
      ports: {tcp-postgres: 5432}
      workload: Statefulset
  allow:
    - {from: web, to: db}
";

#[test]
fn troubleshooting_md_shows_current_errors() {
    check_block(
        "docs/troubleshooting.md",
        "two-errors",
        &rendered_errors("shop.yaml", SHOP_WITH_TYPOS),
    );
}

#[test]
fn policy_language_md_shows_a_current_error() {
    let text = std::fs::read_to_string(root().join("policies/evalhub.yaml")).unwrap();
    let rule = "    - {from: [api, scheduler, taskrunner], to: postgres}\n";
    assert!(
        text.contains(rule),
        "policies/evalhub.yaml no longer has the rule the docs misspell: {rule}"
    );
    let typo = text.replacen(rule, &rule.replace("postgres}", "postgress}"), 1);
    check_block(
        "docs/policy-language.md",
        "unknown-service",
        &rendered_errors("policies/evalhub.yaml", &typo),
    );
}

// ---- the README ----

#[test]
fn readme_starts_with_the_two_commands() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let first = text
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a ```sh block");
    let commands: Vec<&str> = first
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release -p meshpack -- compile policies/evalhub.yaml -o build/evalhub",
            "bash tests/run.sh",
        ],
        "the README's first block is the two commands a newcomer runs"
    );
    let before = &text[..text.find("```sh\n").unwrap()];
    assert_eq!(
        before, "# meshpack\n\n",
        "nothing but the title comes before the two commands"
    );
}

#[test]
fn readme_example_compiles() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let policy = text
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a ```yaml example");
    let compiled = meshpack::compile_policy("shop.yaml", policy, None, &|f| {
        Err(std::io::Error::other(format!("{f} is not read here")))
    })
    .unwrap_or_else(|f| panic!("the README's example does not compile:\n{}", f.render()));
    let m = &compiled.model;
    let services: Vec<(&str, meshpack::model::Workload)> = m
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.workload))
        .collect();
    use meshpack::model::Workload::{Deployment, StatefulSet};
    assert_eq!(services, [("db", StatefulSet), ("web", Deployment)]);
    let gateways: Vec<(&str, &[String])> = m
        .gateways
        .iter()
        .map(|g| (g.name.as_str(), g.hosts.as_slice()))
        .collect();
    assert_eq!(
        gateways,
        [("public", &["shop.example.com".to_string()][..])]
    );
    let egress: Vec<(&str, u16, &[String])> = m
        .egress
        .iter()
        .map(|e| (e.host.as_str(), e.port, e.from.as_slice()))
        .collect();
    assert_eq!(egress, [("api.stripe.com", 443, &["web".to_string()][..])]);
    // The paths the README's commands use.
    let out = meshpack::package(m);
    assert!(
        out.chart.contains_key("Chart.yaml"),
        "{:?}",
        out.chart.keys()
    );
    assert!(
        out.kustomize
            .contains_key("overlays/istio/kustomization.yaml"),
        "{:?}",
        out.kustomize.keys()
    );
}

// ---- links ----

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

// ---- the code map ----

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
    for dir in ["emit", "model", "package", "policy", "validate", "verify"] {
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
