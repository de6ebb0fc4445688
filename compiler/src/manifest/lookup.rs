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

use super::compact::{Keyed, Keys, Postings, Selector, Strings};
use super::index::{Svc, Workload};
use super::istio::host_matches;
use std::collections::{HashMap, HashSet};

/// Every list is of `u32` indexes in [`Postings`], keyed by string ids of
/// the index's [`Strings`] (see `compact`: this was 100 MB of owned keys
/// and `Vec<usize>`s at a million objects).
#[derive(Default)]
pub struct Lookup {
    /// (namespace, key, value) -> indexes into `workloads`.
    by_label: Keyed<(u32, u32, u32)>,
    /// namespace -> indexes into `workloads`.
    by_ns: Keyed<u32>,
    /// workload -> indexes into `services` whose selector picks it.
    fronting: Postings,
    /// kind -> list of object indexes.
    kind_lists: HashMap<Box<str>, u32>,
    by_kind: Postings,
    exact_hosts: HashSet<String>,
    wildcard_hosts: Vec<String>,
}

impl Lookup {
    pub fn new<'k>(
        strings: &mut Strings,
        workloads: &[Workload],
        services: &[Svc],
        kinds: impl Iterator<Item = &'k str> + Clone,
        service_entry_hosts: impl Iterator<Item = String>,
    ) -> Self {
        let (mut in_label, mut in_ns) = (vec![], Vec::with_capacity(workloads.len()));
        for (i, w) in workloads.iter().enumerate() {
            let ns = strings.intern(&w.namespace).0;
            in_ns.push((ns, i as u32));
            for (k, v) in w.labels.iter() {
                let key = (ns, strings.intern(k).0, strings.intern(v).0);
                in_label.push((key, i as u32));
            }
        }
        let mut ix = Lookup {
            by_label: Keyed::new(in_label),
            by_ns: Keyed::new(in_ns),
            ..Default::default()
        };
        let mut fronting = vec![];
        for (s, svc) in services.iter().enumerate() {
            if svc.selector.is_empty() {
                continue;
            }
            for w in ix.select(strings, workloads, &svc.namespace, &svc.selector) {
                fronting.push((w as u32, s as u32));
            }
        }
        ix.fronting = Postings::new(workloads.len(), fronting);
        let mut kind_keys: Keys<Box<str>> = Keys::default();
        ix.by_kind = Postings::of_items_with(|each| {
            // Objects come in runs of one kind: look the kind up once a run.
            let mut last: Option<(&str, u32)> = None;
            for kind in kinds.clone() {
                let n = match last {
                    Some((k, n)) if k == kind => n,
                    _ => kind_keys.number(kind.into()),
                };
                last = Some((kind, n));
                each(n);
            }
        });
        ix.kind_lists = kind_keys.into_map();
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
    pub fn select<'s, S: Selector>(
        &'s self,
        strings: &Strings,
        workloads: &'s [Workload],
        ns: &str,
        selector: &'s S,
    ) -> impl Iterator<Item = usize> + 's {
        let list =
            |key: Option<(u32, u32, u32)>| -> &[u32] { key.map_or(&[], |k| self.by_label.get(&k)) };
        let ns_id = strings.id(ns);
        let candidates: &[u32] = if selector.is_empty() {
            ns_id.map_or(&[], |n| self.by_ns.get(&n))
        } else {
            selector
                .pairs()
                .map(|(k, v)| {
                    list(
                        ns_id
                            .zip(strings.id(k))
                            .zip(strings.id(v))
                            .map(|((n, k), v)| (n, k, v)),
                    )
                })
                .min_by_key(|l| l.len())
                .unwrap_or(&[])
        };
        candidates
            .iter()
            .map(|i| *i as usize)
            .filter(move |i| workloads[*i].labels.contains_all(selector))
    }

    /// Indexes of the Services whose selector picks workload `w`, ascending.
    pub fn fronting(&self, w: usize) -> &[u32] {
        self.fronting.get(w)
    }

    /// Object indexes of one kind, ascending.
    pub fn of_kind(&self, kind: &str) -> &[u32] {
        self.kind_lists
            .get(kind)
            .map_or(&[], |l| self.by_kind.get(*l as usize))
    }

    /// The object indexes of each kind, ascending, one list a kind.
    pub fn by_kind(&self) -> impl Iterator<Item = &[u32]> + '_ {
        self.by_kind.lists()
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
        let sel = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
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
            set.services_fronting(w)
                .map(|s| s.name.to_string())
                .collect()
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
