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
    let hash = Sha256::digest(host.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", s[..31].trim_end_matches('-'))
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
    for e in m.egress.iter().filter(|e| e.service.is_none()) {
        let proto = istio_protocol(e.protocol);
        let wildcard = e.host.starts_with('*');
        let spec = ServiceEntrySpec {
            hosts: vec![e.host.clone()],
            ports: vec![ServicePort {
                number: e.port,
                name: format!("{}-{}", proto.to_ascii_lowercase(), e.port),
                protocol: proto.into(),
                target_port: None,
            }],
            location: "MESH_EXTERNAL".into(),
            // DNS cannot resolve a wildcard; NONE forwards to the address the
            // application resolved itself (TLS routes by SNI).
            resolution: if wildcard { "NONE" } else { "DNS" }.into(),
            workload_selector: None,
            export_to: vec![".".into()],
        };
        let mut v = to_value(&ServiceEntry::new("", spec));
        let slug = format!("egress-{}", host_slug(&e.host));
        v["metadata"] = n.meta(&mut f.out, &slug, None);
        f.push(v);
    }
    f
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
