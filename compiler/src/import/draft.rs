//! The draft policy as text: attach-mode services with their ports, then
//! one allow rule per (caller, Service) pair with the evidence quoted
//! above it, then what was not drafted and why.

use super::evidence::{Evidence, Found, Unresolved};
use super::manifests::{Input, Inventory, PortInfo, WorkloadInfo};
use crate::model::Protocol;
use std::collections::BTreeMap;

/// One drafted allow rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Policy service names.
    pub from: String,
    pub to: String,
    /// Port names of `to`; empty = every port.
    pub ports: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// What `import` found, and the policy text.
#[derive(Debug)]
pub struct Draft {
    pub name: String,
    /// Policy service name -> the workload it attaches.
    pub services: Vec<(String, WorkloadInfo)>,
    pub rules: Vec<Rule>,
    pub unresolved: Vec<Unresolved>,
    /// Evidence naming a Service whose port it names does not exist.
    pub wrong_port: Vec<Evidence>,
    pub text: String,
}

/// A port name Istio reads the protocol from and the policy accepts (an
/// IANA service name); `tcp-<port>` when the Service's is not one.
fn port_name(p: &PortInfo) -> String {
    let ok = !p.name.is_empty()
        && p.name.len() <= 15
        && p.name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && p.name.chars().any(|c| c.is_ascii_lowercase())
        && !p.name.starts_with('-')
        && !p.name.ends_with('-')
        && !p.name.contains("--");
    if ok {
        p.name.clone()
    } else {
        format!("tcp-{}", p.port)
    }
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

/// A comment line's text, on one line.
fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > 120 {
        format!("{}...", s.chars().take(117).collect::<String>())
    } else {
        s
    }
}

pub fn draft(inv: &Inventory, found: &Found, name: &str, input: &Input) -> Draft {
    // Policy service names: the workload's name (one workload per name).
    let mut services: Vec<(String, WorkloadInfo)> = vec![];
    for w in &inv.workloads {
        if services.iter().any(|(n, _)| *n == w.name) {
            continue;
        }
        services.push((w.name.clone(), w.clone()));
    }
    let policy_name_of_service = |svc: &str| -> Option<&str> {
        services
            .iter()
            .find(|(_, w)| w.service.as_ref().is_some_and(|s| s.name == svc))
            .map(|(n, _)| n.as_str())
    };
    let mut rules: BTreeMap<(String, String), Rule> = BTreeMap::new();
    let mut wrong_port = vec![];
    let mut unresolved = found.unresolved.clone();
    for e in &found.evidence {
        let Some(to) = policy_name_of_service(&e.service) else {
            // A Service selecting no workload of the input.
            unresolved.push(Unresolved {
                from: e.from.clone(),
                host: e.service.clone(),
                port: e.port,
                place: e.place.clone(),
                text: e.text.clone(),
                file: e.file.clone(),
            });
            continue;
        };
        let w = &services.iter().find(|(n, _)| n == to).expect("found").1;
        let ports = &w.service.as_ref().expect("has a Service").ports;
        let port = match e.port {
            Some(p) => match ports.iter().find(|x| x.port == p) {
                Some(x) => Some(port_name(x)),
                None => {
                    wrong_port.push(e.clone());
                    continue;
                }
            },
            None => None,
        };
        let r = rules
            .entry((e.from.clone(), to.to_string()))
            .or_insert_with(|| Rule {
                from: e.from.clone(),
                to: to.to_string(),
                ports: vec![],
                evidence: vec![],
            });
        match port {
            Some(p) => {
                if !r.ports.contains(&p) {
                    r.ports.push(p);
                }
            }
            // An address without a port allows every port: remember with a marker.
            None => r.ports.push("*".into()),
        }
        r.evidence.push(e.clone());
    }
    let mut rules: Vec<Rule> = rules.into_values().collect();
    for r in &mut rules {
        if r.ports.iter().any(|p| p == "*") {
            r.ports.clear();
        } else {
            r.ports.sort();
        }
    }
    unresolved.sort();
    unresolved.dedup();
    let text = write(name, &services, &rules, &unresolved, &wrong_port, input);
    Draft {
        name: name.to_string(),
        services,
        rules,
        unresolved,
        wrong_port,
        text,
    }
}

fn write(
    name: &str,
    services: &[(String, WorkloadInfo)],
    rules: &[Rule],
    unresolved: &[Unresolved],
    wrong_port: &[Evidence],
    input: &Input,
) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "# Drafted by `meshpack import` from {}.\n",
        one_line(&input.describe())
    ));
    t.push_str("# A draft: every rule below quotes the evidence it was drafted from. Review it,\n");
    t.push_str("# add the calls the manifests do not show, then `meshpack compile` it.\n");
    t.push_str(&format!(
        "apiVersion: {}\nkind: MeshPolicy\nmetadata:\n",
        crate::policy::POLICY_API_VERSION
    ));
    t.push_str(&format!("  name: {name}\nspec:\n"));
    let version = input.chart_version().unwrap_or_else(|| "0.1.0".into());
    t.push_str(&format!("  version: {}\n", yaml_str(&version)));
    t.push_str("  services:\n");
    for (n, w) in services {
        t.push_str(&format!(
            "    # {} {} ({})\n",
            w.kind,
            w.name,
            one_line(&w.file)
        ));
        t.push_str(&format!("    {n}:\n"));
        let mut attach = vec![];
        if w.kind != "Deployment" || w.name != *n {
            attach.push(format!(
                "workload: {{kind: {}, name: {}}}",
                w.kind,
                yaml_str(&w.name)
            ));
        }
        let selector = match &w.service {
            Some(s) => s.selector.clone(),
            None => w.pod_labels.clone(),
        };
        if selector != vec![("app".to_string(), n.clone())] {
            let kv: Vec<String> = selector
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_str(k), yaml_str(v)))
                .collect();
            attach.push(format!("selector: {{{}}}", kv.join(", ")));
        }
        if w.service_account != *n {
            attach.push(format!("serviceAccount: {}", yaml_str(&w.service_account)));
        }
        if let Some(s) = &w.service {
            if s.name != *n {
                attach.push(format!("service: {}", yaml_str(&s.name)));
            }
        }
        t.push_str(&format!("      attach: {{{}}}\n", attach.join(", ")));
        match &w.service {
            Some(s) if !s.ports.is_empty() => {
                t.push_str("      ports:\n");
                for p in &s.ports {
                    let pname = port_name(p);
                    let by_name = Protocol::from_port_name(&pname);
                    let app = p.app_protocol.as_deref().and_then(Protocol::parse);
                    let protocol = app.filter(|a| *a != by_name);
                    if p.target_port == p.port && protocol.is_none() {
                        t.push_str(&format!("        {pname}: {}\n", p.port));
                    } else {
                        let mut long = format!("port: {}", p.port);
                        if p.target_port != p.port {
                            long.push_str(&format!(", targetPort: {}", p.target_port));
                        }
                        if let Some(pr) = protocol {
                            long.push_str(&format!(", protocol: {}", pr.as_str()));
                        }
                        t.push_str(&format!("        {pname}: {{{long}}}\n"));
                    }
                }
            }
            Some(s) => t.push_str(&format!("      # Service {} declares no ports.\n", s.name)),
            None => t.push_str("      # No Service selects its pods: it takes no calls.\n"),
        }
    }
    if rules.is_empty() {
        t.push_str("  allow: []\n");
    } else {
        t.push_str("  allow:\n");
    }
    for r in rules {
        for e in &r.evidence {
            t.push_str(&format!(
                "    # {} {}={} ({})\n",
                e.from,
                one_line(&e.place),
                one_line(&yaml_str(&e.text)),
                one_line(&e.file)
            ));
        }
        if r.ports.is_empty() {
            t.push_str(&format!("    - {{from: {}, to: {}}}\n", r.from, r.to));
        } else {
            t.push_str(&format!(
                "    - {{from: {}, to: {}, ports: [{}]}}\n",
                r.from,
                r.to,
                r.ports.join(", ")
            ));
        }
    }
    let callers: Vec<&str> = services
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !rules.iter().any(|r| r.from == *n))
        .collect();
    let called: Vec<&str> = services
        .iter()
        .filter(|(_, w)| w.service.as_ref().is_some_and(|s| !s.ports.is_empty()))
        .map(|(n, _)| n.as_str())
        .filter(|n| !rules.iter().any(|r| r.to == *n))
        .collect();
    t.push_str("  # Nothing is invented: without evidence there is no rule.\n");
    if !callers.is_empty() {
        t.push_str(&format!(
            "  # No evidence of calls made by: {}.\n",
            callers.join(", ")
        ));
    }
    if !called.is_empty() {
        t.push_str(&format!(
            "  # No evidence of calls to: {} (callers from outside, e.g. an ingress gateway, need rules you add).\n",
            called.join(", ")
        ));
    }
    for u in unresolved {
        let addr = match u.port {
            Some(p) => format!("{}:{p}", u.host),
            None => u.host.clone(),
        };
        t.push_str(&format!(
            "  # Not drafted: {} {}={} names `{addr}`, which is no Service of the input ({}).\n",
            u.from,
            one_line(&u.place),
            one_line(&yaml_str(&u.text)),
            one_line(&u.file)
        ));
    }
    for e in wrong_port {
        t.push_str(&format!(
            "  # Not drafted: {} {}={} names port {} of `{}`, which has no such port ({}).\n",
            e.from,
            one_line(&e.place),
            one_line(&yaml_str(&e.text)),
            e.port.unwrap_or(0),
            e.service,
            one_line(&e.file)
        ));
    }
    t
}
