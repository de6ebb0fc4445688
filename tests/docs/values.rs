//! `docs/values.md`: every chart value, from `package::values::entries`.

use super::{check_block, root};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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
            (_, "secrets") if i == 1 => Some("<secret>"),
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
                    description.insert(g.clone(), e.description.to_string());
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
