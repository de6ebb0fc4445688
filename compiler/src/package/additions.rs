//! The chart's install-time additions (issue #19): `templates/additions.yaml`
//! (extraEgress, extraSources, extraObjects) and `templates/_additions.tpl`
//! (their helpers and the OpenShift detection), rendered from the
//! minijinja templates of the same names with the table of services below.
//! The values they read are declared in `values_customer`; the Sidecar
//! hosts and the mTLS override live with the objects they change
//! (`emit::additions`).
//!
//! Invariant: the templates know the policy only through this table (name,
//! pod selector, target ports), and every name in it passed the model's
//! checks, so no text of the policy becomes template code. `waypoint`
//! marks the services whose callers pass a waypoint in ambient mode. Most
//! rows travel as words in one Go string literal ([`compact`]), the others
//! (attached services, a service without ports) as a template line each.

use crate::model::Model;
use serde_json::{json, Value};

/// A Go template expression for a service's pod selector labels.
fn selector(m: &Model, name: &str) -> String {
    match m.service(name).and_then(|s| s.attach.as_ref()) {
        Some(a) => {
            let labels: serde_json::Map<String, Value> = a
                .selector
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            // A JSON string is a valid Go string literal here: label keys
            // and values hold no `}}` (model::names checks them).
            let text = serde_json::to_string(&Value::Object(labels)).expect("json");
            format!(
                "({} | fromJson)",
                serde_json::to_string(&text).expect("json")
            )
        }
        None => format!(
            "(include \"{}.selectorLabels\" (dict \"ctx\" $ \"component\" {}) | fromYaml)",
            m.name,
            serde_json::to_string(name).expect("json")
        ),
    }
}

/// The table the additions template binds as `$services`: the rows
/// [`compact`] does not hold, each as its own template line.
pub fn services(m: &Model) -> Vec<Value> {
    m.services
        .iter()
        .filter(|s| compact_row(m, s).is_none())
        .map(|s| {
            let mut ports: Vec<u16> = s.ports.iter().map(|p| p.target_port).collect();
            ports.sort();
            ports.dedup();
            // The Service clients call, which a waypoint's policy targets.
            // (`serviceNames: service`, the default, names it as the
            // policy does; `release` prefixes the release's fullname).
            let host = match &s.attach {
                Some(a) => serde_json::to_string(&a.service).expect("json"),
                None if m.service_names == crate::model::ServiceNames::Service => {
                    serde_json::to_string(&s.name).expect("json")
                }
                None => format!(
                    "(printf \"%s-%s\" $fullname {})",
                    serde_json::to_string(&s.name).expect("json")
                ),
            };
            json!({
                "name": s.name,
                "selector": selector(m, &s.name),
                "ports": ports,
                "host": host,
                "waypoint": m.needs_waypoint(&s.name),
            })
        })
        .collect()
}

/// A service's row as words (`<name>:<port>,<port>:<1 or 0>`: its target
/// ports and whether it needs a waypoint), when its selector and host are
/// the chart's own (`<app>.selectorLabels` with the service as component;
/// the host its name, or with `serviceNames: release` under the fullname)
/// and it has a port.
fn compact_row(m: &Model, s: &crate::model::Service) -> Option<String> {
    if s.attach.is_some() || s.ports.is_empty() {
        return None;
    }
    let mut ports: Vec<u16> = s.ports.iter().map(|p| p.target_port).collect();
    ports.sort();
    ports.dedup();
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    Some(format!(
        "{}:{}:{}",
        s.name,
        ports.join(","),
        u8::from(m.needs_waypoint(&s.name))
    ))
}

/// The rows of the services whose table entry follows from their name,
/// ports and waypoint alone, as one Go string literal the template splits
/// (`templates/additions.yaml`), and the host expression of such a row
/// (`$name` is its service). Why: Helm parses every template file on every
/// render, whether or not the table is built; a line of about thirty
/// template tokens per service was a sixth of a large chart's template
/// tokens, one literal is one. Names are DNS labels (the model's checks),
/// so neither a space, a colon nor a quote can be in one.
pub fn compact(m: &Model) -> (String, &'static str) {
    let rows: Vec<String> = m
        .services
        .iter()
        .filter_map(|s| compact_row(m, s))
        .collect();
    let host = match m.service_names {
        crate::model::ServiceNames::Service => "$name",
        crate::model::ServiceNames::Release => "(printf \"%s-%s\" $fullname $name)",
    };
    (serde_json::to_string(&rows.join(" ")).expect("json"), host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_the_example_policy() {
        let text = include_str!("../../../policies/orderflow.yaml");
        let m = crate::compile_model(text, None).expect("compiles");
        // Every service of this policy is the chart's own: all are words.
        assert!(m
            .services
            .iter()
            .all(|s| s.attach.is_none() && !s.ports.is_empty()));
        assert!(services(&m).is_empty());
        let (rows, host) = compact(&m);
        assert_eq!(host, "$name");
        let words: Vec<String> = m
            .services
            .iter()
            .map(|s| {
                let mut want: Vec<u16> = s.ports.iter().map(|p| p.target_port).collect();
                want.sort();
                want.dedup();
                let want: Vec<String> = want.iter().map(|p| p.to_string()).collect();
                let waypoint = if m.needs_waypoint(&s.name) { "1" } else { "0" };
                format!("{}:{}:{waypoint}", s.name, want.join(","))
            })
            .collect();
        assert_eq!(rows, format!("\"{}\"", words.join(" ")));
        assert!(words.iter().any(|w| w.ends_with(":1")) && words.iter().any(|w| w.ends_with(":0")));
    }

    #[test]
    fn attached_services_keep_their_own_lines() {
        let text = include_str!("../../../policies/onlineboutique.yaml");
        let m = crate::compile_model(text, None).expect("compiles");
        let attached: Vec<&str> = m
            .services
            .iter()
            .filter(|s| s.attach.is_some())
            .map(|s| s.name.as_str())
            .collect();
        assert!(!attached.is_empty());
        let rows = services(&m);
        let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, attached);
        let first = &rows[0];
        let s = m.service(names[0]).unwrap();
        let a = s.attach.as_ref().unwrap();
        assert_eq!(
            first["host"],
            json!(serde_json::to_string(&a.service).unwrap())
        );
        assert!(first["selector"]
            .as_str()
            .unwrap()
            .ends_with(" | fromJson)"));
        let (words, _) = compact(&m);
        for n in &attached {
            assert!(!words.contains(&format!("{n}:")), "{n} in {words}");
        }
    }

    #[test]
    fn release_prefixed_services_are_hosts_under_the_fullname() {
        let text = include_str!("../../../policies/orderflow.yaml").replacen(
            "spec:\n",
            "spec:\n  serviceNames: release\n",
            1,
        );
        let m = crate::compile_model(&text, None).expect("compiles");
        assert_eq!(compact(&m).1, "(printf \"%s-%s\" $fullname $name)");
    }
}
