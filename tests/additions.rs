//! What a customer adds at install time (issue 19): `istio.mtls.mode`,
//! `extraEgress`, `extraSources`, `extraObjects`. Each renders in Helm 3
//! and 4 with Istio on and off, the objects match what docs/additions.md
//! says field by field and pass the upstream schemas and `validate`;
//! `verify --values` proves the widened intent while plain `verify` fails on
//! each extra edge; bad additions fail the install with a schema message.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const POLICY: &str = r#"apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata:
  name: shop
spec:
  version: 1.0.0
  mtls: STRICT
  services:
    web:
      image: registry.example.com/shop/web:1.0.0
      ports: {http: 8080}
      mtls: {ports: {http: PERMISSIVE}}
    api:
      image: registry.example.com/shop/api:1.0.0
      ports: {http: 8080, grpc: 9090}
    db:
      image: docker.io/library/postgres:16.4
      workload: StatefulSet
      storage: 1Gi
      ports: {tcp-postgres: 5432}
      mtls: STRICT
  allow:
    - {from: web, to: api}
    - {from: api, to: db}
  egress:
    - {host: api.stripe.com, port: 443, from: api}
"#;

const VALUES: &str = r#"istio:
  mtls:
    mode: PERMISSIVE
extraEgress:
  - {host: s3.example.com, port: 443, protocol: TLS, services: [api]}
  - {cidr: 10.20.0.0/16, port: 5432, services: [api]}
extraSources:
  - {namespace: monitoring, serviceAccount: prometheus, services: [api], ports: [9090]}
  - {namespace: backup, services: [db]}
  - {ipBlock: 192.168.0.0/16, services: [web], ports: [8080]}
extraObjects:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: "{{ .Release.Name }}-it"}
    data: {proxy: "http://proxy.corp.example:3128"}
  - |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-tpl
    data:
      namespace: {{ .Release.Namespace | quote }}
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    policy: PathBuf,
    chart: PathBuf,
    kustomize: PathBuf,
    values: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("shop.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let values = dir.path().join("it.yaml");
    std::fs::write(&values, VALUES).unwrap();
    let chart = dir.path().join("shop");
    let kustomize = dir.path().join("k");
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
        "--kustomize",
        kustomize.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    Fixture {
        _dir: dir,
        policy,
        chart,
        kustomize,
        values,
    }
}

fn render(h: &str, chart: &Path, values: &Path, istio: bool) -> String {
    let v = values.to_str().unwrap();
    let mut args = vec!["-f", v];
    if istio {
        args.extend(istio_args(&[]));
    }
    template(h, chart, "shop", &args)
}

/// The objects of one kind that carry the addition annotation.
fn added<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter()
        .filter(|o| {
            o["kind"] == kind && !o["metadata"]["annotations"]["meshpack.dev/addition"].is_null()
        })
        .collect()
}

fn selector(component: &str) -> Value {
    json!({"matchLabels": {
        "app.kubernetes.io/name": "shop",
        "app.kubernetes.io/instance": "shop",
        "app.kubernetes.io/component": component,
    }})
}

fn specs(objs: &[&Value]) -> Vec<Value> {
    let mut v: Vec<Value> = objs.iter().map(|o| o["spec"].clone()).collect();
    v.sort_by_key(|s| s.to_string());
    v
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|s| s.to_string());
    v
}

/// The NetworkPolicies of the additions; in ambient mode a namespace
/// source also reaches HBONE's 15008 (ztunnel carries mesh traffic there).
fn expected_netpols(ambient: bool) -> Vec<Value> {
    let ports = |p: u16| {
        let mut v = vec![json!({"protocol": "TCP", "port": p})];
        if ambient {
            v.push(json!({"protocol": "TCP", "port": 15008}));
        }
        v
    };
    sorted(vec![
        json!({"podSelector": selector("api"), "policyTypes": ["Egress"], "egress": [{
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}]}),
        json!({"podSelector": selector("api"), "policyTypes": ["Egress"], "egress": [{
            "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]}]}),
        json!({"podSelector": selector("api"), "policyTypes": ["Ingress"], "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": ports(9090)}]}),
        json!({"podSelector": selector("db"), "policyTypes": ["Ingress"], "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "backup"}}}],
            "ports": ports(5432)}]}),
        json!({"podSelector": selector("web"), "policyTypes": ["Ingress"], "ingress": [{
            "from": [{"ipBlock": {"cidr": "192.168.0.0/16"}}],
            "ports": [{"protocol": "TCP", "port": 8080}]}]}),
    ])
}

/// The ServiceEntries of the additions.
fn expected_entries() -> Vec<Value> {
    sorted(vec![
        json!({"hosts": ["s3.example.com"], "ports": [{"number": 443, "name": "tls-443", "protocol": "TLS"}],
                       "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": ["."]}),
        json!({"hosts": ["10-20-0-0-16.cidr.meshpack.invalid"], "addresses": ["10.20.0.0/16"],
                       "ports": [{"number": 5432, "name": "tcp-5432", "protocol": "TCP"}],
                       "location": "MESH_EXTERNAL", "resolution": "NONE", "exportTo": ["."]}),
    ])
}

/// The AuthorizationPolicies of the additions.
fn expected_authz() -> Vec<Value> {
    sorted(vec![
        json!({"selector": selector("api"), "action": "ALLOW", "rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/monitoring/sa/prometheus"]}}],
                    "to": [{"operation": {"ports": ["9090"]}}]}]}),
        json!({"selector": selector("db"), "action": "ALLOW", "rules": [{
                    "from": [{"source": {"namespaces": ["backup"]}}],
                    "to": [{"operation": {"ports": ["5432"]}}]}]}),
        json!({"selector": selector("web"), "action": "ALLOW", "rules": [{
                    "from": [{"source": {"ipBlocks": ["192.168.0.0/16"]}}],
                    "to": [{"operation": {"ports": ["8080"]}}]}]}),
    ])
}

#[test]
fn additions_render_as_documented_in_helm_3_and_4() {
    let f = fixture();
    for h in HELMS {
        // Istio on.
        let objs = parse(&render(h, &f.chart, &f.values, true));
        let by = by_id(&objs);
        assert_eq!(
            specs(&added(&objs, "ServiceEntry")),
            expected_entries(),
            "{h}"
        );
        assert_eq!(
            specs(&added(&objs, "AuthorizationPolicy")),
            expected_authz(),
            "{h}"
        );
        assert_eq!(
            specs(&added(&objs, "NetworkPolicy")),
            expected_netpols(false),
            "{h}"
        );
        // The Sidecar of api lists both destinations after the policy's.
        let hosts = &by["Sidecar/shop-api"]["spec"]["egress"][0]["hosts"];
        let hosts: Vec<&str> = hosts
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(
            hosts[hosts.len() - 3..],
            [
                "./api.stripe.com",
                "./s3.example.com",
                "./10-20-0-0-16.cidr.meshpack.invalid"
            ],
            "{h}"
        );
        let web_hosts = by["Sidecar/shop-web"]["spec"]["egress"][0]["hosts"].to_string();
        assert!(!web_hosts.contains("s3.example.com"), "{h}: {web_hosts}");
        // mTLS: the release's mode is overridden, the policy's own kept.
        let pa = |s: &str| by[&format!("PeerAuthentication/shop-{s}")]["spec"].clone();
        assert_eq!(pa("api")["mtls"], json!({"mode": "PERMISSIVE"}), "{h}");
        assert_eq!(pa("db")["mtls"], json!({"mode": "STRICT"}), "{h}");
        assert_eq!(pa("web")["mtls"], json!({"mode": "PERMISSIVE"}), "{h}");
        assert_eq!(
            pa("web")["portLevelMtls"],
            json!({"8080": {"mode": "PERMISSIVE"}}),
            "{h}"
        );
        // extraObjects, both forms through tpl.
        assert_eq!(
            by["ConfigMap/shop-it"]["data"],
            json!({"proxy": "http://proxy.corp.example:3128"}),
            "{h}"
        );
        assert_eq!(
            by["ConfigMap/shop-tpl"]["data"],
            json!({"namespace": "shop"}),
            "{h}"
        );
        let errors = upstream_schema_errors(&objs);
        assert!(errors.is_empty(), "{h}: {errors:#?}");

        // Ambient: the same objects, HBONE admitted from the namespaces.
        let v = f.values.to_str().unwrap();
        let mut args = vec!["-f", v];
        args.extend(istio_args(&["istio.dataplane=ambient"]));
        let objs = parse(&template(h, &f.chart, "shop", &args));
        assert_eq!(
            specs(&added(&objs, "NetworkPolicy")),
            expected_netpols(true),
            "{h}"
        );
        assert_eq!(
            specs(&added(&objs, "AuthorizationPolicy")),
            expected_authz(),
            "{h}"
        );
        assert_eq!(
            specs(&added(&objs, "ServiceEntry")),
            expected_entries(),
            "{h}"
        );

        // Istio off: only the NetworkPolicies and the extra objects.
        let objs = parse(&render(h, &f.chart, &f.values, false));
        for kind in [
            "ServiceEntry",
            "AuthorizationPolicy",
            "PeerAuthentication",
            "Sidecar",
        ] {
            assert!(
                !objs.iter().any(|o| o["kind"] == kind),
                "{h}: {kind} with Istio off"
            );
        }
        assert_eq!(
            specs(&added(&objs, "NetworkPolicy")),
            expected_netpols(false),
            "{h}"
        );
        let by = by_id(&objs);
        assert!(by.contains_key("ConfigMap/shop-it"), "{h}");
        let errors = upstream_schema_errors(&objs);
        assert!(errors.is_empty(), "{h}: {errors:#?}");
    }
}

#[test]
fn verify_with_values_proves_the_widened_intent() {
    let f = fixture();
    let policy = f.policy.to_str().unwrap();
    let values = f.values.to_str().unwrap();
    // Istio off, with sidecars, in ambient mode.
    let modes: [(&str, Option<&[&'static str]>); 3] = [
        ("off", None),
        ("sidecar", Some(&[])),
        ("ambient", Some(&["istio.dataplane=ambient"])),
    ];
    for h in HELMS {
        for (mode, sets) in modes {
            let what = format!("{h} istio={mode}");
            let mut args = vec!["-f", values];
            if let Some(sets) = sets {
                args.extend(istio_args(sets));
            }
            let text = template(h, &f.chart, "shop", &args);
            let (code, out) = meshpack_stdin(&["validate", "-"], &text);
            assert_eq!(code, 0, "{what}: {out}");
            let (code, out) = meshpack_stdin(
                &["verify", "--policy", policy, "--values", values, "-"],
                &text,
            );
            assert_eq!(code, 0, "{what}: {out}");
            let (code, out) = meshpack_stdin(
                &[
                    "verify",
                    "--policy",
                    policy,
                    "--additions-from-manifests",
                    "-",
                ],
                &text,
            );
            assert_eq!(code, 0, "{what}: {out}");
            // Without the values every extra edge is one nobody declared
            // (the s3 host on 443 only where Istio limits egress by host).
            let (code, out) = meshpack_stdin(&["verify", "--policy", policy, "-"], &text);
            assert_eq!(code, 1, "{what}: {out}");
            let mut want = vec![
                "allowed but not intended: backup/* -> db:5432 (tcp-postgres)",
                "allowed but not intended: api -> 10-20-0-0-16.cidr.meshpack.invalid:5432",
            ];
            want.push("allowed but not intended: monitoring/prometheus -> api:9090 (grpc)");
            if mode == "sidecar" {
                want.push("allowed but not intended: api -> s3.example.com:443");
            }
            for w in want {
                assert!(out.lines().any(|l| l == w), "{what}: no `{w}` in\n{out}");
            }
        }
    }
}

#[test]
fn values_files_merge_in_helms_order() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    // A later file replaces the list: the s3 destination is gone.
    let later = dir.path().join("later.yaml");
    std::fs::write(
        &later,
        "extraEgress:\n  - {cidr: 10.20.0.0/16, port: 5432, services: [api]}\n",
    )
    .unwrap();
    let v = f.values.to_str().unwrap();
    let l = later.to_str().unwrap();
    let mut args = vec!["-f", v, "-f", l];
    args.extend(istio_args(&[]));
    let text = template("helm4", &f.chart, "shop", &args);
    let policy = f.policy.to_str().unwrap();
    let (code, out) = meshpack_stdin(
        &["verify", "--policy", policy, "-f", v, "-f", l, "-"],
        &text,
    );
    assert_eq!(code, 0, "{out}");
    // In the other order the intent holds s3 but the render does not.
    let (code, out) = meshpack_stdin(
        &["verify", "--policy", policy, "-f", l, "-f", v, "-"],
        &text,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l == "intended but not allowed: api -> s3.example.com:443"),
        "{out}"
    );
}

#[test]
fn bad_additions_fail_the_install_with_a_schema_message() {
    let f = fixture();
    // The --set values, and the line Helm 3 (gojsonschema) and Helm 4
    // (santhosh-tekuri/jsonschema) print for them.
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["extraEgress[0].host=s3.example.com", "extraEgress[0].port=443", "extraEgress[0].services[0]=cart"],
            "- extraEgress.0.services.0: extraEgress.0.services.0 must be one of the following: \"api\", \"db\", \"web\"",
            "- at '/extraEgress/0/services/0': value must be one of 'api', 'db', 'web'",
        ),
        (
            &["extraEgress[0].cidr=10.0.0.0/33", "extraEgress[0].port=443", "extraEgress[0].services[0]=api"],
            "- extraEgress.0.cidr: Does not match pattern '^((25[0-5]",
            "- at '/extraEgress/0/cidr': '10.0.0.0/33' does not match pattern '^((25[0-5]",
        ),
        (
            &["extraSources[0].namespace=monitoring", "extraSources[0].services[0]=api", "extraSources[0].ports[0]=70000"],
            "- extraSources.0.ports.0: Must be less than or equal to 65535",
            "- at '/extraSources/0/ports/0': maximum: got 70,000, want 65,535",
        ),
        (
            &["extraSources[0].ipBlock=10.1.2.3", "extraSources[0].services[0]=api"],
            "- extraSources.0.ipBlock: Does not match pattern '^((25[0-5]",
            "- at '/extraSources/0/ipBlock': '10.1.2.3' does not match pattern '^((25[0-5]",
        ),
    ];
    for h in HELMS {
        for (sets, helm3, helm4) in cases {
            let mut c = std::process::Command::new(helm(h));
            c.args(["template", "shop"]).arg(&f.chart);
            for s in sets {
                c.args(["--set", s]);
            }
            let out = c.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{h} {sets:?}: rendered");
            assert!(
                err.contains("values don't meet the specifications of the schema"),
                "{h} {sets:?}: {err}"
            );
            let want = if h == "helm3" { helm3 } else { helm4 };
            assert!(
                err.lines().any(|l| l.starts_with(want)),
                "{h} {sets:?}: no `{want}` in {err}"
            );
        }
    }
}

#[test]
fn a_port_the_service_does_not_have_fails_with_its_ports() {
    let f = fixture();
    for h in HELMS {
        let out = std::process::Command::new(helm(h))
            .args(["template", "shop"])
            .arg(&f.chart)
            .args([
                "--set",
                "extraSources[0].namespace=monitoring",
                "--set",
                "extraSources[0].services[0]=api",
                "--set",
                "extraSources[0].ports[0]=5432",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{h}");
        assert!(
            err.contains("extraSources: service api has no port 5432 (its ports: 8080, 9090)"),
            "{h}: {err}"
        );
    }
}

#[test]
fn kustomize_components_match_the_chart() {
    let f = fixture();
    let k = &f.kustomize;
    let overlay = k.join("overlays/it");
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources: [../../base, ../../components/additions/examples/egress.yaml, ../../components/additions/examples/source.yaml]\ncomponents: [../../components/istio, ../../components/network-policy, ../../components/istio-network-policy, ../../components/mtls-permissive, ../../components/additions]\npatches:\n  - {path: ../../components/additions/examples/sidecar-api.yaml, target: {kind: Sidecar, name: shop-api}}\n",
    )
    .unwrap();
    let objs = parse(&run(std::process::Command::new(
        tools().join("helm4/kubectl"),
    )
    .arg("kustomize")
    .arg("--load-restrictor=LoadRestrictionsNone")
    .arg(&overlay)));
    let by = by_id(&objs);
    let pa = |s: &str| by[&format!("PeerAuthentication/shop-{s}")]["spec"]["mtls"].clone();
    assert_eq!(pa("api"), json!({"mode": "PERMISSIVE"}));
    assert_eq!(pa("db"), json!({"mode": "STRICT"}));
    let hosts = by["Sidecar/shop-api"]["spec"]["egress"][0]["hosts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(hosts.last(), Some(&json!("./s3.example.com")));
    assert_eq!(
        by["ServiceEntry/shop-xe-s3"]["spec"]["hosts"],
        json!(["s3.example.com"])
    );
    assert_eq!(
        by["AuthorizationPolicy/shop-xs-monitoring-api"]["spec"]["selector"],
        selector("api")
    );
    let errors = upstream_schema_errors(&objs);
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Ambient: a service whose rules need a waypoint (evalhub's api) is called
/// through the waypoint, so an extra source is admitted there too; without
/// that policy the source would be refused, which verify reports.
#[test]
fn ambient_sources_pass_the_waypoint() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("it.yaml");
    std::fs::write(
        &values,
        "extraSources:\n  - {namespace: backup, services: [api]}\n  - {namespace: monitoring, serviceAccount: agent, services: [api], ports: [8080]}\n",
    )
    .unwrap();
    let v = values.to_str().unwrap();
    let policy = root().join("policies/evalhub.yaml");
    let policy = policy.to_str().unwrap();
    let chart = root().join("charts/evalhub");
    for h in HELMS {
        let mut args = vec!["-f", v];
        args.extend(istio_args(&["istio.dataplane=ambient"]));
        let text = template(h, &chart, "evalhub", &args);
        let objs = parse(&text);
        let at_waypoint: Vec<&Value> = added(&objs, "AuthorizationPolicy")
            .into_iter()
            .filter(|o| !o["spec"]["targetRefs"].is_null())
            .collect();
        assert_eq!(
            specs(&at_waypoint),
            sorted(vec![
                json!({"targetRefs": [{"group": "", "kind": "Service", "name": "api"}], "action": "ALLOW",
                       "rules": [{"from": [{"source": {"namespaces": ["backup"]}}], "to": [{"operation": {"ports": ["8080", "9090"]}}]}]}),
                json!({"targetRefs": [{"group": "", "kind": "Service", "name": "api"}], "action": "ALLOW",
                       "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/monitoring/sa/agent"]}}]
                                  , "to": [{"operation": {"ports": ["8080"]}}]}]}),
            ]),
            "{h}"
        );
        let (code, out) = meshpack_stdin(&["verify", "--policy", policy, "-f", v, "-"], &text);
        assert_eq!(code, 0, "{h}: {out}");
        // The same install without the waypoint's policies.
        let without: Vec<String> = objs
            .iter()
            .filter(|o| {
                !(o["kind"] == "AuthorizationPolicy"
                    && !o["spec"]["targetRefs"].is_null()
                    && !o["metadata"]["annotations"]["meshpack.dev/addition"].is_null())
            })
            .map(|o| serde_json::to_string(o).unwrap())
            .collect();
        let (code, out) = meshpack_stdin(
            &["verify", "--policy", policy, "-f", v, "-"],
            &without.join("\n---\n"),
        );
        assert_eq!(code, 1, "{h}: {out}");
        assert!(
            out.lines()
                .any(|l| l == "intended but not allowed: monitoring/agent -> api:8080 (http)"),
            "{h}: {out}"
        );
    }
}

/// A policy-wide DISABLE turned on by `istio.mtls.mode`: the servers'
/// PeerAuthentication and the clients' DestinationRule change together
/// (plaintext clients of a STRICT server would be refused).
#[test]
fn mtls_override_of_disable_moves_clients_too() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("lab.yaml");
    std::fs::write(
        &policy,
        "apiVersion: meshpack.dev/v1alpha1\nkind: MeshPolicy\nmetadata: {name: lab}\nspec:\n  version: 1.0.0\n  mtls: DISABLE\n  services:\n    web: {image: registry.example.com/lab/web:1.0.0, ports: {http: 8080}}\n",
    )
    .unwrap();
    let chart = dir.path().join("lab");
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    for h in HELMS {
        for (sets, server, client) in [
            (vec![], "DISABLE", "DISABLE"),
            (vec!["istio.mtls.mode=STRICT"], "STRICT", "ISTIO_MUTUAL"),
            (
                vec!["istio.mtls.mode=PERMISSIVE"],
                "PERMISSIVE",
                "ISTIO_MUTUAL",
            ),
        ] {
            let by = by_id(&parse(&template(h, &chart, "lab", &istio_args(&sets))));
            assert_eq!(
                by["PeerAuthentication/lab-web"]["spec"]["mtls"],
                json!({"mode": server}),
                "{h} {sets:?}"
            );
            assert_eq!(
                by["DestinationRule/lab-web"]["spec"]["trafficPolicy"]["tls"],
                json!({"mode": client}),
                "{h} {sets:?}"
            );
        }
    }
}

/// Two destinations on one host for different services are two objects,
/// not one name twice (which Helm would refuse to install).
#[test]
fn one_host_for_two_services_renders_twice() {
    let f = fixture();
    for h in HELMS {
        let mut args = vec![
            "--set",
            "extraEgress[0].host=s3.example.com",
            "--set",
            "extraEgress[0].port=443",
            "--set",
            "extraEgress[0].services[0]=api",
            "--set",
            "extraEgress[1].host=s3.example.com",
            "--set",
            "extraEgress[1].port=443",
            "--set",
            "extraEgress[1].services[0]=web",
        ];
        args.extend(istio_args(&[]));
        // by_id fails on a duplicate name.
        let objs = parse(&template(h, &f.chart, "shop", &args));
        let by = by_id(&objs);
        let entries: Vec<&Value> = added(&objs, "ServiceEntry");
        assert_eq!(
            specs(&entries),
            vec![
                json!({"hosts": ["s3.example.com"], "ports": [{"number": 443, "name": "tcp-443", "protocol": "TCP"}],
                        "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": ["."]});
                2
            ],
            "{h}"
        );
        for s in ["api", "web"] {
            let hosts = by[&format!("Sidecar/shop-{s}")]["spec"]["egress"][0]["hosts"].to_string();
            assert!(hosts.contains("\"./s3.example.com\""), "{h} {s}: {hosts}");
        }
    }
}
