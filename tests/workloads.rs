//! Generated workloads that run a real application
//! (`tests/policies/workloads/batch.yaml`): every pod field the policy can
//! give, asserted field by field as Helm 3 and Helm 4 render them; a Job,
//! a CronJob and a DaemonSet with Istio on and off, checked against the
//! upstream schemas in ../shared/schemas by `meshpack validate` (mesh
//! checks included) and by `meshpack verify` against the policy; the same
//! through the Kustomize tree.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const NS: &str = "batch";

fn policy() -> PathBuf {
    root().join("tests/policies/workloads/batch.yaml")
}

/// The policy compiled with its files (as `meshpack compile` does).
fn compiled() -> meshpack::model::Model {
    let p = policy();
    let text = std::fs::read_to_string(&p).unwrap();
    let dir = p.parent().unwrap().to_path_buf();
    meshpack::compile_policy("batch.yaml", &text, None, &|f| {
        std::fs::read_to_string(dir.join(f))
    })
    .unwrap_or_else(|f| panic!("{}", f.render()))
    .model
}

/// The chart and Kustomize tree, written to a temporary folder.
fn outputs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("batch");
    let kust = dir.path().join("kustomize");
    let out = meshpack::package(&compiled());
    meshpack::package::write_dir(&chart, &out.chart, "test", false).unwrap();
    meshpack::package::write_dir(&kust, &out.kustomize, "test", false).unwrap();
    (dir, chart, kust)
}

fn render(h: &str, chart: &Path, istio: bool) -> BTreeMap<String, Value> {
    let args = if istio { istio_args(&[]) } else { vec![] };
    by_id(&parse(&template(h, chart, NS, &args)))
}

fn get<'a>(objs: &'a BTreeMap<String, Value>, id: &str) -> &'a Value {
    objs.get(id)
        .unwrap_or_else(|| panic!("{id} not rendered; have {:?}", objs.keys()))
}

/// The pod spec of a workload object.
fn pod<'a>(objs: &'a BTreeMap<String, Value>, id: &str) -> &'a Value {
    let o = get(objs, id);
    if o["kind"] == "CronJob" {
        &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &o["spec"]["template"]["spec"]
    }
}

fn container<'a>(objs: &'a BTreeMap<String, Value>, id: &str) -> &'a Value {
    &pod(objs, id)["containers"][0]
}

/// The generated container security context (non-root, read-only root, no
/// capabilities) with `add` merged in.
fn restricted(add: Value) -> Value {
    let mut v = json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]},
    });
    if let (Some(o), Some(a)) = (v.as_object_mut(), add.as_object()) {
        for (k, x) in a {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}

#[test]
fn every_pod_field_renders_as_the_policy_says() {
    let (_dir, chart, _) = outputs();
    for h in HELMS {
        let objs = render(h, &chart, false);
        let api = container(&objs, "Deployment/batch-api");
        assert_eq!(api["command"], json!(["/app/api"]), "{h}");
        // References name the Service as the policy names the service.
        assert_eq!(
            api["args"],
            json!(["--db=postgres://app@db:5432/app", "--listen=:9090"]),
            "{h}"
        );
        assert_eq!(
            api["env"],
            json!([
                {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
                {"name": "DB_HOST", "value": "db"},
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "batch-db", "key": "password"}}},
                {"name": "FEATURES", "valueFrom": {"configMapKeyRef": {"name": "batch-features", "key": "flags", "optional": true}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ]),
            "{h}"
        );
        assert_eq!(
            api["envFrom"],
            json!([
                {"configMapRef": {"name": "batch-settings"}},
                {"secretRef": {"name": "batch-api-keys"}, "prefix": "KEY_"},
            ]),
            "{h}"
        );
        assert_eq!(
            api["volumeMounts"],
            json!([
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "certs", "mountPath": "/etc/tls", "readOnly": true},
                {"name": "cache", "mountPath": "/var/cache/api"},
                {"name": "files", "mountPath": "/etc/api/config.yaml", "subPath": "file-0", "readOnly": true},
            ]),
            "{h}"
        );
        assert_eq!(
            pod(&objs, "Deployment/batch-api")["volumes"],
            json!([
                {"name": "tmp", "emptyDir": {}},
                {"name": "certs", "secret": {"secretName": "batch-api-tls", "defaultMode": 288}},
                {"name": "cache", "persistentVolumeClaim": {"claimName": "batch-cache"}},
                {"name": "files", "configMap": {"name": "batch-api-files"}},
            ]),
            "{h}"
        );
        assert_eq!(
            api["readinessProbe"],
            json!({"grpc": {"port": 9090}, "periodSeconds": 5}),
            "{h}"
        );
        assert_eq!(
            api["livenessProbe"],
            json!({"httpGet": {"path": "/livez", "port": "http"}, "periodSeconds": 20}),
            "{h}"
        );
        assert_eq!(
            api["startupProbe"],
            json!({"tcpSocket": {"port": "grpc"}, "failureThreshold": 30, "periodSeconds": 2}),
            "{h}"
        );
        assert_eq!(
            api["securityContext"],
            restricted(json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})),
            "{h}"
        );
        assert_eq!(
            pod(&objs, "Deployment/batch-api")["securityContext"],
            json!({
                "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
                "fsGroupChangePolicy": "OnRootMismatch",
            }),
            "{h}"
        );
        assert_eq!(
            pod(&objs, "Deployment/batch-api")["initContainers"],
            json!([{
                "name": "wait-for-db",
                "image": "registry.example.com/batch/tools:1.0.0",
                "command": ["sh", "-c", "until nc -z db 5432; do sleep 1; done"],
                "env": [{"name": "DB", "value": "db:5432"}],
                "securityContext": restricted(json!({})),
            }]),
            "{h}: init containers as written, their references resolved"
        );
        // The file, escaped so Helm prints its `{{` as written.
        assert_eq!(
            get(&objs, "ConfigMap/batch-api-files")["data"],
            json!({"file-0": "# Packed into the ConfigMap batch-api-files by meshpack.\nlisten: \":9090\"\nlog: {level: info, format: \"{{json}}\"}\ndatabase: \"db:5432\"\n"}),
            "{h}"
        );
        // The database: a Secret by name, an exec probe, its own UID.
        let db = container(&objs, "StatefulSet/batch-db");
        assert_eq!(
            db["env"],
            json!([
                {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "batch-db", "key": "password"}}},
            ]),
            "{h}"
        );
        assert_eq!(
            db["readinessProbe"],
            json!({"exec": {"command": ["pg_isready", "-U", "postgres"]}, "periodSeconds": 5}),
            "{h}"
        );
        assert_eq!(
            db["volumeMounts"],
            json!([
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                {"name": "run", "mountPath": "/var/run/postgresql"},
            ]),
            "{h}"
        );
        assert_eq!(
            pod(&objs, "StatefulSet/batch-db")["securityContext"]["runAsUser"],
            json!(999)
        );
        assert_eq!(
            get(&objs, "Service/db")["metadata"]["name"],
            json!("db"),
            "{h}"
        );
        assert_eq!(
            get(&objs, "StatefulSet/batch-db")["spec"]["serviceName"],
            json!("db"),
            "{h}"
        );
        // Per-version env: v2's own over the service's, v1 the service's.
        assert_eq!(
            container(&objs, "Deployment/batch-reviews-v1")["env"],
            json!([
                {"name": "RATINGS", "value": "http://api:8080"},
                {"name": "STAR_COLOR", "value": "black"},
            ]),
            "{h}"
        );
        assert_eq!(
            container(&objs, "Deployment/batch-reviews-v2")["env"],
            json!([
                {"name": "ENABLE_RATINGS", "value": "true"},
                {"name": "RATINGS", "value": "http://api:8080"},
                {"name": "STAR_COLOR", "value": "red"},
            ]),
            "{h}"
        );
    }
}

#[test]
fn jobs_cronjobs_and_daemonsets_render_in_both_modes() {
    let (_dir, chart, _) = outputs();
    for h in HELMS {
        for istio in [false, true] {
            let objs = render(h, &chart, istio);
            let job = get(&objs, "Job/batch-migrate");
            assert_eq!(job["spec"]["backoffLimit"], json!(3), "{h} {istio}");
            assert!(
                job["spec"]["selector"].is_null(),
                "{h} {istio}: Kubernetes generates a Job's selector"
            );
            let tpl = &job["spec"]["template"];
            assert_eq!(
                tpl["spec"]["restartPolicy"],
                json!("OnFailure"),
                "{h} {istio}"
            );
            assert_eq!(
                tpl["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"],
                json!("true"),
                "{h} {istio}"
            );
            let c = &tpl["spec"]["containers"][0];
            assert_eq!(c["command"], json!(["/app/migrate"]), "{h} {istio}");
            assert_eq!(
                c["env"],
                json!([{"name": "DB_URL", "value": "postgres://app@db:5432/app"}]),
                "{h} {istio}"
            );
            assert!(
                c["readinessProbe"].is_null() && c["livenessProbe"].is_null(),
                "{h} {istio}"
            );
            let cron = get(&objs, "CronJob/batch-report");
            assert_eq!(cron["spec"]["schedule"], json!("0 3 * * *"), "{h} {istio}");
            assert_eq!(
                cron["spec"]["concurrencyPolicy"],
                json!("Forbid"),
                "{h} {istio}"
            );
            let ctpl = &cron["spec"]["jobTemplate"]["spec"]["template"];
            assert_eq!(
                ctpl["spec"]["restartPolicy"],
                json!("OnFailure"),
                "{h} {istio}"
            );
            assert_eq!(
                ctpl["spec"]["containers"][0]["args"],
                json!(["--api", "http://api:8080/report"]),
                "{h} {istio}"
            );
            // Injection labels follow istio.enabled for batch pods as for any pod.
            let inject = |t: &Value| t["metadata"]["labels"]["sidecar.istio.io/inject"].clone();
            let want = if istio { json!("true") } else { json!("false") };
            assert_eq!(inject(tpl), want, "{h} {istio}: Job");
            assert_eq!(inject(ctpl), want, "{h} {istio}: CronJob");
            let ds = get(&objs, "DaemonSet/batch-agent");
            assert!(ds["spec"]["replicas"].is_null(), "{h} {istio}");
            assert_eq!(
                ds["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"],
                json!("agent"),
                "{h} {istio}"
            );
            // No disruption budget for kinds without replicas.
            assert!(!objs
                .keys()
                .any(|k| k.starts_with("PodDisruptionBudget/batch-migrate")));
            check(&objs, istio);
        }
    }
}

/// `meshpack validate` against ../shared/schemas (with the mesh checks:
/// M060 would flag an address naming no Service) and `meshpack verify`.
fn check(objs: &BTreeMap<String, Value>, istio: bool) {
    let list: Vec<Value> = objs.values().cloned().collect();
    let yaml: String = list
        .iter()
        .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
        .collect();
    let schemas = shared_schemas();
    let location = format!(
        "{}/{{{{.ResourceKind}}}}{{{{.KindSuffix}}}}.json",
        schemas.join("kubernetes").display()
    );
    let _ = location;
    let (code, out) = meshpack_stdin(&["validate", "-"], &yaml);
    assert_eq!(code, 0, "istio={istio}:\n{out}");
    let findings: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("Summary: "))
        .collect();
    assert!(findings.is_empty(), "istio={istio}:\n{out}");
    let errors = upstream_schema_errors(&list);
    assert!(errors.is_empty(), "istio={istio}:\n{}", errors.join("\n"));
    let (code, out) = meshpack_stdin(
        &["verify", "--policy", policy().to_str().unwrap(), "-"],
        &yaml,
    );
    assert_eq!(code, 0, "istio={istio}:\n{out}");
}

#[test]
fn kustomize_tree_builds_the_same_workloads() {
    let (_dir, _, kust) = outputs();
    for overlay in ["plain", "istio"] {
        let out = Command::new(tools().join("helm4/kubectl"))
            .arg("kustomize")
            .arg(kust.join("overlays").join(overlay))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{overlay}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let objs = by_id(&parse(&String::from_utf8(out.stdout).unwrap()));
        let istio = overlay == "istio";
        let job = pod(&objs, "Job/batch-migrate");
        assert_eq!(job["restartPolicy"], json!("OnFailure"), "{overlay}");
        let cron = get(&objs, "CronJob/batch-report");
        let labels = &cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"];
        assert_eq!(
            labels["sidecar.istio.io/inject"],
            if istio { json!("true") } else { json!("false") },
            "{overlay}: the istio component patches CronJob pods too"
        );
        assert_eq!(
            container(&objs, "Deployment/batch-api")["args"],
            json!(["--db=postgres://app@db:5432/app", "--listen=:9090"]),
            "{overlay}"
        );
        check(&objs, istio);
    }
}

/// Secrets are named, never filled in: values.yaml holds each Secret's
/// name only, and `--set secrets.<name>=...` points the release at the
/// customer's own Secret wherever the policy names it.
#[test]
fn secrets_are_names_the_customer_can_change() {
    let (_dir, chart, _) = outputs();
    let values: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap()).unwrap();
    assert_eq!(
        values["secrets"],
        json!({"batch-api-keys": "batch-api-keys", "batch-api-tls": "batch-api-tls", "batch-db": "batch-db"})
    );
    for h in HELMS {
        let args = [
            "--set",
            "secrets.batch-db=prod-db",
            "--set",
            "secrets.batch-api-tls=prod-tls",
            "--set",
            "secrets.batch-api-keys=prod-keys",
        ];
        let objs = by_id(&parse(&template(h, &chart, NS, &args)));
        let api = container(&objs, "Deployment/batch-api");
        assert_eq!(
            api["env"][2],
            json!({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "prod-db", "key": "password"}}}),
            "{h}"
        );
        assert_eq!(
            api["envFrom"][1],
            json!({"secretRef": {"name": "prod-keys"}, "prefix": "KEY_"}),
            "{h}"
        );
        assert_eq!(
            pod(&objs, "Deployment/batch-api")["volumes"][1],
            json!({"name": "certs", "secret": {"secretName": "prod-tls", "defaultMode": 288}}),
            "{h}"
        );
        assert_eq!(
            container(&objs, "StatefulSet/batch-db")["env"][1]["valueFrom"]["secretKeyRef"]["name"],
            json!("prod-db"),
            "{h}"
        );
        assert!(
            !objs.keys().any(|k| k.starts_with("Secret/")),
            "{h}: the chart renders no Secret"
        );
    }
}
