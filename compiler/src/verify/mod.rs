//! Who can talk to whom, read from rendered manifests: an evaluator of
//! Istio AuthorizationPolicy and PeerAuthentication, Istio egress
//! (Sidecar + ServiceEntry) and Kubernetes NetworkPolicy semantics.
//!
//! Invariant: reads manifests only (through `crate::manifest`); it never
//! uses the compiler's model, so `meshpack verify` checks the compiler's
//! output independently. Only the *intent* side (`intent.rs`) reads the
//! policy, through the model.
//!
//! Requests are probed concretely: for each source, destination workload
//! and port, a set of (method, path) probes derived from every pattern that
//! appears on either side is evaluated, and the allowed probes are compared.

pub(crate) mod additions;
pub(crate) mod ingress;
pub(crate) mod injection;
pub mod intent;
pub(crate) mod istio;
pub(crate) mod netpol;
pub mod output;
pub(crate) mod values;

use crate::manifest::istio::{principal_parts, principals, protocol};
use crate::manifest::Object;
use crate::manifest::{Node, View};
use std::collections::{BTreeMap, BTreeSet};

/// Between a service and its version in a source's name: `reviews@v2`
/// is the pods of `reviews` labelled `version: v2`, a source of its own
/// where the policy scopes a rule to that version.
pub const VERSION_SEP: char = '@';

/// The pod label that tells a service's versions apart (Istio's convention).
/// <https://istio.io/latest/docs/ops/deployment/application-requirements/#pod-requirements>
pub const VERSION_LABEL: &str = "version";

/// The name of one version of a service as a source: `reviews@v2`.
pub fn versioned(service: &str, version: &str) -> String {
    format!("{service}{VERSION_SEP}{version}")
}

/// The service of a source name, without its version.
pub fn unversioned(name: &str) -> &str {
    name.split_once(VERSION_SEP).map_or(name, |(s, _)| s)
}

/// A party that opens connections.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// A workload of the set, by its label (service) name.
    Workload(String),
    /// A workload outside the set, known by namespace and ServiceAccount.
    Identity {
        namespace: String,
        service_account: String,
    },
    /// Pods outside the set whose labels NetworkPolicies select, with
    /// their identity: a `gateway/<name>` source (the gateway's pod
    /// labels), or Prometheus when its pod labels are given.
    Pods {
        namespace: String,
        service_account: String,
        labels: BTreeMap<String, String>,
    },
    /// Any other pod in another namespace, with an identity no rule names.
    Stranger,
    /// A client without mTLS (no identity).
    Plaintext,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Workload(w) => f.write_str(w),
            Source::Identity {
                namespace,
                service_account,
            }
            | Source::Pods {
                namespace,
                service_account,
                ..
            } => write!(f, "{namespace}/{service_account}"),
            Source::Stranger => f.write_str("(any other workload)"),
            Source::Plaintext => f.write_str("(plaintext client)"),
        }
    }
}

/// A workload of the set, as the evaluators need it.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `app.kubernetes.io/component`, else the object name.
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
    /// Container ports: number -> (name, is HTTP as its Service declares).
    pub ports: BTreeMap<u16, (String, bool)>,
    /// An Envoy sidecar is injected.
    pub injected: bool,
    /// Enrolled in Istio's ambient data plane (ztunnel; no sidecar).
    pub ambient: bool,
}

impl Workload {
    /// Whether the workload speaks mTLS with a mesh identity.
    pub fn in_mesh(&self) -> bool {
        self.injected || self.ambient
    }
}

/// An HTTP request probe; `None` fields for TCP.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Probe {
    pub method: Option<String>,
    pub path: Option<String>,
}

/// The rendered objects and their workloads, read once (named apart from
/// `manifest::ObjectIndex`, which it is built with).
pub struct Rendered {
    pub objects: Vec<Object>,
    pub workloads: Vec<Workload>,
    pub trust_domain: String,
}

/// Which layers the set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    pub istio: bool,
    pub netpol: bool,
    /// Some workload is on the ambient data plane: Istio does not limit its
    /// egress by host (there is no sidecar), so egress intent is projected
    /// onto ports as for NetworkPolicies.
    pub ambient: bool,
}

impl Rendered {
    pub fn new(objects: Vec<Object>, default_namespace: &str, trust_domain: &str) -> Self {
        let cset = crate::manifest::ObjectIndex::new(&objects, default_namespace);
        // Namespace labels, where the set holds the Namespace (injection).
        let ns_labels: BTreeMap<&str, BTreeMap<String, String>> = objects
            .iter()
            .filter(|o| o.kind() == "Namespace" && o.api_version() == "v1")
            .map(|o| {
                let labels = o.value["metadata"]["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.to_string())))
                    .collect();
                (o.name(), labels)
            })
            .collect();
        let no_labels = BTreeMap::new();
        let mut workloads = vec![];
        for w in &cset.workloads {
            let o = &objects[w.object];
            let name = w
                .labels
                .get("app.kubernetes.io/component")
                .unwrap_or(o.name())
                .to_string();
            let mut ports = BTreeMap::new();
            for (pname, num) in w.ports.iter() {
                // Istio reads the protocol from the Service port that targets
                // this container port.
                let http = cset.services_in(&w.namespace).any(|s| {
                    !s.selector.is_empty()
                        && s.selector.iter().all(|(k, v)| w.labels.get(k) == Some(v))
                        && s.ports.iter().any(|sp| {
                            let targets = match sp.target.view() {
                                View::String(t) => **t == **pname,
                                View::Number(n) => n.as_u64() == Some(*num),
                                _ => sp.port == *num,
                            };
                            targets && protocol(&sp.name, sp.app_protocol.as_deref()) == Some(true)
                        })
                });
                ports.insert(*num as u16, (pname.to_string(), http));
            }
            let labels = w.labels.to_map();
            let injected = injection::injected(
                &labels,
                &w.annotations.to_map(),
                ns_labels.get(&*w.namespace).unwrap_or(&no_labels),
            );
            let ambient = w.labels.get("istio.io/dataplane-mode") == Some("ambient");
            workloads.push(Workload {
                name,
                namespace: w.namespace.to_string(),
                labels,
                service_account: w.service_account.to_string(),
                ports,
                injected: injected && !ambient,
                ambient,
            });
        }
        Rendered {
            objects,
            workloads,
            trust_domain: trust_domain.to_string(),
        }
    }

    pub fn layers(&self) -> Layers {
        let has = |g: &str, k: &str| {
            self.objects
                .iter()
                .any(|o| o.kind() == k && o.group().ends_with(g))
        };
        Layers {
            istio: has("security.istio.io", "AuthorizationPolicy")
                || has("security.istio.io", "PeerAuthentication"),
            netpol: has("networking.k8s.io", "NetworkPolicy"),
            ambient: self.workloads.iter().any(|w| w.ambient),
        }
    }

    /// The workload of a service by its label name, or of one version of
    /// it by `<service>@<version>` (the pods labelled `version: <version>`,
    /// as Istio's convention and meshpack's Deployments label them).
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        match name.split_once(VERSION_SEP) {
            Some((service, version)) => self.workloads.iter().find(|w| {
                w.name == service
                    && w.labels.get(VERSION_LABEL).map(String::as_str) == Some(version)
            }),
            None => self.workloads.iter().find(|w| w.name == name),
        }
    }

    /// The workloads as sources, read from the set alone: by service name,
    /// except where the versions of a service (`version` label) run under
    /// different ServiceAccounts, and so can be allowed apart: then each
    /// version is a source of its own, `<service>@<version>`.
    pub fn workload_sources(&self) -> BTreeSet<Source> {
        let mut accounts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for w in &self.workloads {
            accounts
                .entry(w.name.as_str())
                .or_default()
                .insert(w.service_account.as_str());
        }
        self.workloads
            .iter()
            .map(|w| match w.labels.get(VERSION_LABEL) {
                Some(v) if accounts[w.name.as_str()].len() > 1 => {
                    Source::Workload(versioned(&w.name, v))
                }
                _ => Source::Workload(w.name.clone()),
            })
            .collect()
    }

    /// Identities outside the set that some rule names, so the matrix shows them.
    pub(crate) fn outside_identities(&self) -> BTreeSet<Source> {
        let mut out = BTreeSet::new();
        for o in self
            .objects
            .iter()
            .filter(|o| o.kind() == "AuthorizationPolicy")
        {
            let default_ns = o.namespace("");
            for (ns, sa) in principals(o)
                .filter_map(principal_parts)
                .chain(service_accounts(o, default_ns))
            {
                let known = self
                    .workloads
                    .iter()
                    .any(|w| w.namespace == ns && w.service_account == sa);
                if !known && !ns.contains('*') && !sa.contains('*') {
                    out.insert(Source::Identity {
                        namespace: ns.to_string(),
                        service_account: sa.to_string(),
                    });
                }
            }
        }
        out
    }

    /// Every path and method pattern the set's AuthorizationPolicies name.
    pub(crate) fn http_patterns(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let (mut paths, mut methods) = (BTreeSet::new(), BTreeSet::new());
        for o in self
            .objects
            .iter()
            .filter(|o| o.kind() == "AuthorizationPolicy")
        {
            for r in o.value["spec"]["rules"].as_array().into_iter().flatten() {
                for t in r["to"].as_array().into_iter().flatten() {
                    let op = &t["operation"];
                    for k in ["paths", "notPaths"] {
                        paths.extend(
                            op[k]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(Node::as_str)
                                .map(str::to_string),
                        );
                    }
                    for k in ["methods", "notMethods"] {
                        methods.extend(
                            op[k]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(Node::as_str)
                                .map(str::to_string),
                        );
                    }
                }
            }
        }
        (paths, methods)
    }

    /// Source facts for the evaluators.
    pub(crate) fn source_facts(&self, s: &Source) -> SourceFacts {
        match s {
            Source::Workload(n) => {
                let w = self.workload(n).expect("source workload");
                SourceFacts {
                    principal: Some(format!(
                        "{}/ns/{}/sa/{}",
                        self.trust_domain, w.namespace, w.service_account
                    )),
                    namespace: Some(w.namespace.clone()),
                    labels: Some(w.labels.clone()),
                    workload: Some(w.clone()),
                }
            }
            Source::Identity {
                namespace,
                service_account,
            } => SourceFacts {
                principal: Some(format!(
                    "{}/ns/{namespace}/sa/{service_account}",
                    self.trust_domain
                )),
                namespace: Some(namespace.clone()),
                labels: None,
                workload: None,
            },
            Source::Pods {
                namespace,
                service_account,
                labels,
            } => SourceFacts {
                principal: Some(format!(
                    "{}/ns/{namespace}/sa/{service_account}",
                    self.trust_domain
                )),
                namespace: Some(namespace.clone()),
                labels: Some(labels.clone()),
                workload: None,
            },
            Source::Stranger => SourceFacts {
                principal: Some(format!(
                    "{}/ns/meshpack-stranger/sa/stranger",
                    self.trust_domain
                )),
                namespace: Some("meshpack-stranger".into()),
                labels: None,
                workload: None,
            },
            Source::Plaintext => SourceFacts {
                principal: None,
                namespace: None,
                labels: None,
                workload: None,
            },
        }
    }
}

/// `source.serviceAccounts` pairs: shared with `validate`'s checks.
pub(crate) use crate::manifest::istio::service_accounts;

/// What a destination can know about a source.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    /// SPIFFE principal when it speaks mTLS.
    pub principal: Option<String>,
    pub namespace: Option<String>,
    /// Pod labels, when the pod is in the set (NetworkPolicy podSelectors).
    pub labels: Option<BTreeMap<String, String>>,
    pub workload: Option<Workload>,
}

/// Istio's string match: exact, `prefix*`, `*suffix`, or `*`.
/// <https://istio.io/latest/docs/reference/config/security/authorization-policy/#Rule>
pub(crate) fn string_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    pattern == value
}

/// Concrete paths that tell patterns apart.
pub(crate) fn probe_paths<'a>(patterns: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = ["/".to_string(), "/meshpack-unlisted".to_string()].into();
    for p in patterns {
        if p == "*" {
            continue;
        } else if let Some(prefix) = p.strip_suffix('*') {
            out.insert(prefix.to_string());
            out.insert(format!("{prefix}meshpack-probe"));
            out.insert(prefix.trim_end_matches('/').to_string());
        } else if let Some(suffix) = p.strip_prefix('*') {
            out.insert(format!("/meshpack-probe{suffix}"));
        } else {
            out.insert(p.to_string());
            out.insert(format!("{p}/meshpack-probe"));
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

pub(crate) fn probes(
    http: bool,
    methods: &BTreeSet<String>,
    paths: &BTreeSet<String>,
) -> Vec<Probe> {
    if !http {
        return vec![Probe {
            method: None,
            path: None,
        }];
    }
    let mut ms: BTreeSet<String> = METHODS.iter().map(|m| m.to_string()).collect();
    ms.extend(methods.iter().cloned());
    let mut out = vec![];
    for m in &ms {
        for p in paths {
            out.push(Probe {
                method: Some(m.clone()),
                path: Some(p.clone()),
            });
        }
    }
    out
}

/// One cell of the matrix: which probes of (source, destination, port) pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Denied,
    /// Every probe passes.
    Any,
    /// Only these probes pass.
    Some(BTreeSet<Probe>),
}

impl Access {
    pub fn from_probes(all: &[Probe], allowed: BTreeSet<Probe>) -> Self {
        if allowed.is_empty() {
            Access::Denied
        } else if allowed.len() == all.len() {
            Access::Any
        } else {
            Access::Some(allowed)
        }
    }
}

/// A destination column: a workload's port, or an external host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dest {
    Port {
        workload: String,
        port: u16,
        name: String,
    },
    External {
        host: String,
        port: u16,
    },
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Port {
                workload,
                port,
                name,
            } => write!(f, "{workload}:{port} ({name})"),
            Dest::External { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

pub type Matrix = BTreeMap<(Source, Dest), Access>;
