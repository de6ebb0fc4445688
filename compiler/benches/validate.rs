//! `meshpack validate` throughput (objects/second) on N generated objects,
//! beside kubeconform over the same input and the same upstream schemas
//! when a `kubeconform` binary is on PATH (or at $KUBECONFORM).
//!
//!     cargo bench --bench validate                 # N = 1000, 10000, 100000
//!     MESHPACK_BENCH_N=5000 cargo bench --bench validate
//!
//! Each figure is the best of three runs of the whole binary, reading a file.
//! Verdicts are compared too: an input with every 50th Deployment broken
//! must give both tools the same count of invalid resources.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn app(i: usize, broken: bool) -> String {
    let ns = format!("ns-{}", i / 10);
    let replicas = if broken {
        "\"two\"".to_string()
    } else {
        "2".to_string()
    };
    format!(
        r#"---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: app-{i}, namespace: {ns}}}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: {ns}, labels: {{app: app-{i}}}}}
spec:
  selector: {{app: app-{i}}}
  ports: [{{name: http, port: 80, targetPort: http, appProtocol: http}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: {ns}, labels: {{app: app-{i}}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}, version: v1}}}}
    spec:
      serviceAccountName: app-{i}
      automountServiceAccountToken: false
      securityContext: {{runAsNonRoot: true, runAsUser: 10001, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
      - name: app
        image: registry.example.com/app:{i}.0.0
        ports: [{{name: http, containerPort: 8080, protocol: TCP}}]
        resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: "1", memory: 512Mi}}}}
        securityContext: {{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {{drop: [ALL]}}}}
        readinessProbe: {{tcpSocket: {{port: http}}, periodSeconds: 10}}
        livenessProbe: {{tcpSocket: {{port: http}}, periodSeconds: 20}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-{i}, namespace: {ns}}}
data: {{LOG_LEVEL: info, FEATURE: "on"}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: app-{i}, namespace: {ns}}}
spec:
  podSelector: {{matchLabels: {{app: app-{i}}}}}
  policyTypes: [Ingress]
  ingress: [{{from: [{{podSelector: {{matchLabels: {{app: app-{j}}}}}}}], ports: [{{protocol: TCP, port: 8080}}]}}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: app-{i}, namespace: {ns}}}
spec: {{selector: {{matchLabels: {{app: app-{i}}}}}, mtls: {{mode: STRICT}}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: app-{i}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: app-{i}}}}}
  action: ALLOW
  rules: [{{from: [{{source: {{principals: [cluster.local/ns/{ns}/sa/app-{i}]}}}}], to: [{{operation: {{ports: ["8080"], methods: [GET]}}}}]}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: app-{i}, namespace: {ns}}}
spec: {{host: app-{i}, trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}}}
"#,
        j = i.saturating_sub(1)
    )
}

const PER_APP: usize = 8;

fn generate(n: usize, dir: &Path, broken_every: usize) -> PathBuf {
    let mut s = String::new();
    for i in 0..n.div_ceil(PER_APP) {
        s.push_str(&app(i, broken_every > 0 && i % broken_every == 0));
    }
    let p = dir.join(format!("objects-{n}-{broken_every}.yaml"));
    std::fs::write(&p, s).unwrap();
    p
}

fn best_of_3(cmd: &mut dyn FnMut() -> Command) -> (Duration, String) {
    let mut best = Duration::MAX;
    let mut output = String::new();
    for _ in 0..3 {
        let start = Instant::now();
        let out = cmd().output().expect("run");
        let t = start.elapsed();
        output = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        best = best.min(t);
    }
    (best, output)
}

/// "Invalid: N" from a kubeconform-style summary line.
fn invalid_count(out: &str) -> Option<usize> {
    let i = out.rfind("Invalid: ")?;
    out[i + 9..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn kubeconform() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBECONFORM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubeconform"))
        .find(|p| p.is_file())
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken from the arguments.
    let ns: Vec<usize> = std::env::var("MESHPACK_BENCH_N")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("MESHPACK_BENCH_N: numbers"))
        .collect();
    let meshpack = env!("CARGO_BIN_EXE_meshpack");
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas");
    let k8s =
        shared.join("kubernetes/v1.34-standalone-strict/{{.ResourceKind}}{{.KindSuffix}}.json");
    let istio = shared.join("istio/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json");
    let kc = kubeconform();
    let tmp = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut table = String::new();
    writeln!(
        table,
        "| objects | tool | time | objects/s | vs kubeconform |"
    )
    .unwrap();
    writeln!(table, "| ---: | --- | ---: | ---: | ---: |").unwrap();
    for &n in &ns {
        let file = generate(n, tmp.path(), 0);
        let objects = n.div_ceil(PER_APP) * PER_APP;
        let mut rows: Vec<(String, Duration)> = vec![];
        let upstream = |c: &mut Command| {
            c.args([
                "--schema-location",
                k8s.to_str().unwrap(),
                "--schema-location",
                istio.to_str().unwrap(),
            ]);
        };
        let (t, out) = best_of_3(&mut || {
            let mut c = Command::new(meshpack);
            c.arg("validate").arg(&file);
            c
        });
        assert!(
            out.contains(&format!("Valid: {objects},")),
            "meshpack: {out}"
        );
        rows.push(("meshpack (built-in schemas + mesh checks)".into(), t));
        let (t, out) = best_of_3(&mut || {
            let mut c = Command::new(meshpack);
            c.arg("validate");
            upstream(&mut c);
            c.arg("--no-mesh-checks").arg(&file);
            c
        });
        assert!(
            out.contains(&format!("Valid: {objects},")),
            "meshpack upstream: {out}"
        );
        rows.push(("meshpack (upstream schemas, no mesh checks)".into(), t));
        let mut kc_time = None;
        if let Some(kc) = &kc {
            let (t, out) = best_of_3(&mut || {
                let mut c = Command::new(kc);
                c.args([
                    "-strict",
                    "-summary",
                    "-schema-location",
                    k8s.to_str().unwrap(),
                    "-schema-location",
                    istio.to_str().unwrap(),
                ]);
                c.arg(&file);
                c
            });
            assert!(
                out.contains(&format!("Valid: {objects},")),
                "kubeconform: {out}"
            );
            rows.push(("kubeconform (upstream schemas)".into(), t));
            kc_time = Some(t);

            // Same verdicts on a broken input.
            let broken = generate(n, tmp.path(), 50);
            let ours = Command::new(meshpack)
                .arg("validate")
                .arg("--no-mesh-checks")
                .arg(&broken)
                .output()
                .unwrap();
            let theirs = Command::new(kc)
                .args([
                    "-strict",
                    "-summary",
                    "-schema-location",
                    k8s.to_str().unwrap(),
                    "-schema-location",
                    istio.to_str().unwrap(),
                ])
                .arg(&broken)
                .output()
                .unwrap();
            let (a, b) = (
                invalid_count(&String::from_utf8_lossy(&ours.stdout)),
                invalid_count(&String::from_utf8_lossy(&theirs.stdout)),
            );
            assert_eq!(a, b, "verdicts differ on {}", broken.display());
        }
        for (tool, t) in rows {
            let rate = objects as f64 / t.as_secs_f64();
            let ratio = kc_time
                .map(|k| format!("{:.1}x", k.as_secs_f64() / t.as_secs_f64()))
                .unwrap_or_else(|| "-".into());
            writeln!(
                table,
                "| {objects} | {tool} | {:.3} s | {:.0} | {ratio} |",
                t.as_secs_f64(),
                rate
            )
            .unwrap();
        }
    }
    println!(
        "meshpack validate throughput ({cores} cores){}",
        if kc.is_none() {
            "; kubeconform not on PATH"
        } else {
            ""
        }
    );
    print!("{table}");
}
