//! NetworkPolicy as typed structs whose install-time fields are
//! [`At`]s: `k8s-openapi`'s types cannot hold a marker where a port number
//! or a list of peers goes, so `netpol` used to patch JSON by index.
//!
//! Invariant: only the fields meshpack emits, with the API's names, in the
//! order the committed outputs have them (`policyTypes`, `podSelector`,
//! `ingress`, `egress`); empty optional fields are skipped.
//! <https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/>

use super::out::At;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// `Names::meta`: name, namespace and labels, with their markers.
    pub metadata: Value,
    pub spec: Spec,
}

impl NetworkPolicy {
    pub fn new(metadata: Value, spec: Spec) -> Self {
        NetworkPolicy {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata,
            spec,
        }
    }
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub policy_types: Vec<&'static str>,
    pub pod_selector: Selector,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<Ingress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<Egress>>,
}

#[derive(Serialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// `Names::selector`'s labels (a marker of the chart's helper in Helm mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_expressions: Option<Vec<Requirement>>,
}

impl Selector {
    pub fn labels(labels: Value) -> Self {
        Selector {
            match_labels: Some(labels),
            ..Default::default()
        }
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct Requirement {
    pub key: &'static str,
    pub operator: &'static str,
    pub values: At<Vec<String>>,
}

#[derive(Serialize, Debug, Clone)]
pub struct Ingress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<Peer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<Port>>,
}

#[derive(Serialize, Debug, Clone)]
pub struct Egress {
    /// A list of peers, or the chart's `ipBlocks` helper over
    /// `networkPolicy.egressCIDRs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<At<Vec<Peer>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<Port>>,
}

#[derive(Serialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// Before `podSelector`, as the committed outputs have a gateway's
    /// namespace and pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<Selector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<Selector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
    /// Keys the chart adds at install time (`Out::optional` markers).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub install: Option<serde_json::Map<String, Value>>,
}

impl Peer {
    pub fn pods(labels: Value) -> Self {
        Peer {
            pod_selector: Some(Selector::labels(labels)),
            ..Default::default()
        }
    }

    /// The namespace named `name` (its `kubernetes.io/metadata.name` label).
    pub fn namespace(name: At<String>) -> Self {
        let mut labels = serde_json::Map::new();
        labels.insert("kubernetes.io/metadata.name".into(), super::to_value(&name));
        Peer {
            namespace_selector: Some(Selector::labels(Value::Object(labels))),
            ..Default::default()
        }
    }

    pub fn cidr(cidr: &str) -> Self {
        Peer {
            ip_block: Some(IpBlock {
                cidr: cidr.to_string(),
            }),
            ..Default::default()
        }
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct IpBlock {
    pub cidr: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct Port {
    pub protocol: &'static str,
    pub port: At<u16>,
}

impl Port {
    pub fn tcp(port: u16) -> Self {
        Port {
            protocol: "TCP",
            port: At::Lit(port),
        }
    }

    pub fn udp(port: u16) -> Self {
        Port {
            protocol: "UDP",
            port: At::Lit(port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_in_the_committed_order_with_markers_in_place() {
        let np = NetworkPolicy::new(
            json!({"name": "x"}),
            Spec {
                policy_types: vec!["Ingress", "Egress"],
                pod_selector: Selector::labels(json!({"a": "b"})),
                ingress: Some(vec![Ingress {
                    from: Some(vec![Peer::cidr("10.0.0.0/8")]),
                    ports: None,
                }]),
                egress: Some(vec![Egress {
                    to: Some(At::Install(json!("mpx0x"))),
                    ports: Some(vec![Port {
                        protocol: "TCP",
                        port: At::Install(json!("mpx1x")),
                    }]),
                }]),
            },
        );
        assert_eq!(
            serde_json::to_string(&np).unwrap(),
            r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"x"},"spec":{"policyTypes":["Ingress","Egress"],"podSelector":{"matchLabels":{"a":"b"}},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8"}}]}],"egress":[{"to":"mpx0x","ports":[{"protocol":"TCP","port":"mpx1x"}]}]}}"#
        );
    }
}
