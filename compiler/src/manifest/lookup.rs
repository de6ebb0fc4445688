//! Indexes over an `ObjectIndex`, built once, so that every mesh check is linear in
//! the number of objects even when thousands of Services and workloads
//! share one namespace (a meshpack chart puts a whole release in one).
//!
//! Invariant: answers are the same as a scan over every workload or Service
//! of the namespace would give, in the same order (object order); only the
//! cost differs. Checks ask through `ObjectIndex` (`selected`, `fronting`,
//! `services_fronting`, `of_kind`, `service_entry_host`); none of them
//! should loop over the workloads or Services of a namespace per object.
//!
//! - workloads by (namespace, label key, label value): a selector is
//!   answered from its rarest label, then filtered by the others;
//! - per workload, the Services whose selector picks it (Kubernetes: a
//!   Service with an empty selector selects nothing by itself);
//! - objects by kind;
//! - ServiceEntry hosts, exact ones in a hash set.

use super::index::{Svc, Workload};
use super::istio::host_matches;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Default)]
pub struct Lookup {
    /// (namespace, key, value) -> indexes into `workloads`, ascending.
    by_label: HashMap<(String, String, String), Vec<usize>>,
    /// namespace -> indexes into `workloads`, ascending.
    by_ns: HashMap<String, Vec<usize>>,
    /// workload -> indexes into `services` whose selector picks it, ascending.
    fronting: Vec<Vec<usize>>,
    /// kind -> object indexes, ascending.
    by_kind: HashMap<String, Vec<usize>>,
    exact_hosts: HashSet<String>,
    wildcard_hosts: Vec<String>,
}

impl Lookup {
    pub fn new(
        workloads: &[Workload],
        services: &[Svc],
        kinds: impl Iterator<Item = (usize, String)>,
        service_entry_hosts: impl Iterator<Item = String>,
    ) -> Self {
        let mut ix = Lookup::default();
        for (i, w) in workloads.iter().enumerate() {
            ix.by_ns.entry(w.namespace.clone()).or_default().push(i);
            for (k, v) in &w.labels {
                ix.by_label
                    .entry((w.namespace.clone(), k.clone(), v.clone()))
                    .or_default()
                    .push(i);
            }
        }
        ix.fronting = vec![vec![]; workloads.len()];
        for (s, svc) in services.iter().enumerate() {
            if svc.selector.is_empty() {
                continue;
            }
            let picked: Vec<usize> = ix
                .select(workloads, &svc.namespace, &svc.selector)
                .collect();
            for w in picked {
                ix.fronting[w].push(s);
            }
        }
        for (i, kind) in kinds {
            ix.by_kind.entry(kind).or_default().push(i);
        }
        for h in service_entry_hosts {
            if h.starts_with('*') {
                ix.wildcard_hosts.push(h);
            } else {
                ix.exact_hosts.insert(h);
            }
        }
        ix
    }

    /// Indexes of the workloads in `ns` whose labels include all of
    /// `selector` (every workload of `ns` for an empty selector), ascending.
    pub fn select<'s>(
        &'s self,
        workloads: &'s [Workload],
        ns: &str,
        selector: &'s BTreeMap<String, String>,
    ) -> impl Iterator<Item = usize> + 's {
        let candidates: &[usize] = if selector.is_empty() {
            self.by_ns.get(ns).map_or(&[], Vec::as_slice)
        } else {
            selector
                .iter()
                .map(|(k, v)| {
                    self.by_label
                        .get(&(ns.to_string(), k.clone(), v.clone()))
                        .map_or(&[][..], Vec::as_slice)
                })
                .min_by_key(|l| l.len())
                .unwrap_or(&[])
        };
        candidates.iter().copied().filter(move |i| {
            selector
                .iter()
                .all(|(k, v)| workloads[*i].labels.get(k) == Some(v))
        })
    }

    /// Indexes of the Services whose selector picks workload `w`, ascending.
    pub fn fronting(&self, w: usize) -> &[usize] {
        self.fronting.get(w).map_or(&[], Vec::as_slice)
    }

    /// Object indexes of one kind, ascending.
    pub fn of_kind(&self, kind: &str) -> &[usize] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// Whether a ServiceEntry host (exact, or `*.suffix`) covers `host`.
    pub fn service_entry_host(&self, host: &str) -> bool {
        self.exact_hosts.contains(host) || self.wildcard_hosts.iter().any(|h| host_matches(h, host))
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::testing::objects;
    use crate::manifest::ObjectIndex;

    // Not `n`: YAML 1.1 (go-yaml v2, which validate follows) reads it as false.
    const SET: &str = "
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: shop, labels: {app: a, tier: web}}
spec: {containers: [{name: c, image: x:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: shop, labels: {app: b, tier: web}}
spec: {containers: [{name: c, image: x:1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: other, labels: {app: a, tier: web}}
spec: {containers: [{name: c, image: x:1}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {tier: web}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {selector: {app: a}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: none, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: shop}
spec: {hosts: [api.example.com, '*.corp.example']}
";

    fn names(set: &ObjectIndex, ws: Vec<&crate::manifest::index::Workload>) -> Vec<String> {
        ws.iter().map(|w| set.objects[w.object].id()).collect()
    }

    #[test]
    fn selectors_answer_as_a_scan_would() {
        let objs = objects(SET);
        let set = ObjectIndex::new(&objs, "default");
        let sel = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let s = sel(&[("tier", "web")]);
        assert_eq!(
            names(&set, set.selected("shop", &s).collect()),
            ["Pod/shop/a", "Pod/shop/b"]
        );
        let s = sel(&[("tier", "web"), ("app", "a")]);
        assert_eq!(
            names(&set, set.selected("shop", &s).collect()),
            ["Pod/shop/a"]
        );
        assert_eq!(
            names(&set, set.selected("other", &s).collect()),
            ["Pod/other/c"]
        );
        let s = sel(&[("app", "zz")]);
        assert!(set.selected("shop", &s).next().is_none());
        let s = sel(&[]);
        assert_eq!(
            names(&set, set.selected("shop", &s).collect()),
            ["Pod/shop/a", "Pod/shop/b"]
        );
    }

    #[test]
    fn services_fronting_a_workload_and_service_entry_hosts() {
        let objs = objects(SET);
        let set = ObjectIndex::new(&objs, "default");
        let fronting = |w: usize| -> Vec<String> {
            set.services_fronting(w).map(|s| s.name.clone()).collect()
        };
        assert_eq!(fronting(0), ["web", "a"]);
        assert_eq!(fronting(1), ["web"]);
        // Services select only in their own namespace.
        assert_eq!(fronting(2), Vec::<String>::new());
        assert!(set.service_entry_host("api.example.com"));
        assert!(set.service_entry_host("x.corp.example"));
        assert!(!set.service_entry_host("example.com"));
    }
}
