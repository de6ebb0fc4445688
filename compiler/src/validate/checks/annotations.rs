//! What the annotation checks (M054-M058) share: Istio's annotation table
//! (generated into `annotation_table.rs`), the test of whether an
//! annotation is Istio's, and the annotated places Istio's
//! `annotations.K8sAnalyzer` and `maturity.AlphaAnalyzer` read.
//!
//! Invariant: the places are those Istio reads in a cluster, found in one
//! pass over the set: Namespaces, Services, Pods and the metadata of
//! Deployments as themselves, and every pod template (Deployment,
//! StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) as the Pod it becomes,
//! since on files there are no Pods yet. Only places with at least one
//! Istio annotation are returned.
//! <https://github.com/istio/istio/blob/master/pkg/config/analysis/analyzers/annotations/annotations.go>

use super::analysis::pod_template;
use super::{string_map, Set};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Alpha,
    Beta,
    Stable,
}

/// One entry of Istio's annotation table.
#[derive(Debug)]
pub struct Annotation {
    pub name: &'static str,
    pub status: Status,
    pub deprecated: bool,
    /// The kinds it applies to; `Any` for every kind.
    pub resources: &'static [&'static str],
}

/// The Istio release the table comes from (for messages).
pub const ISTIO: &str = "1.30";

/// The table entry of `name`, if Istio knows it.
pub fn lookup(name: &str) -> Option<&'static Annotation> {
    let table = super::annotation_table::TABLE;
    table
        .binary_search_by(|a| a.name.cmp(name))
        .ok()
        .map(|i| &table[i])
}

/// Istio's `istioAnnotation`: the prefix (before the first `/`) ends in
/// `istio.io`, or it is `kubernetes.io/ingress.class`, which Istio documents.
pub fn is_istio(name: &str) -> bool {
    name == "kubernetes.io/ingress.class"
        || name
            .split('/')
            .next()
            .is_some_and(|p| p.ends_with("istio.io"))
}

/// A set of annotations as Istio reads them on one resource.
pub struct Place {
    pub object: usize,
    /// The kind Istio judges the annotations as (`Pod` for a template).
    pub kind: &'static str,
    /// Where the annotations are in the object, for messages.
    pub path: &'static str,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// A pod without an `istio-init` init container (Istio CNI, or not yet
    /// injected): Istio's maturity analyzer skips the annotations istiod
    /// sets by default there (`isCNIEnabled`).
    pub without_istio_init: bool,
}

/// Every place holding an Istio annotation, in object order.
pub fn places(set: &Set) -> Vec<Place> {
    let mut out = vec![];
    for (i, o) in set.objects.iter().enumerate() {
        let meta = &o.value["metadata"];
        let own = match (o.group(), o.kind()) {
            ("", "Namespace") => Some("Namespace"),
            ("", "Service") => Some("Service"),
            ("apps", "Deployment") => Some("Deployment"),
            _ => None,
        };
        if let Some(kind) = own {
            push(&mut out, i, kind, "metadata.annotations", meta, None);
        }
        let workload = matches!(
            (o.group(), o.kind()),
            ("", "Pod")
                | (
                    "apps",
                    "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
                )
                | ("batch", "Job" | "CronJob")
        );
        if !workload {
            continue;
        }
        if let Some((tmeta, spec)) = pod_template(&o.value) {
            let path = match o.kind() {
                "Pod" => "metadata.annotations",
                "CronJob" => "spec.jobTemplate.spec.template.metadata.annotations",
                _ => "spec.template.metadata.annotations",
            };
            let istio_init = spec["initContainers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["name"] == "istio-init");
            push(&mut out, i, "Pod", path, tmeta, Some(!istio_init));
        }
    }
    out
}

fn push(
    out: &mut Vec<Place>,
    object: usize,
    kind: &'static str,
    path: &'static str,
    meta: &crate::manifest::Node,
    without_istio_init: Option<bool>,
) {
    let annotations = string_map(&meta["annotations"]);
    if !annotations.keys().any(|k| is_istio(k)) {
        return;
    }
    out.push(Place {
        object,
        kind,
        path,
        annotations,
        labels: string_map(&meta["labels"]),
        without_istio_init: without_istio_init.unwrap_or(false),
    });
}

impl Place {
    /// The Istio annotations of this place with their table entries
    /// (`None`: unknown to Istio), by name.
    pub fn istio(&self) -> impl Iterator<Item = (&str, &str, Option<&'static Annotation>)> {
        self.annotations
            .iter()
            .filter(|(k, _)| is_istio(k))
            .map(|(k, v)| (k.as_str(), v.as_str(), lookup(k)))
    }
}

/// Whether `a` may stand on `kind` (Istio's check before it reports a
/// misplaced annotation, and before it validates the value).
pub fn applies_to(a: &Annotation, kind: &str) -> bool {
    a.resources.iter().any(|r| *r == "Any" || *r == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        let t = super::super::annotation_table::TABLE;
        for w in t.windows(2) {
            assert!(w[0].name < w[1].name, "{} / {}", w[0].name, w[1].name);
        }
        let inject = lookup("sidecar.istio.io/inject").unwrap();
        assert_eq!(inject.status, Status::Beta);
        assert!(inject.deprecated);
        assert_eq!(inject.resources, &["Pod"]);
        assert!(lookup("networking.istio.io/exportTwo").is_none());
    }

    #[test]
    fn istio_annotations_by_prefix() {
        assert!(is_istio("sidecar.istio.io/inject"));
        assert!(is_istio("istio.io/rev"));
        assert!(is_istio("kubernetes.io/ingress.class"));
        assert!(!is_istio("prometheus.io/scrape"));
        assert!(!is_istio("example.com/istio.io"));
    }
}
