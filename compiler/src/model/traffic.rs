//! Versions of a service, how requests reach them (split, header routes,
//! mirroring, fault injection), resilience settings, and telemetry.
//!
//! Istio's semantics: <https://istio.io/latest/docs/concepts/traffic-management/>.

use super::{is_dns_label, parse_image, Image, Resolver, MAX_OBJECT_NAME};
use crate::policy;

#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub name: String,
    pub image: Image,
    pub replicas: u32,
    /// The service's env with this version's own over it; empty when the
    /// version has none of its own (the service's applies).
    pub env: Vec<(String, super::EnvVal)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Traffic {
    pub timeout: Option<String>,
    pub retries: Option<Retries>,
    pub connection_pool: Option<ConnectionPool>,
    pub outlier_detection: Option<OutlierDetection>,
    /// Istio's simple load-balancer name, e.g. `LEAST_REQUEST`.
    pub load_balancer: Option<&'static str>,
    /// Weights by version, summing to 100.
    pub split: Vec<(String, u32)>,
    pub routes: Vec<VersionRoute>,
    /// Version and percentage.
    pub mirror: Option<(String, f64)>,
    pub fault: Option<Fault>,
}

impl Traffic {
    /// Whether anything here is said in a VirtualService (HTTP routing).
    pub fn routes_requests(&self) -> bool {
        self.timeout.is_some()
            || self.retries.is_some()
            || !self.split.is_empty()
            || !self.routes.is_empty()
            || self.mirror.is_some()
            || self.fault.is_some()
    }

    /// Whether anything here is said in a DestinationRule's traffic policy.
    pub fn shapes_connections(&self) -> bool {
        self.connection_pool.is_some()
            || self.outlier_detection.is_some()
            || self.load_balancer.is_some()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retries {
    pub attempts: u32,
    pub per_try_timeout: Option<String>,
    pub retry_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectionPool {
    pub max_connections: Option<u32>,
    pub connect_timeout: Option<String>,
    pub max_pending_requests: Option<u32>,
    pub max_requests: Option<u32>,
    pub max_requests_per_connection: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutlierDetection {
    pub consecutive_errors: u32,
    pub interval: String,
    pub base_ejection_time: String,
    pub max_ejection_percent: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionRoute {
    pub headers: Vec<(String, String)>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Fixed delay and percentage.
    pub delay: Option<(String, f64)>,
    /// HTTP status and percentage.
    pub abort: Option<(u16, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    pub tracing: Option<Tracing>,
    pub access_logging: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// `opentelemetry` or `zipkin`.
    pub provider: &'static str,
    pub host: String,
    pub port: u16,
    /// The collector's namespace when `host` is a cluster Service name
    /// (`<service>.<namespace>[.svc...]`): NetworkPolicies open egress to it.
    pub namespace: Option<String>,
    pub sampling: f64,
}

/// Retry conditions Envoy knows (`x-envoy-retry-on` and the gRPC ones).
/// <https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on>
const RETRY_ON: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

impl Resolver<'_> {
    pub(super) fn versions(
        &mut self,
        app: &str,
        name: &str,
        s: &policy::Service,
        workload_is_deployment: bool,
        registry: Option<&str>,
    ) -> Vec<Version> {
        let path = format!("spec.services.{name}");
        if !s.versions.is_empty() && !workload_is_deployment {
            self.err_key(
                "E0219",
                &format!("{path}.versions"),
                format!("`{name}` is a StatefulSet and cannot have versions"),
                "versions run side by side as Deployments; remove `workload: StatefulSet` or the versions".into(),
            );
            return vec![];
        }
        let mut out = vec![];
        for (v, spec) in &s.versions {
            let vp = format!("{path}.versions.{v}");
            if !is_dns_label(v) {
                self.err_key(
                    "E0219",
                    &vp,
                    format!("version name `{v}` is not a DNS-1035 label"),
                    "use lowercase letters, digits and `-`, e.g. `stable`, `canary`, `v2`".into(),
                );
            } else if app.len().max(super::MIN_FULLNAME) + name.len() + v.len() + 2
                > MAX_OBJECT_NAME
            {
                self.err_key(
                    "E0219",
                    &vp,
                    format!(
                        "`{app}-{name}-{v}` is {} characters; object names stop at {MAX_OBJECT_NAME}, and the release part keeps at least {}",
                        app.len() + name.len() + v.len() + 2,
                        super::MIN_FULLNAME
                    ),
                    "shorten the version name (its Deployment is `<release>-<service>-<version>`)"
                        .into(),
                );
            }
            let Some(reference) = spec.image.as_ref().or(s.image.as_ref()) else {
                self.err_key(
                    "E0218",
                    &vp,
                    format!("version `{v}` of `{name}` has no image"),
                    "give the version an `image`, or the service one for all versions".into(),
                );
                continue;
            };
            let at = if spec.image.is_some() {
                format!("{vp}.image")
            } else {
                format!("{path}.image")
            };
            let image = match parse_image(reference, registry) {
                Ok(i) => i,
                Err(why) => {
                    self.err(
                        "E0212",
                        &at,
                        why,
                        "write `[registry/]repository:tag` or `repository@sha256:<64 hex digits>`"
                            .into(),
                    );
                    continue;
                }
            };
            out.push(Version {
                name: v.clone(),
                image,
                replicas: spec.replicas.or(s.replicas).unwrap_or(1),
                env: vec![],
            });
        }
        out
    }

    pub(super) fn traffic(
        &mut self,
        name: &str,
        t: Option<&policy::Traffic>,
        versions: &[Version],
        has_http: bool,
    ) -> Traffic {
        let Some(t) = t else {
            return Traffic::default();
        };
        let path = format!("spec.services.{name}.traffic");
        let known: Vec<&str> = versions.iter().map(|v| v.name.as_str()).collect();
        let version_ref = |r: &mut Self, at: &str, v: &str| {
            if known.is_empty() {
                r.err(
                    "E0271",
                    at,
                    format!("`{name}` declares no versions to send requests to"),
                    format!(
                        "add `versions:` to `{name}`, e.g. `{{stable: {{}}, {v}: {{image: ...}}}}`"
                    ),
                );
            } else if !known.contains(&v) {
                let help = match crate::diag::suggest(v, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? versions: {}", known.join(", ")),
                    None => format!("versions of `{name}`: {}", known.join(", ")),
                };
                r.err("E0271", at, format!("unknown version `{v}`"), help);
            }
        };
        // HTTP-only settings live in a VirtualService's `http` routes.
        let http_only = [
            ("timeout", t.timeout.is_some()),
            ("retries", t.retries.is_some()),
            ("routes", !t.routes.is_empty()),
            ("mirror", t.mirror.is_some()),
            ("fault", t.fault.is_some()),
        ];
        if !has_http {
            for (field, set) in http_only {
                if set {
                    self.err_key(
                        "E0273",
                        &format!("{path}.{field}"),
                        format!(
                            "`{field}` applies to HTTP requests, but `{name}` has no HTTP port"
                        ),
                        "name a port `http` or `http-<suffix>` (or grpc, http2), or remove it"
                            .into(),
                    );
                }
            }
        }
        if let Some(d) = &t.timeout {
            self.duration(&format!("{path}.timeout"), d);
        }
        let retries = t.retries.as_ref().map(|r| {
            if let Some(d) = &r.per_try_timeout {
                self.duration(&format!("{path}.retries.perTryTimeout"), d);
            }
            if let Some(on) = &r.retry_on {
                for c in on.split(',') {
                    let c = c.trim();
                    if !RETRY_ON.contains(&c) && c.parse::<u16>().is_err() {
                        self.err(
                            "E0274",
                            &format!("{path}.retries.retryOn"),
                            format!("unknown retry condition `{c}`"),
                            format!("Envoy knows: {}, or an HTTP status", RETRY_ON.join(", ")),
                        );
                    }
                }
            }
            Retries {
                attempts: r.attempts,
                per_try_timeout: r.per_try_timeout.clone(),
                retry_on: r.retry_on.clone(),
            }
        });
        let connection_pool = t.connection_pool.as_ref().map(|c| {
            if let Some(d) = &c.connect_timeout {
                self.duration(&format!("{path}.connectionPool.connectTimeout"), d);
            }
            ConnectionPool {
                max_connections: c.max_connections,
                connect_timeout: c.connect_timeout.clone(),
                max_pending_requests: c.max_pending_requests,
                max_requests: c.max_requests,
                max_requests_per_connection: c.max_requests_per_connection,
            }
        });
        let outlier_detection = t.outlier_detection.as_ref().map(|o| {
            let op = format!("{path}.outlierDetection");
            for (field, d) in [
                ("interval", &o.interval),
                ("baseEjectionTime", &o.base_ejection_time),
            ] {
                if let Some(d) = d {
                    self.duration(&format!("{op}.{field}"), d);
                }
            }
            if let Some(p) = o.max_ejection_percent {
                if p > 100 {
                    self.percent_err(&format!("{op}.maxEjectionPercent"), f64::from(p));
                }
            }
            OutlierDetection {
                consecutive_errors: o.consecutive_errors.unwrap_or(5),
                interval: o.interval.clone().unwrap_or_else(|| "10s".into()),
                base_ejection_time: o.base_ejection_time.clone().unwrap_or_else(|| "30s".into()),
                max_ejection_percent: o.max_ejection_percent.unwrap_or(10),
            }
        });
        let mut split = vec![];
        for (v, w) in &t.split {
            version_ref(self, &format!("{path}.split.{v}"), v);
            split.push((v.clone(), *w));
        }
        let sum: u64 = t.split.values().map(|w| u64::from(*w)).sum();
        if !t.split.is_empty() && sum != 100 {
            self.err_key(
                "E0272",
                &format!("{path}.split"),
                format!("the split's weights add up to {sum}, not 100"),
                "give each version its share of requests in percent".into(),
            );
        }
        let mut routes = vec![];
        for (i, r) in t.routes.iter().enumerate() {
            let rp = format!("{path}.routes[{i}]");
            version_ref(self, &format!("{rp}.version"), &r.version);
            if r.headers.is_empty() {
                self.err_key(
                    "E0272",
                    &format!("{rp}.headers"),
                    "a version route without headers would take every request".into(),
                    "match a header, e.g. `{x-canary: \"true\"}`; use `split` for shares".into(),
                );
            }
            for k in r.headers.keys() {
                if !super::gateway::is_header_name(k) {
                    self.err_key(
                        "E0272",
                        &format!("{rp}.headers.{k}"),
                        format!("`{k}` is not a lower-case HTTP header name"),
                        "write header names in lower case, e.g. `x-canary`".into(),
                    );
                }
            }
            routes.push(VersionRoute {
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                version: r.version.clone(),
            });
        }
        let mirror = t.mirror.as_ref().map(|m| {
            version_ref(self, &format!("{path}.mirror.version"), &m.version);
            let pct = m.percent.unwrap_or(100.0);
            if !(0.0..=100.0).contains(&pct) {
                self.percent_err(&format!("{path}.mirror.percent"), pct);
            }
            (m.version.clone(), pct)
        });
        let fault = t.fault.as_ref().map(|f| {
            let fp = format!("{path}.fault");
            if f.delay.is_none() && f.abort.is_none() {
                self.err_key(
                    "E0274",
                    &fp,
                    "fault injects nothing".into(),
                    "add `delay: {fixed: 2s, percent: 10}` or `abort: {status: 503, percent: 5}`"
                        .into(),
                );
            }
            if let Some(d) = &f.delay {
                self.duration(&format!("{fp}.delay.fixed"), &d.fixed);
                if !(0.0..=100.0).contains(&d.percent) {
                    self.percent_err(&format!("{fp}.delay.percent"), d.percent);
                }
            }
            if let Some(a) = &f.abort {
                if !(200..=599).contains(&a.status) {
                    self.err(
                        "E0274",
                        &format!("{fp}.abort.status"),
                        format!("{} is not an HTTP status Envoy can answer with", a.status),
                        "use a status from 200 to 599, e.g. 503".into(),
                    );
                }
                if !(0.0..=100.0).contains(&a.percent) {
                    self.percent_err(&format!("{fp}.abort.percent"), a.percent);
                }
            }
            Fault {
                delay: f.delay.as_ref().map(|d| (d.fixed.clone(), d.percent)),
                abort: f.abort.as_ref().map(|a| (a.status, a.percent)),
            }
        });
        Traffic {
            timeout: t.timeout.clone(),
            retries,
            connection_pool,
            outlier_detection,
            load_balancer: t.load_balancer.map(|l| l.as_str()),
            split,
            routes,
            mirror,
            fault,
        }
    }

    fn percent_err(&mut self, path: &str, v: f64) {
        self.err(
            "E0274",
            path,
            format!("{v} is not a percentage"),
            "expected 0 to 100".into(),
        );
    }

    pub(super) fn telemetry(&mut self, t: &policy::Telemetry) -> Telemetry {
        let tracing = t.tracing.as_ref().map(|tr| {
            let path = "spec.telemetry.tracing";
            let parsed = tr
                .endpoint
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse::<u16>().ok().filter(|p| *p > 0)?)))
                .filter(|(h, _)| super::is_dns_subdomain(h));
            let (host, port) = match parsed {
                Some((h, p)) => (h.to_string(), p),
                None => {
                    self.err(
                        "E0275",
                        &format!("{path}.endpoint"),
                        format!("`{}` is not `host:port`", tr.endpoint),
                        "write the collector's address, e.g. `otel-collector.observability.svc.cluster.local:4317`".into(),
                    );
                    (tr.endpoint.clone(), 1)
                }
            };
            let sampling = tr.sampling.unwrap_or(1.0);
            if !(0.0..=100.0).contains(&sampling) {
                self.percent_err(&format!("{path}.sampling"), sampling);
            }
            // `<service>.<namespace>` or `<service>.<namespace>.svc[.<domain>]`.
            let labels: Vec<&str> = host.split('.').collect();
            let namespace = match labels.as_slice() {
                [_, ns] => Some(ns.to_string()),
                [_, ns, "svc", ..] => Some(ns.to_string()),
                _ => None,
            };
            Tracing {
                provider: match tr.provider {
                    policy::TracingProvider::Opentelemetry => "opentelemetry",
                    policy::TracingProvider::Zipkin => "zipkin",
                },
                host,
                port,
                namespace,
                sampling,
            }
        });
        Telemetry {
            tracing,
            access_logging: t.access_logging,
        }
    }
}
