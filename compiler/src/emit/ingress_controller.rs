//! The cluster's ingress controller as the emitters name it: the values
//! that say where its pods run (`ingress.controller.*`, with the renamed
//! `networkPolicy.ingressController.*` still winning when an older values
//! file sets them) and the annotations that tell `verify` who it is. A
//! helper: `ingress.rs` (the Ingress form) and `netpol.rs` (the
//! NetworkPolicies admitting a controller the customer runs) both use it.
//!
//! Invariant: one value set names the controller, whoever writes the
//! Ingresses.

use super::values::{
    INGRESS_CONTROLLER_NAMESPACE, INGRESS_CONTROLLER_POD_LABELS,
    INGRESS_CONTROLLER_SERVICE_ACCOUNT, NETWORK_POLICY_INGRESS_CONTROLLER_NAMESPACE,
    NETWORK_POLICY_INGRESS_CONTROLLER_POD_LABELS,
};
use super::Out;
use crate::model::Model;
use serde_json::{json, Value};

/// The annotations naming, on each Ingress, the gateway it serves and the
/// controller's `<namespace>/<serviceAccount>`, so `verify` and `matrix`
/// know who `gateway/<name>` is (`verify::ingress` reads them).
pub const CONTROLLER_ANNOTATION: &str = "meshpack.dev/ingress-controller";
pub const GATEWAY_ANNOTATION: &str = "meshpack.dev/gateway";
/// On the NetworkPolicies admitting a controller the customer runs
/// (`netpol.rs`): the gateways it stands for, comma-separated.
pub const GATEWAYS_ANNOTATION: &str = "meshpack.dev/gateways";

/// The controller's namespace as template text: `ingress.controller.namespace`,
/// or the renamed `networkPolicy.ingressController.namespace` when a values
/// file of an older release still sets it (Sprig's `default` takes the
/// second argument unless it is empty).
/// <https://masterminds.github.io/sprig/defaults.html>
pub fn namespace_expr() -> String {
    format!(
        "(default {} {})",
        INGRESS_CONTROLLER_NAMESPACE.expr(),
        NETWORK_POLICY_INGRESS_CONTROLLER_NAMESPACE.expr()
    )
}

/// The controller pods' labels, as [`namespace_expr`] takes the namespace.
pub fn pod_labels_expr() -> String {
    format!(
        "(default {} {})",
        INGRESS_CONTROLLER_POD_LABELS.expr(),
        NETWORK_POLICY_INGRESS_CONTROLLER_POD_LABELS.expr()
    )
}

/// On a NetworkPolicy admitting the controller: which gateways it stands
/// for (comma-separated) and who it is, as each Ingress names it
/// (`verify::ingress` reads both, and the pods' labels from the policy's
/// first peer). `ns` is the namespace's template text.
pub fn controller_annotations(m: &Model, out: &mut Out, gateways: &str, ns: &str) -> Value {
    let sa = INGRESS_CONTROLLER_SERVICE_ACCOUNT.expr();
    let (ns_default, sa_default) = (
        INGRESS_CONTROLLER_NAMESPACE.default_text(m),
        INGRESS_CONTROLLER_SERVICE_ACCOUNT.default_text(m),
    );
    let id = out.text(&[
        super::Part::Val(ns, &ns_default),
        super::Part::Lit("/"),
        super::Part::Val(&sa, &sa_default),
    ]);
    let mut ann = serde_json::Map::new();
    ann.insert(GATEWAYS_ANNOTATION.into(), json!(gateways));
    ann.insert(CONTROLLER_ANNOTATION.into(), id);
    Value::Object(ann)
}
