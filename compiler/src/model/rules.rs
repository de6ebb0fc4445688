//! Allow rules and egress: `spec.allow` expanded to edges between known
//! sources and destination ports (and to egress for external services),
//! `spec.egress` resolved, and the checks that need every edge (routes a
//! gateway may use, mTLS on the ports rules protect).
//!
//! Invariant: every edge names an existing source, destination and port;
//! a rule that would be silently denied by Istio is an error here.

use super::*;
use crate::diag::suggest;
use crate::policy::{self, PortRef};
use std::collections::{BTreeMap, BTreeSet, HashMap};

impl Resolver<'_> {
    pub(super) fn rule(
        &mut self,
        i: usize,
        rule: &policy::AllowRule,
        index: &BTreeMap<&str, &Service>,
        externals: &BTreeMap<&str, &External>,
        gateways: &BTreeMap<String, policy::Gateway>,
    ) -> (Vec<Edge>, Vec<Egress>) {
        let rp = format!("spec.allow[{i}]");
        let at = |field: &str, idx: Option<usize>| match idx {
            Some(j) => format!("{rp}.{field}[{j}]"),
            None => format!("{rp}.{field}"),
        };
        // An empty list is a mistake either way: `ports: []` would mean
        // every port (as no `ports`), `from: []` or `to: []` nothing at all.
        for (field, empty) in [
            ("from", rule.from.items().is_empty()),
            ("to", rule.to.items().is_empty()),
            (
                "ports",
                rule.ports.is_empty() && self.spans.value(&format!("{rp}.ports")).is_some(),
            ),
        ] {
            if empty {
                self.err(
                    "E0239",
                    &format!("{rp}.{field}"),
                    format!("`{field}: []` lists nothing"),
                    if field == "ports" {
                        "name the ports to allow, or remove `ports` to allow every port of the destination".into()
                    } else {
                        format!("name at least one {}, or remove the rule", if field == "from" { "source" } else { "destination" })
                    },
                );
            }
        }
        let mut sources = vec![];
        for (j, s) in rule.from.items() {
            match s {
                policy::SourceRef::Name(n) => {
                    if let Some(g) = n.strip_prefix("gateway/") {
                        if gateways.contains_key(g) {
                            sources.push(Source::Gateway(g.to_string()));
                        } else {
                            let help = match suggest(g, gateways.keys().map(String::as_str)) {
                                Some(s) => format!("did you mean `gateway/{s}`?"),
                                None => "declare it under `spec.gateways`".into(),
                            };
                            self.err(
                                "E0232",
                                &at("from", j),
                                format!("unknown gateway `{g}`"),
                                help,
                            );
                        }
                    } else if n.contains(scoped::AT) {
                        sources.extend(self.version_source(&at("from", j), n, index));
                    } else if n == "*" {
                        self.err("E0233", &at("from", j), "`*` is not allowed as a source".into(), "list the services that may connect; a wildcard source would defeat least privilege".into());
                    } else if index.contains_key(n.as_str()) {
                        sources.push(Source::Service(n.clone()));
                    } else if externals.contains_key(n.as_str()) {
                        self.err(
                            "E0283",
                            &at("from", j),
                            format!("the external service `{n}` cannot be a source"),
                            "meshpack controls what leaves the release's pods, not what an outside host sends; allow it by identity with `{namespace, serviceAccount}` if it is in the mesh".into(),
                        );
                    } else {
                        self.unknown_service(&at("from", j), n, index);
                    }
                }
                policy::SourceRef::External(e) => {
                    if !is_dns_label(&e.namespace) || !is_dns_subdomain(&e.service_account) {
                        self.err(
                            "E0234",
                            &at("from", j),
                            format!(
                                "`{}/{}` is not a namespace and ServiceAccount name",
                                e.namespace, e.service_account
                            ),
                            "namespaces are DNS-1123 labels, ServiceAccounts DNS-1123 subdomains"
                                .into(),
                        );
                    } else {
                        sources.push(Source::External {
                            namespace: e.namespace.clone(),
                            service_account: e.service_account.clone(),
                        });
                    }
                }
            }
        }
        let mut dests: Vec<&Service> = vec![];
        let mut ext_dests: Vec<&External> = vec![];
        for (j, d) in rule.to.items() {
            if d == "*" {
                dests.extend(index.values());
            } else if self.version_destination(&at("to", j), d) {
                // Reported: destinations are whole services.
            } else if let Some(s) = index.get(d.as_str()) {
                dests.push(s);
            } else if let Some(x) = externals.get(d.as_str()) {
                ext_dests.push(x);
            } else {
                let names: Vec<&str> = index.keys().chain(externals.keys()).copied().collect();
                self.unknown_name(&at("to", j), d, &names);
            }
        }
        for (j, m) in rule.methods.iter().enumerate() {
            if m.is_empty() || !m.chars().all(|c| c.is_ascii_uppercase()) {
                self.err(
                    "E0235",
                    &format!("{rp}.methods[{j}]"),
                    format!("`{m}` is not an HTTP method"),
                    "write methods in upper case, e.g. GET, POST".into(),
                );
            }
        }
        for (j, p) in rule.paths.iter().enumerate() {
            // A `*` only first or last; by characters, not bytes (a path
            // may end in a multi-byte character).
            let mut inner = p.chars();
            inner.next();
            inner.next_back();
            if !(p.starts_with('/') || p.starts_with('*'))
                || p.matches('*').count() > 1
                || inner.as_str().contains('*')
            {
                self.err(
                    "E0236",
                    &format!("{rp}.paths[{j}]"),
                    format!("`{p}` is not a path Istio can match"),
                    "write an exact path, a prefix `/api/*`, a suffix `*.js`, or `*`".into(),
                );
            }
        }
        let l7 = !rule.paths.is_empty() || !rule.methods.is_empty();
        let mut edges = vec![];
        for d in dests {
            let ports = self.rule_ports(&rp, rule, &d.name, &d.ports);
            if ports.is_empty() && rule.ports.is_empty() {
                self.err(
                    "E0237",
                    &format!("{rp}.to"),
                    format!("`{}` declares no ports to allow", d.name),
                    "add ports to the service".into(),
                );
                continue;
            }
            if l7 {
                // Istio turns an ALLOW rule with HTTP fields on a TCP port
                // into one that matches nothing, silently denying the traffic.
                // https://istio.io/latest/docs/ops/common-problems/security-issues/#tcp-traffic
                for p in &ports {
                    if !p.protocol.is_http() {
                        let field = if rule.paths.is_empty() {
                            "methods"
                        } else {
                            "paths"
                        };
                        self.err_key(
                            "E0238",
                            &format!("{rp}.{field}"),
                            format!("`{field}` on `{}` port `{}`, which is {}, not HTTP", d.name, p.name, p.protocol.as_str()),
                            "Istio would silently deny this traffic; narrow the rule with `ports:` to HTTP ports, or split it".into(),
                        );
                    }
                }
            }
            for s in &sources {
                edges.push(Edge {
                    source: s.clone(),
                    dest: d.name.clone(),
                    ports: ports.iter().map(|p| p.name.clone()).collect(),
                    paths: rule.paths.clone(),
                    methods: rule.methods.clone(),
                });
            }
        }
        let egress = self.rule_to_externals(&rp, rule, &sources, &ext_dests);
        (edges, egress)
    }

    /// The destination ports a rule names (all without `ports:`).
    pub(super) fn rule_ports<'p>(
        &mut self,
        rp: &str,
        rule: &policy::AllowRule,
        dest: &str,
        ports: &'p [Port],
    ) -> Vec<&'p Port> {
        if rule.ports.is_empty() {
            return ports.iter().collect();
        }
        let mut v = vec![];
        for (j, p) in rule.ports.iter().enumerate() {
            let found = match p {
                PortRef::Name(n) => ports.iter().find(|x| x.name == *n),
                PortRef::Number(n) => ports.iter().find(|x| u64::from(x.port) == *n),
            };
            match found {
                Some(f) => v.push(f),
                None => self.unknown_port(
                    &format!("{rp}.ports[{j}]"),
                    dest,
                    &p.to_string(),
                    ports,
                    false,
                ),
            }
        }
        v
    }

    /// Edges to external services are egress from each source service.
    pub(super) fn rule_to_externals(
        &mut self,
        rp: &str,
        rule: &policy::AllowRule,
        sources: &[Source],
        dests: &[&External],
    ) -> Vec<Egress> {
        if dests.is_empty() {
            return vec![];
        }
        if !rule.paths.is_empty() || !rule.methods.is_empty() {
            let field = if rule.paths.is_empty() {
                "methods"
            } else {
                "paths"
            };
            self.err_key(
                "E0284",
                &format!("{rp}.{field}"),
                format!("`{field}` on a rule to an external service"),
                "no sidecar runs at an external service to check them; allow its ports, or split the rule".into(),
            );
        }
        let mut from = vec![];
        for s in sources {
            match s {
                Source::Service(n) => from.push(n.clone()),
                // A Sidecar and a NetworkPolicy per service select every
                // version's pods: egress cannot be narrowed to one version.
                Source::Version { service, .. } => self.err(
                    "E0279",
                    &format!("{rp}.from"),
                    format!("`{s}` is one version of `{service}`: rules to external services take whole services"),
                    format!("write `from: {service}` in this rule (egress is allowed per service), or keep `{s}` for rules to the release's services"),
                ),
                other => self.err(
                    "E0283",
                    &format!("{rp}.from"),
                    format!("`{other}` is not a service of the release, so it cannot be allowed to an external service"),
                    "only the release's services have sidecars and NetworkPolicies meshpack controls".into(),
                ),
            }
        }
        let mut out = vec![];
        for x in dests {
            let ports = self.rule_ports(rp, rule, &x.name, &x.ports);
            for p in ports {
                out.push(Egress {
                    host: x.host.clone(),
                    port: p.port,
                    protocol: p.protocol,
                    from: from.clone(),
                    service: Some(x.name.clone()),
                });
            }
        }
        out
    }

    /// A route the gateway may not use would be denied by the destination's
    /// AuthorizationPolicy: say so at compile time.
    pub(super) fn check_routes_allowed(&mut self, gateways: &[Gateway], edges: &[Edge]) {
        for g in gateways {
            for (i, r) in g.routes.iter().enumerate() {
                let allowed = edges
                    .iter()
                    .any(|e| e.source == Source::Gateway(g.name.clone()) && e.dest == r.service);
                if !allowed {
                    self.err(
                        "E0248",
                        &format!("spec.gateways.{}.routes[{i}].to", g.name),
                        format!(
                            "gateway `{}` routes to `{}` but no allow rule lets it",
                            g.name, r.service
                        ),
                        format!(
                            "add `{{from: gateway/{}, to: {}}}` under `allow`",
                            g.name, r.service
                        ),
                    );
                }
            }
        }
    }

    /// Rules name identities (SPIFFE principals), which exist only over
    /// mutual TLS: a port with mTLS DISABLE would deny every allowed edge.
    pub(super) fn check_mtls_for_rules(
        &mut self,
        release: MtlsMode,
        services: &[Service],
        edges: &[Edge],
    ) {
        let mut reported = BTreeSet::new();
        let by_name: HashMap<&str, &Service> =
            services.iter().map(|s| (s.name.as_str(), s)).collect();
        for e in edges {
            let Some(s) = by_name.get(e.dest.as_str()) else {
                continue;
            };
            for pname in &e.ports {
                let Some(p) = s.port(pname) else { continue };
                let mode = s
                    .port_mtls
                    .iter()
                    .find(|(t, _)| *t == p.target_port)
                    .map(|(_, m)| *m)
                    .or(s.mtls)
                    .unwrap_or(release);
                if mode == MtlsMode::Disable && reported.insert((s.name.clone(), p.name.clone())) {
                    let path = if s.mtls.is_some() || !s.port_mtls.is_empty() {
                        format!("spec.services.{}.mtls", s.name)
                    } else {
                        "spec.mtls".to_string()
                    };
                    self.err_key(
                        "E0260",
                        &path,
                        format!("`{}` port `{}` has mTLS DISABLE, but allow rules admit callers to it by identity", s.name, p.name),
                        "identities travel in mutual TLS: use STRICT or PERMISSIVE for ports that rules protect".into(),
                    );
                }
            }
        }
    }

    /// One ServiceEntry per host (`emit::external`) has one protocol per
    /// port: two `egress` entries giving one host and port two protocols
    /// would render a ServiceEntry Istio refuses (port numbers are unique).
    /// `egress` holds `spec.egress` in order.
    pub(super) fn check_egress_protocols(&mut self, egress: &[Egress]) {
        let mut seen: BTreeMap<(&str, u16), (usize, Protocol)> = BTreeMap::new();
        for (i, e) in egress.iter().enumerate() {
            match seen.get(&(e.host.as_str(), e.port)) {
                Some((j, p)) if *p != e.protocol => self.err(
                    "E0251",
                    &format!("spec.egress[{i}].protocol"),
                    format!(
                        "`{}` port {} is {} here and {} in spec.egress[{j}]",
                        e.host,
                        e.port,
                        e.protocol.as_str().to_ascii_uppercase(),
                        p.as_str().to_ascii_uppercase()
                    ),
                    "give one protocol per host and port: the host's ServiceEntry lists each port once".into(),
                ),
                Some(_) => {}
                None => {
                    seen.insert((e.host.as_str(), e.port), (i, e.protocol));
                }
            }
        }
    }

    pub(super) fn egress(
        &mut self,
        i: usize,
        e: &policy::Egress,
        index: &BTreeMap<&str, &Service>,
    ) -> Egress {
        let p = format!("spec.egress[{i}]");
        if !is_host(&e.host, true) {
            self.err(
                "E0250",
                &format!("{p}.host"),
                format!("`{}` is not a host name", e.host),
                "write a DNS name such as `api.example.com` or `*.example.com`".into(),
            );
        }
        let port = if (1..=65535).contains(&e.port) {
            e.port as u16
        } else {
            self.err(
                "E0221",
                &format!("{p}.port"),
                format!("port {} is out of range", e.port),
                "expected 1 to 65535".into(),
            );
            1
        };
        let protocol = match &e.protocol {
            Some(s) => match Protocol::parse(s) {
                Some(pr) => pr,
                None => {
                    self.err(
                        "E0222",
                        &format!("{p}.protocol"),
                        format!("unknown protocol `{s}`"),
                        "expected TLS, HTTPS, HTTP or TCP".into(),
                    );
                    Protocol::Tcp
                }
            },
            None => match port {
                443 => Protocol::Tls,
                80 => Protocol::Http,
                _ => Protocol::Tcp,
            },
        };
        let mut from = vec![];
        for (j, s) in e.from.items() {
            let path = match j {
                Some(j) => format!("{p}.from[{j}]"),
                None => format!("{p}.from"),
            };
            if index.contains_key(s.as_str()) {
                from.push(s.clone());
            } else {
                self.unknown_service(&path, s, index);
            }
        }
        from.sort();
        from.dedup();
        Egress {
            host: e.host.clone(),
            port,
            protocol,
            from,
            service: None,
        }
    }
}
