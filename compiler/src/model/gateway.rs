//! Gateways: hosts, TLS, the ingress workload that serves them, and their
//! routes.

use super::MIN_FULLNAME;
use super::{is_dns_label, is_dns_subdomain, is_host, parse_duration, Resolver, Service};
use crate::policy;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    pub name: String,
    pub hosts: Vec<String>,
    /// Served by an internal (ClusterIP) ingress gateway.
    pub internal: bool,
    /// Labels selecting the gateway pods (Istio `Gateway.spec.selector`).
    pub selector: Vec<(String, String)>,
    /// ServiceAccount of the gateway pods: the identity rules allow.
    pub service_account: String,
    pub tls: Option<GatewayTls>,
    pub https_redirect: bool,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GatewayTls {
    /// Clients must present a certificate (Istio `MUTUAL`).
    pub mutual: bool,
    pub credential_name: String,
    pub issuer: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
    Regex(String),
}

impl PathMatch {
    /// As the policy writes it: `prefix /api`.
    pub fn describe(&self) -> String {
        match self {
            PathMatch::Prefix(p) => format!("prefix {p}"),
            PathMatch::Exact(p) => format!("exact {p}"),
            PathMatch::Regex(p) => format!("regex {p}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub path: PathMatch,
    /// Only this one of the gateway's hosts.
    pub host: Option<String>,
    pub headers: Vec<(String, String)>,
    pub rewrite: Option<String>,
    pub cors: Option<Cors>,
    pub service: String,
    /// The destination's Service port number.
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub max_age: Option<String>,
    pub allow_credentials: bool,
}

/// HTTP header names are tokens; Istio and Gateway API take them lower-case.
pub fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
}

/// Suffix of the NetworkPolicy that admits the Ingress controller to a
/// service gateways may reach (`emit::ingress`): the longest object name a
/// service renders, so a gateway edge leaves the release part less room
/// than E0211 alone guarantees.
const FROM_INGRESS: &str = "-from-ingress";

impl Resolver<'_> {
    /// Services that gateways may reach keep their `<release>-<service>-from-ingress`
    /// NetworkPolicy within 63 characters with the release part at least
    /// MIN_FULLNAME. A name already too long for E0211 is reported there only.
    pub(super) fn check_ingress_names(&mut self, app: &str, edges: &[super::Edge]) {
        let mut seen = std::collections::BTreeSet::new();
        for e in edges {
            if !matches!(e.source, super::Source::Gateway(_)) || !seen.insert(e.dest.as_str()) {
                continue;
            }
            let name = e.dest.as_str();
            let release = app.len().max(MIN_FULLNAME);
            if release + 1 + name.len() > super::MAX_OBJECT_NAME {
                continue; // reported by E0211 already
            }
            let object = format!("{name}{FROM_INGRESS}");
            if let Some(why) = super::names::release_room(app, &object, 63) {
                self.err_key(
                    "E0211",
                    &format!("spec.services.{name}"),
                    format!("{why} (the NetworkPolicy admitting the Ingress controller, as gateways may reach `{name}`)"),
                    format!(
                        "shorten the service name to at most {} characters",
                        (63 - 1 - FROM_INGRESS.len()).saturating_sub(release)
                    ),
                );
            }
        }
    }

    /// Names meshpack makes by adding a suffix to a service's or a
    /// gateway's name must not be the name another service or gateway
    /// renders for an object of the same kind (kustomize refuses the
    /// tree, and Helm keeps only the later object):
    /// - the NetworkPolicy `<service>-from-ingress` of a service gateways
    ///   reach against `<service>-from`'s `<service>-from-ingress`
    ///   (its ingress NetworkPolicy);
    /// - the waypoint AuthorizationPolicy `<service>-waypoint` against the
    ///   AuthorizationPolicy of a service named `<service>-waypoint`;
    /// - a gateway's HTTPRoutes (`<gateway>`, `<gateway>-host-<i>`,
    ///   `<gateway>-redirect`) against another gateway's.
    pub(super) fn check_derived_names(&mut self, m: &super::Model) {
        let services: std::collections::BTreeSet<&str> =
            m.services.iter().map(|s| s.name.as_str()).collect();
        let reached: std::collections::BTreeSet<&str> = m
            .edges
            .iter()
            .filter(|e| matches!(e.source, super::Source::Gateway(_)))
            .map(|e| e.dest.as_str())
            .collect();
        for s in &m.services {
            let name = s.name.as_str();
            let from = format!("{name}-from");
            if reached.contains(name) && services.contains(from.as_str()) {
                self.err_key(
                    "E0208",
                    &format!("spec.services.{from}"),
                    format!("`{from}`'s ingress NetworkPolicy would be `<release>-{name}{FROM_INGRESS}`, the name of the one admitting the Ingress controller to `{name}`"),
                    format!("rename `{from}`, e.g. `{name}-client`"),
                );
            }
            let waypoint = format!("{name}-waypoint");
            if services.contains(waypoint.as_str()) && m.needs_waypoint(name) {
                self.err_key(
                    "E0208",
                    &format!("spec.services.{waypoint}"),
                    format!("`{waypoint}`'s AuthorizationPolicy would have the name of `{name}`'s waypoint AuthorizationPolicy, `<release>-{waypoint}`"),
                    format!("rename `{waypoint}`"),
                );
            }
        }
        let mut routes: BTreeMap<String, &str> = BTreeMap::new();
        for g in &m.gateways {
            let mut names = vec![g.name.clone()];
            let mut hosts: Vec<usize> = g
                .routes
                .iter()
                .filter_map(|r| r.host.as_ref())
                .filter_map(|h| g.hosts.iter().position(|x| x == h))
                .collect();
            hosts.sort_unstable();
            hosts.dedup();
            names.extend(hosts.iter().map(|i| format!("{}-host-{i}", g.name)));
            if g.tls.is_some() && g.https_redirect {
                names.push(format!("{}-redirect", g.name));
            }
            for n in names {
                if let Some(other) = routes.get(&n) {
                    self.err_key(
                        "E0240",
                        &format!("spec.gateways.{}", g.name),
                        format!("gateways `{other}` and `{}` would both render the HTTPRoute `<release>-{n}`", g.name),
                        "rename one gateway: `<gateway>-host-<i>` and `<gateway>-redirect` are the names of a gateway's own routes".into(),
                    );
                } else {
                    routes.insert(n, &g.name);
                }
            }
        }
    }

    pub(super) fn gateway(
        &mut self,
        app: &str,
        name: &str,
        g: &policy::Gateway,
        index: &BTreeMap<&str, &Service>,
    ) -> Gateway {
        let path = format!("spec.gateways.{name}");
        let longest = longest_gateway_object(name, g);
        if !is_dns_label(name) {
            self.err_key(
                "E0240",
                &path,
                format!("gateway name `{name}` is not a DNS-1035 label"),
                "use lowercase letters, digits and `-`".into(),
            );
        } else if name == "waypoint" {
            self.err_key(
                "E0240",
                &path,
                "gateway name `waypoint` is reserved".into(),
                "the ambient waypoint is `<release>-waypoint`; choose another name".into(),
            );
        } else if let Some(why) = super::names::release_room(app, &longest, 63) {
            // Checked here, not left to the chart: its fullname gets what
            // the longest suffix leaves, and a gateway that leaves less than
            // MIN_FULLNAME renders names such as `-web` that the API server
            // refuses (and releases that collide).
            self.err_key(
                "E0240",
                &path,
                why,
                format!(
                    "shorten the gateway name to at most {} characters (its longest object is `<release>-{longest}`)",
                    (63 - 1 - (longest.len() - name.len())).saturating_sub(app.len().max(MIN_FULLNAME))
                ),
            );
        } else if index.get(name).is_some_and(|s| s.traffic.routes_requests()) {
            // Both would render the VirtualService `<release>-<name>`: the
            // gateway's routes and the service's own routing (split,
            // retries, timeouts...), and one would replace the other.
            self.err_key(
                "E0240",
                &path,
                format!("gateway `{name}` has the name of a service that routes its requests"),
                format!("both would render the VirtualService `<release>-{name}`; rename the gateway, e.g. `{name}-gateway`"),
            );
        }
        if g.hosts.is_empty() {
            self.err_key(
                "E0241",
                &format!("{path}.hosts"),
                format!("gateway `{name}` lists no host"),
                "add the host names it answers for".into(),
            );
        }
        for (i, h) in g.hosts.iter().enumerate() {
            if !is_host(h, true) {
                self.err(
                    "E0242",
                    &format!("{path}.hosts[{i}]"),
                    format!("`{h}` is not a host name"),
                    "write a DNS name such as `app.example.com` or `*.example.com`".into(),
                );
            }
        }
        if g.https_redirect && g.tls.is_none() {
            self.err_key(
                "E0243",
                &format!("{path}.httpsRedirect"),
                format!("gateway `{name}` redirects to HTTPS but has no `tls`"),
                "add `tls.credentialName`, or remove httpsRedirect".into(),
            );
        }
        if let Some(t) = &g.tls {
            if !is_dns_subdomain(&t.credential_name) {
                self.err(
                    "E0244",
                    &format!("{path}.tls.credentialName"),
                    format!("`{}` is not a Secret name", t.credential_name),
                    "use a DNS-1123 subdomain".into(),
                );
            }
            if let Some(cm) = &t.cert_manager {
                self.name(
                    super::names::Rule::Dns1123Subdomain,
                    "E0245",
                    &format!("{path}.tls.certManager.issuer"),
                    &cm.issuer,
                    "a cert-manager issuer name",
                );
                if let Some(k) = &cm.kind {
                    if k != "Issuer" && k != "ClusterIssuer" {
                        self.err(
                            "E0245",
                            &format!("{path}.tls.certManager.kind"),
                            format!("unknown issuer kind `{k}`"),
                            "expected `Issuer` or `ClusterIssuer`".into(),
                        );
                    }
                }
            }
        }
        if let Some(sa) = &g.service_account {
            if !is_dns_subdomain(sa) {
                self.err(
                    "E0244",
                    &format!("{path}.serviceAccount"),
                    format!("`{sa}` is not a ServiceAccount name"),
                    "use a DNS-1123 subdomain".into(),
                );
            }
        }
        // The Istio Gateway's `selector` and the NetworkPolicies'
        // `podSelector` for the gateway's pods.
        if let Some(sel) = &g.selector {
            for (k, v) in sel {
                let at = format!("{path}.selector.{k}");
                self.name_key(super::names::Rule::LabelKey, "E0244", &at, k, "a label key");
                self.name(
                    super::names::Rule::LabelValue,
                    "E0244",
                    &at,
                    v,
                    "a label value",
                );
            }
            if sel.is_empty() {
                self.err_key(
                    "E0244",
                    &format!("{path}.selector"),
                    format!("gateway `{name}` has an empty selector, which would select every gateway pod"),
                    "give the labels of its gateway pods, e.g. `selector: {istio: ingressgateway}`".into(),
                );
            }
        }
        let mut routes = vec![];
        for (i, r) in g.routes.iter().enumerate() {
            if let Some(route) = self.route(&format!("{path}.routes[{i}]"), g, r, index) {
                routes.push(route);
            }
        }
        let (selector, service_account) = if g.internal {
            ("internal-ingressgateway", "istio-internal-ingressgateway")
        } else {
            ("ingressgateway", "istio-ingressgateway")
        };
        Gateway {
            name: name.to_string(),
            hosts: g.hosts.clone(),
            internal: g.internal,
            selector: match &g.selector {
                Some(s) => s.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                None => vec![("istio".into(), selector.into())],
            },
            service_account: g
                .service_account
                .clone()
                .unwrap_or_else(|| service_account.into()),
            tls: g.tls.as_ref().map(|t| GatewayTls {
                mutual: t.mode == Some(policy::TlsMode::Mutual),
                credential_name: t.credential_name.clone(),
                issuer: t.cert_manager.as_ref().map(|c| {
                    (
                        c.issuer.clone(),
                        c.kind.clone().unwrap_or_else(|| "Issuer".into()),
                    )
                }),
            }),
            https_redirect: g.https_redirect,
            routes,
        }
    }

    fn route(
        &mut self,
        rp: &str,
        g: &policy::Gateway,
        r: &policy::Route,
        index: &BTreeMap<&str, &Service>,
    ) -> Option<Route> {
        let given: Vec<PathMatch> = [
            r.prefix.clone().map(PathMatch::Prefix),
            r.exact.clone().map(PathMatch::Exact),
            r.regex.clone().map(PathMatch::Regex),
        ]
        .into_iter()
        .flatten()
        .collect();
        let path = match given.as_slice() {
            [one] => one.clone(),
            [] => {
                self.err_key(
                    "E0246",
                    rp,
                    "route matches no path".into(),
                    "add one of `prefix: /api`, `exact: /healthz` or `regex: ^/v[0-9]+/`".into(),
                );
                PathMatch::Prefix("/".into())
            }
            _ => {
                self.err_key(
                    "E0246",
                    rp,
                    "route has more than one of `prefix`, `exact` and `regex`".into(),
                    "keep one; write a second route for another match".into(),
                );
                given[0].clone()
            }
        };
        match &path {
            PathMatch::Prefix(p) | PathMatch::Exact(p) => {
                if let Some(why) = path_fault(p) {
                    let field = if r.prefix.is_some() {
                        "prefix"
                    } else {
                        "exact"
                    };
                    self.err(
                        "E0246",
                        &format!("{rp}.{field}"),
                        format!("route path `{p}` {why}"),
                        "write a normalised URI path such as `/api`: no `//`, `/./` or `/../`, no `#` or encoded `/`, and other characters percent-encoded".into(),
                    );
                }
            }
            PathMatch::Regex(x) => {
                if let Err(e) = regex::Regex::new(x) {
                    let first = e.to_string().lines().last().unwrap_or("").to_string();
                    self.err(
                        "E0246",
                        &format!("{rp}.regex"),
                        format!("`{x}` is not a regular expression: {}", first.trim()),
                        "Envoy matches RE2 syntax against the whole path".into(),
                    );
                }
            }
        }
        if let Some(h) = &r.host {
            if !g.hosts.contains(h) {
                self.err(
                    "E0249",
                    &format!("{rp}.host"),
                    format!("route host `{h}` is not one of the gateway's hosts"),
                    format!("the gateway answers for: {}", g.hosts.join(", ")),
                );
            }
        }
        for k in r.headers.keys() {
            if !is_header_name(k) {
                self.err_key(
                    "E0249",
                    &format!("{rp}.headers.{k}"),
                    format!("`{k}` is not a lower-case HTTP header name"),
                    "write header names in lower case, e.g. `x-team`".into(),
                );
            }
        }
        if let Some(rw) = &r.rewrite {
            if r.prefix.is_none() {
                self.err_key(
                    "E0249",
                    &format!("{rp}.rewrite"),
                    "`rewrite` replaces a matched prefix, but the route has none".into(),
                    "match with `prefix:`, or remove rewrite".into(),
                );
            } else if !rw.starts_with('/') {
                self.err(
                    "E0249",
                    &format!("{rp}.rewrite"),
                    format!("rewrite `{rw}` does not start with `/`"),
                    "write the new prefix, e.g. `/`".into(),
                );
            }
        }
        let cors = r.cors.as_ref().map(|c| {
            if c.allow_origins.is_empty() {
                self.err_key(
                    "E0249",
                    &format!("{rp}.cors.allowOrigins"),
                    "CORS allows no origin".into(),
                    "list the origins, e.g. `https://app.example.com`".into(),
                );
            }
            if let Some(d) = &c.max_age {
                self.duration(&format!("{rp}.cors.maxAge"), d);
            }
            Cors {
                allow_origins: c.allow_origins.clone(),
                allow_methods: c.allow_methods.clone(),
                allow_headers: c.allow_headers.clone(),
                max_age: c.max_age.clone(),
                allow_credentials: c.allow_credentials,
            }
        });
        let Some(svc) = index.get(r.to.as_str()) else {
            self.unknown_service(&format!("{rp}.to"), &r.to, index);
            return None;
        };
        // Browsers speak HTTP/1.1: prefer a port named `http*` over gRPC.
        let port = match &r.port {
            None => svc
                .ports
                .iter()
                .find(|p| p.protocol == super::Protocol::Http)
                .or_else(|| svc.ports.iter().find(|p| p.protocol.is_http())),
            Some(pr) => self.port_ref(&format!("{rp}.port"), svc, pr),
        };
        match port {
            Some(p) if p.protocol.is_http() => Some(Route {
                path,
                host: r.host.clone(),
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                rewrite: r.rewrite.clone(),
                cors,
                service: r.to.clone(),
                port: p.port,
            }),
            Some(p) => {
                self.err(
                    "E0247",
                    &format!("{rp}.port"),
                    format!(
                        "route to `{}` port `{}`, which is {}, not HTTP",
                        r.to,
                        p.name,
                        p.protocol.as_str()
                    ),
                    "route to an HTTP port".into(),
                );
                None
            }
            None if r.port.is_none() => {
                self.err(
                    "E0247",
                    &format!("{rp}.to"),
                    format!("`{}` has no HTTP port to route to", r.to),
                    "name one of its ports `http` or `http-<suffix>`".into(),
                );
                None
            }
            None => None,
        }
    }

    /// An Istio duration (`500ms`, `5s`, `1m`, `1h`), over 1ms as the CRDs'
    /// CEL rules require.
    pub(super) fn duration(&mut self, path: &str, d: &str) {
        match parse_duration(d) {
            Some(s) if s > 0.001 => {}
            Some(_) => self.err(
                "E0270",
                path,
                format!("duration `{d}` is too short"),
                "Istio requires durations longer than 1ms".into(),
            ),
            None => self.err(
                "E0270",
                path,
                format!("`{d}` is not a duration"),
                "write a number and a unit: `500ms`, `5s`, `1m`, `1h`".into(),
            ),
        }
    }
}

/// The longest name, after `<release>-`, of the objects a gateway renders
/// or makes Istio deploy:
/// - `<gateway>-redirect`, the HTTPRoute of `httpsRedirect`, and
///   `<gateway>-host-<i>`, the HTTPRoute of the routes for one host
///   (`emit::gateway::gateway_api_file`);
/// - `<gateway>-istio`, the Deployment and Service Istio deploys for a
///   Gateway API Gateway of class `istio`, whose Service name is a DNS-1035
///   label (63 characters at most).
///   <https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment>
fn longest_gateway_object(name: &str, g: &policy::Gateway) -> String {
    let mut longest = format!("{name}-istio");
    let mut consider = |n: String| {
        if n.len() > longest.len() {
            longest = n;
        }
    };
    if g.https_redirect && g.tls.is_some() {
        consider(format!("{name}-redirect"));
    }
    let last_host = g
        .routes
        .iter()
        .filter_map(|r| r.host.as_ref())
        .filter_map(|h| g.hosts.iter().position(|x| x == h))
        .max();
    if let Some(i) = last_host {
        consider(format!("{name}-host-{i}"));
    }
    longest
}

/// Why a prefix or exact path is one the Gateway API's HTTPRoute refuses
/// (its CEL rules on `spec.rules[].matches[].path`, gateway.networking.k8s.io
/// v1.6.1 `httproutes.yaml`), and Ingress's `Exact`/`Prefix` paths too
/// (the API server refuses `//`, `/./` and `/../` there); `None` when fine.
fn path_fault(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return Some("does not start with `/`".into());
    }
    for bad in ["//", "/./", "/../", "%2f", "%2F", "#"] {
        if p.contains(bad) {
            return Some(format!("contains `{bad}`"));
        }
    }
    for bad in ["/..", "/."] {
        if p.ends_with(bad) {
            return Some(format!("ends with `{bad}`"));
        }
    }
    // ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&c) {
            i += 1;
        } else if c == b'%'
            && b.len() > i + 2
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            i += 3;
        } else {
            let ch = p[i..].chars().next().unwrap_or('?');
            return Some(format!(
                "has `{ch}`, which a URI path writes percent-encoded"
            ));
        }
    }
    None
}
