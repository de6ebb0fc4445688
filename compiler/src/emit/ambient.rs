//! Istio's ambient data plane (`istio.dataplane=ambient`): no sidecars;
//! ztunnel on each node enforces mTLS and L4 rules, and a waypoint proxy
//! enforces rules with paths and methods.
//!
//! For a service with such rules the chart renders, instead of the sidecar
//! mode's single AuthorizationPolicy:
//! - a policy attached to the Service (`targetRefs`), which its waypoint
//!   enforces with every rule and the callers' own identities;
//! - a policy on the pods (ztunnel) admitting the waypoint, plus the L4-only
//!   rules (a caller addressing pods directly); a ztunnel policy with L7
//!   fields would fail safe into a DENY.
//!
//! <https://istio.io/latest/docs/ambient/usage/l7-features/>
//! <https://istio.io/latest/docs/ambient/usage/l4-policy/>

use super::cond::Cond;
use super::values::ISTIO_DATAPLANE;
use super::{to_value, File, Names, Out};
use crate::gateway_api as gapi;
use crate::model::Model;
use serde_json::{json, Value};

/// Conditions on the data plane.
pub fn ambient() -> Cond {
    Cond::eq(&ISTIO_DATAPLANE, "ambient")
}

pub fn sidecar() -> Cond {
    Cond::ne(&ISTIO_DATAPLANE, "ambient")
}

/// Suffix of the release's waypoint (a Gateway; Istio deploys a Deployment,
/// Service and ServiceAccount of the same name).
pub const WAYPOINT: &str = "waypoint";

pub fn ambient_by_default(m: &Model) -> bool {
    ambient().eval_defaults(m, &[])
}

pub fn any_waypoint(m: &Model) -> bool {
    m.services.iter().any(|s| m.needs_waypoint(&s.name))
}

/// The waypoint: a Gateway API Gateway of class `istio-waypoint` serving
/// the Services labelled `istio.io/use-waypoint`.
pub fn waypoint(n: &Names, out: &mut Out) -> Value {
    let mut v = to_value(&gapi::Gateway::new(
        "",
        gapi::GatewaySpec {
            gateway_class_name: "istio-waypoint".into(),
            listeners: vec![gapi::Listener {
                name: "mesh".into(),
                hostname: None,
                port: 15008,
                protocol: "HBONE".into(),
                tls: None,
                allowed_routes: None,
            }],
        },
    ));
    v["metadata"] = n.meta(out, WAYPOINT, None);
    // Istio copies a Gateway's labels to the pods it deploys: without the
    // release's selector labels, the release-wide policies (allow-nothing,
    // default deny) leave the waypoint alone.
    v["metadata"]["labels"] = json!({
        "app.kubernetes.io/part-of": n.app,
        "istio.io/waypoint-for": "service",
    });
    v
}

/// The waypoint's identity, which ztunnel policies admit.
pub fn waypoint_identity(n: &Names) -> super::identity::Identity {
    super::identity::Identity::release(n, WAYPOINT)
}

/// Add a document rendered only in one data plane (Helm decides at install
/// time; the Kustomize tree takes the policy's).
pub fn only(f: &mut File, m: &Model, in_ambient: bool, v: Value) {
    let when = if in_ambient { ambient() } else { sidecar() };
    super::guarded(f, m, &when, v);
}
