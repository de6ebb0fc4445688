//! Stage 4: emit Kubernetes and Istio objects from the model.
//!
//! Invariant: objects are built from typed structs (`k8s-openapi`, the
//! typed Istio structs in `crate::istio`) and only then turned into JSON
//! values, into which [`Out`] puts the install-time parts. Emitters know the
//! model and the shape of the chart's values; they know nothing about files
//! on disk, template syntax beyond the fragments they hand to `Out`, or
//! Kustomize's layout.

pub mod additions;
pub mod ambient;
pub mod cond;
mod external;
pub mod gateway;
mod gateway_api_types;
pub mod graph;
pub mod hoist;
pub mod identity;
pub mod ingress;
mod ingress_controller;
pub mod injection;
mod job;
pub mod mesh;
pub mod metrics;
mod monitors;
mod netpol;
pub(crate) mod netpol_types;
pub mod out;
pub mod pod;
pub mod pod_meta;
pub mod probes;
mod registry;
mod routing;
mod telemetry;
pub mod values;
pub mod workload;

use crate::model::{Model, Service};
use cond::Cond;
pub use out::{Fragment, Mode, Out, Part};
pub use registry::{each, each_prepared, emit, threads, Emitter, Files, EMITTERS};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Which switch an object depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Always rendered: workloads, Services, ServiceAccounts.
    Base,
    /// `istio.enabled`.
    Istio,
    /// `networkPolicy.enabled`.
    NetworkPolicy,
    /// Both: what the mesh itself needs once NetworkPolicies isolate pods.
    IstioNetworkPolicy,
    /// `istio.enabled` without `gatewayApi.enabled`: Istio Gateways and
    /// their VirtualServices.
    IstioGateway,
    /// `gatewayApi.enabled`: Gateway API Gateways and HTTPRoutes.
    GatewayApi,
    /// NetworkPolicies admitting the gateways' pods, one group per form the
    /// gateways take (`netpol.rs`): Istio's ingress gateway pods (with
    /// `IstioGateway`),
    IstioGatewayNetworkPolicy,
    /// the pods Istio deploys for Gateway API Gateways (with `GatewayApi`),
    GatewayApiNetworkPolicy,
    /// and, with neither Istio nor the Gateway API, the customer's ingress
    /// controller.
    IngressNetworkPolicy,
    /// `ingress.enabled` with neither Istio nor the Gateway API: Ingresses
    /// and the NetworkPolicies admitting the ingress controller.
    Ingress,
    /// `tests.enabled`: the `helm test` connectivity probes.
    Tests,
}

impl Group {
    pub const ALL: [Group; 11] = [
        Group::Base,
        Group::Istio,
        Group::NetworkPolicy,
        Group::IstioNetworkPolicy,
        Group::IstioGateway,
        Group::GatewayApi,
        Group::IstioGatewayNetworkPolicy,
        Group::GatewayApiNetworkPolicy,
        Group::IngressNetworkPolicy,
        Group::Ingress,
        Group::Tests,
    ];

    /// The switch of the group's objects: Helm's `if` around each file,
    /// and which Kustomize overlays include the group's component.
    pub fn cond(self) -> Option<Cond> {
        use values::{GATEWAY_API_ENABLED, INGRESS_ENABLED, ISTIO_ENABLED, NETWORK_POLICY_ENABLED};
        let istio = || Cond::is(&ISTIO_ENABLED);
        let netpol = || Cond::is(&NETWORK_POLICY_ENABLED);
        let gateway_api = || Cond::is(&GATEWAY_API_ENABLED);
        match self {
            Group::Base => None,
            Group::Istio => Some(istio()),
            Group::NetworkPolicy => Some(netpol()),
            Group::IstioNetworkPolicy => Some(netpol().and(istio())),
            Group::IstioGateway => Some(istio().and(gateway_api().not())),
            Group::GatewayApi => Some(gateway_api()),
            Group::IstioGatewayNetworkPolicy => {
                Some(netpol().and(istio()).and(gateway_api().not()))
            }
            Group::GatewayApiNetworkPolicy => Some(netpol().and(gateway_api())),
            // With `ingress.enabled` the Ingress group admits the
            // controller itself (`ingress.controller.*`), the same fact.
            Group::IngressNetworkPolicy => Some(
                netpol()
                    .and(istio().not())
                    .and(gateway_api().not())
                    .and(Cond::is(&INGRESS_ENABLED).not()),
            ),
            Group::Ingress => Some(
                Cond::is(&INGRESS_ENABLED)
                    .and(istio().not())
                    .and(gateway_api().not()),
            ),
            Group::Tests => Some(Cond::is(&values::helm_tests::enabled())),
        }
    }
}

/// One object, with the template condition that guards it beyond its group.
#[derive(Debug)]
pub struct Doc {
    pub when: Option<String>,
    pub value: Value,
}

/// The objects of one chart template file.
#[derive(Debug)]
pub struct File {
    /// Path under `templates/`, e.g. `api.yaml`, `istio/authz-api.yaml`.
    pub path: String,
    pub group: Group,
    pub docs: Vec<Doc>,
    pub out: Out,
    /// Template lines before the objects (variable bindings).
    pub prelude: Vec<String>,
    /// Template lines opening the objects, kept with them when a packager
    /// puts files together (the per-service `$own`, `hoist::own_binding`).
    pub opening: Vec<String>,
    /// The service whose objects of its group this file holds, and only
    /// them (`<svc>.yaml`, `istio/<svc>.yaml`, `network-policies/<svc>.yaml`):
    /// a packager may put such files together (`package::helm_groups`).
    pub service: Option<String>,
}

impl File {
    pub(crate) fn new(path: impl Into<String>, group: Group, mode: Mode) -> Self {
        File {
            path: path.into(),
            group,
            docs: vec![],
            out: Out::new(mode),
            prelude: vec![],
            opening: vec![],
            service: None,
        }
    }

    fn push(&mut self, value: Value) {
        self.docs.push(Doc { when: None, value });
    }
}

/// Annotation naming the namespace an object must stay in whatever
/// namespace the release is installed into.
pub const FIXED_NAMESPACE: &str = "meshpack.dev/namespace";

/// A document Helm renders when `when` holds at install time; the Kustomize
/// tree has it when `when` holds on the chart's defaults.
pub fn guarded(f: &mut File, m: &Model, when: &Cond, value: Value) {
    match f.out.mode {
        Mode::Helm => f.docs.push(Doc {
            when: Some(when.helm()),
            value,
        }),
        Mode::Plain if when.eval_defaults(m, &[]) => f.push(value),
        Mode::Plain => {}
    }
}

/// `{matchLabels: <selector labels>}`.
pub fn selector(n: &Names, out: &mut Out, component: Option<&str>) -> Value {
    json!({ "matchLabels": n.selector(out, component) })
}

/// Names and labels as the chart's helpers make them.
pub struct Names<'a> {
    pub app: &'a str,
    pub version: &'a str,
    model: &'a Model,
}

/// Attach mode's release-wide pod label: the vendor's pods carry it through
/// the chart's `podLabels` template or the Kustomize patches, so the
/// release-wide NetworkPolicies (default deny, DNS, istiod) can select them.
pub const ATTACH_LABEL: &str = "meshpack.dev/mesh";

impl<'a> Names<'a> {
    pub fn new(m: &'a Model) -> Self {
        Names {
            app: &m.name,
            version: &m.version,
            model: m,
        }
    }

    /// The model the names are made from.
    pub fn model(&self) -> &'a Model {
        self.model
    }

    /// How an attached service is found, if `svc` is one.
    pub fn attached(&self, svc: &str) -> Option<&'a crate::model::Attach> {
        // A policy attaches all its services or none (E0293,
        // `model::attach`): without an attached first service there is no
        // name to look up, which spares a hash per selector, label and
        // identity (most of a large compile's emitter calls).
        if !self.attach_mode() {
            return None;
        }
        self.model.service(svc).and_then(|s| s.attach.as_ref())
    }

    /// Whether the release's services are attached (never mixed: see model).
    pub fn attach_mode(&self) -> bool {
        self.model
            .services
            .first()
            .is_some_and(|s| s.attach.is_some())
    }

    /// Whether generated Services take the service's own name
    /// (`spec.serviceNames: service`, the default) rather than `<fullname>-<svc>`.
    pub fn short_services(&self) -> bool {
        self.model.service_names == crate::model::ServiceNames::Service
    }

    /// The Service name clients call: the service's name, `<fullname>-<svc>`
    /// (`serviceNames: release`), or an attached service's own Service.
    pub fn host(&self, out: &mut Out, svc: &str) -> Value {
        match self.attached(svc) {
            Some(a) => json!(a.service),
            None if self.short_services() => json!(svc),
            None => self.object(out, svc),
        }
    }

    /// The same, as it is after install with release name = app name.
    pub fn host_plain(&self, svc: &str) -> String {
        match self.attached(svc) {
            Some(a) => a.service.clone(),
            None if self.short_services() => svc.to_string(),
            None => self.plain(svc),
        }
    }

    /// `metadata` of a service's Kubernetes Service: named as clients call it.
    pub fn service_meta(&self, out: &mut Out, svc: &str) -> Value {
        let name = self.host(out, svc);
        self.meta_named(out, name, Some(svc))
    }

    /// `<fullname>-<suffix>`.
    pub fn object(&self, out: &mut Out, suffix: &str) -> Value {
        let full = FULLNAME;
        out.text(&[Part::Val(full, self.app), Part::Lit(&format!("-{suffix}"))])
    }

    /// The same name, as it is after install with release name = app name.
    pub fn plain(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.app)
    }

    /// `metadata` with name, namespace and the common labels.
    pub fn meta(&self, out: &mut Out, suffix: &str, component: Option<&str>) -> Value {
        let name = self.object(out, suffix);
        self.meta_named(out, name, component)
    }

    /// `metadata` with this name, namespace and the common labels.
    fn meta_named(&self, out: &mut Out, name: Value, component: Option<&str>) -> Value {
        let mut meta = Map::new();
        meta.insert("name".into(), name);
        if out.helm() {
            meta.insert(
                "namespace".into(),
                out.scalar(out::RELEASE_NAMESPACE, Value::Null),
            );
        }
        meta.insert("labels".into(), self.labels(out, component));
        Value::Object(meta)
    }

    /// The file's label block (`$labels` or `$selector`, see [`helm_prelude`])
    /// plus the component, quoted: a service may be called `on` or `y`.
    fn helper_lines(&self, var: &str, component: Option<&str>) -> Vec<String> {
        // The same two lines in every object of every file: made once.
        static LABELS: OnceLock<String> = OnceLock::new();
        static SELECTOR: OnceLock<String> = OnceLock::new();
        let (line, piece) = match var {
            "$labels" => (&LABELS, hoist::Hoist::Labels),
            _ => (&SELECTOR, hoist::Hoist::Selector),
        };
        let first = line.get_or_init(|| format!("{{{{- {} }}}}", piece.var()));
        let mut lines = vec![first.clone()];
        if let Some(c) = component {
            lines.push(format!("app.kubernetes.io/component: \"{c}\""));
        }
        lines
    }

    pub fn labels(&self, out: &mut Out, component: Option<&str>) -> Value {
        match out.lines(self.helper_lines("$labels", component)) {
            Some(m) => json!({ (m): null }),
            None => {
                let mut l = self.selector_map(component);
                l.insert("app.kubernetes.io/version".into(), json!(self.version));
                l.insert("app.kubernetes.io/part-of".into(), json!(self.app));
                Value::Object(l)
            }
        }
    }

    pub fn selector(&self, out: &mut Out, component: Option<&str>) -> Value {
        if let Some(a) = component.and_then(|c| self.attached(c)) {
            return Value::Object(
                a.selector
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect(),
            );
        }
        if component.is_none() && self.attach_mode() {
            return json!({ ATTACH_LABEL: self.app });
        }
        match out.lines(self.helper_lines("$selector", component)) {
            Some(m) => json!({ (m): null }),
            None => Value::Object(self.selector_map(component)),
        }
    }

    /// The selector labels with their install-time values as defaults.
    pub fn selector_map(&self, component: Option<&str>) -> Map<String, Value> {
        let mut l = Map::new();
        l.insert("app.kubernetes.io/name".into(), json!(self.app));
        l.insert("app.kubernetes.io/instance".into(), json!(self.app));
        if let Some(c) = component {
            l.insert("app.kubernetes.io/component".into(), json!(c));
        }
        l
    }

    /// `<service>.<namespace>.svc.cluster.local` (with `serviceNames:
    /// release`, `<fullname>-<service>...`; an attached service's own).
    pub fn fqdn(&self, out: &mut Out, s: &str) -> Value {
        let full = FULLNAME;
        if let Some(a) = self.attached(s) {
            return out.text(&[
                Part::Lit(&format!("{}.", a.service)),
                Part::Val(out::RELEASE_NAMESPACE, PLAIN_NAMESPACE),
                Part::Lit(".svc.cluster.local"),
            ]);
        }
        if self.short_services() {
            return out.text(&[
                Part::Lit(&format!("{s}.")),
                Part::Val(out::RELEASE_NAMESPACE, PLAIN_NAMESPACE),
                Part::Lit(".svc.cluster.local"),
            ]);
        }
        out.text(&[
            Part::Val(full, self.app),
            Part::Lit(&format!("-{s}.")),
            Part::Val(out::RELEASE_NAMESPACE, PLAIN_NAMESPACE),
            Part::Lit(".svc.cluster.local"),
        ])
    }
}

/// The release's object-name prefix, bound once per template file.
pub const FULLNAME: &str = "$fullname";

/// Lines opening every chart template: the helpers each object needs,
/// called once per file instead of once per object (the calls were most of
/// `helm template`'s time).
pub fn helm_prelude(app: &str) -> Vec<String> {
    vec![
        format!("{{{{- $fullname := include \"{app}.fullname\" $ }}}}"),
        format!("{{{{- $labels := include \"{app}.labels\" (dict \"ctx\" $) }}}}"),
        format!("{{{{- $selector := include \"{app}.selectorLabels\" (dict \"ctx\" $) }}}}"),
    ]
}

/// The namespace the Kustomize base writes into strings the namespace
/// transformer cannot reach; `package::kustomize` replaces it.
pub const PLAIN_NAMESPACE: &str = "default";

/// The values of a service (`services.<name>`).
pub fn svc_values(s: &Service) -> values::Svc {
    values::Svc::new(&s.name)
}

/// A percentage as JSON: whole numbers as integers, so Helm (which prints
/// `10.0` from values as `10`) and Kustomize render the same.
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Turn a typed object into JSON.
pub fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("typed objects serialise")
}

/// Set `v[path...] = x`, creating objects on the way.
pub fn set(v: &mut Value, path: &[&str], x: Value) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        if !cur.get(*k).is_some_and(Value::is_object) {
            cur[*k] = json!({});
        }
        cur = &mut cur[*k];
    }
    cur[path[path.len() - 1]] = x;
}
