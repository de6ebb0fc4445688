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
use std::collections::BTreeMap;
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

/// A policy of `n` services cycling through every workload kind and four
/// container securityContexts of their own (none, runAsUser only,
/// runAsUser and runAsGroup, runAsGroup only), five and four being
/// coprime so every pair occurs; one more service in two versions (two
/// Deployments named after the versions) sets runAsUser.
fn mixed_policy(n: usize) -> (String, BTreeMap<String, Vec<&'static str>>) {
    let kinds = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"];
    let own: [&[&'static str]; 4] = [
        &[],
        &["runAsUser"],
        &["runAsUser", "runAsGroup"],
        &["runAsGroup"],
    ];
    let mut text = String::from("apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata:\n  name: mix\nspec:\n  version: 1.0.0\n  services:\n");
    let mut ids = BTreeMap::new();
    for i in 0..n {
        let name = format!("s{i:03}");
        let kind = kinds[i % kinds.len()];
        let set = own[i % own.len()];
        text.push_str(&format!(
            "    {name}:\n      image: registry.example.com/{name}:1.0.0\n      workload: {kind}\n"
        ));
        match kind {
            "CronJob" => text.push_str("      schedule: \"0 3 * * *\"\n"),
            "Job" => {}
            _ => text.push_str("      ports: {http: 8080}\n"),
        }
        // The container's other fields stay: a capability beside the IDs.
        let mut sc = vec!["capabilities: {add: [NET_BIND_SERVICE]}".to_string()];
        sc.extend(set.iter().map(|k| format!("{k}: {}", 1000 + i)));
        if !set.is_empty() || i % 8 == 0 {
            text.push_str(&format!("      securityContext: {{{}}}\n", sc.join(", ")));
        }
        ids.insert(name, set.to_vec());
    }
    text.push_str("    versioned:\n      image: registry.example.com/versioned:1.0.0\n      ports: {http: 8080}\n      securityContext: {runAsUser: 4242}\n      versions:\n        v1: {}\n        v2: {}\n");
    ids.insert("versioned".into(), vec!["runAsUser"]);
    (text, ids)
}

/// The Component's patches, grouped by kind and by the IDs a service's
/// own container securityContext sets, remove exactly what the chart
/// omits: checked object by object, field by field, against the same
/// overlay without the Component, with both kubectls (kustomize 5.4 and
/// 5.7), over the mesh and without it.
#[test]
fn the_component_removes_each_services_own_ids_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (text, own) = mixed_policy(40);
    let policy = dir.path().join("mix.yaml");
    std::fs::write(&policy, text).unwrap();
    let tree = dir.path().join("k");
    let (code, out) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        dir.path().join("mix").to_str().unwrap(),
        "--kustomize",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    for base in ["istio", "plain"] {
        let with = tree.join(format!("overlays/openshift-{base}"));
        std::fs::create_dir_all(&with).unwrap();
        std::fs::write(
            with.join("kustomization.yaml"),
            format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../{base}]\ncomponents: [../../components/openshift]\n"),
        )
        .unwrap();
        for kubectl in ["helm3/kubectl", "helm4/kubectl"] {
            let render = |overlay: &std::path::Path| {
                parse(&run(Command::new(tools().join(kubectl))
                    .arg("kustomize")
                    .arg(overlay)))
            };
            let before = by_id(&render(&tree.join("overlays").join(base)));
            let after = by_id(&render(&with));
            assert_eq!(
                before.keys().collect::<Vec<_>>(),
                after.keys().collect::<Vec<_>>(),
                "{kubectl} {base}"
            );
            let mut seen = BTreeMap::new();
            for (id, was) in &before {
                let mut want = was.clone();
                let spec = match was["kind"].as_str() {
                    Some("CronJob") => &mut want["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                    Some("Deployment" | "StatefulSet" | "DaemonSet" | "Job") => {
                        &mut want["spec"]["template"]["spec"]
                    }
                    _ => {
                        assert_eq!(&after[id], was, "{kubectl} {base} {id} changed");
                        continue;
                    }
                };
                let svc = was["metadata"]["labels"]["app.kubernetes.io/component"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let pod = spec["securityContext"].as_object_mut().unwrap();
                for k in ["runAsUser", "runAsGroup", "fsGroup"] {
                    assert!(pod.remove(k).is_some(), "{kubectl} {base} {id}: pod {k}");
                }
                let c = spec["containers"][0]["securityContext"]
                    .as_object_mut()
                    .unwrap();
                for k in ["runAsUser", "runAsGroup"] {
                    // The base keeps the service's own IDs, and only those.
                    let has = c.remove(k).is_some();
                    assert_eq!(
                        has,
                        own[&svc].contains(&k),
                        "{kubectl} {base} {id}: container {k}"
                    );
                }
                assert_eq!(
                    c["capabilities"]["drop"],
                    serde_json::json!(["ALL"]),
                    "{kubectl} {base} {id}"
                );
                assert_eq!(after[id], want, "{kubectl} {base} {id}");
                *seen.entry(svc).or_insert(0) += 1;
            }
            // Every service's workload was checked: both versions of one.
            assert_eq!(
                seen.keys().collect::<Vec<_>>(),
                own.keys().collect::<Vec<_>>()
            );
            assert_eq!(seen["versioned"], 2, "{kubectl} {base}");
            let api = &after["Deployment/mix-versioned-v2"]["spec"]["template"]["spec"];
            assert!(api["containers"][0]["securityContext"]["runAsUser"].is_null());
        }
    }
}
