//! Gateways as Kubernetes `Ingress`, the third gateway form, for clusters
//! with neither Istio nor the Gateway API (`ingress.enabled`, rendered only
//! while `istio.enabled` and `gatewayApi.enabled` are off), and the
//! NetworkPolicies that admit the ingress controller.
//!
//! Invariant: routes are the other forms' routes (`emit::gateway`): the
//! same hosts (the `gateways.<name>.hosts` value), paths, match kinds and
//! backends, ordered as Ingress orders them (Exact before Prefix, longer
//! paths first: the same precedence as the Gateway API). A route the
//! Ingress API cannot express (header matches, a rewrite) is left out
//! rather than widened, and docs/ingress.md says so. The controller is
//! admitted to exactly the ports `from: gateway/<name>` rules allow.
//!
//! One value set names the controller, whoever writes the Ingresses:
//! `ingress.controller.*` (here, and in `netpol.rs` when the customer
//! does). The renamed `networkPolicy.ingressController.*` still win when a
//! values file sets them ([`namespace_expr`], [`pod_labels_expr`]).
//! <https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types>

use super::cond::Cond;
use super::ingress_controller::{
    controller_annotations, namespace_expr, pod_labels_expr, CONTROLLER_ANNOTATION,
    GATEWAY_ANNOTATION,
};
use super::netpol_types::{self as np, NetworkPolicy, Peer, Selector, Spec};
use super::out::At;
use super::values::{
    Gw, INGRESS_ANNOTATIONS, INGRESS_CLASS_NAME, INGRESS_CONTROLLER_NAMESPACE,
    INGRESS_CONTROLLER_POD_LABELS, INGRESS_CONTROLLER_SERVICE_ACCOUNT, NETWORK_POLICY_ENABLED,
};
use super::{guarded, out, to_value, File, Group, Mode, Names, Out};
use crate::model::{self, Model, PathMatch, Source};
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Whether Ingress can carry a route as the other forms do.
pub fn expressible(r: &model::Route) -> bool {
    r.headers.is_empty() && r.rewrite.is_none()
}

/// `(pathType, path)` of a route.
fn path_of(p: &PathMatch) -> (&'static str, &str) {
    match p {
        PathMatch::Exact(x) => ("Exact", x),
        PathMatch::Prefix(x) => ("Prefix", x),
        // Regular expressions are the controller's to interpret
        // (ingress-nginx: `nginx.ingress.kubernetes.io/use-regex`).
        PathMatch::Regex(x) => ("ImplementationSpecific", x),
    }
}

/// The routes of one host as the chart lists them: those for every host,
/// then the host's own, each group Exact first and longest path first (the
/// list order means nothing to Ingress; it keeps the two outputs alike).
fn routes_for<'a>(g: &'a model::Gateway, host: &str) -> Vec<&'a model::Route> {
    let group = |own: bool| {
        let mut rs: Vec<&model::Route> = g
            .routes
            .iter()
            .filter(|r| expressible(r) && r.host.as_deref() == own.then_some(host))
            .collect();
        rs.sort_by_key(|r| {
            let (kind, path) = path_of(&r.path);
            (kind != "Exact", std::cmp::Reverse(path.len()))
        });
        rs
    };
    let mut rs = group(false);
    rs.extend(group(true));
    rs
}

/// A path of the plain (Kustomize) form.
fn plain_path(n: &Names, r: &model::Route) -> net::HTTPIngressPath {
    let (kind, path) = path_of(&r.path);
    net::HTTPIngressPath {
        path: Some(path.to_string()),
        path_type: kind.to_string(),
        backend: net::IngressBackend {
            service: Some(net::IngressServiceBackend {
                name: n.host_plain(&r.service),
                port: Some(net::ServiceBackendPort {
                    number: Some(r.port.into()),
                    name: None,
                }),
            }),
            resource: None,
        },
    }
}

/// A YAML double-quoted scalar that is also safe template text.
fn quoted(s: &str) -> String {
    out::escape_template(&serde_json::to_string(s).expect("a string"))
}

/// The `rules:` of the chart: one per host of the `hosts` value, each with
/// the routes for every host plus those for that one host.
fn rule_lines(n: &Names, g: &model::Gateway) -> Vec<String> {
    let hosts = Gw::new(&g.name).hosts().expr();
    let mut lines = vec![
        "rules:".to_string(),
        format!("{{{{- range $host := {hosts} }}}}"),
        "  - host: {{ $host | quote }}".to_string(),
        "    http:".to_string(),
        "      paths:".to_string(),
    ];
    let path_lines = |lines: &mut Vec<String>, r: &model::Route| {
        let (kind, path) = path_of(&r.path);
        // The Service's name as clients call it (`Names::host`): its own
        // (attached, or `serviceNames: service`) or `<fullname>-<svc>`.
        let service = match n.attached(&r.service) {
            Some(a) => quoted(&a.service),
            None if n.short_services() => quoted(&r.service),
            None => format!("\"{{{{ $fullname }}}}-{}\"", r.service),
        };
        lines.extend([
            format!("        - path: {}", quoted(path)),
            format!("          pathType: {kind}"),
            "          backend:".to_string(),
            "            service:".to_string(),
            format!("              name: {service}"),
            "              port:".to_string(),
            format!("                number: {}", r.port),
        ]);
    };
    // Routes for one host only render under that host; precedence is the
    // controller's (Exact first, then the longest prefix), so the order of
    // the two groups does not matter.
    let mut shared: Vec<&model::Route> = g
        .routes
        .iter()
        .filter(|r| expressible(r) && r.host.is_none())
        .collect();
    shared.sort_by_key(|r| {
        let (kind, path) = path_of(&r.path);
        (kind != "Exact", std::cmp::Reverse(path.len()))
    });
    for r in shared {
        path_lines(&mut lines, r);
    }
    let hosts: BTreeSet<&str> = g.routes.iter().filter_map(|r| r.host.as_deref()).collect();
    for h in hosts {
        let own: Vec<&model::Route> = g
            .routes
            .iter()
            .filter(|r| expressible(r) && r.host.as_deref() == Some(h))
            .collect();
        if own.is_empty() {
            continue;
        }
        lines.push(format!("        {{{{- if eq $host {} }}}}", quoted(h)));
        for r in own {
            path_lines(&mut lines, r);
        }
        lines.push("        {{- end }}".to_string());
    }
    lines.push("{{- end }}".to_string());
    lines
}

/// The Ingress of one gateway.
fn ingress(n: &Names, out: &mut Out, g: &model::Gateway) -> Value {
    let gv = Gw::new(&g.name);
    let rules: Vec<net::IngressRule> = g
        .hosts
        .iter()
        .map(|h| net::IngressRule {
            host: Some(h.clone()),
            http: Some(net::HTTPIngressRuleValue {
                paths: routes_for(g, h)
                    .into_iter()
                    .map(|r| plain_path(n, r))
                    .collect(),
            }),
        })
        .collect();
    let tls = g.tls.as_ref().map(|t| {
        vec![net::IngressTLS {
            hosts: Some(g.hosts.clone()),
            secret_name: Some(t.credential_name.clone()),
        }]
    });
    let mut v = to_value(&net::Ingress {
        metadata: ObjectMeta::default(),
        spec: Some(net::IngressSpec {
            ingress_class_name: Some(super::values::DEFAULT_CLASS.into()),
            tls,
            rules: Some(rules),
            default_backend: None,
        }),
        status: None,
    });
    v["apiVersion"] = json!("networking.k8s.io/v1");
    v["kind"] = json!("Ingress");
    v["metadata"] = n.meta(out, &g.name, None);
    let mut ann = serde_json::Map::new();
    ann.insert(GATEWAY_ANNOTATION.into(), json!(g.name));
    let (ns, sa) = (namespace_expr(), INGRESS_CONTROLLER_SERVICE_ACCOUNT.expr());
    let (ns_default, sa_default) = (
        INGRESS_CONTROLLER_NAMESPACE.default_text(n.model()),
        INGRESS_CONTROLLER_SERVICE_ACCOUNT.default_text(n.model()),
    );
    ann.insert(
        CONTROLLER_ANNOTATION.into(),
        out.text(&[
            super::Part::Val(&ns, &ns_default),
            super::Part::Lit("/"),
            super::Part::Val(&sa, &sa_default),
        ]),
    );
    if let Some(m) = out.lines(vec![
        format!("{{{{- with {} }}}}", INGRESS_ANNOTATIONS.expr()),
        "{{- toYaml . | nindent {0} }}".to_string(),
        "{{- end }}".to_string(),
    ]) {
        ann.insert(m, Value::Null);
    }
    v["metadata"]["annotations"] = Value::Object(ann);
    v["spec"]["ingressClassName"] = out.scalar(
        &format!("{} | quote", INGRESS_CLASS_NAME.expr()),
        json!(INGRESS_CLASS_NAME.default_text(n.model())),
    );
    if v["spec"].get("tls").is_some() {
        v["spec"]["tls"][0]["hosts"] = out.yaml(&gv.hosts().expr(), json!(g.hosts));
        v["spec"]["tls"][0]["secretName"] = out.scalar(
            &format!("{} | quote", gv.credential_name().expr()),
            json!(g.tls.as_ref().map(|t| &t.credential_name)),
        );
    }
    if let Some(m) = out.lines(rule_lines(n, g)) {
        let spec = v["spec"].as_object_mut().expect("spec");
        spec.remove("rules");
        spec.insert(m, Value::Null);
    }
    v
}

/// The NetworkPolicy admitting the controller to one service's ports that
/// gateway rules allow.
fn controller_policy(
    n: &Names,
    out: &mut Out,
    svc: &model::Service,
    ports: &[u16],
    gateways: &str,
) -> Value {
    let mut metadata = n.meta(out, &format!("{}-from-ingress", svc.name), None);
    metadata["annotations"] = controller_annotations(n.model(), out, gateways, &namespace_expr());
    let pod_selector = Selector::labels(n.selector(out, Some(&svc.name)));
    let ns = At::scalar(
        out,
        &format!("{} | quote", namespace_expr()),
        INGRESS_CONTROLLER_NAMESPACE.default_text(n.model()),
    );
    let pods = out.yaml(
        &pod_labels_expr(),
        INGRESS_CONTROLLER_POD_LABELS
            .default(n.model())
            .unwrap_or_default(),
    );
    let controller = Peer {
        pod_selector: Some(Selector::labels(pods)),
        ..Peer::namespace(ns)
    };
    to_value(&NetworkPolicy::new(
        metadata,
        Spec {
            policy_types: vec!["Ingress"],
            pod_selector,
            ingress: Some(vec![np::Ingress {
                from: Some(vec![controller]),
                ports: Some(ports.iter().copied().map(np::Port::tcp).collect()),
            }]),
            egress: None,
        },
    ))
}

/// One file per gateway with its Ingress, and one with the controller's
/// NetworkPolicies (only with `networkPolicy.enabled`).
pub fn files(m: &Model, mode: Mode) -> Vec<File> {
    if m.gateways.is_empty() {
        return vec![];
    }
    let n = Names::new(m);
    let mut files = vec![];
    for g in &m.gateways {
        let mut f = File::new(format!("ingress/{}.yaml", g.name), Group::Ingress, mode);
        let v = ingress(&n, &mut f.out, g);
        f.push(v);
        files.push(f);
    }
    // Target ports each service admits gateways to, over every gateway.
    let mut ports: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
    let mut gateways: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &m.edges {
        if let Source::Gateway(g) = &e.source {
            if let Some(s) = m.services.iter().find(|s| s.name == e.dest) {
                gateways.entry(s.name.as_str()).or_default().insert(g);
                ports
                    .entry(s.name.as_str())
                    .or_default()
                    .extend(s.target_ports(&e.ports));
            }
        }
    }
    let mut f = File::new("ingress/network-policies.yaml", Group::Ingress, mode);
    for (name, ps) in ports {
        let s = m
            .services
            .iter()
            .find(|s| s.name == name)
            .expect("a service");
        let ps: Vec<u16> = ps.into_iter().collect();
        let gs: Vec<&str> = gateways[name].iter().copied().collect();
        let v = controller_policy(&n, &mut f.out, s, &ps, &gs.join(","));
        guarded(&mut f, m, &Cond::is(&NETWORK_POLICY_ENABLED), v);
    }
    if !f.docs.is_empty() {
        files.push(f);
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 1.0.0\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n    api: {image: 'r.example.com/api:1', ports: {http: 9000, grpc: 9001}}\n  gateways:\n    public:\n      hosts: [shop.example.com, api.example.com]\n      routes:\n        - {prefix: /, to: web}\n        - {exact: /healthz, to: api}\n        - {prefix: /v1, host: api.example.com, to: api}\n        - {prefix: /beta, headers: {x-beta: 'on'}, to: api}\n        - {prefix: /old, rewrite: /v1, to: api}\n  allow:\n    - {from: gateway/public, to: web}\n    - {from: gateway/public, to: api, ports: [http]}\n";

    #[test]
    fn rules_per_host_in_ingress_order_without_what_ingress_cannot_say() {
        let m = crate::compile_model(POLICY, None).unwrap();
        let files = files(&m, Mode::Plain);
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            names,
            ["ingress/public.yaml", "ingress/network-policies.yaml"]
        );
        let ing = &files[0].docs[0].value;
        let path = |kind: &str, p: &str, svc: &str, port: u16| json!({"path": p, "pathType": kind, "backend": {"service": {"name": svc, "port": {"number": port}}}});
        // Exact first, then the longest prefix; the header and rewrite
        // routes are left out; the api host's own route only under it,
        // after the shared ones (as the chart's template lists them).
        assert_eq!(
            ing["spec"]["rules"],
            json!([
                {"host": "shop.example.com", "http": {"paths": [
                    path("Exact", "/healthz", "api", 9000),
                    path("Prefix", "/", "web", 8080),
                ]}},
                {"host": "api.example.com", "http": {"paths": [
                    path("Exact", "/healthz", "api", 9000),
                    path("Prefix", "/", "web", 8080),
                    path("Prefix", "/v1", "api", 9000),
                ]}},
            ])
        );
        assert_eq!(ing["spec"]["ingressClassName"], "nginx");
        assert_eq!(ing["spec"].get("tls"), None);
        assert_eq!(
            ing["metadata"]["annotations"],
            json!({"meshpack.dev/gateway": "public", "meshpack.dev/ingress-controller": "ingress-nginx/ingress-nginx"})
        );
        // The controller reaches exactly the ports gateway rules allow.
        let nps: Vec<(&str, &Value)> = files[1]
            .docs
            .iter()
            .map(|d| {
                (
                    d.value["metadata"]["name"].as_str().unwrap(),
                    &d.value["spec"]["ingress"][0]["ports"],
                )
            })
            .collect();
        assert_eq!(
            nps,
            [
                (
                    "shop-api-from-ingress",
                    &json!([{"protocol": "TCP", "port": 9000}])
                ),
                (
                    "shop-web-from-ingress",
                    &json!([{"protocol": "TCP", "port": 8080}])
                ),
            ]
        );
        // Each names the controller and the gateways it stands for.
        for d in &files[1].docs {
            assert_eq!(
                d.value["metadata"]["annotations"],
                json!({"meshpack.dev/gateways": "public", "meshpack.dev/ingress-controller": "ingress-nginx/ingress-nginx"})
            );
        }
    }

    #[test]
    fn no_gateways_no_files() {
        let plain = POLICY.split("  gateways:").next().unwrap();
        let m = crate::compile_model(plain, None).unwrap();
        assert!(files(&m, Mode::Plain).is_empty());
    }
}
