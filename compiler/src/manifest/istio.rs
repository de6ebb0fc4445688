//! Istio's reading of names in manifests: hosts (short, `name.ns`,
//! `name.ns.svc.<domain>`, wildcards), protocols from port names, and the
//! identities an AuthorizationPolicy names. Shared by `validate`'s checks
//! and `verify`'s evaluators.
//!
//! Invariant: written from Istio's documentation (cited per function), not
//! from the compiler's emitters, so a mistake in the compiler is not
//! repeated here.

use super::object::Object;
use crate::manifest::Node;

/// In-cluster hosts: a short `name` (Istio reads it in the rule's
/// namespace) or `name.ns.svc[.<domain>]`; anything else is external.
pub fn split_host<'h>(host: &'h str, ns: &'h str) -> Option<(&'h str, &'h str)> {
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => Some((name, ns)),
        [name, namespace, "svc", ..] => Some((name, namespace)),
        _ => None,
    }
}

/// Whether a host names a Kubernetes Service.
pub fn is_cluster_host(host: &str) -> bool {
    split_host(host, "").is_some()
}

/// `*.example.com` matches `a.example.com`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix),
        None => pattern == host,
    }
}

/// Istio's protocol from a port name or appProtocol: Some(is_http) when
/// recognised, None when Istio would have to guess.
/// <https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/>
pub fn protocol(name: &str, app_protocol: Option<&str>) -> Option<bool> {
    const HTTP: [&str; 4] = ["http", "http2", "grpc", "grpc-web"];
    const OTHER: [&str; 6] = ["https", "tcp", "tls", "mongo", "mysql", "redis"];
    let classify = |p: &str| {
        let p = p.to_ascii_lowercase();
        if HTTP.contains(&p.as_str()) || p == "kubernetes.io/h2c" || p == "kubernetes.io/ws" {
            Some(true)
        } else if OTHER.contains(&p.as_str()) || p == "kubernetes.io/wss" {
            Some(false)
        } else {
            None
        }
    };
    if let Some(a) = app_protocol {
        return classify(a);
    }
    if name.starts_with("grpc-web") {
        return Some(true);
    }
    classify(name.split('-').next().unwrap_or(name))
}

/// Every principal the rules of an AuthorizationPolicy name.
pub fn principals(o: &Object) -> impl Iterator<Item = &str> {
    o.value["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["from"].as_array().into_iter().flatten())
        .flat_map(|f| f["source"]["principals"].as_array().into_iter().flatten())
        .filter_map(Node::as_str)
}

/// The `(namespace, ServiceAccount)` pairs of an AuthorizationPolicy's
/// `source.serviceAccounts` (Istio 1.25+): `<ns>/<sa>`, or a bare `<sa>` in
/// the policy's namespace (`policy_ns`; none known when empty).
/// <https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source>
pub fn service_accounts<'a>(
    o: &'a Object,
    policy_ns: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    o.value["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["from"].as_array().into_iter().flatten())
        .flat_map(|f| {
            f["source"]["serviceAccounts"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter_map(Node::as_str)
        .filter_map(move |x| match x.split_once('/') {
            Some(pair) => Some(pair),
            None => (!policy_ns.is_empty()).then_some((policy_ns, x)),
        })
}

/// `<trust domain>/ns/<namespace>/sa/<serviceAccount>` -> (namespace, serviceAccount).
pub fn principal_parts(p: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [_, "ns", ns, "sa", sa] => Some((ns, sa)),
        _ => None,
    }
}
