//! The resolution of a whole policy: `resolve`, the `Resolver` every part
//! of `model/` reports its diagnostics through, and the release-wide parts
//! (the model's fields, the mesh runtime).
//!
//! Invariant: every diagnostic goes through the `Resolver`, at the position
//! of the node that caused it, and resolution goes on after an error so one
//! run reports them all.

use super::types::Index;
use super::*;
use crate::diag::{suggest, Diagnostic, Diagnostics};
use crate::policy::{self, PortRef, Spans};
use std::collections::BTreeMap;

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

pub(super) struct Resolver<'a> {
    pub(super) spans: &'a Spans,
    pub(super) diags: Diagnostics,
}

impl Resolver<'_> {
    pub(super) fn err(&mut self, code: &'static str, path: &str, msg: String, help: String) {
        let d = Diagnostic::error(code, msg)
            .at(self.spans.value(path))
            .help(help);
        self.diags.push(d);
    }

    pub(super) fn err_key(&mut self, code: &'static str, path: &str, msg: String, help: String) {
        let d = Diagnostic::error(code, msg)
            .at(self.spans.key(path))
            .help(help);
        self.diags.push(d);
    }

    /// Check a name against the rule of the Kubernetes field it lands in
    /// (the value at `path`); `what` names it for the message.
    pub(super) fn name(
        &mut self,
        rule: names::Rule,
        code: &'static str,
        path: &str,
        s: &str,
        what: &str,
    ) {
        if let Some((msg, help)) = name_problem(rule, s, what) {
            self.err(code, path, msg, help);
        }
    }

    /// [`Self::name`] for a name that is a key (pointed at as a key).
    pub(super) fn name_key(
        &mut self,
        rule: names::Rule,
        code: &'static str,
        path: &str,
        s: &str,
        what: &str,
    ) {
        if let Some((msg, help)) = name_problem(rule, s, what) {
            self.err_key(code, path, msg, help);
        }
    }

    pub(super) fn model(
        &mut self,
        doc: &policy::PolicyFile,
        profile: &str,
        st: &policy::Settings,
    ) -> Model {
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
        } else if !names::check(names::Rule::LabelValue, &spec.version) {
            // The chart labels every object `app.kubernetes.io/version` and
            // every pod `service.istio.io/canonical-revision` with it.
            self.err(
                "E0203",
                "spec.version",
                format!("`{}` cannot be a label value (objects carry it as `app.kubernetes.io/version`)", spec.version),
                "label values are at most 63 letters, digits, `-`, `_` and `.`: drop the build metadata (`+...`) or shorten the pre-release".into(),
            );
        } else if name.len() + 1 + spec.version.len() > 63 {
            self.err(
                "E0203",
                "spec.version",
                format!(
                    "`{name}-{}` (the `helm.sh/chart` label) is {} characters; label values stop at 63",
                    spec.version,
                    name.len() + 1 + spec.version.len()
                ),
                "shorten the version's pre-release part or the policy name".into(),
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
            .filter_map(|(n, s)| self.external(&name, n, s))
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
        // Sorted and without repeats, as a BTreeSet would hold them: one
        // sort at the end is cheaper than 30,000 ordered inserts comparing
        // names (10,000 services, perf).
        let mut edges = vec![];
        let mut to_externals = vec![];
        for (i, rule) in spec.allow.iter().enumerate() {
            let (es, xs) = self.rule(i, rule, &index, &ext_index, &spec.gateways);
            edges.extend(es);
            to_externals.extend(xs);
        }
        edges.sort_unstable();
        edges.dedup();
        let edges: Vec<Edge> = edges;
        self.check_routes_allowed(&gateways, &edges);
        self.check_mtls_for_rules(
            st.mtls.map(MtlsMode::from).unwrap_or(MtlsMode::Strict),
            &services,
            &edges,
        );
        let mut egress: Vec<Egress> = spec
            .egress
            .iter()
            .enumerate()
            .map(|(i, e)| self.egress(i, e, &index))
            .collect();
        self.check_egress_protocols(&egress);
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
        let model = Model {
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
            mtls: st.mtls.map(MtlsMode::from).unwrap_or(MtlsMode::Strict),
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
            service_names: spec.service_names.unwrap_or_default().into(),
            index: Index::default(),
        }
        .with_index();
        self.check_derived_names(&model);
        model
    }
}

impl Resolver<'_> {
    pub(super) fn mesh(&mut self, spec: &policy::Spec, st: &policy::Settings) -> MeshRuntime {
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
            dataplane: st
                .dataplane
                .map(Dataplane::from)
                .unwrap_or(Dataplane::Sidecar),
            revision,
            proxy,
            control_plane,
            ztunnel,
        }
    }

    pub(super) fn unknown_port(
        &mut self,
        path: &str,
        svc: &str,
        port: &str,
        ports: &[Port],
        key: bool,
    ) {
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

    pub(super) fn unknown_service(
        &mut self,
        path: &str,
        name: &str,
        index: &BTreeMap<&str, &Service>,
    ) {
        let names: Vec<&str> = index.keys().copied().collect();
        self.unknown_name(path, name, &names);
    }

    pub(super) fn unknown_name(&mut self, path: &str, name: &str, names: &[&str]) {
        let help = match suggest(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("known services: {}", names.join(", ")),
        };
        self.err("E0231", path, format!("unknown service `{name}`"), help);
    }

    pub(super) fn port_ref<'s>(
        &mut self,
        path: &str,
        svc: &'s Service,
        p: &PortRef,
    ) -> Option<&'s Port> {
        let found = match p {
            PortRef::Name(n) => svc.port(n),
            PortRef::Number(n) => svc.ports.iter().find(|x| u64::from(x.port) == *n),
        };
        if found.is_none() {
            self.unknown_port(path, &svc.name, &p.to_string(), &svc.ports, false);
        }
        found
    }
}

/// One entry per external service port, listing every service allowed to it.
pub(super) fn merge_external_egress(entries: Vec<Egress>) -> Vec<Egress> {
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

pub(super) fn resources_of(r: &policy::Resources) -> Resources {
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

/// The message and help for a name that breaks its Kubernetes rule, if it does.
fn name_problem(rule: names::Rule, s: &str, what: &str) -> Option<(String, String)> {
    (!names::check(rule, s)).then(|| {
        (
            format!("{} is not {what}", crate::diag::quoted(s)),
            format!("write {}", rule.expected()),
        )
    })
}
