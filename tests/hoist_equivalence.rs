//! The hoisted pod template pieces (`emit::hoist`) render exactly what the
//! per-service template lines rendered before them: the charts of the
//! starting commit cd7f9a7 (`tests/golden/cd7f9a7/`: `orderflow` as
//! committed then, `batch` compiled from `tests/policies/workloads/batch.yaml`
//! by that commit's binary) and today's charts of the same policies,
//! rendered by Helm 3 and Helm 4 with the same values files, object by
//! object. Each values file overrides what a hoisted piece precomputes
//! (resources, both security contexts, placement, annotations, injection,
//! pull secrets, OpenShift, Istio before 1.25, ambient), per service and
//! chart-wide, and the test checks that the override reached the objects,
//! so a value the new templates ignored would fail it. A service's
//! NetworkPolicies, one per direction then and one now, are compared
//! merged (`merge_service_policies`).

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const NS: &str = "hoist";

/// A service's own values overriding every hoisted pod field.
fn service_overrides(svc: &str) -> String {
    format!(
        r#"services:
  {svc}:
    resources: {{requests: {{cpu: 5m, memory: 8Mi}}}}
    securityContext: {{runAsUser: 4242, readOnlyRootFilesystem: false, capabilities: {{drop: [ALL]}}}}
    podSecurityContext: {{runAsUser: 4343, runAsGroup: 4343, fsGroup: 4444}}
    nodeSelector: {{disk: ssd}}
    tolerations: [{{key: dedicated, operator: Exists, effect: NoSchedule}}]
    affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: zone, operator: In, values: [a]}}]}}]}}}}}}
    podAnnotations: {{team: payments, sidecar.istio.io/proxyCPU: 50m}}
    istio: {{inject: false}}
"#
    )
}

/// Chart-wide values every service without its own takes.
const CHART_WIDE: &str = r#"serviceDefaults:
  resources: {limits: {cpu: "2", memory: 1Gi}}
  securityContext: {runAsUser: 5151, allowPrivilegeEscalation: false}
  podSecurityContext: {runAsUser: 5252, fsGroup: 5353}
  nodeSelector: {pool: general}
  tolerations: [{key: spot, operator: Equal, value: "yes", effect: NoSchedule}]
  affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname}}]}}
  podAnnotations: {owner: platform}
global:
  imagePullSecrets: [regcred, mirror]
istio:
  revision: canary
  annotations: {sidecar.istio.io/logLevel: debug, owner: mesh}
  proxyImage: {registry: mirror.example.com, repository: istio/proxyv2, tag: "1.25.2"}
"#;

struct Case {
    what: &'static str,
    mesh: bool,
    values: String,
}

fn cases(svc: &str) -> Vec<Case> {
    let own = service_overrides(svc);
    vec![
        Case {
            what: "defaults",
            mesh: true,
            values: String::new(),
        },
        Case {
            what: "a service's own values",
            mesh: true,
            values: own.clone(),
        },
        Case {
            what: "chart-wide values",
            mesh: true,
            values: CHART_WIDE.into(),
        },
        Case {
            what: "chart-wide and a service's own",
            mesh: true,
            values: format!("{CHART_WIDE}{own}"),
        },
        Case {
            what: "chart-wide and a service's own resources and tolerations only",
            mesh: true,
            values: format!(
                "{CHART_WIDE}services:\n  {svc}:\n    resources: {{requests: {{cpu: 5m, memory: 8Mi}}}}\n    tolerations: [{{key: dedicated, operator: Exists, effect: NoSchedule}}]\n"
            ),
        },
        Case {
            what: "OpenShift",
            mesh: true,
            values: format!("openshift: {{enabled: true}}\n{CHART_WIDE}{own}"),
        },
        Case {
            what: "injection left to the namespace, one service injected",
            mesh: true,
            values: format!("istio: {{injection: namespace}}\nservices:\n  {svc}:\n    istio: {{inject: true}}\n"),
        },
        Case {
            what: "ambient",
            mesh: true,
            values: format!("istio: {{dataplane: ambient, revision: canary}}\n{own}"),
        },
        Case {
            what: "Istio 1.24",
            mesh: true,
            values: format!("istio: {{version: \"1.24\", trustDomain: example.org}}\n{own}"),
        },
        Case {
            what: "mesh off",
            mesh: false,
            values: format!("{CHART_WIDE}{own}"),
        },
    ]
}

fn render(h: &str, chart: &Path, values: &Path, mesh: bool) -> BTreeMap<String, Value> {
    let mut args = vec!["-f", values.to_str().unwrap()];
    let mesh_args = istio_args(&[]);
    if mesh {
        args.extend(mesh_args.iter().copied());
    }
    by_id(&parse(&template(h, chart, NS, &args)))
}

/// Today's chart of a policy file, written under the policy's name.
fn today(policy: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let (code, text) = meshpack(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    out
}

/// The starting commit's NetworkPolicies of a service, `<svc>-ingress`
/// (its callers), `<svc>-metrics` (Prometheus) and `<svc>-egress`, as one
/// `<svc>-allow`, the way `emit::netpol` writes them since session 17:
/// ingress rules in that order, then the egress rules, `policyTypes` the
/// directions that have rules. Every other field must be the same in the
/// three (the service's labels and selector), or this fails.
fn merge_service_policies(mut objs: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let bases: Vec<String> = objs
        .keys()
        .filter_map(|k| k.strip_prefix("NetworkPolicy/"))
        .filter_map(|n| {
            n.strip_suffix("-ingress")
                .filter(|b| !b.ends_with("-from"))
                .or_else(|| n.strip_suffix("-egress"))
                .or_else(|| n.strip_suffix("-metrics"))
        })
        .map(str::to_string)
        .collect();
    for base in bases {
        let parts: Vec<Value> = ["ingress", "metrics", "egress"]
            .iter()
            .filter_map(|d| objs.remove(&format!("NetworkPolicy/{base}-{d}")))
            .collect();
        if parts.is_empty() {
            continue; // merged already
        }
        let mut merged = parts[0].clone();
        merged["metadata"]["name"] = json!(format!("{base}-allow"));
        let (mut ingress, mut egress) = (vec![], vec![]);
        // Everything but the name and the rules is the same in each part.
        let rest = |p: &Value| {
            let mut p = p.clone();
            p["metadata"].as_object_mut().unwrap().remove("name");
            for k in ["ingress", "egress", "policyTypes"] {
                p["spec"].as_object_mut().unwrap().remove(k);
            }
            p
        };
        for p in &parts {
            assert_eq!(rest(p), rest(&parts[0]), "{base}");
            ingress.extend(p["spec"]["ingress"].as_array().cloned().unwrap_or_default());
            egress.extend(p["spec"]["egress"].as_array().cloned().unwrap_or_default());
        }
        let spec = merged["spec"].as_object_mut().unwrap();
        let mut types = vec![];
        spec.remove("ingress");
        spec.remove("egress");
        if !ingress.is_empty() {
            types.push(json!("Ingress"));
            spec.insert("ingress".into(), json!(ingress));
        }
        if !egress.is_empty() {
            types.push(json!("Egress"));
            spec.insert("egress".into(), json!(egress));
        }
        spec.insert("policyTypes".into(), json!(types));
        objs.insert(format!("NetworkPolicy/{base}-allow"), merged);
    }
    objs
}

/// The pod spec of a workload object (a CronJob's is one level deeper).
fn pod(o: &Value) -> &Value {
    match o["kind"].as_str() {
        Some("CronJob") => &o["spec"]["jobTemplate"]["spec"]["template"],
        _ => &o["spec"]["template"],
    }
}

/// The container has the resources the overriding service sets itself.
fn assert_own_resources(c: &Value, what: &str) {
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "5m", "memory": "8Mi"}}),
        "{what}"
    );
}

/// The override reached the objects: a wrong or missing value fails here
/// even if both charts were wrong the same way.
fn assert_overrides_applied(
    what: &str,
    objs: &BTreeMap<String, Value>,
    workload: &str,
    mesh: bool,
) {
    let o = objs
        .get(workload)
        .unwrap_or_else(|| panic!("{what}: {workload} rendered"));
    let p = pod(o);
    let c = &p["spec"]["containers"][0];
    assert_own_resources(c, what);
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"],
        json!(false),
        "{what}"
    );
    assert_eq!(p["spec"]["nodeSelector"], json!({"disk": "ssd"}), "{what}");
    assert_eq!(
        p["spec"]["tolerations"][0]["key"],
        json!("dedicated"),
        "{what}"
    );
    assert!(p["spec"]["affinity"]["nodeAffinity"].is_object(), "{what}");
    assert_eq!(
        p["metadata"]["annotations"]["team"],
        json!("payments"),
        "{what}"
    );
    if mesh && !what.contains("ambient") {
        assert_eq!(
            p["metadata"]["labels"]["sidecar.istio.io/inject"],
            json!("false"),
            "{what}"
        );
    }
}

fn compare(name: &str, before: &Path, after: &Path, svc: &str, workload: &str, plain: &str) {
    let tmp = tempfile::tempdir().unwrap();
    for h in HELMS {
        let mut defaults = None;
        for (i, case) in cases(svc).into_iter().enumerate() {
            let values = tmp.path().join(format!("values-{i}.yaml"));
            std::fs::write(&values, &case.values).unwrap();
            let want = merge_service_policies(render(h, before, &values, case.mesh));
            let got = render(h, after, &values, case.mesh);
            let what = format!("{name}, Helm {h}, {}", case.what);
            assert_same_objects(&got, &want, &what);
            if case.values.contains("podAnnotations: {team") {
                assert_overrides_applied(&what, &got, workload, case.mesh);
            }
            if case.what == "defaults" {
                defaults = Some(got);
                continue;
            }
            // Every case changes what a service without values of its own
            // renders, or the one that has them.
            let d = defaults.as_ref().expect("defaults first");
            if case.values.starts_with("serviceDefaults")
                || case.values.contains("\nserviceDefaults")
            {
                let p = pod(&got[plain]);
                assert_eq!(
                    p["spec"]["nodeSelector"],
                    json!({"pool": "general"}),
                    "{what}: {plain}"
                );
                assert_eq!(
                    p["spec"]["imagePullSecrets"],
                    json!([{"name": "regcred"}, {"name": "mirror"}]),
                    "{what}: {plain}"
                );
                assert_eq!(
                    p["metadata"]["annotations"]["owner"],
                    json!("platform"),
                    "{what}: {plain}"
                );
                assert_ne!(&got[plain], &d[plain], "{what}: {plain}");
            }
            if case.what.starts_with("injection") {
                let labels = &pod(&got[plain])["metadata"]["labels"];
                assert!(
                    labels.get("sidecar.istio.io/inject").is_none(),
                    "{what}: {plain}"
                );
                assert_eq!(
                    pod(&got[workload])["metadata"]["labels"]["sidecar.istio.io/inject"],
                    json!("true"),
                    "{what}"
                );
            }
            if case.what.ends_with("only") {
                // The pieces it sets are its own, the others the chart's.
                let p = pod(&got[workload]);
                let c = &p["spec"]["containers"][0];
                assert_own_resources(c, &what);
                assert_eq!(
                    p["spec"]["tolerations"][0]["key"],
                    json!("dedicated"),
                    "{what}"
                );
                assert_eq!(
                    p["spec"]["nodeSelector"],
                    json!({"pool": "general"}),
                    "{what}"
                );
                assert_eq!(c["securityContext"]["runAsUser"], json!(5151), "{what}");
                assert_eq!(
                    p["metadata"]["annotations"]["owner"],
                    json!("platform"),
                    "{what}"
                );
            }
            if case.what == "OpenShift" {
                let sc = &pod(&got[plain])["spec"]["containers"][0]["securityContext"];
                assert!(sc.get("runAsUser").is_none(), "{what}: {sc}");
                assert_eq!(sc["allowPrivilegeEscalation"], json!(false), "{what}: {sc}");
            }
        }
    }
}

#[test]
fn orderflow_renders_as_the_starting_commits_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let after = today(
        &root().join("policies/orderflow.yaml"),
        tmp.path(),
        "orderflow",
    );
    let before = root().join("tests/golden/cd7f9a7/orderflow");
    // `web` overrides; `worker` (scrape annotations) and `queue` take the
    // chart-wide values; `api` has versions.
    compare(
        "orderflow",
        &before,
        &after,
        "web",
        "Deployment/orderflow-web",
        "Deployment/orderflow-admin",
    );
}

#[test]
fn batch_workloads_render_as_the_starting_commits_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let after = today(
        &root().join("tests/policies/workloads/batch.yaml"),
        tmp.path(),
        "batch",
    );
    let before = root().join("tests/golden/cd7f9a7/batch");
    // `report` is a CronJob (its pod template one level deeper); `agent`,
    // a DaemonSet, takes the chart-wide values.
    compare(
        "batch",
        &before,
        &after,
        "report",
        "CronJob/batch-report",
        "DaemonSet/batch-agent",
    );
}
