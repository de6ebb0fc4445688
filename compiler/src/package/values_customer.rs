//! The values a customer adds at install time (issue #19): a release-wide
//! mTLS mode, extra egress destinations, extra allowed sources, extra
//! objects, and OpenShift's security context. `values::entries` appends
//! these entries; `package::additions` renders them.
//!
//! Invariant: every addition is checked by `values.schema.json` before a
//! template sees it: services are an enum of the policy's names, CIDRs and
//! hosts match patterns, ports lie in 1-65535. A template may still `fail`,
//! but only for what a schema cannot say (a port the service does not have).

use super::values::Entry;
use crate::model::Model;
use serde_json::{json, Value};

/// An IPv4 CIDR (`10.0.0.0/8`); IPv6 is not accepted yet.
pub const CIDR_PATTERN: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$";

/// A DNS name, optionally with one leading `*.` (as a ServiceEntry host).
pub const HOST_PATTERN: &str =
    r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$";

/// A namespace or ServiceAccount name (RFC 1123 label; ServiceAccounts may
/// have dots).
const NAMESPACE_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const SERVICE_ACCOUNT_PATTERN: &str = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

/// The ServiceEntry protocols an extra egress destination may name.
pub const PROTOCOLS: [&str; 9] = [
    "TCP", "TLS", "HTTPS", "HTTP", "HTTP2", "GRPC", "MONGO", "MYSQL", "REDIS",
];

fn entry(path: &str, default: Value, description: &str, schema: Value) -> Entry {
    Entry {
        path: path.to_string(),
        default,
        description: description.to_string(),
        schema: Some(schema),
        listed: true,
    }
}

fn port() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 65535})
}

fn services(m: &Model) -> Value {
    let names: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
    json!({"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string", "enum": names}})
}

/// The JSON Schema of one `extraEgress` item.
pub fn egress_item(m: &Model) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["port", "services"],
        "oneOf": [{"required": ["host"]}, {"required": ["cidr"]}],
        "properties": {
            "host": {"type": "string", "pattern": HOST_PATTERN, "description": "DNS name (`*.` allowed once in front); NetworkPolicies reach it through `networkPolicy.egressCIDRs`."},
            "cidr": {"type": "string", "pattern": CIDR_PATTERN, "description": "IPv4 range, e.g. `10.20.0.0/16`."},
            "port": port(),
            "protocol": {"type": "string", "enum": PROTOCOLS, "description": "ServiceEntry protocol (default TCP)."},
            "services": services(m),
        },
    })
}

/// The JSON Schema of one `extraSources` item.
pub fn source_item(m: &Model) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["services"],
        "oneOf": [{"required": ["namespace"]}, {"required": ["ipBlock"]}],
        "dependencies": {"serviceAccount": ["namespace"]},
        "properties": {
            "namespace": {"type": "string", "pattern": NAMESPACE_PATTERN},
            "serviceAccount": {"type": "string", "pattern": SERVICE_ACCOUNT_PATTERN},
            "ipBlock": {"type": "string", "pattern": CIDR_PATTERN},
            "services": services(m),
            "ports": {"type": "array", "uniqueItems": true, "items": port()},
        },
    })
}

pub fn entries(m: &Model) -> Vec<Entry> {
    vec![
        entry(
            "istio.mtls.mode",
            json!(""),
            "Release-wide mTLS mode that replaces the policy's (`STRICT` or `PERMISSIVE`, e.g. while migrating clients into the mesh); empty keeps the policy's. Per-service and per-port modes the policy sets are kept.",
            json!({"enum": ["", "STRICT", "PERMISSIVE"]}),
        ),
        entry(
            "extraEgress",
            json!([]),
            "Extra destinations outside the cluster: `{host: s3.example.com | cidr: 10.0.0.0/8, port: 443, protocol: TLS, services: [api]}`. Each renders a ServiceEntry, the host in the services' Sidecars and a NetworkPolicy egress rule (docs/additions.md).",
            json!({"items": egress_item(m)}),
        ),
        entry(
            "extraSources",
            json!([]),
            "Extra callers: `{namespace: monitoring, serviceAccount: prometheus, services: [api], ports: [9090]}` or `{ipBlock: 10.0.0.0/8, services: [api]}`; no `ports` means every port of the services. Each renders an AuthorizationPolicy and a NetworkPolicy ingress rule (docs/additions.md).",
            json!({"items": source_item(m)}),
        ),
        entry(
            "extraObjects",
            json!([]),
            "Extra objects rendered as given: each item an object or a string, both passed through `tpl` (so `{{ .Release.Namespace }}` works), as Bitnami's `extraDeploy`.",
            json!({"items": {"type": ["object", "string"]}}),
        ),
        entry(
            "openshift.enabled",
            json!("auto"),
            "Leave UID, GID and fsGroup to OpenShift's `restricted-v2` SCC (`runAsNonRoot`, no privilege escalation, dropped capabilities and the RuntimeDefault seccomp profile stay): `true`, `false`, or `auto` to detect the `security.openshift.io/v1` API.",
            json!({"type": ["boolean", "string"], "enum": [true, false, "true", "false", "auto"]}),
        ),
    ]
}
