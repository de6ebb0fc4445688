//! Istio objects of the release's security: PeerAuthentication,
//! AuthorizationPolicy and Sidecar (the release's file and one per
//! service), with each service's routing rules (`routing`) in its file.
//!
//! Everything here selects the release's own pods (a customer may share the
//! namespace with other software) unless `istio.namespaceWide` is set.

use super::cond::Cond;
use super::identity::{self, lit, val, Identity, Piece};
use super::values::{
    self, ISTIO_CONTROL_PLANE_NAMESPACE, ISTIO_GATEWAY_NAMESPACE, ISTIO_NAMESPACE_WIDE,
};
use super::{
    additions, ambient, guarded, routing, selector, to_value, File, Group, Mode, Names, Out,
};
use crate::istio::authorization_policy::{self as ap, AuthorizationPolicy};
use crate::istio::peer_authentication::{Mtls, PeerAuthentication, PeerAuthenticationSpec};
use crate::istio::sidecar::{EgressListener, OutboundTrafficPolicy, Sidecar, SidecarSpec};
use crate::model::{identity_suffix, Edge, Model, Service, Source};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn wide() -> Cond {
    Cond::is(&ISTIO_NAMESPACE_WIDE)
}

fn dry_run(m: &Model, v: &mut Value) {
    // Istio evaluates and logs dry-run policies but does not enforce them.
    // https://istio.io/latest/docs/tasks/security/authorization/authz-dry-run/
    if m.dry_run {
        v["metadata"]["annotations"] = json!({ "istio.io/dry-run": "true" });
    }
}

/// The release-wide PeerAuthentication and the allow-nothing policy.
pub fn release_file(m: &Model, mode: Mode) -> File {
    let mut f = File::new("istio/release.yaml", Group::Istio, mode);
    let n = Names::new(m);
    let pa_spec = PeerAuthenticationSpec {
        mtls: Some(Mtls {
            mode: m.mtls.as_str().into(),
        }),
        ..Default::default()
    };
    // Namespace-wide: one PeerAuthentication without selector. Otherwise each
    // service gets its own (see `service_file`): two workload-level policies
    // selecting one pod conflict, and Istio would apply only the oldest.
    let mut wide_pa = to_value(&PeerAuthentication::new("", pa_spec));
    wide_pa["metadata"] = n.meta(&mut f.out, "mtls", None);
    wide_pa["spec"]["mtls"]["mode"] = additions::release_mtls(&mut f.out, m.mtls);
    guarded(&mut f, m, &wide(), wide_pa);

    // An ALLOW policy without rules matches nothing: everything not allowed
    // by another policy is denied.
    // https://istio.io/latest/docs/reference/config/security/authorization-policy/#AuthorizationPolicy
    for (wide, when) in [(false, self::wide().not()), (true, self::wide())] {
        let spec = ap::AuthorizationPolicySpec::default();
        let mut v = to_value(&AuthorizationPolicy::new("", spec));
        v["metadata"] = n.meta(&mut f.out, "allow-nothing", None);
        dry_run(m, &mut v);
        if !wide {
            v["spec"]["selector"] = selector(&n, &mut f.out, None);
        }
        guarded(&mut f, m, &when, v);
    }
    if ambient::any_waypoint(m) {
        let v = ambient::waypoint(&n, &mut f.out);
        ambient::only(&mut f, m, true, v);
    }
    f
}

pub fn service_file(m: &Model, s: &Service, mode: Mode) -> File {
    let mut f = File::new(format!("istio/{}.yaml", s.name), Group::Istio, mode);
    f.service = Some(s.name.clone());
    let n = Names::new(m);

    // PeerAuthentication: the service's own when it overrides the release's
    // mode (always rendered), otherwise only when not namespace-wide.
    let overrides = s.mtls.is_some() || !s.port_mtls.is_empty();
    let pa = PeerAuthenticationSpec {
        mtls: Some(Mtls {
            mode: s.mtls.unwrap_or(m.mtls).as_str().into(),
        }),
        port_level_mtls: s
            .port_mtls
            .iter()
            .map(|(p, md)| {
                (
                    *p,
                    Mtls {
                        mode: md.as_str().into(),
                    },
                )
            })
            .collect(),
        ..Default::default()
    };
    let mut v = to_value(&PeerAuthentication::new("", pa));
    if s.mtls.is_none() {
        v["spec"]["mtls"]["mode"] = additions::release_mtls(&mut f.out, m.mtls);
    }
    v["metadata"] = n.meta(&mut f.out, &s.name, Some(&s.name));
    v["spec"]["selector"] = selector(&n, &mut f.out, Some(&s.name));
    if overrides {
        f.push(v);
    } else {
        guarded(&mut f, m, &wide().not(), v);
    }

    let edges: Vec<&Edge> = m.edges_to(&s.name).collect();
    if m.needs_waypoint(&s.name) {
        let v = authorization_policy(m, &n, &mut f.out, s, &edges);
        ambient::only(&mut f, m, false, v);
        for v in ambient_policies(m, &n, &mut f.out, s, &edges) {
            ambient::only(&mut f, m, true, v);
        }
    } else if !edges.is_empty() {
        // L4 rules only: the same policy serves a sidecar and ztunnel.
        let v = authorization_policy(m, &n, &mut f.out, s, &edges);
        f.push(v);
    }
    // Without ports there is no Service: a DestinationRule or
    // VirtualService for its host would name nothing (validate M002).
    if !s.ports.is_empty() {
        let v = routing::destination_rule(m, &n, &mut f.out, s);
        f.push(v);
        if let Some(v) = routing::virtual_service(&n, &mut f.out, s) {
            f.push(v);
        }
    }
    // Ambient has no sidecars to scope; egress is not limited by Istio there.
    let v = sidecar(m, &n, &mut f.out, s);
    ambient::only(&mut f, m, false, v);
    f
}

/// The target ports of `s` an edge names, sorted by number, as Istio writes them.
fn target_ports(s: &Service, names: &[String]) -> Vec<String> {
    s.target_ports(names).iter().map(u16::to_string).collect()
}

/// One rule per distinct operation, listing every source allowed it.
fn rules(m: &Model, n: &Names, out: &mut Out, s: &Service, edges: &[&Edge]) -> Vec<Value> {
    // (ports, methods, paths) -> sources
    type Op = (Vec<String>, Vec<String>, Vec<String>);
    let mut ops: BTreeMap<Op, Vec<&Source>> = BTreeMap::new();
    for e in edges {
        ops.entry((
            target_ports(s, &e.ports),
            e.methods.clone(),
            e.paths.clone(),
        ))
        .or_default()
        .push(&e.source);
    }
    let mut rules = vec![];
    for ((ports, methods, paths), mut sources) in ops {
        sources.sort();
        sources.dedup();
        // `from: reviews` and `from: reviews@v2` in one rule name the
        // same ServiceAccount twice: keep it once (its first place).
        let ids = first_of_each_account(
            sources
                .iter()
                .flat_map(|src| source_identities(m, n, src))
                .collect(),
        );
        let op = ap::Operation {
            ports,
            methods,
            paths,
        };
        let mut rule = to_value(&ap::Rule {
            to: vec![ap::To { operation: op }],
            ..Default::default()
        });
        identity::set_from(out, &mut rule, &ids);
        rules.push(rule);
    }
    rules
}

/// `ids` without the later identities of an account already listed, in
/// order: compared as pieces, not through a formatted key per identity.
fn first_of_each_account(ids: Vec<Identity>) -> Vec<Identity> {
    let mut by_account: Vec<usize> = (0..ids.len()).collect();
    // Stable: the first place of each account comes first among equals.
    by_account.sort_by(|&a, &b| ids[a].account.cmp(&ids[b].account));
    let mut keep = vec![true; ids.len()];
    for w in by_account.windows(2) {
        if ids[w[0]].account == ids[w[1]].account {
            keep[w[1]] = false;
        }
    }
    ids.into_iter()
        .zip(keep)
        .filter_map(|(i, k)| k.then_some(i))
        .collect()
}

/// An ALLOW policy named `<service>[-suffix]`, attached by `attach`
/// (`selector` or `targetRefs`).
fn allow_policy(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    suffix: &str,
    attach: (&str, Value),
    rules: Vec<Value>,
) -> Value {
    let mut v = to_value(&AuthorizationPolicy::new(
        "",
        ap::AuthorizationPolicySpec {
            action: Some("ALLOW".into()),
            ..Default::default()
        },
    ));
    v["metadata"] = n.meta(out, &format!("{}{suffix}", s.name), Some(&s.name));
    dry_run(m, &mut v);
    let mut spec = serde_json::Map::new();
    spec.insert(attach.0.into(), attach.1);
    spec.insert("action".into(), json!("ALLOW"));
    spec.insert("rules".into(), json!(rules));
    v["spec"] = Value::Object(spec);
    v
}

fn authorization_policy(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    edges: &[&Edge],
) -> Value {
    let rules = rules(m, n, out, s, edges);
    let sel = selector(n, out, Some(&s.name));
    allow_policy(m, n, out, s, "", ("selector", sel), rules)
}

/// Ambient: the waypoint's policy on the Service (every rule, callers'
/// identities) and ztunnel's on the pods (the waypoint, and the L4-only rules
/// for callers that address pods directly).
fn ambient_policies(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    edges: &[&Edge],
) -> [Value; 2] {
    let all = rules(m, n, out, s, edges);
    let target = json!([{ "group": "", "kind": "Service", "name": n.host(out, &s.name) }]);
    let at_waypoint = allow_policy(m, n, out, s, "-waypoint", ("targetRefs", target), all);

    let l4: Vec<&Edge> = edges
        .iter()
        .copied()
        .filter(|e| e.paths.is_empty() && e.methods.is_empty())
        .collect();
    let mut at_pods = rules(m, n, out, s, &l4);
    let mut ports: Vec<String> = edges.iter().flat_map(|e| e.ports.iter().cloned()).collect();
    ports.sort();
    ports.dedup();
    let mut rule = to_value(&ap::Rule {
        to: vec![ap::To {
            operation: ap::Operation {
                ports: target_ports(s, &ports),
                ..Default::default()
            },
        }],
        ..Default::default()
    });
    identity::set_from(out, &mut rule, &[ambient::waypoint_identity(n)]);
    at_pods.insert(0, rule);
    let sel = selector(n, out, Some(&s.name));
    let at_pods = allow_policy(m, n, out, s, "", ("selector", sel), at_pods);
    [at_waypoint, at_pods]
}

/// The identities a source's pods run under. A service whose versions are
/// named in some `from:` runs each version under its own ServiceAccount
/// (`model::scoped`): the bare service then stands for all of them, a
/// `service@version` for its own. Istio matches callers by ServiceAccount
/// alone, so this is the only way an AuthorizationPolicy tells versions apart.
/// <https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source>
fn source_identities(m: &Model, n: &Names, src: &Source) -> Vec<Identity> {
    match src {
        Source::Service(name) => m
            .identity_suffixes(name)
            .iter()
            .map(|sfx| Identity::release(n, sfx))
            .collect(),
        Source::Version { service, version } => {
            vec![Identity::release(n, &identity_suffix(service, version))]
        }
        Source::Gateway(name) => {
            let g = m
                .gateways
                .iter()
                .find(|g| &g.name == name)
                .expect("resolved");
            vec![Identity::from_values(
                n,
                (
                    &ISTIO_GATEWAY_NAMESPACE.expr(),
                    &ISTIO_GATEWAY_NAMESPACE.default_text(m),
                ),
                (
                    &values::Gw::new(name).service_account().expr(),
                    &g.service_account,
                ),
            )]
        }
        Source::External {
            namespace,
            service_account,
        } => vec![Identity::fixed(n, namespace, service_account)],
    }
}

/// Each sidecar sees only the services and external hosts it may reach,
/// and `REGISTRY_ONLY` blocks every host not in the mesh's registry.
fn sidecar(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Value {
    // A service without ports has no Service, hence no host.
    let mut dests: Vec<&str> = m
        .edges_from(&s.name)
        .map(|e| e.dest.as_str())
        .filter(|d| m.service(d).is_some_and(|x| !x.ports.is_empty()))
        .collect();
    dests.sort();
    dests.dedup();
    let mut external: Vec<&str> = m.egress_from(&s.name).map(|e| e.host.as_str()).collect();
    external.sort();
    external.dedup();
    let spec = SidecarSpec {
        egress: vec![EgressListener { hosts: vec![] }],
        outbound_traffic_policy: Some(OutboundTrafficPolicy {
            mode: "REGISTRY_ONLY".into(),
        }),
        ..Default::default()
    };
    let mut v = to_value(&Sidecar::new("", spec));
    v["metadata"] = n.meta(out, &s.name, Some(&s.name));
    let before = vec![vec![
        val(
            &ISTIO_CONTROL_PLANE_NAMESPACE.expr(),
            &ISTIO_CONTROL_PLANE_NAMESPACE.default_text(m),
        ),
        lit("/*"),
    ]];
    let mut after: Vec<Vec<Piece>> = external
        .iter()
        .map(|h| vec![lit(format!("./{h}"))])
        .collect();
    // Envoy sends spans to the collector itself: it must be visible.
    // The collector's address is a value: the operator may move it.
    if let Some(tr) = m.telemetry.as_ref().and_then(|t| t.tracing.as_ref()) {
        let host = match &tr.namespace {
            Some(ns) => vec![
                val(&values::tracing::namespace().expr(), ns),
                lit("/"),
                val(&values::tracing::host().expr(), &tr.host),
            ],
            None => vec![lit("*/"), val(&values::tracing::host().expr(), &tr.host)],
        };
        after.push(host);
    }
    let mut spec = json!({ "workloadSelector": { "labels": n.selector(out, Some(&s.name)) } });
    identity::set_sidecar_egress(n, out, &mut spec, &before, &dests, &after);
    additions::sidecar_hosts(out, &spec, &s.name);
    spec["outboundTrafficPolicy"] = json!({ "mode": "REGISTRY_ONLY" });
    v["spec"] = spec;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(account: &[Piece], tag: &str) -> Identity {
        Identity {
            principal: vec![lit(tag)],
            account: account.to_vec(),
            release_suffix: None,
        }
    }

    #[test]
    fn an_account_is_kept_once_at_its_first_place() {
        let a = [val("$x", "a"), lit("-api")];
        let b = [lit("ns/b")];
        let c = [val("$x", "a"), lit("-web")];
        let kept = first_of_each_account(vec![
            id(&c, "c1"),
            id(&a, "a1"),
            id(&c, "c2"),
            id(&b, "b1"),
            id(&a, "a2"),
            id(&a, "a3"),
        ]);
        let got: Vec<(Vec<Piece>, Vec<Piece>)> =
            kept.into_iter().map(|i| (i.account, i.principal)).collect();
        assert_eq!(
            got,
            vec![
                (c.to_vec(), vec![lit("c1")]),
                (a.to_vec(), vec![lit("a1")]),
                (b.to_vec(), vec![lit("b1")]),
            ]
        );
        assert!(first_of_each_account(vec![]).is_empty());
    }

    /// A literal and a value of the same text stay two accounts, as they
    /// were when the key was the formatted pieces.
    #[test]
    fn a_literal_and_a_value_of_the_same_text_are_two_accounts() {
        let kept = first_of_each_account(vec![id(&[lit("a")], "lit"), id(&[val("a", "a")], "val")]);
        let tags: Vec<Vec<Piece>> = kept.into_iter().map(|i| i.principal).collect();
        assert_eq!(tags, vec![vec![lit("lit")], vec![lit("val")]]);
    }
}
