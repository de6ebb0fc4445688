//! How requests reach a service inside the mesh: its DestinationRule (mTLS
//! to it, subsets per version, connection pool, outlier detection, load
//! balancing) and, when the policy routes requests, its VirtualService
//! (split, header routes, mirroring, timeouts, retries, fault injection).
//!
//! Hosts are short names, which Istio reads relative to the rule's
//! namespace; `exportTo: ["."]` keeps both rules to the release's namespace.
//! <https://istio.io/latest/docs/concepts/traffic-management/>

use super::cond::Cond;
use super::pod_meta::VERSION_LABEL;
use super::values::FAULT_INJECTION_ENABLED;
use super::{svc_values, to_value, Names, Out};
use crate::istio::destination_rule::{
    ClientTls, ConnectionPool, DestinationRule, DestinationRuleSpec, HttpSettings, LoadBalancer,
    OutlierDetection, Subset, TcpSettings, TrafficPolicy,
};
use crate::istio::virtual_service::{
    Destination, Fault, FaultAbort, FaultDelay, HttpMatch, HttpRetry, HttpRoute, Percent,
    RouteDestination, StringMatch, TcpRoute, VirtualService, VirtualServiceSpec,
};
use crate::model::MtlsMode;
use crate::model::{self, Model, Service};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The switch of fault injection at install time (off in the Kustomize
/// tree, its default).
pub fn fault_cond() -> Cond {
    Cond::is(&FAULT_INJECTION_ENABLED)
}

/// Connection settings of a service's traffic policy (without TLS).
pub fn traffic_policy(t: &model::Traffic) -> TrafficPolicy {
    let connection_pool = t.connection_pool.as_ref().map(|c| {
        let tcp =
            (c.max_connections.is_some() || c.connect_timeout.is_some()).then(|| TcpSettings {
                max_connections: c.max_connections,
                connect_timeout: c.connect_timeout.clone(),
            });
        let http = (c.max_pending_requests.is_some()
            || c.max_requests.is_some()
            || c.max_requests_per_connection.is_some())
        .then_some(HttpSettings {
            http1_max_pending_requests: c.max_pending_requests,
            http2_max_requests: c.max_requests,
            max_requests_per_connection: c.max_requests_per_connection,
        });
        ConnectionPool { tcp, http }
    });
    TrafficPolicy {
        connection_pool,
        outlier_detection: t.outlier_detection.as_ref().map(|o| OutlierDetection {
            consecutive_5xx_errors: o.consecutive_errors,
            interval: o.interval.clone(),
            base_ejection_time: o.base_ejection_time.clone(),
            max_ejection_percent: o.max_ejection_percent,
        }),
        load_balancer: t.load_balancer.map(|l| LoadBalancer { simple: l.into() }),
        ..Default::default()
    }
}

pub fn destination_rule(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Value {
    let mode = match s.mtls.unwrap_or(m.mtls) {
        MtlsMode::Disable => "DISABLE",
        _ => "ISTIO_MUTUAL",
    };
    let spec = DestinationRuleSpec {
        host: n.host_plain(&s.name),
        traffic_policy: Some(TrafficPolicy {
            tls: Some(ClientTls {
                mode: mode.into(),
                sni: None,
            }),
            ..traffic_policy(&s.traffic)
        }),
        subsets: s
            .versions
            .iter()
            .map(|v| Subset {
                name: v.name.clone(),
                labels: BTreeMap::from([(VERSION_LABEL.to_string(), v.name.clone())]),
            })
            .collect(),
        export_to: vec![".".into()],
    };
    let mut v = to_value(&DestinationRule::new("", spec));
    v["metadata"] = n.meta(out, &s.name, Some(&s.name));
    v["spec"]["host"] = n.host(out, &s.name);
    if s.mtls.is_none() && m.mtls == MtlsMode::Disable {
        v["spec"]["trafficPolicy"]["tls"]["mode"] = super::additions::client_tls(out, m);
    }
    v
}

/// The service's VirtualService, when the policy routes its requests.
pub fn virtual_service(n: &Names, out: &mut Out, s: &Service) -> Option<Value> {
    let t = &s.traffic;
    if !t.routes_requests() {
        return None;
    }
    let host = n.host_plain(&s.name);
    let dest = |subset: Option<&str>| Destination {
        host: host.clone(),
        subset: subset.map(str::to_string),
        port: None,
    };
    let retries = t.retries.as_ref().map(|r| HttpRetry {
        attempts: r.attempts,
        per_try_timeout: r.per_try_timeout.clone(),
        retry_on: r.retry_on.clone(),
    });
    let base = HttpRoute {
        timeout: t.timeout.clone(),
        retries,
        mirror: t.mirror.as_ref().map(|(v, _)| dest(Some(v))),
        mirror_percentage: t.mirror.as_ref().map(|(_, p)| Percent { value: *p }),
        ..Default::default()
    };
    let mut http = vec![];
    for r in &t.routes {
        http.push(HttpRoute {
            name: Some(format!("to-{}", r.version)),
            matches: vec![HttpMatch {
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), StringMatch::exact(v)))
                    .collect(),
                ..Default::default()
            }],
            route: vec![RouteDestination {
                destination: dest(Some(&r.version)),
                weight: None,
            }],
            ..base.clone()
        });
    }
    let split: Vec<RouteDestination> = if t.split.is_empty() {
        vec![RouteDestination {
            destination: dest(None),
            weight: None,
        }]
    } else {
        t.split
            .iter()
            .map(|(v, w)| RouteDestination {
                destination: dest(Some(v)),
                weight: Some(*w),
            })
            .collect()
    };
    http.push(HttpRoute {
        name: Some("default".into()),
        route: split.clone(),
        ..base
    });
    // A split also shares the service's TCP ports; HTTP-only settings do not apply there.
    let has_tcp = s.ports.iter().any(|p| !p.protocol.is_http());
    let tcp = if !t.split.is_empty() && has_tcp {
        vec![TcpRoute { route: split }]
    } else {
        vec![]
    };
    let spec = VirtualServiceSpec {
        hosts: vec![host.clone()],
        http: if s.has_http() { http } else { vec![] },
        tcp,
        export_to: vec![".".into()],
        ..Default::default()
    };
    let mut v = to_value(&VirtualService::new("", spec));
    v["metadata"] = n.meta(out, &s.name, Some(&s.name));
    v["spec"]["hosts"] = json!([n.host(out, &s.name)]);
    let sv = svc_values(s);
    // Install-time parts: the host (the release's name), split weights.
    let destination = |out: &mut Out, d: &mut Value| {
        d["destination"]["host"] = n.host(out, &s.name);
        let subset = d["destination"]["subset"].as_str().map(str::to_string);
        if let (Some(w), Some(subset)) = (d.get("weight").cloned(), subset) {
            d["weight"] = out.scalar(&sv.split(&subset).bare(), w);
        }
    };
    // `get_mut`: indexing would add the absent lists as nulls.
    let spec = &mut v["spec"];
    for route in spec
        .get_mut("http")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for d in route["route"].as_array_mut().into_iter().flatten() {
            destination(out, d);
        }
        if route.get("mirror").is_some() {
            route["mirror"]["host"] = n.host(out, &s.name);
        }
        if let Some(f) = &t.fault {
            fault(out, route, f);
        }
    }
    let tcp = spec
        .get_mut("tcp")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for d in tcp.flat_map(|r| r["route"].as_array_mut().into_iter().flatten()) {
        destination(out, d);
    }
    Some(v)
}

/// Fault injection exists only when `faultInjection.enabled` is set at
/// install time; the Kustomize tree, which has no such switch, leaves it out.
fn fault(out: &mut Out, route: &mut Value, f: &model::Fault) {
    let pct = |value: f64| Percent { value };
    let typed = Fault {
        delay: f.delay.as_ref().map(|(d, p)| FaultDelay {
            fixed_delay: d.clone(),
            percentage: pct(*p),
        }),
        abort: f.abort.as_ref().map(|(status, p)| FaultAbort {
            http_status: *status,
            percentage: pct(*p),
        }),
    };
    let yaml = crate::yaml_write::to_string(&json!({ "fault": to_value(&typed) }));
    let mut lines = vec![format!("{{{{- if {} }}}}", fault_cond().helm())];
    lines.extend(yaml.lines().map(super::out::escape_template));
    lines.push("{{- end }}".into());
    if let Some(marker) = out.lines(lines) {
        route[marker.as_str()] = Value::Null;
    }
}
