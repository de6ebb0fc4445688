//! Evidence of calls: strings in a workload's env values, args, command and
//! the ConfigMaps it reads that name a Service of the input.
//!
//! Recognised addresses: `<svc>:<port>`, `<svc>.<ns>[.svc[.cluster.local]][:<port>]`
//! and URLs (`scheme://<host>[:<port>]/...`, port from the scheme when
//! absent: http 80, https 443). A bare word is never an address: `redis`
//! alone could be anything, so it is not evidence.
//!
//! An address that names a namespace (`api.billing.svc`) names the input's
//! Service `api` only if that Service is in `billing`: its own
//! `metadata.namespace`, or else the namespace every namespaced object of
//! the input agrees on (a `kustomize build` with `namespace:`, a chart that
//! writes `{{ .Release.Namespace }}`). When the input says no namespace at
//! all, the address is taken to name the install's own Service.

use super::manifests::{pod_template, Inventory};
use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

/// One call a workload's manifests show.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    /// Calling workload (its name).
    pub from: String,
    /// The Service named.
    pub service: String,
    /// The port named, if any.
    pub port: Option<u16>,
    /// Where: `env FOO`, `args[2]`, `ConfigMap app-config key url`.
    pub place: String,
    /// The whole string, as written.
    pub text: String,
    /// File of the workload (or ConfigMap).
    pub file: String,
}

/// An address that names no Service of the input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unresolved {
    pub from: String,
    pub host: String,
    pub port: Option<u16>,
    pub place: String,
    pub text: String,
    pub file: String,
}

#[derive(Debug, Default)]
pub struct Found {
    pub evidence: Vec<Evidence>,
    pub unresolved: Vec<Unresolved>,
}

fn url_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*)://(?:[^@/\s]*@)?([a-z0-9]([a-z0-9.-]*[a-z0-9])?)(?::([0-9]{1,5}))?")
            .expect("regex")
    })
}

fn host_port_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        // One token: host, optional port, optional path.
        Regex::new(r"(?i)^([a-z]([a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*)(?::([0-9]{1,5}))?(?:/.*)?$")
            .expect("regex")
    })
}

/// Addresses in one string: (host, port).
pub fn addresses(text: &str) -> Vec<(String, Option<u16>)> {
    let mut out = vec![];
    let mut rest = text.to_string();
    for c in url_re().captures_iter(text) {
        let scheme = c[1].to_ascii_lowercase();
        let host = c[2].to_ascii_lowercase();
        let port = c
            .get(4)
            .and_then(|p| p.as_str().parse().ok())
            .or(match scheme.as_str() {
                "http" | "ws" => Some(80),
                "https" | "wss" => Some(443),
                _ => None,
            });
        out.push((host, port));
        rest = rest.replace(&c[0], " ");
    }
    let tokens = rest.split(|c: char| c.is_whitespace() || ",;=()[]{}'\"".contains(c));
    for c in tokens.filter_map(|t| host_port_re().captures(t)) {
        let host = c[1].to_ascii_lowercase();
        let port: Option<u16> = c.get(3).and_then(|p| p.as_str().parse().ok());
        // A bare word without a port is no address; a cluster name is.
        if port.is_none() && !host.contains(".svc") {
            continue;
        }
        out.push((host, port));
    }
    out
}

/// The Service a host names, with the namespace when the host has one:
/// `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`; other dotted
/// names are outside the cluster.
fn service_of(host: &str) -> Option<(&str, Option<&str>)> {
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [svc] => Some((svc, None)),
        [svc, ns] => Some((svc, Some(ns))),
        [svc, ns, "svc"] => Some((svc, Some(ns))),
        [svc, ns, "svc", "cluster", "local"] => Some((svc, Some(ns))),
        _ => None,
    }
}

/// The namespace every namespaced object of the input names, when they
/// agree on one.
fn install_namespace(inv: &Inventory) -> Option<String> {
    let mut found: Option<&str> = None;
    for d in inv.docs {
        if let Some(ns) = d.value["metadata"]["namespace"].as_str() {
            match found {
                None => found = Some(ns),
                Some(f) if f != ns => return None,
                Some(_) => {}
            }
        }
    }
    found.map(str::to_string)
}

/// Whether the input has the Service `svc` in namespace `ns` (any
/// namespace when the address names none, or the input says none).
fn has_service_in(inv: &Inventory, install_ns: Option<&str>, svc: &str, ns: Option<&str>) -> bool {
    inv.services.iter().any(|(name, i)| {
        name == svc
            && match ns {
                None => true,
                Some(ns) => inv.docs[*i].value["metadata"]["namespace"]
                    .as_str()
                    .or(install_ns)
                    .is_none_or(|own| own == ns),
            }
    })
}

/// Strings a workload carries, with where they are.
fn strings(inv: &Inventory, pod: &Value) -> Vec<(String, String, Option<String>)> {
    let mut out = vec![];
    let spec = &pod["spec"];
    let containers = spec["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["containers"].as_array().into_iter().flatten());
    let mut config_maps: Vec<String> = vec![];
    for c in containers {
        let cname = c["name"].as_str().unwrap_or("?");
        for e in c["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or("?");
            if let Some(v) = e["value"].as_str() {
                out.push((format!("container {cname} env {name}"), v.to_string(), None));
            }
            if let Some(cm) = e["valueFrom"]["configMapKeyRef"]["name"].as_str() {
                config_maps.push(cm.to_string());
            }
        }
        for key in ["command", "args"] {
            for (i, a) in c[key].as_array().into_iter().flatten().enumerate() {
                if let Some(a) = a.as_str() {
                    out.push((format!("container {cname} {key}[{i}]"), a.to_string(), None));
                }
            }
        }
        for ef in c["envFrom"].as_array().into_iter().flatten() {
            if let Some(cm) = ef["configMapRef"]["name"].as_str() {
                config_maps.push(cm.to_string());
            }
        }
    }
    for v in spec["volumes"].as_array().into_iter().flatten() {
        if let Some(cm) = v["configMap"]["name"].as_str() {
            config_maps.push(cm.to_string());
        }
    }
    config_maps.sort();
    config_maps.dedup();
    for cm in config_maps {
        let Some(d) = inv
            .docs
            .iter()
            .find(|d| d.value["kind"] == "ConfigMap" && d.value["metadata"]["name"] == cm.as_str())
        else {
            continue;
        };
        for (k, v) in d.value["data"].as_object().into_iter().flatten() {
            if let Some(v) = v.as_str() {
                out.push((
                    format!("ConfigMap {cm} key {k}"),
                    v.to_string(),
                    Some(d.file.clone()),
                ));
            }
        }
    }
    out
}

/// Every call the workloads' manifests show, and the addresses naming no
/// Service of the input.
pub fn scan(inv: &Inventory) -> Found {
    let mut found = Found::default();
    let install_ns = install_namespace(inv);
    for w in &inv.workloads {
        let pod = pod_template(&inv.docs[w.doc].value);
        for (place, text, file) in strings(inv, pod) {
            let file = file.unwrap_or_else(|| w.file.clone());
            for (host, port) in addresses(&text) {
                let svc = service_of(&host);
                let known =
                    svc.filter(|(s, ns)| has_service_in(inv, install_ns.as_deref(), s, *ns));
                match known.map(|(s, _)| s) {
                    Some(s) => found.evidence.push(Evidence {
                        from: w.name.clone(),
                        service: s.to_string(),
                        port,
                        place: place.clone(),
                        text: text.clone(),
                        file: file.clone(),
                    }),
                    // A dotted name outside the cluster (`api.example.com`)
                    // is egress, not a call to a Service: not reported here.
                    None if svc.is_some()
                        && host != "localhost"
                        && (!host.contains('.') || host.contains(".svc")) =>
                    {
                        found.unresolved.push(Unresolved {
                            from: w.name.clone(),
                            host,
                            port,
                            place: place.clone(),
                            text: text.clone(),
                            file: file.clone(),
                        })
                    }
                    None => {}
                }
            }
        }
    }
    found.evidence.sort();
    found.evidence.dedup();
    found.unresolved.sort();
    found.unresolved.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_host_port_cluster_names_and_urls() {
        assert_eq!(
            addresses("redis-cart:6379"),
            vec![("redis-cart".into(), Some(6379))]
        );
        assert_eq!(
            addresses("http://api.shop.svc.cluster.local:8080/v1"),
            vec![("api.shop.svc.cluster.local".into(), Some(8080))]
        );
        assert_eq!(addresses("https://web/x"), vec![("web".into(), Some(443))]);
        assert_eq!(
            addresses("--peers=db.shop.svc,cache:11211"),
            vec![("db.shop.svc".into(), None), ("cache".into(), Some(11211))]
        );
        // Words, numbers and paths are not addresses.
        assert_eq!(addresses("info"), vec![]);
        assert_eq!(addresses("10"), vec![]);
        assert_eq!(addresses("/data"), vec![]);
    }

    #[test]
    fn service_names_come_from_cluster_names_only() {
        assert_eq!(service_of("api"), Some(("api", None)));
        assert_eq!(service_of("api.shop"), Some(("api", Some("shop"))));
        assert_eq!(service_of("api.shop.svc"), Some(("api", Some("shop"))));
        assert_eq!(
            service_of("api.shop.svc.cluster.local"),
            Some(("api", Some("shop")))
        );
        assert_eq!(service_of("api.example.com"), None);
    }

    fn inventory_scan(yaml: &str) -> Found {
        let docs = super::super::manifests::parse_stream(yaml, "in.yaml").unwrap();
        let inv = Inventory::new(&docs);
        scan(&inv)
    }

    const SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "api:1", ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: "web:1"
        env:
        - {name: SAME, value: "http://api.shop.svc.cluster.local:8080"}
        - {name: OTHER, value: "http://api.billing.svc:8080"}
"#;

    #[test]
    fn an_address_in_another_namespace_names_no_service_of_the_input() {
        let f = inventory_scan(SERVICES);
        let drafted: Vec<(&str, &str, &str)> = f
            .evidence
            .iter()
            .map(|e| (e.from.as_str(), e.service.as_str(), e.place.as_str()))
            .collect();
        assert_eq!(drafted, vec![("web", "api", "container web env SAME")]);
        let reported: Vec<(&str, &str, Option<u16>)> = f
            .unresolved
            .iter()
            .map(|u| (u.from.as_str(), u.host.as_str(), u.port))
            .collect();
        assert_eq!(reported, vec![("web", "api.billing.svc", Some(8080))]);
    }

    #[test]
    fn objects_without_namespace_take_the_one_the_input_agrees_on() {
        // Only the Deployments name `shop`: the Service is installed there too.
        let yaml = SERVICES.replacen(
            "metadata: {name: api, namespace: shop}\nspec:\n  selector",
            "metadata: {name: api}\nspec:\n  selector",
            1,
        );
        assert!(yaml.contains("metadata: {name: api}\n"));
        let f = inventory_scan(&yaml);
        assert_eq!(f.evidence.len(), 1);
        assert_eq!(f.evidence[0].place, "container web env SAME");
        assert_eq!(f.unresolved[0].host, "api.billing.svc");
        // With no namespace anywhere, a namespaced address is taken to name the install's own Service.
        let bare = yaml.replace(", namespace: shop}", "}");
        let f = inventory_scan(&bare);
        let places: Vec<&str> = f.evidence.iter().map(|e| e.place.as_str()).collect();
        assert_eq!(
            places,
            vec!["container web env OTHER", "container web env SAME"]
        );
        assert!(f.unresolved.is_empty());
    }
}
