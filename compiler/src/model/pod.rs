//! What a service's pods carry besides image, ports and storage: command,
//! arguments, env (text or Kubernetes `valueFrom`), `envFrom`, volumes and
//! mounts, init containers, probes, security contexts, files packed into a
//! ConfigMap, and a CronJob's schedule.
//!
//! Invariant: fields that would only copy Kubernetes are kept as the JSON
//! the policy wrote, after `fragment` checked them against Kubernetes'
//! own schema; nothing here knows chart or template syntax. Text that names
//! another service (`${service:<name>[:<port>]}`) is resolved into
//! [`Text`] pieces once every service is known, so the emitters can write
//! the address as the release names it.

use super::{fragment, Resolver, Service, Workload};
use crate::policy;
use serde_json::Value;
use std::collections::BTreeMap;

/// Text with references to other services' addresses.
pub type Text = Vec<Piece>;

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Lit(String),
    /// The host name of a service of the policy (its Service's name).
    Host(String),
}

/// An environment variable's value.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvVal {
    Text(Text),
    /// A Kubernetes `EnvVarSource`, checked against its schema.
    From(Value),
}

/// A file next to the policy, packed into the service's ConfigMap.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// Where the container sees it.
    pub mount_path: String,
    /// A plain file name beside the policy.
    pub source: String,
    /// The ConfigMap key (`file-0`, `file-1`, ... in mount-path order).
    pub key: String,
    /// Filled by `crate::compile_policy`, which reads the files and
    /// resolves their service references.
    pub content: Text,
    /// The file as read (bundles carry it beside the policy).
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pod {
    pub command: Option<Vec<Text>>,
    pub args: Option<Vec<Text>>,
    pub env_from: Option<Value>,
    pub volumes: Option<Value>,
    pub volume_mounts: Option<Value>,
    pub init_containers: Option<Value>,
    /// Strings of the init containers (command, args, env values) that
    /// hold service references, by JSON pointer into `init_containers`.
    pub init_texts: Vec<(String, Text)>,
    pub readiness: Option<Value>,
    pub liveness: Option<Value>,
    pub startup: Option<Value>,
    pub security_context: Option<Value>,
    pub pod_security_context: Option<Value>,
    pub files: Vec<File>,
    pub schedule: Option<String>,
}

/// The items of a list field (`volumes`, `volumeMounts`, `initContainers`),
/// none when it is not set or not a list.
fn items(v: &Option<Value>) -> impl Iterator<Item = &Value> {
    v.iter().flat_map(list)
}

/// The items of `v`, none when it is not a list (a container's `env`).
fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// Which pod fields a service sets: attached and external services refuse them.
pub(super) fn fields_set(s: &policy::Service) -> [(&'static str, bool); 11] {
    [
        ("command", s.command.is_some()),
        ("args", s.args.is_some()),
        ("envFrom", s.env_from.is_some()),
        ("volumes", s.volumes.is_some()),
        ("volumeMounts", s.volume_mounts.is_some()),
        ("initContainers", s.init_containers.is_some()),
        ("probes", s.probes.is_some()),
        ("securityContext", s.security_context.is_some()),
        ("podSecurityContext", s.pod_security_context.is_some()),
        ("files", s.files.is_some()),
        ("schedule", s.schedule.is_some()),
    ]
}

/// Volume names meshpack generates itself.
pub const GENERATED_VOLUMES: [&str; 3] = ["tmp", "data", "files"];

impl Resolver<'_> {
    /// The pod fields of one service that need no other service: the
    /// Kubernetes fragments (checked against their schemas), mounts naming
    /// volumes, files and the schedule.
    pub(super) fn pod(&mut self, name: &str, s: &policy::Service, workload: Workload) -> Pod {
        let path = format!("spec.services.{name}");
        let at = |rest: &[&str]| -> Vec<String> {
            ["spec", "services", name]
                .iter()
                .chain(rest)
                .map(|x| x.to_string())
                .collect()
        };
        let probes = s.probes.as_ref();
        // Values that are not fields of their own: probes and env sources.
        let mut owned: Vec<(Vec<String>, fragment::Kind, Value)> = probes
            .into_iter()
            .flat_map(|p| {
                [
                    ("readiness", &p.readiness),
                    ("liveness", &p.liveness),
                    ("startup", &p.startup),
                ]
            })
            .filter_map(|(k, v)| {
                v.clone()
                    .map(|v| (at(&["probes", k]), fragment::Kind::Probe, v))
            })
            .collect();
        let envs = std::iter::once((vec![], &s.env)).chain(
            s.versions
                .iter()
                .map(|(vn, v)| (vec!["versions", vn.as_str()], &v.env)),
        );
        for (prefix, env) in envs {
            for (k, v) in env {
                if let policy::EnvValue::From(m) = v {
                    let mut p = prefix.clone();
                    p.extend(["env", k.as_str()]);
                    owned.push((
                        at(&p),
                        fragment::Kind::EnvVarSource,
                        Value::Object(m.clone()),
                    ));
                }
            }
        }
        let mut checks: Vec<(Vec<String>, fragment::Kind, &Value)> =
            owned.iter().map(|(p, k, v)| (p.clone(), *k, v)).collect();
        let fields = [
            ("envFrom", fragment::Kind::EnvFromList, &s.env_from),
            ("volumes", fragment::Kind::VolumeList, &s.volumes),
            (
                "volumeMounts",
                fragment::Kind::VolumeMountList,
                &s.volume_mounts,
            ),
            (
                "initContainers",
                fragment::Kind::ContainerList,
                &s.init_containers,
            ),
            (
                "securityContext",
                fragment::Kind::SecurityContext,
                &s.security_context,
            ),
            (
                "podSecurityContext",
                fragment::Kind::PodSecurityContext,
                &s.pod_security_context,
            ),
        ];
        for (field, kind, v) in fields {
            if let Some(v) = v {
                checks.push((at(&[field]), kind, v));
            }
        }
        let found = fragment::check(self.spans, &checks);
        let ok = found.is_empty();
        for d in found {
            self.diags.push(d);
        }
        let mut pod = Pod {
            env_from: s.env_from.clone(),
            volumes: s.volumes.clone(),
            volume_mounts: s.volume_mounts.clone(),
            init_containers: s.init_containers.clone(),
            readiness: probes.and_then(|p| p.readiness.clone()),
            liveness: probes.and_then(|p| p.liveness.clone()),
            startup: probes.and_then(|p| p.startup.clone()),
            security_context: s.security_context.clone(),
            pod_security_context: s.pod_security_context.clone(),
            schedule: s.schedule.clone(),
            ..Default::default()
        };
        if ok {
            self.check_volumes(&path, &pod, s.files.is_some());
        }
        self.check_env_refs(&path, s);
        pod.files = self.files(&path, s.files.as_ref());
        match (workload, &pod.schedule) {
            (Workload::CronJob, None) => self.err_key(
                "E0315",
                &path,
                format!("`{name}` is a CronJob without a schedule"),
                "add `schedule:` in cron syntax, e.g. `schedule: \"0 3 * * *\"`".into(),
            ),
            (Workload::CronJob, Some(c)) if c.split_whitespace().count() != 5 && !c.starts_with('@') => self.err(
                "E0315",
                &format!("{path}.schedule"),
                format!("`{c}` is not a cron schedule"),
                "write five fields (minute hour day-of-month month day-of-week), e.g. `0 3 * * *`, or a macro such as `@daily`".into(),
            ),
            (Workload::CronJob, Some(_)) | (_, None) => {}
            (_, Some(_)) => self.err_key(
                "E0315",
                &format!("{path}.schedule"),
                format!("`{name}` has a schedule but is a {}", workload.kind()),
                "add `workload: CronJob`, or remove `schedule`".into(),
            ),
        }
        pod
    }

    /// Every mount names a volume the pod has; no volume takes a name
    /// meshpack generates.
    /// The main container's mount paths are unique (the API server
    /// refuses a pod whose container mounts two volumes at one path):
    /// meshpack's own `/tmp` and storage mount, the `files` and the
    /// `volumeMounts`. Init containers' names are unique and not the main
    /// container's, the service's name.
    pub(super) fn check_mounts(&mut self, name: &str, pod: &Pod, storage: Option<&str>) {
        let path = format!("spec.services.{name}");
        let mut seen: Vec<(String, String)> =
            vec![("/tmp".into(), "the writable `/tmp` meshpack mounts".into())];
        if let Some(m) = storage {
            seen.push((m.to_string(), "the storage mount".into()));
        }
        // (mount path, where it is written, what it is for a person)
        let mut paths: Vec<(String, String, String)> = pod
            .files
            .iter()
            .map(|f| {
                (
                    f.mount_path.clone(),
                    format!("{path}.files.{}", f.mount_path),
                    format!("the file mounted at `{}`", f.mount_path),
                )
            })
            .collect();
        for (i, m) in items(&pod.volume_mounts).enumerate() {
            if let Some(p) = m["mountPath"].as_str() {
                paths.push((
                    p.to_string(),
                    format!("{path}.volumeMounts[{i}].mountPath"),
                    format!("volumeMounts[{i}]"),
                ));
            }
        }
        if let Some(m) = storage {
            if m.trim_end_matches('/') == "/tmp" {
                self.err(
                    "E0314",
                    &format!("{path}.storage.mountPath"),
                    "storage is mounted at `/tmp`, where meshpack mounts the writable `/tmp`"
                        .into(),
                    "mount the storage elsewhere, e.g. `/data`".into(),
                );
            }
        }
        for (p, at, what) in paths {
            let norm = p.trim_end_matches('/');
            if let Some((_, first)) = seen.iter().find(|(q, _)| q.trim_end_matches('/') == norm) {
                self.err(
                    "E0314",
                    &at,
                    format!("`{p}` is mounted twice in `{name}`'s container (also by {first})"),
                    "give each mount its own path; the API server refuses a container with two mounts at one path".into(),
                );
            } else {
                seen.push((p, what));
            }
        }
        let mut init: Vec<&str> = vec![];
        for (i, c) in items(&pod.init_containers).enumerate() {
            let Some(n) = c["name"].as_str() else {
                continue;
            };
            if n == name || init.contains(&n) {
                self.err(
                    "E0314",
                    &format!("{path}.initContainers[{i}].name"),
                    format!("init container name `{n}` is taken in `{name}`'s pod"),
                    format!(
                        "container names in a pod are unique, and `{name}` is the main container's"
                    ),
                );
            }
            init.push(n);
        }
    }

    /// The names env vars give Kubernetes, as the API server checks a pod
    /// (Kubernetes 1.34, pkg/apis/core/validation: `validateEnvVarValueFrom`,
    /// `validateEnvFrom`): a `secretKeyRef` or `configMapKeyRef` names its
    /// Secret or ConfigMap by a DNS-1123 subdomain and its key by
    /// `IsConfigMapKey`; an `envFrom` entry names its ConfigMap or Secret
    /// so too, and its `prefix` is an env var name (printable ASCII but
    /// `=`, `IsEnvVarName` relaxed, GA in 1.34); init containers' env var
    /// names are too. The service's and its versions' env keys are
    /// checked with the service (E0216); the fragments' shapes by
    /// `fragment` (a name or key that is not a string is reported there).
    fn check_env_refs(&mut self, path: &str, s: &policy::Service) {
        let envs = std::iter::once((path.to_string(), &s.env)).chain(
            s.versions
                .iter()
                .map(|(v, pv)| (format!("{path}.versions.{v}"), &pv.env)),
        );
        for (at, env) in envs {
            for (k, v) in env {
                if let policy::EnvValue::From(m) = v {
                    self.env_source_refs(&format!("{at}.env.{k}"), m);
                }
            }
        }
        if let Some(list) = &s.env_from {
            self.env_from_refs(&format!("{path}.envFrom"), list);
        }
        for (i, c) in items(&s.init_containers).enumerate() {
            let at = format!("{path}.initContainers[{i}]");
            for (j, e) in list(&c["env"]).enumerate() {
                if let Some(n) = e["name"].as_str() {
                    self.name(
                        super::names::Rule::EnvVarName,
                        "E0216",
                        &format!("{at}.env[{j}].name"),
                        n,
                        "an environment variable name",
                    );
                }
                if let Some(m) = e["valueFrom"].as_object() {
                    self.env_source_refs(&format!("{at}.env[{j}].valueFrom"), m);
                }
            }
            self.env_from_refs(&format!("{at}.envFrom"), &c["envFrom"]);
        }
    }

    /// An `EnvVarSource`'s Secret or ConfigMap name and key (E0319).
    fn env_source_refs(&mut self, at: &str, m: &serde_json::Map<String, Value>) {
        for (field, what) in [("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")] {
            let Some(r) = m.get(field).and_then(Value::as_object) else {
                continue;
            };
            self.referent_name(&format!("{at}.{field}"), r, what);
            if let Some(k) = r.get("key").and_then(Value::as_str) {
                self.name(
                    super::names::Rule::ConfigMapKey,
                    "E0319",
                    &format!("{at}.{field}.key"),
                    k,
                    &format!("a {what} key"),
                );
            }
        }
    }

    /// An `envFrom` list's ConfigMap and Secret names (E0319) and
    /// prefixes (E0216).
    fn env_from_refs(&mut self, at: &str, entries: &Value) {
        for (i, e) in list(entries).enumerate() {
            let at = format!("{at}[{i}]");
            for (field, what) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                if let Some(r) = e[field].as_object() {
                    self.referent_name(&format!("{at}.{field}"), r, what);
                }
            }
            if let Some(p) = e["prefix"].as_str().filter(|p| !p.is_empty()) {
                self.name(
                    super::names::Rule::EnvVarName,
                    "E0216",
                    &format!("{at}.prefix"),
                    p,
                    "an environment variable prefix",
                );
            }
        }
    }

    /// The `name` of a reference to a Secret or ConfigMap: a DNS-1123
    /// subdomain (so not empty), as `ValidateSecretName` and
    /// `ValidateConfigMapName` require (E0319).
    fn referent_name(&mut self, at: &str, r: &serde_json::Map<String, Value>, what: &str) {
        // Without a name or with another type: reported by `fragment`
        // (Kubernetes' schema requires `name` there).
        if let Some(n) = r.get("name").and_then(Value::as_str) {
            self.name(
                super::names::Rule::Dns1123Subdomain,
                "E0319",
                &format!("{at}.name"),
                n,
                &format!("a {what} name"),
            );
        }
    }

    fn check_volumes(&mut self, path: &str, pod: &Pod, has_files: bool) {
        let names: Vec<String> = items(&pod.volumes)
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect();
        for (i, n) in names.iter().enumerate() {
            let at = format!("{path}.volumes[{i}].name");
            if !super::names::check(super::names::Rule::Dns1123Label, n) {
                self.err(
                    "E0313",
                    &at,
                    format!("volume name `{n}` is not a DNS-1123 label"),
                    "use at most 63 lowercase letters, digits and `-`".into(),
                );
            } else if names[..i].contains(n) {
                self.err(
                    "E0313",
                    &at,
                    format!("two volumes are named `{n}`"),
                    "give each volume its own name".into(),
                );
            }
            if GENERATED_VOLUMES.contains(&n.as_str()) {
                self.err(
                    "E0313",
                    &format!("{path}.volumes[{i}].name"),
                    format!("volume name `{n}` is one meshpack generates"),
                    "choose another name; `tmp` (the writable /tmp), `data` (storage) and `files` (files) are taken".into(),
                );
            }
        }
        let mut known: Vec<&str> = names.iter().map(String::as_str).collect();
        known.extend(["tmp", "data"]);
        if has_files {
            known.push("files");
        }
        for (i, m) in items(&pod.volume_mounts).enumerate() {
            let Some(n) = m["name"].as_str() else {
                continue;
            };
            if !known.contains(&n) {
                let help = match crate::diag::suggest(n, known.iter().copied()) {
                    Some(s) => format!(
                        "did you mean `{s}`? add the volume under `volumes`, or fix the name"
                    ),
                    None => "add the volume under `volumes`, or fix the name".into(),
                };
                self.err(
                    "E0314",
                    &format!("{path}.volumeMounts[{i}].name"),
                    format!("volume mount names volume `{n}`, which the pod does not have"),
                    help,
                );
            }
        }
    }

    fn files(&mut self, path: &str, files: Option<&BTreeMap<String, String>>) -> Vec<File> {
        let mut out = vec![];
        for (i, (mount, source)) in files.into_iter().flatten().enumerate() {
            let p = format!("{path}.files.{mount}");
            if !mount.starts_with('/') || mount.ends_with('/') || mount.contains("/../") {
                self.err_key(
                    "E0317",
                    &p,
                    format!("`{mount}` is not an absolute file path"),
                    "write where the container reads the file, e.g. `/etc/app/config.yaml`".into(),
                );
            }
            // A plain name beside the policy, as the image lock: it travels
            // with the policy into bundles, and cannot leave its folder.
            if source.is_empty() || source.contains(['/', '\\']) || source.starts_with('.') {
                self.err(
                    "E0316",
                    &p,
                    format!("`{source}` is not a file name beside the policy"),
                    "keep the file next to the policy and write its plain name, e.g. `clickhouse-config.xml`; folders, `..` and absolute paths are refused".into(),
                );
            }
            out.push(File {
                mount_path: mount.clone(),
                source: source.clone(),
                key: format!("file-{i}"),
                content: vec![],
                raw: String::new(),
            });
        }
        out
    }

    /// Second pass, once every service is known: env, command and args
    /// with their references resolved (a version's env over the service's).
    pub(super) fn texts(&mut self, policy: &policy::Spec, services: &mut [Service]) {
        let ports = ports_of(services);
        for s in services.iter_mut() {
            let Some(ps) = policy.services.get(&s.name) else {
                continue;
            };
            let path = format!("spec.services.{}", s.name);
            s.env = self.env(&format!("{path}.env"), &ps.env, &ports);
            for v in &mut s.versions {
                if let Some(pv) = ps.versions.get(&v.name) {
                    if !pv.env.is_empty() {
                        let own =
                            self.env(&format!("{path}.versions.{}.env", v.name), &pv.env, &ports);
                        let mut merged: BTreeMap<String, EnvVal> = s.env.iter().cloned().collect();
                        merged.extend(own);
                        v.env = merged.into_iter().collect();
                    }
                }
            }
            s.pod.command = ps.command.as_ref().map(|c| {
                c.iter()
                    .enumerate()
                    .map(|(i, t)| self.text(&format!("{path}.command[{i}]"), t, &ports))
                    .collect()
            });
            s.pod.args = ps.args.as_ref().map(|c| {
                c.iter()
                    .enumerate()
                    .map(|(i, t)| self.text(&format!("{path}.args[{i}]"), t, &ports))
                    .collect()
            });
            s.pod.init_texts = self.init_texts(&path, ps.init_containers.as_ref(), &ports);
        }
    }

    /// References in init containers' command, args and env values, as
    /// in the container's own.
    fn init_texts(
        &mut self,
        path: &str,
        inits: Option<&Value>,
        ports: &Ports,
    ) -> Vec<(String, Text)> {
        let mut out = vec![];
        for (i, c) in inits
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut strings: Vec<(String, String, &str)> = vec![];
            for key in ["command", "args"] {
                for (j, a) in list(&c[key]).enumerate() {
                    if let Some(t) = a.as_str() {
                        strings.push((
                            format!("/{i}/{key}/{j}"),
                            format!("{path}.initContainers[{i}].{key}[{j}]"),
                            t,
                        ));
                    }
                }
            }
            for (j, e) in list(&c["env"]).enumerate() {
                if let Some(t) = e["value"].as_str() {
                    strings.push((
                        format!("/{i}/env/{j}/value"),
                        format!("{path}.initContainers[{i}].env[{j}].value"),
                        t,
                    ));
                }
            }
            for (pointer, at, t) in strings {
                if t.contains("${") {
                    let text = self.text(&at, t, ports);
                    out.push((pointer, text));
                }
            }
        }
        out
    }

    fn env(
        &mut self,
        path: &str,
        env: &BTreeMap<String, policy::EnvValue>,
        ports: &Ports,
    ) -> Vec<(String, EnvVal)> {
        env.iter()
            .map(|(k, v)| {
                let val = match v {
                    policy::EnvValue::Text(t) => {
                        EnvVal::Text(self.text(&format!("{path}.{k}"), &t.0, ports))
                    }
                    policy::EnvValue::From(m) => EnvVal::From(Value::Object(m.clone())),
                };
                (k.clone(), val)
            })
            .collect()
    }

    /// A text with its references resolved; errors at `path`.
    fn text(&mut self, path: &str, s: &str, ports: &Ports) -> Text {
        let (t, errors) = parse_text(s, ports);
        for (code, msg, help) in errors {
            self.err(code, path, msg, help);
        }
        t
    }
}

/// Each service's ports: (name, number).
pub type Ports = BTreeMap<String, Vec<(String, u16)>>;

/// The ports of the model's services, for [`parse_text`].
pub fn ports_of(services: &[Service]) -> Ports {
    services
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.ports.iter().map(|p| (p.name.clone(), p.port)).collect(),
            )
        })
        .collect()
}

/// `${service:<name>}` is the service's host, `${service:<name>:<port>}`
/// its host and port (`postgres:5432`); `$${` is a literal `${`. Returns
/// the text and the errors (code, message, help).
pub fn parse_text(s: &str, ports: &Ports) -> (Text, Vec<(&'static str, String, String)>) {
    let mut errors = vec![];
    let mut out: Text = vec![];
    let mut lit = String::new();
    let mut rest = s;
    const FORMS: &str =
        "write `${service:<name>}` or `${service:<name>:<port>}`; `$${` is a literal `${`";
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            lit.push_str(&rest[..i - 1]);
            lit.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        lit.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            errors.push((
                "E0310",
                format!("`{s}` opens `${{` without a closing `}}`"),
                FORMS.into(),
            ));
            lit.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let inner = &after[..end];
        rest = &after[end + 1..];
        let parts: Vec<&str> = inner.split(':').collect();
        if parts.len() < 2 || parts.len() > 3 || parts[0] != "service" {
            errors.push((
                "E0310",
                format!("`${{{inner}}}` is not a service reference"),
                FORMS.into(),
            ));
            continue;
        }
        let svc = parts[1];
        let Some(sp) = ports.get(svc) else {
            let help = match crate::diag::suggest(svc, ports.keys().map(String::as_str)) {
                Some(k) => {
                    format!("did you mean `{k}`? a reference names a service of `spec.services`")
                }
                None => "a reference names a service of `spec.services`".into(),
            };
            errors.push((
                "E0311",
                format!("`${{{inner}}}` names no service `{svc}`"),
                help,
            ));
            continue;
        };
        if !lit.is_empty() {
            out.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        out.push(Piece::Host(svc.to_string()));
        if let Some(port) = parts.get(2) {
            let found = sp
                .iter()
                .find(|(n, p)| n == port || p.to_string() == *port)
                .map(|(_, p)| *p);
            match found {
                Some(p) => lit.push_str(&format!(":{p}")),
                None => {
                    let names: Vec<&str> = sp.iter().map(|(n, _)| n.as_str()).collect();
                    errors.push((
                        "E0312",
                        format!("`{svc}` has no port `{port}`"),
                        format!("its ports: {}", names.join(", ")),
                    ));
                }
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    (out, errors)
}

/// The text as it reads with every host written by `host`.
pub fn render(t: &Text, host: impl Fn(&str) -> String) -> String {
    t.iter()
        .map(|p| match p {
            Piece::Lit(s) => s.clone(),
            Piece::Host(h) => host(h),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> Ports {
        BTreeMap::from([
            ("db".to_string(), vec![("tcp-postgres".to_string(), 5432)]),
            (
                "api".to_string(),
                vec![("http".to_string(), 8080), ("grpc".to_string(), 9090)],
            ),
        ])
    }

    fn lit(s: &str) -> Piece {
        Piece::Lit(s.into())
    }

    fn host(s: &str) -> Piece {
        Piece::Host(s.into())
    }

    #[test]
    fn references_become_hosts_and_ports() {
        let p = ports();
        assert_eq!(
            parse_text("postgres://app@${service:db:tcp-postgres}/app", &p),
            (
                vec![lit("postgres://app@"), host("db"), lit(":5432/app")],
                vec![]
            )
        );
        assert_eq!(
            parse_text("${service:api}", &p),
            (vec![host("api")], vec![])
        );
        // A port by number, two references, and an escaped `${`.
        assert_eq!(
            parse_text("${service:api:9090},${service:db:5432} $${HOME}", &p),
            (
                vec![host("api"), lit(":9090,"), host("db"), lit(":5432 ${HOME}")],
                vec![]
            )
        );
        assert_eq!(parse_text("plain", &p), (vec![lit("plain")], vec![]));
        assert_eq!(parse_text("", &p), (vec![], vec![]));
    }

    #[test]
    fn bad_references_are_errors() {
        let p = ports();
        let codes = |s: &str| -> Vec<&'static str> {
            parse_text(s, &p).1.into_iter().map(|(c, _, _)| c).collect()
        };
        assert_eq!(codes("${service:dbb}"), vec!["E0311"]);
        assert_eq!(codes("${service:db:http}"), vec!["E0312"]);
        assert_eq!(codes("${env:HOME}"), vec!["E0310"]);
        assert_eq!(codes("${service:db"), vec!["E0310"]);
        assert_eq!(codes("${service:a:b:c}"), vec!["E0310"]);
        let (_, e) = parse_text("${service:dbb}", &p);
        assert_eq!(
            e[0].2,
            "did you mean `db`? a reference names a service of `spec.services`"
        );
    }

    #[test]
    fn render_writes_hosts_with_the_given_names() {
        let t = vec![lit("http://"), host("api"), lit(":8080")];
        assert_eq!(render(&t, |h| format!("rel-{h}")), "http://rel-api:8080");
    }
}
