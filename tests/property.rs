//! Property: for random policies, the chart rendered by real Helm allows
//! exactly what the policy intends, with Istio on and off.
//!
//! Cases: `PROPTEST_CASES` (default 500). Failing seeds are kept in
//! tests/proptest-regressions/property.txt and run first on every run;
//! shrunk failures also become regular tests in tests/policies/good/.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{json, Value};

const NAMES: [&str; 6] = ["alpha", "beta", "gamma", "delta", "eps", "zeta"];
const PORTS: [(&str, u16, bool); 6] = [
    ("http", 8080, true),
    ("http-admin", 8081, true),
    ("grpc", 9090, true),
    ("tcp-db", 5432, false),
    ("tls-x", 9443, false),
    ("redis", 6379, false),
];
const PATHS: [&str; 4] = ["/api/*", "/health", "*.js", "/v1/*"];
const METHODS: [&str; 3] = ["GET", "POST", "DELETE"];

#[derive(Debug, Clone)]
struct Svc {
    name: &'static str,
    ports: Vec<usize>,
    stateful: bool,
}

#[derive(Debug, Clone)]
enum From {
    Svc(usize),
    Gateway,
    Monitoring,
}

#[derive(Debug, Clone)]
struct Rule {
    from: Vec<From>,
    to: Option<usize>, // None: "*"
    ports: Option<Vec<usize>>,
    paths: Vec<usize>,
    methods: Vec<usize>,
}

fn services() -> impl Strategy<Value = Vec<Svc>> {
    (1usize..=5).prop_flat_map(|n| {
        proptest::collection::vec(
            (
                proptest::sample::subsequence((0..PORTS.len()).collect::<Vec<_>>(), 1..=3),
                any::<bool>(),
            ),
            n,
        )
        .prop_map(move |v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (ports, stateful))| Svc {
                    name: NAMES[i],
                    ports,
                    stateful,
                })
                .collect()
        })
    })
}

fn rule(n: usize) -> impl Strategy<Value = Rule> {
    let from = proptest::collection::vec(
        prop_oneof![6 => (0..n).prop_map(From::Svc), 1 => Just(From::Gateway), 1 => Just(From::Monitoring)],
        1..=3,
    );
    (
        from,
        prop_oneof![5 => (0..n).prop_map(Some), 1 => Just(None)],
        proptest::option::of(proptest::collection::vec(0..3usize, 1..=2)),
        proptest::collection::vec(0..PATHS.len(), 0..=2),
        proptest::collection::vec(0..METHODS.len(), 0..=2),
    )
        .prop_map(|(from, to, ports, paths, methods)| Rule {
            from,
            to,
            ports,
            paths,
            methods,
        })
}

/// (services, rules, permissive mTLS, egress (host, from), gateway)
type Shape = (Vec<Svc>, Vec<Rule>, bool, Vec<(usize, Vec<usize>)>, bool);

fn policy() -> impl Strategy<Value = Shape> {
    services().prop_flat_map(|svcs| {
        let n = svcs.len();
        (
            Just(svcs),
            proptest::collection::vec(rule(n), 0..=6),
            any::<bool>(),
            proptest::collection::vec((0..2usize, proptest::collection::vec(0..n, 1..=2)), 0..=2),
            any::<bool>(),
        )
    })
}

/// Build a valid policy from the generated shape: port lists are narrowed
/// to what the destination has, HTTP fields only on HTTP-only port lists.
fn to_yaml(
    svcs: &[Svc],
    rules: &[Rule],
    permissive: bool,
    egress: &[(usize, Vec<usize>)],
    gateway: bool,
) -> String {
    let mut services = serde_json::Map::new();
    for s in svcs {
        let ports: serde_json::Map<String, Value> = s
            .ports
            .iter()
            .map(|p| (PORTS[*p].0.to_string(), json!(PORTS[*p].1)))
            .collect();
        let mut v = json!({"image": format!("example.com/{}:1.0", s.name), "ports": ports});
        if s.stateful {
            v["workload"] = json!("StatefulSet");
        }
        services.insert(s.name.to_string(), v);
    }
    let http_port = |s: &Svc| s.ports.iter().copied().find(|p| PORTS[*p].2);
    let gw_target = svcs
        .iter()
        .position(|s| http_port(s).is_some())
        .filter(|_| gateway);
    let mut allow = vec![];
    for r in rules {
        let from: Vec<Value> = r
            .from
            .iter()
            .filter_map(|f| match f {
                From::Svc(i) => Some(json!(svcs[*i].name)),
                From::Gateway => gw_target.map(|_| json!("gateway/pub")),
                From::Monitoring => {
                    Some(json!({"namespace": "monitoring", "serviceAccount": "prom"}))
                }
            })
            .collect();
        if from.is_empty() {
            continue;
        }
        let mut rule = json!({"from": from});
        match r.to {
            None => rule["to"] = json!("*"),
            Some(d) => {
                let dest = &svcs[d];
                rule["to"] = json!(dest.name);
                if let Some(picks) = &r.ports {
                    let ports: Vec<usize> = picks
                        .iter()
                        .map(|i| dest.ports[i % dest.ports.len()])
                        .collect();
                    let mut names: Vec<&str> = ports.iter().map(|p| PORTS[*p].0).collect();
                    names.sort();
                    names.dedup();
                    rule["ports"] = json!(names);
                    if ports.iter().all(|p| PORTS[*p].2) {
                        if !r.paths.is_empty() {
                            rule["paths"] =
                                json!(r.paths.iter().map(|i| PATHS[*i]).collect::<Vec<_>>());
                        }
                        if !r.methods.is_empty() {
                            rule["methods"] =
                                json!(r.methods.iter().map(|i| METHODS[*i]).collect::<Vec<_>>());
                        }
                    }
                }
            }
        }
        allow.push(rule);
    }
    let mut spec = json!({
        "version": "0.1.0",
        "mtls": if permissive { "PERMISSIVE" } else { "STRICT" },
        "services": services,
        "allow": allow,
    });
    if let Some(t) = gw_target {
        spec["gateways"] = json!({"pub": {"hosts": ["app.example.com"], "routes": [{"prefix": "/", "to": svcs[t].name}]}});
        spec["allow"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": "gateway/pub", "to": svcs[t].name}));
    }
    let hosts = ["api.example.com", "*.storage.example.net"];
    let eg: Vec<Value> = egress
        .iter()
        .map(|(h, from)| json!({"host": hosts[*h], "port": 443, "from": from.iter().map(|i| svcs[*i].name).collect::<Vec<_>>()}))
        .collect();
    if !eg.is_empty() {
        spec["egress"] = json!(eg);
    }
    serde_yaml::to_string(&json!({"apiVersion": "meshpack.dev/v1alpha1", "kind": "MeshPolicy", "metadata": {"name": "prop"}, "spec": spec})).unwrap()
}

/// Compile, render with Helm without Istio, with sidecars and ambient, and compare with the intent.
fn check(policy: &str, helm_version: &str) -> Result<(), String> {
    let model = meshpack::compile_model(policy, None)
        .map_err(|d| format!("generated policy does not compile: {d:?}\n{policy}"))?;
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("prop");
    meshpack::package::write_dir(
        &chart,
        &meshpack::package::helm::chart(&model),
        "test",
        false,
    )
    .unwrap();
    let istio = istio_args(&[]);
    // Ambient too: ztunnel, a waypoint for L7 rules, HBONE through NetworkPolicies.
    let mut ambient = istio.clone();
    ambient.extend(["--set", "istio.dataplane=ambient"]);
    for args in [vec![], istio, ambient] {
        let objs = parse(&template(helm_version, &chart, "prop", &args));
        let diffs = verify_differences(&model, objs, "default");
        if !diffs.is_empty() {
            return Err(format!(
                "{helm_version} {args:?}: {}\n{policy}",
                diffs.join("\n")
            ));
        }
    }
    Ok(())
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(500);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/proptest-regressions/property.txt"
        )))),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn rendered_charts_allow_exactly_the_intent((svcs, rules, permissive, egress, gateway) in policy(), helm3 in any::<bool>()) {
        let yaml = to_yaml(&svcs, &rules, permissive, &egress, gateway);
        let h = if helm3 { "helm3" } else { "helm4" };
        if let Err(e) = check(&yaml, h) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Shrunk failures of the property and hand-picked corner cases, kept as
/// plain tests (tests/policies/good/).
#[test]
fn regression_policies_verify() {
    let dir = root().join("tests/policies/good");
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(!entries.is_empty(), "{} is empty", dir.display());
    for e in entries {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        for h in HELMS {
            check(&text, h).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}
