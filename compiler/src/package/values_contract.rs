//! The contract between the chart's templates and its values table: every
//! `.Values` path a rendered template reads is a row of
//! `package::values::entries` (or a map above rows), and every row is read
//! by some template unless it is listed in [`SCHEMA_ONLY`] with a reason.
//!
//! Invariant: this module only reads rendered chart text; it is compiled
//! for tests alone. It scans the chart of every policy in `policies/`, the
//! good corpus in `tests/policies/good/` and a synthetic policy, so a typo
//! in a hand-written template (`templates/chart/`) or a path built outside
//! `emit::values` is caught without Helm.

use super::values::Entry;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};

/// Rows no template reads, on purpose (only the schema knows them), with
/// the reason. None today.
const SCHEMA_ONLY: &[(&str, &str)] = &[];

/// Release-wide rows every chart declares although a policy without the
/// feature renders no template reading them: the schema is closed, so one
/// values file (a CI job's `--set gatewayApi.enabled=true`, an umbrella
/// chart's values) must fit every meshpack chart. Each must still be read
/// by some chart the tests scan, or it is dead.
const DECLARED_EVERYWHERE: &[(&str, &str)] = &[
    (
        "faultInjection.enabled",
        "without `traffic.fault` nothing is injected",
    ),
    (
        "gatewayApi",
        "without gateways there is no Gateway or HTTPRoute",
    ),
    (
        "istio.gateway.namespace",
        "without gateways nothing lives there",
    ),
    (
        "ingress",
        "without gateways there is no Ingress and no controller to admit",
    ),
    (
        "networkPolicy.gatewayNamespaces",
        "without gateways no rule admits the ingress",
    ),
    (
        "networkPolicy.ingressController",
        "without gateways no rule admits the ingress controller",
    ),
    (
        "networkPolicy.egressCIDRs",
        "without egress hosts nothing opens egress",
    ),
    (
        "global.imagePullSecrets",
        "attach mode: the vendor's chart renders the pods",
    ),
    (
        "serviceDefaults",
        "attach mode: the vendor's chart renders the pods (only `podAnnotations` is read)",
    ),
];

/// Paths templates read that the table lacks, known and left for a change
/// that may alter the outputs, with the reason.
/// (None today: attach charts declare `services.<name>.istio.inject` too.)
const KNOWN_UNDECLARED: &[(&str, &str)] = &[];

/// The dotted `.Values` paths a template text reads. `*` stands for any key
/// (`range $name, $gw := .Values.gateways` then `$gw.tls`).
pub fn reads(text: &str) -> BTreeSet<String> {
    let path = r"\$?(?:\.ctx)?\.Values(?:\.[\w-]+)*";
    let comment = Regex::new(r"(?s)/\*.*?\*/").expect("regex");
    // A range over services reads each service's values.
    let text = super::helm_groups::unrange(text);
    let mut t = comment.replace_all(&text, "").into_owned();
    // `(index <map> "name")`, innermost first, then a bare `index <map> "name"`.
    let paren = Regex::new(&format!(r#"\(index ({path}) "([^"]+)"\)"#)).expect("regex");
    let bare = Regex::new(&format!(r#"index ({path}) "([^"]+)""#)).expect("regex");
    for re in [&paren, &bare] {
        loop {
            let next = re.replace_all(&t, "$1.$2").into_owned();
            if next == t {
                break;
            }
            t = next;
        }
    }
    // `dig "a" "b" <fallback> <map>` reads <map>.a.b (and the fallback);
    // the map may be a variable bound to values (`$own`).
    let dig = Regex::new(&format!(r#"dig ((?:"[\w-]+" )+)(\S+) ({path}|\$\w+)"#)).expect("regex");
    t = dig
        .replace_all(&t, |c: &regex::Captures| {
            let keys: Vec<&str> = c[1]
                .split_whitespace()
                .map(|k| k.trim_matches('"'))
                .collect();
            format!("{} {}.{}", &c[2], &c[3], keys.join("."))
        })
        .into_owned();
    // Variables bound to a map of values; the binding itself reads nothing.
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let range = Regex::new(&format!(r"range \$\w+, (\$\w+) := ({path})")).expect("regex");
    for c in range.captures_iter(&t) {
        vars.insert(c[1].to_string(), format!("{}.*", dotted(&c[2])));
    }
    t = range.replace_all(&t, "range").into_owned();
    // `range $item := <list>` reads the list (its row's schema covers the
    // items' fields, as with `extraEgress`); the item's fields are no paths.
    let mut out = BTreeSet::new();
    let mut items = BTreeSet::new();
    let range_items = Regex::new(&format!(r"range (\$\w+) := ({path})")).expect("regex");
    for c in range_items.captures_iter(&t) {
        items.insert(c[1].to_string());
        out.insert(dotted(&c[2]));
    }
    t = range_items.replace_all(&t, "range").into_owned();
    let assign = Regex::new(&format!(r"(\$\w+) := ({path})\s*\}}\}}")).expect("regex");
    for c in assign.captures_iter(&t) {
        vars.insert(c[1].to_string(), dotted(&c[2]));
    }
    t = assign.replace_all(&t, "}}").into_owned();
    let var_use = Regex::new(r"(\$\w+)((?:\.[\w-]+)+)").expect("regex");
    for c in var_use.captures_iter(&t) {
        if items.contains(&c[1]) {
            continue;
        }
        if let Some(base) = vars.get(&c[1]) {
            out.insert(format!("{base}{}", &c[2]));
        }
    }
    let value = Regex::new(r"\.Values((?:\.[\w-]+)+)").expect("regex");
    for c in value.captures_iter(&t) {
        out.insert(c[1].trim_start_matches('.').to_string());
    }
    out
}

/// `$.Values.a.b` -> `a.b`.
fn dotted(expr: &str) -> String {
    let i = expr.find(".Values").expect("a values path") + ".Values".len();
    expr[i..].trim_start_matches('.').to_string()
}

/// Whether `pattern` (with `*` for any key) is a prefix of, or equal to, `path`.
fn prefix(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let q: Vec<&str> = path.split('.').collect();
    p.len() <= q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}

/// Read paths no row answers: neither a row, nor a map above rows, nor a
/// key inside a row holding a map.
pub fn missing(reads: &BTreeSet<String>, entries: &[Entry]) -> Vec<String> {
    reads
        .iter()
        .filter(|r| {
            !entries
                .iter()
                .any(|e| prefix(r, &e.path) || (e.default.is_object() && prefix(&e.path, r)))
        })
        .cloned()
        .collect()
}

/// Rows no read path reaches (a read of a map reads every row below it).
pub fn unread<'a>(reads: &BTreeSet<String>, entries: &'a [Entry]) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|e| {
            !reads
                .iter()
                .any(|r| prefix(r, &e.path) || (e.default.is_object() && prefix(&e.path, r)))
        })
        .map(|e| e.path.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    fn models() -> Vec<(String, Model)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut texts = vec![];
        for dir in ["policies", "tests/policies/good"] {
            let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
                .expect("policy folder")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect();
            files.sort();
            for f in files {
                texts.push((
                    f.display().to_string(),
                    std::fs::read_to_string(&f).expect("policy"),
                ));
            }
        }
        texts.push((
            "synthetic".into(),
            crate::synthetic::policy(&crate::synthetic::Shape {
                services: 12,
                ..Default::default()
            }),
        ));
        assert!(texts.len() >= 4, "found the example policies");
        texts
            .into_iter()
            .map(|(name, text)| {
                let m = crate::compile_model(&text, None)
                    .unwrap_or_else(|d| panic!("{name} compiles: {d:?}"));
                (name, m)
            })
            .collect()
    }

    /// Every path each chart's templates read, and the chart's rows.
    fn charts() -> Vec<(String, BTreeSet<String>, Vec<Entry>)> {
        models()
            .into_iter()
            .map(|(name, m)| {
                let mut r = BTreeSet::new();
                for (path, bytes) in crate::package::helm::chart(&m) {
                    if path.starts_with("templates/") {
                        r.extend(reads(&String::from_utf8(bytes).expect("utf-8")));
                    }
                }
                (name, r, super::super::values::entries(&m))
            })
            .collect()
    }

    #[test]
    fn every_path_a_template_reads_is_in_the_table() {
        for (name, reads, entries) in charts() {
            assert!(
                reads.contains("istio.enabled") && reads.len() > 20,
                "{name}: the scan found the chart's reads: {reads:?}"
            );
            let missing: Vec<String> = missing(&reads, &entries)
                .into_iter()
                .filter(|p| !KNOWN_UNDECLARED.iter().any(|(k, _)| prefix(k, p)))
                .collect();
            assert_eq!(
                missing,
                Vec::<String>::new(),
                "{name}: templates read values the table (package/values.rs::entries) does not declare"
            );
        }
    }

    #[test]
    fn every_release_wide_handle_is_one_row_with_its_default() {
        for (name, m) in models() {
            let entries = super::super::values::entries(&m);
            for (r, _) in crate::emit::values::fixed_handles() {
                let rows: Vec<&Entry> = entries.iter().filter(|e| e.path == r.path()).collect();
                assert_eq!(rows.len(), 1, "{name}: rows of {}", r.path());
                assert_eq!(
                    Some(&rows[0].default),
                    r.default(&m).as_ref(),
                    "{name}: {}",
                    r.path()
                );
                let doc = r.doc().expect("release-wide handles are documented");
                assert_eq!(rows[0].description, doc.description, "{name}: {}", r.path());
                assert!(rows[0].listed, "{name}: {}", r.path());
            }
        }
    }

    #[test]
    fn every_row_is_read_or_schema_only_on_purpose() {
        let allowed = |p: &str| {
            SCHEMA_ONLY
                .iter()
                .chain(DECLARED_EVERYWHERE)
                .any(|(s, _)| prefix(s, p))
        };
        let mut flagged = vec![];
        let mut read_somewhere = BTreeSet::new();
        for (name, reads, entries) in charts() {
            let unread = unread(&reads, &entries);
            for e in &entries {
                if !unread.contains(&e.path.as_str()) {
                    read_somewhere.insert(e.path.clone());
                }
            }
            for p in unread {
                if !allowed(p) {
                    flagged.push(format!("{name}: {p}"));
                }
            }
        }
        assert_eq!(
            flagged,
            Vec::<String>::new(),
            "rows no template reads: read them, remove them, or list them in SCHEMA_ONLY with a reason"
        );
        for (p, why) in DECLARED_EVERYWHERE {
            assert!(
                read_somewhere.iter().any(|r| prefix(p, r)),
                "{p} ({why}) is read by no chart at all: dead, or SCHEMA_ONLY"
            );
        }
    }

    #[test]
    fn the_scan_resolves_index_dig_and_bindings() {
        let t = r#"
{{- /* `.Values.inAComment` is prose */}}
{{- if and $.Values.istio.enabled (eq .Values.istio.dataplane "ambient") }}
{{- $inject := dig "istio" "inject" $.Values.istio.injection (index $.Values.services "my-api") | toString }}
{{- $own := (index $.Values.services "mine") }}
{{- $inject := dig "istio" "inject" $.Values.istio.injection $own | toString }}
replicas: {{ (index (index $.Values.services "api").versions "v1").replicas }}
weight: {{ index (index $.Values.services "api").traffic.split "v2" }}
{{- range $name, $gw := .Values.gateways }}{{ $gw.tls.credentialName }}{{- end }}
{{- $registry := .ctx.Values.global.imageRegistry | default .image.registry -}}
{{- range $e := .Values.extraEgress }}{{ $e.host }}{{- end }}
{{- range $s := list "a" "b" }}{{- with $ }}
{{- $pod := index $hoist_pods $s }}
image: {{ (index $.Values.services $s).image.tag }}
{{- end }}{{- end }}
"#;
        let want: BTreeSet<String> = [
            "istio.enabled",
            "istio.dataplane",
            "istio.injection",
            "services.my-api.istio.inject",
            "services.mine.istio.inject",
            "services.api.versions.v1.replicas",
            "services.api.traffic.split.v2",
            "gateways.*.tls.credentialName",
            "global.imageRegistry",
            "extraEgress",
            "services.a.image.tag",
            "services.b.image.tag",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(reads(t), want);
    }

    #[test]
    fn a_misspelt_or_unread_value_is_reported() {
        let row = |p: &str, d: serde_json::Value| Entry {
            path: p.into(),
            default: d,
            description: "".into(),
            schema: None,
            listed: true,
        };
        let entries = vec![
            row("istio.enabled", serde_json::json!(false)),
            row("istio.annotations", serde_json::json!({})),
            row("services.api.replicas", serde_json::json!(1)),
            row("services.api.image.tag", serde_json::json!("1")),
        ];
        let r = reads("{{ $.Values.istio.enabld }} {{ $.Values.istio.annotations.x }} {{ (index $.Values.services \"api\").image }}");
        assert_eq!(missing(&r, &entries), vec!["istio.enabld".to_string()]);
        assert_eq!(
            unread(&r, &entries),
            vec!["istio.enabled", "services.api.replicas"]
        );
    }
}
