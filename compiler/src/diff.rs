//! What changes between two versions of a policy, for pull-request review:
//! edges, ports, mTLS modes, gateways, egress hosts, versions and traffic,
//! and images added and removed.

use crate::model::Model;
use std::collections::BTreeSet;

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) title: &'static str,
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
}

fn section(title: &'static str, old: BTreeSet<String>, new: BTreeSet<String>) -> Section {
    Section {
        title,
        added: new.difference(&old).cloned().collect(),
        removed: old.difference(&new).cloned().collect(),
    }
}

/// One line per (source, destination, port) with its HTTP limits, so a
/// change of limits shows as one removed and one added line.
fn edges(m: &Model) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in &m.edges {
        for p in &e.ports {
            let mut s = format!("{} -> {}:{p}", e.source, e.dest);
            if !e.methods.is_empty() {
                s.push_str(&format!(" methods {}", e.methods.join(",")));
            }
            if !e.paths.is_empty() {
                s.push_str(&format!(" paths {}", e.paths.join(" ")));
            }
            out.insert(s);
        }
    }
    out
}

fn ports(m: &Model) -> BTreeSet<String> {
    m.services
        .iter()
        .flat_map(|s| {
            s.ports
                .iter()
                .map(move |p| format!("{} {} {} ({})", s.name, p.name, p.port, p.protocol.as_str()))
        })
        .collect()
}

fn mtls(m: &Model) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = [format!("release: {}", m.mtls.as_str())].into();
    for s in &m.services {
        if let Some(md) = s.mtls {
            out.insert(format!("{}: {}", s.name, md.as_str()));
        }
        for (p, md) in &s.port_mtls {
            out.insert(format!("{} port {p}: {}", s.name, md.as_str()));
        }
    }
    if m.dry_run {
        out.insert("authorization: dry-run".into());
    }
    out
}

fn gateways(m: &Model) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for g in &m.gateways {
        out.insert(format!("{} hosts {}", g.name, g.hosts.join(",")));
        if let Some(t) = &g.tls {
            out.insert(format!("{} tls {}", g.name, t.credential_name));
        }
        for (i, r) in g.routes.iter().enumerate() {
            out.insert(format!(
                "{} route #{} {}{} -> {}:{}",
                g.name,
                i + 1,
                r.path.describe(),
                r.host
                    .as_ref()
                    .map(|h| format!(" host {h}"))
                    .unwrap_or_default(),
                r.service,
                r.port
            ));
        }
    }
    out
}

fn egress(m: &Model) -> BTreeSet<String> {
    m.egress
        .iter()
        .flat_map(|e| {
            e.from
                .iter()
                .map(move |f| format!("{f} -> {}:{} ({})", e.host, e.port, e.protocol.as_str()))
        })
        .collect()
}

/// Versions, their weights and the traffic settings that change behaviour.
fn traffic(m: &Model) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in &m.services {
        let t = &s.traffic;
        for (v, w) in &t.split {
            out.insert(format!("{} split {v} {w}%", s.name));
        }
        for r in &t.routes {
            let h: Vec<String> = r.headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.insert(format!("{} route {} -> {}", s.name, h.join(","), r.version));
        }
        if let Some((v, p)) = &t.mirror {
            out.insert(format!("{} mirror {p}% -> {v}", s.name));
        }
        if let Some(x) = &t.timeout {
            out.insert(format!("{} timeout {x}", s.name));
        }
        if let Some(r) = &t.retries {
            out.insert(format!("{} retries {}", s.name, r.attempts));
        }
        if t.fault.is_some() {
            out.insert(format!("{} fault injection", s.name));
        }
        // A rule naming a version moves every version of the service to a
        // ServiceAccount of its own (`model::scoped`): pods restart under it.
        if m.version_identities(&s.name) {
            for v in &s.versions {
                out.insert(format!(
                    "{} version {} has its own ServiceAccount",
                    s.name, v.name
                ));
            }
        }
    }
    out
}

/// Every image reference with its digest, and the mesh's revision.
fn images(m: &Model) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = m
        .images()
        .into_iter()
        .map(|(what, i)| format!("{what}: {i}"))
        .collect();
    if let Some(r) = &m.mesh.revision {
        out.insert(format!("istio revision {r}"));
    }
    out.insert(format!("dataplane {}", m.mesh.dataplane.as_str()));
    out
}

pub(crate) fn diff(old: &Model, new: &Model) -> Vec<Section> {
    let services = |m: &Model| {
        m.services
            .iter()
            .map(|s| s.name.clone())
            .chain(
                m.externals
                    .iter()
                    .map(|x| format!("{} (external {})", x.name, x.host)),
            )
            .collect()
    };
    vec![
        section("services", services(old), services(new)),
        section("ports", ports(old), ports(new)),
        section("edges", edges(old), edges(new)),
        section("mTLS", mtls(old), mtls(new)),
        section("gateways", gateways(old), gateways(new)),
        section("egress", egress(old), egress(new)),
        section("traffic", traffic(old), traffic(new)),
        section("images", images(old), images(new)),
    ]
}

pub(crate) fn is_empty(d: &[Section]) -> bool {
    d.iter().all(|s| s.added.is_empty() && s.removed.is_empty())
}

pub(crate) fn text(d: &[Section]) -> String {
    if is_empty(d) {
        return "no change in services, ports, edges, mTLS, gateways or egress\n".into();
    }
    let mut out = String::new();
    for s in d
        .iter()
        .filter(|s| !s.added.is_empty() || !s.removed.is_empty())
    {
        out.push_str(&format!("{}:\n", s.title));
        for a in &s.added {
            out.push_str(&format!("  + {a}\n"));
        }
        for r in &s.removed {
            out.push_str(&format!("  - {r}\n"));
        }
    }
    out
}

pub(crate) fn markdown(d: &[Section]) -> String {
    if is_empty(d) {
        return "**meshpack**: no change in who may talk to whom.\n".into();
    }
    let added: usize = d.iter().map(|s| s.added.len()).sum();
    let removed: usize = d.iter().map(|s| s.removed.len()).sum();
    let mut out = format!("### meshpack policy diff: {added} added, {removed} removed\n");
    for s in d
        .iter()
        .filter(|s| !s.added.is_empty() || !s.removed.is_empty())
    {
        out.push_str(&format!("\n**{}**\n\n```diff\n", s.title));
        for a in &s.added {
            out.push_str(&format!("+ {a}\n"));
        }
        for r in &s.removed {
            out.push_str(&format!("- {r}\n"));
        }
        out.push_str("```\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evalhub() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/evalhub.yaml"
        ))
        .unwrap()
    }

    #[test]
    fn a_version_scoped_rule_shows_as_edges_and_identities() {
        let policy = |from: &str| {
            format!("apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {{name: bk}}\nspec:\n  version: 1.0.0\n  services:\n    reviews:\n      image: 'r.example.com/r:1'\n      ports: {{http: 9080}}\n      versions: {{v1: {{}}, v2: {{}}}}\n    ratings: {{image: 'r.example.com/ra:1', ports: {{http: 9080}}}}\n  allow:\n    - {{from: {from}, to: ratings}}\n")
        };
        let old = crate::compile_model(&policy("reviews"), None).unwrap();
        let new = crate::compile_model(&policy("reviews@v2"), None).unwrap();
        let d = diff(&old, &new);
        let get = |t: &str| d.iter().find(|s| s.title == t).unwrap();
        assert_eq!(get("edges").added, ["reviews@v2 -> ratings:http"]);
        assert_eq!(get("edges").removed, ["reviews -> ratings:http"]);
        assert_eq!(
            get("traffic").added,
            [
                "reviews version v1 has its own ServiceAccount",
                "reviews version v2 has its own ServiceAccount"
            ]
        );
        assert!(get("traffic").removed.is_empty());
    }

    #[test]
    fn reports_edges_mtls_and_egress() {
        let old = crate::compile_model(&evalhub(), None).unwrap();
        let changed = evalhub()
            .replace("    - {from: websocket, to: kafka}\n", "")
            .replace("mtls: STRICT ", "mtls: PERMISSIVE ")
            .replace(
                "{host: api.openai.com, port: 443, from: [taskrunner]}",
                "{host: api.openai.com, port: 443, from: [taskrunner, api]}",
            );
        let new = crate::compile_model(&changed, None).unwrap();
        let d = diff(&old, &new);
        let get = |t: &str| d.iter().find(|s| s.title == t).unwrap();
        assert_eq!(get("edges").removed, vec!["websocket -> kafka:tcp-kafka"]);
        assert!(get("edges").added.is_empty());
        assert_eq!(get("mTLS").added, vec!["release: PERMISSIVE"]);
        assert_eq!(get("mTLS").removed, vec!["release: STRICT"]);
        assert_eq!(get("egress").added, vec!["api -> api.openai.com:443 (tls)"]);
        assert!(markdown(&d).starts_with("### meshpack policy diff: 2 added, 2 removed\n"));
        assert!(is_empty(&diff(&old, &old)));
    }
}
