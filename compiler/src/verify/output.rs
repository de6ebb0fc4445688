//! The matrix of a rendered set on its own (`meshpack matrix`), and the
//! printed forms of matrices: text, JSON, CSV, Markdown.

use super::intent::{probe_host, UNLISTED_HOST};
use super::{istio, netpol, probe_paths, probes, Access, Dest, Matrix, Probe, Rendered, Source};
use crate::manifest::index::string_map;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// An identity from a namespace whose NetworkPolicy peers select one Istio
/// Gateway's pods there (`emit::netpol` admits gateways by the selector of
/// their Gateway) is taken to be those pods. The manifests do not say which
/// ServiceAccount a gateway's pods run under, so with several such
/// selectors in one namespace the identity keeps unknown labels, which no
/// podSelector matches (`verify --policy` knows each gateway's).
fn gateway_pods(set: &Rendered, s: Source) -> Source {
    let Source::Identity {
        namespace,
        service_account,
    } = &s
    else {
        return s;
    };
    let gateways: BTreeSet<BTreeMap<String, String>> = set
        .objects
        .iter()
        .filter(|o| o.kind() == "Gateway" && o.group() == "networking.istio.io")
        .map(|o| string_map(&o.value["spec"]["selector"]))
        .filter(|sel| !sel.is_empty())
        .collect();
    let selectors: BTreeSet<BTreeMap<String, String>> = set
        .objects
        .iter()
        .filter(|o| o.kind() == "NetworkPolicy")
        .flat_map(|o| o.value["spec"]["ingress"].as_array().into_iter().flatten())
        .flat_map(|r| r["from"].as_array().into_iter().flatten())
        .filter(|peer| {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].as_str()
                == Some(namespace.as_str())
        })
        .map(|peer| string_map(&peer["podSelector"]["matchLabels"]))
        .filter(|sel| gateways.contains(sel))
        .collect();
    match selectors.len() {
        1 => Source::Pods {
            namespace: namespace.clone(),
            service_account: service_account.clone(),
            labels: selectors.into_iter().next().expect("one"),
        },
        _ => s,
    }
}

/// Everything the set can tell: its workloads' ports, the identities its
/// rules name, strangers and plaintext clients, and egress hosts.
pub fn matrix_of_set(set: &Rendered) -> Matrix {
    let layers = set.layers();
    let mut sources: BTreeSet<Source> = set.workload_sources();
    sources.extend(
        set.outside_identities()
            .into_iter()
            .map(|s| gateway_pods(set, s)),
    );
    sources.extend(super::ingress::sources(set));
    sources.insert(Source::Stranger);
    if layers.istio {
        sources.insert(Source::Plaintext);
    }
    let (paths, methods) = set.http_patterns();
    let probe_paths = probe_paths(paths.iter().map(String::as_str));
    let mut dests: Vec<(Dest, Vec<Probe>)> = vec![];
    for w in &set.workloads {
        for (port, (name, http)) in &w.ports {
            dests.push((
                Dest::Port {
                    workload: w.name.clone(),
                    port: *port,
                    name: name.clone(),
                },
                probes(*http && layers.istio, &methods, &probe_paths),
            ));
        }
    }
    let mut hosts: BTreeSet<(String, u16)> = BTreeSet::new();
    for o in set.objects.iter().filter(|o| o.kind() == "ServiceEntry") {
        for h in o.value["spec"]["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(crate::manifest::Node::as_str)
        {
            for p in o.value["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["number"].as_u64())
            {
                hosts.insert((h.to_string(), p as u16));
            }
        }
    }
    let ports: BTreeSet<u16> = hosts.iter().map(|(_, p)| *p).chain([443]).collect();
    for p in ports {
        hosts.insert((UNLISTED_HOST.to_string(), p));
    }
    for (host, port) in hosts {
        dests.push((
            Dest::External { host, port },
            vec![Probe {
                method: None,
                path: None,
            }],
        ));
    }
    let mut m = Matrix::new();
    for src in &sources {
        let facts = set.source_facts(src);
        for (dest, probes) in &dests {
            let allowed: BTreeSet<Probe> = probes
                .iter()
                .filter(|p| match dest {
                    Dest::Port { workload, port, .. } => {
                        let w = set.workload(workload).expect("workload");
                        let http = w.ports.get(port).is_some_and(|(_, h)| *h);
                        (!layers.istio || istio::allowed(set, &facts, w, *port, http, p))
                            && (!layers.netpol || netpol::allowed(set, &facts, w, *port))
                    }
                    Dest::External { host, port } => facts.workload.as_ref().is_some_and(|w| {
                        (!layers.istio || istio::egress_allowed(set, w, &probe_host(host), *port))
                            && (!layers.netpol || netpol::egress_allowed(set, w, *port))
                    }),
                })
                .cloned()
                .collect();
            m.insert(
                (src.clone(), dest.clone()),
                Access::from_probes(probes, allowed),
            );
        }
    }
    m
}

/// A short account of which requests pass.
pub fn describe(a: &Access) -> String {
    match a {
        Access::Denied => "denied".into(),
        Access::Any => "allowed".into(),
        Access::Some(ps) => {
            let methods: BTreeSet<&str> = ps.iter().filter_map(|p| p.method.as_deref()).collect();
            let paths = path_patterns(ps.iter().filter_map(|p| p.path.as_deref()));
            format!(
                "HTTP {} on {}",
                methods.into_iter().collect::<Vec<_>>().join(","),
                paths.into_iter().collect::<Vec<_>>().join(" ")
            )
        }
    }
}

/// One probed path as the pattern it stands for.
pub fn path_pattern(p: &str) -> String {
    if p == "/meshpack-unlisted" {
        "(any other path)".to_string()
    } else if let Some(prefix) = p.strip_suffix("meshpack-probe") {
        format!("{prefix}*")
    } else if let Some(suffix) = p.strip_prefix("/meshpack-probe") {
        format!("*{suffix}")
    } else {
        p.to_string()
    }
}

/// The probed paths as the patterns they stand for: the evaluator's
/// made-up probe paths (`super::probe_paths`) never reach a report.
fn path_patterns<'a>(paths: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = paths.map(path_pattern).collect();
    // A path a prefix pattern already covers says nothing more.
    let prefixes: Vec<String> = out
        .iter()
        .filter_map(|p| p.strip_suffix('*').map(str::to_string))
        .collect();
    out.retain(|p| p.ends_with('*') || !prefixes.iter().any(|x| p.starts_with(x.as_str())));
    out
}

fn rows(m: &Matrix) -> impl Iterator<Item = (&Source, &Dest, &Access)> {
    m.iter()
        .filter(|(_, a)| **a != Access::Denied)
        .map(|((s, d), a)| (s, d, a))
}

pub fn text(m: &Matrix, mode: &str) -> String {
    let mut out = format!("Reachability ({mode}); everything not listed is denied.\n");
    let mut last: Option<&Source> = None;
    for (s, d, a) in rows(m) {
        if last != Some(s) {
            out.push_str(&format!("{s}\n"));
            last = Some(s);
        }
        let note = match a {
            Access::Any => String::new(),
            other => format!("  [{}]", describe(other)),
        };
        out.push_str(&format!("  -> {d}{note}\n"));
    }
    out
}

pub fn json(m: &Matrix, mode: &str) -> String {
    let cells: Vec<Value> = m
        .iter()
        .map(|((s, d), a)| {
            let (dest, port, port_name) = match d {
                Dest::Port { workload, port, name } => (workload.clone(), *port, Some(name.clone())),
                Dest::External { host, port } => (host.clone(), *port, None),
            };
            json!({
                "source": s.to_string(), "destination": dest, "port": port, "portName": port_name,
                "external": matches!(d, Dest::External { .. }),
                "access": match a { Access::Denied => "denied", Access::Any => "allowed", Access::Some(_) => "partial" },
                "detail": describe(a),
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "mode": mode, "cells": cells })).expect("json") + "\n"
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv(m: &Matrix) -> String {
    let mut out = String::from("source,destination,port,access,detail\n");
    for ((s, d), a) in m {
        let (dest, port) = match d {
            Dest::Port { workload, port, .. } => (workload.clone(), *port),
            Dest::External { host, port } => (host.clone(), *port),
        };
        let access = match a {
            Access::Denied => "denied",
            Access::Any => "allowed",
            Access::Some(_) => "partial",
        };
        out.push_str(&format!(
            "{},{},{port},{access},{}\n",
            csv_field(&s.to_string()),
            csv_field(&dest),
            csv_field(&describe(a))
        ));
    }
    out
}

/// Rows are sources, columns destinations: ✓ allowed, ◐ some HTTP requests, · denied.
pub fn markdown(m: &Matrix, mode: &str) -> String {
    let sources: BTreeSet<&Source> = m.keys().map(|(s, _)| s).collect();
    let dests: BTreeSet<&Dest> = m.keys().map(|(_, d)| d).collect();
    let mut out = format!("Reachability ({mode}): ✓ allowed, ◐ some HTTP requests (see below), · denied.\n\n| from \\ to |");
    for d in &dests {
        out.push_str(&format!(" {} |", d.to_string().replace('|', "\\|")));
    }
    out.push_str("\n| --- |");
    out.push_str(&" :-: |".repeat(dests.len()));
    out.push('\n');
    let mut notes = vec![];
    for s in &sources {
        out.push_str(&format!("| {s} |"));
        for d in &dests {
            let cell = match m.get(&((*s).clone(), (*d).clone())) {
                Some(Access::Any) => "✓",
                Some(a @ Access::Some(_)) => {
                    notes.push(format!("- {s} -> {d}: {}", describe(a)));
                    "◐"
                }
                _ => "·",
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes.join("\n"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_patterns_not_probe_paths() {
        let probes: BTreeSet<Probe> = [
            "/api/",
            "/api/meshpack-probe",
            "/api",
            "/meshpack-probe.css",
            "/meshpack-unlisted",
        ]
        .iter()
        .map(|p| Probe {
            method: Some("GET".into()),
            path: Some(p.to_string()),
        })
        .collect();
        assert_eq!(
            describe(&Access::Some(probes)),
            "HTTP GET on (any other path) *.css /api /api/*"
        );
    }
}
