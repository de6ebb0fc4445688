//! The chart's values as typed handles: the one place a value's path is
//! spelled.
//!
//! Invariant: every `.Values` expression an emitter (or `package`) writes is
//! made from a handle here: a `const` for a release-wide value
//! ([`ISTIO_ENABLED`]), a constructor for one under a service or gateway
//! ([`Svc::replicas`], [`Gw::hosts`]). A value is declared once, here:
//! path, type, description and schema extras ([`Doc`]), and for a
//! release-wide value the default (conditions evaluate against it,
//! `emit::cond`); `package::values::entries` (the table `values.yaml`, the
//! schema and the docs are made from) builds each row from its handle,
//! adding the model's default for a value under a service or gateway. A handle's type
//! parameter says what the value holds ([`Bool`], [`Str`], ...): a
//! condition accepts only `Val<Bool>` where it tests truth, and a unit test
//! checks each handle's default against its type.
//!
//! Paths under `services.<name>` and `gateways.<name>` go through Helm's
//! `index` (names may contain `-`): `(index $.Values.services "api").replicas`.

use crate::model::Model;
use serde_json::{json, Value};
use std::marker::PhantomData;

/// What a value holds (the JSON type of its default).
pub trait Kind {
    fn accepts(v: &Value) -> bool;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident => $accepts:expr,)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Kind for $name {
            fn accepts(v: &Value) -> bool {
                let f: fn(&Value) -> bool = $accepts;
                f(v)
            }
        }
    )*};
}

kinds! {
    /// `true` or `false`.
    Bool => |v| v.is_boolean(),
    /// A string.
    Str => |v| v.is_string(),
    /// A whole number.
    Int => |v| v.is_i64() || v.is_u64(),
    /// A number (a percentage).
    Num => |v| v.is_number(),
    /// A list (of strings).
    List => |v| v.is_array(),
    /// A map of strings to strings (labels, annotations).
    StrMap => |v| v.as_object().is_some_and(|o| o.values().all(Value::is_string)),
    /// A structured value passed to `toYaml` (resources, securityContext).
    Obj => |v| v.is_object() || v.is_array(),
    /// `istio.injection`: `true`, `false` or `namespace` (see `emit::injection`).
    Inject => |v| v.is_boolean() || v.as_str() == Some("namespace"),
    /// `openshift.enabled`: `true`, `false` (either as a string too) or
    /// `auto` (detect the platform's API).
    Auto => |v| v.is_boolean() || matches!(v.as_str(), Some("true" | "false" | "auto")),
}

/// One step of a path below `.Values`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(&'static str),
    /// A name chosen by the policy (a service, a version, a gateway).
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Path {
    /// A release-wide value: dotted keys.
    Fixed(&'static str),
    Dyn(Vec<Seg>),
}

/// Where template text starts: `$.Values` inside a template (any scope),
/// `.Values` at a file's top (`package::helm::condition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    Dollar,
    Dot,
}

/// A value's location, its row and, for release-wide values, its default:
/// the untyped part of a [`Val`], which conditions hold.
#[derive(Clone, Debug)]
pub struct Ref {
    path: Path,
    default: Option<fn(&Model) -> Value>,
    /// A release-wide value's row in the values table: description and
    /// schema extras (`package::values::entries` reads them).
    doc: Option<Doc>,
}

/// What a handle says of itself in the values table.
#[derive(Clone, Copy, Debug)]
pub struct Doc {
    /// The helm-docs `# --` comment, the schema's and README's description.
    pub description: &'static str,
    pub extras: Extras,
}

/// Extra JSON Schema keywords of a value (enum, pattern, minimum...),
/// beyond the type its default implies.
#[derive(Clone, Copy, Debug)]
pub enum Extras {
    None,
    Some(fn(&Model) -> Value),
    /// Made by `package::values_customer` (item schemas of the install-time
    /// additions), which `emit` cannot import: `package::values` supplies
    /// them and fails if one is missing.
    Package,
}

/// Schema extras of a handle (for the `fixed!` list).
pub const fn schema(f: fn(&Model) -> Value) -> Extras {
    Extras::Some(f)
}

/// `x-kind` of a map of strings to strings (labels, annotations).
pub const STRING_MAP: &str = "string-map";

/// The schema extras of a [`StrMap`] value.
pub fn string_map(_: &Model) -> Value {
    json!({ "additionalProperties": { "type": "string" }, "x-kind": STRING_MAP })
}

/// `true`, `false` or `namespace`; booleans too, since `--set x=false`
/// passes one (`crate::emit::injection::Injection`).
pub fn injection_schema() -> Value {
    json!({"type": ["boolean", "string"], "enum": [true, false, "true", "false", "namespace"]})
}

/// A DNS label (a namespace).
fn dns_label(_: &Model) -> Value {
    json!({"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"})
}

fn strings(_: &Model) -> Value {
    json!({"items": {"type": "string"}})
}

/// One value is one path (defaults are not compared: function pointers).
impl PartialEq for Ref {
    fn eq(&self, other: &Ref) -> bool {
        self.path() == other.path()
    }
}

impl Eq for Ref {}

impl Ref {
    /// The dotted path of the values table (`services.api.replicas`).
    pub fn path(&self) -> String {
        match &self.path {
            Path::Fixed(p) => p.to_string(),
            Path::Dyn(segs) => segs
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => *k,
                    Seg::Name(n) => n.as_str(),
                })
                .collect::<Vec<_>>()
                .join("."),
        }
    }

    /// The template expression, e.g. `$.Values.istio.enabled` or
    /// `(index $.Values.services "api").replicas`.
    pub fn expr_at(&self, root: Root) -> String {
        let mut e = match root {
            Root::Dollar => "$.Values".to_string(),
            Root::Dot => ".Values".to_string(),
        };
        match &self.path {
            Path::Fixed(p) => {
                e.push('.');
                e.push_str(p);
            }
            Path::Dyn(segs) => {
                for s in segs {
                    match s {
                        Seg::Key(k) => {
                            e.push('.');
                            e.push_str(k);
                        }
                        Seg::Name(n) => e = format!("(index {e} {})", quote(n)),
                    }
                }
            }
        }
        e
    }

    /// The default the chart ships, where the handle knows it (release-wide
    /// values; a service's defaults are its rows in the table).
    pub fn default(&self, m: &Model) -> Option<Value> {
        self.default.map(|f| f(m))
    }

    /// The description and schema extras of the value's row in the
    /// values table (`None` for a map that is no row: `Svc::image`).
    pub fn doc(&self) -> Option<Doc> {
        self.doc
    }
}

/// A Go string literal of a name (names are DNS labels; `{:?}` escapes the rest).
fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// A typed handle on one chart value.
#[derive(Debug)]
pub struct Val<K> {
    r: Ref,
    _k: PhantomData<fn() -> K>,
}

impl<K> Clone for Val<K> {
    fn clone(&self) -> Self {
        Val {
            r: self.r.clone(),
            _k: PhantomData,
        }
    }
}

impl<K: Kind> Val<K> {
    const fn fixed(
        path: &'static str,
        default: fn(&Model) -> Value,
        description: &'static str,
        extras: Extras,
    ) -> Self {
        Val {
            r: Ref {
                path: Path::Fixed(path),
                default: Some(default),
                doc: Some(Doc {
                    description,
                    extras,
                }),
            },
            _k: PhantomData,
        }
    }

    fn at(segs: Vec<Seg>, default: Option<fn(&Model) -> Value>) -> Self {
        Val {
            r: Ref {
                path: Path::Dyn(segs),
                default,
                doc: None,
            },
            _k: PhantomData,
        }
    }

    /// A release-wide value under a dynamic path (`tests.*`, present only
    /// for some policies), declared with its row as a `fixed!` one is.
    fn documented(
        segs: Vec<Seg>,
        default: fn(&Model) -> Value,
        description: &'static str,
        extras: Extras,
    ) -> Self {
        let mut v = Val::at(segs, Some(default));
        v.r.doc = Some(Doc {
            description,
            extras,
        });
        v
    }

    /// The handle with its row's description and schema extras (a value
    /// under a service, a gateway or `telemetry.tracing`, whose default the
    /// table takes from the model).
    fn described(mut self, description: &'static str, extras: Extras) -> Self {
        self.r.doc = Some(Doc {
            description,
            extras,
        });
        self
    }

    pub fn path(&self) -> String {
        self.r.path()
    }

    /// `$.Values.<path>`, for template text anywhere in a file.
    pub fn expr(&self) -> String {
        self.r.expr_at(Root::Dollar)
    }

    pub fn untyped(&self) -> &Ref {
        &self.r
    }

    /// The release-wide default (see [`Ref::default`]).
    pub fn default(&self, m: &Model) -> Option<Value> {
        self.r.default(m)
    }

    /// The release-wide default as a string: what the Kustomize tree
    /// writes where the chart writes the value's template.
    pub fn default_text(&self, m: &Model) -> String {
        match self.default(m) {
            Some(Value::String(s)) => s,
            other => panic!("{}: no string default ({other:?})", self.path()),
        }
    }
}

/// `NAME: Kind = "path", default, "description"[, extras];`: one
/// release-wide value, declared once. The list's order is the values
/// table's (`package::values::entries`).
macro_rules! fixed {
    ($($(#[$doc:meta])* $name:ident: $kind:ident = $path:literal, $default:expr, $desc:literal $(, $extras:expr)?;)*) => {
        $(
            $(#[$doc])*
            pub const $name: Val<$kind> = Val::fixed($path, $default, $desc, fixed!(@extras $($extras)?));
        )*
        /// Every release-wide handle in declaration order, as (path,
        /// default, description and schema, type check).
        pub fn fixed_handles() -> Vec<(Ref, fn(&Value) -> bool)> {
            vec![$(($name.r.clone(), <$kind as Kind>::accepts as fn(&Value) -> bool)),*]
        }
    };
    (@extras) => { Extras::None };
    (@extras $e:expr) => { $e };
}

/// Defaults of the `ingress.*` values (ingress-nginx's), which
/// `emit::ingress` writes too.
pub const DEFAULT_CLASS: &str = "nginx";
pub const DEFAULT_CONTROLLER_NAMESPACE: &str = "ingress-nginx";
pub const DEFAULT_CONTROLLER_SA: &str = "ingress-nginx";

fn proxy(m: &Model, f: fn(&crate::model::Image) -> &str) -> Value {
    json!(m
        .mesh
        .proxy
        .as_ref()
        .map(|i| f(i).to_string())
        .unwrap_or_default())
}

fixed! {
    NAME_OVERRIDE: Str = "nameOverride", |_| json!(""), "Replaces the chart name in object names.";
    FULLNAME_OVERRIDE: Str = "fullnameOverride", |_| json!(""), "Replaces `<release>-<chart>` in object names.";
    GLOBAL_IMAGE_REGISTRY: Str = "global.imageRegistry", |_| json!(""), "Registry that replaces every image's registry, e.g. a private mirror.";
    GLOBAL_IMAGE_PULL_SECRETS: List = "global.imagePullSecrets", |m| json!(m.pull_secrets), "Names of Secrets every pod pulls images with.", schema(strings);
    /// The mesh switch.
    ISTIO_ENABLED: Bool = "istio.enabled", |_| json!(false), "Render the Istio mesh: mTLS, authorization, routing, egress control and sidecar injection.";
    ISTIO_INJECTION: Inject = "istio.injection", |_| json!(true), "Sidecar injection of the pods with the mesh on: `true`, `false`, or `namespace` to write no `sidecar.istio.io/inject` label and leave it to the namespace's. With the mesh off pods are labelled `\"false\"` unless `namespace`.", schema(|_| injection_schema());
    ISTIO_DATAPLANE: Str = "istio.dataplane", |m| json!(m.mesh.dataplane.as_str()), "How pods join the mesh: `sidecar` (injected Envoy) or `ambient` (ztunnel, waypoints for L7 rules).", schema(|_| json!({"enum": ["sidecar", "ambient"]}));
    ISTIO_REVISION: Str = "istio.revision", |m| json!(m.mesh.revision.clone().unwrap_or_default()), "Istio revision that injects the pods (label `istio.io/rev`); empty for the default revision.", schema(|_| json!({"pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"}));
    ISTIO_PROXY_IMAGE_REGISTRY: Str = "istio.proxyImage.registry", |m| proxy(m, |i| &i.registry), "Registry of the pinned sidecar image (`global.imageRegistry` wins).";
    ISTIO_PROXY_IMAGE_REPOSITORY: Str = "istio.proxyImage.repository", |m| proxy(m, |i| &i.repository), "Repository of the sidecar image pods pin (`sidecar.istio.io/proxyImage`); empty leaves the choice to istiod.";
    ISTIO_PROXY_IMAGE_TAG: Str = "istio.proxyImage.tag", |m| proxy(m, |i| &i.tag), "Tag of the pinned sidecar image.";
    ISTIO_PROXY_IMAGE_DIGEST: Str = "istio.proxyImage.digest", |m| proxy(m, |i| &i.digest), "Digest of the pinned sidecar image; wins over the tag.", schema(|_| json!({"pattern": "^(sha256:[a-f0-9]{64})?$"}));
    ISTIO_ANNOTATIONS: StrMap = "istio.annotations", |_| json!({}), "Extra pod annotations when Istio is enabled (e.g. `proxy.istio.io/config`).", schema(string_map);
    ISTIO_TRUST_DOMAIN: Str = "istio.trustDomain", |_| json!("cluster.local"), "Trust domain of the mesh; principals are `<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.", schema(|_| json!({"pattern": "^[A-Za-z0-9.-]+$"}));
    ISTIO_VERSION: Str = "istio.version", |_| json!("1.25"), "Oldest Istio (`1.<minor>` or `1.<minor>.<patch>`, a string: quote it in values files) the release must work with. From 1.25 on, AuthorizationPolicies name ServiceAccounts (`source.serviceAccounts`) and Sidecars the namespace's Services, so the objects carry no namespace and install anywhere; before 1.25 they name principals and FQDNs with the release namespace (see docs/istio-versions.md).", schema(|_| json!({"pattern": "^1\\.[0-9]+(\\.[0-9]+)?$"}));
    ISTIO_NAMESPACE_WIDE: Bool = "istio.namespaceWide", |_| json!(false), "Apply mTLS and the default deny to the whole namespace instead of only this release's pods.";
    ISTIO_GATEWAY_NAMESPACE: Str = "istio.gateway.namespace", |_| json!("istio-ingress"), "Namespace of the ingress gateways (their TLS Secrets, Certificates and Gateway API Gateways live there).", schema(dns_label);
    ISTIO_CONTROL_PLANE_NAMESPACE: Str = "istio.controlPlane.namespace", |_| json!("istio-system"), "Namespace of istiod.", schema(dns_label);
    GATEWAY_API_ENABLED: Bool = "gatewayApi.enabled", |_| json!(false), "Render gateways as Kubernetes Gateway API `Gateway` and `HTTPRoute` objects instead of Istio's `Gateway` and `VirtualService` (works without Istio too).";
    GATEWAY_API_CLASS_NAME: Str = "gatewayApi.className", |_| json!("istio"), "GatewayClass of the Gateways.";
    /// The third gateway form (`emit::ingress`), without Istio and the Gateway API.
    INGRESS_ENABLED: Bool = "ingress.enabled", |_| json!(false), "Without Istio and the Gateway API: render the gateways as Kubernetes `Ingress` objects, and NetworkPolicies admitting the ingress controller (docs/ingress.md).";
    INGRESS_CLASS_NAME: Str = "ingress.className", |_| json!(DEFAULT_CLASS), "IngressClass of the Ingresses.";
    INGRESS_ANNOTATIONS: StrMap = "ingress.annotations", |_| json!({}), "Annotations of every Ingress (the controller's options).", schema(string_map);
    INGRESS_CONTROLLER_NAMESPACE: Str = "ingress.controller.namespace", |_| json!(DEFAULT_CONTROLLER_NAMESPACE), "Namespace of the ingress controller's pods. Without Istio and the Gateway API, NetworkPolicies admit them to the services gateways route to (whether the chart renders the Ingresses or the customer does), and `meshpack verify` takes them to be `gateway/<name>`.", schema(dns_label);
    INGRESS_CONTROLLER_POD_LABELS: StrMap = "ingress.controller.podLabels", |_| json!({}), "Labels of the ingress controller's pods; empty admits every pod of its namespace.", schema(string_map);
    INGRESS_CONTROLLER_SERVICE_ACCOUNT: Str = "ingress.controller.serviceAccount", |_| json!(DEFAULT_CONTROLLER_SA), "ServiceAccount of the ingress controller, recorded on each Ingress and on the NetworkPolicies admitting the controller, for `meshpack verify`.", schema(|_| json!({"pattern": "^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$"}));
    FAULT_INJECTION_ENABLED: Bool = "faultInjection.enabled", |_| json!(false), "Inject the delays and errors the policy declares under `traffic.fault` (for resilience tests; never in production).";
    NETWORK_POLICY_ENABLED: Bool = "networkPolicy.enabled", |_| json!(true), "Render NetworkPolicies: default deny, then the allowed edges at L3/L4.";
    NETWORK_POLICY_INGRESS_CONTROLLER_NAMESPACE: Str = "networkPolicy.ingressController.namespace", |_| json!(""), "Deprecated (renamed `ingress.controller.namespace`): still accepted, a non-empty value replaces `ingress.controller.namespace`; NOTES.txt warns.", schema(|_| json!({"pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", "deprecated": true}));
    NETWORK_POLICY_INGRESS_CONTROLLER_POD_LABELS: StrMap = "networkPolicy.ingressController.podLabels", |_| json!({}), "Deprecated (renamed `ingress.controller.podLabels`): still accepted, a non-empty map replaces `ingress.controller.podLabels`; NOTES.txt warns.", schema(|_| json!({ "additionalProperties": { "type": "string" }, "x-kind": STRING_MAP, "deprecated": true }));
    /// Deprecated: replaces the ingress controller's namespace when non-empty.
    NETWORK_POLICY_GATEWAY_NAMESPACES: List = "networkPolicy.gatewayNamespaces", |_| json!([]), "Deprecated (use `ingress.controller.namespace`; with Istio the gateway namespace is `istio.gateway.namespace`): still accepted, a non-empty list replaces the ingress controller's namespace in the NetworkPolicies rendered when neither Istio, the Gateway API nor `ingress.enabled` is on.", schema(strings);
    NETWORK_POLICY_EGRESS_CIDRS: List = "networkPolicy.egressCIDRs", |_| json!(["0.0.0.0/0"]), "Address ranges egress hosts may be reached in (NetworkPolicies cannot match host names).", schema(|_| json!({"items": {"type": "string"}, "minItems": 1}));
    PROMETHEUS_NAMESPACE: Str = "metrics.prometheus.namespace", |_| json!("monitoring"), "Namespace of the Prometheus that scrapes the release; NetworkPolicies admit it to metrics ports (`metrics`, `<protocol>-metrics`) and, with Istio, to the sidecars' 15020 (merged metrics) and 15090 (Envoy).", schema(dns_label);
    PROMETHEUS_POD_LABELS: StrMap = "metrics.prometheus.podLabels", |_| json!({}), "Labels of the Prometheus pods; empty admits every pod of its namespace.", schema(string_map);
    SERVICE_MONITOR_ENABLED: Bool = "metrics.serviceMonitor.enabled", |_| json!(false), "Render a Prometheus Operator ServiceMonitor per service with metrics ports (scrapes the application port: with STRICT mTLS the Prometheus needs Istio certificates).";
    POD_MONITOR_ENABLED: Bool = "metrics.podMonitor.enabled", |_| json!(false), "With Istio, render a Prometheus Operator PodMonitor for the sidecars' Envoy metrics (`http-envoy-prom`, /stats/prometheus).";
    /// The install-time additions (issue #19; `package::values_customer`
    /// holds their schemas). Release-wide mTLS mode over the policy's; ""
    /// keeps the policy's.
    ISTIO_MTLS_MODE: Str = "istio.mtls.mode", |_| json!(""), "Release-wide mTLS mode that replaces the policy's (`STRICT` or `PERMISSIVE`, e.g. while migrating clients into the mesh); empty keeps the policy's. Per-service and per-port modes the policy sets are kept.", schema(|_| json!({"enum": ["", "STRICT", "PERMISSIVE"]}));
    EXTRA_EGRESS: List = "extraEgress", |_| json!([]), "Extra destinations outside the cluster: `{host: s3.example.com | cidr: 10.0.0.0/8, port: 443, protocol: TLS, services: [api]}`. Each renders a ServiceEntry, the host in the services' Sidecars and a NetworkPolicy egress rule (docs/additions.md).", Extras::Package;
    EXTRA_SOURCES: List = "extraSources", |_| json!([]), "Extra callers: `{namespace: monitoring, serviceAccount: prometheus, services: [api], ports: [9090]}` or `{ipBlock: 10.0.0.0/8, services: [api]}`; no `ports` means every port of the services. Each renders an AuthorizationPolicy and a NetworkPolicy ingress rule (docs/additions.md).", Extras::Package;
    EXTRA_OBJECTS: List = "extraObjects", |_| json!([]), "Extra objects rendered as given: each item an object or a string, both passed through `tpl` (so `{{ .Release.Namespace }}` works), as Bitnami's `extraDeploy`.", schema(|_| json!({"items": {"type": ["object", "string"]}}));
    OPENSHIFT_ENABLED: Auto = "openshift.enabled", |_| json!("auto"), "Leave UID, GID and fsGroup to OpenShift's `restricted-v2` SCC (`runAsNonRoot`, no privilege escalation, dropped capabilities and the RuntimeDefault seccomp profile stay): `true`, `false`, or `auto` to detect the `security.openshift.io/v1` API.", schema(|_| json!({"type": ["boolean", "string"], "enum": [true, false, "true", "false", "auto"]}));
}

/// `istio.proxyImage` as a whole (the chart's image helper takes the map).
/// The four `ISTIO_PROXY_IMAGE_*` handles are its keys.
pub fn istio_proxy_image() -> Val<Obj> {
    Val::at(vec![Seg::Key("istio"), Seg::Key("proxyImage")], None)
}

/// `tests.*`: the `helm test` probes (`emit::probes`), present only when
/// the policy names a probe image (`spec.images.probe`).
pub mod helm_tests {
    use super::{json, schema, Bool, Extras, Int, Obj, Seg, Str, Val};

    /// The switch of `Group::Tests`; off by default.
    pub fn enabled() -> Val<Bool> {
        Val::documented(
            vec![Seg::Key("tests"), Seg::Key("enabled")],
            |_| json!(false),
            "Render the `helm test` connectivity probes: one Pod per service, with its identity, labels and injection, trying what the policy allows and a sample of what it denies (docs/tests.md).",
            Extras::None,
        )
    }

    pub fn timeout_seconds() -> Val<Int> {
        Val::documented(
            vec![Seg::Key("tests"), Seg::Key("timeoutSeconds")],
            |_| json!(15),
            "Seconds each probe waits for a connection (more than Envoy's 10 s connect timeout).",
            schema(|_| json!({"minimum": 1, "maximum": 300})),
        )
    }

    /// The probe image as a whole (the chart's image helper takes the map).
    pub fn image() -> Val<Obj> {
        Val::at(vec![Seg::Key("tests"), Seg::Key("image")], None)
    }

    pub fn image_key(key: &'static str) -> Val<Str> {
        super::image_key(vec![Seg::Key("tests"), Seg::Key("image"), Seg::Key(key)])
    }
}

/// One of the four keys of an image map (`registry`, `repository`, `tag`,
/// `digest`), with its row.
fn image_key(segs: Vec<Seg>) -> Val<Str> {
    let v = Val::at(segs, None);
    match v.path().rsplit('.').next() {
        Some("registry") => v.described(
            "Image registry (`global.imageRegistry` wins).",
            Extras::None,
        ),
        Some("repository") => v.described("Image repository.", Extras::None),
        Some("tag") => v.described(
            "Image tag; empty means the chart's appVersion.",
            Extras::None,
        ),
        Some("digest") => v.described(
            "Image digest (`sha256:...`); wins over the tag.",
            schema(|_| json!({"pattern": "^(sha256:[a-f0-9]{64})?$"})),
        ),
        other => panic!("no image key {other:?}"),
    }
}

/// `telemetry.tracing.*`: present only when the policy traces; defaults
/// come from the policy's tracing block (`package::values::entries`).
pub mod tracing {
    use super::{json, schema, Extras, Num, Seg, Str, Val};

    fn at<K: super::Kind>(key: &'static str, description: &'static str, extras: Extras) -> Val<K> {
        Val::at(vec![Seg::Key("telemetry.tracing"), Seg::Key(key)], None)
            .described(description, extras)
    }
    pub fn provider() -> Val<Str> {
        at(
            "provider",
            "Name of the tracing provider in the mesh config's `extensionProviders` (see the chart's NOTES).",
            Extras::None,
        )
    }
    pub fn sampling() -> Val<Num> {
        at(
            "sampling",
            "Share of requests traced, in percent.",
            schema(|_| json!({"minimum": 0, "maximum": 100})),
        )
    }
    pub fn host() -> Val<Str> {
        at(
            "host",
            "Host of the trace collector (for the provider's definition and egress to it).",
            Extras::None,
        )
    }
    pub fn port() -> Val<super::Int> {
        at(
            "port",
            "Port of the trace collector.",
            schema(|_| json!({"minimum": 1, "maximum": 65535})),
        )
    }
    pub fn namespace() -> Val<Str> {
        at(
            "namespace",
            "Namespace of the trace collector; NetworkPolicies allow the sidecars egress to it.",
            Extras::None,
        )
    }
}

/// `secrets.<name>`: the name, in the customer's namespace, of the Secret
/// the policy calls `<name>` (a name only: the chart holds no secret value).
pub fn secret(name: &str) -> Val<Str> {
    Val::at(vec![Seg::Key("secrets"), Seg::Name(name.to_string())], None).described(
        "Name of the customer's existing Secret that the policy calls by this key (the chart reads it, never creates it, and holds no secret value).",
        // A Secret's name is a DNS-1123 subdomain (the policy's are checked
        // at compile time, E0319; an override here would be refused by the
        // API server only when the pod is created).
        schema(|_| {
            json!({
                "type": "string",
                "minLength": 1,
                "maxLength": 253,
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            })
        }),
    )
}

/// Defaults of every service, under `serviceDefaults`, that a service's own
/// value of the same key overrides ([`Svc::own_or_default`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodField {
    Resources,
    PodSecurityContext,
    SecurityContext,
    NodeSelector,
    Tolerations,
    Affinity,
    PodAnnotations,
}

impl PodField {
    pub const ALL: [PodField; 7] = [
        PodField::Resources,
        PodField::PodSecurityContext,
        PodField::SecurityContext,
        PodField::NodeSelector,
        PodField::Tolerations,
        PodField::Affinity,
        PodField::PodAnnotations,
    ];

    pub fn key(self) -> &'static str {
        match self {
            PodField::Resources => "resources",
            PodField::PodSecurityContext => "podSecurityContext",
            PodField::SecurityContext => "securityContext",
            PodField::NodeSelector => "nodeSelector",
            PodField::Tolerations => "tolerations",
            PodField::Affinity => "affinity",
            PodField::PodAnnotations => "podAnnotations",
        }
    }

    /// `serviceDefaults.<key>`.
    pub fn default_val(self) -> Val<Obj> {
        let description = match self {
            PodField::Resources => "Container resource requests and limits of every service.",
            PodField::PodSecurityContext => "Pod security context of every service.",
            PodField::SecurityContext => "Container security context of every service.",
            PodField::NodeSelector => "Node labels every service's pods must run on.",
            PodField::Tolerations => "Tolerations of every service's pods.",
            PodField::Affinity => "Affinity rules of every service's pods.",
            PodField::PodAnnotations => "Extra pod annotations of every service.",
        };
        Val::at(
            vec![Seg::Key("serviceDefaults"), Seg::Key(self.key())],
            None,
        )
        .described(description, self.extras())
    }

    /// String maps (`nodeSelector`, `podAnnotations`) say so in the schema.
    fn extras(self) -> Extras {
        match self {
            PodField::NodeSelector | PodField::PodAnnotations => schema(string_map),
            _ => Extras::None,
        }
    }
}

/// The values of one service: `services.<name>`.
#[derive(Clone, Debug)]
pub struct Svc(Vec<Seg>);

impl Svc {
    pub fn new(name: &str) -> Self {
        Svc(vec![Seg::Key("services"), Seg::Name(name.to_string())])
    }

    fn val<K: Kind>(&self, keys: &[&'static str]) -> Val<K> {
        let mut segs = self.0.clone();
        segs.extend(keys.iter().copied().map(Seg::Key));
        Val::at(segs, None)
    }

    /// The service's values as a map (`dig`'s last argument).
    pub fn expr(&self) -> String {
        Val::<Obj>::at(self.0.clone(), None).expr()
    }

    pub fn path(&self) -> String {
        Val::<Obj>::at(self.0.clone(), None).path()
    }

    /// One version's values: `services.<name>.versions.<version>`.
    pub fn version(&self, version: &str) -> Svc {
        let mut segs = self.0.clone();
        segs.push(Seg::Key("versions"));
        segs.push(Seg::Name(version.to_string()));
        Svc(segs)
    }

    pub fn replicas(&self) -> Val<Int> {
        let description = if self.0.len() > 2 {
            "Pod replicas of this version."
        } else {
            "Pod replicas."
        };
        self.val(&["replicas"])
            .described(description, schema(|_| json!({"minimum": 0})))
    }

    /// `image` (registry, repository, tag, digest), for the image helper.
    pub fn image(&self) -> Val<Obj> {
        self.val(&["image"])
    }

    pub fn image_key(&self, key: &'static str) -> Val<Str> {
        let mut segs = self.0.clone();
        segs.extend([Seg::Key("image"), Seg::Key(key)]);
        image_key(segs)
    }

    pub fn storage_size(&self) -> Val<Str> {
        self.val(&["storage", "size"])
            .described("Size of each replica's volume.", Extras::None)
    }

    pub fn storage_class_name(&self) -> Val<Str> {
        self.val(&["storage", "storageClassName"]).described(
            "StorageClass of the volumes; empty means the cluster default.",
            Extras::None,
        )
    }

    /// `services.<n>.istio.inject`, which overrides `istio.injection`.
    pub fn inject(&self) -> Val<Inject> {
        self.val(&["istio", "inject"]).described(
            "This service's `istio.injection` (default: istio.injection).",
            schema(|_| injection_schema()),
        )
    }

    /// [`Svc::inject`] of an attached service (its row says where the
    /// label goes).
    pub fn attached_inject(&self) -> Val<Inject> {
        self.inject().described(
            "This service's `istio.injection`, through the `podLabels` template (default: istio.injection).",
            schema(|_| injection_schema()),
        )
    }

    /// The service's own pod field.
    pub fn own(&self, f: PodField) -> Val<Obj> {
        let description = match f {
            PodField::Resources => {
                "Container resource requests and limits (default: serviceDefaults)."
            }
            PodField::PodSecurityContext => "Pod security context (default: serviceDefaults).",
            PodField::SecurityContext => "Container security context (default: serviceDefaults).",
            PodField::NodeSelector => {
                "Node labels the pods must run on (default: serviceDefaults)."
            }
            PodField::Tolerations => "Tolerations of the pods (default: serviceDefaults).",
            PodField::Affinity => "Affinity rules of the pods (default: serviceDefaults).",
            PodField::PodAnnotations => "Extra pod annotations (default: serviceDefaults).",
        };
        self.val(&[f.key()]).described(description, f.extras())
    }

    /// An attached service's `podAnnotations` (the vendor renders the pods;
    /// only the annotations this template merges are meshpack's).
    pub fn attached_pod_annotations(&self) -> Val<Obj> {
        self.own(PodField::PodAnnotations).described(
            "Extra pod annotations (default: serviceDefaults), through the `podAnnotations` template.",
            schema(string_map),
        )
    }

    /// `(<own> | default $.Values.serviceDefaults.<key>)`: the chart keeps
    /// per-service values small (a 10,000-service chart must stay under
    /// Helm's 5 MiB limit per file).
    pub fn own_or_default(&self, f: PodField) -> String {
        format!(
            "({} | default {})",
            self.own(f).expr(),
            f.default_val().expr()
        )
    }

    /// `services.<n>.traffic.split.<version>` as `index <split> "<version>"`
    /// (no parentheses: a whole action).
    pub fn split(&self, version: &str) -> Val<Int> {
        let mut segs = self.0.clone();
        segs.extend([
            Seg::Key("traffic"),
            Seg::Key("split"),
            Seg::Name(version.to_string()),
        ]);
        Val::at(segs, None).described(
            "Percent of requests to this version (the weights must add up to 100).",
            schema(|_| json!({"minimum": 0, "maximum": 100})),
        )
    }

    /// `dig "istio" "inject" <fallback> <service>`: the service's
    /// `istio.inject`, else the fallback.
    pub fn dig_inject(&self, fallback: &Val<Inject>) -> String {
        let own = self.inject();
        let Path::Dyn(segs) = &own.r.path else {
            unreachable!("per-service paths are dynamic")
        };
        let keys: Vec<String> = segs[self.0.len()..]
            .iter()
            .map(|s| match s {
                Seg::Key(k) => quote(k),
                Seg::Name(n) => quote(n),
            })
            .collect();
        format!("dig {} {} {}", keys.join(" "), fallback.expr(), self.expr())
    }

    /// [`Svc::dig_inject`] of a service's values bound to the template
    /// variable `var`.
    pub fn dig_inject_in(var: &str, fallback: &Val<Inject>) -> String {
        let own = Svc::new("x").dig_inject(fallback);
        let map = Svc::new("x").expr();
        format!(
            "{}{var}",
            own.strip_suffix(&map).expect("dig ends with the map")
        )
    }
}

/// The values of one gateway: `gateways.<name>`.
#[derive(Clone, Debug)]
pub struct Gw(Vec<Seg>);

impl Gw {
    pub fn new(name: &str) -> Self {
        Gw(vec![Seg::Key("gateways"), Seg::Name(name.to_string())])
    }

    fn val<K: Kind>(&self, keys: &[&'static str], default: Option<fn(&Model) -> Value>) -> Val<K> {
        let mut segs = self.0.clone();
        segs.extend(keys.iter().copied().map(Seg::Key));
        Val::at(segs, default)
    }

    pub fn hosts(&self) -> Val<List> {
        self.val(&["hosts"], None).described(
            "Host names the gateway answers for. With `gatewayApi.enabled` only the policy's (in any order): the Gateway's listeners are those.",
            schema(|_| json!({"items": {"type": "string"}, "minItems": 1})),
        )
    }

    pub fn selector(&self) -> Val<StrMap> {
        self.val(&["selector"], None).described(
            "Labels selecting the ingress gateway pods (Istio Gateway).",
            schema(string_map),
        )
    }

    /// [`Gw::selector`] of an internal gateway (its row says so).
    pub fn internal_selector(&self) -> Val<StrMap> {
        self.selector().described(
            "Labels selecting the internal ingress gateway pods (Istio Gateway).",
            schema(string_map),
        )
    }

    pub fn service_account(&self) -> Val<Str> {
        self.val(&["serviceAccount"], None).described(
            "ServiceAccount of the gateway pods in `istio.gateway.namespace`, allowed by rules `from: gateway/<name>` (with Gateway API, Istio deploys the gateway under it).",
            schema(|_| json!({"pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"})),
        )
    }

    pub fn credential_name(&self) -> Val<Str> {
        self.val(&["tls", "credentialName"], None).described(
            "Secret with the TLS certificate, in `istio.gateway.namespace`.",
            Extras::None,
        )
    }

    /// On whenever the policy names an issuer (the row exists only then).
    pub fn cert_manager_enabled(&self) -> Val<Bool> {
        self.val(&["tls", "certManager", "enabled"], Some(|_| json!(true)))
            .described("Have cert-manager issue the Secret.", Extras::None)
    }

    pub fn cert_manager_issuer(&self) -> Val<Str> {
        self.val(&["tls", "certManager", "issuer"], None)
            .described("cert-manager issuer name.", Extras::None)
    }

    pub fn cert_manager_kind(&self) -> Val<Str> {
        self.val(&["tls", "certManager", "kind"], None).described(
            "`Issuer` or `ClusterIssuer`.",
            schema(|_| json!({"enum": ["Issuer", "ClusterIssuer"]})),
        )
    }
}

impl<K: Kind> Val<K> {
    /// An `index` at the end without parentheses: `index <map> "<name>"`,
    /// a whole action (as `Svc::split` is written).
    pub fn bare(&self) -> String {
        let e = self.expr();
        match e.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
            Some(inner) if matches!(&self.r.path, Path::Dyn(s) if matches!(s.last(), Some(Seg::Name(_)))) => {
                inner.to_string()
            }
            _ => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_their_handles_types() {
        for text in [
            include_str!("../../../policies/orderflow.yaml"),
            include_str!("../../../policies/evalhub.yaml"),
        ] {
            let m = crate::compile_model(text, None).expect("the example compiles");
            let mut paths = std::collections::BTreeSet::new();
            for (r, accepts) in fixed_handles() {
                let d = r.default(&m).expect("release-wide handles have defaults");
                assert!(accepts(&d), "{}: default {d} is not of its type", r.path());
                assert!(paths.insert(r.path()), "{} declared twice", r.path());
            }
        }
    }

    #[test]
    fn release_wide_handles_carry_their_rows() {
        let mut handles: Vec<Ref> = fixed_handles().into_iter().map(|(r, _)| r).collect();
        handles.push(helm_tests::enabled().untyped().clone());
        handles.push(helm_tests::timeout_seconds().untyped().clone());
        for r in &handles {
            let doc = r.doc().expect("a release-wide handle has its row");
            assert!(
                doc.description.ends_with('.') && doc.description.len() > 10,
                "{}: description {:?}",
                r.path(),
                doc.description
            );
        }
        let m = crate::compile_model(include_str!("../../../policies/orderflow.yaml"), None)
            .expect("the example compiles");
        let extras = |r: &Ref| match r.doc().map(|d| d.extras) {
            Some(Extras::Some(f)) => Some(f(&m)),
            _ => None,
        };
        assert_eq!(ISTIO_ENABLED.untyped().doc().map(|d| d.description), Some("Render the Istio mesh: mTLS, authorization, routing, egress control and sidecar injection."));
        assert!(matches!(
            ISTIO_ENABLED.untyped().doc().map(|d| d.extras),
            Some(Extras::None)
        ));
        assert_eq!(
            extras(ISTIO_DATAPLANE.untyped()),
            Some(json!({"enum": ["sidecar", "ambient"]}))
        );
        assert_eq!(
            extras(ISTIO_ANNOTATIONS.untyped()),
            Some(json!({"additionalProperties": {"type": "string"}, "x-kind": "string-map"}))
        );
        assert!(matches!(
            EXTRA_EGRESS.untyped().doc().map(|d| d.extras),
            Some(Extras::Package)
        ));
        assert_eq!(
            extras(helm_tests::timeout_seconds().untyped()),
            Some(json!({"minimum": 1, "maximum": 300}))
        );
        assert!(Svc::new("api").image().untyped().doc().is_none());
        let doc = |r: &Ref| r.doc().map(|d| d.description);
        let api = Svc::new("api");
        assert_eq!(doc(api.replicas().untyped()), Some("Pod replicas."));
        assert_eq!(
            doc(api.version("v1").replicas().untyped()),
            Some("Pod replicas of this version.")
        );
        assert_eq!(
            extras(api.replicas().untyped()),
            Some(json!({"minimum": 0}))
        );
        assert_eq!(
            doc(api.version("v1").image_key("tag").untyped()),
            Some("Image tag; empty means the chart's appVersion.")
        );
        assert_eq!(
            extras(helm_tests::image_key("digest").untyped()),
            Some(json!({"pattern": "^(sha256:[a-f0-9]{64})?$"}))
        );
        assert_ne!(
            doc(api.inject().untyped()),
            doc(api.attached_inject().untyped())
        );
        assert_eq!(
            extras(api.attached_inject().untyped()),
            Some(injection_schema())
        );
        assert_eq!(
            extras(api.own(PodField::NodeSelector).untyped()),
            extras(ISTIO_ANNOTATIONS.untyped())
        );
        assert!(matches!(
            api.own(PodField::Tolerations)
                .untyped()
                .doc()
                .map(|d| d.extras),
            Some(Extras::None)
        ));
        let web = Gw::new("web");
        assert_eq!(
            doc(web.internal_selector().untyped()),
            Some("Labels selecting the internal ingress gateway pods (Istio Gateway).")
        );
        assert_eq!(web.internal_selector().path(), web.selector().path());
        assert_eq!(
            extras(web.cert_manager_kind().untyped()),
            Some(json!({"enum": ["Issuer", "ClusterIssuer"]}))
        );
        assert_eq!(
            extras(tracing::port().untyped()),
            Some(json!({"minimum": 1, "maximum": 65535}))
        );
    }

    #[test]
    fn expressions_index_names() {
        let s = Svc::new("my-api");
        assert_eq!(s.replicas().path(), "services.my-api.replicas");
        assert_eq!(
            s.replicas().expr(),
            "(index $.Values.services \"my-api\").replicas"
        );
        assert_eq!(
            s.version("v1").image().expr(),
            "(index (index $.Values.services \"my-api\").versions \"v1\").image"
        );
        assert_eq!(
            s.split("v2").bare(),
            "index (index $.Values.services \"my-api\").traffic.split \"v2\""
        );
        assert_eq!(
            s.own_or_default(PodField::Resources),
            "((index $.Values.services \"my-api\").resources | default $.Values.serviceDefaults.resources)"
        );
        assert_eq!(
            s.dig_inject(&ISTIO_INJECTION),
            "dig \"istio\" \"inject\" $.Values.istio.injection (index $.Values.services \"my-api\")"
        );
        assert_eq!(ISTIO_ENABLED.expr(), "$.Values.istio.enabled");
        assert_eq!(
            ISTIO_ENABLED.untyped().expr_at(Root::Dot),
            ".Values.istio.enabled"
        );
        assert_eq!(tracing::port().path(), "telemetry.tracing.port");
        assert_eq!(secret("db").path(), "secrets.db");
        assert_eq!(secret("db").bare(), "index $.Values.secrets \"db\"");
        assert_eq!(
            Gw::new("web").cert_manager_enabled().expr(),
            "(index $.Values.gateways \"web\").tls.certManager.enabled"
        );
    }
}
