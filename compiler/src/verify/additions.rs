//! The customer's install-time additions (`extraSources`, `extraEgress`;
//! docs/additions.md) on the intent side of `verify`: read from the
//! merged values files (`verify --values`, `verify::values`) or from the
//! `meshpack.dev/addition` annotation the chart puts on each addition's
//! objects (`--additions-from-manifests`), and folded into the model's
//! edges and egress list so the comparison covers the customer's install.
//!
//! Invariant: the evaluators never see this module; it widens only what is
//! intended, and names the extra probes (an addition's namespace, CIDR or
//! host) so an addition the intent does not know is reported, not missed.
//! ipBlock sources are not probed: verify's sources carry no address.

use super::{Dest, Rendered, Source};
use crate::model::{self, Model, Protocol};
use serde_json::Value;
use std::collections::BTreeSet;

/// The annotation on every object an addition renders: the item as JSON,
/// under its list's name (`{"extraSources": {...}}`).
pub const ANNOTATION: &str = "meshpack.dev/addition";

/// The ServiceAccount of a source that names only a namespace: any.
pub const ANY_SERVICE_ACCOUNT: &str = "*";

/// The host a CIDR destination goes by (the chart's `extraEgressHost`).
pub fn cidr_host(cidr: &str) -> String {
    format!("{}.cidr.meshpack.invalid", cidr.replace(['.', '/'], "-"))
}

/// The first address of the range a `cidr_host` names, to probe it with.
pub fn cidr_probe_ip(host: &str) -> Option<[u8; 4]> {
    let dashed = host.strip_suffix(".cidr.meshpack.invalid")?;
    let parts: Vec<u8> = dashed
        .split('-')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match parts.as_slice() {
        [a, b, c, d, _] => Some([*a, *b, *c, *d]),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Additions {
    pub sources: Vec<ExtraSource>,
    pub egress: Vec<ExtraEgress>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraSource {
    /// `None` for an ipBlock source.
    pub namespace: Option<String>,
    pub service_account: Option<String>,
    pub services: Vec<String>,
    /// Target ports; empty: every port of the services.
    pub ports: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraEgress {
    /// The ServiceEntry host (`cidr_host` for a range).
    pub host: String,
    pub port: u16,
    pub services: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn port(v: &Value) -> Option<u16> {
    v.as_f64()
        .filter(|p| *p >= 1.0 && *p <= 65535.0 && p.fract() == 0.0)
        .map(|p| p as u16)
}

fn source(item: &Value) -> Result<ExtraSource, String> {
    let ports = match item.get("ports") {
        None | Some(Value::Null) => vec![],
        Some(p) => p
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| port(x).ok_or_else(|| format!("port {x} is not 1-65535")))
            .collect::<Result<_, _>>()?,
    };
    let namespace = item["namespace"].as_str().map(str::to_string);
    if namespace.is_none() && item["ipBlock"].as_str().is_none() {
        return Err("an extraSources item needs `namespace` or `ipBlock`".into());
    }
    Ok(ExtraSource {
        namespace,
        service_account: item["serviceAccount"].as_str().map(str::to_string),
        services: strings(&item["services"]),
        ports,
    })
}

fn egress(item: &Value) -> Result<ExtraEgress, String> {
    let host = match (item["host"].as_str(), item["cidr"].as_str()) {
        (Some(h), None) => h.to_string(),
        (None, Some(c)) => cidr_host(c),
        _ => return Err("an extraEgress item needs one of `host` and `cidr`".into()),
    };
    Ok(ExtraEgress {
        host,
        port: port(&item["port"]).ok_or("an extraEgress item needs a `port` of 1-65535")?,
        services: strings(&item["services"]),
    })
}

/// The additions of merged values.
pub fn from_values(values: &Value) -> Result<Additions, String> {
    let mut a = Additions::default();
    for (i, item) in values["extraSources"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        a.sources
            .push(source(item).map_err(|e| format!("extraSources[{i}]: {e}"))?);
    }
    for (i, item) in values["extraEgress"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        a.egress
            .push(egress(item).map_err(|e| format!("extraEgress[{i}]: {e}"))?);
    }
    Ok(a)
}

/// The items the rendered objects carry in their annotation, each once.
fn annotated(set: &Rendered) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut sources, mut egress) = (BTreeSet::new(), BTreeSet::new());
    for o in &set.objects {
        let Some(note) = o.value["metadata"]["annotations"][ANNOTATION].as_str() else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(note) else {
            continue;
        };
        if let Some(x) = v.get("extraSources") {
            sources.insert(x.to_string());
        }
        if let Some(x) = v.get("extraEgress") {
            egress.insert(x.to_string());
        }
    }
    (sources, egress)
}

/// The additions as the rendered objects describe them.
pub fn from_manifests(set: &Rendered) -> Result<Additions, String> {
    let (sources, egress) = annotated(set);
    let mut values = serde_json::json!({ "extraSources": [], "extraEgress": [] });
    for s in sources {
        let v: Value = serde_json::from_str(&s).expect("re-read");
        values["extraSources"].as_array_mut().expect("list").push(v);
    }
    for e in egress {
        let v: Value = serde_json::from_str(&e).expect("re-read");
        values["extraEgress"].as_array_mut().expect("list").push(v);
    }
    from_values(&values)
}

/// Extra probes for the additions the rendered objects carry: each
/// source's identity (`<namespace>/*` for a whole namespace; NetworkPolicies
/// alone name no ServiceAccount, so nothing else would probe it), a
/// destination for each extra host. Whether they are allowed is the evaluators' to say.
pub fn probes(set: &Rendered) -> (Vec<Source>, Vec<Dest>) {
    let Ok(a) = from_manifests(set) else {
        return (vec![], vec![]);
    };
    let mut sources = BTreeSet::new();
    for s in &a.sources {
        if let Some(ns) = &s.namespace {
            sources.insert(Source::Identity {
                namespace: ns.clone(),
                service_account: s
                    .service_account
                    .clone()
                    .unwrap_or_else(|| ANY_SERVICE_ACCOUNT.into()),
            });
        }
    }
    let dests: BTreeSet<Dest> = a
        .egress
        .iter()
        .map(|e| Dest::External {
            host: e.host.clone(),
            port: e.port,
        })
        .collect();
    (sources.into_iter().collect(), dests.into_iter().collect())
}

/// Widen the model's intent by the additions. Unknown services or ports
/// are errors: the chart's schema would have refused them.
pub fn fold(m: &mut Model, a: &Additions) -> Result<(), String> {
    let names: Vec<String> = m.services.iter().map(|s| s.name.clone()).collect();
    let unknown = |list: &str, name: &str| {
        format!(
            "{list} names service `{name}`, which the policy does not have (its services: {}); the chart's schema refuses it too",
            names.join(", ")
        )
    };
    for s in &a.sources {
        let Some(namespace) = &s.namespace else {
            continue; // ipBlock: not probed (see the module comment)
        };
        for name in &s.services {
            let svc = m
                .service(name)
                .ok_or_else(|| unknown("extraSources", name))?;
            let mut ports = vec![];
            for p in &svc.ports {
                if s.ports.is_empty() || s.ports.contains(&p.target_port) {
                    ports.push(p.name.clone());
                }
            }
            for p in &s.ports {
                if !svc.ports.iter().any(|x| x.target_port == *p) {
                    let mut have: Vec<u16> = svc.ports.iter().map(|x| x.target_port).collect();
                    have.sort();
                    let have: Vec<String> = have.iter().map(u16::to_string).collect();
                    return Err(format!(
                        "extraSources: service `{name}` has no port {p} (its ports: {}); the chart refuses it too",
                        have.join(", ")
                    ));
                }
            }
            if ports.is_empty() {
                continue;
            }
            m.edges.push(model::Edge {
                source: model::Source::External {
                    namespace: namespace.clone(),
                    service_account: s
                        .service_account
                        .clone()
                        .unwrap_or_else(|| ANY_SERVICE_ACCOUNT.into()),
                },
                dest: name.clone(),
                ports,
                paths: vec![],
                methods: vec![],
            });
        }
    }
    for e in &a.egress {
        for name in &e.services {
            if m.service(name).is_none() {
                return Err(unknown("extraEgress", name));
            }
        }
        m.egress.push(model::Egress {
            host: e.host.clone(),
            port: e.port,
            protocol: Protocol::Tcp,
            from: e.services.clone(),
            service: None,
        });
    }
    // The lookups (edges into a service, its flags) must see the new edges.
    m.reindex();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_read_field_by_field() {
        let a = from_values(&json!({
            "extraSources": [
                {"namespace": "monitoring", "serviceAccount": "prometheus", "services": ["api"], "ports": [9090]},
                {"ipBlock": "10.0.0.0/8", "services": ["api"]},
            ],
            "extraEgress": [{"cidr": "10.20.0.0/16", "port": 5432, "services": ["api"]}],
        }))
        .unwrap();
        assert_eq!(
            a.sources[0],
            ExtraSource {
                namespace: Some("monitoring".into()),
                service_account: Some("prometheus".into()),
                services: vec!["api".into()],
                ports: vec![9090],
            }
        );
        assert_eq!(a.sources[1].namespace, None);
        assert_eq!(a.sources[1].ports, Vec::<u16>::new());
        assert_eq!(
            a.egress[0],
            ExtraEgress {
                host: "10-20-0-0-16.cidr.meshpack.invalid".into(),
                port: 5432,
                services: vec!["api".into()],
            }
        );
        assert_eq!(cidr_probe_ip(&a.egress[0].host), Some([10, 20, 0, 0]));
        assert_eq!(cidr_probe_ip("api.example.com"), None);
        let bad = from_values(&json!({"extraEgress": [{"host": "x.example.com", "port": 70000}]}));
        assert_eq!(
            bad,
            Err("extraEgress[0]: an extraEgress item needs a `port` of 1-65535".to_string())
        );
    }

    const POLICY: &str = "apiVersion: meshpack.dev/v1alpha1\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 1.0.0\n  services:\n    api: {image: registry.example.com/shop/api:1.0.0, ports: {http: 8080, grpc: 9090}}\n";

    #[test]
    fn fold_widens_edges_and_egress() {
        let mut m = crate::compile_model(POLICY, None).unwrap();
        let a = from_values(&json!({
            "extraSources": [{"namespace": "backup", "services": ["api"], "ports": [9090]}],
            "extraEgress": [{"host": "s3.example.com", "port": 443, "services": ["api"]}],
        }))
        .unwrap();
        fold(&mut m, &a).unwrap();
        assert_eq!(
            m.edges.last(),
            Some(&model::Edge {
                source: model::Source::External {
                    namespace: "backup".into(),
                    service_account: "*".into(),
                },
                dest: "api".into(),
                ports: vec!["grpc".into()],
                paths: vec![],
                methods: vec![],
            })
        );
        assert_eq!(
            m.egress.last(),
            Some(&model::Egress {
                host: "s3.example.com".into(),
                port: 443,
                protocol: Protocol::Tcp,
                from: vec!["api".into()],
                service: None,
            })
        );
        // The model's lookups see what was folded in (the index is rebuilt).
        let into: Vec<&model::Edge> = m.edges_to("api").collect();
        assert_eq!(into, [m.edges.last().unwrap()]);
        let out: Vec<&str> = m.egress_from("api").map(|e| e.host.as_str()).collect();
        assert_eq!(out, ["s3.example.com"]);
        let bad = from_values(&json!({"extraSources": [{"namespace": "x", "services": ["web"]}]}))
            .unwrap();
        assert_eq!(
            fold(&mut m, &bad),
            Err("extraSources names service `web`, which the policy does not have (its services: api); the chart's schema refuses it too".to_string())
        );
        let bad = from_values(
            &json!({"extraSources": [{"namespace": "x", "services": ["api"], "ports": [5432]}]}),
        )
        .unwrap();
        assert_eq!(
            fold(&mut m, &bad),
            Err("extraSources: service `api` has no port 5432 (its ports: 8080, 9090); the chart refuses it too".to_string())
        );
    }
}
