//! Hosts outside the cluster: the `egress` list (one ServiceEntry per host)
//! and external services (a ServiceEntry per service; for a VM joined to
//! the mesh, a WorkloadEntry, its ServiceAccount, mTLS to it and an
//! AuthorizationPolicy on it).
//! <https://istio.io/latest/docs/reference/config/networking/service-entry/>
//! <https://istio.io/latest/docs/tasks/traffic-management/egress/egress-tls-origination/>

use super::{to_value, File, Group, Mode, Names, Out};
use crate::istio::authorization_policy::{self as ap, AuthorizationPolicy};
use crate::istio::destination_rule::{
    ClientTls, DestinationRule, DestinationRuleSpec, PortNumber, PortTrafficPolicy, TrafficPolicy,
};
use crate::istio::service_entry::{Labels, ServiceEntry, ServiceEntrySpec, ServicePort};
use crate::istio::workload_entry::{WorkloadEntry, WorkloadEntrySpec};
use crate::model::{External, Model, Protocol};
use k8s_openapi::api::core::v1::ServiceAccount;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub fn files(m: &Model, mode: Mode) -> Vec<File> {
    let mut files = vec![];
    if m.egress.iter().any(|e| e.service.is_none()) {
        files.push(egress_file(m, mode));
    }
    for x in &m.externals {
        files.push(external_file(m, x, mode));
    }
    files
}

/// `*.s3.amazonaws.com` -> `wildcard-s3-amazonaws-com`, short enough for a name.
pub fn host_slug(host: &str) -> String {
    let s = host.replace("*.", "wildcard.").replace('.', "-");
    if s.len() <= 40 {
        return s;
    }
    hashed_slug(host)
}

/// The slug's first 31 characters and 8 hex digits of the host's SHA-256.
fn hashed_slug(host: &str) -> String {
    let s = host.replace("*.", "wildcard.").replace('.', "-");
    let hash = Sha256::digest(host.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let cut = s.len().min(31);
    format!("{}-{hex}", s[..cut].trim_end_matches('-'))
}

/// The ServiceEntry name of a protocol.
fn istio_protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tls => "TLS",
        Protocol::Https => "HTTPS",
        Protocol::Http => "HTTP",
        Protocol::Http2 => "HTTP2",
        Protocol::Grpc => "GRPC",
        Protocol::GrpcWeb => "HTTP",
        Protocol::Mongo => "MONGO",
        Protocol::Mysql => "MYSQL",
        Protocol::Redis => "REDIS",
        Protocol::Tcp => "TCP",
    }
}

fn egress_file(m: &Model, mode: Mode) -> File {
    let mut f = File::new("istio/egress.yaml", Group::Istio, mode);
    let n = Names::new(m);
    // One ServiceEntry per host, with every port the `egress` list gives
    // it: one per entry named two objects `egress-<host>` when a host had
    // two ports (the model refuses one port with two protocols).
    let mut hosts: Vec<(&str, Vec<(u16, Protocol)>)> = vec![];
    let mut at: BTreeMap<&str, usize> = BTreeMap::new();
    for e in m.egress.iter().filter(|e| e.service.is_none()) {
        let i = *at.entry(e.host.as_str()).or_insert_with(|| {
            hosts.push((e.host.as_str(), vec![]));
            hosts.len() - 1
        });
        let ports = &mut hosts[i].1;
        if !ports.iter().any(|(p, _)| *p == e.port) {
            ports.push((e.port, e.protocol));
        }
    }
    let slugs = egress_slugs(hosts.iter().map(|(h, _)| *h));
    for ((host, mut ports), slug) in hosts.into_iter().zip(slugs) {
        ports.sort_by_key(|(p, _)| *p);
        let wildcard = host.starts_with('*');
        let spec = ServiceEntrySpec {
            hosts: vec![host.to_string()],
            ports: ports
                .into_iter()
                .map(|(port, protocol)| {
                    let proto = istio_protocol(protocol);
                    ServicePort {
                        number: port,
                        name: format!("{}-{}", proto.to_ascii_lowercase(), port),
                        protocol: proto.into(),
                        target_port: None,
                    }
                })
                .collect(),
            location: "MESH_EXTERNAL".into(),
            // DNS cannot resolve a wildcard; NONE forwards to the address the
            // application resolved itself (TLS routes by SNI).
            resolution: if wildcard { "NONE" } else { "DNS" }.into(),
            workload_selector: None,
            export_to: vec![".".into()],
        };
        let mut v = to_value(&ServiceEntry::new("", spec));
        v["metadata"] = n.meta(&mut f.out, &format!("egress-{slug}"), None);
        f.push(v);
    }
    f
}

/// Each host's [`host_slug`], or, where two hosts share one (`a-b.example.com`
/// and `a.b-example.com` both make `a-b-example-com`), the form with a hash
/// of the host for each of them, so that no two ServiceEntries share a name.
fn egress_slugs<'h>(hosts: impl Iterator<Item = &'h str>) -> Vec<String> {
    let hosts: Vec<&str> = hosts.collect();
    let slugs: Vec<String> = hosts.iter().map(|h| host_slug(h)).collect();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &slugs {
        *count.entry(s.as_str()).or_default() += 1;
    }
    hosts
        .iter()
        .zip(&slugs)
        .map(|(h, s)| {
            if count[s.as_str()] > 1 {
                hashed_slug(h)
            } else {
                s.clone()
            }
        })
        .collect()
}

/// Labels of a VM's WorkloadEntry: the release's selector labels, so that
/// the release-wide allow-nothing policy covers it like any pod.
fn vm_labels(n: &Names, x: &External) -> BTreeMap<String, String> {
    n.selector_map(Some(&x.name))
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn external_file(m: &Model, x: &External, mode: Mode) -> File {
    let mut f = File::new(
        format!("istio/external-{}.yaml", x.name),
        Group::Istio,
        mode,
    );
    let n = Names::new(m);
    let vm = x.address.is_some();
    let spec = ServiceEntrySpec {
        hosts: vec![x.host.clone()],
        ports: x
            .ports
            .iter()
            .map(|p| ServicePort {
                number: p.port,
                name: p.name.clone(),
                protocol: istio_protocol(p.protocol).into(),
                target_port: (p.target_port != p.port).then_some(p.target_port),
            })
            .collect(),
        location: if vm { "MESH_INTERNAL" } else { "MESH_EXTERNAL" }.into(),
        resolution: if vm { "STATIC" } else { "DNS" }.into(),
        workload_selector: vm.then(|| Labels {
            labels: vm_labels(&n, x),
        }),
        export_to: vec![".".into()],
    };
    let mut se = to_value(&ServiceEntry::new("", spec));
    se["metadata"] = n.meta(&mut f.out, &x.name, Some(&x.name));
    if vm {
        selector_labels(
            &n,
            &mut f.out,
            &mut se["spec"]["workloadSelector"]["labels"],
            x,
        );
    }
    f.push(se);

    if let Some(address) = &x.address {
        let mut sa = to_value(&ServiceAccount {
            automount_service_account_token: Some(false),
            ..Default::default()
        });
        sa["metadata"] = n.meta(&mut f.out, &x.name, Some(&x.name));
        f.push(sa);

        let mut we = to_value(&WorkloadEntry::new(
            "",
            WorkloadEntrySpec {
                address: address.clone(),
                labels: vm_labels(&n, x),
                service_account: n.plain(&x.name),
            },
        ));
        we["metadata"] = n.meta(&mut f.out, &x.name, Some(&x.name));
        selector_labels(&n, &mut f.out, &mut we["spec"]["labels"], x);
        we["spec"]["serviceAccount"] = n.object(&mut f.out, &x.name);
        f.push(we);

        let ap = vm_authorization(m, &n, &mut f.out, x);
        f.push(ap);
    }
    if let Some(dr) = destination_rule(&n, &mut f.out, x) {
        f.push(dr);
    }
    f
}

fn selector_labels(n: &Names, out: &mut Out, at: &mut Value, x: &External) {
    *at = n.selector(out, Some(&x.name));
}

/// mTLS to a VM in the mesh; TLS origination to an outside host.
fn destination_rule(n: &Names, out: &mut Out, x: &External) -> Option<Value> {
    let traffic_policy = if x.address.is_some() {
        TrafficPolicy {
            tls: Some(ClientTls {
                mode: "ISTIO_MUTUAL".into(),
                sni: None,
            }),
            ..Default::default()
        }
    } else if x.originate_tls {
        TrafficPolicy {
            port_level_settings: x
                .ports
                .iter()
                .map(|p| PortTrafficPolicy {
                    port: PortNumber { number: p.port },
                    tls: Some(ClientTls {
                        mode: "SIMPLE".into(),
                        sni: Some(x.host.clone()),
                    }),
                })
                .collect(),
            ..Default::default()
        }
    } else {
        return None;
    };
    let mut v = to_value(&DestinationRule::new(
        "",
        DestinationRuleSpec {
            host: x.host.clone(),
            traffic_policy: Some(traffic_policy),
            subsets: vec![],
            export_to: vec![".".into()],
        },
    ));
    v["metadata"] = n.meta(out, &x.name, Some(&x.name));
    Some(v)
}

/// The VM's sidecar admits exactly the services allowed to it, per port.
fn vm_authorization(m: &Model, n: &Names, out: &mut Out, x: &External) -> Value {
    let mut rules = vec![];
    for e in m
        .egress
        .iter()
        .filter(|e| e.service.as_deref() == Some(&x.name))
    {
        let Some(p) = x.ports.iter().find(|p| p.port == e.port) else {
            continue;
        };
        let ids: Vec<super::identity::Identity> = e
            .from
            .iter()
            .filter_map(|s| m.service(s))
            .map(|s| super::identity::Identity::release(n, &s.name))
            .collect();
        let mut rule = to_value(&ap::Rule {
            to: vec![ap::To {
                operation: ap::Operation {
                    ports: vec![p.target_port.to_string()],
                    ..Default::default()
                },
            }],
            ..Default::default()
        });
        super::identity::set_from(out, &mut rule, &ids);
        rules.push(rule);
    }
    let mut v = to_value(&AuthorizationPolicy::new(
        "",
        ap::AuthorizationPolicySpec::default(),
    ));
    v["metadata"] = n.meta(out, &x.name, Some(&x.name));
    v["spec"] = json!({
        "selector": { "matchLabels": n.selector(out, Some(&x.name)) },
        "action": "ALLOW",
        "rules": rules,
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 1.0.0\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n    api: {image: 'r.example.com/api:1', ports: {http: 9000}}\n  egress:\n    - {host: api.example.com, port: 8443, from: web}\n    - {host: api.example.com, port: 443, from: web}\n    - {host: api.example.com, port: 443, from: api}\n    - {host: a-b.example.com, port: 443, from: web}\n    - {host: a.b-example.com, port: 443, protocol: HTTPS, from: web}\n";

    #[test]
    fn one_service_entry_per_host_and_no_two_with_one_name() {
        let m = crate::compile_model(POLICY, None).unwrap();
        let f = egress_file(&m, Mode::Plain);
        let got: Vec<(String, &Value, &Value)> = f
            .docs
            .iter()
            .map(|d| {
                (
                    d.value["metadata"]["name"].to_string(),
                    &d.value["spec"]["hosts"],
                    &d.value["spec"]["ports"],
                )
            })
            .collect();
        let port = |n: u16, p: &str| json!({"number": n, "name": format!("{}-{n}", p.to_ascii_lowercase()), "protocol": p});
        // The hosts in the order of the `egress` list; one host's entries
        // make one ServiceEntry with its ports in order, a repeated port once.
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].1, &json!(["api.example.com"]));
        assert_eq!(got[0].2, &json!([port(443, "TLS"), port(8443, "TCP")]));
        assert_eq!(got[1].1, &json!(["a-b.example.com"]));
        assert_eq!(got[1].2, &json!([port(443, "TLS")]));
        assert_eq!(got[2].1, &json!(["a.b-example.com"]));
        assert_eq!(got[2].2, &json!([port(443, "HTTPS")]));
        assert!(got[0].0.contains("egress-api-example-com"), "{}", got[0].0);
        // `a-b.example.com` and `a.b-example.com` share a slug: each gets
        // a hash of its own host instead.
        assert_eq!(
            egress_slugs(["a-b.example.com", "a.b-example.com", "x.example.com"].into_iter()),
            [
                hashed_slug("a-b.example.com"),
                hashed_slug("a.b-example.com"),
                "x-example-com".to_string()
            ]
        );
        assert_ne!(
            hashed_slug("a-b.example.com"),
            hashed_slug("a.b-example.com")
        );
        assert!(
            got[1].0.contains(&hashed_slug("a-b.example.com")),
            "{}",
            got[1].0
        );
        assert!(
            got[2].0.contains(&hashed_slug("a.b-example.com")),
            "{}",
            got[2].0
        );
    }
}
