//! M060: a container's env value, command or argument names an address
//! (`host:port`, `scheme://host[:port]/...`, `<name>.<namespace>.svc...`)
//! whose host is no Service of the set, or M061: a port that Service does
//! not have. Applications call peers by fixed names (`postgres:5432`); a
//! chart that renames its Services by release, or a typo, leaves the
//! application calling a host that does not exist while every schema and
//! mesh check passes.
//!
//! What counts as an in-cluster address, as the cluster DNS resolves it
//! (<https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#namespaces-of-services>):
//! a single label (`postgres`, the pod's own namespace) or
//! `<name>.<namespace>.svc[.cluster.local]`. Hosts with other dots are
//! taken as outside the cluster, `localhost` and IP addresses as the pod
//! itself, and a set without any Service as a fragment (nothing to judge).

use super::{pod_template, Set};
use crate::manifest::Node;

/// A host and port named in a string.
#[derive(Debug, PartialEq)]
struct Address {
    name: String,
    /// The Service's namespace when the address names it.
    namespace: Option<String>,
    port: Option<u64>,
}

pub fn run_services(set: &Set) -> Vec<(usize, String)> {
    findings(set).0
}

pub fn run_ports(set: &Set) -> Vec<(usize, String)> {
    findings(set).1
}

/// (M060, M061).
type Found = (Vec<(usize, String)>, Vec<(usize, String)>);

fn findings(set: &Set) -> Found {
    let (mut unknown, mut ports) = (vec![], vec![]);
    if set.services.is_empty() {
        return (unknown, ports);
    }
    for w in &set.workloads {
        // Workloads without a pod (WorkloadEntries, Gateway API Gateways'
        // pods) carry no addresses.
        let Some((_, spec)) = pod_template(&set.objects[w.object]) else {
            continue;
        };
        for (where_, text) in strings(spec) {
            for a in addresses(&text) {
                let ns = a.namespace.as_deref().unwrap_or(&w.namespace);
                // From the index: a scan of every Service per address was
                // quadratic (a million objects, 125,000 workloads naming 3
                // peers each: 692 s, now 25 s; BENCHMARKS.md).
                let Some(svc) = set.service_named(&a.name, ns) else {
                    unknown.push((
                        w.object,
                        format!(
                            "{where_} names `{}`, but no Service `{}` is in namespace {ns}: the application would call a host that does not exist",
                            text, a.name
                        ),
                    ));
                    continue;
                };
                if let Some(p) = a.port {
                    if !svc.ports.iter().any(|sp| sp.port == p) {
                        let have: Vec<String> =
                            svc.ports.iter().map(|sp| sp.port.to_string()).collect();
                        ports.push((
                            w.object,
                            format!(
                                "{where_} names `{text}`, but Service {ns}/{} has no port {p} (it has {})",
                                a.name,
                                have.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }
    (unknown, ports)
}

/// Every env value, command item and argument of the pod's containers and
/// init containers, with where it stands.
fn strings(spec: &Node) -> Vec<(String, String)> {
    let mut out = vec![];
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("?");
            for e in c["env"].as_array().into_iter().flatten() {
                if let Some(v) = e["value"].as_str() {
                    out.push((
                        format!("container {name} env {}", e["name"].as_str().unwrap_or("?")),
                        v.to_string(),
                    ));
                }
            }
            for key in ["command", "args"] {
                for a in c[key].as_array().into_iter().flatten() {
                    if let Some(v) = a.as_str() {
                        out.push((format!("container {name} {key}"), v.to_string()));
                    }
                }
            }
        }
    }
    out
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.as_bytes()[0].is_ascii_lowercase()
        && !s.ends_with('-')
}

/// The in-cluster addresses in a string (see the module comment). A bare
/// label counts only with a port or a scheme: a word alone is not an address.
fn addresses(text: &str) -> Vec<Address> {
    let mut out = vec![];
    // Split into candidate tokens: URLs and host:port pairs are separated
    // from their surroundings by spaces, commas, `=`, `@` (userinfo) or quotes.
    for token in
        text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '='))
    {
        let (has_scheme, rest) = match token.split_once("://") {
            Some((scheme, rest))
                if !scheme.is_empty()
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
            {
                (true, rest)
            }
            _ => (false, token),
        };
        // Authority: up to the first `/`, `?` or `#`, after any userinfo.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u64>() {
                Ok(n) if (1..=65535).contains(&n) => (h, Some(n)),
                _ => continue,
            },
            None => (authority, None),
        };
        if !has_scheme && port.is_none() {
            continue;
        }
        if host == "localhost" {
            continue;
        }
        let labels: Vec<&str> = host.split('.').collect();
        let svc = match labels.as_slice() {
            [name] if is_label(name) => Some((name.to_string(), None)),
            [name, ns, "svc"] | [name, ns, "svc", "cluster", "local"]
                if is_label(name) && is_label(ns) =>
            {
                Some((name.to_string(), Some(ns.to_string())))
            }
            _ => None,
        };
        if let Some((name, namespace)) = svc {
            out.push(Address {
                name,
                namespace,
                port,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;
    use super::*;

    /// Of two Services with one namespace and name (M011's error), the
    /// ports checked are the later one's, as `kubectl apply` leaves it and
    /// as the mesh checks' host lookup reads it.
    #[test]
    fn a_repeated_service_is_read_as_its_last() {
        let svc = |port: u16| {
            format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: db, namespace: shop}}\nspec: {{selector: {{app: db}}, ports: [{{name: tcp, port: {port}}}]}}\n"
            )
        };
        let web = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: 'x:1', env: [{name: DB, value: 'db:80'}]}]}\n";
        let yaml = |first: u16, last: u16| format!("{}---\n{}---\n{web}", svc(first), svc(last));
        // The later Service has port 80: nothing to report.
        assert_eq!(check(run_ports, &yaml(8080, 80)), vec![]);
        assert_eq!(check(run_services, &yaml(8080, 80)), vec![]);
        // The later one lacks it: M061, naming the later one's ports.
        assert_eq!(
            check(run_ports, &yaml(80, 8080)),
            vec![(
                "Deployment/shop/web".to_string(),
                "container web env DB names `db:80`, but Service shop/db has no port 80 (it has 8080)".to_string()
            )]
        );
    }

    fn a(name: &str, ns: Option<&str>, port: Option<u64>) -> Address {
        Address {
            name: name.into(),
            namespace: ns.map(str::to_string),
            port,
        }
    }

    #[test]
    fn finds_in_cluster_addresses_only() {
        assert_eq!(
            addresses("postgres:5432"),
            vec![a("postgres", None, Some(5432))]
        );
        assert_eq!(
            addresses("postgres://app:secret@db:5432/shop?sslmode=disable"),
            vec![a("db", None, Some(5432))]
        );
        assert_eq!(
            addresses("http://minio.storage.svc.cluster.local:9000"),
            vec![a("minio", Some("storage"), Some(9000))]
        );
        assert_eq!(
            addresses("--endpoint=http://api/v1"),
            vec![a("api", None, None)]
        );
        assert_eq!(
            addresses("kafka:9092,redis-cart:6379"),
            vec![
                a("kafka", None, Some(9092)),
                a("redis-cart", None, Some(6379))
            ]
        );
        // Outside the cluster, the pod itself, times, words.
        for s in [
            "https://api.example.com:443",
            "localhost:8080",
            "127.0.0.1:9000",
            "http://0.0.0.0:8080",
            "12:30",
            "info",
            "a:b",
            "server /data",
        ] {
            assert_eq!(addresses(s), vec![], "{s}");
        }
    }
}
