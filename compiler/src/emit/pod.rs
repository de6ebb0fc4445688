//! The parts of a generated pod that come from `model::Pod`: command and
//! arguments, env (text with other services' addresses, or `valueFrom`),
//! `envFrom`, volumes and mounts, the ConfigMap of files, init containers,
//! probes given in the policy, and the security contexts merged over the
//! generated defaults.
//!
//! Invariant: a Kubernetes fragment of the policy is copied as written
//! (the model checked it against Kubernetes' schema); the only text this
//! module makes is an address, through `Names`, so it follows the release
//! name in the chart and the application's name in the Kustomize tree.
//! Secret values never reach the chart's values: a Secret is named
//! (`secretKeyRef`, `envFrom`, a volume), never filled in.

use super::{to_value, Names, Out, Part, FULLNAME};
use crate::model::{EnvVal, Piece, Service, Text, Version};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{json, Map, Value};

/// The volume (and ConfigMap suffix) holding a service's files.
pub const FILES: &str = "files";

/// Text with every service reference written as the release names the
/// Service: the service's name, `<fullname>-<service>` with `serviceNames:
/// release`, an attached service's own Service.
pub fn text(n: &Names, out: &mut Out, t: &Text) -> Value {
    // Owned pieces first: `Part` borrows.
    let mut owned: Vec<(bool, String)> = vec![];
    for p in t {
        match p {
            Piece::Lit(s) => owned.push((false, s.clone())),
            Piece::Host(h) => match n.attached(h) {
                Some(a) => owned.push((false, a.service.clone())),
                None if n.short_services() => owned.push((false, h.clone())),
                None => {
                    owned.push((true, String::new()));
                    owned.push((false, format!("-{h}")));
                }
            },
        }
    }
    if owned.iter().all(|(v, _)| !v) {
        return json!(owned.into_iter().map(|(_, s)| s).collect::<String>());
    }
    let parts: Vec<Part> = owned
        .iter()
        .map(|(v, s)| {
            if *v {
                Part::Val(FULLNAME, n.app)
            } else {
                Part::Lit(s)
            }
        })
        .collect();
    out.text(&parts)
}

/// The Secrets a service's pod names (env `secretKeyRef`, `envFrom`
/// `secretRef`, `secret` volumes), sorted: the chart takes each one's name
/// from `secrets.<name>`, so a customer points the release at the Secret
/// they already have. A name with a dot stays literal (it cannot be a
/// values key).
pub fn secret_names(s: &Service) -> Vec<String> {
    let p = &s.pod;
    let mut names: Vec<String> = vec![];
    let envs = s
        .env
        .iter()
        .chain(s.versions.iter().flat_map(|v| v.env.iter()));
    for (_, v) in envs {
        if let EnvVal::From(f) = v {
            names.extend(f["secretKeyRef"]["name"].as_str().map(str::to_string));
        }
    }
    for e in p
        .env_from
        .iter()
        .flat_map(|e| e.as_array().into_iter().flatten())
    {
        names.extend(e["secretRef"]["name"].as_str().map(str::to_string));
    }
    for v in p
        .volumes
        .iter()
        .flat_map(|e| e.as_array().into_iter().flatten())
    {
        names.extend(v["secret"]["secretName"].as_str().map(str::to_string));
    }
    names.retain(|n| configurable(n));
    names.sort();
    names.dedup();
    names
}

fn configurable(name: &str) -> bool {
    !name.is_empty() && !name.contains('.')
}

/// The name of a Secret the policy names, as the chart's `secrets.<name>`.
fn secret(out: &mut Out, name: &Value) -> Value {
    match name.as_str() {
        Some(n) if configurable(n) => out.scalar(
            &format!("{} | quote", super::values::secret(n).bare()),
            json!(n),
        ),
        _ => name.clone(),
    }
}

/// The container's `env`: a version's own (merged over the service's) or
/// the service's.
pub fn env(n: &Names, out: &mut Out, s: &Service, version: Option<&Version>) -> Option<Value> {
    let list = match version {
        Some(v) if !v.env.is_empty() => &v.env,
        _ => &s.env,
    };
    if list.is_empty() {
        return None;
    }
    let items = list
        .iter()
        .map(|(k, v)| match v {
            EnvVal::Text(t) => json!({"name": k, "value": text(n, out, t)}),
            EnvVal::From(f) => {
                let mut f = f.clone();
                if f["secretKeyRef"]["name"].is_string() {
                    f["secretKeyRef"]["name"] = secret(out, &f["secretKeyRef"]["name"]);
                }
                json!({"name": k, "valueFrom": f})
            }
        })
        .collect();
    Some(Value::Array(items))
}

/// `b` over `a`, maps merged key by key (lists and scalars replaced).
pub fn merge(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut o = x.clone();
            for (k, v) in y {
                let merged = match o.get(k) {
                    Some(old) => merge(old, v),
                    None => v.clone(),
                };
                o.insert(k.clone(), merged);
            }
            Value::Object(o)
        }
        (_, b) => b.clone(),
    }
}

/// The container's security context: the generated one with the policy's over it.
pub fn security_context(s: &Service) -> Value {
    let base = super::pod_meta::container_security_context(s.read_only_root_filesystem);
    match &s.pod.security_context {
        Some(own) => merge(&base, own),
        None => base,
    }
}

/// The pod's security context: the generated one with the policy's over it.
pub fn pod_security_context(s: &Service) -> Value {
    let base = super::pod_meta::pod_security_context(s.run_as_user);
    match &s.pod.pod_security_context {
        Some(own) => merge(&base, own),
        None => base,
    }
}

/// Command, arguments, `envFrom`, the policy's mounts and the files' mounts,
/// and the probes the policy gives (each replacing the generated one).
pub fn container(n: &Names, out: &mut Out, s: &Service, c: &mut Value) {
    let p = &s.pod;
    for (key, list) in [("command", &p.command), ("args", &p.args)] {
        if let Some(items) = list {
            let v: Vec<Value> = items.iter().map(|t| text(n, out, t)).collect();
            c[key] = Value::Array(v);
        }
    }
    if let Some(e) = &p.env_from {
        let mut e = e.clone();
        for item in e.as_array_mut().into_iter().flatten() {
            if item["secretRef"]["name"].is_string() {
                item["secretRef"]["name"] = secret(out, &item["secretRef"]["name"]);
            }
        }
        c["envFrom"] = e;
    }
    let mounts = c["volumeMounts"].as_array_mut();
    if let Some(mounts) = mounts {
        mounts.extend(
            p.volume_mounts
                .iter()
                .flat_map(|m| m.as_array().cloned().unwrap_or_default()),
        );
        for f in &p.files {
            mounts.push(json!({
                "name": FILES,
                "mountPath": f.mount_path,
                "subPath": f.key,
                "readOnly": true,
            }));
        }
    }
    for (key, probe) in [
        ("readinessProbe", &p.readiness),
        ("livenessProbe", &p.liveness),
        ("startupProbe", &p.startup),
    ] {
        if let Some(probe) = probe {
            c[key] = probe.clone();
        }
    }
}

/// The policy's volumes, the files' ConfigMap volume and the init
/// containers (each under the generated container security context unless
/// it gives its own).
pub fn pod(n: &Names, out: &mut Out, s: &Service, pod: &mut Value) {
    let p = &s.pod;
    let mut own: Vec<Value> = p
        .volumes
        .iter()
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .collect();
    for v in &mut own {
        if v["secret"]["secretName"].is_string() {
            v["secret"]["secretName"] = secret(out, &v["secret"]["secretName"]);
        }
    }
    if let Some(vols) = pod["volumes"].as_array_mut() {
        vols.extend(own);
    }
    if !p.files.is_empty() {
        let name = n.object(out, &format!("{}-{FILES}", s.name));
        if let Some(vols) = pod["volumes"].as_array_mut() {
            vols.push(json!({"name": FILES, "configMap": {"name": name}}));
        }
    }
    if let Some(Value::Array(inits)) = &p.init_containers {
        // Service references in their command, args and env values.
        let mut all = Value::Array(inits.clone());
        for (pointer, t) in &p.init_texts {
            let v = text(n, out, t);
            if let Some(slot) = all.pointer_mut(pointer) {
                *slot = v;
            }
        }
        let inits = all.as_array().cloned().unwrap_or_default();
        let base = super::pod_meta::container_security_context(s.read_only_root_filesystem);
        let inits: Vec<Value> = inits
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c["securityContext"] = match c.get("securityContext") {
                    Some(own) if !own.is_null() => merge(&base, own),
                    _ => base.clone(),
                };
                c
            })
            .collect();
        pod["initContainers"] = Value::Array(inits);
    }
}

/// The ConfigMap of the service's files, if it has any.
pub fn files_config_map(n: &Names, out: &mut Out, s: &Service) -> Option<Value> {
    if s.pod.files.is_empty() {
        return None;
    }
    let mut v = to_value(&ConfigMap::default());
    v["metadata"] = n.meta(out, &format!("{}-{FILES}", s.name), Some(&s.name));
    let data: Map<String, Value> = s
        .pod
        .files
        .iter()
        .map(|f| (f.key.clone(), text(n, out, &f.content)))
        .collect();
    v["data"] = Value::Object(data);
    Some(v)
}
