//! The matrix a policy intends, and its comparison with a rendered one.
//!
//! This side reads the policy (through the model); the evaluators read only
//! manifests. Workloads are matched to services by the
//! `app.kubernetes.io/component` label, identities of gateways by
//! `--gateway-identity`.

use super::{
    additions, istio, netpol, probe_paths, probes, string_match, Access, Dest, Layers, Matrix,
    Probe, Rendered, Source,
};
use crate::manifest::index::string_map;
use crate::model::{self, Model};
use std::collections::{BTreeMap, BTreeSet};

/// Where the identities of `gateway/<name>` sources come from: the
/// gateways' namespace, and each gateway's ServiceAccount as the policy
/// says (the chart's default) unless overridden.
#[derive(Debug, Clone)]
pub struct GatewayIdentity {
    pub namespace: String,
    /// Gateway name -> (namespace, ServiceAccount).
    pub overrides: BTreeMap<String, (String, String)>,
    /// The chart's `metrics.prometheus.namespace`: NetworkPolicies admit
    /// it to every metrics port (`emit::metrics`), which the policy thereby
    /// intends at L3/L4.
    pub prometheus_namespace: String,
    /// The chart's `metrics.prometheus.podLabels`: the NetworkPolicies'
    /// Prometheus peer selects these pods of its namespace (none: all).
    pub prometheus_labels: BTreeMap<String, String>,
    /// Gateway name -> the labels of its pods, which NetworkPolicies
    /// select (`with_pod_labels` reads them from the set; the policy's
    /// gateway selector otherwise).
    pub pod_labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for GatewayIdentity {
    fn default() -> Self {
        GatewayIdentity {
            namespace: "istio-ingress".into(),
            overrides: BTreeMap::new(),
            prometheus_namespace: "monitoring".into(),
            prometheus_labels: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
        }
    }
}

/// A metrics port, by name, as the chart admits Prometheus to it.
fn is_metrics_port(name: &str) -> bool {
    name == "metrics" || name.ends_with("-metrics")
}

/// A sidecar's own ports Prometheus scrapes: the agent's merged metrics
/// (15020) and Envoy's (15090). Istio captures neither, so no
/// AuthorizationPolicy or PeerAuthentication applies to them; only
/// NetworkPolicies can limit who reaches them.
/// <https://istio.io/latest/docs/ops/deployment/application-requirements/#ports-used-by-istio>
pub const ENVOY_PORTS: [(u16, &str); 2] =
    [(15020, "istio-merged-metrics"), (15090, "http-envoy-prom")];

fn is_envoy_port(port: u16) -> bool {
    ENVOY_PORTS.iter().any(|(p, _)| *p == port)
}

impl GatewayIdentity {
    fn of(&self, m: &Model, name: &str) -> Source {
        let g = m.gateways.iter().find(|g| g.name == name);
        let labels = self.pod_labels.get(name).cloned().unwrap_or_else(|| {
            g.map(|g| g.selector.iter().cloned().collect())
                .unwrap_or_default()
        });
        if let Some((namespace, sa)) = self.overrides.get(name) {
            return Source::Pods {
                namespace: namespace.clone(),
                service_account: sa.clone(),
                labels,
            };
        }
        Source::Pods {
            namespace: self.namespace.clone(),
            service_account: g.map(|g| g.service_account.clone()).unwrap_or_default(),
            labels,
        }
    }

    /// The pod labels of each gateway as the manifests render it, read once:
    /// a Gateway API Gateway's pods carry `gateway.networking.k8s.io/gateway-name`
    /// (the set lists such a Gateway as a workload under its ServiceAccount);
    /// Istio's ingress gateway pods carry the selector of the Istio Gateway
    /// named `<name>` or `<release>-<name>`. Neither in the set: the policy's
    /// selector.
    ///
    /// Without a mesh, a gateway is the ingress controller the set's
    /// Ingresses and NetworkPolicies name (`verify::ingress`), with the pod
    /// labels those policies select; an identity given by flag or values
    /// file wins.
    pub fn with_pod_labels(&self, m: &Model, set: &Rendered) -> GatewayIdentity {
        let mut gw = self.clone();
        for (g, id) in super::ingress::controllers(set) {
            gw.overrides.entry(g).or_insert(id);
        }
        gw.pod_labels.extend(super::ingress::pod_labels(set));
        let folded = gw.clone();
        for g in &m.gateways {
            let Source::Pods {
                namespace,
                service_account,
                ..
            } = folded.of(m, &g.name)
            else {
                continue;
            };
            let deployed = set.workloads.iter().find(|w| {
                w.namespace == namespace
                    && w.service_account == service_account
                    && w.labels.contains_key(GATEWAY_NAME_LABEL)
            });
            let istio_gateway = || {
                set.objects.iter().find(|o| {
                    o.kind() == "Gateway"
                        && o.group() == "networking.istio.io"
                        && (o.name() == g.name || o.name().ends_with(&format!("-{}", g.name)))
                })
            };
            let labels = if let Some(w) = deployed {
                Some(BTreeMap::from([(
                    GATEWAY_NAME_LABEL.to_string(),
                    w.labels[GATEWAY_NAME_LABEL].clone(),
                )]))
            } else {
                istio_gateway()
                    .map(|o| string_map(&o.value["spec"]["selector"]))
                    .filter(|l| !l.is_empty())
            };
            if let Some(l) = labels {
                gw.pod_labels.insert(g.name.clone(), l);
            }
        }
        gw
    }
}

/// The label Istio puts on the pods it deploys for a Gateway API Gateway.
/// <https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment>
const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

impl GatewayIdentity {
    /// Take what a chart values file sets of the install's identities:
    /// `istio.gateway.namespace`, `gateways.<name>.serviceAccount`,
    /// `metrics.prometheus.namespace` and `.podLabels`. Keys it leaves out
    /// keep the chart's defaults.
    pub fn apply_values(&mut self, m: &Model, values: &serde_json::Value) {
        if let Some(ns) = values["istio"]["gateway"]["namespace"].as_str() {
            self.namespace = ns.to_string();
        }
        for g in &m.gateways {
            if let Some(sa) = values["gateways"][&g.name]["serviceAccount"].as_str() {
                self.overrides
                    .insert(g.name.clone(), (self.namespace.clone(), sa.to_string()));
            }
        }
        let prometheus = &values["metrics"]["prometheus"];
        if let Some(ns) = prometheus["namespace"].as_str() {
            self.prometheus_namespace = ns.to_string();
        }
        if prometheus["podLabels"].is_object() {
            self.prometheus_labels = string_map(&crate::manifest::Node::from(
                prometheus["podLabels"].clone(),
            ));
        }
    }

    /// Whether the NetworkPolicies' Prometheus peer admits `src`: its
    /// namespace, and its pod labels when `prometheus_labels` names any.
    fn is_prometheus(&self, src: &Source) -> bool {
        match src {
            Source::Identity { namespace, .. } => {
                *namespace == self.prometheus_namespace && self.prometheus_labels.is_empty()
            }
            Source::Pods {
                namespace, labels, ..
            } => {
                *namespace == self.prometheus_namespace
                    && self
                        .prometheus_labels
                        .iter()
                        .all(|(k, v)| labels.get(k) == Some(v))
            }
            _ => false,
        }
    }
}

pub(crate) fn source_of(m: &Model, s: &model::Source, gw: &GatewayIdentity) -> Source {
    match s {
        model::Source::Service(n) => Source::Workload(n.clone()),
        // One version's pods, a source of its own (`Rendered::workload`).
        model::Source::Version { service, version } => {
            Source::Workload(super::versioned(service, version))
        }
        model::Source::Gateway(g) => gw.of(m, g),
        // Prometheus's pods, when their labels are known, as the
        // NetworkPolicies select them.
        model::Source::External {
            namespace,
            service_account,
        } if *namespace == gw.prometheus_namespace && !gw.prometheus_labels.is_empty() => {
            Source::Pods {
                namespace: namespace.clone(),
                service_account: service_account.clone(),
                labels: gw.prometheus_labels.clone(),
            }
        }
        model::Source::External {
            namespace,
            service_account,
        } => Source::Identity {
            namespace: namespace.clone(),
            service_account: service_account.clone(),
        },
    }
}

/// A release service as sources: the service, or each of its versions
/// when some rule names one (`from: reviews@v2`). The versions' pods then
/// run under ServiceAccounts of their own, and each must be checked apart:
/// v1 of `reviews` may be denied what v2 is allowed.
fn release_sources(m: &Model, s: &model::Service) -> Vec<Source> {
    if m.version_identities(&s.name) {
        s.versions
            .iter()
            .map(|v| Source::Workload(super::versioned(&s.name, &v.name)))
            .collect()
    } else {
        vec![Source::Workload(s.name.clone())]
    }
}

/// A host standing for an egress pattern (`*.s3.amazonaws.com` -> `meshpack-probe.s3.amazonaws.com`).
pub(crate) fn probe_host(pattern: &str) -> String {
    match pattern.strip_prefix("*.") {
        Some(rest) => format!("meshpack-probe.{rest}"),
        None => pattern.to_string(),
    }
}

/// The port ztunnel tunnels ambient traffic to.
const HBONE: u16 = 15008;

/// A host no policy lists, to catch egress left open.
pub const UNLISTED_HOST: &str = "meshpack-unlisted.example.org";

/// Everything a comparison evaluates: sources, destinations, probes.
pub struct Plan {
    pub sources: Vec<Source>,
    pub dests: Vec<Dest>,
    pub probes: BTreeMap<Dest, Vec<Probe>>,
}

pub(crate) fn plan(m: &Model, set: &Rendered, gw: &GatewayIdentity, layers: Layers) -> Plan {
    let mut sources: BTreeSet<Source> = m
        .services
        .iter()
        .flat_map(|s| release_sources(m, s))
        .collect();
    for e in &m.edges {
        match &e.source {
            // Already there, per version where the policy splits them.
            model::Source::Service(_) | model::Source::Version { .. } => {}
            other => {
                sources.insert(source_of(m, other, gw));
            }
        }
    }
    // A gateway's identity, which AuthorizationPolicies name, is the
    // gateway source itself (with its pod labels), not a second row.
    let gateways: BTreeSet<(String, String)> = sources
        .iter()
        .filter_map(|s| match s {
            Source::Pods {
                namespace,
                service_account,
                ..
            } => Some((namespace.clone(), service_account.clone())),
            _ => None,
        })
        .collect();
    sources.extend(set.outside_identities().into_iter().filter(|s| {
        !matches!(s, Source::Identity { namespace, service_account }
            if gateways.contains(&(namespace.clone(), service_account.clone())))
    }));
    let (extra_sources, extra_dests) = super::additions::probes(set);
    sources.extend(extra_sources);
    sources.insert(Source::Stranger);
    if layers.istio {
        sources.insert(Source::Plaintext);
    }
    // Path and method patterns from both sides, so probes tell them apart.
    let (mut paths, mut methods) = set.http_patterns();
    paths.extend(m.edges.iter().flat_map(|e| e.paths.iter().cloned()));
    methods.extend(m.edges.iter().flat_map(|e| e.methods.iter().cloned()));
    let probe_paths = probe_paths(paths.iter().map(String::as_str));
    let mut dests = vec![];
    let mut probe_map = BTreeMap::new();
    // Where a Prometheus is among the sources, the sidecars' metrics ports
    // are destinations too.
    let prometheus = sources.iter().any(|s| gw.is_prometheus(s));
    for s in &m.services {
        if prometheus && set.workload(&s.name).is_some_and(|w| w.injected) {
            for (port, name) in ENVOY_PORTS {
                let d = Dest::Port {
                    workload: s.name.clone(),
                    port,
                    name: name.to_string(),
                };
                probe_map.insert(d.clone(), probes(false, &methods, &probe_paths));
                dests.push(d);
            }
        }
        for p in &s.ports {
            let d = Dest::Port {
                workload: s.name.clone(),
                port: p.target_port,
                name: p.name.clone(),
            };
            // HTTP-ness as the rendered Service declares it (the evaluator's view).
            let http = set
                .workload(&s.name)
                .and_then(|w| w.ports.get(&p.target_port))
                .is_some_and(|(_, h)| *h);
            probe_map.insert(
                d.clone(),
                probes(http && layers.istio, &methods, &probe_paths),
            );
            dests.push(d);
        }
    }
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    for e in &m.egress {
        let d = Dest::External {
            host: e.host.clone(),
            port: e.port,
        };
        if !probe_map.contains_key(&d) {
            probe_map.insert(d.clone(), probes(false, &methods, &probe_paths));
            dests.push(d);
        }
        ports.insert(e.port);
    }
    for d in extra_dests {
        if let Dest::External { port, .. } = &d {
            ports.insert(*port);
        }
        if !probe_map.contains_key(&d) {
            probe_map.insert(d.clone(), probes(false, &methods, &probe_paths));
            dests.push(d);
        }
    }
    ports.insert(443);
    for p in ports {
        let d = Dest::External {
            host: UNLISTED_HOST.into(),
            port: p,
        };
        probe_map.insert(d.clone(), probes(false, &methods, &probe_paths));
        dests.push(d);
    }
    Plan {
        sources: sources.into_iter().collect(),
        dests,
        probes: probe_map,
    }
}

fn edge_allows(e: &model::Edge, probe: &Probe) -> bool {
    let (Some(m), Some(p)) = (&probe.method, &probe.path) else {
        return true;
    };
    (e.methods.is_empty() || e.methods.contains(m))
        && (e.paths.is_empty() || e.paths.iter().any(|x| string_match(x, p)))
}

/// The policy's intent for one cell. NetworkPolicies alone cannot see
/// HTTP, ServiceAccounts or host names: with Istio off the intent is
/// projected onto what they can express.
pub(crate) fn intended(
    m: &Model,
    gw: &GatewayIdentity,
    layers: Layers,
    src: &Source,
    dest: &Dest,
    probe: &Probe,
) -> bool {
    match dest {
        // Istio leaves the sidecars' metrics ports open; NetworkPolicies
        // admit Prometheus alone (`emit::metrics::envoy_policy`).
        Dest::Port { port, .. } if is_envoy_port(*port) => !layers.netpol || gw.is_prometheus(src),
        Dest::Port { name, .. }
            if !layers.istio && is_metrics_port(name) && gw.is_prometheus(src) =>
        {
            true
        }
        Dest::Port { workload, name, .. } => m.edges.iter().any(|e| {
            e.dest == *workload
                && e.ports.contains(name)
                && (same_party(&source_of(m, &e.source, gw), src)
                    || (!layers.istio && same_namespace_level(&source_of(m, &e.source, gw), src)))
                && (!layers.istio || edge_allows(e, probe))
        }),
        Dest::External { host, port } => {
            let Source::Workload(w) = src else {
                return false;
            };
            // Egress is allowed per service, to every version of it.
            let w = super::unversioned(w).to_string();
            m.egress.iter().any(|e| {
                e.from.contains(&w)
                    && e.port == *port
                    && (e.host == *host
                        || ((!layers.istio || layers.ambient)
                            && additions::cidr_probe_ip(&e.host).is_none()
                            && additions::cidr_probe_ip(host).is_none()))
            })
        }
    }
}

/// The edge's source is the probed party: the same, or an addition that
/// admits every ServiceAccount of the probe's namespace.
fn same_party(edge: &Source, src: &Source) -> bool {
    match (edge, src) {
        (
            Source::Identity {
                namespace: a,
                service_account: sa,
            },
            Source::Identity { namespace: b, .. },
        ) if sa == additions::ANY_SERVICE_ACCOUNT => a == b,
        // A rule from the whole service admits each of its versions.
        (Source::Workload(service), Source::Workload(w)) => {
            service == w || w.split_once(super::VERSION_SEP).map(|(s, _)| s) == Some(service)
        }
        _ => edge == src,
    }
}

/// NetworkPolicies see a namespace, not a ServiceAccount: identities
/// outside the release are the same party when their namespaces are.
fn same_namespace_level(a: &Source, b: &Source) -> bool {
    let ns = |s: &Source| match s {
        Source::Identity { namespace, .. } | Source::Pods { namespace, .. } => {
            Some(namespace.clone())
        }
        _ => None,
    };
    ns(a).is_some() && ns(a) == ns(b)
}

/// The rendered decision for one cell: every layer present must allow.
pub(crate) fn actual(
    set: &Rendered,
    layers: Layers,
    src: &Source,
    dest: &Dest,
    probe: &Probe,
) -> Option<bool> {
    if let Source::Workload(n) = src {
        set.workload(n)?;
    }
    let facts = set.source_facts(src);
    match dest {
        Dest::Port { workload, port, .. } => {
            let w = set.workload(workload)?;
            let http = w.ports.get(port).is_some_and(|(_, h)| *h);
            let istio_ok = !layers.istio
                || (w.injected && is_envoy_port(*port))
                || istio::allowed(set, &facts, w, *port, http, probe);
            // Ambient carries mesh traffic as HBONE to port 15008 of the pod
            // (the waypoint hop is not modelled at L3).
            let from_mesh = facts.workload.as_ref().is_some_and(|s| s.in_mesh())
                || matches!(src, Source::Identity { .. } | Source::Pods { .. });
            let l3_port = if w.ambient && layers.istio && from_mesh {
                HBONE
            } else {
                *port
            };
            let np_ok = !layers.netpol || netpol::allowed(set, &facts, w, l3_port);
            Some(istio_ok && np_ok)
        }
        Dest::External { host, port } => {
            let Some(w) = &facts.workload else {
                return Some(false);
            };
            let istio_ok = !layers.istio || istio::egress_allowed(set, w, &probe_host(host), *port);
            let ip = additions::cidr_probe_ip(host).unwrap_or(netpol::EXTERNAL_IP);
            let np_ok = !layers.netpol || netpol::egress_allowed_to(set, w, *port, ip);
            Some(istio_ok && np_ok)
        }
    }
}

/// One disagreement between intent and rendering.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    /// true: allowed but not intended (a security bug); false: intended but
    /// not allowed (an outage).
    pub extra: bool,
    pub source: Source,
    pub dest: Dest,
    /// The probes concerned; empty when the whole cell differs.
    pub probes: Vec<Probe>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.extra {
            "allowed but not intended"
        } else {
            "intended but not allowed"
        };
        write!(f, "{what}: {} -> {}", self.source, self.dest)?;
        if !self.probes.is_empty() {
            let shown: Vec<String> = self
                .probes
                .iter()
                .take(4)
                .map(|p| {
                    format!(
                        "{} {}",
                        p.method.as_deref().unwrap_or(""),
                        p.path
                            .as_deref()
                            .map(super::output::path_pattern)
                            .unwrap_or_default()
                    )
                })
                .collect();
            write!(f, " for {}", shown.join(", "))?;
            if self.probes.len() > 4 {
                write!(f, " (+{} more)", self.probes.len() - 4)?;
            }
        }
        Ok(())
    }
}

pub struct Comparison {
    pub intended: Matrix,
    pub actual: Matrix,
    pub differences: Vec<Difference>,
    /// Services of the policy with no workload in the rendered set.
    pub missing: Vec<String>,
}

pub fn compare(m: &Model, set: &Rendered, gw: &GatewayIdentity) -> Comparison {
    compare_layers(m, set, &gw.with_pod_labels(m, set), set.layers())
}

/// A layer evaluated on its own: its name as reports print it, and what it
/// lets through that the policy does not intend.
pub struct LayerGap {
    pub layer: &'static str,
    pub difference: Difference,
}

/// With both layers rendered, each is meant to enforce the policy alone:
/// Istio all of it (a CNI that ignores NetworkPolicies leaves only Istio),
/// NetworkPolicies its L3/L4 projection (pods outside the mesh, a broken
/// sidecar). Whatever one layer alone allows beyond that is a gap the
/// combined matrix hides, since the other layer still blocks it.
pub(crate) fn layer_gaps(m: &Model, set: &Rendered, gw: &GatewayIdentity) -> Vec<LayerGap> {
    let all = set.layers();
    if !(all.istio && all.netpol) {
        return vec![];
    }
    let gw = &gw.with_pod_labels(m, set);
    let mut gaps = vec![];
    let alone = [
        (
            "Istio alone",
            Layers {
                netpol: false,
                ..all
            },
        ),
        (
            "NetworkPolicy alone",
            Layers {
                istio: false,
                ..all
            },
        ),
    ];
    for (layer, layers) in alone {
        // Ambient NetworkPolicies admit HBONE between the release's pods
        // and leave ports to ztunnel: they enforce no edge alone.
        if !layers.istio && all.ambient {
            continue;
        }
        for d in compare_layers(m, set, gw, layers).differences {
            // Ambient Istio has no sidecar, and without a waypoint for the
            // outside host (meshpack renders none) nothing of Istio limits
            // egress by host: there, egress is the NetworkPolicies' alone.
            // https://istio.io/latest/docs/ambient/usage/egress-gateway/
            if layers.istio && all.ambient && matches!(d.dest, Dest::External { .. }) {
                continue;
            }
            if d.extra {
                gaps.push(LayerGap {
                    layer,
                    difference: d,
                });
            }
        }
    }
    gaps
}

/// Compare intent and rendering with the given layers in force.
pub(crate) fn compare_layers(
    m: &Model,
    set: &Rendered,
    gw: &GatewayIdentity,
    layers: Layers,
) -> Comparison {
    let plan = plan(m, set, gw, layers);
    // A service, or one version of it where the policy checks versions
    // apart (`reviews@v2`): cells of a missing one cannot be evaluated.
    let mut missing: Vec<String> = m
        .services
        .iter()
        .filter(|s| set.workload(&s.name).is_none())
        .map(|s| s.name.clone())
        .collect();
    missing.extend(plan.sources.iter().filter_map(|s| match s {
        Source::Workload(n)
            if n.contains(super::VERSION_SEP)
                && set.workload(super::unversioned(n)).is_some()
                && set.workload(n).is_none() =>
        {
            Some(n.clone())
        }
        _ => None,
    }));
    let mut intended_m = Matrix::new();
    let mut actual_m = Matrix::new();
    let mut differences = vec![];
    for src in &plan.sources {
        for dest in &plan.dests {
            let probes = &plan.probes[dest];
            let mut want = BTreeSet::new();
            let mut have = BTreeSet::new();
            let mut known = true;
            for p in probes {
                if intended(m, gw, layers, src, dest, p) {
                    want.insert(p.clone());
                }
                match actual(set, layers, src, dest, p) {
                    Some(true) => {
                        have.insert(p.clone());
                    }
                    Some(false) => {}
                    None => known = false,
                }
            }
            if !known {
                continue;
            }
            let extra: Vec<Probe> = have.difference(&want).cloned().collect();
            let lacking: Vec<Probe> = want.difference(&have).cloned().collect();
            for (list, is_extra) in [(extra, true), (lacking, false)] {
                if !list.is_empty() {
                    let whole = list.len() == probes.len();
                    differences.push(Difference {
                        extra: is_extra,
                        source: src.clone(),
                        dest: dest.clone(),
                        probes: if whole { vec![] } else { list },
                    });
                }
            }
            intended_m.insert(
                (src.clone(), dest.clone()),
                Access::from_probes(probes, want),
            );
            actual_m.insert(
                (src.clone(), dest.clone()),
                Access::from_probes(probes, have),
            );
        }
    }
    differences.sort();
    Comparison {
        intended: intended_m,
        actual: actual_m,
        differences,
        missing,
    }
}
