//! What `validate` keeps of an object once its schema and CEL rules are
//! checked: the part the mesh checks read. `validate` streams its input, so
//! memory is this, summed over the objects, plus the documents in flight.
//!
//! Invariant: only leaves that no mesh check reads are dropped, and the
//! object keeps its file, line, apiVersion, kind and the whole `metadata`
//! (ids, duplicate detection and findings need them). A check that starts
//! reading one of the fields below must remove it from this list, with a
//! test. Dropped:
//! - the source text (findings of the mesh checks point at the object's
//!   first line; schema findings, which point inside it, are made before);
//! - `metadata.managedFields` of every object;
//! - everything but `apiVersion`, `kind` and `metadata` of the kinds in
//!   `METADATA_ONLY`, which no mesh check reads (ServiceAccounts,
//!   ConfigMaps, NetworkPolicies, RBAC, PodDisruptionBudgets, autoscalers;
//!   a Secret keeps its data: M017 reads gateway certificates);
//! - of the workload kinds (Deployment, StatefulSet, DaemonSet, ReplicaSet,
//!   Job, CronJob), everything in `spec` but the pod template (`replicas`,
//!   the workload's own `selector`, its update strategy...): the checks
//!   read a workload through its pod template only;
//! - in pod templates (and Pods): everything but the containers, init
//!   containers, service account and `securityContext` (`volumes`,
//!   `affinity`, `tolerations`, `nodeSelector`...: often the largest part
//!   of a real chart's pod), and per container everything
//!   but `name`, `image`, `ports`, `securityContext` (M031 reads the UID),
//!   `env` (M052 reads istiod's) and `command` and `args` (M060 and M061
//!   read the addresses in them, as in `env`);
//! - of the pod's and each container's `securityContext`, everything but
//!   `runAsUser` (M031, the only check that reads a security context).
//!
//! With `--no-mesh-checks` nothing reads more than an object's id, so
//! `ids_only` keeps its apiVersion, kind, name and namespace alone.
//!
//! The test `every_checks_fixtures_find_the_same_with_and_without_trimming`
//! runs every check on its fixtures both ways.
//!
//! What is kept is then converted to the compact `manifest::Node` tree
//! (`Parsed::into_object`): exact sizes, strings shared.

use crate::manifest::Parsed;
use serde_json::{Map, Value};

/// Kinds (group, kind) of which only `apiVersion`, `kind` and `metadata`
/// are kept: no mesh check reads more of them (`*`: every kind of the group).
const METADATA_ONLY: [(&str, &str); 7] = [
    ("", "ServiceAccount"),
    ("", "ConfigMap"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "*"),
    ("policy", "PodDisruptionBudget"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("", "LimitRange"),
];

/// What a pod spec keeps (`serviceAccount` is the deprecated name of
/// `serviceAccountName`).
const POD_KEEPS: [&str; 5] = [
    "containers",
    "initContainers",
    "serviceAccountName",
    "serviceAccount",
    "securityContext",
];

const CONTAINER_KEEPS: [&str; 7] = [
    "name",
    "image",
    "ports",
    "securityContext",
    "env",
    "command",
    "args",
];

/// Reduce `o` to what a finding about it needs when no mesh check runs
/// (`--no-mesh-checks`): its apiVersion, kind, name and namespace (schema
/// findings are made before; a missing schema is reported by id).
pub(crate) fn ids_only(o: &mut Parsed) {
    o.text = None;
    let Some(m) = o.value.as_object_mut() else {
        return;
    };
    m.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
    if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace"));
    }
}

/// Reduce `o` to what the mesh checks read (see the module comment).
pub(crate) fn retain(o: &mut Parsed) {
    o.text = None;
    let kind = o.kind().to_string();
    let group = o.group().to_string();
    let v = &mut o.value;
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let metadata_only = METADATA_ONLY
        .iter()
        .any(|(g, k)| *g == group && (*k == "*" || *k == kind));
    match (group.as_str(), kind.as_str()) {
        _ if metadata_only => {
            if let Some(m) = v.as_object_mut() {
                m.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
            }
        }
        ("", "Pod") => pod_spec(&mut v["spec"]),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            only(v.get_mut("spec"), "template");
            if let Some(t) = v.pointer_mut("/spec/template/spec") {
                pod_spec(t)
            }
        }
        ("batch", "CronJob") => {
            only(v.get_mut("spec"), "jobTemplate");
            only(v.pointer_mut("/spec/jobTemplate"), "spec");
            only(v.pointer_mut("/spec/jobTemplate/spec"), "template");
            if let Some(t) = v.pointer_mut("/spec/jobTemplate/spec/template/spec") {
                pod_spec(t)
            }
        }
        _ => {}
    }
}

/// Keep only `key` of a map (a value that is no map stays as it is).
fn only(v: Option<&mut Value>, key: &str) {
    if let Some(m) = v.and_then(Value::as_object_mut) {
        m.retain(|k, _| k == key);
    }
}

/// Keep only `runAsUser` of a `securityContext` (dropped when it has none).
fn security_context(parent: &mut Map<String, Value>) {
    let Some(sc) = parent.get_mut("securityContext") else {
        return;
    };
    match sc.as_object_mut() {
        Some(m) => {
            m.retain(|k, _| k == "runAsUser");
            if m.is_empty() {
                parent.remove("securityContext");
            }
        }
        None => {
            parent.remove("securityContext");
        }
    }
}

fn pod_spec(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    spec.retain(|k, _| POD_KEEPS.contains(&k.as_str()));
    security_context(spec);
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(c) = c.as_object_mut() {
                c.retain(|k, _| CONTAINER_KEEPS.contains(&k.as_str()));
                security_context(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Parsed {
        Parsed {
            file: "f".into(),
            line: 1,
            value,
            text: Some((std::sync::Arc::from("x"), 0..1)),
        }
    }

    #[test]
    fn workloads_keep_what_the_checks_read() {
        let mut o = object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "n", "labels": {"app": "a"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": {
                "metadata": {"labels": {"app": "a"}, "annotations": {"x": "y"}},
                "spec": {
                    "serviceAccountName": "a",
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "automountServiceAccountToken": false,
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app": "a"}}}}]}},
                    "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                    "initContainers": [{"name": "i", "image": "i:0", "resources": {}}],
                    "containers": [{"name": "c", "image": "i:1", "ports": [{"name": "http", "containerPort": 8080}],
                        "env": [{"name": "A", "value": "b"}], "resources": {"limits": {"cpu": "1"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}},
                        {"name": "d", "image": "i:2", "securityContext": {"runAsUser": 1337, "readOnlyRootFilesystem": true}}]
                }
            }}
        }));
        retain(&mut o);
        assert!(o.text.is_none());
        assert_eq!(
            o.value,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "a", "namespace": "n", "labels": {"app": "a"}},
                "spec": {"template": {
                    "metadata": {"labels": {"app": "a"}, "annotations": {"x": "y"}},
                    "spec": {
                        "serviceAccountName": "a",
                        "securityContext": {"runAsUser": 10001},
                        "initContainers": [{"name": "i", "image": "i:0"}],
                        "containers": [{"name": "c", "image": "i:1", "ports": [{"name": "http", "containerPort": 8080}],
                            "env": [{"name": "A", "value": "b"}]},
                            {"name": "d", "image": "i:2", "securityContext": {"runAsUser": 1337}}]
                    }
                }}
            })
        );
    }

    /// Every check, the opt-in ones too, finds the same (object, code,
    /// message) in every fixture of `tests/manifests/checks` whether the
    /// objects are whole or reduced by `retain`.
    #[test]
    fn every_checks_fixtures_find_the_same_with_and_without_trimming() {
        use crate::validate::checks::{self, Set};
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/manifests/checks");
        let enable: Vec<String> = checks::OPT_IN.iter().map(|c| c.to_string()).collect();
        let mut files = vec![];
        for dir in std::fs::read_dir(&root).unwrap() {
            for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
                let p = f.unwrap().path();
                if p.extension().is_some_and(|e| e == "yaml") {
                    files.push(p);
                }
            }
        }
        files.sort();
        assert!(
            files.len() >= checks::CHECKS.len() * 2,
            "{} fixtures",
            files.len()
        );
        let (mut fired, mut failures) = (0, vec![]);
        for p in &files {
            let text = std::fs::read_to_string(p).unwrap();
            let (mut whole, mut errors) = (vec![], vec![]);
            crate::manifest::read::parse("f.yaml", &text, &mut whole, &mut errors);
            let mut trimmed = whole.clone();
            trimmed.iter_mut().for_each(retain);
            let whole = crate::manifest::object::compact(whole);
            let trimmed = crate::manifest::object::compact(trimmed);
            let want =
                checks::run_enabled(&Set::new(&whole, "default"), &enable).expect("checks run");
            let got =
                checks::run_enabled(&Set::new(&trimmed, "default"), &enable).expect("checks run");
            fired += want.len();
            if got != want {
                failures.push(format!(
                    "{}:\n  whole   {want:?}\n  trimmed {got:?}",
                    p.display()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(
            fired >= checks::CHECKS.len(),
            "only {fired} findings in all fixtures"
        );
    }

    #[test]
    fn a_cron_job_keeps_only_its_pod_template() {
        let mut o = object(json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {
                "metadata": {"labels": {"job": "c"}},
                "spec": {"backoffLimit": 2, "template": {
                    "metadata": {"labels": {"app": "c"}},
                    "spec": {"restartPolicy": "Never", "volumes": [{"name": "v"}],
                        "containers": [{"name": "c", "image": "i:1", "workingDir": "/"}]}
                }}
            }}
        }));
        retain(&mut o);
        assert_eq!(
            o.value,
            json!({
                "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                "spec": {"jobTemplate": {"spec": {"template": {
                    "metadata": {"labels": {"app": "c"}},
                    "spec": {"containers": [{"name": "c", "image": "i:1"}]}
                }}}}
            })
        );
    }

    /// Without mesh checks an object keeps its id and nothing else, and
    /// reads the same id as before.
    #[test]
    fn without_mesh_checks_only_the_id_stays() {
        let mut o = object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "n", "labels": {"app": "a"}, "annotations": {"x": "y"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}]}}}
        }));
        let id = o.id();
        ids_only(&mut o);
        assert_eq!(
            o.value,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "n"}})
        );
        assert_eq!(o.id(), id);
        assert!(o.text.is_none());
        // Not a map (an invalid document): left as it is.
        let mut o = object(json!(["x"]));
        ids_only(&mut o);
        assert_eq!(o.value, json!(["x"]));
    }

    #[test]
    fn config_data_goes_and_mesh_objects_stay_whole() {
        let mut o = object(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}),
        );
        retain(&mut o);
        assert_eq!(
            o.value,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        );
        let mut o = object(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "n", "namespace": "s", "labels": {"a": "b"}, "annotations": {"x": "y"},
                "managedFields": [{"manager": "kubectl"}]},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        }));
        retain(&mut o);
        assert_eq!(
            o.value,
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "n", "namespace": "s", "labels": {"a": "b"}, "annotations": {"x": "y"}}})
        );
        let mut o = object(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}]}),
        );
        retain(&mut o);
        assert_eq!(
            o.value,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}})
        );
        // A Secret keeps its data: M017 reads gateway certificates.
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "dg=="}});
        let mut o = object(secret.clone());
        retain(&mut o);
        assert_eq!(o.value, secret);
        let ap = json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "p"}, "spec": {"action": "ALLOW", "rules": [{}]}});
        let mut o = object(ap.clone());
        retain(&mut o);
        assert_eq!(o.value, ap);
    }
}
