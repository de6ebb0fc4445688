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
    let mut gw = to_value(&gw);
    // The listeners are the policy's hosts, one per host, and an HTTPRoute
    // attaches only to listeners whose hostname its hostnames match
    // (<https://gateway-api.sigs.k8s.io/reference/spec/#httproutespec>): other
    // hosts at install time would leave the routes serving nothing (and the
    // Certificate naming hosts no listener serves), so the chart fails
    // instead, naming the way out. Istio's Gateway takes the values' hosts.
    let hosts = gv.hosts().expr();
    let policy_hosts: Vec<String> = g.hosts.iter().map(|h| format!("{h:?}")).collect();
    // A Go string literal of the hosts' JSON (Rust's escapes are Go's here).
    let policy = format!("{:?}", serde_json::to_string(&g.hosts).expect("strings"));
    let guard = format!(
        "{{{{- if ne (sortAlpha {hosts} | toJson) (sortAlpha (list {list}) | toJson) }}}}{{{{- fail (printf \"gateways.{name}.hosts is %s, but with gatewayApi.enabled=true the Gateway's listeners are the policy's hosts, %s, one per host, and an HTTPRoute serves only hosts a listener has. Change the gateway's hosts in the policy and compile again, or keep Istio's Gateway (gatewayApi.enabled=false), which takes these values\" ({hosts} | toJson) {policy}) }}}}{{{{- end }}}}",
        list = policy_hosts.join(" "),
        name = g.name,
    );
    if let Some(key) = out.lines(vec![guard]) {
        gw["spec"][key.as_str()] = Value::Null;
    }
    let mut docs = vec![gw];

    let section = if g.tls.is_some() { "https" } else { "http" };
    // Each listener serves one host; an HTTPRoute attaches to its hosts' own.
    let parents = |out: &mut Out, section: &str, hosts: &[usize]| -> Vec<gt::ParentRef> {
        hosts
            .iter()
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
    // Routes for a single host go to HTTPRoutes of that host; the rest
    // share those for all the gateway's hosts. The model plans them within
    // the Gateway API's list limits, split where needed so that precedence
    // picks the same rule (`model::Gateway::http_routes`).
    for plan in g.http_routes() {
        let metadata = n.meta(out, &plan.name, None);
        let hostnames = if plan.all_hosts {
            At::yaml(out, &gv.hosts().expr(), g.hosts.clone())
        } else {
            At::Lit(plan.hosts.iter().map(|&i| g.hosts[i].clone()).collect())
        };
        let (parent_refs, rules) = match plan.set {
            model::RouteSet::Redirect => (
                parents(out, "http", &plan.hosts),
                vec![gt::HttpRouteRule {
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
            ),
            _ => (
                parents(out, section, &plan.hosts),
                plan.rules
                    .iter()
                    .map(|&i| http_route_rule(&n, out, &g.routes[i]))
                    .collect(),
            ),
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The model of a policy whose gateway `public` has `hosts` hosts,
    /// `tls` (with `httpsRedirect` if `redirect`), the routes without
    /// `host` given, and `for_host3` routes for its fourth host.
    fn model(hosts: usize, redirect: bool, general: &[String], for_host3: usize) -> Model {
        let hosts: Vec<String> = (0..hosts).map(|i| format!("h{i}.example.com")).collect();
        let mut routes: Vec<String> = general.to_vec();
        routes.extend(
            (0..for_host3).map(|i| format!("{{prefix: /own{i}, host: h3.example.com, to: api}}")),
        );
        let text = format!(
            "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {{name: shop}}\nspec:\n  version: 1.0.0\n  services:\n    web: {{image: 'r.example.com/web:1', ports: {{http: 8080}}}}\n    api: {{image: 'r.example.com/api:1', ports: {{http: 9000}}}}\n  gateways:\n    public:\n      hosts: [{}]\n      tls: {{credentialName: shop-tls}}\n      httpsRedirect: {redirect}\n      routes:\n{}  allow:\n    - {{from: gateway/public, to: web}}\n    - {{from: gateway/public, to: api}}\n",
            hosts.join(", "),
            routes.iter().map(|r| format!("        - {r}\n")).collect::<String>()
        );
        crate::compile_model(&text, None).unwrap_or_else(|d| panic!("{d:?}"))
    }

    /// 40 routes without `host`: 28 distinct prefixes, then groups that
    /// tie in precedence (`/` with one header, 6 of them; `/healthz`
    /// exact with one header, 3; `/api/`, `/api` and `/api` again to
    /// another service, without headers, 3),
    /// interleaved with the others.
    fn forty_routes() -> Vec<String> {
        let mut r = vec![];
        for i in 0..28 {
            r.push(format!("{{prefix: /p{i}, to: web}}"));
            match i % 4 {
                // Each its own header: one request may carry them all.
                0 if i < 24 => r.push(format!(
                    "{{prefix: /, headers: {{x-team-{i}: on}}, to: api}}"
                )),
                1 if i < 12 => r.push(format!(
                    "{{exact: /healthz, headers: {{x-probe-{i}: on}}, to: api}}"
                )),
                2 if i < 12 => r.push(match i {
                    2 => "{prefix: /api/, to: api}".to_string(),
                    6 => "{prefix: /api, to: api}".to_string(),
                    _ => "{prefix: /api, to: web}".to_string(),
                }),
                _ => {}
            }
        }
        assert_eq!(r.len(), 40);
        r
    }

    fn http_routes(f: &File) -> Vec<&Value> {
        f.docs
            .iter()
            .map(|d| &d.value)
            .filter(|v| v["kind"] == "HTTPRoute")
            .collect()
    }

    /// The rules a request to each host meets, as the policy means them
    /// (one HTTPRoute per host set, without limits): (host, rule) pairs.
    fn intent(m: &Model, g: &model::Gateway) -> BTreeSet<(String, String)> {
        let n = Names::new(m);
        let mut out = Out::new(Mode::Plain);
        let mut pairs = BTreeSet::new();
        for r in &g.routes {
            let rule = to_value(&http_route_rule(&n, &mut out, r)).to_string();
            for h in &g.hosts {
                if r.host.as_ref().is_none_or(|x| x == h) {
                    pairs.insert((h.clone(), rule.clone()));
                }
            }
        }
        pairs
    }

    /// Limits, names, attachment, and the union of the split routes is the
    /// unsplit intent, each (host, rule) once.
    fn check_split(m: &Model, f: &File) -> Vec<String> {
        let g = &m.gateways[0];
        let routes = http_routes(f);
        let mut names = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for hr in &routes {
            let name = hr["metadata"]["name"].as_str().unwrap().to_string();
            assert!(name.len() <= 63, "{name}");
            assert!(names.insert(name.clone()), "{name} twice");
            let spec = &hr["spec"];
            let hostnames: Vec<&str> = spec["hostnames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap())
                .collect();
            let rules = spec["rules"].as_array().unwrap();
            let parents = spec["parentRefs"].as_array().unwrap();
            assert!(!hostnames.is_empty() && hostnames.len() <= 16, "{name}");
            assert!(!rules.is_empty() && rules.len() <= 16, "{name}");
            assert!(parents.len() <= 32, "{name}");
            // Attached to its own hosts' listeners, and only those.
            let redirect = name.contains("-redirect");
            let sections: Vec<String> = hostnames
                .iter()
                .map(|h| {
                    let i = g.hosts.iter().position(|x| x == h).unwrap();
                    format!("{}-{i}", if redirect { "http" } else { "https" })
                })
                .collect();
            let want: Vec<Value> = sections
                .iter()
                .map(|s| json!({"name": "shop-public", "namespace": "istio-ingress", "sectionName": s}))
                .collect();
            assert_eq!(parents, &want, "{name}");
            if redirect {
                assert_eq!(
                    rules,
                    &vec![
                        json!({"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]})
                    ]
                );
                for h in hostnames {
                    assert!(seen.insert(("redirect".to_string(), h.to_string())), "{h}");
                }
                continue;
            }
            for h in &hostnames {
                for r in rules {
                    assert!(
                        seen.insert((h.to_string(), r.to_string())),
                        "{name}: {h} {r} twice"
                    );
                }
            }
        }
        let mut want = intent(m, g);
        if g.https_redirect {
            want.extend(g.hosts.iter().map(|h| ("redirect".to_string(), h.clone())));
        }
        assert_eq!(seen, want);
        names.into_iter().collect()
    }

    /// Routes one header's values tell apart (`x-tenant: t0` ... `t39`)
    /// never match one request together, so they need not share an
    /// HTTPRoute: 40 split into 16, 16 and 8, in policy order.
    #[test]
    fn routes_told_apart_by_one_header_split_past_sixteen() {
        let tenants: Vec<String> = (0..40)
            .map(|i| format!("{{prefix: /, headers: {{x-tenant: t{i}}}, to: api}}"))
            .collect();
        let m = model(2, false, &tenants, 0);
        let f = gateway_api_file(&m, &m.gateways[0], Mode::Plain);
        let names = check_split(&m, &f);
        assert_eq!(names, ["shop-public", "shop-public-1", "shop-public-2"]);
        let firsts: Vec<&Value> = http_routes(&f)
            .iter()
            .map(|hr| &hr["spec"]["rules"][0]["matches"][0]["headers"][0]["value"])
            .collect();
        assert_eq!(firsts, [&json!("t0"), &json!("t16"), &json!("t32")]);
    }

    #[test]
    fn forty_hosts_and_forty_routes_split_within_the_gateway_api_limits() {
        let m = model(40, false, &forty_routes(), 20);
        let g = &m.gateways[0];
        let f = gateway_api_file(&m, g, Mode::Plain);
        let gw = &f.docs[0].value;
        let listeners: Vec<&str> = gw["spec"]["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..40).map(|i| format!("https-{i}")).collect();
        assert_eq!(listeners, want);
        let names = check_split(&m, &f);
        // 40 hosts in 3 chunks (16, 16, 8) times 40 rules in 3 chunks;
        // host 3's 20 routes in 2.
        let mut want: Vec<String> = vec!["shop-public".into()];
        want.extend((1..9).map(|k| format!("shop-public-{k}")));
        want.extend(["shop-public-host-3".into(), "shop-public-host-3-1".into()]);
        want.sort();
        assert_eq!(names, want);
        // Rules that tie in precedence share an HTTPRoute, in policy order.
        let routes = http_routes(&f);
        for (path, kind) in [("/", "PathPrefix"), ("/healthz", "Exact")] {
            let holders: BTreeSet<&str> =
                routes
                    .iter()
                    .filter(|hr| hr["spec"]["hostnames"][0] == "h0.example.com")
                    .filter(|hr| {
                        hr["spec"]["rules"].as_array().unwrap().iter().any(|r| {
                            r["matches"][0]["path"] == json!({"type": kind, "value": path})
                        })
                    })
                    .map(|hr| hr["metadata"]["name"].as_str().unwrap())
                    .collect();
            assert_eq!(holders.len(), 1, "{path}: {holders:?}");
        }
        let first = routes
            .iter()
            .find(|hr| {
                hr["spec"]["hostnames"][0] == "h0.example.com"
                    && hr["spec"]["rules"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["matches"][0]["path"]["value"] == "/api/")
            })
            .unwrap();
        let api: Vec<&Value> = first["spec"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["matches"][0]["path"]["value"])
            .filter(|v| v.as_str().is_some_and(|p| p.starts_with("/api")))
            .collect();
        assert_eq!(api, [&json!("/api/"), &json!("/api"), &json!("/api")]);
        let teams: Vec<&Value> = routes
            .iter()
            .filter(|hr| hr["spec"]["hostnames"][0] == "h0.example.com")
            .flat_map(|hr| hr["spec"]["rules"].as_array().unwrap())
            .filter(|r| r["matches"][0]["path"]["value"] == "/")
            .map(|r| &r["matches"][0]["headers"][0]["name"])
            .collect();
        assert_eq!(
            teams,
            [
                "x-team-0",
                "x-team-4",
                "x-team-8",
                "x-team-12",
                "x-team-16",
                "x-team-20"
            ]
            .map(|t| json!(t))
            .iter()
            .collect::<Vec<_>>()
        );
        // One HTTPRoute whole: host 3's second.
        let own = routes
            .iter()
            .find(|hr| hr["metadata"]["name"] == "shop-public-host-3-1")
            .unwrap();
        let rules: Vec<Value> = (16..20)
            .map(|i| {
                json!({
                    "matches": [{"path": {"type": "PathPrefix", "value": format!("/own{i}")}}],
                    "backendRefs": [{"name": "api", "port": 9000}],
                })
            })
            .collect();
        assert_eq!(
            own["spec"],
            json!({
                "parentRefs": [{"name": "shop-public", "namespace": "istio-ingress", "sectionName": "https-3"}],
                "hostnames": ["h3.example.com"],
                "rules": rules,
            })
        );
    }

    #[test]
    fn a_redirect_over_sixteen_hosts_splits_and_small_gateways_do_not() {
        let routes: Vec<String> = (0..3)
            .map(|i| format!("{{prefix: /p{i}, to: web}}"))
            .collect();
        let m = model(20, true, &routes, 0);
        let f = gateway_api_file(&m, &m.gateways[0], Mode::Plain);
        let names = check_split(&m, &f);
        assert_eq!(
            names,
            [
                "shop-public",
                "shop-public-1",
                "shop-public-redirect",
                "shop-public-redirect-1"
            ]
        );
        assert_eq!(
            m.gateways[0].route_names(),
            ["public", "public-1", "public-redirect", "public-redirect-1"]
        );
        // 16 hosts and 16 rules: one HTTPRoute, its hostnames the values'.
        let routes: Vec<String> = (0..16)
            .map(|i| format!("{{prefix: /p{i}, to: web}}"))
            .collect();
        let m = model(16, true, &routes, 0);
        let plans = m.gateways[0].http_routes();
        assert_eq!(
            plans
                .iter()
                .map(|p| (p.name.as_str(), p.all_hosts))
                .collect::<Vec<_>>(),
            [("public", true), ("public-redirect", true)]
        );
        let f = gateway_api_file(&m, &m.gateways[0], Mode::Plain);
        assert_eq!(check_split(&m, &f), ["shop-public", "shop-public-redirect"]);
    }
}
