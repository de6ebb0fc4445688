//! Stage 3: resolve a policy into a typed model: names checked, defaults
//! applied, rules expanded to edges between known workloads and ports.
//!
//! Invariant: the model holds no Kubernetes or Istio types and nothing about
//! output formats; every reference in it points at something that exists.
//! All semantic errors of a policy are found here, each with the position
//! of the node that caused it, and all of them are reported in one run.

mod attach;
mod external;
mod fragment;
mod gateway;
mod image;
pub mod names;
mod pod;
mod scoped;
mod traffic;
mod upgrades;
pub use upgrades::{is_value_path, Upgrades};

use crate::diag::{suggest, Diagnostic, Diagnostics};
use crate::policy::{self, MtlsMode, PortRef, PortSpec, ServiceMtls, Spans, Storage};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use attach::Attach;
pub use external::External;
pub use gateway::{Cors, Gateway, GatewayTls, PathMatch, Route};
pub use pod::{parse_text, ports_of, render, EnvVal, File as PodFile, Piece, Pod, Ports, Text};
pub use scoped::identity_suffix;
pub use traffic::{
    ConnectionPool, Fault, OutlierDetection, Retries, Telemetry, Tracing, Traffic, Version,
    VersionRoute,
};

/// Longest `<application>-<service>` name: a StatefulSet's pods carry
/// `controller-revision-hash: <name>-<10 chars>`, and label values stop at 63.
pub const MAX_OBJECT_NAME: usize = 52;
/// Characters an object name keeps for the release (`<fullname>`) however
/// long the service name: the chart cuts a longer release name to its
/// first characters and a hash, which needs room to tell releases apart.
pub const MIN_FULLNAME: usize = 8;

/// Suffixes of release-wide objects that a service of the same name would
/// collide with (the allow-nothing AuthorizationPolicy, the namespace-wide
/// PeerAuthentication, the ambient waypoint and the Deployment, Service and
/// ServiceAccount Istio deploys for it).
pub const RESERVED: [&str; 3] = ["allow-nothing", "mtls", "waypoint"];

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    pub version: String,
    pub description: String,
    pub home: Option<String>,
    pub maintainers: Vec<Maintainer>,
    pub profile: String,
    pub mtls: MtlsMode,
    pub dry_run: bool,
    pub pull_secrets: Vec<String>,
    /// What every service gets unless it says otherwise (policy over profile).
    pub defaults: Defaults,
    pub services: Vec<Service>,
    pub gateways: Vec<Gateway>,
    pub edges: Vec<Edge>,
    /// Hosts outside the cluster services may reach: the `egress` list and
    /// the edges to external services.
    pub egress: Vec<Egress>,
    /// Services outside the cluster (not deployed).
    pub externals: Vec<External>,
    pub telemetry: Option<Telemetry>,
    pub mesh: MeshRuntime,
    /// The image lock file the policy names, relative to the policy.
    pub image_lock: Option<String>,
    /// Services and chart values earlier versions had (`spec.upgrades`).
    pub upgrades: Upgrades,
    /// Image of the `helm test` connectivity probes (`spec.images.probe`).
    pub probe_image: Option<Image>,
    /// How Kubernetes Services are named (`spec.serviceNames`).
    pub service_names: policy::ServiceNames,
    /// Lookups built once, so emitters stay linear in the policy's size.
    index: Index,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Index {
    services: HashMap<String, usize>,
    edges_to: HashMap<String, Vec<usize>>,
    edges_from: HashMap<String, Vec<usize>>,
    egress_from: HashMap<String, Vec<usize>>,
}

impl Model {
    /// Every image the chart can render or the mesh needs, with what it is
    /// for: each service (each version), then the mesh runtime.
    pub fn images(&self) -> Vec<(String, &Image)> {
        let mut out = vec![];
        for s in &self.services {
            if s.versions.is_empty() && s.attach.is_none() {
                out.push((s.name.clone(), &s.image));
            }
            for v in &s.versions {
                out.push((format!("{} ({})", s.name, v.name), &v.image));
            }
        }
        let mesh = [
            ("istio proxy", &self.mesh.proxy),
            ("istio control plane", &self.mesh.control_plane),
            ("istio ztunnel", &self.mesh.ztunnel),
            ("connectivity probe", &self.probe_image),
        ];
        for (what, i) in mesh {
            if let Some(i) = i {
                out.push((what.to_string(), i));
            }
        }
        out
    }

    /// The same images, to pin digests in.
    pub fn images_mut(&mut self) -> Vec<(String, &mut Image)> {
        let mut out = vec![];
        for s in &mut self.services {
            if s.versions.is_empty() && s.attach.is_none() {
                out.push((s.name.clone(), &mut s.image));
            }
            for v in &mut s.versions {
                out.push((format!("{} ({})", s.name, v.name), &mut v.image));
            }
        }
        let m = &mut self.mesh;
        for (what, i) in [
            ("istio proxy", &mut m.proxy),
            ("istio control plane", &mut m.control_plane),
            ("istio ztunnel", &mut m.ztunnel),
            ("connectivity probe", &mut self.probe_image),
        ] {
            if let Some(i) = i {
                out.push((what.to_string(), i));
            }
        }
        out
    }

    fn with_index(mut self) -> Self {
        let mut ix = Index::default();
        for (i, s) in self.services.iter().enumerate() {
            ix.services.insert(s.name.clone(), i);
        }
        for (i, e) in self.edges.iter().enumerate() {
            ix.edges_to.entry(e.dest.clone()).or_default().push(i);
            // A version's edges are its service's too: per-service objects
            // (Sidecar, NetworkPolicy egress) select every version's pods.
            if let Source::Service(src) | Source::Version { service: src, .. } = &e.source {
                ix.edges_from.entry(src.clone()).or_default().push(i);
            }
        }
        for (i, e) in self.egress.iter().enumerate() {
            for f in &e.from {
                ix.egress_from.entry(f.clone()).or_default().push(i);
            }
        }
        self.index = ix;
        self
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.index.services.get(name).map(|i| &self.services[*i])
    }

    /// Edges into a service, in the model's order.
    pub fn edges_to(&self, name: &str) -> impl Iterator<Item = &Edge> {
        self.index
            .edges_to
            .get(name)
            .into_iter()
            .flatten()
            .map(|i| &self.edges[*i])
    }

    /// Edges out of a service of the release.
    pub fn edges_from(&self, name: &str) -> impl Iterator<Item = &Edge> {
        self.index
            .edges_from
            .get(name)
            .into_iter()
            .flatten()
            .map(|i| &self.edges[*i])
    }

    /// Whether requests to a service need a waypoint in ambient mode: some
    /// rule into it names paths or methods, which ztunnel cannot check, or
    /// its traffic settings (routes, splits, retries, connection limits)
    /// need a proxy to apply them. A StatefulSet's headless Service has no
    /// address a waypoint could take over: clients reach its pods directly.
    pub fn needs_waypoint(&self, name: &str) -> bool {
        let l7_rules = self
            .edges_to(name)
            .any(|e| !e.paths.is_empty() || !e.methods.is_empty());
        let traffic = self.service(name).is_some_and(|s| {
            s.workload == Workload::Deployment
                && (s.traffic.routes_requests() || s.traffic.shapes_connections())
        });
        l7_rules || traffic
    }

    /// Egress hosts a service may reach.
    pub fn egress_from(&self, name: &str) -> impl Iterator<Item = &Egress> {
        self.index
            .egress_from
            .get(name)
            .into_iter()
            .flatten()
            .map(|i| &self.egress[*i])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub resources: Resources,
    pub run_as_user: i64,
    pub read_only_root_filesystem: bool,
}

/// The mesh the vendor tested the release with.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshRuntime {
    pub dataplane: policy::Dataplane,
    pub revision: Option<String>,
    pub proxy: Option<Image>,
    pub control_plane: Option<Image>,
    pub ztunnel: Option<Image>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Maintainer {
    pub name: String,
    pub email: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Image {
    /// Empty when the reference names none (Docker Hub by convention).
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
}

impl Workload {
    /// The Kubernetes kind.
    pub fn kind(self) -> &'static str {
        match self {
            Workload::Deployment => "Deployment",
            Workload::StatefulSet => "StatefulSet",
            Workload::DaemonSet => "DaemonSet",
            Workload::Job => "Job",
            Workload::CronJob => "CronJob",
        }
    }

    /// Pods that run to completion (no replicas, no disruption budget).
    pub fn runs_to_completion(self) -> bool {
        matches!(self, Workload::Job | Workload::CronJob)
    }

    /// Whether `replicas` means anything for it.
    pub fn has_replicas(self) -> bool {
        matches!(self, Workload::Deployment | Workload::StatefulSet)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    /// The image of an unversioned service; versions carry their own.
    pub image: Image,
    pub workload: Workload,
    pub replicas: u32,
    /// Versions deployed side by side; empty for one unversioned workload.
    pub versions: Vec<Version>,
    pub traffic: Traffic,
    pub storage: Option<Volume>,
    pub ports: Vec<Port>,
    /// Service-wide mTLS mode, when it differs from the release's.
    pub mtls: Option<MtlsMode>,
    /// Port-level mTLS modes, by container port.
    pub port_mtls: Vec<(u16, MtlsMode)>,
    pub resources: Resources,
    /// Environment variables; a version's own env is on the version.
    pub env: Vec<(String, EnvVal)>,
    /// Command, args, volumes, probes and the rest of the pod (`pod.rs`).
    pub pod: Pod,
    pub health_path: Option<String>,
    pub read_only_root_filesystem: bool,
    pub run_as_user: i64,
    /// Set when the service already exists (attach mode): meshpack renders
    /// its mesh layer only.
    pub attach: Option<Attach>,
}

impl Service {
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// Pods of the service, all versions together.
    pub fn total_replicas(&self) -> u32 {
        if self.versions.is_empty() {
            return self.replicas;
        }
        self.versions
            .iter()
            .fold(0, |a, v| a.saturating_add(v.replicas))
    }

    /// The container ports of the named ports, sorted, without repeats.
    pub fn target_ports(&self, names: &[String]) -> Vec<u16> {
        let mut ports: Vec<u16> = names
            .iter()
            .filter_map(|p| self.port(p))
            .map(|p| p.target_port)
            .collect();
        ports.sort();
        ports.dedup();
        ports
    }

    pub fn has_http(&self) -> bool {
        self.ports.iter().any(|p| p.protocol.is_http())
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    pub requests: Vec<(String, String)>,
    pub limits: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub size: String,
    pub mount_path: String,
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub name: String,
    pub port: u16,
    pub target_port: u16,
    pub protocol: Protocol,
}

/// Application protocols Istio selects from a port's name or `appProtocol`.
/// <https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/>
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Http2,
    Https,
    Grpc,
    GrpcWeb,
    Tcp,
    Tls,
    Mongo,
    Mysql,
    Redis,
}

impl Protocol {
    pub const ALL: [Protocol; 10] = [
        Protocol::Http,
        Protocol::Http2,
        Protocol::Https,
        Protocol::Grpc,
        Protocol::GrpcWeb,
        Protocol::Tcp,
        Protocol::Tls,
        Protocol::Mongo,
        Protocol::Mysql,
        Protocol::Redis,
    ];

    /// The name Istio gives it, also the Service port's `appProtocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Https => "https",
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc-web",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Mongo => "mongo",
            Protocol::Mysql => "mysql",
            Protocol::Redis => "redis",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        let l = s.to_ascii_lowercase();
        Protocol::ALL.into_iter().find(|p| p.as_str() == l)
    }

    /// Istio's rule for a port name `<protocol>[-<suffix>]`; anything else is TCP.
    pub fn from_port_name(name: &str) -> Protocol {
        // `grpc-web` contains a dash itself, so try the longest match first.
        if name == "grpc-web" || name.starts_with("grpc-web-") {
            return Protocol::GrpcWeb;
        }
        let prefix = name.split('-').next().unwrap_or(name);
        Protocol::parse(prefix).unwrap_or(Protocol::Tcp)
    }

    /// Whether the sidecar parses HTTP on it, so that AuthorizationPolicy
    /// `paths` and `methods` can match. HTTPS and TLS pass through encrypted.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            Protocol::Http | Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Service(String),
    /// One version of a service (`from: reviews@v2`, `scoped.rs`).
    Version {
        service: String,
        version: String,
    },
    Gateway(String),
    External {
        namespace: String,
        service_account: String,
    },
}

impl std::fmt::Display for Source {
    /// As the policy writes it: `api`, `gateway/public`, `monitoring/prometheus`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Service(n) => f.write_str(n),
            Source::Version { service, version } => write!(f, "{service}@{version}"),
            Source::Gateway(g) => write!(f, "gateway/{g}"),
            Source::External {
                namespace,
                service_account,
            } => write!(f, "{namespace}/{service_account}"),
        }
    }
}

/// One allowed edge: `source` may reach `ports` of `dest`, optionally only
/// with the given HTTP paths and methods.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub source: Source,
    pub dest: String,
    /// Port names of `dest`, never empty.
    pub ports: Vec<String>,
    pub paths: Vec<String>,
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Egress {
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    pub from: Vec<String>,
    /// The external service this entry reaches, if it comes from an allow
    /// rule rather than `egress`.
    pub service: Option<String>,
}

/// Resolve a loaded policy under a profile's settings.
pub fn resolve(
    doc: &policy::PolicyFile,
    spans: &Spans,
    profile_name: &str,
    settings: &policy::Settings,
) -> Result<Model, Vec<Diagnostic>> {
    let mut r = Resolver {
        spans,
        diags: Diagnostics::default(),
    };
    let m = r.model(doc, profile_name, settings);
    if r.diags.has_errors() {
        Err(r.diags.sorted())
    } else {
        Ok(m)
    }
}

struct Resolver<'a> {
    spans: &'a Spans,
    diags: Diagnostics,
}

impl Resolver<'_> {
    fn err(&mut self, code: &'static str, path: &str, msg: String, help: String) {
        let d = Diagnostic::error(code, msg)
            .at(self.spans.value(path))
            .help(help);
        self.diags.push(d);
    }

    fn err_key(&mut self, code: &'static str, path: &str, msg: String, help: String) {
        let d = Diagnostic::error(code, msg)
            .at(self.spans.key(path))
            .help(help);
        self.diags.push(d);
    }

    /// Check a name against the rule of the Kubernetes field it lands in
    /// (the value at `path`); `what` names it for the message.
    fn name(&mut self, rule: names::Rule, code: &'static str, path: &str, s: &str, what: &str) {
        if !names::check(rule, s) {
            self.err(
                code,
                path,
                format!("{} is not {what}", crate::diag::quoted(s)),
                format!("write {}", rule.expected()),
            );
        }
    }

    /// [`Self::name`] for a name that is a key (pointed at as a key).
    fn name_key(&mut self, rule: names::Rule, code: &'static str, path: &str, s: &str, what: &str) {
        if !names::check(rule, s) {
            self.err_key(
                code,
                path,
                format!("{} is not {what}", crate::diag::quoted(s)),
                format!("write {}", rule.expected()),
            );
        }
    }

    fn model(&mut self, doc: &policy::PolicyFile, profile: &str, st: &policy::Settings) -> Model {
        let spec = &doc.spec;
        if ![policy::POLICY_API_VERSION, policy::API_VERSION].contains(&doc.api_version.as_str()) {
            self.err(
                "E0201",
                "apiVersion",
                format!("unsupported apiVersion `{}`", doc.api_version),
                format!("expected `{}`", policy::POLICY_API_VERSION),
            );
        }
        if doc.kind != "MeshPolicy" {
            self.err(
                "E0201",
                "kind",
                format!("unsupported kind `{}`", doc.kind),
                "expected `MeshPolicy`".into(),
            );
        }
        let name = doc.metadata.name.clone();
        if !is_dns_label(&name) {
            self.err(
                "E0202",
                "metadata.name",
                format!("`{name}` is not a DNS-1035 label"),
                "use lowercase letters, digits and `-`, starting with a letter, at most 63 characters".into(),
            );
        }
        if !is_semver(&spec.version) {
            self.err(
                "E0203",
                "spec.version",
                format!("`{}` is not a SemVer 2 version", spec.version),
                "Helm needs versions like `2.3.0` or `2.3.0-rc.1`".into(),
            );
        }
        let defaults = st.defaults.clone().unwrap_or_default();
        let default_registry = spec.images.as_ref().and_then(|i| i.registry.clone());
        if let Some(r) = &default_registry {
            self.name(
                names::Rule::Registry,
                "E0207",
                "spec.images.registry",
                r,
                "a registry",
            );
        }
        for (i, p) in spec.images.iter().flat_map(|i| &i.pull_secrets).enumerate() {
            self.name(
                names::Rule::Dns1123Subdomain,
                "E0207",
                &format!("spec.images.pullSecrets[{i}]"),
                p,
                "a Secret name",
            );
        }
        if spec.services.is_empty() {
            self.err_key(
                "E0204",
                "spec.services",
                "the policy declares no service".into(),
                "add at least one service under `spec.services`".into(),
            );
        }
        let externals: Vec<External> = spec
            .services
            .iter()
            .filter_map(|(n, s)| self.external(n, s))
            .collect();
        let mut services: Vec<Service> = spec
            .services
            .iter()
            .filter(|(_, s)| s.external.is_none())
            .map(|(n, s)| self.service(&name, n, s, &defaults, default_registry.as_deref()))
            .collect();
        self.texts(spec, &mut services);
        self.check_attach_not_mixed(&services);
        self.check_workload_names(&services);
        let index: BTreeMap<&str, &Service> =
            services.iter().map(|s| (s.name.as_str(), s)).collect();
        let ext_index: BTreeMap<&str, &External> =
            externals.iter().map(|e| (e.name.as_str(), e)).collect();
        let gateways: Vec<Gateway> = spec
            .gateways
            .iter()
            .map(|(n, g)| self.gateway(n, g, &index))
            .collect();
        let mut edges = BTreeSet::new();
        let mut to_externals = vec![];
        for (i, rule) in spec.allow.iter().enumerate() {
            let (es, xs) = self.rule(i, rule, &index, &ext_index, &spec.gateways);
            edges.extend(es);
            to_externals.extend(xs);
        }
        let edges: Vec<Edge> = edges.into_iter().collect();
        self.check_routes_allowed(&gateways, &edges);
        self.check_mtls_for_rules(st.mtls.unwrap_or(MtlsMode::Strict), &services, &edges);
        let mut egress: Vec<Egress> = spec
            .egress
            .iter()
            .enumerate()
            .map(|(i, e)| self.egress(i, e, &index))
            .collect();
        egress.extend(merge_external_egress(to_externals));
        let telemetry = spec.telemetry.as_ref().map(|t| self.telemetry(t));
        let mesh = self.mesh(spec, st);
        let chart = spec.chart.as_ref();
        let upgrades = self.upgrades(doc, &services);
        let probe_image = spec
            .images
            .as_ref()
            .and_then(|i| i.probe.as_ref())
            .and_then(|r| match parse_image(r, None) {
                Ok(i) => Some(i),
                Err(why) => {
                    self.err(
                        "E0212",
                        "spec.images.probe",
                        why,
                        "write the full reference, e.g. `docker.io/curlimages/curl:8.11.1`".into(),
                    );
                    None
                }
            });
        Model {
            description: chart
                .and_then(|c| c.description.clone())
                .unwrap_or_else(|| {
                    format!("{name}, packaged by meshpack with an optional Istio mesh")
                }),
            home: chart.and_then(|c| c.home.clone()),
            maintainers: chart
                .map(|c| {
                    c.maintainers
                        .iter()
                        .map(|m| Maintainer {
                            name: m.name.clone(),
                            email: m.email.clone(),
                            url: m.url.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            name,
            version: spec.version.clone(),
            profile: profile.to_string(),
            mtls: st.mtls.unwrap_or(MtlsMode::Strict),
            dry_run: st
                .authorization
                .as_ref()
                .and_then(|a| a.dry_run)
                .unwrap_or(false),
            pull_secrets: spec
                .images
                .as_ref()
                .map(|i| i.pull_secrets.clone())
                .unwrap_or_default(),
            defaults: Defaults {
                resources: defaults
                    .resources
                    .as_ref()
                    .map(resources_of)
                    .unwrap_or_default(),
                run_as_user: defaults.run_as_user.unwrap_or(10001),
                read_only_root_filesystem: defaults.read_only_root_filesystem.unwrap_or(true),
            },
            services,
            gateways,
            edges,
            egress,
            externals,
            telemetry,
            mesh,
            image_lock: spec.images.as_ref().and_then(|i| i.lock.clone()),
            upgrades,
            probe_image,
            service_names: spec.service_names.unwrap_or_default(),
            index: Index::default(),
        }
        .with_index()
    }

    /// A service's objects are `<release>-<service>`, a version's
    /// `<release>-<service>-<version>`: service `web-canary` and version
    /// `canary` of `web` would be two Deployments of one name.
    fn check_workload_names(&mut self, services: &[Service]) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut workloads = vec![];
        // Every service, versioned or not: its Service, ServiceAccount and
        // Istio objects take `<release>-<service>` too.
        for s in services {
            workloads.push((
                s.name.clone(),
                format!("service `{}`", s.name),
                format!("spec.services.{}", s.name),
            ));
            for v in &s.versions {
                workloads.push((
                    format!("{}-{}", s.name, v.name),
                    format!("version `{}` of service `{}`", v.name, s.name),
                    format!("spec.services.{}.versions.{}", s.name, v.name),
                ));
            }
        }
        for (name, what, path) in workloads {
            if let Some(first) = seen.get(&name) {
                self.err_key(
                    "E0221",
                    &path,
                    format!("{what} and {first} would both be the workload `<release>-{name}`"),
                    "rename the service or the version; object names must be unique".into(),
                );
            } else {
                seen.insert(name, what);
            }
        }
    }

    fn service(
        &mut self,
        app: &str,
        name: &str,
        s: &policy::Service,
        defaults: &policy::ServiceDefaults,
        registry: Option<&str>,
    ) -> Service {
        let path = format!("spec.services.{name}");
        if !is_dns_label(name) {
            self.err_key(
                "E0210",
                &path,
                format!("service name `{name}` is not a DNS-1035 label"),
                "use lowercase letters, digits and `-`, starting with a letter".into(),
            );
        } else if RESERVED.contains(&name) {
            self.err_key(
                "E0217",
                &path,
                format!("service name `{name}` is reserved"),
                format!(
                    "meshpack names release-wide objects `<release>-{name}`; choose another name"
                ),
            );
        } else if app.len().max(MIN_FULLNAME) + 1 + name.len() > MAX_OBJECT_NAME {
            self.err_key(
                "E0211",
                &path,
                format!(
                    "`{app}-{name}` is {} characters; object names stop at {MAX_OBJECT_NAME}, and the release part keeps at least {MIN_FULLNAME}",
                    app.len() + 1 + name.len()
                ),
                "shorten the service name (objects are named `<release>-<service>`)".into(),
            );
        }
        let workload = match s.workload {
            policy::Workload::Deployment => Workload::Deployment,
            policy::Workload::StatefulSet => Workload::StatefulSet,
            policy::Workload::DaemonSet => Workload::DaemonSet,
            policy::Workload::Job => Workload::Job,
            policy::Workload::CronJob => Workload::CronJob,
        };
        let attach = self.attach(name, s);
        let workload = match &attach {
            Some(a) if a.kind == policy::AttachKind::StatefulSet => Workload::StatefulSet,
            Some(_) => Workload::Deployment,
            None => workload,
        };
        let versions = self.versions(app, name, s, workload == Workload::Deployment, registry);
        // A versioned service's images are its versions' (which parse the
        // service's `image` as their default).
        let image = match &s.image {
            _ if !s.versions.is_empty() => Image::default(),
            Some(reference) => match parse_image(reference, registry) {
                Ok(i) => i,
                Err(why) => {
                    self.err(
                        "E0212",
                        &format!("{path}.image"),
                        why,
                        "write `[registry/]repository:tag` or `repository@sha256:<64 hex digits>`"
                            .into(),
                    );
                    Image::default()
                }
            },
            None if attach.is_some() => Image::default(),
            None => {
                self.err_key(
                    "E0218",
                    &path,
                    format!("service `{name}` has no image"),
                    "add `image: repository:tag`, or `external:` for a service outside the cluster"
                        .into(),
                );
                Image::default()
            }
        };
        let storage = s.storage.as_ref().map(|st| match st {
            Storage::Size(size) => Volume {
                size: size.clone(),
                mount_path: "/data".into(),
                storage_class: None,
            },
            Storage::Long(l) => Volume {
                size: l.size.clone(),
                mount_path: l.mount_path.clone().unwrap_or_else(|| "/data".into()),
                storage_class: l.storage_class_name.clone(),
            },
        });
        if let Some(v) = &storage {
            if workload != Workload::StatefulSet {
                self.err_key(
                    "E0213",
                    &format!("{path}.storage"),
                    format!("`{name}` asks for storage but is a Deployment"),
                    "add `workload: StatefulSet` so each replica keeps its own volume".into(),
                );
            }
            if let Some(class) = &v.storage_class {
                self.name(
                    names::Rule::Dns1123Subdomain,
                    "E0214",
                    &format!("{path}.storage.storageClassName"),
                    class,
                    "a StorageClass name",
                );
            }
            if !is_quantity(&v.size) {
                self.err(
                    "E0214",
                    &format!("{path}.storage"),
                    format!("`{}` is not a storage size", v.size),
                    "write a Kubernetes quantity such as `20Gi`".into(),
                );
            }
        }
        let ports = self.port_list(&path, &s.ports);
        let (mtls, port_mtls) = match &s.mtls {
            None => (None, vec![]),
            Some(ServiceMtls::Mode(m)) => (Some(*m), vec![]),
            Some(ServiceMtls::Long(l)) => {
                let mut pm = vec![];
                for (pn, mode) in &l.ports {
                    match ports.iter().find(|p| &p.name == pn) {
                        Some(p) => pm.push((p.target_port, *mode)),
                        None => self.unknown_port(
                            &format!("{path}.mtls.ports.{pn}"),
                            name,
                            pn,
                            &ports,
                            true,
                        ),
                    }
                }
                (l.mode, pm)
            }
        };
        let resources = s
            .resources
            .as_ref()
            .or(defaults.resources.as_ref())
            .map(resources_of)
            .unwrap_or_default();
        if let Some(h) = &s.health_path {
            if !h.starts_with('/') {
                self.err(
                    "E0215",
                    &format!("{path}.healthPath"),
                    format!("health path `{h}` does not start with `/`"),
                    "write an absolute HTTP path such as `/healthz`".into(),
                );
            } else if !ports.iter().any(|p| p.protocol.is_http()) {
                self.err_key(
                    "E0215",
                    &format!("{path}.healthPath"),
                    format!("`{name}` has a health path but no HTTP port"),
                    "name a port `http` or `http-<suffix>`, or remove healthPath".into(),
                );
            }
        }
        for k in s.env.keys() {
            self.name_key(
                names::Rule::EnvVarName,
                "E0216",
                &format!("{path}.env.{k}"),
                k,
                "an environment variable name",
            );
        }
        let has_http = ports.iter().any(|p| p.protocol.is_http());
        let traffic = self.traffic(name, s.traffic.as_ref(), &versions, has_http);
        let pod = if attach.is_some() {
            Pod::default()
        } else {
            self.pod(name, s, workload)
        };
        Service {
            name: name.to_string(),
            image,
            workload,
            replicas: s.replicas.unwrap_or(1),
            versions,
            traffic,
            storage,
            ports,
            mtls,
            port_mtls,
            resources,
            // Filled by `texts` once every service is known.
            env: vec![],
            pod,
            health_path: s.health_path.clone(),
            read_only_root_filesystem: s
                .read_only_root_filesystem
                .or(defaults.read_only_root_filesystem)
                .unwrap_or(true),
            run_as_user: s.run_as_user.or(defaults.run_as_user).unwrap_or(10001),
            attach,
        }
    }

    fn mesh(&mut self, spec: &policy::Spec, st: &policy::Settings) -> MeshRuntime {
        let m = spec.mesh.as_ref();
        let mut image = |field: &str, reference: Option<&String>| {
            let reference = reference?;
            match parse_image(reference, None) {
                Ok(i) => Some(i),
                Err(why) => {
                    self.err(
                        "E0212",
                        &format!("spec.mesh.{field}"),
                        why,
                        "write the full reference, e.g. `docker.io/istio/proxyv2:1.24.2`".into(),
                    );
                    None
                }
            }
        };
        let proxy = image("proxy", m.and_then(|m| m.proxy.as_ref()));
        let control_plane = image("controlPlane", m.and_then(|m| m.control_plane.as_ref()));
        let ztunnel = image("ztunnel", m.and_then(|m| m.ztunnel.as_ref()));
        let revision = m.and_then(|m| m.revision.clone());
        if let Some(r) = &revision {
            let label_value = r.len() <= 63
                && !r.starts_with('-')
                && !r.ends_with('-')
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if r.is_empty() || !label_value {
                self.err(
                    "E0206",
                    "spec.mesh.revision",
                    format!("`{r}` is not an Istio revision name"),
                    "revisions are label values such as `1-24-2` or `canary`".into(),
                );
            }
        }
        MeshRuntime {
            dataplane: st.dataplane.unwrap_or(policy::Dataplane::Sidecar),
            revision,
            proxy,
            control_plane,
            ztunnel,
        }
    }

    fn port_list(&mut self, path: &str, ports: &BTreeMap<String, PortSpec>) -> Vec<Port> {
        let mut out: Vec<Port> = vec![];
        for (pname, spec) in ports {
            let ppath = format!("{path}.ports.{pname}");
            if !is_port_name(pname) {
                self.err_key(
                    "E0220",
                    &ppath,
                    format!("port name `{pname}` is not an IANA service name"),
                    "use at most 15 lowercase letters, digits and single `-`, with a letter, like `http-metrics`".into(),
                );
            }
            let (num, proto, target) = match spec {
                PortSpec::Number(n) => (*n, None, None),
                PortSpec::Long(l) => (l.port, l.protocol.clone(), l.target_port),
            };
            let check = |r: &mut Self, n: u64, p: &str| -> u16 {
                if (1..=65535).contains(&n) {
                    n as u16
                } else {
                    r.err(
                        "E0221",
                        p,
                        format!("port {n} is out of range"),
                        "expected 1 to 65535".into(),
                    );
                    1
                }
            };
            let port = check(self, num, &ppath_num(&ppath, spec));
            let target_port = match target {
                Some(t) => check(self, t, &format!("{ppath}.targetPort")),
                None => port,
            };
            let protocol = match proto {
                None => Protocol::from_port_name(pname),
                Some(p) => match Protocol::parse(&p) {
                    Some(pr) => pr,
                    None => {
                        let known: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
                        self.err(
                            "E0222",
                            &format!("{ppath}.protocol"),
                            format!("unknown protocol `{p}`"),
                            format!("expected one of {}", known.join(", ")),
                        );
                        Protocol::Tcp
                    }
                },
            };
            if let Some(other) = out.iter().find(|o| o.port == port) {
                self.err(
                    "E0223",
                    &ppath_num(&ppath, spec),
                    format!(
                        "port {port} is declared twice (`{}` and `{pname}`)",
                        other.name
                    ),
                    "give each port its own number".into(),
                );
            } else if let Some(other) = out.iter().find(|o| o.target_port == target_port) {
                self.err(
                    "E0223",
                    &ppath_num(&ppath, spec),
                    format!(
                        "container port {target_port} is used by `{}` and `{pname}`",
                        other.name
                    ),
                    "give each port its own targetPort".into(),
                );
            }
            out.push(Port {
                name: pname.clone(),
                port,
                target_port,
                protocol,
            });
        }
        out
    }

    fn unknown_port(&mut self, path: &str, svc: &str, port: &str, ports: &[Port], key: bool) {
        let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
        let help = match suggest(port, names.iter().copied()) {
            Some(s) => format!(
                "did you mean `{s}`? `{svc}` has ports: {}",
                names.join(", ")
            ),
            None if names.is_empty() => format!("`{svc}` declares no ports"),
            None => format!("`{svc}` has ports: {}", names.join(", ")),
        };
        let msg = format!("service `{svc}` has no port `{port}`");
        if key {
            self.err_key("E0230", path, msg, help)
        } else {
            self.err("E0230", path, msg, help)
        }
    }

    fn unknown_service(&mut self, path: &str, name: &str, index: &BTreeMap<&str, &Service>) {
        let names: Vec<&str> = index.keys().copied().collect();
        self.unknown_name(path, name, &names);
    }

    fn unknown_name(&mut self, path: &str, name: &str, names: &[&str]) {
        let help = match suggest(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("known services: {}", names.join(", ")),
        };
        self.err("E0231", path, format!("unknown service `{name}`"), help);
    }

    fn port_ref<'s>(&mut self, path: &str, svc: &'s Service, p: &PortRef) -> Option<&'s Port> {
        let found = match p {
            PortRef::Name(n) => svc.port(n),
            PortRef::Number(n) => svc.ports.iter().find(|x| u64::from(x.port) == *n),
        };
        if found.is_none() {
            self.unknown_port(path, &svc.name, &p.to_string(), &svc.ports, false);
        }
        found
    }

    fn rule(
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
    fn rule_ports<'p>(
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
    fn rule_to_externals(
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
    fn check_routes_allowed(&mut self, gateways: &[Gateway], edges: &[Edge]) {
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
    fn check_mtls_for_rules(&mut self, release: MtlsMode, services: &[Service], edges: &[Edge]) {
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

    fn egress(&mut self, i: usize, e: &policy::Egress, index: &BTreeMap<&str, &Service>) -> Egress {
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

/// One entry per external service port, listing every service allowed to it.
fn merge_external_egress(entries: Vec<Egress>) -> Vec<Egress> {
    let mut merged: BTreeMap<(String, u16), Egress> = BTreeMap::new();
    for e in entries {
        let key = (e.service.clone().unwrap_or_default(), e.port);
        match merged.get_mut(&key) {
            Some(m) => m.from.extend(e.from),
            None => {
                merged.insert(key, e);
            }
        }
    }
    merged
        .into_values()
        .map(|mut e| {
            e.from.sort();
            e.from.dedup();
            e
        })
        .collect()
}

fn resources_of(r: &policy::Resources) -> Resources {
    Resources {
        requests: r
            .requests
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
        limits: r
            .limits
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
    }
}

fn ppath_num(ppath: &str, spec: &PortSpec) -> String {
    match spec {
        PortSpec::Number(_) => ppath.to_string(),
        PortSpec::Long(_) => format!("{ppath}.port"),
    }
}

/// DNS-1035 label: what Kubernetes requires of Service names.
pub fn is_dns_label(s: &str) -> bool {
    names::check(names::Rule::Dns1035Label, s)
}

/// A Go duration (`1h30m`, `500ms`, `2.5s`), as Istio and CEL read them;
/// in seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let mut rest = s;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit, len) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, f)| (*f, u.len()))?;
        total += n * unit;
        rest = &rest[len..];
    }
    Some(total)
}

pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    names::check(names::Rule::Dns1123Subdomain, s)
}

fn is_host(s: &str, wildcard: bool) -> bool {
    let rest = if wildcard {
        s.strip_prefix("*.").unwrap_or(s)
    } else {
        s
    };
    rest.contains('.') && is_dns_subdomain(rest)
}

/// IANA service name, as Kubernetes checks port names.
fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            // Helm (Masterminds/semver) reads each part as a uint64.
            p.parse::<u64>().is_ok()
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
        && s[core.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c))
}

fn is_quantity(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    !digits.is_empty()
        && digits.parse::<f64>().is_ok()
        && [
            "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
        ]
        .contains(&suffix)
}

/// `[registry/]repository[:tag][@sha256:digest]`, Docker's rule for what a
/// registry is: a first component with `.` or `:`, or `localhost`.
pub fn parse_image(reference: &str, default_registry: Option<&str>) -> Result<Image, String> {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => {
            let hex = d.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64
                || !hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return Err(format!("`{d}` is not a sha256 digest"));
            }
            (r, d.to_string())
        }
        None => (reference, String::new()),
    };
    let (name, tag) = match rest.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t.to_string()),
        _ => (rest, String::new()),
    };
    if tag.is_empty() && digest.is_empty() {
        return Err(format!("image `{reference}` has neither tag nor digest"));
    }
    if tag == "latest" && digest.is_empty() {
        return Err(format!("image `{reference}` uses the movable tag `latest`"));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
        || name.contains("//")
    {
        return Err(format!("`{reference}` is not an image reference"));
    }
    let first = name.split('/').next().unwrap_or("");
    let explicit =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let (registry, repository) = if explicit {
        let (r, repo) = name.split_once('/').unwrap_or((name, ""));
        (r.to_string(), repo.to_string())
    } else {
        match default_registry {
            Some(d) => {
                // `quay.io/evalhub` names a registry and a repository prefix.
                let (r, prefix) = d.split_once('/').unwrap_or((d, ""));
                let repo = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{}/{name}", prefix.trim_end_matches('/'))
                };
                (r.to_string(), repo)
            }
            None => (String::new(), name.to_string()),
        }
    };
    Ok(Image {
        registry,
        repository,
        tag,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_from_port_name() {
        assert_eq!(Protocol::from_port_name("http"), Protocol::Http);
        assert_eq!(Protocol::from_port_name("http-metrics"), Protocol::Http);
        assert_eq!(Protocol::from_port_name("grpc-web"), Protocol::GrpcWeb);
        assert_eq!(Protocol::from_port_name("grpc-web-x"), Protocol::GrpcWeb);
        assert_eq!(Protocol::from_port_name("grpc-x"), Protocol::Grpc);
        assert_eq!(Protocol::from_port_name("tcp-postgres"), Protocol::Tcp);
        assert_eq!(Protocol::from_port_name("postgres"), Protocol::Tcp);
        assert_eq!(Protocol::from_port_name("httpx"), Protocol::Tcp);
        assert!(!Protocol::Https.is_http());
    }

    #[test]
    fn images() {
        let i = parse_image("frontend:2.3.0", Some("quay.io/evalhub")).unwrap();
        assert_eq!(
            (i.registry.as_str(), i.repository.as_str(), i.tag.as_str()),
            ("quay.io", "evalhub/frontend", "2.3.0")
        );
        let i = parse_image("docker.io/library/postgres:16.4", Some("quay.io/evalhub")).unwrap();
        assert_eq!(
            (i.registry.as_str(), i.repository.as_str()),
            ("docker.io", "library/postgres")
        );
        let i = parse_image("localhost:5000/a/b:1", None).unwrap();
        assert_eq!(
            (i.registry.as_str(), i.repository.as_str(), i.tag.as_str()),
            ("localhost:5000", "a/b", "1")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let i = parse_image(&format!("x/y@{d}"), None).unwrap();
        assert_eq!(
            (
                i.registry.as_str(),
                i.repository.as_str(),
                i.tag.as_str(),
                i.digest.as_str()
            ),
            ("", "x/y", "", d.as_str())
        );
        assert!(parse_image("x/y", None)
            .unwrap_err()
            .contains("neither tag nor digest"));
        assert!(parse_image("x:latest", None)
            .unwrap_err()
            .contains("latest"));
        assert!(parse_image("x@sha256:12", None).is_err());
        assert!(parse_image("X:1", None).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(5.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5 s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn names() {
        assert!(is_dns_label("api-2"));
        assert!(!is_dns_label("2api"));
        assert!(!is_dns_label("Api"));
        assert!(!is_dns_label("../../etc"));
        assert!(is_port_name("http-metrics"));
        assert!(!is_port_name("http-metrics-long"));
        assert!(!is_port_name("8080"));
        assert!(
            is_semver("2.3.0")
                && is_semver("1.0.0-rc.1+b5")
                && !is_semver("2.3")
                && !is_semver("01.2.3")
        );
        assert!(is_quantity("20Gi") && is_quantity("0.5") && !is_quantity("20GB"));
        assert!(is_host("*.s3.amazonaws.com", true) && !is_host("localhost", true));
    }
}
