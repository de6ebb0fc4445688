//! The object index: the workloads (pod templates, Pods, WorkloadEntries,
//! the pods Istio deploys for Gateway API Gateways) and Services of a set
//! of manifests, and the lookups `validate`'s checks and `verify`'s
//! evaluators share, built once.
//!
//! Invariant: built from manifests only (never the compiler's model), so
//! the checkers stay independent witnesses of the compiler; every lookup
//! answers from an index (`lookup`, `analysis`), never by scanning every
//! object per question.

use super::analysis;
use super::compact::{Keyed, Labels, Selector, Strings};
use super::istio::split_host;
use super::lookup::Lookup;
use super::node::Str;
use super::object::Object;
use crate::manifest::{Node, View};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// The pod template of a workload object (a Pod's own metadata and spec),
/// as (metadata, spec); `None` for kinds that hold no pod. In `validate`
/// the spec holds only what `validate/retain.rs` keeps (`POD_KEEPS`,
/// `CONTAINER_KEEPS`): a check that reads another field must add it there.
pub fn pod_template(o: &Object) -> Option<(&Node, &Node)> {
    match o.kind() {
        "Pod" => Some((&o.value["metadata"], &o.value["spec"])),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some((
            &o.value["spec"]["template"]["metadata"],
            &o.value["spec"]["template"]["spec"],
        )),
        "CronJob" => {
            let t = &o.value["spec"]["jobTemplate"]["spec"]["template"];
            Some((&t["metadata"], &t["spec"]))
        }
        _ => None,
    }
}

/// A pod template (or Pod) with what the checks need of it.
/// Strings are shared through the index's [`Strings`] (see `compact`: the
/// objects' own, 8 bytes each), label maps are the objects' own where they
/// can be, and port lists are shared by every row with the same list (most
/// workloads of a chart expose the same one or two ports: at a million
/// objects a list per row was 5 MB). 56 bytes.
pub struct Workload {
    pub object: usize,
    pub namespace: Str,
    pub labels: Labels,
    pub annotations: Labels,
    pub service_account: Str,
    /// Container ports: (name, number).
    pub ports: Arc<[(Str, u64)]>,
}

/// 40 bytes.
pub struct ServicePort {
    pub name: Str,
    pub port: u64,
    pub target: Node,
    pub app_protocol: Option<Str>,
}

/// 48 bytes.
pub struct Svc {
    pub object: usize,
    pub namespace: Str,
    pub name: Str,
    pub selector: Labels,
    /// Shared by the Services whose trees share one port list.
    pub ports: Arc<[ServicePort]>,
}

/// The objects under check, with indexes built once.
pub struct ObjectIndex<'a> {
    pub objects: &'a [Object],
    pub default_namespace: &'a str,
    pub workloads: Vec<Workload>,
    pub services: Vec<Svc>,
    /// Every namespace, name, label, service account and port name of
    /// the workloads and Services, once each; the maps below key on their
    /// ids.
    pub(crate) strings: Strings,
    /// Indexes into `services` by (namespace, name) (sorted by key, one
    /// per key: 12 bytes a Service, where a `HashMap` took about 27) and by
    /// namespace, and the rest in `index`: checks stay linear on large
    /// sets.
    services_by_name: Box<[((u32, u32), u32)]>,
    services_of_ns: Keyed<u32>,
    index: Lookup,
    /// The shared indexes of the Istio-analyzer checks, built on first use
    /// (a `OnceLock`: the checks run on several threads).
    analysis: std::sync::OnceLock<analysis::Index>,
}

pub fn string_map(v: &Node) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The labels (or annotations) of a `metadata`-like map, as `string_map`
/// reads them, strings shared.
fn labels(strings: &mut Strings, v: &Node) -> Labels {
    match v.as_object() {
        Some(map) => Labels::of_map(strings, map),
        None => Labels::default(),
    }
}

/// How many workloads `ObjectIndex::new` may find at most (a Gateway API
/// Gateway is one only for Istio's classes), and how many Services.
fn capacities(objects: &[Object]) -> (usize, usize) {
    let (mut workloads, mut services) = (0, 0);
    for o in objects {
        match o.kind() {
            "WorkloadEntry" | "Gateway" => workloads += 1,
            "Service" => services += 1,
            _ if pod_template(o).is_some() => workloads += 1,
            _ => {}
        }
    }
    (workloads, services)
}

impl<'a> ObjectIndex<'a> {
    pub fn new(objects: &'a [Object], default_namespace: &'a str) -> Self {
        let mut strings = Strings::default();
        // Sized first: grown by pushes, the two lists (56 and 48 bytes an
        // item) held their old and new buffers at once, and left the old
        // ones behind, at the index's peak.
        let (most_workloads, services_count) = capacities(objects);
        let mut workloads = Vec::with_capacity(most_workloads);
        let mut services = Vec::with_capacity(services_count);
        // The port lists made so far: a workload's by its ports, a
        // Service's by its tree's list (trees share equal subtrees).
        let mut workload_ports: HashSet<Arc<[(Str, u64)]>> = HashSet::new();
        let mut service_ports: HashMap<usize, Arc<[ServicePort]>> = HashMap::new();
        let mut shared = |ports: Vec<(Str, u64)>| match workload_ports.get(&ports[..]) {
            Some(found) => found.clone(),
            None => {
                let made: Arc<[(Str, u64)]> = ports.into();
                workload_ports.insert(made.clone());
                made
            }
        };
        for (i, o) in objects.iter().enumerate() {
            // `Object::namespace`, the node's own string when it has one.
            let ns = match o.value["metadata"]["namespace"].view() {
                View::String(s) if !s.is_empty() => strings.keep(s).1,
                _ => strings.share(default_namespace),
            };
            let template = pod_template(o);
            if let Some((meta, spec)) = template {
                let mut ports = vec![];
                for c in spec["containers"].as_array().into_iter().flatten() {
                    for p in c["ports"].as_array().into_iter().flatten() {
                        ports.push((
                            strings.text(&p["name"], ""),
                            p["containerPort"].as_u64().unwrap_or(0),
                        ));
                    }
                }
                workloads.push(Workload {
                    object: i,
                    namespace: ns.clone(),
                    labels: labels(&mut strings, &meta["labels"]),
                    annotations: labels(&mut strings, &meta["annotations"]),
                    service_account: strings.text(&spec["serviceAccountName"], "default"),
                    ports: shared(ports),
                });
            }
            // A WorkloadEntry (a VM in the mesh) is a workload to Istio's
            // selectors and identities, though no pod template describes it.
            if o.kind() == "WorkloadEntry" && o.group() == "networking.istio.io" {
                let spec = &o.value["spec"];
                workloads.push(Workload {
                    object: i,
                    namespace: ns.clone(),
                    labels: labels(&mut strings, &spec["labels"]),
                    annotations: Labels::default(),
                    service_account: strings.text(&spec["serviceAccount"], "default"),
                    ports: shared(
                        spec["ports"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (strings.share(k), v.as_u64().unwrap_or(0)))
                            .collect(),
                    ),
                });
            }
            // Istio deploys the pods of its Gateway API Gateways (ingress
            // gateways and ambient waypoints) under a ServiceAccount of
            // their own: `<name>-istio`, a waypoint's `<name>`, or the
            // annotation's.
            // https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment
            if o.kind() == "Gateway" && o.group() == "gateway.networking.k8s.io" {
                let class = o.value["spec"]["gatewayClassName"].as_str().unwrap_or("");
                let sa = o.value["metadata"]["annotations"]["gateway.istio.io/service-account"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| match class {
                        "istio-waypoint" => Some(o.name().to_string()),
                        "istio" => Some(format!("{}-istio", o.name())),
                        _ => None,
                    });
                if let Some(sa) = sa {
                    let mut pairs = string_map(&o.value["metadata"]["labels"]);
                    pairs.insert(
                        "gateway.networking.k8s.io/gateway-name".into(),
                        o.name().to_string(),
                    );
                    workloads.push(Workload {
                        object: i,
                        namespace: ns.clone(),
                        labels: Labels::new(&mut strings, pairs),
                        annotations: Labels::default(),
                        service_account: strings.share(&sa),
                        ports: shared(vec![]),
                    });
                }
            }
            if o.kind() == "Service" && o.api_version() == "v1" {
                let list = &o.value["spec"]["ports"];
                let make = |strings: &mut Strings| -> Arc<[ServicePort]> {
                    list.as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| ServicePort {
                            name: strings.text(&p["name"], ""),
                            port: p["port"].as_u64().unwrap_or(0),
                            target: p
                                .get("targetPort")
                                .cloned()
                                .unwrap_or_else(|| p["port"].clone()),
                            app_protocol: match p["appProtocol"].view() {
                                View::String(a) => Some(strings.keep(a).1),
                                _ => None,
                            },
                        })
                        .collect()
                };
                let ports = match service_ports.get(&list.identity()) {
                    Some(found) => found.clone(),
                    None => {
                        let made = make(&mut strings);
                        service_ports.insert(list.identity(), made.clone());
                        made
                    }
                };
                services.push(Svc {
                    object: i,
                    namespace: ns,
                    name: strings.text(&o.value["metadata"]["name"], ""),
                    selector: labels(&mut strings, &o.value["spec"]["selector"]),
                    ports,
                });
            }
        }
        let mut services_by_name = Vec::with_capacity(services.len());
        let mut in_ns = Vec::with_capacity(services.len());
        for (i, s) in services.iter().enumerate() {
            let ns = strings.intern(&s.namespace).0;
            let name = strings.intern(&s.name).0;
            services_by_name.push(((ns, name), i as u32));
            in_ns.push((ns, i as u32));
        }
        // A repeated (namespace, name), M011's finding, keeps the last:
        // sorted by key then index, of equal keys `dedup_by` keeps the
        // first it sees, so the later one is moved into its place.
        services_by_name.sort_unstable();
        services_by_name.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                *earlier = *later;
            }
            same
        });
        let services_of_ns = Keyed::new(in_ns);
        let service_entry_hosts = objects
            .iter()
            .filter(|o| o.kind() == "ServiceEntry" && o.group().ends_with("istio.io"))
            .flat_map(|o| o.value["spec"]["hosts"].as_array().into_iter().flatten())
            .filter_map(|h| h.as_str().map(str::to_string));
        let index = Lookup::new(
            &mut strings,
            &workloads,
            &services,
            objects.iter().map(|o| o.kind()),
            service_entry_hosts,
        );
        ObjectIndex {
            objects,
            default_namespace,
            workloads,
            services,
            strings,
            services_by_name: services_by_name.into_boxed_slice(),
            services_of_ns,
            index,
            analysis: std::sync::OnceLock::new(),
        }
    }

    /// The shared indexes (labels, Services per workload, named objects).
    pub fn analysis(&self) -> &analysis::Index {
        self.analysis.get_or_init(|| analysis::Index::new(self))
    }

    pub fn ns(&self, i: usize) -> &str {
        self.objects[i].namespace(self.default_namespace)
    }

    /// Objects of one kind in an Istio or Kubernetes group.
    pub fn of_kind(
        &self,
        group_suffix: &str,
        kind: &str,
    ) -> impl Iterator<Item = (usize, &'a Object)> + '_ {
        let suffix = group_suffix.to_string();
        let objects = self.objects;
        self.index
            .of_kind(kind)
            .iter()
            .map(move |i| (*i as usize, &objects[*i as usize]))
            .filter(move |(_, o)| o.group().ends_with(&suffix))
    }

    /// The object indexes of each kind (of any group), ascending, one list
    /// a kind.
    pub fn objects_by_kind(&self) -> impl Iterator<Item = &[u32]> + '_ {
        self.index.by_kind()
    }

    /// Workloads in `ns` whose labels include all of `selector`.
    pub fn selected<'s, S: Selector>(
        &'s self,
        ns: &'s str,
        selector: &'s S,
    ) -> impl Iterator<Item = &'s Workload> + 's {
        self.index
            .select(&self.strings, &self.workloads, ns, selector)
            .map(|i| &self.workloads[i])
    }

    /// Like `selected`, as indexes into `workloads` (for `services_fronting`).
    pub fn selected_indexes<'s, S: Selector>(
        &'s self,
        ns: &'s str,
        selector: &'s S,
    ) -> impl Iterator<Item = usize> + 's {
        self.index
            .select(&self.strings, &self.workloads, ns, selector)
    }

    /// Indexes into `services` of the Services whose (non-empty) selector
    /// picks `workloads[w]`, ascending.
    pub fn fronting_indexes(&self, w: usize) -> &[u32] {
        self.index.fronting(w)
    }

    /// The Services whose (non-empty) selector picks `workloads[w]`, in
    /// object order.
    pub fn services_fronting(&self, w: usize) -> impl Iterator<Item = &Svc> + '_ {
        self.index
            .fronting(w)
            .iter()
            .map(|s| &self.services[*s as usize])
    }

    /// The Services of a namespace.
    pub fn services_in<'s>(&'s self, ns: &str) -> impl Iterator<Item = &'s Svc> + 's {
        let list = self
            .strings
            .id(ns)
            .map_or(&[][..], |ns| self.services_of_ns.get(&ns));
        list.iter().map(|i| &self.services[*i as usize])
    }

    /// The Service a mesh host names, read relative to `ns` as Istio does:
    /// a short name is in the rule's namespace; `name.ns` and
    /// `name.ns.svc.<domain>` name their namespace.
    pub fn service_for_host(&self, host: &str, ns: &str) -> Option<&Svc> {
        let (name, namespace) = split_host(host, ns)?;
        self.service_named(name, namespace)
    }

    /// The Service `namespace/name` (of a repeated name, M011's finding,
    /// the last: the one `kubectl apply` leaves in the cluster). A binary
    /// search: checks ask once per address, host or reference they read.
    pub fn service_named(&self, name: &str, namespace: &str) -> Option<&Svc> {
        let key = (self.strings.id(namespace)?, self.strings.id(name)?);
        let at = self
            .services_by_name
            .binary_search_by_key(&key, |(k, _)| *k)
            .ok()?;
        Some(&self.services[self.services_by_name[at].1 as usize])
    }

    /// Whether a ServiceEntry in the set declares this host.
    pub fn service_entry_host(&self, host: &str) -> bool {
        self.index.service_entry_host(host)
    }
}

pub fn selector_of(v: &Node) -> Option<BTreeMap<String, String>> {
    v.get("matchLabels").map(string_map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::objects;

    /// Rows whose port lists are equal share one list; every row reads
    /// its own ports, labels and selector as written.
    #[test]
    fn equal_port_lists_are_shared_and_each_row_reads_its_own() {
        let objs = objects(
            r#"
apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {selector: {app: a}, ports: [{name: http, port: 80, targetPort: http, appProtocol: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: shop}
spec: {selector: {app: b}, ports: [{name: http, port: 80, targetPort: http, appProtocol: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: shop}
spec: {selector: {app: c}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, namespace: shop}
spec: {template: {metadata: {labels: {app: a}}, spec: {containers: [{name: a, image: "x:1", ports: [{name: http, containerPort: 8080}]}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b, namespace: shop}
spec: {template: {metadata: {labels: {version: v1, app: b}}, spec: {containers: [{name: b, image: "x:2", ports: [{name: http, containerPort: 8080}]}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: shop, labels: {app: c}}
spec: {containers: [{name: c, image: "x:3", ports: [{name: grpc, containerPort: 9090}]}]}
"#,
        );
        let set = ObjectIndex::new(&objs, "default");
        let [a, b, c] = &set.services[..] else {
            panic!("three Services")
        };
        assert!(Arc::ptr_eq(&a.ports, &b.ports));
        assert!(!Arc::ptr_eq(&a.ports, &c.ports));
        let read = |s: &Svc| -> Vec<(String, u64, String, Option<String>)> {
            s.ports
                .iter()
                .map(|p| {
                    let app = p.app_protocol.as_ref().map(|a| a.to_string());
                    (p.name.to_string(), p.port, p.target.to_string(), app)
                })
                .collect()
        };
        let http = (
            "http".to_string(),
            80,
            "\"http\"".to_string(),
            Some("http".into()),
        );
        assert_eq!(read(a), read(b));
        assert_eq!(read(a), [http]);
        assert_eq!(read(c), [("grpc".into(), 9090, "9090".into(), None)]);
        assert_eq!(c.selector.iter().collect::<Vec<_>>(), [("app", "c")]);
        let [wa, wb, wc] = &set.workloads[..] else {
            panic!("three workloads")
        };
        assert!(Arc::ptr_eq(&wa.ports, &wb.ports));
        assert!(!Arc::ptr_eq(&wa.ports, &wc.ports));
        let ports = |w: &Workload| -> Vec<(String, u64)> {
            w.ports.iter().map(|(n, p)| (n.to_string(), *p)).collect()
        };
        assert_eq!(ports(wa), [("http".to_string(), 8080)]);
        assert_eq!(ports(wc), [("grpc".to_string(), 9090)]);
        assert_eq!(
            wb.labels.iter().collect::<Vec<_>>(),
            [("app", "b"), ("version", "v1")]
        );
        assert_eq!(wc.labels.iter().collect::<Vec<_>>(), [("app", "c")]);
        assert_eq!(
            set.selected_indexes("shop", &c.selector)
                .collect::<Vec<_>>(),
            [2]
        );
    }
}
