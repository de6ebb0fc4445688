//! Kubernetes NetworkPolicies: the allow graph at L3/L4, for clusters
//! without a mesh and as a second layer under one.
//!
//! Default deny (ingress and egress) for the release's pods; then per
//! service one policy, `<service>-allow`, admitting its callers and
//! letting it reach the services it calls, so that both ends of every edge
//! agree. NetworkPolicy cannot name a
//! ServiceAccount or a host name: external sources are matched by namespace,
//! egress hosts by `networkPolicy.egressCIDRs` on their port, and HTTP paths
//! and methods are not enforced at this layer.
//! <https://kubernetes.io/docs/concepts/services-networking/network-policies/>
//!
//! Gateway sources are admitted by their pods, not their namespace (as
//! Online Boutique's own policies admit the frontend's callers), in a
//! `<service>-gateways` policy per gateway form, each in its own group:
//! Istio's ingress gateway pods by the selector of the Istio `Gateway`
//! (`gateways.<name>.selector`), the pods Istio deploys for a Gateway API
//! Gateway by `gateway.networking.k8s.io/gateway-name`, both in
//! `istio.gateway.namespace` (the namespace the gateway objects use: one
//! value for both); with neither, the customer's ingress controller
//! (`ingress.controller`, the values the Ingress form reads too, or the
//! deprecated `networkPolicy.gatewayNamespaces`), named on each such policy
//! for `verify` as the Ingress form names it on each Ingress.
//! <https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment>

use super::netpol_types::{
    Egress, Ingress, NetworkPolicy, Peer, Port, Requirement, Selector, Spec,
};
use super::out::At;
use super::values::{
    tracing, Gw, INGRESS_CONTROLLER_NAMESPACE, ISTIO_CONTROL_PLANE_NAMESPACE,
    ISTIO_GATEWAY_NAMESPACE, NETWORK_POLICY_EGRESS_CIDRS, NETWORK_POLICY_GATEWAY_NAMESPACES,
};
use super::{to_value, File, Group, Mode, Names, Out};
use crate::model::{Model, Service, Source, Tracing};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The release-wide policies: default deny and DNS.
pub fn release_file(m: &Model, mode: Mode) -> File {
    let n = Names::new(m);
    // One file for the release-wide policies, one per service: Helm
    // refuses template files over 5 MiB, which one file would pass for a
    // few thousand services.
    let mut release = File::new("network-policies.yaml", Group::NetworkPolicy, mode);
    let v = default_deny(&n, &mut release.out);
    release.push(v);
    let v = dns(&n, &mut release.out);
    release.push(v);
    release
}

/// A service's own policy; `None` when it needs none.
pub fn service_file(m: &Model, s: &Service, mode: Mode) -> Option<File> {
    let n = Names::new(m);
    let mut f = File::new(
        format!("network-policies/{}.yaml", s.name),
        Group::NetworkPolicy,
        mode,
    );
    f.service = Some(s.name.clone());
    if let Some(v) = allow(m, &n, &mut f.out, s) {
        f.push(v);
    }
    (!f.docs.is_empty()).then_some(f)
}

/// The files after the services': the mesh's own traffic and the gateways'.
pub fn closing_files(m: &Model, mode: Mode) -> Vec<File> {
    let n = Names::new(m);
    let mut files = vec![];
    let mut mesh = File::new(
        "network-policies-istio.yaml",
        Group::IstioNetworkPolicy,
        mode,
    );
    let v = istio(&n, &mut mesh.out);
    mesh.push(v);
    let v = super::metrics::envoy_policy(&n, &mut mesh.out);
    mesh.push(v);
    if let Some(tr) = m.telemetry.as_ref().and_then(|t| t.tracing.as_ref()) {
        let v = tracing(&n, &mut mesh.out, tr);
        mesh.push(v);
    }
    let v = hbone(m, &n, &mut mesh.out);
    super::ambient::only(&mut mesh, m, true, v);
    files.push(mesh);
    for (form, path, group) in [
        (
            GatewayForm::Istio,
            "network-policies-gateways-istio.yaml",
            Group::IstioGatewayNetworkPolicy,
        ),
        (
            GatewayForm::GatewayApi,
            "network-policies-gateways-gateway-api.yaml",
            Group::GatewayApiNetworkPolicy,
        ),
        (
            GatewayForm::Ingress,
            "network-policies-gateways-ingress.yaml",
            Group::IngressNetworkPolicy,
        ),
    ] {
        let mut f = File::new(path, group, mode);
        for s in &m.services {
            if let Some(v) = gateway_ingress(m, &n, &mut f.out, s, form) {
                f.push(v);
            }
        }
        if !f.docs.is_empty() {
            files.push(f);
        }
    }
    files
}

/// The form gateways take at install time, which decides whose pods a
/// `gateway/<name>` source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GatewayForm {
    /// Istio `Gateway` objects on Istio's ingress gateway pods.
    Istio,
    /// Gateway API Gateways, whose pods Istio deploys.
    GatewayApi,
    /// Neither: the customer's ingress controller fronts the services.
    Ingress,
}

/// The namespace every gateway form uses (`istio.gateway.namespace`).
fn gateway_namespace(m: &Model, out: &mut Out) -> Peer {
    Peer::namespace(At::scalar(
        out,
        &format!("{} | quote", ISTIO_GATEWAY_NAMESPACE.expr()),
        ISTIO_GATEWAY_NAMESPACE.default_text(m),
    ))
}

/// What `(default (list (default <gateway namespace> <controller
/// namespace>)) <gatewayNamespaces>)` gives on the chart's defaults: Helm's
/// `default` takes its second argument unless that is empty.
/// <https://helm.sh/docs/chart_template_guide/function_list/#default>
fn ingress_namespaces_default(m: &Model) -> Vec<String> {
    let listed: Vec<String> = NETWORK_POLICY_GATEWAY_NAMESPACES
        .default(m)
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed;
    }
    vec![INGRESS_CONTROLLER_NAMESPACE.default_text(m)]
}

/// The pods of gateway `g` as a NetworkPolicy peer, in the given form.
fn gateway_peer(m: &Model, n: &Names, out: &mut Out, g: &str, form: GatewayForm) -> Peer {
    match form {
        GatewayForm::Istio => {
            let selector: serde_json::Map<String, Value> = m
                .gateways
                .iter()
                .find(|x| x.name == g)
                .map(|x| {
                    x.selector
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            let mut peer = gateway_namespace(m, out);
            let labels = out.yaml(&Gw::new(g).selector().expr(), Value::Object(selector));
            peer.pod_selector = Some(Selector::labels(labels));
            peer
        }
        GatewayForm::GatewayApi => {
            let mut peer = gateway_namespace(m, out);
            peer.pod_selector = Some(Selector::labels(json!({
                "gateway.networking.k8s.io/gateway-name": n.object(out, g),
            })));
            peer
        }
        GatewayForm::Ingress => {
            // The deprecated list wins when a values file still sets it.
            let namespaces = At::yaml(
                out,
                &format!(
                    "(default (list {}) {})",
                    super::ingress_controller::namespace_expr(),
                    NETWORK_POLICY_GATEWAY_NAMESPACES.expr()
                ),
                ingress_namespaces_default(m),
            );
            let mut install = json!({});
            out.optional(
                &mut install,
                "podSelector",
                &format!(
                    "(ternary (dict \"matchLabels\" {labels}) dict (not (empty {labels})))",
                    labels = super::ingress_controller::pod_labels_expr()
                ),
                None,
            );
            Peer {
                namespace_selector: Some(Selector {
                    match_expressions: Some(vec![Requirement {
                        key: "kubernetes.io/metadata.name",
                        operator: "In",
                        values: namespaces,
                    }]),
                    ..Default::default()
                }),
                install: install.as_object().filter(|o| !o.is_empty()).cloned(),
                ..Default::default()
            }
        }
    }
}

/// Ingress to `s` from the gateways that route to it, in one form: a rule
/// per gateway and port set (one per port set for the ingress controller,
/// which stands for every gateway).
fn gateway_ingress(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    form: GatewayForm,
) -> Option<Value> {
    let mut rules: BTreeMap<(&str, Vec<u16>), ()> = BTreeMap::new();
    let mut gateways: BTreeSet<&str> = BTreeSet::new();
    for e in m.edges_to(&s.name) {
        if let Source::Gateway(g) = &e.source {
            gateways.insert(g);
            let who = if form == GatewayForm::Ingress {
                ""
            } else {
                g.as_str()
            };
            rules.insert((who, s.target_ports(&e.ports)), ());
        }
    }
    if rules.is_empty() {
        return None;
    }
    let mut v = policy(
        n,
        out,
        &format!("{}-gateways", s.name),
        Some(&s.name),
        &["Ingress"],
    );
    let mut ingress = vec![];
    for (g, ports) in rules.into_keys() {
        let from = gateway_peer(m, n, out, g, form);
        ingress.push(Ingress {
            from: Some(vec![from]),
            ports: Some(ports.into_iter().map(Port::tcp).collect()),
        });
    }
    v.spec.ingress = Some(ingress);
    if form == GatewayForm::Ingress {
        let names = gateways.into_iter().collect::<Vec<_>>().join(",");
        v.metadata["annotations"] = controller_annotations(m, out, &names);
    }
    Some(to_value(&v))
}

/// On a policy admitting the customer's ingress controller, the names
/// `emit::ingress` gives it; with the deprecated list of namespaces, the
/// first is the controller's.
fn controller_annotations(m: &Model, out: &mut Out, gateways: &str) -> Value {
    let ns = format!(
        "(default {} (first {}))",
        super::ingress_controller::namespace_expr(),
        NETWORK_POLICY_GATEWAY_NAMESPACES.expr()
    );
    super::ingress_controller::controller_annotations(m, out, gateways, &ns)
}

fn policy(
    n: &Names,
    out: &mut Out,
    name: &str,
    component: Option<&str>,
    types: &[&'static str],
) -> NetworkPolicy {
    let metadata = n.meta(out, name, component);
    let spec = Spec {
        policy_types: types.to_vec(),
        pod_selector: Selector::labels(n.selector(out, component)),
        ingress: None,
        egress: None,
    };
    NetworkPolicy::new(metadata, spec)
}

fn default_deny(n: &Names, out: &mut Out) -> Value {
    to_value(&policy(
        n,
        out,
        "default-deny",
        None,
        &["Ingress", "Egress"],
    ))
}

/// Every pod resolves names; DNS servers differ by distribution, so port 53
/// is open to any destination.
fn dns(n: &Names, out: &mut Out) -> Value {
    let mut v = policy(n, out, "allow-dns", None, &["Egress"]);
    v.spec.egress = Some(vec![Egress {
        to: None,
        ports: Some(vec![Port::udp(53), Port::tcp(53)]),
    }]);
    to_value(&v)
}

/// Sidecars reach istiod for configuration and certificates (15012).
fn istio(n: &Names, out: &mut Out) -> Value {
    let mut v = policy(n, out, "allow-istiod", None, &["Egress"]);
    let ns = At::scalar(
        out,
        &format!("{} | quote", ISTIO_CONTROL_PLANE_NAMESPACE.expr()),
        ISTIO_CONTROL_PLANE_NAMESPACE.default_text(n.model()),
    );
    v.spec.egress = Some(vec![Egress {
        to: Some(At::Lit(vec![Peer::namespace(ns)])),
        ports: Some(vec![Port::tcp(15012)]),
    }]);
    to_value(&v)
}

/// Ambient: ztunnel carries every connection as HBONE to port 15008 of the
/// destination pod (or its waypoint), so the per-port rules above never
/// match. Release pods may exchange HBONE with each other, their waypoint
/// and the sources the policy names; kubelet probes arrive from ztunnel's
/// link-local address. Which identity reaches which port is then ztunnel's
/// and the waypoint's to enforce.
/// <https://istio.io/latest/docs/ambient/usage/networkpolicy/>
fn hbone(m: &Model, n: &Names, out: &mut Out) -> Value {
    let mut v = policy(n, out, "allow-hbone", None, &["Ingress", "Egress"]);
    let release = Peer::pods(n.selector(out, None));
    let waypoint = Peer::pods(json!({
        "gateway.networking.k8s.io/gateway-name": n.object(out, super::ambient::WAYPOINT)
    }));
    let hbone_port = || Some(vec![Port::tcp(15008)]);
    let mut from = vec![release.clone(), waypoint.clone()];
    let mut outside: Vec<&Source> = m
        .edges
        .iter()
        .map(|e| &e.source)
        .filter(|s| !matches!(s, Source::Service(_) | Source::Version { .. }))
        .collect();
    outside.sort();
    // Every gateway source is one peer (the gateway namespace).
    outside.dedup_by(|a, b| {
        let both_gateways = matches!((&**a, &**b), (Source::Gateway(_), Source::Gateway(_)));
        both_gateways || a == b
    });
    for src in outside {
        from.push(peer(n, out, src));
    }
    v.spec.ingress = Some(vec![
        Ingress {
            from: Some(from),
            ports: hbone_port(),
        },
        Ingress {
            from: Some(vec![Peer::cidr("169.254.7.127/32")]),
            ports: None,
        },
    ]);
    v.spec.egress = Some(vec![Egress {
        to: Some(At::Lit(vec![release, waypoint])),
        ports: hbone_port(),
    }]);
    to_value(&v)
}

/// Sidecars send spans to the collector themselves: let them, to its
/// namespace when it is a cluster Service, else to the egress ranges.
fn tracing(n: &Names, out: &mut Out, tr: &Tracing) -> Value {
    let mut v = policy(n, out, "allow-tracing", None, &["Egress"]);
    let port = At::scalar(out, &tracing::port().expr(), tr.port);
    let to = match &tr.namespace {
        Some(ns) => {
            let ns = At::scalar(
                out,
                &format!("{} | quote", tracing::namespace().expr()),
                ns.clone(),
            );
            At::Lit(vec![Peer::namespace(ns)])
        }
        None => egress_cidrs(n, out),
    };
    v.spec.egress = Some(vec![Egress {
        to: Some(to),
        ports: Some(vec![Port {
            protocol: "TCP",
            port,
        }]),
    }]);
    to_value(&v)
}

/// The chart builds one ipBlock per CIDR in `networkPolicy.egressCIDRs`.
fn egress_cidrs(n: &Names, out: &mut Out) -> At<Vec<Peer>> {
    At::scalar(
        out,
        &format!(
            "include \"{}.ipBlocks\" {}",
            n.app,
            NETWORK_POLICY_EGRESS_CIDRS.expr()
        ),
        vec![Peer::cidr("0.0.0.0/0")],
    )
}

fn ports_of(s: &Service, names: &[String]) -> Vec<Port> {
    s.target_ports(names).into_iter().map(Port::tcp).collect()
}

fn peer(n: &Names, out: &mut Out, src: &Source) -> Peer {
    match src {
        Source::Service(name) => Peer::pods(n.selector(out, Some(name))),
        // One version's pods: the service's selector and the version label
        // its Deployment puts on them (`pod_meta::VERSION_LABEL`).
        Source::Version { service, version } => {
            let mut sel = n.selector(out, Some(service));
            sel[super::pod_meta::VERSION_LABEL] = serde_json::json!(version);
            Peer::pods(sel)
        }
        // Ambient's HBONE rule only (gateway ports are `gateway_ingress`'s):
        // the namespace every gateway form uses.
        Source::Gateway(_) => gateway_namespace(n.model(), out),
        Source::External { namespace, .. } => Peer::namespace(At::Lit(namespace.clone())),
    }
}

/// Everything the service's pods may send and receive at L3/L4, in one
/// NetworkPolicy `<service>-allow`: its callers and Prometheus (on its
/// metrics ports) in, the services and external hosts it calls out. One
/// object for both directions, not one per direction (as until session 17):
/// a policy's `policyTypes` name the directions it isolates and its rules
/// are allowed per direction, independently, so the union is the same
/// (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource>),
/// and a thousand services make a thousand fewer objects for the API
/// server, `helm template` and `kubectl kustomize` (which pays per object).
/// A direction with no rules is left out of `policyTypes`: the release's
/// default deny isolates it already.
fn allow(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Option<Value> {
    let mut ingress = ingress_rules(m, n, out, s);
    // Kept even when the policy names Prometheus's namespace as a caller on
    // the metrics port itself: in the chart the namespace is a value
    // (`metrics.prometheus.namespace`), and the Kustomize tree renders what
    // the chart renders by default.
    ingress.extend(super::metrics::service_rule(n, out, s));
    let egress = egress_rules(m, n, out, s);
    let mut types = vec![];
    if !ingress.is_empty() {
        types.push("Ingress");
    }
    if !egress.is_empty() {
        types.push("Egress");
    }
    if types.is_empty() {
        return None;
    }
    let mut v = policy(n, out, &format!("{}-allow", s.name), Some(&s.name), &types);
    v.spec.ingress = (!ingress.is_empty()).then_some(ingress);
    v.spec.egress = (!egress.is_empty()).then_some(egress);
    Some(to_value(&v))
}

/// The service's callers, one rule per set of ports they may reach
/// (gateways are `gateway_ingress`'s).
fn ingress_rules(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Vec<Ingress> {
    let mut by_ports: BTreeMap<Vec<u16>, Vec<&Source>> = BTreeMap::new();
    for e in m.edges_to(&s.name) {
        if matches!(e.source, Source::Gateway(_)) {
            continue;
        }
        by_ports
            .entry(s.target_ports(&e.ports))
            .or_default()
            .push(&e.source);
    }
    let mut rules = vec![];
    for (ports, mut sources) in by_ports {
        sources.sort();
        sources.dedup();
        let from: Vec<Peer> = sources.iter().map(|src| peer(n, out, src)).collect();
        rules.push(Ingress {
            from: Some(from),
            ports: Some(ports.into_iter().map(Port::tcp).collect()),
        });
    }
    rules
}

/// The services the service calls, one rule per destination, then its
/// external hosts' ports through `networkPolicy.egressCIDRs`.
fn egress_rules(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Vec<Egress> {
    let mut rules = vec![];
    let mut to: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in m.edges_from(&s.name) {
        to.entry(&e.dest)
            .or_default()
            .extend(e.ports.iter().cloned());
    }
    for (dest, names) in to {
        let d = m.service(dest).expect("resolved");
        rules.push(Egress {
            to: Some(At::Lit(vec![Peer::pods(n.selector(out, Some(dest)))])),
            ports: Some(ports_of(d, &names)),
        });
    }
    let mut ext: Vec<u16> = m.egress_from(&s.name).map(|e| e.port).collect();
    ext.sort();
    ext.dedup();
    if !ext.is_empty() {
        let to = egress_cidrs(n, out);
        rules.push(Egress {
            to: Some(to),
            ports: Some(ext.into_iter().map(Port::tcp).collect()),
        });
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ingress_namespaces_default_is_the_handles_helm_reads() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/evalhub.yaml"
        ))
        .unwrap();
        let m = crate::compile_model(&text, None).unwrap();
        // The list is empty by default, so Helm falls back to the ingress
        // controller's namespace: what the Kustomize tree writes.
        assert_eq!(
            NETWORK_POLICY_GATEWAY_NAMESPACES.default(&m),
            Some(json!([]))
        );
        assert_eq!(
            ingress_namespaces_default(&m),
            vec![INGRESS_CONTROLLER_NAMESPACE.default_text(&m)]
        );
        assert_eq!(ingress_namespaces_default(&m), vec!["ingress-nginx"]);
    }

    /// A service named `<x>-from` beside a service `x` gateways reach: its
    /// own policy is `<x>-from-allow`, the one admitting the Ingress
    /// controller to `x` `<x>-from-ingress` (E0208 refused the pair while a
    /// service's ingress policy was `<service>-ingress`).
    #[test]
    fn a_service_named_like_the_ingress_policy_of_another_keeps_its_own_name() {
        let text = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata:\n  name: shop\nspec:\n  version: 1.0.0\n  services:\n    web: {image: example.com/web:1.0, ports: {http: 8080}}\n    web-from: {image: example.com/wf:1.0, ports: {http: 8080}}\n  gateways:\n    public:\n      hosts: [shop.example.com]\n      routes:\n      - {prefix: /, to: web}\n  allow:\n  - {from: gateway/public, to: web}\n  - {from: web, to: web-from}\n";
        let m = crate::compile_model(text, None).unwrap_or_else(|d| panic!("{d:?}"));
        // Name -> the component labels of the objects of that name (the
        // tree holds some objects in several files): one each.
        let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (path, body) in crate::package(&m).kustomize {
            if !path.ends_with(".yaml") || path.contains("/examples/") {
                continue;
            }
            for doc in serde_yaml::Deserializer::from_slice(&body) {
                let v = <Value as serde::Deserialize>::deserialize(doc).unwrap();
                if v["kind"] == "NetworkPolicy" {
                    let component = v["metadata"]["labels"]["app.kubernetes.io/component"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    names
                        .entry(v["metadata"]["name"].as_str().unwrap().to_string())
                        .or_default()
                        .insert(component);
                }
            }
        }
        for (name, components) in &names {
            assert_eq!(components.len(), 1, "{name}: {components:?}");
        }
        let one = |c: &str| BTreeSet::from([c.to_string()]);
        assert_eq!(names["shop-web-allow"], one("web"));
        assert_eq!(names["shop-web-from-allow"], one("web-from"));
        assert_eq!(names["shop-web-from-ingress"], one(""));
    }
}
