//! Indexes the Istio-analyzer checks share, built once per run (lazily, on
//! the first check that asks) so that every check stays linear in the
//! number of objects: label selectors are answered from a (label -> pod
//! templates) index instead of a scan, Services are attached to the pod
//! templates they select once, and named objects are found by key.
//!
//! Invariant: built from `ObjectIndex` (manifests only); knows nothing of any
//! check; every map is keyed by namespace so no check loops over all
//! Services or all workloads per object.

use super::compact::Keyed;
use super::index::{string_map, ObjectIndex};
use crate::manifest::Node;
use std::collections::{BTreeMap, HashMap};

/// Istio's cluster domain, as its analyzers assume it.
pub const CLUSTER_DOMAIN: &str = "svc.cluster.local";

#[derive(Default)]
pub struct Index {
    /// (label key, label value) -> indexes into `ObjectIndex::workloads`, every
    /// namespace (selectors within one namespace, and the Services in front
    /// of a workload, are `ObjectIndex::selected_indexes` and
    /// `ObjectIndex::fronting_indexes`); keyed by the ids of
    /// `ObjectIndex::strings`.
    by_label_any: Keyed<(u32, u32)>,
    /// Namespace objects by name.
    pub namespaces: HashMap<String, usize>,
    /// Istio Gateways by (namespace, name).
    pub gateways: HashMap<(String, String), usize>,
    /// Gateway API Gateways by (namespace, name).
    pub k8s_gateways: HashMap<(String, String), usize>,
    /// Secrets by (namespace, name).
    pub secrets: HashMap<(String, String), usize>,
    /// ServiceEntry hosts (as FQDNs) with the namespaces they are exported
    /// to (`*`: all).
    se_exact: HashMap<String, Vec<String>>,
    /// Wildcard ServiceEntry hosts: (scope, `*.suffix`).
    se_wildcards: Vec<(String, String)>,
}

impl Index {
    pub fn new(set: &ObjectIndex) -> Self {
        let mut ix = Index::default();
        let mut pairs = vec![];
        for (i, w) in set.workloads.iter().enumerate() {
            for (k, v) in w.labels.iter() {
                // Every label of a workload was interned by the index.
                let key = (set.strings.id(k), set.strings.id(v));
                let key = key.0.zip(key.1).expect("workload labels are interned");
                pairs.push((key, i as u32));
            }
        }
        ix.by_label_any = Keyed::new(pairs);
        for (i, o) in set.objects.iter().enumerate() {
            let key = || (set.ns(i).to_string(), o.name().to_string());
            match (o.group(), o.kind()) {
                ("", "Namespace") => {
                    ix.namespaces.insert(o.name().to_string(), i);
                }
                ("", "Secret") => {
                    ix.secrets.insert(key(), i);
                }
                ("networking.istio.io", "Gateway") => {
                    ix.gateways.insert(key(), i);
                }
                ("gateway.networking.k8s.io", "Gateway") => {
                    ix.k8s_gateways.insert(key(), i);
                }
                ("networking.istio.io", "ServiceEntry") => {
                    let ns = set.ns(i);
                    let scopes = export_scopes(&o.value["spec"]["exportTo"], ns);
                    for h in strings(&o.value["spec"]["hosts"]) {
                        let h = fqdn(ns, h);
                        for s in &scopes {
                            if h.starts_with('*') {
                                ix.se_wildcards.push((s.clone(), h.clone()));
                            }
                            ix.se_exact.entry(h.clone()).or_default().push(s.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        ix
    }

    /// Indexes into `ObjectIndex::workloads` whose labels include all of
    /// `selector`, in every namespace (an empty selector selects nothing
    /// here; within one namespace use `ObjectIndex::selected_indexes`). Cost: the
    /// shortest candidate list of one of the selector's labels.
    pub fn select_any(&self, set: &ObjectIndex, selector: &BTreeMap<String, String>) -> Vec<usize> {
        let lists: Vec<&[u32]> = selector
            .iter()
            .map(|(k, v)| {
                let key = set.strings.id(k).zip(set.strings.id(v));
                key.map_or(&[][..], |k| self.by_label_any.get(&k))
            })
            .collect();
        let Some(shortest) = lists.iter().min_by_key(|l| l.len()) else {
            return vec![];
        };
        shortest
            .iter()
            .copied()
            .filter(|w| lists.iter().all(|l| l.binary_search(w).is_ok()))
            .map(|w| w as usize)
            .collect()
    }

    /// Whether a ServiceEntry exported to namespace `ns` declares `host`
    /// (read in `ns`), exactly or by a wildcard: Istio's
    /// `util.GetDestinationHost` for ServiceEntries.
    pub fn service_entry_visible(&self, host: &str, ns: &str) -> bool {
        let h = fqdn(ns, host);
        let in_scope = |s: &str| s == "*" || s == ns;
        self.se_exact
            .get(&h)
            .is_some_and(|scopes| scopes.iter().any(|s| in_scope(s)))
            || self.se_wildcards.iter().any(|(s, w)| {
                in_scope(s)
                    && h.trim_start_matches('*')
                        .ends_with(w.trim_start_matches('*'))
            })
    }
}

/// `key=value,...` in label order, as Kubernetes prints a selector.
pub fn selector_string(sel: &BTreeMap<String, String>) -> String {
    sel.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The pod spec and pod metadata of a workload object (a Pod or the pod
/// template of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or
/// CronJob). In `validate` the spec holds only what `validate/retain.rs`
/// keeps (`POD_KEEPS`, `CONTAINER_KEEPS`).
pub fn pod_template(v: &Node) -> Option<(&Node, &Node)> {
    match v["kind"].as_str()? {
        "Pod" => Some((&v["metadata"], &v["spec"])),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            let t = &v["spec"]["template"];
            Some((&t["metadata"], &t["spec"]))
        }
        "CronJob" => {
            let t = &v["spec"]["jobTemplate"]["spec"]["template"];
            Some((&t["metadata"], &t["spec"]))
        }
        _ => None,
    }
}

/// Whether a pod template runs with an Istio sidecar, as Istio's analyzers
/// decide it (`util/in_mesh.go`): an `istio-proxy` container, else the
/// `sidecar.istio.io/inject` label, else the annotation, else the
/// `istio-injection=enabled` label of its Namespace when that is in the set.
pub fn in_mesh(set: &ObjectIndex, ix: &Index, workload: usize) -> bool {
    let w = &set.workloads[workload];
    let Some((_, spec)) = pod_template(&set.objects[w.object].value) else {
        return false;
    };
    let has_proxy = ["containers", "initContainers"].iter().any(|k| {
        spec[*k]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["name"] == "istio-proxy")
    });
    if has_proxy {
        return true;
    }
    for m in [&w.labels, &w.annotations] {
        if let Some(v) = m.get("sidecar.istio.io/inject") {
            return v == "true";
        }
    }
    ix.namespaces.get(&*w.namespace).is_some_and(|n| {
        string_map(&set.objects[*n].value["metadata"]["labels"])
            .get("istio-injection")
            .is_some_and(|v| v == "enabled")
    })
}

/// Whether a workload runs in ambient mode: its pod template, or its
/// Namespace in the set, is labelled `istio.io/dataplane-mode=ambient` (the
/// template-time form of the redirection annotation Istio's analyzers read
/// from running pods), and the namespace does not ask for sidecars.
pub fn in_ambient(set: &ObjectIndex, ix: &Index, workload: usize) -> bool {
    let w = &set.workloads[workload];
    if let Some(m) = w.labels.get("istio.io/dataplane-mode") {
        return m == "ambient";
    }
    namespace_ambient(set, ix, &w.namespace)
}

/// `util.NamespaceInAmbientMode`: labelled ambient, and neither
/// `istio-injection=enabled` nor `istio.io/rev`.
pub fn namespace_ambient(set: &ObjectIndex, ix: &Index, ns: &str) -> bool {
    let Some(n) = ix.namespaces.get(ns) else {
        return false;
    };
    let labels = string_map(&set.objects[*n].value["metadata"]["labels"]);
    if labels
        .get("istio-injection")
        .is_some_and(|v| v == "enabled")
        || labels.get("istio.io/rev").is_some_and(|v| !v.is_empty())
    {
        return false;
    }
    labels
        .get("istio.io/dataplane-mode")
        .is_some_and(|v| v == "ambient")
}

/// Istio's `ConvertHostToFQDN`: a short name (no dot, no wildcard) is a
/// Service of `ns`.
pub fn fqdn(ns: &str, host: &str) -> String {
    if !host.starts_with('*') && !host.contains('.') {
        format!("{host}.{ns}.{CLUSTER_DOMAIN}")
    } else {
        host.to_string()
    }
}

/// Istio's `host.Name.Matches`: two hosts overlap when equal, or when a
/// wildcard of one covers the other.
pub fn hosts_overlap(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (Some(sa), Some(sb)) => {
            if sa.len() < sb.len() {
                sb.ends_with(sa)
            } else {
                sa.ends_with(sb)
            }
        }
        (Some(sa), None) => b.ends_with(sa),
        (None, Some(sb)) => a.ends_with(sb),
        (None, None) => a == b,
    }
}

/// A string list field (`exportTo`, `hosts`).
pub fn strings(v: &Node) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Node::as_str)
        .collect()
}

/// The namespaces an `exportTo` list exports to (`*` = all; `.` is `ns`).
pub fn export_scopes(v: &Node, ns: &str) -> Vec<String> {
    let ex = strings(v);
    if ex.is_empty() || ex.contains(&"*") {
        vec!["*".into()]
    } else {
        ex.iter()
            .map(|e| if *e == "." { ns } else { e }.to_string())
            .collect()
    }
}

/// Services Istio's port-name analyzers skip: the control plane's
/// (`util.IsIstioControlPlane`: an `istio` label or `release: istio`), the
/// gateways and waypoints Istio deploys (`gateway.istio.io/managed`), and
/// those in the system namespaces its test data names (kube-system,
/// kube-public, istio-system).
pub fn istio_managed_service(o: &super::object::Object, ns: &str) -> bool {
    let labels = &o.value["metadata"]["labels"];
    labels.get("istio").is_some()
        || labels["release"] == "istio"
        || labels["gateway.istio.io/managed"]
            .as_str()
            .is_some_and(|v| {
                [
                    "istio.io-gateway-controller",
                    "istio.io-mesh-controller",
                    "istio.io-eastwest-controller",
                ]
                .contains(&v)
            })
        || ["kube-system", "kube-public", "istio-system"].contains(&ns)
}

/// `ns/name` or a short `name` in `ns` (Istio's `NewShortOrFullName`).
pub fn short_or_full<'a>(ns: &'a str, name: &'a str) -> (&'a str, &'a str) {
    name.split_once('/').unwrap_or((ns, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::objects;
    use crate::manifest::ObjectIndex;

    #[test]
    fn select_uses_every_label_and_the_namespace() {
        let objs = objects(
            "
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a, tier: web}}
spec: {containers: [{name: c, image: i:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b, tier: web}}
spec: {containers: [{name: c, image: i:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: y, labels: {app: a, tier: web}}
spec: {containers: [{name: c, image: i:1}]}
",
        );
        let set = ObjectIndex::new(&objs, "default");
        let ix = Index::new(&set);
        // One namespace: the ObjectIndex's index; every namespace: this one.
        let in_ns = |ns: &str, s: &BTreeMap<String, String>| -> Vec<usize> {
            set.selected_indexes(ns, s).collect()
        };
        let sel = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let names = |ws: Vec<usize>| -> Vec<String> {
            ws.into_iter()
                .map(|w| objs[set.workloads[w].object].name().to_string())
                .collect()
        };
        assert_eq!(
            names(in_ns("x", &sel(&[("app", "a"), ("tier", "web")]))),
            vec!["a"]
        );
        assert_eq!(names(in_ns("x", &sel(&[("tier", "web")]))), vec!["a", "b"]);
        assert_eq!(
            names(ix.select_any(&set, &sel(&[("app", "a")]))),
            vec!["a", "c"]
        );
        assert_eq!(names(in_ns("x", &sel(&[]))), vec!["a", "b"]);
        assert_eq!(
            names(in_ns("x", &sel(&[("app", "zzz")]))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn hosts_overlap_like_istio() {
        assert!(hosts_overlap("*.example.com", "a.example.com"));
        assert!(hosts_overlap("a.example.com", "*.example.com"));
        assert!(hosts_overlap("*.example.com", "*.a.example.com"));
        assert!(hosts_overlap("*", "a.example.com"));
        assert!(!hosts_overlap("a.example.com", "b.example.com"));
        assert_eq!(fqdn("shop", "api"), "api.shop.svc.cluster.local");
        assert_eq!(fqdn("shop", "api.other"), "api.other");
    }
}
