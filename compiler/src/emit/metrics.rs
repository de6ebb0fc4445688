//! Metrics: what lets a cluster's Prometheus scrape the release, with the
//! mesh on (STRICT mTLS) or off.
//!
//! - Pods with a metrics port carry the `prometheus.io/*` annotations.
//!   Under Istio the sidecar merges the application's metrics with its own
//!   and serves them in plaintext on 15020 (metrics merging), rewriting the
//!   annotations to point there, so a Prometheus outside the mesh can scrape
//!   a STRICT workload.
//!   <https://istio.io/latest/docs/ops/integrations/prometheus/#option-1-metrics-merging>
//! - A rule of each service's own NetworkPolicy (`netpol::allow`) admits
//!   the Prometheus namespace (and pod labels) to its metrics ports, and a
//!   release-wide policy under Istio to 15020 (merged metrics) and 15090
//!   (Envoy's own, `http-envoy-prom`).
//! - Optional Prometheus Operator objects (`monitors.rs`, which uses the
//!   port names here).
//!
//! Invariant: a metrics port is one named `metrics`, `http-metrics` or
//! `<protocol>-metrics` ([`is_metrics_port`]); `verify` reads the same
//! names from the manifests.

use super::netpol_types::{self as np, Ingress, NetworkPolicy, Peer, Selector, Spec};
use super::out::At;
use super::values::{PROMETHEUS_NAMESPACE, PROMETHEUS_POD_LABELS};
use super::{to_value, Names, Out};
use crate::model::{Port, Service};
use serde_json::{json, Map, Value};

/// The merged-metrics port of the Istio agent and Envoy's stats port.
pub const ENVOY_PORTS: [u16; 2] = [15020, 15090];

pub fn is_metrics_port(name: &str) -> bool {
    name == "metrics" || name.ends_with("-metrics")
}

pub fn metrics_ports(s: &Service) -> Vec<&Port> {
    s.ports
        .iter()
        .filter(|p| is_metrics_port(&p.name))
        .collect()
}

/// `prometheus.io/*` pod annotations for the service's first metrics port.
pub fn pod_annotations(s: &Service) -> Map<String, Value> {
    let mut a = Map::new();
    if let Some(p) = metrics_ports(s).first() {
        a.insert("prometheus.io/scrape".into(), json!("true"));
        a.insert(
            "prometheus.io/port".into(),
            json!(p.target_port.to_string()),
        );
        a.insert("prometheus.io/path".into(), json!("/metrics"));
    }
    a
}

/// The Prometheus pods as a NetworkPolicy peer: their namespace, and their
/// labels when `metrics.prometheus.podLabels` names any.
fn prometheus_peer(n: &Names, out: &mut Out) -> Peer {
    let ns = At::scalar(
        out,
        &format!("{} | quote", PROMETHEUS_NAMESPACE.expr()),
        PROMETHEUS_NAMESPACE.default_text(n.model()),
    );
    let mut peer = Peer::namespace(ns);
    let mut install = json!({});
    out.optional(
        &mut install,
        "podSelector",
        &format!(
            "(ternary (dict \"matchLabels\" {labels}) dict (not (empty {labels})))",
            labels = PROMETHEUS_POD_LABELS.expr()
        ),
        None,
    );
    peer.install = install.as_object().filter(|o| !o.is_empty()).cloned();
    peer
}

fn ingress_policy(
    n: &Names,
    out: &mut Out,
    name: &str,
    component: Option<&str>,
    ports: Vec<np::Port>,
) -> Value {
    let metadata = n.meta(out, name, component);
    let pod_selector = Selector::labels(n.selector(out, component));
    let from = prometheus_peer(n, out);
    to_value(&NetworkPolicy::new(
        metadata,
        Spec {
            policy_types: vec!["Ingress"],
            pod_selector,
            ingress: Some(vec![Ingress {
                from: Some(vec![from]),
                ports: Some(ports),
            }]),
            egress: None,
        },
    ))
}

/// Prometheus to the service's metrics ports: a rule of the service's own
/// NetworkPolicy (`netpol::allow`).
pub fn service_rule(n: &Names, out: &mut Out, s: &Service) -> Option<np::Ingress> {
    let mut ports: Vec<u16> = metrics_ports(s).iter().map(|p| p.target_port).collect();
    ports.sort();
    ports.dedup();
    if ports.is_empty() {
        return None;
    }
    Some(np::Ingress {
        from: Some(vec![prometheus_peer(n, out)]),
        ports: Some(ports.into_iter().map(np::Port::tcp).collect()),
    })
}

/// Prometheus to every pod's merged and Envoy metrics (Istio and
/// NetworkPolicy both on).
pub fn envoy_policy(n: &Names, out: &mut Out) -> Value {
    let ports = ENVOY_PORTS.iter().copied().map(np::Port::tcp).collect();
    ingress_policy(n, out, "allow-prometheus-envoy", None, ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_port_names() {
        for yes in ["metrics", "http-metrics", "grpc-metrics"] {
            assert!(is_metrics_port(yes), "{yes}");
        }
        for no in ["http", "metricsx", "http-metric"] {
            assert!(!is_metrics_port(no), "{no}");
        }
    }
}
