//! Attach mode: services that already exist, deployed by the vendor's own
//! chart or manifests. meshpack renders only their mesh layer and finds
//! their pods by selector, their identity by ServiceAccount and their
//! address by Service name.
//!
//! Invariant: an attached service carries no workload settings (image,
//! replicas, versions, storage, env, health path, resources, security
//! context): someone else renders its pods, and a setting meshpack cannot
//! apply is an error, not ignored.

use super::{is_dns_label, is_dns_subdomain, names, Resolver};
use crate::policy;

#[derive(Debug, Clone, PartialEq)]
pub struct Attach {
    /// Kind of the vendor's workload (what the Kustomize patch targets).
    pub kind: policy::AttachKind,
    /// Object name of the vendor's workload.
    pub workload: String,
    /// Labels of its pods, sorted by key.
    pub selector: Vec<(String, String)>,
    /// The pods' ServiceAccount.
    pub service_account: String,
    /// The Kubernetes Service clients call.
    pub service: String,
}

impl Resolver<'_> {
    /// A release's pods are either all the vendor's or all meshpack's: the
    /// release-wide NetworkPolicies select one kind of pod label
    /// (`meshpack.dev/mesh` or the chart's selector labels), not both.
    pub(super) fn check_attach_not_mixed(&mut self, services: &[super::Service]) {
        let attached = services.iter().find(|s| s.attach.is_some());
        let generated = services.iter().find(|s| s.attach.is_none());
        if let (Some(a), Some(g)) = (attached, generated) {
            self.err_key(
                "E0293",
                &format!("spec.services.{}", g.name),
                format!(
                    "`{}` is generated but `{}` is attached; a policy attaches all its services or none",
                    g.name, a.name
                ),
                format!("add `attach: {{}}` to `{}` (its chart deploys it) or write a second policy for the generated services", g.name),
            );
        }
    }

    pub(super) fn attach(&mut self, name: &str, s: &policy::Service) -> Option<Attach> {
        let a = s.attach.as_ref()?;
        let path = format!("spec.services.{name}");
        let set = [
            ("image", s.image.is_some()),
            ("versions", !s.versions.is_empty()),
            ("replicas", s.replicas.is_some()),
            ("storage", s.storage.is_some()),
            ("env", !s.env.is_empty()),
            ("healthPath", s.health_path.is_some()),
            ("resources", s.resources.is_some()),
            (
                "readOnlyRootFilesystem",
                s.read_only_root_filesystem.is_some(),
            ),
            ("runAsUser", s.run_as_user.is_some()),
        ];
        for (field, present) in set.into_iter().chain(super::pod::fields_set(s)) {
            if present {
                self.err_key(
                    "E0290",
                    &format!("{path}.{field}"),
                    format!("`{name}` is attached, so meshpack does not render its pods and cannot apply `{field}`"),
                    format!("set it in the chart or manifests that deploy `{name}`, or remove `attach:` to let meshpack generate the workload"),
                );
            }
        }
        if s.workload != policy::Workload::Deployment {
            self.err_key(
                "E0290",
                &format!("{path}.workload"),
                format!("`{name}` is attached; its kind goes in `attach.workload.kind`"),
                "write `attach: {workload: {kind: StatefulSet}}`".into(),
            );
        }
        let kind = a
            .workload
            .as_ref()
            .map_or(policy::AttachKind::Deployment, |w| w.kind);
        // Names left out default to the service's name, which E0210 has
        // checked (a DNS-1035 label is also a DNS-1123 subdomain): only a
        // name the policy writes is checked here, so each error has a place.
        let given_workload = a.workload.as_ref().and_then(|w| w.name.clone());
        let workload = given_workload.clone().unwrap_or_else(|| name.to_string());
        if given_workload.is_some() && !is_dns_subdomain(&workload) {
            self.err(
                "E0291",
                &format!("{path}.attach.workload.name"),
                format!("`{workload}` is not a Kubernetes object name"),
                "use lowercase letters, digits, `-` and `.`".into(),
            );
        }
        let service_account = a
            .service_account
            .clone()
            .unwrap_or_else(|| name.to_string());
        if a.service_account.is_some() && !is_dns_subdomain(&service_account) {
            self.err(
                "E0291",
                &format!("{path}.attach.serviceAccount"),
                format!("`{service_account}` is not a ServiceAccount name"),
                "use lowercase letters, digits, `-` and `.`".into(),
            );
        }
        let service = a.service.clone().unwrap_or_else(|| name.to_string());
        if a.service.is_some() && !is_dns_label(&service) {
            self.err(
                "E0291",
                &format!("{path}.attach.service"),
                format!("`{service}` is not a Service name"),
                "Service names are DNS-1035 labels: lowercase letters, digits and `-`, starting with a letter".into(),
            );
        }
        for (k, v) in a.selector.iter().flatten() {
            let at = format!("{path}.attach.selector.{k}");
            self.name_key(names::Rule::LabelKey, "E0292", &at, k, "a label key");
            self.name(names::Rule::LabelValue, "E0292", &at, v, "a label value");
        }
        let selector: Vec<(String, String)> = match &a.selector {
            Some(sel) => sel.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            None => vec![("app".into(), name.to_string())],
        };
        if selector.is_empty() {
            self.err_key(
                "E0292",
                &format!("{path}.attach.selector"),
                format!(
                    "`{name}` has an empty selector, which would select every pod of the namespace"
                ),
                "give the labels its Service selects, e.g. `selector: {app: frontend}`".into(),
            );
        }
        Some(Attach {
            kind,
            workload,
            selector,
            service_account,
            service,
        })
    }
}
