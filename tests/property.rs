//! Property: for random policies, the chart rendered by real Helm allows
//! exactly what the policy intends, with Istio on and off (and ambient);
//! sources include single versions of a service (`from: alpha@v2`).
//!
//! Cases: `PROPTEST_CASES` (default 500). Failing seeds are kept in
//! tests/proptest-regressions/property.txt and run first on every run;
//! shrunk failures also become regular tests in tests/policies/good/.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{json, Value};
use std::process::Command;

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
    /// Two versions, `v1` and `v2` (a Deployment only).
    versioned: bool,
}

impl Svc {
    fn has_versions(&self) -> bool {
        self.versioned && !self.stateful
    }
}

#[derive(Debug, Clone)]
enum From {
    Svc(usize),
    /// `<service>@v<1 + version>`, where the service has versions.
    Version(usize, usize),
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
                any::<bool>(),
            ),
            n,
        )
        .prop_map(move |v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (ports, stateful, versioned))| Svc {
                    name: NAMES[i],
                    ports,
                    stateful,
                    versioned,
                })
                .collect()
        })
    })
}

fn rule(n: usize) -> impl Strategy<Value = Rule> {
    let from = proptest::collection::vec(
        prop_oneof![
            6 => (0..n).prop_map(From::Svc),
            2 => (0..n, 0..2usize).prop_map(|(i, v)| From::Version(i, v)),
            1 => Just(From::Gateway),
            1 => Just(From::Monitoring)
        ],
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
        if s.has_versions() {
            v["versions"] = json!({"v1": {}, "v2": {"replicas": 2}});
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
                From::Version(i, v) if svcs[*i].has_versions() => {
                    Some(json!(format!("{}@v{}", svcs[*i].name, v + 1)))
                }
                From::Version(i, _) => Some(json!(svcs[*i].name)),
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

// ---- Hostile alphabets (issue 16) ----
//
// Policies whose names and free-text fields draw from YAML 1.1 words,
// numbers YAML may read as numbers, newlines, quotes, template braces,
// unicode and boundary lengths. Every policy `compile` accepts must render
// with Helm 3 and 4, lint clean (--strict), carry no truthy word, and
// validate, with Istio on and off (and, with a gateway, the Gateway API's
// form against its upstream CRDs, whose list limits make a gateway of many
// hosts or routes split its HTTPRoutes); every policy it refuses must
// leave the output as it was. Cases: `HOSTILE_CASES` (default 32).

const WORDS: [&str; 16] = [
    "on", "off", "yes", "no", "y", "n", "true", "null", "web", "api", "a", "010", "1e3", "0x1f",
    "v2", "db",
];
const PIECES: [&str; 16] = [
    "\n",
    "\"",
    "'",
    "{{",
    "}}",
    "{{ .Release.Name }}",
    ": ",
    " #",
    "é",
    "\u{200b}",
    "\t",
    "\\",
    "- ",
    "mpx1x",
    " ",
    "&a *a",
];

fn hostile_name() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => proptest::sample::select(WORDS.to_vec()).prop_map(str::to_string),
        4 => (proptest::sample::select(WORDS.to_vec()), proptest::sample::select(WORDS.to_vec()))
            .prop_map(|(a, b)| format!("{a}-{b}")),
        1 => (1usize..=3).prop_map(|k| "a".repeat(60 + k)),
        2 => (proptest::sample::select(WORDS.to_vec()), proptest::sample::select(PIECES.to_vec()))
            .prop_map(|(a, p)| format!("{a}{p}")),
    ]
}

/// Names that become Kubernetes names: mostly valid ones YAML 1.1 would
/// misread (so that most policies compile and reach Helm), sometimes any
/// hostile name (which compile must refuse, changing nothing).
const LABEL_WORDS: [&str; 11] = [
    "on", "off", "yes", "no", "y", "n", "true", "null", "a", "v2", "web",
];

fn k8s_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(LABEL_WORDS.to_vec()).prop_map(str::to_string),
        3 => (proptest::sample::select(LABEL_WORDS.to_vec()), proptest::sample::select(LABEL_WORDS.to_vec()))
            .prop_map(|(a, b)| format!("{a}-{b}")),
        1 => (41usize..=44).prop_map(|k| "a".repeat(k)),
        2 => hostile_name(),
    ]
}

fn hostile_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(WORDS.to_vec()),
            proptest::sample::select(PIECES.to_vec())
        ],
        1..=4,
    )
    .prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
struct Hostile {
    services: Vec<(String, String, String, Option<String>)>, // name, env key, env value, storage class
    versions: Option<(String, String)>,
    registry: Option<String>,
    pull_secret: Option<String>,
    description: String,
    path: String,
    gateway: Option<(String, String, String)>, // name, credentialName, issuer
    external: Option<String>,                  // an external service's name
    egress: Vec<(String, u16, Option<String>)>, // host, port, protocol
    route_path: String,                        // the gateway route's prefix
    gateway_size: (usize, usize, bool),        // hosts, routes, httpsRedirect
}

impl Hostile {
    /// One service `web` with nothing hostile, and `gateway` of `size`.
    fn plain(gateway: Option<(String, String, String)>, size: (usize, usize, bool)) -> Self {
        Hostile {
            services: vec![("web".into(), "A".into(), "b".into(), None)],
            versions: None,
            registry: None,
            pull_secret: None,
            description: "d".into(),
            path: "x".into(),
            gateway,
            external: None,
            egress: vec![],
            route_path: "/".into(),
            gateway_size: size,
        }
    }
}

fn hostile() -> impl Strategy<Value = Hostile> {
    (
        proptest::collection::vec(
            (
                k8s_name(),
                hostile_name(),
                hostile_text(),
                proptest::option::of(k8s_name()),
            ),
            1..=3,
        ),
        proptest::option::of((k8s_name(), k8s_name())),
        proptest::option::of(prop_oneof![
            4 => Just("quay.io/team".to_string()),
            1 => hostile_text()
        ]),
        proptest::option::of(k8s_name()),
        hostile_text(),
        hostile_text(),
        proptest::option::of((k8s_name(), k8s_name(), k8s_name())),
        proptest::option::of(k8s_name()),
        proptest::collection::vec(
            (
                proptest::sample::select(EGRESS_HOSTS.to_vec()).prop_map(str::to_string),
                proptest::sample::select(vec![443u16, 8443]),
                proptest::option::of(
                    proptest::sample::select(vec!["TLS", "TCP", "HTTPS"]).prop_map(str::to_string),
                ),
            ),
            0..=3,
        ),
        proptest::sample::select(ROUTE_PATHS.to_vec()).prop_map(str::to_string),
        prop_oneof![
            3 => Just((1usize, 1usize, false)),
            2 => (1usize..=40, 1usize..=40, any::<bool>()),
        ],
    )
        .prop_map(
            |(
                services,
                versions,
                registry,
                pull_secret,
                description,
                path,
                gateway,
                external,
                egress,
                route_path,
                gateway_size,
            )| {
                Hostile {
                    services,
                    versions,
                    registry,
                    pull_secret,
                    description,
                    path,
                    gateway,
                    external,
                    egress,
                    route_path,
                    gateway_size,
                }
            },
        )
}

/// Egress hosts: one twice (two ports, maybe two protocols), and two whose
/// slugs collide.
const EGRESS_HOSTS: [&str; 3] = ["api.example.com", "a-b.example.com", "a.b-example.com"];

/// Route prefixes, most of which the HTTPRoute and Ingress APIs refuse.
const ROUTE_PATHS: [&str; 8] = [
    "/",
    "/api",
    "/api//v1",
    "/a b",
    "/x/../y",
    "/%2fetc",
    "/ok#frag",
    "/caf\u{e9}",
];

fn hostile_yaml(h: &Hostile) -> String {
    let mut services = serde_json::Map::new();
    for (i, (name, k, v, class)) in h.services.iter().enumerate() {
        let image = if h.registry.is_some() {
            "app:1.0"
        } else {
            "example.com/app:1.0"
        };
        let mut s = json!({"image": image, "ports": {"http": 8080}, "env": {k.clone(): v}});
        if let (0, Some((a, b))) = (i, &h.versions) {
            s["versions"] = json!({a.clone(): {}, b.clone(): {}});
            s["traffic"] = json!({"split": {a.clone(): 50, b.clone(): 50}});
        } else if let Some(c) = class {
            s["workload"] = json!("StatefulSet");
            s["storage"] = json!({"size": "1Gi", "storageClassName": c});
        }
        services.insert(name.clone(), s);
    }
    let first = &h.services[0].0;
    let mut allow = vec![
        json!({"from": first, "to": "*", "ports": ["http"], "paths": [format!("/{}", h.path)]}),
    ];
    let egress: Vec<Value> = h
        .egress
        .iter()
        .map(|(host, port, proto)| {
            let mut e = json!({"host": host, "port": port, "from": first});
            if let Some(p) = proto {
                e["protocol"] = json!(p);
            }
            e
        })
        .collect();
    let mut spec =
        json!({"version": "1.0.0", "chart": {"description": h.description}, "services": services});
    let mut images = serde_json::Map::new();
    if let Some(r) = &h.registry {
        images.insert("registry".into(), json!(r));
    }
    if let Some(p) = &h.pull_secret {
        images.insert("pullSecrets".into(), json!([p]));
    }
    if !images.is_empty() {
        spec["images"] = Value::Object(images);
    }
    if let Some((g, cred, issuer)) = &h.gateway {
        let (hosts, routes, redirect) = h.gateway_size;
        let mut host_names = vec!["app.example.com".to_string()];
        host_names.extend((1..hosts).map(|i| format!("h{i}.example.com")));
        spec["gateways"] = json!({g.clone(): {"hosts": host_names,
            "tls": {"credentialName": cred, "certManager": {"issuer": issuer}},
            "httpsRedirect": redirect,
            "routes": gateway_routes(&h.route_path, routes, hosts, first)}});
        allow.push(json!({"from": format!("gateway/{g}"), "to": first}));
    }
    if let Some(x) = &h.external {
        spec["services"][x] =
            json!({"external": {"host": "db.example.com", "ports": {"tcp-pg": 5432}}});
        allow.push(json!({"from": first, "to": x}));
    }
    if !egress.is_empty() {
        spec["egress"] = json!(egress);
    }
    spec["allow"] = json!(allow);
    serde_yaml::to_string(&json!({"apiVersion": "meshpack.dev/v1alpha1", "kind": "MeshPolicy", "metadata": {"name": "hp"}, "spec": spec})).unwrap()
}

/// A gateway's routes: the drawn prefix, then as many more as drawn:
/// routes on `/` with one header each (which tie in the Gateway API's
/// precedence and must share an HTTPRoute), distinct prefixes, and routes
/// for one host (their own HTTPRoutes). Over 16 hosts or 16 routes of one
/// host set, the Gateway API's form splits its HTTPRoutes; over 64
/// listeners (33 hosts with `httpsRedirect`) compile refuses.
fn gateway_routes(path: &str, n: usize, hosts: usize, to: &str) -> Vec<Value> {
    let mut routes = vec![json!({"prefix": path, "to": to})];
    for i in 1..n {
        routes.push(match i % 3 {
            0 => json!({"prefix": "/", "headers": {"x-team": format!("t{i}")}, "to": to}),
            1 => json!({"prefix": format!("/p{i}"), "to": to}),
            _ => {
                let host = match i % hosts {
                    0 => "app.example.com".to_string(),
                    k => format!("h{k}.example.com"),
                };
                json!({"prefix": format!("/own{i}"), "host": host, "to": to})
            }
        });
    }
    routes
}

fn hostile_config() -> Config {
    let cases = std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(32);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/proptest-regressions/hostile.txt"
        )))),
        ..Config::default()
    }
}

/// The validation options of the rendered output: the built-in schemas,
/// Istio's CRDs, the mesh checks.
fn validate_options() -> meshpack::validate::Options {
    let mut o = meshpack::validate::Options::default();
    let gateway_api = shared_schemas().join("gateway-api/standard");
    o.schemas.crd_files = vec![
        shared_schemas().join("istio/crd-all.gen.yaml"),
        gateway_api.join("gateway.networking.k8s.io_gateways.yaml"),
        gateway_api.join("gateway.networking.k8s.io_httproutes.yaml"),
    ];
    o
}

/// One case: compile over a previous good output; accepted policies must
/// install, refused ones leave everything as it was.
fn hostile_check(policy: &str, gateway: bool) -> Result<&'static str, String> {
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("hp");
    let good = tmp.path().join("good.yaml");
    std::fs::write(&good, hostile_yaml(&Hostile::plain(None, (1, 1, false)))).unwrap();
    let (code, out) = meshpack(&[
        "compile",
        good.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let before = read_tree(&chart);
    let file = tmp.path().join("p.yaml");
    std::fs::write(&file, policy).unwrap();
    let (code, out) = meshpack(&[
        "compile",
        file.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ]);
    if code != 0 {
        if code != 1 {
            return Err(format!("exit {code} (not a policy error):\n{out}"));
        }
        if read_tree(&chart) != before {
            return Err(format!("a refused policy changed the output:\n{out}"));
        }
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        if names.len() != 3 {
            return Err(format!("leftovers beside the output: {names:?}"));
        }
        if std::env::var_os("HOSTILE_VERBOSE").is_some() {
            eprintln!(
                "refused: {}",
                out.lines().find(|l| l.contains("error[")).unwrap_or("")
            );
        }
        return Ok("refused");
    }
    assert_tree_truthy_clean(&chart);
    let opts = validate_options();
    for h in HELMS {
        // (Istio, the Gateway API's form): the latter only with a gateway.
        let forms = [(false, false), (true, false), (true, true)];
        for (istio, gateway_api) in forms.into_iter().filter(|f| gateway || !f.1) {
            let args = match (istio, gateway_api) {
                (false, _) => vec![],
                (true, false) => istio_args(&[]),
                (true, true) => istio_args(&["gatewayApi.enabled=true"]),
            };
            let mut c = Command::new(helm(h));
            c.args(["template", "hp"]).arg(&chart).args(&args);
            let r = c.output().unwrap();
            if !r.status.success() {
                return Err(format!(
                    "{h} istio={istio} gatewayApi={gateway_api}: helm template failed:\n{}",
                    String::from_utf8_lossy(&r.stderr)
                ));
            }
            let text = String::from_utf8(r.stdout).unwrap();
            let off = truthy_offences(&format!("{h} istio={istio}"), &text);
            if !off.is_empty() {
                return Err(format!("truthy words: {off:?}"));
            }
            let report = meshpack::validate::validate(&[("rendered".into(), text)], &opts).unwrap();
            if report.failed() {
                return Err(format!(
                    "{h} istio={istio} gatewayApi={gateway_api}: does not validate: {:?}",
                    report.findings
                ));
            }
            if gateway_api {
                continue; // linted with istio.enabled=true already
            }
            let set = format!("istio.enabled={istio}");
            let lint = Command::new(helm(h))
                .args(["lint", "--strict"])
                .arg(&chart)
                .args(["--set", &set])
                .output()
                .unwrap();
            let lint_out = String::from_utf8_lossy(&lint.stdout);
            if !lint.status.success() || !lint_out.contains("0 chart(s) failed") {
                return Err(format!(
                    "{h} {set}: lint:\n{lint_out}{}",
                    String::from_utf8_lossy(&lint.stderr)
                ));
            }
        }
    }
    Ok("accepted")
}

static HOSTILE_TALLY: std::sync::Mutex<(u32, u32)> = std::sync::Mutex::new((0, 0));

proptest! {
    #![proptest_config(hostile_config())]
    #[test]
    fn hostile_policies_install_or_change_nothing(h in hostile()) {
        let yaml = hostile_yaml(&h);
        match hostile_check(&yaml, h.gateway.is_some()) {
            Ok(what) => {
                let mut t = HOSTILE_TALLY.lock().unwrap();
                if what == "accepted" { t.0 += 1 } else { t.1 += 1 }
                eprintln!("hostile: {} accepted, {} refused so far", t.0, t.1);
            }
            Err(e) => prop_assert!(false, "{}\n{}", e, yaml),
        }
    }
}

/// The Gateway API's form of a gateway with 40 hosts and 40 routes (split
/// into several HTTPRoutes) installs and validates against the upstream
/// CRDs; one with 33 hosts and `httpsRedirect` (66 listeners) is refused.
#[test]
fn large_gateways_split_or_are_refused() {
    let policy = |gateway_size| {
        hostile_yaml(&Hostile::plain(
            Some(("pub".into(), "pub-tls".into(), "le".into())),
            gateway_size,
        ))
    };
    assert_eq!(
        hostile_check(&policy((40, 40, false)), true),
        Ok("accepted")
    );
    assert_eq!(hostile_check(&policy((20, 40, true)), true), Ok("accepted"));
    assert_eq!(hostile_check(&policy((33, 1, true)), true), Ok("refused"));
}
