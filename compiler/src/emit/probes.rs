//! Proof in the customer's cluster: `helm test` Pods (`tests.enabled`, the
//! Kustomize `tests` component) that connect as each source service would
//! and report what passed in `meshpack matrix`'s text format.
//!
//! One Pod per source service probes every port the policy lets it reach
//! and a sample of ports it must not reach (up to [`FORBIDDEN_SAMPLE`]
//! other services), and exits 1 on any difference.
//!
//! Invariant: a probe is its source as the enforcement sees it: the
//! source's ServiceAccount, its pod labels (so NetworkPolicy podSelectors
//! and Istio's workload selection treat it as the source) and the same
//! injection decision, all produced by the functions that make the source's
//! own pod template (`pod_meta::pod_labels`, `pod_annotation_lines`). It
//! must not widen anything: it declares no ports, no rule names it, and a
//! readiness gate no controller sets keeps it NotReady, so the source's
//! Service never sends it traffic although its labels match.
//! <https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-readiness-gate>
//!
//! A service whose versions run under ServiceAccounts of their own
//! (`from: <service>@<version>` in some rule) has one probe per version
//! (`probe-<service>-<version>`, the row source `<service>@<version>` as
//! `meshpack matrix` prints it): that version's ServiceAccount and labels,
//! and the rules from the service or from that version.

use super::pod_meta::{self, container_security_context, pod_security_context};
use super::values::{helm_tests, PodField, Svc};
use super::{out, to_value, File, Group, Mode, Names, Part, FULLNAME};
use crate::model::{identity_suffix, Model, Protocol, Service, Source, Version};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, Pod, PodReadinessGate, PodSpec, Volume, VolumeMount,
};
use serde_json::{json, Map, Value};

/// Forbidden destinations probed per source, at most.
pub const FORBIDDEN_SAMPLE: usize = 3;

/// The readiness condition no controller sets.
pub const READINESS_GATE: &str = "meshpack.dev/probe";

/// One connection a probe tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub allow: bool,
    pub http: bool,
    /// The destination service, its Service port, and the row's port
    /// (target port) and name, as `meshpack matrix` prints them.
    pub service: String,
    pub port: u16,
    pub target_port: u16,
    pub name: String,
    pub method: String,
    pub path: String,
}

/// A path an edge allows: its first pattern with `*` made concrete, as the
/// `verify` probes do.
fn concrete(pattern: &str) -> String {
    if pattern == "*" {
        "/".to_string()
    } else {
        pattern.replace('*', "meshpack-probe")
    }
}

/// What a source's probe checks: each port the policy lets it reach, then
/// the first ports of up to [`FORBIDDEN_SAMPLE`] services it may not reach.
pub fn checks(m: &Model, s: &Service, as_version: Option<&Version>) -> Vec<Check> {
    let mut out = vec![];
    let edges: Vec<&crate::model::Edge> = m
        .edges
        .iter()
        .filter(|e| match &e.source {
            Source::Service(n) => *n == s.name,
            Source::Version { service, version } => {
                *service == s.name && as_version.is_some_and(|v| v.name == *version)
            }
            _ => false,
        })
        .collect();
    for d in &m.services {
        let to_d: Vec<_> = edges.iter().filter(|e| e.dest == d.name).collect();
        for p in &d.ports {
            let allowed = to_d.iter().find(|e| e.ports.contains(&p.name));
            if let Some(e) = allowed {
                out.push(Check {
                    allow: true,
                    http: p.protocol == Protocol::Http,
                    service: d.name.clone(),
                    port: p.port,
                    target_port: p.target_port,
                    name: p.name.clone(),
                    method: e.methods.first().cloned().unwrap_or_else(|| "GET".into()),
                    path: e
                        .paths
                        .first()
                        .map(|x| concrete(x))
                        .unwrap_or_else(|| "/".into()),
                });
            }
        }
    }
    let mut sampled = 0;
    for d in m.services.iter().filter(|d| d.name != s.name) {
        if sampled == FORBIDDEN_SAMPLE {
            break;
        }
        let reached: Vec<&String> = edges
            .iter()
            .filter(|e| e.dest == d.name)
            .flat_map(|e| &e.ports)
            .collect();
        if let Some(p) = d.ports.iter().find(|p| !reached.contains(&&p.name)) {
            out.push(Check {
                allow: false,
                http: p.protocol == Protocol::Http,
                service: d.name.clone(),
                port: p.port,
                target_port: p.target_port,
                name: p.name.clone(),
                method: "GET".into(),
                path: "/".into(),
            });
            sampled += 1;
        }
    }
    out
}

/// What a service's probes stand for: each version, when the versions
/// have identities of their own, else the whole service (`None`).
fn stand_ins<'s>(m: &Model, s: &'s Service) -> Vec<Option<&'s Version>> {
    if m.version_identities(&s.name) {
        s.versions.iter().map(Some).collect()
    } else {
        vec![None]
    }
}

/// A word for `sh`: single-quoted.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The host a check connects to, as a shell word: the Service's name as
/// clients call it (`Names::host`): the service's own name by default, an
/// attached service's Service, or `<fullname>-<service>` under
/// `serviceNames: release`, where the script's `$prefix` is the fullname.
fn host_word(n: &Names, service: &str) -> String {
    match n.attached(service) {
        Some(a) => sh(&a.service),
        None if n.short_services() => sh(service),
        None => format!("\"$prefix\"-{service}"),
    }
}

/// The probe script after `prefix=<fullname>`: one `check` line per
/// connection, the rows of what passed, the differences, the sidecar's exit.
fn script_body(n: &Names, source: &str, checks: &[Check]) -> String {
    let mut s = String::from(
        r#"
timeout="${MESHPACK_PROBE_TIMEOUT:-15}"
rows=""
problems=""
# An HTTP request is denied when it never gets an answer (000), when
# Istio's RBAC filter answers 403 "RBAC: access denied", when the
# client's sidecar cannot open the upstream connection (503 "upstream
# connect error"), or when it has no route to the host (502 with no body:
# the Sidecar's egress hosts and REGISTRY_ONLY). A TCP connection is allowed when it stays open, or the
# server speaks, until the timeout (longer than Envoy's 10 s connect
# timeout, so a sidecar holding a blocked connection does not pass).
check() {
  want=$1 kind=$2 host=$3 port=$4 method=$5 path=$6 row=$7
  if [ "$kind" = http ]; then
    code=$(curl -s -o /tmp/body -w '%{http_code}' --max-time "$timeout" -X "$method" "http://$host:$port$path")
    if [ "$code" = 000 ] \
      || { [ "$code" = 403 ] && grep -q 'RBAC: access denied' /tmp/body; } \
      || { [ "$code" = 503 ] && grep -q 'upstream connect error' /tmp/body; } \
      || { [ "$code" = 502 ] && [ ! -s /tmp/body ]; }; then
      got=deny
    else
      got=allow
    fi
  else
    sleep "$timeout" | curl -s --max-time "$timeout" "telnet://$host:$port" > /tmp/body 2>/dev/null
    rc=$?
    if [ "$rc" = 28 ] || [ -s /tmp/body ]; then got=allow; else got=deny; fi
  fi
  [ "$got" = allow ] && rows="$rows
  -> $row"
  if [ "$got" != "$want" ]; then
    if [ "$want" = allow ]; then what="intended but not allowed"; else what="allowed but not intended"; fi
    problems="$problems
$what: $SOURCE -> $row"
  fi
}
"#,
    );
    s.push_str(&format!("SOURCE={}\n", sh(source)));
    for c in checks {
        let row = format!("{}:{} ({})", c.service, c.target_port, c.name);
        s.push_str(&format!(
            "check {} {} {} {} {} {} {}\n",
            if c.allow { "allow" } else { "deny" },
            if c.http { "http" } else { "tcp" },
            host_word(n, &c.service),
            c.port,
            sh(&c.method),
            sh(&c.path),
            sh(&row),
        ));
    }
    s.push_str(
        r#"echo "Reachability (probed in the cluster); everything not listed is denied."
echo "$SOURCE$rows"
status=0
if [ -n "$problems" ]; then
  echo "$problems" | sed '/^$/d'
  status=1
fi
# A sidecar in containers[] keeps the Pod running after the probe: ask
# pilot-agent to exit (Istio before native sidecars, 1.27). A native
# sidecar (an init container) stops with the Pod, and without a sidecar
# nothing listens: both ignore this.
# https://istio.io/latest/blog/2023/native-sidecars/
curl -s -X POST http://localhost:15020/quitquitquit > /dev/null 2>&1 || true
exit $status
"#,
    );
    s
}

fn probe(
    m: &Model,
    n: &Names,
    out: &mut out::Out,
    s: &Service,
    as_version: Option<&Version>,
    checks: &[Check],
) -> Value {
    let sv = super::svc_values(s);
    let pod = Pod {
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            readiness_gates: Some(vec![PodReadinessGate {
                condition_type: READINESS_GATE.into(),
            }]),
            containers: vec![Container {
                name: "probe".into(),
                image_pull_policy: Some("IfNotPresent".into()),
                command: Some(vec!["/bin/sh".into(), "-c".into()]),
                // The script writes responses here; the root is read-only.
                volume_mounts: Some(vec![VolumeMount {
                    name: "tmp".into(),
                    mount_path: "/tmp".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            volumes: Some(vec![Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut v = to_value(&pod);
    v["apiVersion"] = json!("v1");
    v["kind"] = json!("Pod");
    let name = match as_version {
        Some(v) => format!("probe-{}", identity_suffix(&s.name, &v.name)),
        None => format!("probe-{}", s.name),
    };
    let mut meta = n.meta(out, &name, Some(&s.name));
    meta["labels"] = pod_meta::pod_labels(m, n, out, s, as_version);
    if let Some(v) = as_version {
        meta["labels"][pod_meta::VERSION_LABEL] = json!(v.name);
    }
    // The hook, and the application held until its sidecar is ready, as
    // the pod's own annotations (scrape annotations aside) say otherwise.
    // https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/#ProxyConfig
    let mut hook = Map::new();
    hook.insert("helm.sh/hook".into(), json!("test"));
    hook.insert(
        "helm.sh/hook-delete-policy".into(),
        json!("before-hook-creation"),
    );
    let hold = "proxy.istio.io/config";
    match out.lines(annotation_lines(n.app, &sv, &hook, hold)) {
        Some(mk) => meta[mk.as_str()] = Value::Null,
        None => {
            hook.insert(
                hold.into(),
                json!("{\"holdApplicationUntilProxyStarts\":true}"),
            );
            meta["annotations"] = Value::Object(hook);
        }
    }
    v["metadata"] = meta;
    let spec = &mut v["spec"];
    spec["serviceAccountName"] = match as_version {
        Some(v) => n.object(out, &identity_suffix(&s.name, &v.name)),
        None => n.object(out, &s.name),
    };
    spec["securityContext"] = out.yaml(
        &sv.own_or_default(PodField::PodSecurityContext),
        pod_security_context(s.run_as_user),
    );
    let c = &mut spec["containers"][0];
    c["image"] = out.scalar(
        &format!(
            "include \"{}.image\" (dict \"image\" {} \"ctx\" $) | quote",
            n.app,
            helm_tests::image().expr()
        ),
        json!(m.probe_image.as_ref().map(ToString::to_string)),
    );
    let source = match as_version {
        Some(v) => format!("{}@{}", s.name, v.name),
        None => s.name.clone(),
    };
    let body = script_body(n, &source, checks);
    let script = out.text(&[
        Part::Lit("prefix="),
        Part::Val(FULLNAME, n.app),
        Part::Lit(&body),
    ]);
    c["command"] = json!(["/bin/sh", "-c", script]);
    c["env"] = json!([{
        "name": "MESHPACK_PROBE_TIMEOUT",
        "value": out.scalar(
            &format!("{} | quote", helm_tests::timeout_seconds().expr()),
            json!(helm_tests::timeout_seconds()
                .default(m)
                .map(|v| v.to_string())
                .unwrap_or_default()),
        ),
    }]);
    c["securityContext"] = container_security_context(true);
    c["resources"] = json!({
        "requests": {"cpu": "10m", "memory": "16Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    });
    v
}

/// The source pod's annotation lines with the hook added and the sidecar
/// hold set unless the values already configure the proxy.
fn annotation_lines(app: &str, sv: &Svc, hook: &Map<String, Value>, hold: &str) -> Vec<String> {
    let mut lines = pod_meta::pod_annotation_lines(
        app,
        &sv.own_or_default(PodField::PodAnnotations),
        &Map::new(),
    );
    let at = lines
        .iter()
        .position(|l| l == "{{- with $annotations }}")
        .expect("the annotations block");
    let mut extra: Vec<String> = hook
        .iter()
        .map(|(k, v)| format!("{{{{- $_ := set $annotations {k:?} {} }}}}", v))
        .collect();
    extra.push(format!(
        "{{{{- if not (hasKey $annotations {hold:?}) }}}}{{{{- $_ := set $annotations {hold:?} \"{{\\\"holdApplicationUntilProxyStarts\\\":true}}\" }}}}{{{{- end }}}}"
    ));
    lines.splice(at..at, extra);
    lines
}

/// One file per source service that has something to probe; none without
/// `spec.images.probe`.
pub fn files(m: &Model, mode: Mode) -> Vec<File> {
    if m.probe_image.is_none() {
        return vec![];
    }
    let n = Names::new(m);
    let mut files = vec![];
    for s in m.services.iter().filter(|s| s.attach.is_none()) {
        for version in stand_ins(m, s) {
            let cs = checks(m, s, version);
            if cs.is_empty() {
                continue;
            }
            let file = match version {
                Some(v) => identity_suffix(&s.name, &v.name),
                None => s.name.clone(),
            };
            let mut f = File::new(format!("tests/probe-{file}.yaml"), Group::Tests, mode);
            let v = probe(m, &n, &mut f.out, s, version, &cs);
            f.push(v);
            files.push(f);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        allow: bool,
        http: bool,
        svc: &str,
        port: u16,
        name: &str,
        method: &str,
        path: &str,
    ) -> Check {
        Check {
            allow,
            http,
            service: svc.into(),
            port,
            target_port: port,
            name: name.into(),
            method: method.into(),
            path: path.into(),
        }
    }

    #[test]
    fn each_allowed_port_then_a_sample_of_forbidden_ones() {
        let m = crate::compile_model(
            "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 1.0.0\n  images: {probe: 'docker.io/curlimages/curl:8.11.1'}\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n    api: {image: 'r.example.com/api:1', ports: {http: 8080, http-metrics: 9090}}\n    db: {image: 'r.example.com/db:1', ports: {tcp-pg: 5432}}\n    cache: {image: 'r.example.com/cache:1', ports: {tcp-redis: 6379}}\n    queue: {image: 'r.example.com/queue:1', ports: {tcp-amqp: 5672}}\n  allow:\n    - {from: web, to: api, ports: [http], paths: ['/v1/*'], methods: [POST, GET]}\n    - {from: api, to: db}\n",
            None,
        )
        .unwrap();
        let svc = |n: &str| m.services.iter().find(|s| s.name == n).unwrap();
        assert_eq!(
            checks(&m, svc("web"), None),
            vec![
                check(
                    true,
                    true,
                    "api",
                    8080,
                    "http",
                    "POST",
                    "/v1/meshpack-probe"
                ),
                check(false, true, "api", 9090, "http-metrics", "GET", "/"),
                check(false, false, "cache", 6379, "tcp-redis", "GET", "/"),
                check(false, false, "db", 5432, "tcp-pg", "GET", "/"),
            ]
        );
        assert_eq!(
            checks(&m, svc("api"), None),
            vec![
                check(true, false, "db", 5432, "tcp-pg", "GET", "/"),
                check(false, false, "cache", 6379, "tcp-redis", "GET", "/"),
                check(false, false, "queue", 5672, "tcp-amqp", "GET", "/"),
                check(false, true, "web", 8080, "http", "GET", "/"),
            ]
        );
        // The script names each destination as clients call its Service
        // (the service's own name by default), its row as `meshpack
        // matrix` prints it.
        let names = Names::new(&m);
        let body = script_body(&names, "web", &checks(&m, svc("web"), None));
        assert!(body.contains("\nSOURCE='web'\ncheck allow http 'api' 8080 'POST' '/v1/meshpack-probe' 'api:8080 (http)'\n"), "{body}");
        assert!(body.contains("\ncheck deny tcp 'db' 5432 'GET' '/' 'db:5432 (tcp-pg)'\n"));
        // Under `serviceNames: release` the Service is `<fullname>-<service>`.
        let mut release = m.clone();
        release.service_names = crate::model::ServiceNames::Release;
        let names = Names::new(&release);
        let body = script_body(&names, "web", &checks(&release, svc("web"), None));
        assert!(body.contains("\ncheck allow http \"$prefix\"-api 8080 'POST' '/v1/meshpack-probe' 'api:8080 (http)'\n"), "{body}");
        // Without a probe image, no tests.
        let mut plain = m.clone();
        plain.probe_image = None;
        assert!(files(&plain, Mode::Plain).is_empty());
        assert_eq!(files(&m, Mode::Plain).len(), 5);
    }

    #[test]
    fn one_probe_per_version_when_a_rule_names_a_version() {
        let m = crate::compile_model(
            "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: bk}\nspec:\n  version: 1.0.0\n  images: {probe: 'docker.io/curlimages/curl:8.11.1'}\n  services:\n    productpage: {image: 'r.example.com/p:1', ports: {http: 9080}}\n    reviews:\n      image: 'r.example.com/r:1'\n      ports: {http: 9080}\n      versions: {v1: {}, v2: {}}\n    ratings: {image: 'r.example.com/ra:1', ports: {http: 9080}}\n  allow:\n    - {from: productpage, to: reviews}\n    - {from: reviews@v2, to: ratings}\n",
            None,
        )
        .unwrap();
        let reviews = m.services.iter().find(|s| s.name == "reviews").unwrap();
        let (v1, v2) = (Some(&reviews.versions[0]), Some(&reviews.versions[1]));
        // v1 may reach nothing: ratings is among what it must not reach.
        assert_eq!(
            checks(&m, reviews, v1),
            vec![
                check(false, true, "productpage", 9080, "http", "GET", "/"),
                check(false, true, "ratings", 9080, "http", "GET", "/"),
            ]
        );
        assert_eq!(
            checks(&m, reviews, v2),
            vec![
                check(true, true, "ratings", 9080, "http", "GET", "/"),
                check(false, true, "productpage", 9080, "http", "GET", "/"),
            ]
        );
        let files = files(&m, Mode::Plain);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "tests/probe-productpage.yaml",
                "tests/probe-ratings.yaml",
                "tests/probe-reviews-v1.yaml",
                "tests/probe-reviews-v2.yaml",
            ]
        );
        let pod = &files[3].docs[0].value;
        assert_eq!(pod["metadata"]["name"], json!("bk-probe-reviews-v2"));
        assert_eq!(pod["metadata"]["labels"]["version"], json!("v2"));
        assert_eq!(pod["spec"]["serviceAccountName"], json!("bk-reviews-v2"));
    }

    #[test]
    fn words_are_quoted_for_sh() {
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
