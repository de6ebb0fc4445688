//! Where schemas come from: built in (Kubernetes kinds derived from
//! `k8s-openapi`; Istio, Gateway API and cert-manager kinds generated from
//! the upstream CRDs into `builtin-crds.json`, see `crd`; no network), CRDs
//! given with `--crd`, and kubeconform-style `--schema-location` templates.
//!
//! Built-in Kubernetes schemas are shaped like the upstream "strict"
//! standalone schemas kubeconform uses (objects closed, every type
//! nullable, quantities and int-or-strings as `oneOf`), so verdicts agree.

use crate::{gateway_api, istio};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Kubernetes versions whose schemas are built in.
pub const KUBERNETES_VERSIONS: &[&str] = &["1.34"];

/// A schema ready to validate with.
pub struct Compiled {
    pub validator: jsonschema::Validator,
    /// The schema itself, for the CEL rules it carries.
    pub schema: Value,
    /// Where it came from (`built-in`, a CRD file, a schema file).
    pub source: String,
    /// Whether any CEL rule stands in it (most Kubernetes kinds: none).
    pub has_cel: bool,
}

#[derive(Default)]
pub struct Options {
    /// Close objects: unknown fields are errors.
    pub strict: bool,
    /// kubeconform templates; `default` is the built-in set. Empty: built-in.
    pub locations: Vec<String>,
    pub crd_files: Vec<PathBuf>,
}

pub struct Registry {
    strict: bool,
    locations: Vec<String>,
    crds: HashMap<String, (Value, String)>,
    cache: Mutex<HashMap<String, Option<Arc<Compiled>>>>,
}

/// `group/version/Kind` of an object's apiVersion and kind.
pub(crate) fn gvk(api_version: &str, kind: &str) -> String {
    format!("{api_version}/{kind}")
}

impl Registry {
    pub(crate) fn new(opts: &Options) -> Result<Self, String> {
        let mut crds = HashMap::new();
        for f in &opts.crd_files {
            load_crds(f, &mut crds)?;
        }
        for l in &opts.locations {
            if l.starts_with("http://") || l.starts_with("https://") {
                return Err(format!(
                    "schema location {l}: meshpack reads schemas from local folders only; download them and pass the folder"
                ));
            }
        }
        Ok(Registry {
            strict: opts.strict,
            locations: opts.locations.clone(),
            crds,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The schema for an apiVersion and kind, compiled once.
    pub(crate) fn get(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Arc<Compiled>>, String> {
        let key = gvk(api_version, kind);
        if let Some(c) = self.cache.lock().expect("cache").get(&key) {
            return Ok(c.clone());
        }
        let found = self.find(api_version, kind)?;
        let compiled = match found {
            None => None,
            Some((schema, source)) => {
                let validator = jsonschema::validator_for(&schema)
                    .map_err(|e| format!("schema for {key} from {source} does not compile: {e}"))?;
                let has_cel = schema.to_string().contains("x-kubernetes-validations");
                Some(Arc::new(Compiled {
                    validator,
                    schema,
                    source,
                    has_cel,
                }))
            }
        };
        self.cache
            .lock()
            .expect("cache")
            .insert(key, compiled.clone());
        Ok(compiled)
    }

    fn find(&self, api_version: &str, kind: &str) -> Result<Option<(Value, String)>, String> {
        if let Some((s, src)) = self.crds.get(&gvk(api_version, kind)) {
            return Ok(Some((s.clone(), src.clone())));
        }
        let locations: Vec<&str> = if self.locations.is_empty() {
            vec!["default"]
        } else {
            self.locations.iter().map(String::as_str).collect()
        };
        for l in locations {
            if l == "default" {
                if let Some(s) = builtin(api_version, kind, self.strict) {
                    return Ok(Some((s, "built-in".into())));
                }
                continue;
            }
            let path = expand_location(l, api_version, kind, self.strict);
            if path.is_file() {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let s: Value = serde_json::from_str(&text)
                    .map_err(|e| format!("{}: not a JSON schema: {e}", path.display()))?;
                return Ok(Some((s, path.display().to_string())));
            }
        }
        Ok(None)
    }
}

/// Fill in a kubeconform schema-location template.
pub(crate) fn expand_location(
    template: &str,
    api_version: &str,
    kind: &str,
    strict: bool,
) -> PathBuf {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind_suffix = match group.split('.').next() {
        Some(g) if !g.is_empty() => format!("-{g}-{version}"),
        _ => format!("-{version}"),
    };
    let t = if template.contains("{{") {
        template.to_string()
    } else {
        format!(
            "{}/{{{{.ResourceKind}}}}{{{{.KindSuffix}}}}.json",
            template.trim_end_matches('/')
        )
    };
    let s = t
        .replace("{{.ResourceKind}}", &kind.to_lowercase())
        .replace("{{ .ResourceKind }}", &kind.to_lowercase())
        .replace("{{.KindSuffix}}", &kind_suffix)
        .replace("{{.Group}}", group)
        .replace("{{.ResourceAPIVersion}}", version)
        .replace("{{.NormalizedKubernetesVersion}}", "v1.34.0")
        .replace("{{.StrictSuffix}}", if strict { "-strict" } else { "" });
    PathBuf::from(s)
}

/// Read CustomResourceDefinitions: each served version's openAPIV3Schema,
/// converted as kubeconform's schema files are (`crd::convert`).
fn load_crds(path: &Path, out: &mut HashMap<String, (Value, String)>) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut objs, mut errs) = (vec![], vec![]);
    crate::manifest::parse(&path.display().to_string(), &text, &mut objs, &mut errs);
    if let Some(e) = errs.first() {
        return Err(format!("{}:{}: {}", e.file, e.line, e.message));
    }
    let values: Vec<Value> = objs.into_iter().map(|o| o.value).collect();
    let found = super::crd::versions(&values);
    if found.is_empty() {
        return Err(format!(
            "{}: no CustomResourceDefinition with a schema",
            path.display()
        ));
    }
    for (api, kind, s) in found {
        out.insert(gvk(&api, &kind), (s, format!("{} (CRD)", path.display())));
    }
    Ok(())
}

macro_rules! k8s_kinds {
    ($($api:literal, $kind:literal => $ty:ty;)*) => {
        /// apiVersion/kind pairs with a built-in Kubernetes schema.
        pub const K8S_KINDS: &[(&str, &str)] = &[$(($api, $kind)),*];
        fn k8s_schema(api: &str, kind: &str) -> Option<Value> {
            match (api, kind) {
                $(($api, $kind) => Some(serde_json::to_value(schemars::schema_for!($ty)).expect("schema")),)*
                _ => None,
            }
        }
    };
}

k8s_kinds! {
    "v1", "ConfigMap" => k8s_openapi::api::core::v1::ConfigMap;
    "v1", "Namespace" => k8s_openapi::api::core::v1::Namespace;
    "v1", "PersistentVolumeClaim" => k8s_openapi::api::core::v1::PersistentVolumeClaim;
    "v1", "Pod" => k8s_openapi::api::core::v1::Pod;
    "v1", "Secret" => k8s_openapi::api::core::v1::Secret;
    "v1", "Service" => k8s_openapi::api::core::v1::Service;
    "v1", "ServiceAccount" => k8s_openapi::api::core::v1::ServiceAccount;
    "apps/v1", "DaemonSet" => k8s_openapi::api::apps::v1::DaemonSet;
    "apps/v1", "Deployment" => k8s_openapi::api::apps::v1::Deployment;
    "apps/v1", "StatefulSet" => k8s_openapi::api::apps::v1::StatefulSet;
    "autoscaling/v2", "HorizontalPodAutoscaler" => k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    "batch/v1", "CronJob" => k8s_openapi::api::batch::v1::CronJob;
    "batch/v1", "Job" => k8s_openapi::api::batch::v1::Job;
    "networking.k8s.io/v1", "Ingress" => k8s_openapi::api::networking::v1::Ingress;
    "networking.k8s.io/v1", "NetworkPolicy" => k8s_openapi::api::networking::v1::NetworkPolicy;
    "policy/v1", "PodDisruptionBudget" => k8s_openapi::api::policy::v1::PodDisruptionBudget;
    "rbac.authorization.k8s.io/v1", "ClusterRole" => k8s_openapi::api::rbac::v1::ClusterRole;
    "rbac.authorization.k8s.io/v1", "ClusterRoleBinding" => k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    "rbac.authorization.k8s.io/v1", "Role" => k8s_openapi::api::rbac::v1::Role;
    "rbac.authorization.k8s.io/v1", "RoleBinding" => k8s_openapi::api::rbac::v1::RoleBinding;
}

macro_rules! crd_kinds {
    ($($api:literal, $kind:literal => $ty:ty;)*) => {
        /// apiVersion/kind pairs with a built-in schema generated from the
        /// upstream CRD (`builtin-crds.json`): the kinds meshpack emits.
        pub const CRD_KINDS: &[(&str, &str)] = &[$(($api, $kind)),*];
        /// The JSON Schema of meshpack's own typed struct for a kind's
        /// `spec`: what meshpack knows of it (a test checks that the
        /// generated upstream schema covers every field of it).
        pub fn typed_spec_schema(api: &str, kind: &str) -> Option<Value> {
            match (api, kind) {
                $(($api, $kind) => Some(serde_json::to_value(schemars::schema_for!($ty)).expect("schema")),)*
                _ => None,
            }
        }
    };
}

crd_kinds! {
    "security.istio.io/v1", "PeerAuthentication" => istio::peer_authentication::PeerAuthenticationSpec;
    "security.istio.io/v1", "AuthorizationPolicy" => istio::authorization_policy::AuthorizationPolicySpec;
    "networking.istio.io/v1", "DestinationRule" => istio::destination_rule::DestinationRuleSpec;
    "networking.istio.io/v1", "Gateway" => istio::gateway::GatewaySpec;
    "networking.istio.io/v1", "VirtualService" => istio::virtual_service::VirtualServiceSpec;
    "networking.istio.io/v1", "ServiceEntry" => istio::service_entry::ServiceEntrySpec;
    "networking.istio.io/v1", "Sidecar" => istio::sidecar::SidecarSpec;
    "networking.istio.io/v1", "WorkloadEntry" => istio::workload_entry::WorkloadEntrySpec;
    "telemetry.istio.io/v1", "Telemetry" => istio::telemetry::TelemetrySpec;
    "gateway.networking.k8s.io/v1", "Gateway" => gateway_api::GatewaySpec;
    "gateway.networking.k8s.io/v1", "HTTPRoute" => gateway_api::HttpRouteSpec;
    "cert-manager.io/v1", "Certificate" => istio::certificate::CertificateSpec;
}

/// The generated schemas of `CRD_KINDS`, parsed once.
fn generated() -> &'static HashMap<String, Value> {
    static SCHEMAS: std::sync::OnceLock<HashMap<String, Value>> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let file: Value =
            serde_json::from_str(include_str!("builtin-crds.json")).expect("builtin-crds.json");
        file.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "note")
            .map(|(k, v)| (k.clone(), v["schema"].clone()))
            .collect()
    })
}

/// The built-in schema of a kind (for CRD kinds the whole upstream schema).
pub fn builtin(api: &str, kind: &str, strict: bool) -> Option<Value> {
    if let Some(mut s) = k8s_schema(api, kind) {
        shape_like_upstream(&mut s, strict);
        pin(&mut s, api, kind);
        return Some(s);
    }
    let mut s = generated().get(&gvk(api, kind))?.clone();
    if !strict {
        open(&mut s);
    }
    Some(s)
}

/// Undo `close`: unknown fields allowed (`--no-strict`).
fn open(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("additionalProperties") == Some(&json!(false)) {
                o.remove("additionalProperties");
            }
            o.values_mut().for_each(open);
        }
        Value::Array(a) => a.iter_mut().for_each(open),
        _ => {}
    }
}

fn pin(s: &mut Value, api: &str, kind: &str) {
    s["properties"]["apiVersion"] = json!({"type": "string", "enum": [api]});
    s["properties"]["kind"] = json!({"type": "string", "enum": [kind]});
}

/// Close every object schema that lists properties.
fn close(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.contains_key("properties") && !o.contains_key("additionalProperties") {
                o.insert("additionalProperties".into(), json!(false));
            }
            o.values_mut().for_each(close);
        }
        Value::Array(a) => a.iter_mut().for_each(close),
        _ => {}
    }
}

fn nullable(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(t)) = o.get("type").cloned() {
                o.insert("type".into(), json!([t, "null"]));
            }
            o.values_mut().for_each(nullable);
        }
        Value::Array(a) => a.iter_mut().for_each(nullable),
        _ => {}
    }
}

/// Quantities and int-or-strings as the upstream strict schemas have them.
fn shape_like_upstream(s: &mut Value, strict: bool) {
    if strict {
        close(s);
    }
    nullable(s);
    if let Some(defs) = s.get_mut("$defs").and_then(Value::as_object_mut) {
        let fixed: BTreeMap<&str, Value> = BTreeMap::from([
            (
                "io.k8s.apimachinery.pkg.api.resource.Quantity",
                json!({"oneOf": [{"type": ["string", "null"]}, {"type": ["number", "null"]}]}),
            ),
            (
                "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                json!({"oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]}),
            ),
        ]);
        for (k, v) in fixed {
            if defs.contains_key(k) {
                defs.insert(k.into(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_follow_kubeconform() {
        let l = "/s/{{.ResourceKind}}{{.KindSuffix}}.json";
        assert_eq!(
            expand_location(l, "apps/v1", "Deployment", true),
            PathBuf::from("/s/deployment-apps-v1.json")
        );
        assert_eq!(
            expand_location(l, "v1", "Service", true),
            PathBuf::from("/s/service-v1.json")
        );
        assert_eq!(
            expand_location(
                "/i/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json",
                "networking.istio.io/v1",
                "Gateway",
                true
            ),
            PathBuf::from("/i/networking.istio.io/gateway_v1.json")
        );
        assert_eq!(
            expand_location("/k", "networking.k8s.io/v1", "NetworkPolicy", true),
            PathBuf::from("/k/networkpolicy-networking-v1.json")
        );
    }

    #[test]
    fn every_builtin_compiles() {
        let r = Registry::new(&Options {
            strict: true,
            ..Default::default()
        })
        .unwrap();
        for (api, kind) in K8S_KINDS.iter().chain(CRD_KINDS) {
            assert!(r.get(api, kind).unwrap().is_some(), "{api} {kind}");
        }
        assert!(r.get("example.com/v1", "Nope").unwrap().is_none());
    }
}
