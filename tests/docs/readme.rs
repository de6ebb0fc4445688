//! The README: the two commands first, and an example that compiles.

use super::root;

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
