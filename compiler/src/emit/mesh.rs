//! Istio objects: PeerAuthentication, AuthorizationPolicy, DestinationRule,
//! Sidecar, Gateway, VirtualService, ServiceEntry, and cert-manager
//! Certificates for gateway TLS.
//!
//! Everything here selects the release's own pods (a customer may share the
//! namespace with other software) unless `istio.namespaceWide` is set.
//! Hosts of DestinationRules and VirtualService destinations are short
//! names: Istio reads them relative to the rule's namespace, which keeps the
//! namespace out of them.
//! <https://istio.io/latest/docs/reference/config/networking/destination-rule/#DestinationRule>

use super::{out, to_value, Doc, File, Group, Mode, Names, Out, Part};
use crate::istio::authorization_policy::{self as ap, AuthorizationPolicy};
use crate::istio::certificate::{Certificate, CertificateSpec, IssuerRef};
use crate::istio::destination_rule::{
    ClientTls, DestinationRule, DestinationRuleSpec, TrafficPolicy,
};
use crate::istio::gateway::{Gateway, GatewaySpec, Server, ServerPort, ServerTls};
use crate::istio::peer_authentication::{Mtls, PeerAuthentication, PeerAuthenticationSpec};
use crate::istio::service_entry::{ServiceEntry, ServiceEntrySpec, ServicePort};
use crate::istio::sidecar::{EgressListener, OutboundTrafficPolicy, Sidecar, SidecarSpec};
use crate::istio::virtual_service::{
    Destination, HttpMatch, HttpRoute, PortSelector, RouteDestination, StringMatch, VirtualService,
    VirtualServiceSpec,
};
use crate::model::{self, Edge, Model, Protocol, Service, Source};
use crate::policy::MtlsMode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub fn files(m: &Model, mode: Mode) -> Vec<File> {
    let mut files = vec![release_file(m, mode)];
    for s in &m.services {
        files.push(service_file(m, s, mode));
    }
    for g in &m.gateways {
        files.push(gateway_file(m, g, mode));
    }
    if !m.egress.is_empty() {
        files.push(egress_file(m, mode));
    }
    files
}

/// Annotation naming the namespace an object must stay in whatever
/// namespace the release is installed into.
pub const FIXED_NAMESPACE: &str = "meshpack.dev/namespace";

const NOT_WIDE: &str = "not $.Values.istio.namespaceWide";
const WIDE: &str = "$.Values.istio.namespaceWide";

/// Helm renders `when`; Kustomize takes the default (`namespaceWide: false`).
fn guarded(f: &mut File, when: &str, default: bool, value: Value) {
    match f.out.mode {
        Mode::Helm => f.docs.push(Doc {
            when: Some(when.to_string()),
            value,
        }),
        Mode::Plain if default => f.push(value),
        Mode::Plain => {}
    }
}

fn selector(n: &Names, out: &mut Out, component: Option<&str>) -> Value {
    json!({ "matchLabels": n.selector(out, component) })
}

fn dry_run(m: &Model, v: &mut Value) {
    // Istio evaluates and logs dry-run policies but does not enforce them.
    // https://istio.io/latest/docs/tasks/security/authorization/authz-dry-run/
    if m.dry_run {
        v["metadata"]["annotations"] = json!({ "istio.io/dry-run": "true" });
    }
}

/// The release-wide PeerAuthentication and the allow-nothing policy.
fn release_file(m: &Model, mode: Mode) -> File {
    let mut f = File::new("istio/release.yaml", Group::Istio, mode);
    let n = Names::new(m);
    let pa_spec = PeerAuthenticationSpec {
        mtls: Some(Mtls {
            mode: m.mtls.as_str().into(),
        }),
        ..Default::default()
    };
    // Namespace-wide: one PeerAuthentication without selector. Otherwise each
    // service gets its own (see `service_file`): two workload-level policies
    // selecting one pod conflict, and Istio would apply only the oldest.
    let mut wide_pa = to_value(&PeerAuthentication::new("", pa_spec));
    wide_pa["metadata"] = n.meta(&mut f.out, "mtls", None);
    guarded(&mut f, WIDE, false, wide_pa);

    // An ALLOW policy without rules matches nothing: everything not allowed
    // by another policy is denied.
    // https://istio.io/latest/docs/reference/config/security/authorization-policy/#AuthorizationPolicy
    for (wide, when) in [(false, NOT_WIDE), (true, WIDE)] {
        let spec = ap::AuthorizationPolicySpec::default();
        let mut v = to_value(&AuthorizationPolicy::new("", spec));
        v["metadata"] = n.meta(&mut f.out, "allow-nothing", None);
        dry_run(m, &mut v);
        if !wide {
            v["spec"]["selector"] = selector(&n, &mut f.out, None);
        }
        guarded(&mut f, when, !wide, v);
    }
    f
}

fn service_file(m: &Model, s: &Service, mode: Mode) -> File {
    let mut f = File::new(format!("istio/{}.yaml", s.name), Group::Istio, mode);
    let n = Names::new(m);

    // PeerAuthentication: the service's own when it overrides the release's
    // mode (always rendered), otherwise only when not namespace-wide.
    let overrides = s.mtls.is_some() || !s.port_mtls.is_empty();
    let pa = PeerAuthenticationSpec {
        mtls: Some(Mtls {
            mode: s.mtls.unwrap_or(m.mtls).as_str().into(),
        }),
        port_level_mtls: s
            .port_mtls
            .iter()
            .map(|(p, md)| {
                (
                    *p,
                    Mtls {
                        mode: md.as_str().into(),
                    },
                )
            })
            .collect(),
        ..Default::default()
    };
    let mut v = to_value(&PeerAuthentication::new("", pa));
    v["metadata"] = n.meta(&mut f.out, &s.name, Some(&s.name));
    v["spec"]["selector"] = selector(&n, &mut f.out, Some(&s.name));
    if overrides {
        f.push(v);
    } else {
        guarded(&mut f, NOT_WIDE, true, v);
    }

    let edges: Vec<&Edge> = m.edges_to(&s.name).collect();
    if !edges.is_empty() {
        let v = authorization_policy(m, &n, &mut f.out, s, &edges);
        f.push(v);
    }
    let v = destination_rule(m, &n, &mut f.out, s);
    f.push(v);
    let v = sidecar(m, &n, &mut f.out, s);
    f.push(v);
    f
}

fn authorization_policy(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    edges: &[&Edge],
) -> Value {
    // One rule per distinct operation, listing every source allowed it.
    // (ports, methods, paths) -> sources
    type Op = (Vec<String>, Vec<String>, Vec<String>);
    let mut ops: BTreeMap<Op, Vec<&Source>> = BTreeMap::new();
    for e in edges {
        let mut ports: Vec<String> = e
            .ports
            .iter()
            .filter_map(|p| s.port(p))
            .map(|p| p.target_port.to_string())
            .collect();
        ports.sort_by_key(|p| p.parse::<u32>().unwrap_or(0));
        ports.dedup();
        ops.entry((ports, e.methods.clone(), e.paths.clone()))
            .or_default()
            .push(&e.source);
    }
    let mut v = to_value(&AuthorizationPolicy::new(
        "",
        ap::AuthorizationPolicySpec {
            action: Some("ALLOW".into()),
            ..Default::default()
        },
    ));
    let mut rules = vec![];
    for ((ports, methods, paths), mut sources) in ops {
        sources.sort();
        sources.dedup();
        let principals: Vec<Value> = sources
            .iter()
            .map(|src| source_principal(m, n, out, src))
            .collect();
        let op = ap::Operation {
            ports,
            methods,
            paths,
        };
        let mut rule = to_value(&ap::Rule {
            to: vec![ap::To { operation: op }],
            ..Default::default()
        });
        rule["from"] = json!([{ "source": { "principals": principals } }]);
        rules.push(rule);
    }
    v["metadata"] = n.meta(out, &s.name, Some(&s.name));
    dry_run(m, &mut v);
    v["spec"] = json!({
        "selector": selector(n, out, Some(&s.name)),
        "action": "ALLOW",
        "rules": rules,
    });
    v
}

fn source_principal(m: &Model, n: &Names, out: &mut Out, src: &Source) -> Value {
    match src {
        Source::Service(name) => {
            let svc = m.service(name).expect("resolved");
            n.principal(out, svc)
        }
        Source::Gateway(_) => out.text(&[
            Part::Val("$.Values.istio.trustDomain", "cluster.local"),
            Part::Lit("/ns/"),
            Part::Val("$.Values.istio.gateway.namespace", "istio-ingress"),
            Part::Lit("/sa/"),
            Part::Val(
                "$.Values.istio.gateway.serviceAccount",
                "istio-ingressgateway",
            ),
        ]),
        Source::External {
            namespace,
            service_account,
        } => out.text(&[
            Part::Val("$.Values.istio.trustDomain", "cluster.local"),
            Part::Lit(&format!("/ns/{namespace}/sa/{service_account}")),
        ]),
    }
}

fn destination_rule(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Value {
    let mode = match s.mtls.unwrap_or(m.mtls) {
        MtlsMode::Disable => "DISABLE",
        _ => "ISTIO_MUTUAL",
    };
    let spec = DestinationRuleSpec {
        host: n.plain(&s.name),
        traffic_policy: Some(TrafficPolicy {
            tls: Some(ClientTls { mode: mode.into() }),
        }),
        export_to: vec![".".into()],
    };
    let mut v = to_value(&DestinationRule::new("", spec));
    v["metadata"] = n.meta(out, &s.name, Some(&s.name));
    v["spec"]["host"] = n.object(out, &s.name);
    v
}

/// Each sidecar sees only the services and external hosts it may reach,
/// and `REGISTRY_ONLY` blocks every host not in the mesh's registry.
fn sidecar(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Value {
    let mut dests: Vec<&str> = m.edges_from(&s.name).map(|e| e.dest.as_str()).collect();
    dests.sort();
    dests.dedup();
    let mut external: Vec<&str> = m.egress_from(&s.name).map(|e| e.host.as_str()).collect();
    external.sort();
    external.dedup();
    let spec = SidecarSpec {
        egress: vec![EgressListener { hosts: vec![] }],
        outbound_traffic_policy: Some(OutboundTrafficPolicy {
            mode: "REGISTRY_ONLY".into(),
        }),
        ..Default::default()
    };
    let mut v = to_value(&Sidecar::new("", spec));
    v["metadata"] = n.meta(out, &s.name, Some(&s.name));
    let full = format!("include \"{}.fullname\" $", n.app);
    let mut hosts = vec![out.text(&[
        Part::Val("$.Values.istio.controlPlane.namespace", "istio-system"),
        Part::Lit("/*"),
    ])];
    for d in dests {
        hosts.push(out.text(&[
            Part::Lit("./"),
            Part::Val(&full, n.app),
            Part::Lit(&format!("-{d}.")),
            Part::Val(out::RELEASE_NAMESPACE, super::PLAIN_NAMESPACE),
            Part::Lit(".svc.cluster.local"),
        ]));
    }
    for h in external {
        hosts.push(json!(format!("./{h}")));
    }
    v["spec"] = json!({
        "workloadSelector": { "labels": n.selector(out, Some(&s.name)) },
        "egress": [{ "hosts": hosts }],
        "outboundTrafficPolicy": { "mode": "REGISTRY_ONLY" },
    });
    v
}

fn gateway_file(m: &Model, g: &model::Gateway, mode: Mode) -> File {
    let mut f = File::new(format!("istio/gateway-{}.yaml", g.name), Group::Istio, mode);
    let n = Names::new(m);
    let out = &mut f.out;
    let gv = format!("(index $.Values.gateways \"{}\")", g.name);
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
            tls: Some(ServerTls {
                mode: Some("SIMPLE".into()),
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
    gw["spec"]["selector"] = out.yaml(
        "$.Values.istio.gateway.selector",
        json!({"istio": "ingressgateway"}),
    );
    let servers = gw["spec"]["servers"].as_array_mut().expect("servers");
    for srv in servers.iter_mut() {
        srv["hosts"] = out.yaml(&format!("{gv}.hosts"), hosts());
        if srv["tls"].get("credentialName").is_some() {
            srv["tls"]["credentialName"] = out.scalar(
                &format!("{gv}.tls.credentialName | quote"),
                json!(g.tls.as_ref().map(|t| &t.credential_name)),
            );
        }
    }

    let routes = g
        .routes
        .iter()
        .map(|r| HttpRoute {
            name: None,
            matches: vec![HttpMatch {
                uri: StringMatch {
                    prefix: r.prefix.clone(),
                },
            }],
            route: vec![RouteDestination {
                destination: Destination {
                    host: n.plain(&r.service),
                    port: PortSelector { number: r.port },
                },
            }],
        })
        .collect();
    let mut vs = to_value(&VirtualService::new(
        "",
        VirtualServiceSpec {
            hosts: vec![],
            gateways: vec![n.plain(&g.name)],
            http: routes,
        },
    ));
    vs["metadata"] = n.meta(out, &g.name, None);
    vs["spec"]["hosts"] = out.yaml(&format!("{gv}.hosts"), hosts());
    vs["spec"]["gateways"] = json!([n.object(out, &g.name)]);
    for (i, r) in g.routes.iter().enumerate() {
        vs["spec"]["http"][i]["route"][0]["destination"]["host"] = n.object(out, &r.service);
    }
    let when_cert = format!("{gv}.tls.certManager.enabled");
    let cert = g.tls.as_ref().and_then(|t| {
        let (issuer, kind) = t.issuer.as_ref()?;
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
        // The Secret must live where the ingress gateway runs: Istio reads
        // `credentialName` from the gateway workload's namespace.
        // https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/
        c["metadata"] = n.meta(out, &g.name, None);
        c["metadata"]["namespace"] =
            out.scalar("$.Values.istio.gateway.namespace", json!("istio-ingress"));
        // Kustomize's namespace transformer moves every object into the
        // overlay's namespace; the overlay moves this one back from here.
        c["metadata"]["annotations"] = json!({
            FIXED_NAMESPACE: out.scalar("$.Values.istio.gateway.namespace | quote", json!("istio-ingress"))
        });
        c["spec"]["secretName"] = out.scalar(
            &format!("{gv}.tls.credentialName | quote"),
            json!(t.credential_name),
        );
        c["spec"]["dnsNames"] = out.yaml(&format!("{gv}.hosts"), hosts());
        c["spec"]["issuerRef"]["name"] = out.scalar(
            &format!("{gv}.tls.certManager.issuer | quote"),
            json!(issuer),
        );
        c["spec"]["issuerRef"]["kind"] =
            out.scalar(&format!("{gv}.tls.certManager.kind | quote"), json!(kind));
        Some(c)
    });
    f.push(gw);
    f.push(vs);
    if let Some(c) = cert {
        guarded(&mut f, &when_cert, true, c);
    }
    f
}

/// `*.s3.amazonaws.com` -> `wildcard-s3-amazonaws-com`, short enough for a name.
pub fn host_slug(host: &str) -> String {
    let s = host.replace("*.", "wildcard.").replace('.', "-");
    if s.len() <= 40 {
        return s;
    }
    let hash = Sha256::digest(host.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", s[..31].trim_end_matches('-'))
}

fn egress_file(m: &Model, mode: Mode) -> File {
    let mut f = File::new("istio/egress.yaml", Group::Istio, mode);
    let n = Names::new(m);
    for e in &m.egress {
        let proto = match e.protocol {
            Protocol::Tls => "TLS",
            Protocol::Https => "HTTPS",
            Protocol::Http => "HTTP",
            Protocol::Http2 => "HTTP2",
            Protocol::Grpc => "GRPC",
            Protocol::Mongo => "MONGO",
            _ => "TCP",
        };
        let wildcard = e.host.starts_with('*');
        let spec = ServiceEntrySpec {
            hosts: vec![e.host.clone()],
            ports: vec![ServicePort {
                number: e.port,
                name: format!("{}-{}", proto.to_ascii_lowercase(), e.port),
                protocol: proto.into(),
            }],
            location: "MESH_EXTERNAL".into(),
            // DNS cannot resolve a wildcard; NONE forwards to the address the
            // application resolved itself (TLS routes by SNI).
            resolution: if wildcard { "NONE" } else { "DNS" }.into(),
            export_to: vec![".".into()],
        };
        let mut v = to_value(&ServiceEntry::new("", spec));
        let slug = format!("egress-{}", host_slug(&e.host));
        v["metadata"] = n.meta(&mut f.out, &slug, None);
        f.push(v);
    }
    f
}
