//! Gateways, in two forms selected by `gatewayApi.enabled`:
//!
//! - Istio `Gateway` + `VirtualService`, served by an ingress gateway the
//!   customer runs (selected by labels; the internal one for `internal: true`);
//! - Kubernetes Gateway API `Gateway` + `HTTPRoute`, whose Gateway lives in
//!   the gateway namespace (where TLS Secrets are) and, with Istio's class,
//!   gets its pods deployed under the ServiceAccount rules allow.
//!
//! Both carry a cert-manager Certificate when the policy asks for one.

use super::cond::Cond;
use super::gateway_api_types as gt;
use super::out::At;
use super::values::{Gw, GATEWAY_API_CLASS_NAME, ISTIO_GATEWAY_NAMESPACE};
use super::{guarded, out, to_value, File, Group, Mode, Names, Out, Part, FIXED_NAMESPACE};
use crate::gateway_api as gapi;
use crate::istio::certificate::{Certificate, CertificateSpec, IssuerRef};
use crate::istio::gateway::{Gateway, GatewaySpec, Server, ServerPort, ServerTls};
use crate::istio::virtual_service::{
    CorsPolicy, Destination, HttpMatch, HttpRoute, PortSelector, Rewrite, RouteDestination,
    StringMatch, VirtualService, VirtualServiceSpec,
};
use crate::model::{self, Model, PathMatch};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn gateway_namespace() -> String {
    ISTIO_GATEWAY_NAMESPACE.expr()
}

/// Istio's Gateway + VirtualService for one gateway.
pub fn istio_file(m: &Model, g: &model::Gateway, mode: Mode) -> File {
    let mut f = File::new(
        format!("istio/gateway-{}.yaml", g.name),
        Group::IstioGateway,
        mode,
    );
    let n = Names::new(m);
    let out = &mut f.out;
    let gv = Gw::new(&g.name);
    let hosts = || json!(g.hosts);

    let mut servers = vec![];
    if let Some(tls) = &g.tls {
        servers.push(Server {
            port: ServerPort {
                number: 443,
                name: "https".into(),
                protocol: "HTTPS".into(),
            },
            hosts: vec![],
            // MUTUAL: the Secret also holds `ca.crt`, the CA client
            // certificates must chain to.
            // https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/#configure-a-mutual-tls-ingress-gateway
            tls: Some(ServerTls {
                mode: Some(if tls.mutual { "MUTUAL" } else { "SIMPLE" }.into()),
                credential_name: Some(tls.credential_name.clone()),
                ..Default::default()
            }),
        });
    }
    if g.tls.is_none() || g.https_redirect {
        servers.push(Server {
            port: ServerPort {
                number: 80,
                name: "http".into(),
                protocol: "HTTP".into(),
            },
            hosts: vec![],
            tls: g.https_redirect.then(|| ServerTls {
                https_redirect: true,
                ..Default::default()
            }),
        });
    }
    let mut gw = to_value(&Gateway::new(
        "",
        GatewaySpec {
            selector: BTreeMap::new(),
            servers,
        },
    ));
    gw["metadata"] = n.meta(out, &g.name, None);
    let selector: serde_json::Map<String, Value> = g
        .selector
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    gw["spec"]["selector"] = out.yaml(&gv.selector().expr(), Value::Object(selector));
    let servers = gw["spec"]["servers"].as_array_mut().expect("servers");
    for srv in servers.iter_mut() {
        srv["hosts"] = out.yaml(&gv.hosts().expr(), hosts());
        if srv["tls"].get("credentialName").is_some() {
            srv["tls"]["credentialName"] = out.scalar(
                &format!("{} | quote", gv.credential_name().expr()),
                json!(g.tls.as_ref().map(|t| &t.credential_name)),
            );
        }
    }

    let routes = g.routes.iter().map(|r| istio_route(&n, r)).collect();
    let mut vs = to_value(&VirtualService::new(
        "",
        VirtualServiceSpec {
            hosts: vec![],
            gateways: vec![n.plain(&g.name)],
            http: routes,
            ..Default::default()
        },
    ));
    vs["metadata"] = n.meta(out, &g.name, None);
    vs["spec"]["hosts"] = out.yaml(&gv.hosts().expr(), hosts());
    vs["spec"]["gateways"] = json!([n.object(out, &g.name)]);
    for (i, r) in g.routes.iter().enumerate() {
        vs["spec"]["http"][i]["route"][0]["destination"]["host"] = n.host(out, &r.service);
    }
    f.push(gw);
    f.push(vs);
    certificate(m, &n, &mut f, g);
    f
}

fn string_match(p: &PathMatch) -> StringMatch {
    match p {
        PathMatch::Prefix(x) => StringMatch {
            prefix: Some(x.clone()),
            ..Default::default()
        },
        PathMatch::Exact(x) => StringMatch::exact(x),
        PathMatch::Regex(x) => StringMatch {
            regex: Some(x.clone()),
            ..Default::default()
        },
    }
}

fn istio_route(n: &Names, r: &model::Route) -> HttpRoute {
    HttpRoute {
        matches: vec![HttpMatch {
            uri: Some(string_match(&r.path)),
            authority: r.host.as_deref().map(StringMatch::exact),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), StringMatch::exact(v)))
                .collect(),
        }],
        route: vec![RouteDestination {
            destination: Destination {
                host: n.host_plain(&r.service),
                subset: None,
                port: Some(PortSelector { number: r.port }),
            },
            weight: None,
        }],
        rewrite: r.rewrite.as_ref().map(|uri| Rewrite { uri: uri.clone() }),
        cors_policy: r.cors.as_ref().map(|c| CorsPolicy {
            allow_origins: c
                .allow_origins
                .iter()
                .map(|o| StringMatch::exact(o))
                .collect(),
            allow_methods: c.allow_methods.clone(),
            allow_headers: c.allow_headers.clone(),
            max_age: c.max_age.clone(),
            allow_credentials: c.allow_credentials.then_some(true),
        }),
        ..Default::default()
    }
}

/// The cert-manager Certificate of a gateway, in the gateway's namespace:
/// Istio reads `credentialName` from the gateway workload's namespace.
/// <https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/>
fn certificate(m: &Model, n: &Names, f: &mut File, g: &model::Gateway) {
    let Some(t) = &g.tls else { return };
    let Some((issuer, kind)) = &t.issuer else {
        return;
    };
    let out = &mut f.out;
    let gv = Gw::new(&g.name);
    let mut c = to_value(&Certificate::new(
        "",
        CertificateSpec {
            secret_name: t.credential_name.clone(),
            dns_names: g.hosts.clone(),
            issuer_ref: IssuerRef {
                name: issuer.clone(),
                kind: kind.clone(),
                group: "cert-manager.io".into(),
            },
        },
    ));
    c["metadata"] = n.meta(out, &g.name, None);
    fixed_namespace(n, out, &mut c);
    c["spec"]["secretName"] = out.scalar(
        &format!("{} | quote", gv.credential_name().expr()),
        json!(t.credential_name),
    );
    c["spec"]["dnsNames"] = out.yaml(&gv.hosts().expr(), json!(g.hosts));
    c["spec"]["issuerRef"]["name"] = out.scalar(
        &format!("{} | quote", gv.cert_manager_issuer().expr()),
        json!(issuer),
    );
    c["spec"]["issuerRef"]["kind"] = out.scalar(
        &format!("{} | quote", gv.cert_manager_kind().expr()),
        json!(kind),
    );
    guarded(f, m, &Cond::is(&gv.cert_manager_enabled()), c);
}

/// Put an object into the gateway namespace. Kustomize's namespace
/// transformer moves every object into the overlay's namespace; the
/// overlay moves this one back from the annotation.
fn fixed_namespace(n: &Names, out: &mut Out, v: &mut Value) {
    let default = json!(ISTIO_GATEWAY_NAMESPACE.default_text(n.model()));
    v["metadata"]["namespace"] = out.scalar(&gateway_namespace(), default.clone());
    let mut ann = v["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    ann.insert(
        FIXED_NAMESPACE.into(),
        out.scalar(&format!("{} | quote", gateway_namespace()), default),
    );
    v["metadata"]["annotations"] = Value::Object(ann);
}

/// Gateway API: a Gateway with one listener per host (and port), and an
/// HTTPRoute per host set. Rules within an HTTPRoute are ordered by the
/// Gateway API's precedence (host, then longest path), not by position.
/// <https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule>
pub fn gateway_api_file(m: &Model, g: &model::Gateway, mode: Mode) -> File {
    let mut f = File::new(
        format!("gateway-api/{}.yaml", g.name),
        Group::GatewayApi,
        mode,
    );
    let n = Names::new(m);
    let out = &mut f.out;
    let gv = Gw::new(&g.name);

    let mut head = json!({ "metadata": n.meta(out, &g.name, None) });
    // Istio deploys the gateway's pods under this ServiceAccount, the
    // identity `from: gateway/<name>` rules allow; an internal gateway gets
    // a ClusterIP Service.
    // https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment
    let mut ann = serde_json::Map::new();
    ann.insert(
        "gateway.istio.io/service-account".into(),
        out.scalar(
            &format!("{} | quote", gv.service_account().expr()),
            json!(g.service_account),
        ),
    );
    if g.internal {
        ann.insert(
            "networking.istio.io/service-type".into(),
            json!("ClusterIP"),
        );
    }
    head["metadata"]["annotations"] = Value::Object(ann);
    fixed_namespace(&n, out, &mut head);
    let gateway_class_name = At::scalar(
        out,
        &format!("{} | quote", GATEWAY_API_CLASS_NAME.expr()),
        GATEWAY_API_CLASS_NAME.default_text(m),
    );

    // Routes come only from the release's namespace.
    let allowed = |out: &mut Out| {
        Some(gt::AllowedRoutes {
            namespaces: gt::RouteNamespaces {
                from: "Selector".into(),
                selector: Some(gt::LabelSelector {
                    match_labels: BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_string(),
                        out.text(&[Part::Val(out::RELEASE_NAMESPACE, super::PLAIN_NAMESPACE)]),
                    )]),
                }),
            },
        })
    };
    let mut listeners = vec![];
    for (i, h) in g.hosts.iter().enumerate() {
        if let Some(t) = &g.tls {
            let allowed_routes = allowed(out);
            listeners.push(gt::Listener {
                name: format!("https-{i}"),
                hostname: Some(h.clone()),
                port: 443,
                protocol: "HTTPS".into(),
                tls: Some(gt::ListenerTls {
                    mode: "Terminate".into(),
                    certificate_refs: vec![gt::SecretRef {
                        name: At::scalar(
                            out,
                            &format!("{} | quote", gv.credential_name().expr()),
                            t.credential_name.clone(),
                        ),
                    }],
                    // Istio's option for client certificates, checked against
                    // the Secret's `ca.crt`.
                    // https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/
                    options: if t.mutual {
                        BTreeMap::from([(
                            "gateway.istio.io/tls-terminate-mode".to_string(),
                            "MUTUAL".to_string(),
                        )])
                    } else {
                        BTreeMap::new()
                    },
                }),
                allowed_routes,
            });
        }
        if g.tls.is_none() || g.https_redirect {
            listeners.push(gt::Listener {
                name: format!("http-{i}"),
                hostname: Some(h.clone()),
                port: 80,
                protocol: "HTTP".into(),
                tls: None,
                allowed_routes: allowed(out),
            });
        }
    }
    let gw = gt::Gateway::new(
        head["metadata"].take(),
        gt::GatewaySpec {
            gateway_class_name,
            listeners,
        },
    );
    let mut docs = vec![to_value(&gw)];

    let section = if g.tls.is_some() { "https" } else { "http" };
    // Each listener serves one host; a route for one host attaches to its own.
    let parents = |out: &mut Out, section: &str, host: Option<usize>| -> Vec<gt::ParentRef> {
        (0..g.hosts.len())
            .filter(|i| host.is_none_or(|h| h == *i))
            .map(|i| gt::ParentRef {
                name: n.object(out, &g.name),
                namespace: At::scalar(
                    out,
                    &gateway_namespace(),
                    ISTIO_GATEWAY_NAMESPACE.default_text(m),
                ),
                section_name: Some(format!("{section}-{i}")),
            })
            .collect()
    };
    let all_hosts = |out: &mut Out| At::yaml(out, &gv.hosts().expr(), g.hosts.clone());
    // Routes for a single host go to an HTTPRoute of that host; the rest
    // share one for all the gateway's hosts.
    let mut by_host: BTreeMap<Option<&str>, Vec<&model::Route>> = BTreeMap::new();
    for r in &g.routes {
        by_host.entry(r.host.as_deref()).or_default().push(r);
    }
    for (host, routes) in by_host {
        let index = host.map(|h| g.hosts.iter().position(|x| x == h).unwrap_or(0));
        let suffix = match index {
            None => g.name.clone(),
            Some(i) => format!("{}-host-{i}", g.name),
        };
        let metadata = n.meta(out, &suffix, None);
        let parent_refs = parents(out, section, index);
        let hostnames = match host {
            Some(h) => At::Lit(vec![h.to_string()]),
            None => all_hosts(out),
        };
        let rules = routes.iter().map(|r| http_route_rule(&n, out, r)).collect();
        let hr = gt::HttpRoute::new(
            metadata,
            gt::HttpRouteSpec {
                parent_refs,
                hostnames,
                rules,
            },
        );
        docs.push(to_value(&hr));
    }
    if g.tls.is_some() && g.https_redirect {
        let metadata = n.meta(out, &format!("{}-redirect", g.name), None);
        let parent_refs = parents(out, "http", None);
        let hr = gt::HttpRoute::new(
            metadata,
            gt::HttpRouteSpec {
                parent_refs,
                hostnames: all_hosts(out),
                rules: vec![gt::HttpRouteRule {
                    filters: vec![gapi::HttpRouteFilter {
                        kind: "RequestRedirect".into(),
                        request_redirect: Some(gapi::RequestRedirect {
                            scheme: "https".into(),
                            status_code: 301,
                        }),
                        url_rewrite: None,
                    }],
                    ..Default::default()
                }],
            },
        );
        docs.push(to_value(&hr));
    }
    for d in docs {
        f.push(d);
    }
    certificate(m, &n, &mut f, g);
    f
}

fn http_route_rule(n: &Names, out: &mut Out, r: &model::Route) -> gt::HttpRouteRule {
    let (kind, value) = match &r.path {
        PathMatch::Prefix(p) => ("PathPrefix", p),
        PathMatch::Exact(p) => ("Exact", p),
        PathMatch::Regex(p) => ("RegularExpression", p),
    };
    gt::HttpRouteRule {
        matches: vec![gapi::HttpRouteMatch {
            path: gapi::PathMatch {
                kind: kind.into(),
                value: value.clone(),
            },
            headers: r
                .headers
                .iter()
                .map(|(k, v)| gapi::HeaderMatch {
                    kind: "Exact".into(),
                    name: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }],
        filters: r
            .rewrite
            .iter()
            .map(|rw| gapi::HttpRouteFilter {
                kind: "URLRewrite".into(),
                url_rewrite: Some(gapi::UrlRewrite {
                    path: gapi::PathModifier {
                        kind: "ReplacePrefixMatch".into(),
                        replace_prefix_match: rw.clone(),
                    },
                }),
                request_redirect: None,
            })
            .collect(),
        backend_refs: vec![gt::BackendRef {
            name: n.host(out, &r.service),
            port: r.port,
        }],
    }
}
