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
//! - `data` and `binaryData` of ConfigMaps (a Secret keeps its data: M017
//!   reads gateway certificates);
//! - in pod templates (and Pods): `volumes`, and per container everything
//!   but `name`, `image`, `ports`, `securityContext` (M031 reads the UID),
//!   `env` (M052 reads istiod's) and `command` and `args` (M060 and M061
//!   read the addresses in them, as in `env`).

use crate::manifest::Object;
use serde_json::Value;

const CONTAINER_KEEPS: [&str; 7] = [
    "name",
    "image",
    "ports",
    "securityContext",
    "env",
    "command",
    "args",
];

/// Reduce `o` to what the mesh checks read (see the module comment).
pub(crate) fn retain(o: &mut Object) {
    o.text = None;
    let kind = o.kind().to_string();
    let group = o.group().to_string();
    let v = &mut o.value;
    match (group.as_str(), kind.as_str()) {
        ("", "ConfigMap") => {
            if let Some(m) = v.as_object_mut() {
                for k in ["data", "binaryData"] {
                    m.remove(k);
                }
            }
        }
        ("", "Pod") => pod_spec(&mut v["spec"]),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            if let Some(t) = v.pointer_mut("/spec/template/spec") {
                pod_spec(t)
            }
        }
        ("batch", "CronJob") => {
            if let Some(t) = v.pointer_mut("/spec/jobTemplate/spec/template/spec") {
                pod_spec(t)
            }
        }
        _ => {}
    }
}

fn pod_spec(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    spec.remove("volumes");
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(c) = c.as_object_mut() {
                c.retain(|k, _| CONTAINER_KEEPS.contains(&k.as_str()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        Object {
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
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "containers": [{"name": "c", "image": "i:1", "ports": [{"name": "http", "containerPort": 8080}],
                        "env": [{"name": "A", "value": "b"}], "resources": {"limits": {"cpu": "1"}}}]
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
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": {
                    "metadata": {"labels": {"app": "a"}, "annotations": {"x": "y"}},
                    "spec": {
                        "serviceAccountName": "a",
                        "containers": [{"name": "c", "image": "i:1", "ports": [{"name": "http", "containerPort": 8080}],
                            "env": [{"name": "A", "value": "b"}]}]
                    }
                }}
            })
        );
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
