//! Optional Prometheus Operator objects: a ServiceMonitor per service with
//! metrics ports, and a PodMonitor for the sidecars' Envoy metrics
//! (capability-guarded in `capabilities.yaml`).
//! <https://istio.io/latest/docs/ops/integrations/prometheus/#tls-settings>
//!
//! Invariant: each object sits behind its value (off by default), so the
//! Kustomize tree has none; metrics ports are `metrics::metrics_ports`.

use super::cond::Cond;
use super::metrics::metrics_ports;
use super::values::{ISTIO_ENABLED, POD_MONITOR_ENABLED, SERVICE_MONITOR_ENABLED};
use super::{guarded, File, Group, Mode, Names};
use crate::model::Model;
use serde_json::json;

/// ServiceMonitors and the PodMonitor, each behind its value (off by
/// default, so the Kustomize tree has none).
pub fn file(m: &Model, mode: Mode) -> File {
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
