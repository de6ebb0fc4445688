//! One deployed service: its name, workload, image, storage, ports, mTLS
//! modes, resources and pod, and the check that no two workloads share a
//! name.
//!
//! Invariant: a `Service` is built only from names and ports this file
//! checked; what is wrong is reported, and a placeholder keeps resolution
//! going.

use super::*;
use crate::policy::{self, PortSpec, ServiceMtls, Storage};
use std::collections::BTreeMap;

impl Resolver<'_> {
    /// A service's objects are `<release>-<service>`, a version's
    /// `<release>-<service>-<version>`: service `web-canary` and version
    /// `canary` of `web` would be two Deployments of one name.
    pub(super) fn check_workload_names(&mut self, services: &[Service]) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut workloads = vec![];
        // Every service, versioned or not: its Service, ServiceAccount and
        // Istio objects take `<release>-<service>` too.
        for s in services {
            workloads.push((
                s.name.clone(),
                format!("service `{}`", s.name),
                format!("spec.services.{}", s.name),
            ));
            for v in &s.versions {
                workloads.push((
                    format!("{}-{}", s.name, v.name),
                    format!("version `{}` of service `{}`", v.name, s.name),
                    format!("spec.services.{}.versions.{}", s.name, v.name),
                ));
            }
        }
        for (name, what, path) in workloads {
            if let Some(first) = seen.get(&name) {
                self.err_key(
                    "E0221",
                    &path,
                    format!("{what} and {first} would both be the workload `<release>-{name}`"),
                    "rename the service or the version; object names must be unique".into(),
                );
            } else {
                seen.insert(name, what);
            }
        }
    }

    pub(super) fn service(
        &mut self,
        app: &str,
        name: &str,
        s: &policy::Service,
        defaults: &policy::ServiceDefaults,
        registry: Option<&str>,
    ) -> Service {
        let path = format!("spec.services.{name}");
        if !is_dns_label(name) {
            self.err_key(
                "E0210",
                &path,
                format!("service name `{name}` is not a DNS-1035 label"),
                "use lowercase letters, digits and `-`, starting with a letter".into(),
            );
        } else if RESERVED.contains(&name) {
            self.err_key(
                "E0217",
                &path,
                format!("service name `{name}` is reserved"),
                format!(
                    "meshpack names release-wide objects `<release>-{name}`; choose another name"
                ),
            );
        } else if app.len().max(MIN_FULLNAME) + 1 + name.len() > MAX_OBJECT_NAME {
            self.err_key(
                "E0211",
                &path,
                format!(
                    "`{app}-{name}` is {} characters; object names stop at {MAX_OBJECT_NAME}, and the release part keeps at least {MIN_FULLNAME}",
                    app.len() + 1 + name.len()
                ),
                "shorten the service name (objects are named `<release>-<service>`)".into(),
            );
        }
        let workload = match s.workload {
            policy::Workload::Deployment => Workload::Deployment,
            policy::Workload::StatefulSet => Workload::StatefulSet,
            policy::Workload::DaemonSet => Workload::DaemonSet,
            policy::Workload::Job => Workload::Job,
            policy::Workload::CronJob => Workload::CronJob,
        };
        let attach = self.attach(name, s);
        let workload = match &attach {
            Some(a) if a.kind == policy::AttachKind::StatefulSet => Workload::StatefulSet,
            Some(_) => Workload::Deployment,
            None => workload,
        };
        let versions = self.versions(app, name, s, workload == Workload::Deployment, registry);
        // A versioned service's images are its versions' (which parse the
        // service's `image` as their default).
        let image = match &s.image {
            _ if !s.versions.is_empty() => Image::default(),
            Some(reference) => match parse_image(reference, registry) {
                Ok(i) => i,
                Err(why) => {
                    self.err(
                        "E0212",
                        &format!("{path}.image"),
                        why,
                        "write `[registry/]repository:tag` or `repository@sha256:<64 hex digits>`"
                            .into(),
                    );
                    Image::default()
                }
            },
            None if attach.is_some() => Image::default(),
            None => {
                self.err_key(
                    "E0218",
                    &path,
                    format!("service `{name}` has no image"),
                    "add `image: repository:tag`, or `external:` for a service outside the cluster"
                        .into(),
                );
                Image::default()
            }
        };
        let storage = s.storage.as_ref().map(|st| match st {
            Storage::Size(size) => Volume {
                size: size.clone(),
                mount_path: "/data".into(),
                storage_class: None,
            },
            Storage::Long(l) => Volume {
                size: l.size.clone(),
                mount_path: l.mount_path.clone().unwrap_or_else(|| "/data".into()),
                storage_class: l.storage_class_name.clone(),
            },
        });
        if let Some(v) = &storage {
            if workload != Workload::StatefulSet {
                self.err_key(
                    "E0213",
                    &format!("{path}.storage"),
                    format!("`{name}` asks for storage but is a Deployment"),
                    "add `workload: StatefulSet` so each replica keeps its own volume".into(),
                );
            }
            if let Some(class) = &v.storage_class {
                self.name(
                    names::Rule::Dns1123Subdomain,
                    "E0214",
                    &format!("{path}.storage.storageClassName"),
                    class,
                    "a StorageClass name",
                );
            }
            if !is_quantity(&v.size) {
                self.err(
                    "E0214",
                    &format!("{path}.storage"),
                    format!("`{}` is not a storage size", v.size),
                    "write a Kubernetes quantity such as `20Gi`".into(),
                );
            }
        }
        let ports = self.port_list(&path, &s.ports);
        let (mtls, port_mtls) = match &s.mtls {
            None => (None, vec![]),
            Some(ServiceMtls::Mode(m)) => (Some((*m).into()), vec![]),
            Some(ServiceMtls::Long(l)) => {
                let mut pm = vec![];
                for (pn, mode) in &l.ports {
                    match ports.iter().find(|p| &p.name == pn) {
                        Some(p) => pm.push((p.target_port, (*mode).into())),
                        None => self.unknown_port(
                            &format!("{path}.mtls.ports.{pn}"),
                            name,
                            pn,
                            &ports,
                            true,
                        ),
                    }
                }
                (l.mode.map(Into::into), pm)
            }
        };
        let resources = s
            .resources
            .as_ref()
            .or(defaults.resources.as_ref())
            .map(resources_of)
            .unwrap_or_default();
        if let Some(h) = &s.health_path {
            if !h.starts_with('/') {
                self.err(
                    "E0215",
                    &format!("{path}.healthPath"),
                    format!("health path `{h}` does not start with `/`"),
                    "write an absolute HTTP path such as `/healthz`".into(),
                );
            } else if !ports.iter().any(|p| p.protocol.is_http()) {
                self.err_key(
                    "E0215",
                    &format!("{path}.healthPath"),
                    format!("`{name}` has a health path but no HTTP port"),
                    "name a port `http` or `http-<suffix>`, or remove healthPath".into(),
                );
            }
        }
        let envs = std::iter::once((path.clone(), &s.env)).chain(
            s.versions
                .iter()
                .map(|(v, pv)| (format!("{path}.versions.{v}"), &pv.env)),
        );
        for (at, env) in envs {
            for k in env.keys() {
                self.name_key(
                    names::Rule::EnvVarName,
                    "E0216",
                    &format!("{at}.env.{k}"),
                    k,
                    "an environment variable name",
                );
            }
        }
        let has_http = ports.iter().any(|p| p.protocol.is_http());
        let traffic = self.traffic(name, s.traffic.as_ref(), &versions, has_http);
        let pod = if attach.is_some() {
            Pod::default()
        } else {
            let pod = self.pod(name, s, workload);
            self.check_mounts(name, &pod, storage.as_ref().map(|v| v.mount_path.as_str()));
            pod
        };
        Service {
            name: name.to_string(),
            image,
            workload,
            replicas: s.replicas.unwrap_or(1),
            versions,
            traffic,
            storage,
            ports,
            mtls,
            port_mtls,
            resources,
            // Filled by `texts` once every service is known.
            env: vec![],
            pod,
            health_path: s.health_path.clone(),
            read_only_root_filesystem: s
                .read_only_root_filesystem
                .or(defaults.read_only_root_filesystem)
                .unwrap_or(true),
            run_as_user: s.run_as_user.or(defaults.run_as_user).unwrap_or(10001),
            attach,
        }
    }

    pub(super) fn port_list(
        &mut self,
        path: &str,
        ports: &BTreeMap<String, PortSpec>,
    ) -> Vec<Port> {
        let mut out: Vec<Port> = vec![];
        for (pname, spec) in ports {
            let ppath = format!("{path}.ports.{pname}");
            if !is_port_name(pname) {
                self.err_key(
                    "E0220",
                    &ppath,
                    format!("port name `{pname}` is not an IANA service name"),
                    "use at most 15 lowercase letters, digits and single `-`, with a letter, like `http-metrics`".into(),
                );
            }
            let (num, proto, target) = match spec {
                PortSpec::Number(n) => (*n, None, None),
                PortSpec::Long(l) => (l.port, l.protocol.clone(), l.target_port),
            };
            let check = |r: &mut Self, n: u64, p: &str| -> u16 {
                if (1..=65535).contains(&n) {
                    n as u16
                } else {
                    r.err(
                        "E0221",
                        p,
                        format!("port {n} is out of range"),
                        "expected 1 to 65535".into(),
                    );
                    1
                }
            };
            let port = check(self, num, &ppath_num(&ppath, spec));
            let target_port = match target {
                Some(t) => check(self, t, &format!("{ppath}.targetPort")),
                None => port,
            };
            let protocol = match proto {
                None => Protocol::from_port_name(pname),
                Some(p) => match Protocol::parse(&p) {
                    Some(pr) => pr,
                    None => {
                        let known: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
                        self.err(
                            "E0222",
                            &format!("{ppath}.protocol"),
                            format!("unknown protocol `{p}`"),
                            format!("expected one of {}", known.join(", ")),
                        );
                        Protocol::Tcp
                    }
                },
            };
            if let Some(other) = out.iter().find(|o| o.port == port) {
                self.err(
                    "E0223",
                    &ppath_num(&ppath, spec),
                    format!(
                        "port {port} is declared twice (`{}` and `{pname}`)",
                        other.name
                    ),
                    "give each port its own number".into(),
                );
            } else if let Some(other) = out.iter().find(|o| o.target_port == target_port) {
                self.err(
                    "E0223",
                    &ppath_num(&ppath, spec),
                    format!(
                        "container port {target_port} is used by `{}` and `{pname}`",
                        other.name
                    ),
                    "give each port its own targetPort".into(),
                );
            }
            out.push(Port {
                name: pname.clone(),
                port,
                target_port,
                protocol,
            });
        }
        out
    }
}

fn ppath_num(ppath: &str, spec: &PortSpec) -> String {
    match spec {
        PortSpec::Number(_) => ppath.to_string(),
        PortSpec::Long(_) => format!("{ppath}.port"),
    }
}
