//! What a resolved policy is: the `Model` and the types it holds, with the
//! queries emitters ask of it (a service by name, the edges into or out of
//! a service, whether it needs a waypoint).
//!
//! Invariant: plain data, built only by `resolve`; no Kubernetes or Istio
//! types and nothing about output formats. Lookups are indexed once
//! (`with_index`), so every query is linear at worst.

use super::{Attach, EnvVal, External, Gateway, Pod, Telemetry, Traffic, Upgrades, Version};
use super::{Dataplane, MtlsMode, ServiceNames};
use crate::keyed_hash::Keyed;
use std::collections::HashMap;

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
    pub service_names: ServiceNames,
    /// Lookups built once, so emitters stay linear in the policy's size.
    pub(super) index: Index,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Index {
    services: HashMap<String, usize, Keyed>,
    edges_to: HashMap<String, Vec<usize>, Keyed>,
    edges_from: HashMap<String, Vec<usize>, Keyed>,
    egress_from: HashMap<String, Vec<usize>, Keyed>,
    /// Per service, in `services`' order: what emitters ask of each
    /// service several times per object ([`Model::needs_waypoint`],
    /// [`Model::version_identities`]), answered once.
    flags: Vec<Flags>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Flags {
    pub(super) waypoint: bool,
    pub(super) version_identities: bool,
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

    pub(super) fn with_index(mut self) -> Self {
        self.reindex();
        self
    }

    /// Build the lookups again after changing the services, edges or
    /// egress (`verify` widens a model by the chart's additions).
    pub fn reindex(&mut self) {
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
        self.index.flags = self
            .services
            .iter()
            .map(|s| Flags {
                waypoint: self.find_needs_waypoint(&s.name),
                version_identities: self.find_version_identities(&s.name),
            })
            .collect();
    }

    pub(super) fn flags(&self, name: &str) -> Option<Flags> {
        self.index
            .services
            .get(name)
            .and_then(|i| self.index.flags.get(*i).copied())
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
        match self.flags(name) {
            Some(f) => f.waypoint,
            None => self.find_needs_waypoint(name),
        }
    }

    fn find_needs_waypoint(&self, name: &str) -> bool {
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
    pub dataplane: Dataplane,
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
}
