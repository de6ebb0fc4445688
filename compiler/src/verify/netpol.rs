//! Kubernetes NetworkPolicy decisions.
//!
//! A pod is isolated for ingress (egress) when some policy in its namespace
//! selects it and lists that policy type; an isolated pod accepts only what
//! some selecting policy's rules allow, and a connection needs both the
//! source's egress and the destination's ingress to allow it. Policies are
//! additive; there is no deny rule. Peers: `podSelector` (the policy's
//! namespace), `namespaceSelector` (matched against the namespace's
//! `kubernetes.io/metadata.name` label, the only namespace label meshpack
//! can know), both together, or `ipBlock`.
//! <https://kubernetes.io/docs/concepts/services-networking/network-policies/>

use super::{Rendered, SourceFacts, Workload};
use crate::manifest::Object;
use crate::manifest::{Node, View};
use std::collections::BTreeMap;

/// An address outside the cluster (TEST-NET-3) that egress hosts stand for.
pub(crate) const EXTERNAL_IP: [u8; 4] = [203, 0, 113, 10];

fn selector_matches(sel: &Node, labels: &BTreeMap<String, String>) -> bool {
    if sel.is_null() {
        return true;
    }
    let ml_ok = sel["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter().all(|(k, v)| {
                v.as_str()
                    .is_some_and(|v| labels.get(k).map(String::as_str) == Some(v))
            })
        })
        .unwrap_or(true);
    let me_ok = sel["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap_or("");
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Node::as_str)
                .collect();
            let have = labels.get(key).map(String::as_str);
            match e["operator"].as_str().unwrap_or("") {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        });
    ml_ok && me_ok
}

fn ns_labels(ns: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.to_string())])
}

fn policies<'a>(
    set: &'a Rendered,
    w_ns: &str,
    labels: &BTreeMap<String, String>,
    ty: &str,
) -> Vec<&'a Object> {
    set.objects
        .iter()
        .filter(|o| o.kind() == "NetworkPolicy" && o.group() == "networking.k8s.io")
        .filter(|o| {
            o.value["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                == w_ns
        })
        .filter(|o| selector_matches(&o.value["spec"]["podSelector"], labels))
        .filter(|o| {
            let types: Vec<&str> = o.value["spec"]["policyTypes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Node::as_str)
                .collect();
            if types.is_empty() {
                // Default: Ingress, plus Egress when egress rules are given.
                ty == "Ingress" || (ty == "Egress" && o.value["spec"].get("egress").is_some())
            } else {
                types.contains(&ty)
            }
        })
        .collect()
}

/// Does a peer match the other end? `None` pod labels: a pod meshpack
/// does not know (outside the set), which no podSelector with labels matches.
fn peer_matches(
    peer: &Node,
    policy_ns: &str,
    ns: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
    ip: Option<[u8; 4]>,
) -> bool {
    if let Some(block) = peer.get("ipBlock") {
        let Some(ip) = ip else { return false };
        let within = |cidr: &str| cidr_contains(cidr, ip);
        return block["cidr"].as_str().is_some_and(within)
            && !block["except"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Node::as_str)
                .any(within);
    }
    let Some(ns) = ns else { return false };
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    match (peer.get("namespaceSelector"), peer.get("podSelector")) {
        (None, Some(ps)) => ns == policy_ns && selector_matches(ps, labels),
        (Some(nss), None) => selector_matches(nss, &ns_labels(ns)),
        (Some(nss), Some(ps)) => {
            selector_matches(nss, &ns_labels(ns)) && selector_matches(ps, labels)
        }
        (None, None) => false,
    }
}

fn port_matches(ports: &Node, port: u16, port_name: Option<&str>) -> bool {
    match ports.as_array() {
        None => true,
        Some([]) => true,
        Some(a) => a.iter().any(|p| {
            if p["protocol"].as_str().is_some_and(|pr| pr != "TCP") {
                return false;
            }
            match p["port"].view() {
                View::Null => true,
                View::Number(n) => {
                    let n = n.as_u64().unwrap_or(0);
                    let end = p["endPort"].as_u64().unwrap_or(n);
                    (n..=end).contains(&u64::from(port))
                }
                View::String(s) => port_name == Some(&**s),
                _ => false,
            }
        }),
    }
}

fn cidr_contains(cidr: &str, ip: [u8; 4]) -> bool {
    let (addr, bits) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    let parts: Vec<u8> = addr.split('.').filter_map(|p| p.parse().ok()).collect();
    if parts.len() != 4 || bits > 32 {
        return false; // IPv6 blocks do not cover the IPv4 probe
    }
    let a = u32::from_be_bytes([parts[0], parts[1], parts[2], parts[3]]);
    let b = u32::from_be_bytes(ip);
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    a & mask == b & mask
}

/// Whether NetworkPolicies let `src` reach `dst`'s container `port`.
pub(crate) fn allowed(set: &Rendered, src: &SourceFacts, dst: &Workload, port: u16) -> bool {
    let port_name = dst.ports.get(&port).map(|(n, _)| n.as_str());
    // Ingress side.
    let ingress = policies(set, &dst.namespace, &dst.labels, "Ingress");
    let in_ok = ingress.is_empty()
        || ingress.iter().any(|p| {
            p.value["spec"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|rule| {
                    let from_ok = match rule["from"].as_array() {
                        None => true,
                        Some([]) => true,
                        Some(f) => f.iter().any(|peer| {
                            peer_matches(
                                peer,
                                &dst.namespace,
                                src.namespace.as_deref(),
                                src.labels.as_ref(),
                                None,
                            )
                        }),
                    };
                    from_ok && port_matches(&rule["ports"], port, port_name)
                })
        });
    if !in_ok {
        return false;
    }
    // Egress side, when the source is a pod of the set.
    let Some(w) = &src.workload else { return true };
    egress_ok(
        set,
        w,
        |peer, policy_ns| {
            peer_matches(
                peer,
                policy_ns,
                Some(&dst.namespace),
                Some(&dst.labels),
                None,
            )
        },
        port,
        port_name,
    )
}

fn egress_ok(
    set: &Rendered,
    w: &Workload,
    peer: impl Fn(&Node, &str) -> bool,
    port: u16,
    port_name: Option<&str>,
) -> bool {
    let egress = policies(set, &w.namespace, &w.labels, "Egress");
    egress.is_empty()
        || egress.iter().any(|p| {
            p.value["spec"]["egress"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|rule| {
                    let to_ok = match rule["to"].as_array() {
                        None => true,
                        Some([]) => true,
                        Some(t) => t.iter().any(|x| peer(x, &w.namespace)),
                    };
                    to_ok && port_matches(&rule["ports"], port, port_name)
                })
        })
}

/// Whether NetworkPolicies let a workload reach an address outside the cluster.
pub(crate) fn egress_allowed(set: &Rendered, w: &Workload, port: u16) -> bool {
    egress_allowed_to(set, w, port, EXTERNAL_IP)
}

/// The same, for one address (an extraEgress range is probed inside it).
pub(crate) fn egress_allowed_to(set: &Rendered, w: &Workload, port: u16, ip: [u8; 4]) -> bool {
    egress_ok(
        set,
        w,
        |peer, ns| peer_matches(peer, ns, None, None, Some(ip)),
        port,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert!(cidr_contains("0.0.0.0/0", EXTERNAL_IP));
        assert!(cidr_contains("203.0.113.0/24", EXTERNAL_IP));
        assert!(!cidr_contains("10.0.0.0/8", EXTERNAL_IP));
        assert!(!cidr_contains("::/0", EXTERNAL_IP));
    }
}

#[cfg(test)]
mod semantics {
    use super::super::{Rendered, Source};
    use crate::manifest::testing::objects;

    const PODS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/component: db}}
    spec: {containers: [{name: db, image: x:1, ports: [{name: tcp-pg, containerPort: 5432}, {name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/component: web}}
    spec: {containers: [{name: web, image: x:1}]}
";

    fn set(extra: &str) -> Rendered {
        let o = objects(&format!("{PODS}---\n{extra}"));
        Rendered::new(o, "default", "cluster.local")
    }

    fn can(s: &Rendered, src: &Source, port: u16) -> bool {
        super::allowed(s, &s.source_facts(src), s.workload("db").unwrap(), port)
    }

    fn web() -> Source {
        Source::Workload("web".into())
    }

    fn monitoring() -> Source {
        Source::Identity {
            namespace: "monitoring".into(),
            service_account: "prom".into(),
        }
    }

    fn np(name: &str, spec: &str) -> String {
        format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: shop}}\nspec: {spec}\n")
    }

    /// Pods no policy selects are not isolated.
    #[test]
    fn unselected_pods_accept_everything() {
        let s = set(&np("other", "{podSelector: {matchLabels: {app: nothing}}}"));
        assert!(can(&s, &web(), 5432));
        assert!(can(&s, &Source::Stranger, 5432));
    }

    /// A selecting policy without rules isolates: default deny.
    #[test]
    fn default_deny() {
        let s = set(&np("deny", "{podSelector: {}, policyTypes: [Ingress]}"));
        assert!(!can(&s, &web(), 5432));
    }

    #[test]
    fn pod_and_namespace_selectors_and_ports() {
        let s = set(&np("db", "{podSelector: {matchLabels: {app.kubernetes.io/component: db}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {app.kubernetes.io/component: web}}}], ports: [{port: 5432}]}, {from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}], ports: [{port: http}]}]}"));
        assert!(can(&s, &web(), 5432));
        assert!(!can(&s, &web(), 8080));
        assert!(can(&s, &monitoring(), 8080), "named port");
        assert!(!can(&s, &monitoring(), 5432));
        assert!(!can(&s, &Source::Stranger, 5432));
    }

    /// A podSelector alone means the policy's own namespace.
    #[test]
    fn pod_selector_is_namespace_local() {
        let s = set(&np(
            "db",
            "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}",
        ));
        assert!(can(&s, &web(), 5432));
        assert!(!can(&s, &monitoring(), 5432));
    }

    /// Both ends must allow: the source's egress isolation counts too.
    #[test]
    fn egress_isolation_of_the_source() {
        let s = set(&np("web-out", "{podSelector: {matchLabels: {app.kubernetes.io/component: web}}, policyTypes: [Egress], egress: [{ports: [{port: 53, protocol: UDP}]}]}"));
        assert!(!can(&s, &web(), 5432));
        assert!(
            can(&s, &monitoring(), 5432),
            "outside sources are judged by ingress only"
        );
    }

    #[test]
    fn egress_to_ip_blocks() {
        let s = set(&np("web-out", "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [203.0.113.0/24]}}], ports: [{port: 443}]}]}"));
        let w = s.workload("web").unwrap().clone();
        assert!(
            !super::egress_allowed(&s, &w, 443),
            "except carves the probe address out"
        );
        let s = set(&np("web-out", "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 443}]}]}"));
        assert!(super::egress_allowed(&s, &w, 443));
        assert!(!super::egress_allowed(&s, &w, 80));
    }
}
