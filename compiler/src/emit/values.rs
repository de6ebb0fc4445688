//! The chart's values as typed handles: the one place a value's path is
//! spelled.
//!
//! Invariant: every `.Values` expression an emitter (or `package`) writes is
//! made from a handle here: a `const` for a release-wide value
//! ([`ISTIO_ENABLED`]), a constructor for one under a service or gateway
//! ([`Svc::replicas`], [`Gw::hosts`]). `package::values::entries`, the table
//! `values.yaml`, the schema and the docs are made from, names its rows with
//! the same handles, so renaming or retyping a value is a compile error in
//! both places; a release-wide value's default lives in its handle too,
//! because conditions evaluate against it (`emit::cond`). A handle's type
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

/// A value's location and, for release-wide values, its default: the
/// untyped part of a [`Val`], which conditions hold.
#[derive(Clone, Debug)]
pub struct Ref {
    path: Path,
    default: Option<fn(&Model) -> Value>,
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
    const fn fixed(path: &'static str, default: fn(&Model) -> Value) -> Self {
        Val {
            r: Ref {
                path: Path::Fixed(path),
                default: Some(default),
            },
            _k: PhantomData,
        }
    }

    fn at(segs: Vec<Seg>, default: Option<fn(&Model) -> Value>) -> Self {
        Val {
            r: Ref {
                path: Path::Dyn(segs),
                default,
            },
            _k: PhantomData,
        }
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

macro_rules! fixed {
    ($($(#[$doc:meta])* $name:ident: $kind:ident = $path:literal, $default:expr;)*) => {
        $(
            $(#[$doc])*
            pub const $name: Val<$kind> = Val::fixed($path, $default);
        )*
        /// Every release-wide handle, as (path, default, type check).
        pub fn fixed_handles() -> Vec<(Ref, fn(&Value) -> bool)> {
            vec![$(($name.r.clone(), <$kind as Kind>::accepts as fn(&Value) -> bool)),*]
        }
    };
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
    NAME_OVERRIDE: Str = "nameOverride", |_| json!("");
    FULLNAME_OVERRIDE: Str = "fullnameOverride", |_| json!("");
    GLOBAL_IMAGE_REGISTRY: Str = "global.imageRegistry", |_| json!("");
    GLOBAL_IMAGE_PULL_SECRETS: List = "global.imagePullSecrets", |m| json!(m.pull_secrets);
    /// The mesh switch.
    ISTIO_ENABLED: Bool = "istio.enabled", |_| json!(false);
    ISTIO_INJECTION: Inject = "istio.injection", |_| json!(true);
    ISTIO_DATAPLANE: Str = "istio.dataplane", |m| json!(m.mesh.dataplane.as_str());
    ISTIO_REVISION: Str = "istio.revision", |m| json!(m.mesh.revision.clone().unwrap_or_default());
    ISTIO_PROXY_IMAGE_REGISTRY: Str = "istio.proxyImage.registry", |m| proxy(m, |i| &i.registry);
    ISTIO_PROXY_IMAGE_REPOSITORY: Str = "istio.proxyImage.repository", |m| proxy(m, |i| &i.repository);
    ISTIO_PROXY_IMAGE_TAG: Str = "istio.proxyImage.tag", |m| proxy(m, |i| &i.tag);
    ISTIO_PROXY_IMAGE_DIGEST: Str = "istio.proxyImage.digest", |m| proxy(m, |i| &i.digest);
    ISTIO_ANNOTATIONS: StrMap = "istio.annotations", |_| json!({});
    ISTIO_TRUST_DOMAIN: Str = "istio.trustDomain", |_| json!("cluster.local");
    ISTIO_VERSION: Str = "istio.version", |_| json!("1.25");
    ISTIO_NAMESPACE_WIDE: Bool = "istio.namespaceWide", |_| json!(false);
    ISTIO_GATEWAY_NAMESPACE: Str = "istio.gateway.namespace", |_| json!("istio-ingress");
    ISTIO_CONTROL_PLANE_NAMESPACE: Str = "istio.controlPlane.namespace", |_| json!("istio-system");
    GATEWAY_API_ENABLED: Bool = "gatewayApi.enabled", |_| json!(false);
    GATEWAY_API_CLASS_NAME: Str = "gatewayApi.className", |_| json!("istio");
    /// The third gateway form (`emit::ingress`), without Istio and the Gateway API.
    INGRESS_ENABLED: Bool = "ingress.enabled", |_| json!(false);
    INGRESS_CLASS_NAME: Str = "ingress.className", |_| json!(DEFAULT_CLASS);
    INGRESS_ANNOTATIONS: StrMap = "ingress.annotations", |_| json!({});
    INGRESS_CONTROLLER_NAMESPACE: Str = "ingress.controller.namespace", |_| json!(DEFAULT_CONTROLLER_NAMESPACE);
    INGRESS_CONTROLLER_POD_LABELS: StrMap = "ingress.controller.podLabels", |_| json!({});
    INGRESS_CONTROLLER_SERVICE_ACCOUNT: Str = "ingress.controller.serviceAccount", |_| json!(DEFAULT_CONTROLLER_SA);
    FAULT_INJECTION_ENABLED: Bool = "faultInjection.enabled", |_| json!(false);
    NETWORK_POLICY_ENABLED: Bool = "networkPolicy.enabled", |_| json!(true);
    NETWORK_POLICY_INGRESS_CONTROLLER_NAMESPACE: Str = "networkPolicy.ingressController.namespace", |_| json!("");
    NETWORK_POLICY_INGRESS_CONTROLLER_POD_LABELS: StrMap = "networkPolicy.ingressController.podLabels", |_| json!({});
    /// Deprecated: replaces the ingress controller's namespace when non-empty.
    NETWORK_POLICY_GATEWAY_NAMESPACES: List = "networkPolicy.gatewayNamespaces", |_| json!([]);
    NETWORK_POLICY_EGRESS_CIDRS: List = "networkPolicy.egressCIDRs", |_| json!(["0.0.0.0/0"]);
    PROMETHEUS_NAMESPACE: Str = "metrics.prometheus.namespace", |_| json!("monitoring");
    PROMETHEUS_POD_LABELS: StrMap = "metrics.prometheus.podLabels", |_| json!({});
    SERVICE_MONITOR_ENABLED: Bool = "metrics.serviceMonitor.enabled", |_| json!(false);
    POD_MONITOR_ENABLED: Bool = "metrics.podMonitor.enabled", |_| json!(false);
    /// The install-time additions (issue #19; `package::values_customer`
    /// holds their schemas). Release-wide mTLS mode over the policy's; ""
    /// keeps the policy's.
    ISTIO_MTLS_MODE: Str = "istio.mtls.mode", |_| json!("");
    EXTRA_EGRESS: List = "extraEgress", |_| json!([]);
    EXTRA_SOURCES: List = "extraSources", |_| json!([]);
    EXTRA_OBJECTS: List = "extraObjects", |_| json!([]);
    OPENSHIFT_ENABLED: Auto = "openshift.enabled", |_| json!("auto");
}

/// `istio.proxyImage` as a whole (the chart's image helper takes the map).
/// The four `ISTIO_PROXY_IMAGE_*` handles are its keys.
pub fn istio_proxy_image() -> Val<Obj> {
    Val::at(vec![Seg::Key("istio"), Seg::Key("proxyImage")], None)
}

/// `tests.*`: the `helm test` probes (`emit::probes`), present only when
/// the policy names a probe image (`spec.images.probe`).
pub mod helm_tests {
    use super::{json, Bool, Int, Obj, Seg, Str, Val};

    /// The switch of `Group::Tests`; off by default.
    pub fn enabled() -> Val<Bool> {
        Val::at(
            vec![Seg::Key("tests"), Seg::Key("enabled")],
            Some(|_| json!(false)),
        )
    }

    pub fn timeout_seconds() -> Val<Int> {
        Val::at(
            vec![Seg::Key("tests"), Seg::Key("timeoutSeconds")],
            Some(|_| json!(15)),
        )
    }

    /// The probe image as a whole (the chart's image helper takes the map).
    pub fn image() -> Val<Obj> {
        Val::at(vec![Seg::Key("tests"), Seg::Key("image")], None)
    }

    pub fn image_key(key: &'static str) -> Val<Str> {
        Val::at(
            vec![Seg::Key("tests"), Seg::Key("image"), Seg::Key(key)],
            None,
        )
    }
}

/// `telemetry.tracing.*`: present only when the policy traces; defaults
/// come from the policy's tracing block (`package::values::entries`).
pub mod tracing {
    use super::{Num, Seg, Str, Val};

    fn at<K: super::Kind>(key: &'static str) -> Val<K> {
        Val::at(vec![Seg::Key("telemetry.tracing"), Seg::Key(key)], None)
    }
    pub fn provider() -> Val<Str> {
        at("provider")
    }
    pub fn sampling() -> Val<Num> {
        at("sampling")
    }
    pub fn host() -> Val<Str> {
        at("host")
    }
    pub fn port() -> Val<super::Int> {
        at("port")
    }
    pub fn namespace() -> Val<Str> {
        at("namespace")
    }
}

/// `secrets.<name>`: the name, in the customer's namespace, of the Secret
/// the policy calls `<name>` (a name only: the chart holds no secret value).
pub fn secret(name: &str) -> Val<Str> {
    Val::at(vec![Seg::Key("secrets"), Seg::Name(name.to_string())], None)
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
        Val::at(
            vec![Seg::Key("serviceDefaults"), Seg::Key(self.key())],
            None,
        )
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
        self.val(&["replicas"])
    }

    /// `image` (registry, repository, tag, digest), for the image helper.
    pub fn image(&self) -> Val<Obj> {
        self.val(&["image"])
    }

    pub fn image_key(&self, key: &'static str) -> Val<Str> {
        self.val(&["image", key])
    }

    pub fn storage_size(&self) -> Val<Str> {
        self.val(&["storage", "size"])
    }

    pub fn storage_class_name(&self) -> Val<Str> {
        self.val(&["storage", "storageClassName"])
    }

    /// `services.<n>.istio.inject`, which overrides `istio.injection`.
    pub fn inject(&self) -> Val<Inject> {
        self.val(&["istio", "inject"])
    }

    /// The service's own pod field.
    pub fn own(&self, f: PodField) -> Val<Obj> {
        self.val(&[f.key()])
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
        Val::at(segs, None)
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
        self.val(&["hosts"], None)
    }

    pub fn selector(&self) -> Val<StrMap> {
        self.val(&["selector"], None)
    }

    pub fn service_account(&self) -> Val<Str> {
        self.val(&["serviceAccount"], None)
    }

    pub fn credential_name(&self) -> Val<Str> {
        self.val(&["tls", "credentialName"], None)
    }

    /// On whenever the policy names an issuer (the row exists only then).
    pub fn cert_manager_enabled(&self) -> Val<Bool> {
        self.val(&["tls", "certManager", "enabled"], Some(|_| json!(true)))
    }

    pub fn cert_manager_issuer(&self) -> Val<Str> {
        self.val(&["tls", "certManager", "issuer"], None)
    }

    pub fn cert_manager_kind(&self) -> Val<Str> {
        self.val(&["tls", "certManager", "kind"], None)
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
