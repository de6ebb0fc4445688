//! Parts of the chart's README.md that have a row per service, written as
//! text for the README template (`templates/chart/README.md`) to insert.
//!
//! Invariant: the text is byte for byte what the template's own loop
//! wrote from a value per row (`tests/golden`, `compile --check`), and no
//! value per service is built: at 10,000 services those values were the
//! largest part of the chart's peak memory (BENCHMARKS.md).

use super::helm::md;
use crate::model::Model;
use std::fmt::Write;

/// The services table's rows, each ending with a newline.
pub fn service_rows(m: &Model) -> String {
    let mut out = String::with_capacity(m.services.len() * 96);
    for s in &m.services {
        let image = match &s.attach {
            Some(_) => "(attached: deployed by your chart)".to_string(),
            None => md(&crate::emit::workload::image_ref(s)),
        };
        let workload = match (&s.attach, s.workload) {
            (Some(a), _) => format!("{} {}", a.kind.as_str(), a.workload),
            (None, w) => w.kind().to_string(),
        };
        let ports: Vec<String> = s
            .ports
            .iter()
            .map(|p| format!("{} {} ({})", p.name, p.port, p.protocol.as_str()))
            .collect();
        writeln!(
            out,
            "| {} | {image} | {workload} | {} | {} |",
            s.name,
            s.total_replicas(),
            md(&ports.join(", "))
        )
        .expect("writing to a String");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The template loop these rows replaced, and the values it read.
    const LOOP: &str = "{% for s in service_rows %}\n| {{ s.name }} | {{ s.image }} | {{ s.workload }} | {{ s.replicas }} | {{ s.ports }} |\n{% endfor %}\n";

    fn loop_rows(m: &Model) -> String {
        let rows: Vec<serde_json::Value> = m
            .services
            .iter()
            .map(|s| {
                let ports: Vec<String> = s
                    .ports
                    .iter()
                    .map(|p| format!("{} {} ({})", p.name, p.port, p.protocol.as_str()))
                    .collect();
                json!({
                    "name": s.name,
                    "image": match &s.attach {
                        Some(_) => "(attached: deployed by your chart)".to_string(),
                        None => md(&crate::emit::workload::image_ref(s)),
                    },
                    "workload": match (&s.attach, s.workload) {
                        (Some(a), _) => format!("{} {}", a.kind.as_str(), a.workload),
                        (None, w) => w.kind().to_string(),
                    },
                    "replicas": s.total_replicas(),
                    "ports": md(&ports.join(", ")),
                })
            })
            .collect();
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.add_template("t", LOOP).unwrap();
        env.get_template("t")
            .unwrap()
            .render(minijinja::context! { service_rows => rows })
            .unwrap()
    }

    #[test]
    fn rows_are_the_bytes_the_template_loop_wrote() {
        // orderflow: versions and several ports; onlineboutique: attached
        // services (the vendor's workload, no image).
        for text in [
            include_str!("../../../policies/orderflow.yaml"),
            include_str!("../../../policies/onlineboutique.yaml"),
        ] {
            let m = crate::compile_model(text, None).expect("compiles");
            assert!(m.services.len() > 2);
            assert_eq!(service_rows(&m), loop_rows(&m), "{}", m.name);
        }
    }

    #[test]
    fn a_row_per_service_in_order() {
        let m = crate::compile_model(include_str!("../../../policies/orderflow.yaml"), None)
            .expect("compiles");
        let text = service_rows(&m);
        let names: Vec<&str> = text
            .lines()
            .map(|l| l.split(" | ").next().unwrap().trim_start_matches("| "))
            .collect();
        let want: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, want);
        assert!(text.ends_with("|\n"));
    }
}
