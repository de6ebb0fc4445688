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
//! marks the services whose callers pass a waypoint in ambient mode.

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

/// The table the additions template binds as `$services`.
pub fn services(m: &Model) -> Vec<Value> {
    m.services
        .iter()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_the_example_policy() {
        let text = include_str!("../../../policies/orderflow.yaml");
        let m = crate::compile_model(text, None).expect("compiles");
        let rows = services(&m);
        let first = &rows[0];
        let s = &m.services[0];
        assert_eq!(first["name"], json!(s.name));
        assert_eq!(
            first["selector"],
            json!(format!(
                "(include \"orderflow.selectorLabels\" (dict \"ctx\" $ \"component\" \"{}\") | fromYaml)",
                s.name
            ))
        );
        let mut want: Vec<u16> = s.ports.iter().map(|p| p.target_port).collect();
        want.sort();
        want.dedup();
        assert_eq!(first["ports"], json!(want));
        assert_eq!(first["host"], json!(format!("\"{}\"", s.name)));
        assert_eq!(first["waypoint"], json!(m.needs_waypoint(&s.name)));
    }

    #[test]
    fn release_prefixed_services_are_hosts_under_the_fullname() {
        let text = include_str!("../../../policies/orderflow.yaml").replacen(
            "spec:\n",
            "spec:\n  serviceNames: release\n",
            1,
        );
        let m = crate::compile_model(&text, None).expect("compiles");
        let rows = services(&m);
        assert_eq!(
            rows[0]["host"],
            json!(format!(
                "(printf \"%s-%s\" $fullname \"{}\")",
                m.services[0].name
            ))
        );
    }
}
