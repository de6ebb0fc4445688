//! Stage 3: resolve a policy into a typed model: names checked, defaults
//! applied, rules expanded to edges between known workloads and ports.
//!
//! Invariant: the model holds no Kubernetes or Istio types and nothing about
//! output formats; every reference in it points at something that exists.
//! All semantic errors of a policy are found here, each with the position
//! of the node that caused it, and all of them are reported in one run.
//! Layout: `types.rs` (what a resolved policy is, and its queries),
//! `resolve.rs` (the entry point and the `Resolver`), `service.rs`,
//! `rules.rs` (allow rules and egress), `gateway.rs`, `traffic.rs`,
//! `external.rs`, `attach.rs`, `pod.rs`, `upgrades.rs` (each one part of
//! the policy), `syntax.rs` and `names.rs` (checks of strings), `image.rs`
//! and `fragment.rs`. The image lock is applied after resolution, as a
//! pass of its own (`crate::lock::apply`).

mod attach;
mod external;
mod fragment;
mod gateway;
mod image;
mod modes;
pub mod names;
mod pod;
mod resolve;
mod rules;
mod scoped;
mod service;
mod syntax;
mod traffic;
mod types;
mod upgrades;
pub use upgrades::{is_value_path, Upgrades};

pub use attach::Attach;
pub use external::External;
pub use gateway::{
    Cors, Gateway, GatewayTls, HttpRoutePlan, PathMatch, Route, RouteSet, MAX_HEADER_MATCHES,
    MAX_LISTENERS, MAX_ROUTE_HOSTNAMES, MAX_ROUTE_RULES,
};
pub use modes::{Dataplane, MtlsMode, ServiceNames};
pub use pod::{parse_text, ports_of, render, EnvVal, File as PodFile, Piece, Pod, Ports, Text};
pub use resolve::resolve;
use resolve::{resources_of, Resolver};
pub use scoped::identity_suffix;
pub(crate) use syntax::is_dns_subdomain;
pub use syntax::{is_dns_label, parse_duration, parse_image};
use syntax::{is_host, is_port_name, is_quantity, is_semver};
pub use traffic::{
    ConnectionPool, Fault, OutlierDetection, Retries, Telemetry, Tracing, Traffic, Version,
    VersionRoute,
};
pub use types::{
    Defaults, Edge, Egress, Image, Maintainer, MeshRuntime, Model, Port, Protocol, Resources,
    Service, Source, Volume, Workload, MAX_OBJECT_NAME, MIN_FULLNAME, RESERVED,
};
