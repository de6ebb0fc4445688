//! `meshpack validate` against kubeconform `-strict`, paired: for each
//! input the two binaries run alternately (meshpack, kubeconform, meshpack,
//! ...) in one invocation, and each kubeconform figure is the ratio of one
//! pair, reported as min/median/max over the pairs. Peak RSS per run is
//! read with wait4.
//!
//!     cargo bench --bench validate                         # 1k, 10k, 100k objects
//!     MESHPACK_BENCH_N=1000000 cargo bench --bench validate
//!     KUBECONFORM=/path/to/kubeconform MESHPACK_BENCH_RUNS=5 cargo bench --bench validate
//!     MESHPACK_BENCH_LAYOUTS=one cargo bench --bench validate   # one namespace only (or `ten`)
//!
//! Each row gives wall and CPU (user + system, wait4) medians and the load
//! average when the row started: on a shared machine the absolute times
//! move with the load, the paired ratios and peak RSS much less.
//!
//! kubeconform is found at $KUBECONFORM, else on PATH; build it outside the
//! checkout (bench/validate.sh says how). Schemas come from
//! `../shared/schemas` beside the checkout, for both tools.
//!
//! Inputs (generated into a temporary folder): apps of 8 objects
//! (ServiceAccount, Service, Deployment, ConfigMap, NetworkPolicy,
//! PeerAuthentication, AuthorizationPolicy, DestinationRule), either all in
//! ONE namespace (as a meshpack chart lays a release out) or ten apps per
//! namespace. Every run must report every object valid.
//!
//! Deliberate errors: a variant of the 10k input where every 25th app has
//! one error, cycling through five kinds (a string replica count, an
//! unknown field, `action: PERMIT`, a string container port, a
//! PeerAuthentication with `portLevelMtls` and no selector); the bench
//! prints how many invalid objects each tool reports, beside the count
//! planted.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    OneNamespace,
    TenAppsPerNamespace,
}

/// The five kinds of deliberate error, in the order they cycle.
const ERRORS: [&str; 5] = [
    "Deployment replicas is a string",
    "DestinationRule with an unknown field (trafficPolicy.loadBalancing)",
    "AuthorizationPolicy action PERMIT",
    "Deployment containerPort is a string",
    "PeerAuthentication portLevelMtls without selector (CEL rule)",
];

fn app(i: usize, layout: Layout, error: Option<usize>) -> String {
    let ns = match layout {
        Layout::OneNamespace => "shop".to_string(),
        Layout::TenAppsPerNamespace => format!("ns-{}", i / 10),
    };
    let e = |k: usize| error == Some(k);
    let replicas = if e(0) { "\"two\"" } else { "2" };
    // Spliced after `tls: {...}`, so it lands in `trafficPolicy`, where
    // `loadBalancer` is a real field: the misspelling is what makes it
    // unknown (until this round the bench planted `loadBalancer` there,
    // which is valid, so ten of its "errors" were none).
    let dr_extra = if e(1) { ", loadBalancing: {}" } else { "" };
    let action = if e(2) { "PERMIT" } else { "ALLOW" };
    let container_port = if e(3) { "\"8080\"" } else { "8080" };
    let pa = if e(4) {
        "portLevelMtls: {\"8080\": {mode: PERMISSIVE}}, mtls: {mode: STRICT}".to_string()
    } else {
        format!("selector: {{matchLabels: {{app: app-{i}}}}}, mtls: {{mode: STRICT}}")
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
        ports: [{{name: http, containerPort: {container_port}, protocol: TCP}}]
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
spec: {{{pa}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: app-{i}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: app-{i}}}}}
  action: {action}
  rules: [{{from: [{{source: {{principals: [cluster.local/ns/{ns}/sa/app-{i}]}}}}], to: [{{operation: {{ports: ["8080"], methods: [GET]}}}}]}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: app-{i}, namespace: {ns}}}
spec: {{host: app-{i}, trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}{dr_extra}}}}}
"#,
        j = i.saturating_sub(1)
    )
}

const PER_APP: usize = 8;

/// Write the input; return its path and the number of errors planted.
fn generate(n: usize, layout: Layout, error_every: usize, dir: &Path) -> (PathBuf, usize) {
    use std::io::Write;
    let p = dir.join(format!("objects-{n}.yaml"));
    let mut f = std::io::BufWriter::new(File::create(&p).unwrap());
    let mut planted = 0;
    for i in 0..n.div_ceil(PER_APP) {
        let error = (error_every > 0 && i % error_every == 0).then(|| {
            planted += 1;
            (i / error_every) % ERRORS.len()
        });
        f.write_all(app(i, layout, error).as_bytes()).unwrap();
    }
    f.flush().unwrap();
    (p, planted)
}

struct Run {
    seconds: f64,
    /// User + system time of the child.
    cpu: f64,
    rss_mib: f64,
    output: String,
}

/// Run a command alone, its output to a file; wall time and peak RSS (wait4).
fn run(cmd: &mut Command, dir: &Path) -> Run {
    let out_path = dir.join("out.txt");
    let out = File::create(&out_path).unwrap();
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; the child is ours and not waited for
    // elsewhere (the Child handle is dropped without wait).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let seconds = start.elapsed().as_secs_f64();
    drop(child);
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Run {
        seconds,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_mib: usage.ru_maxrss as f64 / 1024.0,
        output: std::fs::read_to_string(&out_path).unwrap_or_default(),
    }
}

/// "Invalid: N" from a kubeconform-style summary line.
fn count(out: &str, what: &str) -> Option<usize> {
    let i = out.rfind(what)?;
    out[i + what.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The 1-minute load average (Linux), or `?`.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken from the arguments.
    let ns: Vec<usize> = std::env::var("MESHPACK_BENCH_N")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("MESHPACK_BENCH_N: numbers"))
        .collect();
    let runs: usize = std::env::var("MESHPACK_BENCH_RUNS")
        .map(|s| s.parse().expect("MESHPACK_BENCH_RUNS: a number"))
        .unwrap_or(3);
    let layouts: Vec<Layout> = match std::env::var("MESHPACK_BENCH_LAYOUTS").as_deref() {
        Ok("one") => vec![Layout::OneNamespace],
        Ok("ten") => vec![Layout::TenAppsPerNamespace],
        Ok("" | "both") | Err(_) => vec![Layout::OneNamespace, Layout::TenAppsPerNamespace],
        Ok(other) => panic!("MESHPACK_BENCH_LAYOUTS: `one`, `ten` or `both`, not `{other}`"),
    };
    let meshpack = env!("CARGO_BIN_EXE_meshpack");
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas");
    assert!(
        shared.is_dir(),
        "{} is missing: put shared/ beside the checkout",
        shared.display()
    );
    let k8s =
        shared.join("kubernetes/v1.34-standalone-strict/{{.ResourceKind}}{{.KindSuffix}}.json");
    let istio = shared.join("istio/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json");
    let kc_args = [
        "-strict".to_string(),
        "-summary".to_string(),
        "-schema-location".to_string(),
        k8s.display().to_string(),
        "-schema-location".to_string(),
        istio.display().to_string(),
    ];
    let kc = kubeconform();
    let tmp = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut table = String::new();
    writeln!(
        table,
        "| objects | layout | load | meshpack wall / CPU | meshpack obj/s | meshpack peak RSS | kubeconform wall / CPU | kubeconform obj/s | kubeconform peak RSS | kubeconform / meshpack wall, min / median / max | CPU ratio, median |"
    )
    .unwrap();
    writeln!(
        table,
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    .unwrap();
    for &n in &ns {
        for &layout in &layouts {
            let (file, _) = generate(n, layout, 0, tmp.path());
            let load_at_start = load();
            let objects = n.div_ceil(PER_APP) * PER_APP;
            let valid = format!("Valid: {objects},");
            let (mut tm, mut tk, mut ratios) = (vec![], vec![], vec![]);
            let (mut cm, mut ck, mut cpu_ratios) = (vec![], vec![], vec![]);
            let (mut rss_m, mut rss_k) = (0f64, 0f64);
            for _ in 0..runs {
                let m = run(
                    Command::new(meshpack).arg("validate").arg(&file),
                    tmp.path(),
                );
                assert!(m.output.contains(&valid), "meshpack: {}", m.output);
                tm.push(m.seconds);
                cm.push(m.cpu);
                rss_m = rss_m.max(m.rss_mib);
                if let Some(kc) = &kc {
                    let k = run(Command::new(kc).args(&kc_args).arg(&file), tmp.path());
                    assert!(k.output.contains(&valid), "kubeconform: {}", k.output);
                    tk.push(k.seconds);
                    ck.push(k.cpu);
                    cpu_ratios.push(k.cpu / m.cpu);
                    rss_k = rss_k.max(k.rss_mib);
                    ratios.push(k.seconds / m.seconds);
                }
            }
            let layout_name = match layout {
                Layout::OneNamespace => "one namespace",
                Layout::TenAppsPerNamespace => "10 apps per namespace",
            };
            let m_med = median(&mut tm);
            let m_cpu = median(&mut cm);
            let (k_cols, ratio_col) = if kc.is_some() {
                let k_med = median(&mut tk);
                let k_cpu = median(&mut ck);
                let mut r = ratios.clone();
                let med = median(&mut r);
                let cpu_med = median(&mut cpu_ratios);
                (
                    format!(
                        "{k_med:.3} s / {k_cpu:.3} s | {:.0} | {rss_k:.0} MiB",
                        objects as f64 / k_med
                    ),
                    format!(
                        "{:.2}x / {med:.2}x / {:.2}x | {cpu_med:.2}x",
                        r[0],
                        r[r.len() - 1]
                    ),
                )
            } else {
                ("- | - | -".to_string(), "- | -".to_string())
            };
            writeln!(
                table,
                "| {objects} | {layout_name} | {load_at_start} | {m_med:.3} s / {m_cpu:.3} s | {:.0} | {rss_m:.0} MiB | {k_cols} | {ratio_col} |",
                objects as f64 / m_med
            )
            .unwrap();
            std::fs::remove_file(&file).unwrap();
        }
    }

    // Deliberate errors: how many each tool finds.
    let n = 10_000usize
        .min(*ns.iter().max().unwrap_or(&10_000))
        .max(1_000);
    let (broken, planted) = generate(n, Layout::OneNamespace, 25, tmp.path());
    let m = run(
        Command::new(meshpack).arg("validate").arg(&broken),
        tmp.path(),
    );
    let mut errors = format!(
        "deliberate errors in {} objects (one namespace): {planted} planted, cycling through: {}\n",
        n.div_ceil(PER_APP) * PER_APP,
        ERRORS.join("; ")
    );
    writeln!(
        errors,
        "- meshpack validate (built-in schemas): {} invalid",
        count(&m.output, "Invalid: ").map_or("?".into(), |c| c.to_string())
    )
    .unwrap();
    if let Some(kc) = &kc {
        let k = run(Command::new(kc).args(&kc_args).arg(&broken), tmp.path());
        writeln!(
            errors,
            "- kubeconform -strict (upstream schemas): {} invalid",
            count(&k.output, "Invalid: ").map_or("?".into(), |c| c.to_string())
        )
        .unwrap();
    }

    println!(
        "meshpack validate vs kubeconform ({cores} cores, {runs} alternating pairs per row){}",
        if kc.is_none() {
            "; kubeconform not found: set KUBECONFORM"
        } else {
            ""
        }
    );
    print!("{table}");
    println!();
    print!("{errors}");
}
