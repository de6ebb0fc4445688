//! Rendered error examples in the docs, as `meshpack compile` prints them
//! now.

use super::{check_block, root};

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
