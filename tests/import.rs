//! `meshpack import` on Online Boutique (`../shared/apps/onlineboutique`,
//! read in place): its chart (rendered with the fetched Helm) and its
//! `kubernetes-manifests` folder draft the same 12 workloads, their real
//! ports, and exactly the app's call graph; small fixtures cover URLs,
//! cluster names, ConfigMaps and what is reported instead of drafted.

mod common;

use common::*;
use meshpack::import::{self, Input};
use std::path::{Path, PathBuf};
use std::process::Command;

fn boutique() -> PathBuf {
    let p = root().join("../shared/apps/onlineboutique");
    assert!(
        p.is_dir(),
        "{} is missing: CI puts shared/ beside the project",
        p.display()
    );
    p
}

/// (service, kind, Service ports as (name, port, targetPort), ServiceAccount).
type Expected = (
    &'static str,
    &'static str,
    Vec<(&'static str, u16, u16)>,
    &'static str,
);

fn expected_services(redis_sa: &'static str) -> Vec<Expected> {
    vec![
        (
            "adservice",
            "Deployment",
            vec![("grpc", 9555, 9555)],
            "adservice",
        ),
        (
            "cartservice",
            "Deployment",
            vec![("grpc", 7070, 7070)],
            "cartservice",
        ),
        (
            "checkoutservice",
            "Deployment",
            vec![("grpc", 5050, 5050)],
            "checkoutservice",
        ),
        (
            "currencyservice",
            "Deployment",
            vec![("grpc", 7000, 7000)],
            "currencyservice",
        ),
        (
            "emailservice",
            "Deployment",
            vec![("grpc", 5000, 8080)],
            "emailservice",
        ),
        (
            "frontend",
            "Deployment",
            vec![("http", 80, 8080)],
            "frontend",
        ),
        ("loadgenerator", "Deployment", vec![], "loadgenerator"),
        (
            "paymentservice",
            "Deployment",
            vec![("grpc", 50051, 50051)],
            "paymentservice",
        ),
        (
            "productcatalogservice",
            "Deployment",
            vec![("grpc", 3550, 3550)],
            "productcatalogservice",
        ),
        (
            "recommendationservice",
            "Deployment",
            vec![("grpc", 8080, 8080)],
            "recommendationservice",
        ),
        (
            "redis-cart",
            "Deployment",
            vec![("tcp-redis", 6379, 6379)],
            redis_sa,
        ),
        (
            "shippingservice",
            "Deployment",
            vec![("grpc", 50051, 50051)],
            "shippingservice",
        ),
    ]
}

/// The app's call graph: the 15 edges its hand-written AuthorizationPolicies
/// name (helm-chart/templates/*.yaml, `principals`), plus the load
/// generator's calls to the frontend (`FRONTEND_ADDR`), each with the port.
const CALL_GRAPH: [(&str, &str, &str); 16] = [
    ("cartservice", "redis-cart", "tcp-redis"),
    ("checkoutservice", "cartservice", "grpc"),
    ("checkoutservice", "currencyservice", "grpc"),
    ("checkoutservice", "emailservice", "grpc"),
    ("checkoutservice", "paymentservice", "grpc"),
    ("checkoutservice", "productcatalogservice", "grpc"),
    ("checkoutservice", "shippingservice", "grpc"),
    ("frontend", "adservice", "grpc"),
    ("frontend", "cartservice", "grpc"),
    ("frontend", "checkoutservice", "grpc"),
    ("frontend", "currencyservice", "grpc"),
    ("frontend", "productcatalogservice", "grpc"),
    ("frontend", "recommendationservice", "grpc"),
    ("frontend", "shippingservice", "grpc"),
    ("loadgenerator", "frontend", "http"),
    ("recommendationservice", "productcatalogservice", "grpc"),
];

fn check_boutique_draft(
    d: &import::Draft,
    redis_sa: &'static str,
    file_of: &dyn Fn(&str) -> String,
) {
    // Workloads, field by field.
    let expected = expected_services(redis_sa);
    assert_eq!(
        d.services
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        expected.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    for ((name, w), (en, kind, ports, sa)) in d.services.iter().zip(&expected) {
        assert_eq!(name, en);
        assert_eq!(w.kind, *kind, "{name}");
        assert_eq!(w.name, *en, "{name}");
        assert_eq!(w.service_account, *sa, "{name}");
        assert!(
            w.pod_labels.contains(&("app".to_string(), en.to_string())),
            "{name}: {:?}",
            w.pod_labels
        );
        let got: Vec<(String, u16, u16)> = w
            .service
            .iter()
            .flat_map(|s| {
                s.ports
                    .iter()
                    .map(|p| (p.name.clone(), p.port, p.target_port))
            })
            .collect();
        let want: Vec<(String, u16, u16)> = ports
            .iter()
            .map(|(n, p, t)| (n.to_string(), *p, *t))
            .collect();
        assert_eq!(got, want, "{name}");
        if let Some(s) = &w.service {
            assert_eq!(s.name, *en);
            assert_eq!(s.selector, vec![("app".to_string(), en.to_string())]);
        } else {
            assert_eq!(
                *en, "loadgenerator",
                "only the load generator has no Service"
            );
        }
    }
    // Edges, one by one, each with its evidence.
    let got: Vec<(String, String, Vec<String>)> = d
        .rules
        .iter()
        .map(|r| (r.from.clone(), r.to.clone(), r.ports.clone()))
        .collect();
    let want: Vec<(String, String, Vec<String>)> = CALL_GRAPH
        .iter()
        .map(|(f, t, p)| (f.to_string(), t.to_string(), vec![p.to_string()]))
        .collect();
    assert_eq!(got, want);
    for r in &d.rules {
        assert!(!r.evidence.is_empty());
        for e in &r.evidence {
            assert_eq!(e.from, r.from);
            assert_eq!(e.file, file_of(&r.from), "{e:?}");
            assert!(e.place.contains(" env "), "{e:?}");
            let svc = if r.to == "redis-cart" {
                "redis-cart"
            } else {
                r.to.as_str()
            };
            assert!(e.text.starts_with(&format!("{svc}:")), "{e:?}");
            // The draft quotes it above the rule.
            let quoted = format!("{} {}={:?} ({})", e.from, e.place, e.text, e.file);
            assert!(d.text.contains(&quoted), "not quoted: {quoted}\n{}", d.text);
        }
    }
    // An address naming no Service: reported, not drafted.
    assert_eq!(d.unresolved.len(), 1, "{:?}", d.unresolved);
    let u = &d.unresolved[0];
    assert_eq!(
        (
            u.from.as_str(),
            u.host.as_str(),
            u.port,
            u.place.as_str(),
            u.text.as_str()
        ),
        (
            "frontend",
            "shoppingassistantservice",
            Some(80),
            "container server env SHOPPING_ASSISTANT_SERVICE_ADDR",
            "shoppingassistantservice:80"
        )
    );
    assert!(d.text.contains("# Not drafted: frontend container server env SHOPPING_ASSISTANT_SERVICE_ADDR=\"shoppingassistantservice:80\" names `shoppingassistantservice:80`, which is no Service of the input"), "{}", d.text);
    assert!(d.wrong_port.is_empty());
    // Services that call nobody are named, not given rules.
    assert!(d.text.contains("# No evidence of calls made by: adservice, currencyservice, emailservice, paymentservice, productcatalogservice, redis-cart, shippingservice."), "{}", d.text);
    // The draft compiles, and its edges are the call graph.
    let m = meshpack::compile_model(&d.text, None).unwrap_or_else(|e| panic!("{e:?}\n{}", d.text));
    let edges: Vec<(String, String, Vec<String>)> = m
        .edges
        .iter()
        .map(|e| (e.source.to_string(), e.dest.clone(), e.ports.clone()))
        .collect();
    assert_eq!(edges, want);
    assert!(m.services.iter().all(|s| s.attach.is_some()));
}

/// `meshpack import` of the chart, with the fetched Helm 3 and 4 on PATH.
#[test]
fn chart_drafts_the_workloads_and_the_call_graph() {
    for h in HELMS {
        let dir = tools().join(h);
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out_file = tempfile::NamedTempFile::new().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
            .env("PATH", &path)
            .args(["import"])
            .arg(boutique().join("helm-chart"))
            .arg("-o")
            .arg(out_file.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{h}: {err}");
        assert!(
            err.contains("drafted 12 services and 16 allow rules"),
            "{err}"
        );
        assert!(err.contains("SHOPPING_ASSISTANT_SERVICE_ADDR names `shoppingassistantservice:80`, which is no Service of the input; not drafted"), "{err}");
        let text = std::fs::read_to_string(out_file.path()).unwrap();
        assert!(text.contains("  name: onlineboutique-mesh\n"));
        assert!(text.contains("  version: \"0.10.6\"\n"));
        // In process too, for the structured result (helm from PATH).
        let mut input = Input::detect(&boutique().join("helm-chart"), vec![], vec![]);
        if let Input::Chart { helm, .. } = &mut input {
            *helm = common::helm(h);
        }
        let d = import::import(&input, None).unwrap();
        assert_eq!(d.text, text);
        check_boutique_draft(&d, "redis-cart", &|from: &str| {
            let file = if from == "redis-cart" {
                "cartservice"
            } else {
                from
            };
            format!("onlineboutique/templates/{file}.yaml")
        });
    }
}

/// Values reach the render: `--set` and `-f` change what is drafted.
#[test]
fn chart_values_reach_the_render() {
    let path = format!(
        "{}:{}",
        tools().join("helm4").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let values = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(values.path(), "adService:\n  create: false\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .env("PATH", &path)
        .arg("import")
        .arg(boutique().join("helm-chart"))
        .arg("-f")
        .arg(values.path())
        .args(["--set", "opentelemetryCollector.create=true"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("    adservice:\n"), "{text}");
    assert!(text.contains("    opentelemetrycollector:\n"), "{text}");
    // frontend still names adservice:9555, which no longer exists.
    assert!(text.contains("# Not drafted: frontend container server env AD_SERVICE_ADDR=\"adservice:9555\" names `adservice:9555`, which is no Service of the input"), "{text}");
    assert!(
        text.contains("- {from: frontend, to: opentelemetrycollector, ports: [grpc-otlp]}"),
        "{text}"
    );
}

#[test]
fn manifests_folder_drafts_the_same() {
    let d = import::import(
        &Input::detect(&boutique().join("kubernetes-manifests"), vec![], vec![]),
        None,
    )
    .unwrap();
    assert_eq!(d.name, "imported-mesh");
    // Upstream's manifests run Redis under the default ServiceAccount.
    check_boutique_draft(&d, "default", &|from: &str| {
        let file = if from == "redis-cart" {
            "cartservice"
        } else {
            from
        };
        format!("{file}.yaml")
    });
    assert!(
        d.text
            .contains("      attach: {serviceAccount: \"default\"}\n"),
        "{}",
        d.text
    );
}

/// Chart import without helm says what to do.
#[test]
fn chart_without_helm_is_an_error_with_a_way_out() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
        .env("PATH", empty.path())
        .arg("import")
        .arg(boutique().join("helm-chart"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run `helm template`"), "{err}");
    assert!(
        err.contains("put helm on PATH, or render the chart yourself"),
        "{err}"
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const FIXTURE: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: db}}
  template:
    metadata: {labels: {app.kubernetes.io/name: db, tier: data}}
    spec:
      serviceAccountName: db-sa
      containers: [{name: db, image: "postgres:16", ports: [{name: pg, containerPort: 5433}]}]
---
apiVersion: v1
kind: Service
metadata: {name: database}
spec:
  selector: {app.kubernetes.io/name: db}
  ports: [{name: postgres, port: 5432, targetPort: pg, appProtocol: tcp}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec:
          restartPolicy: Never
          containers:
            - name: report
              image: "report:1"
              args: ["--db=database.shop.svc.cluster.local:5432", "--web", "http://web/api"]
              envFrom: [{configMapRef: {name: report-config}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: report-config}
data:
  CACHE_URL: "redis://cache:6379/0"
  EXTERNAL: "https://api.example.com/v1"
  WRONG: "web:9999"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: "web:1"
          env: [{name: DB, value: "database.shop.svc"}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      serviceAccountName: agent
      containers: [{name: agent, image: "agent:1", env: [{name: SINK, value: "http://web:80/ingest"}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    metadata: {labels: {app: migrate}}
    spec:
      restartPolicy: Never
      serviceAccountName: migrate
      containers: [{name: migrate, image: "migrate:1", command: ["migrate", "database:5432"]}]
"#;

#[test]
fn evidence_from_urls_cluster_names_and_config_maps() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app.yaml", FIXTURE);
    write(dir.path(), "kustomization.yaml", "resources: [app.yaml]\n");
    let d = import::import(&Input::detect(dir.path(), vec![], vec![]), Some("shop")).unwrap();
    let names: Vec<(&str, &str, &str)> = d
        .services
        .iter()
        .map(|(n, w)| (n.as_str(), w.kind.as_str(), w.service_account.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("agent", "DaemonSet", "agent"),
            ("db", "StatefulSet", "db-sa"),
            ("migrate", "Job", "migrate"),
            ("report", "CronJob", "default"),
            ("web", "Deployment", "default")
        ]
    );
    let db = &d.services[1].1;
    let s = db.service.as_ref().unwrap();
    assert_eq!(s.name, "database");
    assert_eq!(s.ports.len(), 1);
    assert_eq!(
        (
            s.ports[0].name.as_str(),
            s.ports[0].port,
            s.ports[0].target_port,
            s.ports[0].app_protocol.as_deref()
        ),
        ("postgres", 5432, 5433, Some("tcp"))
    );
    // An unnamed Service port is named by its number.
    let web = d.services[4].1.service.as_ref().unwrap();
    assert_eq!(
        (
            web.ports[0].name.as_str(),
            web.ports[0].port,
            web.ports[0].target_port
        ),
        ("tcp-80", 80, 8080)
    );
    let rules: Vec<(String, String, Vec<String>, Vec<String>)> = d
        .rules
        .iter()
        .map(|r| {
            (
                r.from.clone(),
                r.to.clone(),
                r.ports.clone(),
                r.evidence.iter().map(|e| e.place.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        vec![
            (
                "agent".into(),
                "web".into(),
                vec!["tcp-80".into()],
                vec!["container agent env SINK".into()]
            ),
            (
                "migrate".into(),
                "db".into(),
                vec!["postgres".into()],
                vec!["container migrate command[1]".into()]
            ),
            (
                "report".into(),
                "db".into(),
                vec!["postgres".into()],
                vec!["container report args[0]".into()]
            ),
            (
                "report".into(),
                "web".into(),
                vec!["tcp-80".into()],
                vec!["container report args[2]".into()]
            ),
            // No port: every port of the Service.
            (
                "web".into(),
                "db".into(),
                vec![],
                vec!["container web env DB".into()]
            ),
        ]
    );
    // `cache` is no Service; api.example.com is outside the cluster (egress,
    // not reported); web:9999 names a port web does not have.
    let unresolved: Vec<(&str, &str, Option<u16>, &str)> = d
        .unresolved
        .iter()
        .map(|u| (u.from.as_str(), u.host.as_str(), u.port, u.place.as_str()))
        .collect();
    assert_eq!(
        unresolved,
        vec![(
            "report",
            "cache",
            Some(6379),
            "ConfigMap report-config key CACHE_URL"
        )]
    );
    assert_eq!(d.wrong_port.len(), 1);
    assert_eq!(
        (
            d.wrong_port[0].service.as_str(),
            d.wrong_port[0].port,
            d.wrong_port[0].place.as_str()
        ),
        ("web", Some(9999), "ConfigMap report-config key WRONG")
    );
    // The attach fields that differ from the defaults are written out.
    assert!(d.text.contains("      attach: {workload: {kind: StatefulSet, name: \"db\"}, selector: {\"app.kubernetes.io/name\": \"db\"}, serviceAccount: \"db-sa\", service: \"database\"}\n"), "{}", d.text);
    assert!(d.text.contains("      attach: {workload: {kind: CronJob, name: \"report\"}, serviceAccount: \"default\"}\n"), "{}", d.text);
    assert!(
        d.text
            .contains("        postgres: {port: 5432, targetPort: 5433}\n"),
        "{}",
        d.text
    );
    assert!(
        d.text.contains("# No evidence of calls made by: db."),
        "{}",
        d.text
    );
    assert!(
        d.text
            .contains("      attach: {workload: {kind: DaemonSet, name: \"agent\"}}\n"),
        "{}",
        d.text
    );
    assert!(
        d.text
            .contains("      attach: {workload: {kind: Job, name: \"migrate\"}}\n"),
        "{}",
        d.text
    );
    let m = meshpack::compile_model(&d.text, None).unwrap_or_else(|e| panic!("{e:?}\n{}", d.text));
    let db = m.service("db").unwrap().attach.as_ref().unwrap();
    assert_eq!(db.service, "database");
    assert_eq!(db.service_account, "db-sa");
    assert_eq!(
        db.selector,
        vec![("app.kubernetes.io/name".to_string(), "db".to_string())]
    );
}

#[test]
fn no_workloads_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    let e = import::import(&Input::detect(dir.path(), vec![], vec![]), None).unwrap_err();
    assert!(
        matches!(&e, import::Error::NoWorkloads { input } if *input == dir.path().display().to_string()),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}: no Deployment, StatefulSet, DaemonSet, Job or CronJob found; expected rendered Kubernetes manifests",
            dir.path().display()
        )
    );
}

/// `-f`/`--set` reach only `helm template`: with a folder or a file they
/// would be ignored, so the draft would not be the one asked for. Exit 2,
/// nothing written.
#[test]
fn values_for_manifests_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web}]}}}\n",
    );
    let draft = dir.path().join("draft.yaml");
    for (flag, value) in [("--set", "web.replicas=2"), ("-f", "prod-values.yaml")] {
        let out = Command::new(env!("CARGO_BIN_EXE_meshpack"))
            .arg("import")
            .arg(dir.path())
            .args([flag, value])
            .arg("-o")
            .arg(&draft)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.trim_end(),
            format!(
                "error: {}: `-f`/`--set` apply to a chart folder (one with Chart.yaml), and this is not one; render the manifests with those values yourself, or remove them",
                dir.path().display()
            ),
            "{flag}"
        );
        assert!(!draft.exists(), "{flag}");
    }
    // Without them the same folder drafts.
    assert!(Input::from_args(dir.path(), vec![], vec![]).is_ok());
}

/// A workload without `metadata.name` (a chart value rendering it empty)
/// is refused, naming its file, instead of drafting a service with an
/// empty name.
#[test]
fn a_workload_without_a_name_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: \"\"}\nspec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web}]}}}\n",
    );
    let e = import::import(&Input::detect(dir.path(), vec![], vec![]), None).unwrap_err();
    assert!(
        matches!(&e, import::Error::Unnamed { file, kind } if file == "web.yaml" && kind == "Deployment"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "web.yaml: a Deployment has no metadata.name; Kubernetes requires one (a chart value that renders the name empty?)"
    );
}
