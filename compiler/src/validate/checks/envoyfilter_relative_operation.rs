//! M047 (IST0151): an EnvoyFilter without `priority` uses a relative patch
//! operation (INSERT_BEFORE, INSERT_AFTER, REPLACE, REMOVE): it depends on
//! another filter being in place and may silently not apply. Set a
//! priority, or use INSERT_FIRST or ADD.
//! Semantics of Istio's `envoyfilter/envoyfilter.go`, whose whole analysis
//! lives here; M048-M051 report its other findings. EnvoyFilters are
//! visited in (namespace, name) order, as Istio's collections are, because
//! IST0155 depends on the patches seen before.

use super::Set;
use std::collections::BTreeMap;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Problem {
    /// IST0151
    Relative,
    /// IST0152
    Replace,
    /// IST0153
    Add,
    /// IST0154
    Remove,
    /// IST0155
    RelativeWithProxyVersion,
}

/// Every (EnvoyFilter, patch index, problem) of the set.
pub(super) fn analyze(set: &Set) -> Vec<(usize, usize, Problem)> {
    let mut filters: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, o) in set.of_kind("networking.istio.io", "EnvoyFilter") {
        filters.insert((set.ns(i), o.name()), i);
    }
    let mut versioned_names: Vec<String> = vec![];
    let mut out = vec![];
    for i in filters.into_values() {
        let spec = &set.objects[i].value["spec"];
        let priority = spec["priority"].as_i64().unwrap_or(0);
        for (n, p) in spec["configPatches"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let patch = &p["patch"];
            if !patch.is_object() {
                break;
            }
            let name = patch["value"]["name"]
                .as_str()
                .or_else(|| p["match"]["listener"]["filterChain"]["filter"]["name"].as_str())
                .unwrap_or("")
                .to_string();
            let apply_to = p["applyTo"].as_str().unwrap_or("");
            let route_level = apply_to == "ROUTE_CONFIGURATION" || apply_to == "HTTP_ROUTE";
            let relative = |out: &mut Vec<(usize, usize, Problem)>| {
                if priority == 0 {
                    let pr = if versioned_names.contains(&name) {
                        Problem::RelativeWithProxyVersion
                    } else {
                        Problem::Relative
                    };
                    out.push((i, n, pr));
                }
            };
            match patch["operation"].as_str().unwrap_or("") {
                "ADD" if route_level => out.push((i, n, Problem::Add)),
                "REMOVE" if route_level => out.push((i, n, Problem::Remove)),
                "REMOVE" => relative(&mut out),
                "REPLACE"
                    if !["NETWORK_FILTER", "HTTP_FILTER", "VIRTUAL_HOST"].contains(&apply_to) =>
                {
                    out.push((i, n, Problem::Replace))
                }
                "REPLACE" | "INSERT_BEFORE" | "INSERT_AFTER" => relative(&mut out),
                _ => {}
            }
            if p["match"]["proxy"]["proxyVersion"]
                .as_str()
                .is_some_and(|v| !v.is_empty())
            {
                versioned_names.push(name);
            }
        }
    }
    out
}

/// The findings of one kind, as a check's output.
pub(super) fn report(set: &Set, want: Problem, text: &str) -> Vec<(usize, String)> {
    analyze(set)
        .into_iter()
        .filter(|(_, _, p)| *p == want)
        .map(|(i, n, _)| (i, format!("configPatches[{n}]: {text}")))
        .collect()
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    report(
        set,
        Problem::Relative,
        "relative operation without priority may not apply; set spec.priority, or use INSERT_FIRST or ADD",
    )
}
