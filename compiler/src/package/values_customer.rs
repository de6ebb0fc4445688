//! The values a customer adds at install time (issue #19): a release-wide
//! mTLS mode, extra egress destinations, extra allowed sources, extra
//! objects, and OpenShift's security context: the schemas of their items.
//! Their handles are in `emit::values` (`ISTIO_MTLS_MODE`, `EXTRA_EGRESS`,
//! ...), their rows at the end of `values::entries`, which takes the item
//! schemas here for the handles marked `Extras::Package`;
//! `package::additions` renders them.
//!
//! Invariant: every addition is checked by `values.schema.json` before a
//! template sees it: services are an enum of the policy's names, CIDRs and
//! hosts match patterns, ports lie in 1-65535. A template may still `fail`,
//! but only for what a schema cannot say (a port the service does not have).

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
