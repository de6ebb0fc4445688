//! The traffic-management example (`policies/orderflow.yaml`): versions and
//! a canary, resilience settings, fault injection behind a value, internal
//! mutual-TLS and public gateways in Istio and Gateway API form, external
//! services (a VM in the mesh, TLS origination) and telemetry. Rendered with
//! Helm 3 and Helm 4 in every mode, asserted object by object, checked
//! against the upstream schemas and verified against the policy.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

const NS: &str = "shop";

fn chart() -> PathBuf {
    root().join("charts/orderflow")
}

fn render(h: &str, sets: &[&str]) -> BTreeMap<String, Value> {
    let mut args: Vec<&str> = mesh_api_args();
    for s in sets {
        args.extend(["--set", s]);
    }
    by_id(&parse(&template(h, &chart(), NS, &args)))
}

const ISTIO: &str = "istio.enabled=true";

fn spec<'a>(objs: &'a BTreeMap<String, Value>, id: &str) -> &'a Value {
    &objs
        .get(id)
        .unwrap_or_else(|| panic!("{id} not rendered; have {:?}", objs.keys()))["spec"]
}

/// A ServiceAccount of the release as a rule names it (bare: the
/// policy's own namespace, Istio 1.25+).
fn account(sa: &str) -> String {
    format!("orderflow-{sa}")
}

/// Schema-check against ../shared/schemas, then verify against the policy.
fn check(objs: &BTreeMap<String, Value>) {
    check_in(objs, NS)
}

fn check_in(objs: &BTreeMap<String, Value>, ns: &str) {
    let list: Vec<Value> = objs.values().cloned().collect();
    let errors = upstream_schema_errors(&list);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let text = std::fs::read_to_string(root().join("policies/orderflow.yaml")).unwrap();
    let model = meshpack::compile_model(&text, None).expect("policy compiles");
    let diffs = verify_differences(&model, list, ns);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn versions_are_deployments_side_by_side() {
    for h in HELMS {
        let objs = render(h, &[]);
        for (v, replicas, tag) in [("stable", 3, "1.4.0"), ("canary", 1, "1.5.0-rc.1")] {
            let d = spec(&objs, &format!("Deployment/orderflow-api-{v}"));
            assert_eq!(d["replicas"], json!(replicas), "{h} {v}");
            let labels = json!({
                "app.kubernetes.io/name": "orderflow",
                "app.kubernetes.io/instance": "orderflow",
                "app.kubernetes.io/component": "api",
                "version": v,
            });
            assert_eq!(d["selector"]["matchLabels"], labels);
            // Each version is its own canonical revision of one service.
            let mut pod = labels.clone();
            pod["service.istio.io/canonical-name"] = json!("orderflow-api");
            pod["service.istio.io/canonical-revision"] = json!(v);
            pod["sidecar.istio.io/inject"] = json!("false");
            pod["istio.io/dataplane-mode"] = json!("none");
            assert_eq!(d["template"]["metadata"]["labels"], pod);
            assert_eq!(
                d["template"]["spec"]["containers"][0]["image"],
                json!(format!("registry.example.com/orderflow/api:{tag}"))
            );
        }
        assert!(!objs.contains_key("Deployment/orderflow-api"));
        // One Service and one disruption budget over every version.
        assert_eq!(
            spec(&objs, "Service/api")["selector"],
            json!({"app.kubernetes.io/name": "orderflow", "app.kubernetes.io/instance": "orderflow", "app.kubernetes.io/component": "api"})
        );
        assert_eq!(
            spec(&objs, "PodDisruptionBudget/orderflow-api")["selector"]["matchLabels"]
                ["app.kubernetes.io/component"],
            json!("api")
        );
        // Replicas per version are values.
        let objs = render(h, &["services.api.versions.canary.replicas=2"]);
        assert_eq!(
            spec(&objs, "Deployment/orderflow-api-canary")["replicas"],
            json!(2)
        );
    }
}

#[test]
fn without_istio_nothing_of_the_mesh_or_gateways() {
    for h in HELMS {
        let objs = render(h, &[]);
        for id in objs.keys() {
            assert!(
                !id.starts_with("VirtualService/")
                    && !id.starts_with("DestinationRule/")
                    && !id.starts_with("ServiceEntry/")
                    && !id.starts_with("WorkloadEntry/")
                    && !id.starts_with("Telemetry/")
                    && !id.starts_with("Gateway/")
                    && !id.starts_with("HTTPRoute/")
                    && !id.starts_with("Certificate/")
                    && !id.starts_with("AuthorizationPolicy/"),
                "{h}: {id} rendered without Istio"
            );
        }
        // The VM database and the payment API are not deployed.
        assert!(!objs.contains_key("Deployment/orderflow-ledger-db"));
        assert!(!objs.contains_key("Service/payments"));
        // NetworkPolicies still let the workers reach the outside ports.
        let egress = &spec(&objs, "NetworkPolicy/orderflow-worker-allow")["egress"];
        let ports: Vec<&Value> = egress
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["ports"].as_array().unwrap())
            .map(|p| &p["port"])
            .collect();
        assert!(
            ports.contains(&&json!(5432)) && ports.contains(&&json!(80)),
            "{ports:?}"
        );
        assert!(!objs.contains_key("NetworkPolicy/orderflow-allow-tracing"));
        check(&objs);
    }
}

#[test]
fn canary_split_header_route_mirror_and_resilience() {
    for h in HELMS {
        let objs = render(h, &[ISTIO]);
        assert_eq!(
            spec(&objs, "DestinationRule/orderflow-api"),
            &json!({
                "host": "api",
                "trafficPolicy": {
                    "tls": {"mode": "ISTIO_MUTUAL"},
                    "connectionPool": {
                        "tcp": {"maxConnections": 200, "connectTimeout": "2s"},
                        "http": {"http1MaxPendingRequests": 100, "maxRequestsPerConnection": 50},
                    },
                    "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50},
                    "loadBalancer": {"simple": "LEAST_REQUEST"},
                },
                "subsets": [
                    {"name": "canary", "labels": {"version": "canary"}},
                    {"name": "stable", "labels": {"version": "stable"}},
                ],
                "exportTo": ["."],
            })
        );
        let common = json!({
            "timeout": "5s",
            "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset,connect-failure"},
            "mirror": {"host": "api", "subset": "canary"},
            "mirrorPercentage": {"value": 5},
        });
        let mut canary = json!({
            "name": "to-canary",
            "match": [{"headers": {"x-canary": {"exact": "true"}}}],
            "route": [{"destination": {"host": "api", "subset": "canary"}}],
        });
        let mut default = json!({
            "name": "default",
            "route": [
                {"destination": {"host": "api", "subset": "canary"}, "weight": 10},
                {"destination": {"host": "api", "subset": "stable"}, "weight": 90},
            ],
        });
        for r in [&mut canary, &mut default] {
            for (k, v) in common.as_object().unwrap() {
                r[k] = v.clone();
            }
        }
        assert_eq!(
            spec(&objs, "VirtualService/orderflow-api"),
            &json!({
                "hosts": ["api"],
                "http": [canary, default],
                "exportTo": ["."],
            }),
            "{h}"
        );
        // No fault injection unless switched on.
        assert!(spec(&objs, "VirtualService/orderflow-api")["http"][1]
            .get("fault")
            .is_none());
        // A service with only a timeout gets a VirtualService without subsets.
        assert_eq!(
            spec(&objs, "VirtualService/orderflow-web")["http"],
            json!([{
                "name": "default",
                "route": [{"destination": {"host": "web"}}],
                "timeout": "10s",
                "retries": {"attempts": 2, "perTryTimeout": "4s", "retryOn": "connect-failure,refused-stream,unavailable"},
            }])
        );
        // Connection limits alone need no VirtualService.
        assert!(!objs.contains_key("VirtualService/orderflow-queue"));
        assert_eq!(
            spec(&objs, "DestinationRule/orderflow-queue")["trafficPolicy"]["connectionPool"],
            json!({"tcp": {"maxConnections": 500, "connectTimeout": "5s"}})
        );
        // The split is a value: shift the canary at install time.
        let objs = render(
            h,
            &[
                ISTIO,
                "services.api.traffic.split.stable=50",
                "services.api.traffic.split.canary=50",
            ],
        );
        let weights: Vec<&Value> = spec(&objs, "VirtualService/orderflow-api")["http"][1]["route"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["weight"])
            .collect();
        assert_eq!(weights, vec![&json!(50), &json!(50)]);
        check(&render(h, &[ISTIO]));
    }
}

#[test]
fn fault_injection_is_switched_by_a_value() {
    for h in HELMS {
        let objs = render(h, &[ISTIO, "faultInjection.enabled=true"]);
        let fault = json!({
            "delay": {"fixedDelay": "2s", "percentage": {"value": 10}},
            "abort": {"httpStatus": 503, "percentage": {"value": 2}},
        });
        for r in spec(&objs, "VirtualService/orderflow-api")["http"]
            .as_array()
            .unwrap()
        {
            assert_eq!(r["fault"], fault, "{h}");
        }
        assert!(spec(&objs, "VirtualService/orderflow-web")["http"][0]
            .get("fault")
            .is_none());
        check(&objs);
    }
}

#[test]
fn gateways_internal_mutual_tls_matches_rewrite_cors() {
    for h in HELMS {
        let objs = render(h, &[ISTIO]);
        assert_eq!(
            spec(&objs, "Gateway/orderflow-admin"),
            &json!({
                "selector": {"istio": "internal-ingressgateway"},
                "servers": [{
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": ["admin.orderflow.internal", "reports.orderflow.internal"],
                    "tls": {"mode": "MUTUAL", "credentialName": "orderflow-admin-mtls"},
                }],
            })
        );
        assert_eq!(
            spec(&objs, "VirtualService/orderflow-admin")["http"],
            json!([
                {"match": [{"uri": {"regex": "^/reports/[0-9]+$"}, "authority": {"exact": "reports.orderflow.internal"}}],
                 "route": [{"destination": {"host": "admin", "port": {"number": 8000}}}]},
                {"match": [{"uri": {"prefix": "/"}, "headers": {"x-admin-team": {"exact": "ops"}}}],
                 "route": [{"destination": {"host": "admin", "port": {"number": 8000}}}]},
            ])
        );
        assert_eq!(
            spec(&objs, "VirtualService/orderflow-public")["http"][0],
            json!({
                "match": [{"uri": {"prefix": "/api/"}}],
                "route": [{"destination": {"host": "api", "port": {"number": 8080}}}],
                "rewrite": {"uri": "/"},
                "corsPolicy": {
                    "allowOrigins": [{"exact": "https://shop.example.com"}],
                    "allowMethods": ["GET", "POST"],
                    "allowHeaders": ["content-type", "authorization"],
                    "maxAge": "24h",
                },
            })
        );
        assert_eq!(
            spec(&objs, "VirtualService/orderflow-public")["http"][1]["match"],
            json!([{"uri": {"exact": "/healthz"}}])
        );
        // Each gateway's own identity is allowed, and only where the policy says.
        let admin_rules = &spec(&objs, "AuthorizationPolicy/orderflow-admin")["rules"];
        let sources: Vec<&Value> = admin_rules
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r["from"][0]["source"]["serviceAccounts"]
                    .as_array()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            sources,
            vec![&json!("istio-ingress/istio-internal-ingressgateway")]
        );
        // Selector and identity are values.
        let objs = render(
            h,
            &[
                ISTIO,
                "gateways.admin.selector.istio=corp-gw",
                "gateways.admin.serviceAccount=corp-gw",
            ],
        );
        assert_eq!(
            spec(&objs, "Gateway/orderflow-admin")["selector"],
            json!({"istio": "corp-gw"})
        );
        assert_eq!(
            spec(&objs, "AuthorizationPolicy/orderflow-admin")["rules"][0]["from"][0]["source"]
                ["serviceAccounts"],
            json!(["istio-ingress/corp-gw"])
        );
    }
}

#[test]
fn gateway_api_replaces_istio_gateways() {
    for h in HELMS {
        let objs = render(h, &[ISTIO, "gatewayApi.enabled=true"]);
        assert_eq!(
            objs["Gateway/orderflow-public"]["apiVersion"],
            json!("gateway.networking.k8s.io/v1")
        );
        assert!(!objs.contains_key("VirtualService/orderflow-public"));
        assert!(!objs.contains_key("VirtualService/orderflow-admin"));
        let gw = &objs["Gateway/orderflow-admin"];
        assert_eq!(gw["apiVersion"], json!("gateway.networking.k8s.io/v1"));
        assert_eq!(gw["metadata"]["namespace"], json!("istio-ingress"));
        assert_eq!(
            gw["metadata"]["annotations"],
            json!({
                "gateway.istio.io/service-account": "istio-internal-ingressgateway",
                "networking.istio.io/service-type": "ClusterIP",
                "meshpack.dev/namespace": "istio-ingress",
            })
        );
        let listener = |i: usize, host: &str| {
            json!({
                "name": format!("https-{i}"), "hostname": host, "port": 443, "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "certificateRefs": [{"name": "orderflow-admin-mtls"}],
                        "options": {"gateway.istio.io/tls-terminate-mode": "MUTUAL"}},
                "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": NS}}}},
            })
        };
        assert_eq!(
            gw["spec"],
            json!({"gatewayClassName": "istio", "listeners": [listener(0, "admin.orderflow.internal"), listener(1, "reports.orderflow.internal")]})
        );
        assert_eq!(
            spec(&objs, "HTTPRoute/orderflow-admin-host-1"),
            &json!({
                "parentRefs": [{"name": "orderflow-admin", "namespace": "istio-ingress", "sectionName": "https-1"}],
                "hostnames": ["reports.orderflow.internal"],
                "rules": [{
                    "matches": [{"path": {"type": "RegularExpression", "value": "^/reports/[0-9]+$"}}],
                    "backendRefs": [{"name": "admin", "port": 8000}],
                }],
            })
        );
        assert_eq!(
            spec(&objs, "HTTPRoute/orderflow-public")["rules"][0],
            json!({
                "matches": [{"path": {"type": "PathPrefix", "value": "/api/"}}],
                "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                "backendRefs": [{"name": "api", "port": 8080}],
            })
        );
        assert_eq!(
            spec(&objs, "HTTPRoute/orderflow-public-redirect")["rules"],
            json!([{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}])
        );
        // The certificate follows the gateway into whichever form renders.
        assert_eq!(
            objs["Certificate/orderflow-public"]["metadata"]["namespace"],
            json!("istio-ingress")
        );
        check(&objs);
        // Gateway API works without Istio too (another implementation's class).
        let objs = render(h, &["gatewayApi.enabled=true", "gatewayApi.className=eg"]);
        assert_eq!(
            spec(&objs, "Gateway/orderflow-public")["gatewayClassName"],
            json!("eg")
        );
        assert!(!objs.contains_key("AuthorizationPolicy/orderflow-api"));
    }
}

#[test]
fn external_services_vm_and_tls_origination() {
    for h in HELMS {
        let objs = render(h, &[ISTIO]);
        let labels = json!({"app.kubernetes.io/name": "orderflow", "app.kubernetes.io/instance": "orderflow", "app.kubernetes.io/component": "ledger-db"});
        assert_eq!(
            spec(&objs, "ServiceEntry/orderflow-ledger-db"),
            &json!({
                "hosts": ["ledger-db.corp.internal"],
                "ports": [{"number": 5432, "name": "tcp-postgres", "protocol": "TCP"}],
                "location": "MESH_INTERNAL",
                "resolution": "STATIC",
                "workloadSelector": {"labels": labels},
                "exportTo": ["."],
            })
        );
        assert_eq!(
            spec(&objs, "WorkloadEntry/orderflow-ledger-db"),
            &json!({"address": "10.20.0.15", "labels": labels, "serviceAccount": "orderflow-ledger-db"})
        );
        assert!(objs.contains_key("ServiceAccount/orderflow-ledger-db"));
        assert_eq!(
            spec(&objs, "DestinationRule/orderflow-ledger-db")["trafficPolicy"],
            json!({"tls": {"mode": "ISTIO_MUTUAL"}})
        );
        assert_eq!(
            spec(&objs, "AuthorizationPolicy/orderflow-ledger-db")["rules"],
            json!([{
                "from": [{"source": {"serviceAccounts": [account("admin"), account("api"), account("worker")]}}],
                "to": [{"operation": {"ports": ["5432"]}}],
            }])
        );
        assert_eq!(
            spec(&objs, "ServiceEntry/orderflow-payments"),
            &json!({
                "hosts": ["api.payments.example.net"],
                "ports": [{"number": 80, "name": "http", "protocol": "HTTP", "targetPort": 443}],
                "location": "MESH_EXTERNAL",
                "resolution": "DNS",
                "exportTo": ["."],
            })
        );
        assert_eq!(
            spec(&objs, "DestinationRule/orderflow-payments")["trafficPolicy"],
            json!({"portLevelSettings": [{"port": {"number": 80}, "tls": {"mode": "SIMPLE", "sni": "api.payments.example.net"}}]})
        );
        // Only the services allowed to them see them.
        assert_eq!(
            spec(&objs, "Sidecar/orderflow-worker")["egress"][0]["hosts"],
            json!([
                "istio-system/*",
                "./*.svc.cluster.local",
                "./api.payments.example.net",
                "./ledger-db.corp.internal",
                "observability/otel-collector.observability.svc.cluster.local",
            ])
        );
        let web_hosts = spec(&objs, "Sidecar/orderflow-web")["egress"][0]["hosts"].to_string();
        assert!(
            !web_hosts.contains("payments") && !web_hosts.contains("ledger-db"),
            "{web_hosts}"
        );
    }
}

#[test]
fn telemetry_traces_to_the_collector() {
    for h in HELMS {
        let objs = render(h, &[ISTIO]);
        assert_eq!(
            spec(&objs, "Telemetry/orderflow-telemetry"),
            &json!({
                "selector": {"matchLabels": {"app.kubernetes.io/name": "orderflow", "app.kubernetes.io/instance": "orderflow"}},
                "tracing": [{"providers": [{"name": "opentelemetry"}], "randomSamplingPercentage": 10}],
                "accessLogging": [{"providers": [{"name": "envoy"}]}],
            })
        );
        assert_eq!(
            spec(&objs, "NetworkPolicy/orderflow-allow-tracing")["egress"],
            json!([{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}],
                "ports": [{"protocol": "TCP", "port": 4317}],
            }])
        );
        let objs = render(
            h,
            &[
                ISTIO,
                "telemetry.tracing.sampling=100",
                "telemetry.tracing.provider=otel",
            ],
        );
        assert_eq!(
            spec(&objs, "Telemetry/orderflow-telemetry")["tracing"],
            json!([{"providers": [{"name": "otel"}], "randomSamplingPercentage": 100}])
        );
    }
}

#[test]
fn kustomize_overlays_match_the_chart() {
    let kubectl = tools().join("helm4/kubectl");
    let tree = root().join("kustomize/orderflow");
    for (overlay, sets) in [
        ("plain", vec![]),
        ("istio", vec![ISTIO]),
        ("istio-gateway-api", vec![ISTIO, "gatewayApi.enabled=true"]),
    ] {
        let out = run(std::process::Command::new(&kubectl)
            .arg("kustomize")
            .arg(tree.join("overlays").join(overlay)));
        let built = by_id(&parse(&out));
        let mut chart_sets = sets.clone();
        chart_sets.push("networkPolicy.enabled=true");
        let rendered = render("helm4", &chart_sets);
        // The same objects as the chart renders with the same switches.
        let ids = |m: &BTreeMap<String, Value>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(ids(&built), ids(&rendered), "{overlay}");
        check_in(&built, "orderflow");
    }
}

/// A split also shares a service's TCP ports (weights still values); a
/// TCP-only service gets no HTTP route.
#[test]
fn a_split_covers_tcp_ports() {
    let policy = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {name: x}
spec:
  version: 1.0.0
  services:
    db:
      ports: {tcp-pg: 5432}
      versions: {v1: {image: a:1}, v2: {image: a:2}}
      traffic: {split: {v1: 70, v2: 30}}
";
    let m = meshpack::compile_model(policy, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("x");
    meshpack::package::write_dir(&chart, &meshpack::package(&m).chart, "test", false).unwrap();
    for h in HELMS {
        let args = istio_args(&[
            "services.db.traffic.split.v1=60",
            "services.db.traffic.split.v2=40",
        ]);
        let by = by_id(&parse(&template(h, &chart, "shop", &args)));
        assert_eq!(
            spec(&by, "VirtualService/x-db"),
            &json!({
                "hosts": ["db"],
                "tcp": [{"route": [
                    {"destination": {"host": "db", "subset": "v1"}, "weight": 60},
                    {"destination": {"host": "db", "subset": "v2"}, "weight": 40},
                ]}],
                "exportTo": ["."],
            }),
            "{h}"
        );
    }
}
