//! The policy language, v1alpha2 (and v1alpha1, accepted during the
//! transition), as Rust types.
//!
//! These types say what a policy file may contain; they resolve nothing (that
//! is `model`'s job) and hold no output types. Doc comments become the
//! descriptions of `meshpack schema`. Short forms (`storage: 20Gi`,
//! `http: 8080`, `from: api`) are accepted through hand-written
//! `Deserialize` impls so that a wrong shape says what was expected instead of
//! serde's "did not match any variant".

use schemars::JsonSchema;
use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// The apiVersion of image locks and profiles, and of policies before
/// `spec.upgrades` (deprecated for policies: `meshpack migrate` rewrites it).
pub const API_VERSION: &str = "meshpack.dev/v1alpha1";
/// The current apiVersion of policies (`crate::policy::version`).
pub const POLICY_API_VERSION: &str = "meshpack.dev/v1alpha2";

/// A meshpack policy: the services of one application and who may talk to whom.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "MeshPolicy")]
pub struct PolicyFile {
    /// `meshpack.dev/v1alpha2`; `meshpack.dev/v1alpha1` (without
    /// `spec.upgrades`) is still accepted, with a warning.
    #[schemars(extend("enum" = [POLICY_API_VERSION, API_VERSION]))]
    pub api_version: String,
    /// Always `MeshPolicy`.
    #[schemars(extend("const" = "MeshPolicy"))]
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Name of the application: the chart's name and the prefix of every object.
    pub name: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// Chart version and appVersion (SemVer 2).
    pub version: String,
    /// A built-in profile (`profiles/<name>.yaml`) merged under this file's settings.
    pub profile: Option<String>,
    /// Mutual TLS mode for the whole release.
    pub mtls: Option<MtlsMode>,
    pub authorization: Option<AuthorizationSettings>,
    /// Defaults for every service.
    pub defaults: Option<ServiceDefaults>,
    /// Chart metadata for Chart.yaml.
    pub chart: Option<ChartMeta>,
    pub images: Option<Images>,
    /// The services of the application, by name (a DNS-1035 label).
    pub services: BTreeMap<String, Service>,
    /// Entry points into the release from outside the cluster.
    #[serde(default)]
    pub gateways: BTreeMap<String, Gateway>,
    /// Who may talk to whom. Everything not allowed here is denied.
    #[serde(default)]
    pub allow: Vec<AllowRule>,
    /// Outbound traffic leaving the cluster; anything else is blocked.
    #[serde(default)]
    pub egress: Vec<Egress>,
    /// Tracing and access logs of the release's sidecars (Istio `Telemetry`).
    pub telemetry: Option<Telemetry>,
    /// The mesh runtime the vendor tested: images and revision.
    pub mesh: Option<Mesh>,
    /// How pods join the mesh with Istio on: `sidecar` (an Envoy per pod) or
    /// `ambient` (ztunnel per node, waypoints for L7 rules).
    pub dataplane: Option<Dataplane>,
    /// What earlier chart versions called otherwise or had (v1alpha2): their
    /// values keep installing, with a warning in the chart's NOTES.
    pub upgrades: Option<Upgrades>,
    /// How Kubernetes Services are named: `service` (default) as the policy
    /// names the service (`postgres`), the host name applications call;
    /// `release` as every other object, `<release>-<service>`, so that the
    /// chart installs twice in one namespace. `${service:...}` references
    /// follow either.
    pub service_names: Option<ServiceNames>,
}

/// Services and chart values renamed or removed since earlier versions of
/// the chart. The chart's values schema keeps accepting the old keys
/// (marked `deprecated`), NOTES.txt warns when a values file still uses one,
/// and values under a renamed key apply to the new one.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Upgrades {
    #[serde(default)]
    pub renamed: Renamed,
    #[serde(default)]
    pub removed: Removed,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Renamed {
    /// Old service name -> the service of this policy that replaces it:
    /// `services.<old>` values apply to `services.<new>`.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Old chart value (dotted path, e.g. `services.api.replicas`) -> the
    /// chart value that replaces it.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Removed {
    /// Services earlier versions had: `services.<name>` values are
    /// accepted and ignored.
    #[serde(default)]
    pub services: Vec<String>,
    /// Chart values earlier versions had (dotted paths): accepted and ignored.
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceNames {
    #[default]
    Service,
    Release,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mesh {
    /// Istio revision that injects the pods (label `istio.io/rev`), e.g. `1-24-2`.
    pub revision: Option<String>,
    /// The sidecar image (`proxyv2`); pods pin it with the annotation
    /// `sidecar.istio.io/proxyImage`. Also the image of gateways and waypoints.
    pub proxy: Option<String>,
    /// istiod's image (`pilot`), listed for mirroring; meshpack does not install istiod.
    pub control_plane: Option<String>,
    /// ztunnel's image (ambient mode), listed for mirroring.
    pub ztunnel: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dataplane {
    Sidecar,
    Ambient,
}

impl Dataplane {
    pub fn as_str(self) -> &'static str {
        match self {
            Dataplane::Sidecar => "sidecar",
            Dataplane::Ambient => "ambient",
        }
    }
}

/// A built-in profile: settings merged under a policy's own.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileFile {
    #[schemars(extend("const" = API_VERSION))]
    pub api_version: String,
    #[schemars(extend("const" = "MeshProfile"))]
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Settings,
}

/// Settings a profile may provide; the policy's own value wins over the profile's.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Mutual TLS mode for the whole release.
    pub mtls: Option<MtlsMode>,
    pub authorization: Option<AuthorizationSettings>,
    /// Defaults for every service.
    pub defaults: Option<ServiceDefaults>,
    /// How pods join the mesh: `sidecar` or `ambient`.
    pub dataplane: Option<Dataplane>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    Strict,
    Permissive,
    Disable,
}

impl MtlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MtlsMode::Strict => "STRICT",
            MtlsMode::Permissive => "PERMISSIVE",
            MtlsMode::Disable => "DISABLE",
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorizationSettings {
    /// Annotate AuthorizationPolicies `istio.io/dry-run: "true"`: Istio logs
    /// what they would deny but enforces nothing (for migrating a live install).
    pub dry_run: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceDefaults {
    pub resources: Option<Resources>,
    /// Mount the root filesystem read-only (default true).
    pub read_only_root_filesystem: Option<bool>,
    /// User ID the containers run as (default 10001).
    pub run_as_user: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChartMeta {
    pub description: Option<String>,
    pub home: Option<String>,
    #[serde(default)]
    pub maintainers: Vec<Maintainer>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Maintainer {
    pub name: String,
    pub email: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Images {
    /// Registry for images given without one, e.g. `quay.io/evalhub`.
    pub registry: Option<String>,
    /// Names of image pull Secrets every pod uses.
    #[serde(default)]
    pub pull_secrets: Vec<String>,
    /// An image lock file next to the policy (e.g. `images.lock`): the
    /// `sha256:` digest of every image, which the chart then renders.
    pub lock: Option<String>,
    /// Image of the connectivity probes of `helm test` (`tests.enabled`),
    /// with `sh` and `curl`, e.g. `docker.io/curlimages/curl:8.11.1`; listed
    /// with the other images, so it is mirrored and bundled. Without it the
    /// chart has no tests.
    pub probe: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    /// `[registry/]repository[:tag][@sha256:digest]`; without a registry,
    /// `images.registry`. Required unless every version names its own, or
    /// the service is `external`.
    pub image: Option<String>,
    /// Versions deployed side by side (Deployments only), each labelled
    /// `version: <name>`: the subsets that `traffic.split`, `traffic.routes`
    /// and `traffic.mirror` send requests to.
    #[serde(default)]
    pub versions: BTreeMap<String, Version>,
    /// Routing and resilience of requests to this service (Istio only).
    pub traffic: Option<Traffic>,
    /// A service outside the cluster (not deployed): a host name, or a VM
    /// joined to the mesh when `address` is set. Other services may be
    /// allowed to reach it; it cannot be a source.
    pub external: Option<External>,
    /// What runs the pods: `Deployment` (default), `StatefulSet` (a volume
    /// per replica), `DaemonSet` (one pod per node), `Job` (runs to
    /// completion once per install; under Istio the proxy is a native
    /// sidecar so the Job completes) or `CronJob` (a Job on `schedule`).
    #[serde(default)]
    pub workload: Workload,
    /// Pod replicas (default 1).
    pub replicas: Option<u32>,
    /// Persistent storage (StatefulSet only): a size such as `20Gi`, or the long form.
    pub storage: Option<Storage>,
    /// Ports by name. The name's prefix selects the protocol as Istio does
    /// (`http`, `http2`, `grpc`, `grpc-web`, `tcp`, `tls`, `mongo`, `mysql`, `redis`, ...).
    #[serde(default)]
    pub ports: BTreeMap<String, PortSpec>,
    /// Override the release's mutual TLS mode for this service, or for some of its ports.
    pub mtls: Option<ServiceMtls>,
    pub resources: Option<Resources>,
    /// Environment variables of the container: text (which may name
    /// another service's address, `${service:postgres:tcp-postgres}`), or
    /// a Kubernetes `EnvVarSource` (`{secretKeyRef: {name, key}}`,
    /// `configMapKeyRef`, `fieldRef`, `resourceFieldRef`).
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// The container's command (replaces the image's ENTRYPOINT). Items may
    /// name another service's address: `${service:<name>}` or
    /// `${service:<name>:<port>}`.
    pub command: Option<Vec<String>>,
    /// The container's arguments (replace the image's CMD); references as in `command`.
    pub args: Option<Vec<String>>,
    /// Kubernetes `envFrom` of the container: `[{secretRef: {name}}, {configMapRef: {name}}]`.
    pub env_from: Option<serde_json::Value>,
    /// Kubernetes `volumes` of the pod (ConfigMap, Secret, emptyDir,
    /// persistentVolumeClaim, ...), beside the generated `tmp` (and `data`, `files`).
    pub volumes: Option<serde_json::Value>,
    /// Kubernetes `volumeMounts` of the container; each names a volume of `volumes`.
    pub volume_mounts: Option<serde_json::Value>,
    /// Kubernetes `initContainers` of the pod, run in order before the
    /// container; references in their command, args and env values are
    /// resolved as in the container's.
    pub init_containers: Option<serde_json::Value>,
    /// Probes replacing the generated ones: Kubernetes `Probe`s (`httpGet`,
    /// `grpc`, `exec` or `tcpSocket`, with their timings).
    pub probes: Option<Probes>,
    /// Kubernetes `SecurityContext` of the container, merged over the
    /// generated one (non-root, read-only root filesystem, no capabilities).
    pub security_context: Option<serde_json::Value>,
    /// Kubernetes `PodSecurityContext`, merged over the generated one.
    pub pod_security_context: Option<serde_json::Value>,
    /// Files beside the policy (plain names), packed into the ConfigMap
    /// `<release>-<service>-files` and mounted read-only, by mount path:
    /// `{/etc/app/config.xml: app-config.xml}`. `${service:...}`
    /// references in them are resolved as in `env`.
    pub files: Option<BTreeMap<String, String>>,
    /// CronJob only: when it runs, in cron syntax (`0 3 * * *`).
    pub schedule: Option<String>,
    /// HTTP path answering health checks; without it probes open a TCP connection.
    pub health_path: Option<String>,
    pub read_only_root_filesystem: Option<bool>,
    pub run_as_user: Option<i64>,
    /// A service that already exists, rendered by the vendor's own chart or
    /// manifests: meshpack writes only its mesh layer (no workload, Service
    /// or ServiceAccount) and finds its pods by `selector`.
    pub attach: Option<Attach>,
}

/// How meshpack finds a service that someone else deploys.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attach {
    /// The workload the Kustomize component patches with the injection
    /// metadata (default a Deployment named like the service).
    pub workload: Option<AttachWorkload>,
    /// Labels of its pods, as its Service selects them (default `app: <service>`).
    pub selector: Option<BTreeMap<String, String>>,
    /// ServiceAccount its pods run as: their mesh identity (default the service's name).
    pub service_account: Option<String>,
    /// Name of its Kubernetes Service, the host clients call (default the service's name).
    pub service: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachWorkload {
    pub kind: AttachKind,
    /// Object name of the workload (default the service's name).
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum AttachKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
}

impl AttachKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachKind::Deployment => "Deployment",
            AttachKind::StatefulSet => "StatefulSet",
            AttachKind::DaemonSet => "DaemonSet",
            AttachKind::Job => "Job",
            AttachKind::CronJob => "CronJob",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// Image of this version (default the service's).
    pub image: Option<String>,
    /// Pod replicas of this version (default the service's).
    pub replicas: Option<u32>,
    /// Environment variables of this version, over the service's.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    pub readiness: Option<serde_json::Value>,
    pub liveness: Option<serde_json::Value>,
    pub startup: Option<serde_json::Value>,
}

/// An environment variable: text, or a Kubernetes `EnvVarSource` map.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(untagged)]
pub enum EnvValue {
    Text(Scalar),
    From(serde_json::Map<String, serde_json::Value>),
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnvValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a string, number or boolean, or a map such as `{secretKeyRef: {name, key}}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(Scalar(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(Scalar(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(Scalar(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(Scalar(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvValue, E> {
                Ok(EnvValue::Text(Scalar(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<EnvValue, A::Error> {
                serde_json::Map::deserialize(MapAccessDeserializer::new(m)).map(EnvValue::From)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Traffic {
    /// Request timeout on HTTP ports, e.g. `5s`.
    pub timeout: Option<String>,
    pub retries: Option<Retries>,
    pub connection_pool: Option<ConnectionPool>,
    /// Eject hosts that keep failing from the load-balancing pool (circuit breaking).
    pub outlier_detection: Option<OutlierDetection>,
    pub load_balancer: Option<LoadBalancer>,
    /// Weights by version, summing to 100, e.g. `{stable: 90, canary: 10}`.
    #[serde(default)]
    pub split: BTreeMap<String, u32>,
    /// HTTP requests matching headers go to a version, before the split applies.
    #[serde(default)]
    pub routes: Vec<VersionRoute>,
    /// Copy a share of HTTP requests to a version; its answers are dropped.
    pub mirror: Option<Mirror>,
    /// Delays and errors injected for resilience testing; rendered only
    /// when the chart value `faultInjection.enabled` is true.
    pub fault: Option<Fault>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Retries {
    pub attempts: u32,
    /// Timeout of each attempt, e.g. `2s`.
    pub per_try_timeout: Option<String>,
    /// Envoy retry conditions, e.g. `5xx,reset,connect-failure`.
    pub retry_on: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectionPool {
    /// Most TCP connections to all hosts of the service.
    pub max_connections: Option<u32>,
    /// TCP connect timeout, e.g. `3s`.
    pub connect_timeout: Option<String>,
    /// Most HTTP requests waiting for a connection.
    pub max_pending_requests: Option<u32>,
    /// Most concurrent HTTP/2 requests.
    pub max_requests: Option<u32>,
    /// Requests per connection before it is closed (1 disables keep-alive).
    pub max_requests_per_connection: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutlierDetection {
    /// Consecutive 5xx answers (or connection errors) that eject a host (default 5).
    pub consecutive_errors: Option<u32>,
    /// How often hosts are checked, e.g. `10s` (default 10s).
    pub interval: Option<String>,
    /// Minimum ejection time, e.g. `30s` (default 30s).
    pub base_ejection_time: Option<String>,
    /// Most hosts ejected at once, in percent (default 10).
    pub max_ejection_percent: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LoadBalancer {
    RoundRobin,
    LeastRequest,
    Random,
    Passthrough,
}

impl LoadBalancer {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancer::RoundRobin => "ROUND_ROBIN",
            LoadBalancer::LeastRequest => "LEAST_REQUEST",
            LoadBalancer::Random => "RANDOM",
            LoadBalancer::Passthrough => "PASSTHROUGH",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRoute {
    /// Request headers and the exact values they must have, e.g. `{x-canary: "true"}`.
    pub headers: BTreeMap<String, String>,
    /// The version these requests go to.
    pub version: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    pub version: String,
    /// Share of requests copied, in percent (default 100).
    pub percent: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub delay: Option<FaultDelay>,
    pub abort: Option<FaultAbort>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultDelay {
    /// Delay added, e.g. `2s`.
    pub fixed: String,
    /// Share of requests delayed, in percent.
    pub percent: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultAbort {
    /// HTTP status returned, e.g. 503.
    pub status: u16,
    /// Share of requests aborted, in percent.
    pub percent: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct External {
    /// DNS name the clients use, e.g. `db.corp.internal`.
    pub host: String,
    /// IP address of a VM joined to the mesh: meshpack adds a WorkloadEntry,
    /// and the service is reached over mutual TLS as a member of the mesh.
    pub address: Option<String>,
    /// Ports by name, as for services.
    pub ports: BTreeMap<String, PortSpec>,
    /// Clients speak plain HTTP; their sidecar opens TLS to the port's
    /// `targetPort` (egress TLS origination). HTTP ports only.
    #[serde(default)]
    pub originate_tls: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Workload {
    #[default]
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
}

/// `20Gi`, or `{size: 20Gi, mountPath: /var/lib/data, storageClassName: fast}`.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
pub enum Storage {
    Size(String),
    Long(StorageLong),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageLong {
    pub size: String,
    /// Where the volume is mounted (default `/data`).
    pub mount_path: Option<String>,
    pub storage_class_name: Option<String>,
}

/// A port number, or `{port: 5432, protocol: TCP, targetPort: 5433}`.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
pub enum PortSpec {
    Number(u64),
    Long(PortLong),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortLong {
    pub port: u64,
    /// Application protocol, overriding the one the name selects (HTTP, HTTP2, GRPC, TCP, TLS, ...).
    pub protocol: Option<String>,
    /// Container port, if it differs from `port`.
    pub target_port: Option<u64>,
}

/// A mode for the whole service, or `{mode: STRICT, ports: {http-metrics: PERMISSIVE}}`.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
pub enum ServiceMtls {
    Mode(MtlsMode),
    Long(ServiceMtlsLong),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceMtlsLong {
    pub mode: Option<MtlsMode>,
    /// Port-level modes, by port name.
    #[serde(default)]
    pub ports: BTreeMap<String, MtlsMode>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub requests: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub limits: BTreeMap<String, Scalar>,
}

/// A string, number or boolean, kept as the text written.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(with = "ScalarSchema")]
pub struct Scalar(pub String);

#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum ScalarSchema {
    S(String),
    N(f64),
    B(bool),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Gateway {
    /// Host names the gateway answers for.
    pub hosts: Vec<String>,
    /// Served by an internal ingress gateway (a ClusterIP Service, for
    /// clients inside the customer's network) instead of the public one.
    #[serde(default)]
    pub internal: bool,
    /// Labels selecting the gateway pods (default `istio: ingressgateway`,
    /// or `istio: internal-ingressgateway` when internal).
    pub selector: Option<BTreeMap<String, String>>,
    /// ServiceAccount of the gateway pods, the identity `from: gateway/<name>`
    /// rules allow (default `istio-ingressgateway`, or
    /// `istio-internal-ingressgateway` when internal).
    pub service_account: Option<String>,
    pub tls: Option<GatewayTls>,
    /// Answer plain HTTP with a redirect to HTTPS.
    #[serde(default)]
    pub https_redirect: bool,
    /// Routes in the order they are tried.
    #[serde(default)]
    pub routes: Vec<Route>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayTls {
    /// `SIMPLE` (server certificate only, the default) or `MUTUAL` (clients
    /// must present a certificate signed by the CA in the Secret's `ca.crt`).
    pub mode: Option<TlsMode>,
    /// Secret holding the certificate, in the ingress gateway's namespace.
    pub credential_name: String,
    /// Have cert-manager issue that Secret.
    pub cert_manager: Option<CertManager>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum TlsMode {
    #[serde(rename = "SIMPLE")]
    Simple,
    #[serde(rename = "MUTUAL")]
    Mutual,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertManager {
    pub issuer: String,
    /// `Issuer` or `ClusterIssuer` (default `Issuer`).
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// URI prefix, e.g. `/api`. One of `prefix`, `exact` and `regex`.
    pub prefix: Option<String>,
    /// Exact URI path, e.g. `/healthz`.
    pub exact: Option<String>,
    /// URI regular expression (RE2), e.g. `^/reports/[0-9]+$`.
    pub regex: Option<String>,
    /// Only requests for this host (one of the gateway's hosts).
    pub host: Option<String>,
    /// Only requests with these headers, at these exact values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Replace the matched prefix with this before forwarding (with `prefix` only).
    pub rewrite: Option<String>,
    /// Cross-origin resource sharing answered at the gateway.
    pub cors: Option<Cors>,
    /// Destination service.
    pub to: String,
    /// Destination port (name or number); default the service's first HTTP port.
    pub port: Option<PortRef>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cors {
    /// Allowed origins, exact, e.g. `https://app.example.com`.
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// How long browsers may cache the answer, e.g. `24h`.
    pub max_age: Option<String>,
    #[serde(default)]
    pub allow_credentials: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// Sources: a service, one version of a service (`reviews@v2`: that
    /// version's pods then run under a ServiceAccount of their own),
    /// `gateway/<name>`, `{namespace, serviceAccount}`, or a list of them.
    pub from: OneOrMany<SourceRef>,
    /// Destinations: a service (every version of it), a list of services,
    /// or `"*"` for every service.
    pub to: OneOrMany<String>,
    /// Destination ports, by name or number (default all).
    #[serde(default)]
    pub ports: Vec<PortRef>,
    /// HTTP paths (`/api/*`, `*.js`, exact); HTTP ports only.
    #[serde(default)]
    pub paths: Vec<String>,
    /// HTTP methods; HTTP ports only.
    #[serde(default)]
    pub methods: Vec<String>,
}

/// A service name, `<service>@<version>`, `gateway/<name>`, or a workload outside the release.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum SourceRef {
    Name(String),
    External(ExternalSource),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalSource {
    pub namespace: String,
    pub service_account: String,
}

#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(untagged)]
pub enum PortRef {
    Number(u64),
    Name(String),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// External host name; `*.example.com` matches its subdomains.
    pub host: String,
    pub port: u64,
    /// Services allowed to reach it.
    pub from: OneOrMany<String>,
    /// TLS, HTTPS, HTTP or TCP (default TLS on 443, HTTP on 80, TCP otherwise).
    pub protocol: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Telemetry {
    pub tracing: Option<Tracing>,
    /// Envoy access logs of every sidecar of the release, to standard output.
    #[serde(default)]
    pub access_logging: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    pub provider: TracingProvider,
    /// The collector's `host:port`, e.g. `otel-collector.observability.svc.cluster.local:4317`.
    pub endpoint: String,
    /// Share of requests traced, in percent (default 1).
    pub sampling: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TracingProvider {
    Opentelemetry,
    Zipkin,
}

/// One item or a list of them.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The items with their index in the list (`None` for the single form).
    pub fn items(&self) -> Vec<(Option<usize>, &T)> {
        match self {
            OneOrMany::One(t) => vec![(None, t)],
            OneOrMany::Many(v) => v.iter().enumerate().map(|(i, t)| (Some(i), t)).collect(),
        }
    }
}

// ---- hand-written Deserialize impls for the short forms ----

/// Visits the scalar form of a type; maps go to the long form.
macro_rules! scalar_or_map {
    ($ty:ident, $expecting:literal, $long:ident => $long_ctor:expr, $($visit:ident($arg:ty) => $body:expr),* $(,)?) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    $(fn $visit<E: de::Error>(self, v: $arg) -> Result<$ty, E> {
                        #[allow(clippy::redundant_closure_call)]
                        ($body)(v)
                    })*
                    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<$ty, A::Error> {
                        let long = $long::deserialize(MapAccessDeserializer::new(m))?;
                        #[allow(clippy::redundant_closure_call)]
                        Ok(($long_ctor)(long))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

scalar_or_map!(Storage, "a size such as `20Gi` or a map with `size`",
    StorageLong => Storage::Long,
    visit_str(&str) => |v: &str| Ok(Storage::Size(v.to_string())),
);

scalar_or_map!(PortSpec, "a port number or a map with `port`",
    PortLong => PortSpec::Long,
    visit_u64(u64) => |v| Ok(PortSpec::Number(v)),
    visit_i64(i64) => |v: i64| Err(E::custom(format!("port {v} is out of range; expected 1 to 65535"))),
);

scalar_or_map!(SourceRef, "a service name, `gateway/<name>`, or a map with `namespace` and `serviceAccount`",
    ExternalSource => SourceRef::External,
    visit_str(&str) => |v: &str| Ok(SourceRef::Name(v.to_string())),
);

scalar_or_map!(ServiceMtls, "STRICT, PERMISSIVE, DISABLE, or a map with `mode` and `ports`",
    ServiceMtlsLong => ServiceMtls::Long,
    visit_str(&str) => |v: &str| MtlsMode::deserialize(de::value::StrDeserializer::<E>::new(v)).map(ServiceMtls::Mode),
);

impl<'de> Deserialize<'de> for PortRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port name or number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortRef, E> {
                Ok(PortRef::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortRef, E> {
                Ok(PortRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one item or a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(t) = s.next_element()? {
                    v.push(t);
                }
                Ok(OneOrMany::Many(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::new(v)).map(OneOrMany::One)
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(m)).map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}
