//! M044 (IST0130): a VirtualService rule that can never match: it follows
//! a rule without `match` (which takes every request), or every one of its
//! matches repeats an earlier rule's.
//! Semantics of Istio's validation warnings (`pkg/config/validation`,
//! `analyzeUnreachable{HTTP,TCP,TLS}Rules`), which `istioctl analyze`
//! reports through its schema analyzer; the overlap analysis M045 shares
//! lives here too.

use super::Set;
use crate::manifest::Node;

pub(super) enum Unused {
    /// (rule, reason)
    Rule(String, &'static str),
    /// (rule, match, earlier rule)
    Match(String, String, String),
}

fn rule_name(r: &Node, n: usize, http: bool) -> String {
    match r["name"].as_str().filter(|s| http && !s.is_empty()) {
        Some(s) => format!("{s:?}"),
        None => format!("#{n}"),
    }
}

fn match_name(m: &Node, n: usize, http: bool) -> String {
    match m["name"].as_str().filter(|s| http && !s.is_empty()) {
        Some(s) => format!("{s:?}"),
        None => format!("#{n}"),
    }
}

/// `assignExactOrPrefix`: `exact:x`, `prefix:x`, or empty.
fn exact_or_prefix(v: &Node) -> String {
    if let Some(e) = v["exact"].as_str().filter(|s| !s.is_empty()) {
        format!("exact:{e}")
    } else if let Some(p) = v["prefix"].as_str().filter(|s| !s.is_empty()) {
        format!("prefix:{p}")
    } else {
        String::new()
    }
}

/// The parts of a prefix match Istio compares for overlap.
struct PrefixMatch {
    rule: String,
    name: String,
    prefix: String,
    port: u64,
    method: String,
    authority: String,
    maps: [std::collections::BTreeMap<String, String>; 3],
}

fn prefix_match(rule: String, m: &Node, n: usize) -> Option<PrefixMatch> {
    let prefix = m["uri"]["prefix"].as_str().filter(|p| !p.is_empty())?;
    let map = |k: &str| {
        m[k].as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), exact_or_prefix(v)))
            .collect()
    };
    let method = exact_or_prefix(&m["method"]);
    Some(PrefixMatch {
        rule,
        name: match_name(m, n, true),
        prefix: prefix.to_string(),
        port: m["port"].as_u64().unwrap_or(0),
        method: if method.is_empty() {
            "exact:GET".into()
        } else {
            method
        },
        authority: exact_or_prefix(&m["authority"]),
        maps: [map("headers"), map("queryParams"), map("withoutHeaders")],
    })
}

/// `coveredValidation`: whether the earlier prefix match `a` takes every
/// request the later `b` would.
fn covered(a: &PrefixMatch, b: &PrefixMatch) -> bool {
    let within = |x: &str, y: &str| x == y || x.starts_with(y);
    b.prefix.starts_with(&a.prefix)
        && a.port == b.port
        && within(&a.method, &b.method)
        && within(&a.authority, &b.authority)
        && a.maps.iter().zip(&b.maps).all(|(ma, mb)| {
            ma.len() == mb.len()
                && ma
                    .iter()
                    .all(|(k, v)| mb.get(k).is_some_and(|w| within(v, w)))
        })
}

fn without_name(m: &Node) -> Node {
    match m.as_object() {
        Some(o) => Node::from(o.without("name")),
        None => m.clone(),
    }
}

/// Every unused rule and match of one route list (`http`, `tcp`, `tls`).
pub(super) fn analyze(routes: &[Node], http: bool) -> Vec<Unused> {
    let mut out = vec![];
    let mut seen: Vec<(Node, usize)> = vec![];
    let mut empty_seen = false;
    let mut prefixes = vec![];
    for (n, r) in routes.iter().enumerate() {
        let matches = r["match"].as_array().unwrap_or(&[]);
        let name = rule_name(r, n, http);
        if matches.is_empty() {
            if empty_seen {
                out.push(Unused::Rule(name, "only the last rule can have no matches"));
            }
            empty_seen = true;
            continue;
        }
        let mut duplicates = 0;
        for (mn, m) in matches.iter().enumerate() {
            if empty_seen {
                out.push(Unused::Rule(
                    name.clone(),
                    "route without matches defined before",
                ));
                continue;
            }
            let key = without_name(m);
            if let Some((_, earlier)) = seen.iter().find(|(k, _)| *k == key) {
                out.push(Unused::Match(
                    name.clone(),
                    match_name(m, mn, http),
                    rule_name(&routes[*earlier], *earlier, http),
                ));
                duplicates += 1;
                continue;
            }
            seen.push((key, n));
            if http {
                prefixes.extend(prefix_match(name.clone(), m, mn));
            }
        }
        if duplicates == matches.len() {
            out.push(Unused::Rule(name, "all matches used by prior rules"));
        }
    }
    for (i, a) in prefixes.iter().enumerate() {
        for b in &prefixes[i + 1..] {
            if b.prefix != a.prefix && covered(a, b) {
                out.push(Unused::Match(
                    b.rule.clone(),
                    format!("{} of prefix {}", b.name, b.prefix),
                    format!("{} of prefix {} on {}", a.name, a.prefix, a.rule),
                ));
            }
        }
    }
    out
}

pub(super) fn each(set: &Set, mut f: impl FnMut(usize, &'static str, Unused)) {
    for (i, o) in set.of_kind("networking.istio.io", "VirtualService") {
        for k in ["http", "tcp", "tls"] {
            let routes = o.value["spec"][k].as_array().unwrap_or(&[]);
            for u in analyze(routes, k == "http") {
                f(i, k, u);
            }
        }
    }
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    each(set, |i, k, u| {
        if let Unused::Rule(rule, why) = u {
            out.push((
                i,
                format!("{k} rule {rule} is never used ({why}); move it before the rule that takes its requests, or remove it"),
            ));
        }
    });
    out
}
