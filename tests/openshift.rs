//! OpenShift (issue 19): rendered as on a cluster that serves
//! `security.openshift.io/v1`, every pod template passes the rules of the
//! `restricted-v2` SCC that can be checked offline, field by field: no
//! fixed UID, GID or fsGroup, non-root, no privilege escalation, all
//! capabilities dropped (NET_BIND_SERVICE the only one added back), the
//! RuntimeDefault seccomp profile, no privileged container, no host
//! namespaces or ports, only the volume types restricted-v2 allows.
//! <https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/authentication_and_authorization/managing-pod-security-policies>

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const OPENSHIFT_API: [&str; 2] = ["--api-versions", "security.openshift.io/v1"];

/// restricted-v2's volume types.
const VOLUMES: [&str; 8] = [
    "configMap",
    "downwardAPI",
    "emptyDir",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "csi",
    "ephemeral",
];

fn charts() -> Vec<PathBuf> {
    ["evalhub", "orderflow"]
        .iter()
        .map(|n| root().join("charts").join(n))
        .collect()
}

/// Every pod template: (workload id, pod spec).
fn pod_specs(objs: &[Value]) -> Vec<(String, Value)> {
    objs.iter()
        .filter_map(|o| match o["kind"].as_str() {
            Some("Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet") => {
                Some((id(o), o["spec"]["template"]["spec"].clone()))
            }
            Some("CronJob") => Some((
                id(o),
                o["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone(),
            )),
            _ => None,
        })
        .collect()
}

/// The offences of one pod spec against restricted-v2.
fn offences(pod: &Value) -> Vec<String> {
    let mut out = vec![];
    let psc = &pod["securityContext"];
    for k in ["runAsUser", "runAsGroup", "fsGroup"] {
        if !psc[k].is_null() {
            out.push(format!("pod securityContext.{k} = {}", psc[k]));
        }
    }
    for k in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[k] == Value::Bool(true) {
            out.push(format!("{k}: true"));
        }
    }
    for v in pod["volumes"].as_array().into_iter().flatten() {
        let kind = v
            .as_object()
            .unwrap()
            .keys()
            .find(|k| *k != "name")
            .cloned()
            .unwrap_or_default();
        if !VOLUMES.contains(&kind.as_str()) {
            out.push(format!("volume {} of type {kind}", v["name"]));
        }
    }
    let pod_seccomp = psc["seccompProfile"]["type"].as_str();
    let pod_non_root = psc["runAsNonRoot"] == Value::Bool(true);
    let containers = pod["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(pod["initContainers"].as_array().into_iter().flatten());
    let mut any = false;
    for c in containers {
        any = true;
        let name = c["name"].as_str().unwrap_or("?");
        let sc = &c["securityContext"];
        for k in ["runAsUser", "runAsGroup"] {
            if !sc[k].is_null() {
                out.push(format!("{name}: securityContext.{k} = {}", sc[k]));
            }
        }
        if sc["allowPrivilegeEscalation"] != Value::Bool(false) {
            out.push(format!("{name}: allowPrivilegeEscalation is not false"));
        }
        if sc["privileged"] == Value::Bool(true) {
            out.push(format!("{name}: privileged"));
        }
        let drops: Vec<&str> = sc["capabilities"]["drop"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !drops.contains(&"ALL") {
            out.push(format!("{name}: capabilities.drop lacks ALL"));
        }
        for add in sc["capabilities"]["add"].as_array().into_iter().flatten() {
            if add != "NET_BIND_SERVICE" {
                out.push(format!("{name}: adds capability {add}"));
            }
        }
        let non_root = match &sc["runAsNonRoot"] {
            Value::Bool(b) => *b,
            _ => pod_non_root,
        };
        if !non_root {
            out.push(format!("{name}: runAsNonRoot is not true"));
        }
        let seccomp = sc["seccompProfile"]["type"].as_str().or(pod_seccomp);
        if seccomp != Some("RuntimeDefault") {
            out.push(format!(
                "{name}: seccompProfile is {seccomp:?}, not RuntimeDefault"
            ));
        }
        for p in c["ports"].as_array().into_iter().flatten() {
            if !p["hostPort"].is_null() {
                out.push(format!("{name}: hostPort {}", p["hostPort"]));
            }
        }
    }
    if !any {
        out.push("no containers".into());
    }
    out
}

fn render(h: &str, chart: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let ns = chart.file_name().unwrap().to_str().unwrap();
    parse(&template(h, chart, ns, args))
}

#[test]
fn detected_openshift_passes_restricted_v2_on_every_pod() {
    for chart in charts() {
        for h in HELMS {
            for istio in [false, true] {
                let mut args: Vec<&str> = OPENSHIFT_API.to_vec();
                if istio {
                    args.extend(istio_args(&[]));
                }
                let pods = pod_specs(&render(h, &chart, &args));
                assert!(!pods.is_empty(), "{}: no pods", chart.display());
                for (w, pod) in pods {
                    let o = offences(&pod);
                    assert!(o.is_empty(), "{h} istio={istio} {w}: {o:#?}");
                }
            }
        }
    }
}

#[test]
fn the_value_overrides_detection_both_ways() {
    let chart = root().join("charts/evalhub");
    let policy: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("policies/evalhub.yaml")).unwrap(),
    )
    .unwrap();
    assert!(policy["spec"]["defaults"]["runAsUser"].is_null());
    for h in HELMS {
        // Not OpenShift: the fixed IDs are the chart's defaults.
        for (args, fixed) in [
            (vec![], true),
            (vec!["--set", "openshift.enabled=true"], false),
            (
                vec![
                    "--set",
                    "openshift.enabled=false",
                    OPENSHIFT_API[0],
                    OPENSHIFT_API[1],
                ],
                true,
            ),
            (
                vec![
                    "--set",
                    "openshift.enabled=auto",
                    OPENSHIFT_API[0],
                    OPENSHIFT_API[1],
                ],
                false,
            ),
        ] {
            for (w, pod) in pod_specs(&render(h, &chart, &args)) {
                let sc = &pod["securityContext"];
                // The policy's runAsUser for images with their own user
                // (policies/evalhub.yaml), 10001 for the rest.
                let svc = w.rsplit_once("/evalhub-").map(|(_, s)| s).unwrap_or("");
                let uid = policy["spec"]["services"][svc]["runAsUser"]
                    .as_i64()
                    .unwrap_or(10001);
                if fixed {
                    assert_eq!(sc["runAsUser"], uid, "{h} {args:?} {w}");
                    assert_eq!(sc["runAsGroup"], uid, "{h} {args:?} {w}");
                    assert_eq!(sc["fsGroup"], uid, "{h} {args:?} {w}");
                    // The checker sees what restricted-v2 would refuse.
                    assert_eq!(
                        offences(&pod),
                        [
                            format!("pod securityContext.runAsUser = {uid}"),
                            format!("pod securityContext.runAsGroup = {uid}"),
                            format!("pod securityContext.fsGroup = {uid}"),
                        ],
                        "{h} {args:?} {w}"
                    );
                } else {
                    assert_eq!(offences(&pod), Vec::<String>::new(), "{h} {args:?} {w}");
                }
                assert_eq!(sc["runAsNonRoot"], true, "{h} {args:?} {w}");
                assert_eq!(
                    sc["seccompProfile"]["type"], "RuntimeDefault",
                    "{h} {args:?} {w}"
                );
            }
        }
    }
}

#[test]
fn the_kustomize_component_does_the_same() {
    for name in ["evalhub", "orderflow"] {
        // Kustomize refuses absolute roots: a copy of the tree, and an
        // overlay beside its own.
        let dir = tempfile::tempdir().unwrap();
        let tree = root().join("kustomize").join(name);
        for (path, bytes) in read_tree(&tree) {
            let to = dir.path().join(&path);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, bytes).unwrap();
        }
        let overlay = dir.path().join("overlays/openshift");
        std::fs::create_dir_all(&overlay).unwrap();
        std::fs::write(
            overlay.join("kustomization.yaml"),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../istio]\ncomponents: [../../components/openshift]\n",
        )
        .unwrap();
        let objs = parse(&run(Command::new(tools().join("helm4/kubectl"))
            .arg("kustomize")
            .arg(&overlay)));
        let pods = pod_specs(&objs);
        assert!(!pods.is_empty(), "{name}");
        for (w, pod) in pods {
            assert_eq!(offences(&pod), Vec::<String>::new(), "{name} {w}");
        }
    }
}

/// Every workload kind, and a service whose own container securityContext
/// fixes the IDs: the chart with `openshift.enabled=true` and the Kustomize
/// component both leave them to restricted-v2.
#[test]
fn batch_kinds_and_own_security_contexts_too() {
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("tests/policies/workloads");
    let own = "securityContext: {capabilities: {add: [NET_BIND_SERVICE]}}";
    let text = std::fs::read_to_string(src.join("batch.yaml")).unwrap();
    assert!(text.contains(own));
    let text = text.replace(
        own,
        "securityContext: {runAsUser: 1000, runAsGroup: 1000, capabilities: {add: [NET_BIND_SERVICE]}}",
    );
    let policy = dir.path().join("batch.yaml");
    std::fs::write(&policy, text).unwrap();
    std::fs::copy(
        src.join("api-config.yaml"),
        dir.path().join("api-config.yaml"),
    )
    .unwrap();
    let chart = dir.path().join("batch");
    let tree = dir.path().join("k");
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
        "--kustomize",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let kinds = |pods: &[(String, Value)]| -> Vec<String> {
        let mut k: Vec<String> = pods
            .iter()
            .map(|(w, _)| w.split('/').next().unwrap().to_string())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let all = ["CronJob", "DaemonSet", "Deployment", "Job", "StatefulSet"];
    for h in HELMS {
        // Not OpenShift: the container keeps the policy's IDs.
        let pods = pod_specs(&parse(&template(h, &chart, "batch", &istio_args(&[]))));
        assert_eq!(kinds(&pods), all, "{h}");
        let api = pods
            .iter()
            .find(|(w, _)| w == "Deployment/batch-api")
            .unwrap();
        assert_eq!(api.1["containers"][0]["securityContext"]["runAsUser"], 1000);
        let pods = pod_specs(&parse(&template(
            h,
            &chart,
            "batch",
            &istio_args(&["openshift.enabled=true"]),
        )));
        assert_eq!(kinds(&pods), all, "{h}");
        for (w, pod) in pods {
            assert_eq!(offences(&pod), Vec::<String>::new(), "{h} {w}");
        }
    }
    let overlay = tree.join("overlays/openshift");
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../istio]\ncomponents: [../../components/openshift]\n",
    )
    .unwrap();
    let pods = pod_specs(&parse(&run(Command::new(tools().join("helm4/kubectl"))
        .arg("kustomize")
        .arg(&overlay))));
    assert_eq!(kinds(&pods), all);
    for (w, pod) in pods {
        assert_eq!(offences(&pod), Vec::<String>::new(), "kustomize {w}");
    }
}
