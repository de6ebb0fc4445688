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

/// The Gateway API's list limits meshpack's objects meet
/// (gateway.networking.k8s.io v1.6.1, `standard/` CRDs in
/// `../shared/schemas/gateway-api`): an HTTPRoute's `spec.hostnames` and
/// `spec.rules` stop at 16 items, `spec.parentRefs` at 32, a rule's
/// `matches` at 64 and a match's `headers` at 16 (`filters` and
/// `backendRefs` at 16 too; meshpack writes one of each at most), and a CEL
/// rule keeps the matches of all rules of a route under 128 (meshpack
/// writes one match per rule, so 16 rules are 16 matches); a Gateway's
/// `spec.listeners` stop at 64. Istio's Gateway and VirtualService and
/// Kubernetes' Ingress have no such limits.
pub const MAX_ROUTE_HOSTNAMES: usize = 16;
/// See [`MAX_ROUTE_HOSTNAMES`].
pub const MAX_ROUTE_RULES: usize = 16;
/// See [`MAX_ROUTE_HOSTNAMES`]: a rule's match's `headers`.
pub const MAX_HEADER_MATCHES: usize = 16;
/// See [`MAX_ROUTE_HOSTNAMES`]: a Gateway's `listeners`.
pub const MAX_LISTENERS: usize = 64;

/// Which of a gateway's routes an HTTPRoute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSet {
    /// The routes without `host`, for all the gateway's hosts.
    AllHosts,
    /// The routes for one host (its index in `Gateway::hosts`).
    Host(usize),
    /// `httpsRedirect`: one rule redirecting every host's HTTP listener.
    Redirect,
}

/// One HTTPRoute of a gateway's Gateway API form, as
/// [`Gateway::http_routes`] plans it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoutePlan {
    /// Its name after `<release>-`: `<base>` for the first HTTPRoute of a
    /// set, `<base>-<k>` for the k-th more, where `<base>` is `<gateway>`,
    /// `<gateway>-host-<i>` or `<gateway>-redirect`.
    pub name: String,
    pub set: RouteSet,
    /// Its hostnames and the listeners it attaches to, as indices into
    /// `Gateway::hosts` (at most 16).
    pub hosts: Vec<usize>,
    /// Its rules, as indices into `Gateway::routes`, ascending (at most 16
    /// unless the model refused the gateway; empty for the redirect).
    pub rules: Vec<usize>,
    /// Its hostnames are all the gateway's hosts, which the chart reads
    /// from `gateways.<name>.hosts` at install time; otherwise they are
    /// written as the policy gives them.
    pub all_hosts: bool,
}

/// The key under which two rules of one HTTPRoute could tie in the Gateway
/// API's precedence. The HTTPRoute spec (`HTTPRouteRule.matches`,
/// <https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule>, and
/// the v1.6.1 CRD's description of the field) orders the rules of all
/// routes matching a request by: an `Exact` path match; a `PathPrefix`
/// match with the largest number of characters; a method match; the
/// largest number of header matches; the largest number of query param
/// matches; "the precedence of RegularExpression path matches are
/// implementation-specific". Only "if ties still exist across multiple
/// Routes" do the oldest creation timestamp, then `{namespace}/{name}` in
/// alphabetical order decide, and within one HTTPRoute the first matching
/// rule in list order. So two rules whose keys differ never tie, whichever
/// HTTPRoutes hold them: both matching one request, their paths are two
/// exact ones (one value, different header counts), two prefixes of
/// different lengths, or an exact and a prefix. Two exact or two prefix
/// matches of one value and header count may tie, and must stay in one
/// HTTPRoute in their order. A prefix's trailing `/` is ignored in
/// matching ("When specified, a trailing `/` is ignored"), so `/a/` and
/// `/a` are one key. Regex matches all share one key: their precedence is
/// the implementation's, so a split that keeps one apart from any other
/// rule of the set could change which wins (the model refuses that,
/// E0252).
#[derive(Debug, Clone, PartialEq, Eq)]
enum TieKey<'a> {
    Exact(&'a str, usize),
    Prefix(&'a str, usize),
    Regex,
}

fn tie_key(r: &Route) -> TieKey<'_> {
    match &r.path {
        PathMatch::Exact(p) => TieKey::Exact(p, r.headers.len()),
        PathMatch::Prefix(p) => {
            let t = p.trim_end_matches('/');
            TieKey::Prefix(if t.is_empty() { "/" } else { t }, r.headers.len())
        }
        PathMatch::Regex(_) => TieKey::Regex,
    }
}

/// The rules of one host set (indices into `routes`, in policy order) in
/// groups that may tie (see [`TieKey`]), each in policy order, the groups
/// in the order of their first rule.
fn tie_groups(routes: &[Route], set: &[usize]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(TieKey, Vec<usize>)> = vec![];
    for &i in set {
        let k = tie_key(&routes[i]);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(i),
            None => groups.push((k, vec![i])),
        }
    }
    groups
        .into_iter()
        .flat_map(|(_, v)| may_match_together(routes, &v))
        .collect()
}

/// `group` (rules of one [`TieKey`], in policy order) parted into the
/// smallest sets such that any two rules one request could match are in
/// one set, each in policy order, the sets ordered by their first rule.
/// Rules whose exact header matches give one header two values (`x-tenant:
/// a` and `x-tenant: b`) never match one request, so their order never
/// decides anything (header names compare case-insensitively, as HTTP's).
fn may_match_together(routes: &[Route], group: &[usize]) -> Vec<Vec<usize>> {
    let conflict = |a: &Route, b: &Route| {
        a.headers.iter().any(|(ka, va)| {
            b.headers
                .iter()
                .any(|(kb, vb)| ka.eq_ignore_ascii_case(kb) && va != vb)
        })
    };
    // Union-find over the group's positions.
    let mut parent: Vec<usize> = (0..group.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for a in 0..group.len() {
        for b in a + 1..group.len() {
            if !conflict(&routes[group[a]], &routes[group[b]]) {
                let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut sets: Vec<(usize, Vec<usize>)> = vec![];
    for (pos, &i) in group.iter().enumerate() {
        let r = root(&mut parent, pos);
        match sets.iter_mut().find(|(k, _)| *k == r) {
            Some((_, v)) => v.push(i),
            None => sets.push((r, vec![i])),
        }
    }
    sets.into_iter().map(|(_, v)| v).collect()
}

/// Whole groups packed into chunks of at most `max` rules, first fit in
/// group order, each chunk ascending. A group larger than `max` (refused by
/// the model, E0252) is cut, so the plan stays total.
fn pack(groups: Vec<Vec<usize>>, max: usize) -> Vec<Vec<usize>> {
    let mut chunks: Vec<Vec<usize>> = vec![];
    for g in groups {
        for part in g.chunks(max) {
            match chunks.iter_mut().find(|c| c.len() + part.len() <= max) {
                Some(c) => c.extend_from_slice(part),
                None => chunks.push(part.to_vec()),
            }
        }
    }
    for c in &mut chunks {
        c.sort_unstable();
    }
    chunks
}

impl Gateway {
    /// The listeners of its Gateway API Gateway: per host, an HTTPS one
    /// with `tls`, an HTTP one without `tls` or with `httpsRedirect`.
    pub fn listeners(&self) -> usize {
        let per_host = usize::from(self.tls.is_some())
            + usize::from(self.tls.is_none() || self.https_redirect);
        self.hosts.len() * per_host
    }

    /// The host sets of its routes: the routes without `host` (all hosts),
    /// then those of each host by host name, as indices into `routes`.
    fn route_sets(&self) -> Vec<(RouteSet, Vec<usize>)> {
        let mut by_host: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
        for (i, r) in self.routes.iter().enumerate() {
            by_host.entry(r.host.as_deref()).or_default().push(i);
        }
        by_host
            .into_iter()
            .map(|(h, rules)| {
                let set = match h {
                    None => RouteSet::AllHosts,
                    Some(h) => RouteSet::Host(self.hosts.iter().position(|x| x == h).unwrap_or(0)),
                };
                (set, rules)
            })
            .collect()
    }

    /// The HTTPRoutes of its Gateway API form, within the Gateway API's
    /// list limits: the routes without `host` (`<gateway>`), those of each
    /// host (`<gateway>-host-<i>`) and, with `httpsRedirect`, the redirect
    /// (`<gateway>-redirect`). A set over 16 hosts takes an HTTPRoute per
    /// 16 hosts, each attached to its hosts' listeners only; a set over 16
    /// rules an HTTPRoute per 16 rules, never parting two rules that may
    /// tie in precedence ([`TieKey`]), so which rule answers a request is
    /// the same as in one HTTPRoute. Names stay apart from the other sets'
    /// in alphabetical order too: `<gateway>` and `<gateway>-<k>` sort
    /// before `<gateway>-host-...` (a digit before `h`), as `<gateway>`
    /// alone did. This is the one derivation of the names, which the
    /// model checks (E0240) and `emit::gateway` writes.
    pub fn http_routes(&self) -> Vec<HttpRoutePlan> {
        let mut plans = vec![];
        let all: Vec<usize> = (0..self.hosts.len()).collect();
        let mut push = |base: String, set: RouteSet, hosts: &[usize], rules: Vec<Vec<usize>>| {
            let host_chunks: Vec<&[usize]> = hosts.chunks(MAX_ROUTE_HOSTNAMES).collect();
            let whole_hosts = !matches!(set, RouteSet::Host(_)) && host_chunks.len() == 1;
            let mut k = 0;
            for hc in &host_chunks {
                for rc in &rules {
                    plans.push(HttpRoutePlan {
                        name: if k == 0 {
                            base.clone()
                        } else {
                            format!("{base}-{k}")
                        },
                        set,
                        hosts: hc.to_vec(),
                        rules: rc.clone(),
                        all_hosts: whole_hosts,
                    });
                    k += 1;
                }
            }
        };
        for (set, rules) in self.route_sets() {
            let chunks = pack(tie_groups(&self.routes, &rules), MAX_ROUTE_RULES);
            match set {
                RouteSet::Host(i) => push(format!("{}-host-{i}", self.name), set, &[i], chunks),
                _ => push(self.name.clone(), set, &all, chunks),
            }
        }
        if self.tls.is_some() && self.https_redirect {
            push(
                format!("{}-redirect", self.name),
                RouteSet::Redirect,
                &all,
                vec![vec![]],
            );
        }
        plans
    }

    /// The names of its HTTPRoutes after `<release>-` ([`Self::http_routes`]).
    pub fn route_names(&self) -> Vec<String> {
        self.http_routes().into_iter().map(|p| p.name).collect()
    }

    /// `<gateway>-istio`, after `<release>-`: the name of the Deployment
    /// and Service Istio deploys for a Gateway API Gateway of class `istio`.
    /// <https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment>
    pub fn istio_deployment(&self) -> String {
        format!("{}-istio", self.name)
    }

    /// The longest name, after `<release>-`, of the objects it renders or
    /// makes Istio deploy: its HTTPRoutes ([`Self::route_names`]), and
    /// `<gateway>-istio`, the Deployment and Service Istio deploys for a
    /// Gateway API Gateway of class `istio`, whose Service name is a
    /// DNS-1035 label (63 characters at most).
    /// <https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment>
    /// `route_names` are [`Self::route_names`], which the caller has
    /// already (planning the routes again would be the same work twice).
    pub fn longest_object(&self, route_names: &[String]) -> String {
        let mut longest = self.istio_deployment();
        for n in route_names {
            if n.len() > longest.len() {
                longest = n.clone();
            }
        }
        longest
    }
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
    /// Names meshpack makes by adding a suffix to a service's or a
    /// gateway's name fit in 63 characters with the release part at least
    /// MIN_FULLNAME, and are not the name another service or gateway
    /// renders for an object of the same kind (kustomize refuses the tree,
    /// and Helm keeps only the later object):
    /// - the NetworkPolicy `<service>-from-ingress` of a service gateways
    ///   reach fits (a name already too long for E0211 is reported there
    ///   only); no other NetworkPolicy name ends in `-ingress` (a
    ///   service's own is `<service>-allow`, `emit::netpol`);
    /// - the waypoint AuthorizationPolicy `<service>-waypoint` against the
    ///   AuthorizationPolicy of a service named `<service>-waypoint`;
    /// - a gateway's longest object ([`Gateway::longest_object`]: its
    ///   HTTPRoutes, as [`Gateway::http_routes`] names them, or the
    ///   `<gateway>-istio` Istio deploys) fits, and its HTTPRoutes are not
    ///   another gateway's.
    pub(super) fn check_derived_names(&mut self, m: &super::Model) {
        let app = m.name.as_str();
        let services: std::collections::BTreeSet<&str> =
            m.services.iter().map(|s| s.name.as_str()).collect();
        let reached: std::collections::BTreeSet<&str> = m
            .edges
            .iter()
            .filter(|e| matches!(e.source, super::Source::Gateway(_)))
            .map(|e| e.dest.as_str())
            .collect();
        for &name in &reached {
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
        for s in &m.services {
            let name = s.name.as_str();
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
            let path = format!("spec.gateways.{}", g.name);
            let names = g.route_names();
            // A name that is no label or the reserved one is reported by
            // `gateway` already.
            if is_dns_label(&g.name) && g.name != "waypoint" {
                let longest = g.longest_object(&names);
                if let Some(why) = super::names::release_room(app, &longest, 63) {
                    // Checked here, not left to the chart: its fullname gets
                    // what the longest suffix leaves, and a gateway that
                    // leaves less than MIN_FULLNAME renders names such as
                    // `-web` that the API server refuses (and releases that
                    // collide).
                    self.err_key(
                        "E0240",
                        &path,
                        why,
                        format!(
                            "shorten the gateway name to at most {} characters (its longest object is `<release>-{longest}`)",
                            (63 - 1 - (longest.len() - g.name.len())).saturating_sub(app.len().max(MIN_FULLNAME))
                        ),
                    );
                }
            }
            for n in names {
                if let Some(other) = routes.get(&n) {
                    self.err_key(
                        "E0240",
                        &path,
                        format!("gateways `{other}` and `{}` would both render the HTTPRoute `<release>-{n}`", g.name),
                        "rename one gateway: `<gateway>-<k>`, `<gateway>-host-<i>[-<k>]` and `<gateway>-redirect[-<k>]` are the names of a gateway's own routes".into(),
                    );
                } else {
                    routes.insert(n, &g.name);
                }
            }
        }
    }

    /// The Gateway API's list limits ([`MAX_ROUTE_HOSTNAMES`]) that
    /// splitting HTTPRoutes ([`Gateway::http_routes`]) cannot meet: a
    /// Gateway's listeners, and a host set's rules that must share one
    /// HTTPRoute (tying in precedence, or matching by regex). `resolved`
    /// says every route of the policy resolved, so `g.routes[i]` is the
    /// policy's `routes[i]`.
    fn check_route_limits(&mut self, path: &str, g: &Gateway, resolved: bool) {
        let listeners = g.listeners();
        if listeners > MAX_LISTENERS {
            let (per_host, max_hosts) = if listeners == 2 * g.hosts.len() {
                ("an HTTPS and an HTTP listener per host", MAX_LISTENERS / 2)
            } else {
                ("a listener per host", MAX_LISTENERS)
            };
            self.err_key(
                "E0252",
                &format!("{path}.hosts"),
                format!(
                    "gateway `{}` has {} hosts: its Gateway API Gateway would have {listeners} listeners ({per_host}), and a Gateway holds at most {MAX_LISTENERS}",
                    g.name,
                    g.hosts.len()
                ),
                format!("give this gateway at most {max_hosts} hosts and declare another gateway for the rest"),
            );
        }
        if !resolved {
            return;
        }
        for (set, rules) in g.route_sets() {
            if rules.len() <= MAX_ROUTE_RULES {
                continue;
            }
            let which = match set {
                RouteSet::Host(i) => format!("routes for host `{}`", g.hosts[i]),
                _ => "routes without `host`".to_string(),
            };
            let help = "at most 16 routes of one host set share an HTTPRoute: give some of them a `host`, match them by `prefix` or `exact` paths that differ (instead of a `regex`), or keep the set to 16 routes";
            if let Some(&i) = rules
                .iter()
                .find(|&&i| matches!(g.routes[i].path, PathMatch::Regex(_)))
            {
                self.err(
                    "E0252",
                    &format!("{path}.routes[{i}].regex"),
                    format!(
                        "gateway `{}` has {} {which}, more than one HTTPRoute's 16 rules, and this one matches by regex: the Gateway API leaves the precedence of regex matches to the implementation, so splitting the routes over several HTTPRoutes could change which route answers a request",
                        g.name,
                        rules.len()
                    ),
                    help.into(),
                );
                continue;
            }
            for group in tie_groups(&g.routes, &rules) {
                if let Some(&i) = group.get(MAX_ROUTE_RULES) {
                    self.err_key(
                        "E0252",
                        &format!("{path}.routes[{i}]"),
                        format!(
                            "gateway `{}` has {} {which} matching {} with {} header matches each: they tie in the Gateway API's precedence, so they must share one HTTPRoute, which holds at most {MAX_ROUTE_RULES} rules",
                            g.name,
                            group.len(),
                            g.routes[i].path.describe(),
                            g.routes[i].headers.len()
                        ),
                        help.into(),
                    );
                }
            }
        }
    }

    pub(super) fn gateway(
        &mut self,
        name: &str,
        g: &policy::Gateway,
        index: &BTreeMap<&str, &Service>,
    ) -> Gateway {
        let path = format!("spec.gateways.{name}");
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
            } else if g.hosts[..i].contains(h) {
                // Each host is a listener of the Gateway API's Gateway, whose
                // CEL rule wants port, protocol and hostname unique.
                self.err(
                    "E0242",
                    &format!("{path}.hosts[{i}]"),
                    format!("`{h}` is listed twice"),
                    "list each host once: the Gateway API's Gateway refuses two listeners for one host and port".into(),
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
        let resolved = routes.len() == g.routes.len();
        let gateway = Gateway {
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
        };
        self.check_route_limits(&path, &gateway, resolved);
        gateway
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
        if r.headers.len() > MAX_HEADER_MATCHES {
            self.err_key(
                "E0252",
                &format!("{rp}.headers"),
                format!(
                    "route matches {} headers; the Gateway API's HTTPRoute matches at most {MAX_HEADER_MATCHES}",
                    r.headers.len()
                ),
                format!("match at most {MAX_HEADER_MATCHES} headers in one route"),
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(headers: &[(&str, &str)]) -> Route {
        Route {
            path: PathMatch::Prefix("/".into()),
            host: None,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            rewrite: None,
            cors: None,
            service: "api".into(),
            port: 80,
        }
    }

    /// Rules one header's values tell apart never tie; header names
    /// compare case-insensitively; a rule that may match together with
    /// two others joins them into one group.
    #[test]
    fn rules_that_may_match_one_request_share_a_group() {
        let routes = [
            route(&[("x-tenant", "a")]),
            route(&[("X-Tenant", "b")]),
            route(&[("x-tenant", "c")]),
            route(&[("X-TENANT", "a")]),
        ];
        let all: Vec<usize> = (0..routes.len()).collect();
        assert_eq!(tie_groups(&routes, &all), [vec![0, 3], vec![1], vec![2]]);
        let routes = [
            route(&[("x-tenant", "a"), ("x-b", "1")]),
            route(&[("x-tenant", "b"), ("x-b", "1")]),
            route(&[("x-c", "1"), ("x-b", "1")]),
        ];
        assert_eq!(tie_groups(&routes, &[0, 1, 2]), [vec![0, 1, 2]]);
    }
}
