//! Metrics: what lets a cluster's Prometheus scrape the release, with the
//! mesh on (STRICT mTLS) or off.
//!
//! - Pods with a metrics port carry the `prometheus.io/*` annotations.
//!   Under Istio the sidecar merges the application's metrics with its own
//!   and serves them in plaintext on 15020 (metrics merging), rewriting the
//!   annotations to point there, so a Prometheus outside the mesh can scrape
//!   a STRICT workload.
//!   <https://istio.io/latest/docs/ops/integrations/prometheus/#option-1-metrics-merging>
//! - NetworkPolicies admit the Prometheus namespace (and pod labels) to
//!   each service's metrics ports, and under Istio to 15020 (merged
//!   metrics) and 15090 (Envoy's own, `http-envoy-prom`).
//! - Optional Prometheus Operator objects: a ServiceMonitor per service
//!   with metrics ports, and a PodMonitor for the sidecars' Envoy metrics
//!   (capability-guarded in `capabilities.yaml`).
//!   <https://istio.io/latest/docs/ops/integrations/prometheus/#tls-settings>
//!
//! Invariant: a metrics port is one named `metrics`, `http-metrics` or
//! `<protocol>-metrics` ([`is_metrics_port`]); `verify` reads the same
//! names from the manifests.

use super::cond::Cond;
use super::netpol_types::{self as np, Ingress, NetworkPolicy, Peer, Selector, Spec};
use super::out::At;
use super::values::{
    ISTIO_ENABLED, POD_MONITOR_ENABLED, PROMETHEUS_NAMESPACE, PROMETHEUS_POD_LABELS,
    SERVICE_MONITOR_ENABLED,
};
use super::{mesh::guarded, to_value, File, Group, Mode, Names, Out};
use crate::model::{Model, Port, Service};
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

/// Prometheus to the service's metrics ports (NetworkPolicy group).
pub fn service_policy(n: &Names, out: &mut Out, s: &Service) -> Option<Value> {
    let mut ports: Vec<u16> = metrics_ports(s).iter().map(|p| p.target_port).collect();
    ports.sort();
    ports.dedup();
    if ports.is_empty() {
        return None;
    }
    let ports = ports.into_iter().map(np::Port::tcp).collect();
    Some(ingress_policy(
        n,
        out,
        &format!("{}-metrics", s.name),
        Some(&s.name),
        ports,
    ))
}

/// Prometheus to every pod's merged and Envoy metrics (Istio and
/// NetworkPolicy both on).
pub fn envoy_policy(n: &Names, out: &mut Out) -> Value {
    let ports = ENVOY_PORTS.iter().copied().map(np::Port::tcp).collect();
    ingress_policy(n, out, "allow-prometheus-envoy", None, ports)
}

/// ServiceMonitors and the PodMonitor, each behind its value (off by
/// default, so the Kustomize tree has none).
pub fn monitors_file(m: &Model, mode: Mode) -> File {
    let mut f = File::new("monitoring.yaml", Group::Base, mode);
    let n = Names::new(m);
    for s in &m.services {
        let ports = metrics_ports(s);
        if ports.is_empty() {
            continue;
        }
        let mut v = json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
        });
        v["metadata"] = n.meta(&mut f.out, &s.name, Some(&s.name));
        v["spec"] = json!({
            "selector": { "matchLabels": n.selector(&mut f.out, Some(&s.name)) },
            "endpoints": ports.iter().map(|p| json!({"port": p.name, "path": "/metrics"})).collect::<Vec<_>>(),
        });
        guarded(&mut f, m, &Cond::is(&SERVICE_MONITOR_ENABLED), v);
    }
    let mut v = json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
    });
    v["metadata"] = n.meta(&mut f.out, "envoy-stats", None);
    v["spec"] = json!({
        "selector": { "matchLabels": n.selector(&mut f.out, None) },
        "podMetricsEndpoints": [{ "port": "http-envoy-prom", "path": "/stats/prometheus" }],
    });
    guarded(
        &mut f,
        m,
        &Cond::is(&ISTIO_ENABLED).and(Cond::is(&POD_MONITOR_ENABLED)),
        v,
    );
    f
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
