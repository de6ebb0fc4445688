//! The chart side of `spec.upgrades`: old keys stay valid values.
//!
//! A renamed key (`services.<old>`, or any chart value) keeps its place in
//! `values.schema.json` with the shape of the key that replaced it and
//! `"deprecated": true`; a removed key accepts anything. Every template
//! opens with `include "<app>.upgrades"`, which copies what a values file
//! set under an old key onto the new one (idempotent, so the order Helm
//! renders files in does not matter), and NOTES.txt warns about each old
//! key a values file still sets.
//!
//! Invariant: the model guarantees the old names and paths are safe to
//! write into template text (`model::is_value_path`); [`check`] guarantees
//! a new path is a value of the chart and an old one is none, so the schema
//! tree never puts a value under another. Nothing here runs unless the
//! policy has `spec.upgrades`.

use super::values::{self, Entry};
use crate::diag::{suggest, Diagnostic};
use crate::model::Model;
use crate::policy::load::Spans;
use serde_json::{json, Value};

/// What a values file could not say before the template runs: unset.
const UNSET: &str = "meshpack:unset";

/// Every (old, new) rename as dotted value paths, services first.
fn renames(m: &Model) -> Vec<(String, String)> {
    let u = &m.upgrades;
    u.renamed_services
        .iter()
        .map(|(o, n)| (format!("services.{o}"), format!("services.{n}")))
        .chain(u.renamed_values.iter().cloned())
        .collect()
}

fn removals(m: &Model) -> Vec<String> {
    let u = &m.upgrades;
    u.removed_services
        .iter()
        .map(|s| format!("services.{s}"))
        .chain(u.removed_values.iter().cloned())
        .collect()
}

/// Whether `path` is `at` or lies under it.
fn under(path: &str, at: &str) -> bool {
    path == at || path.starts_with(&format!("{at}."))
}

/// Value paths of `spec.upgrades` the chart cannot honour: a new path that
/// is no value of the chart, an old one that still is (or holds one, or
/// lies under one).
pub fn check(m: &Model, spans: &Spans) -> Vec<Diagnostic> {
    if m.upgrades.is_empty() {
        return vec![];
    }
    let entries = values::entries(m);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let mut out = vec![];
    let clash = |old: &str| {
        paths
            .iter()
            .find(|p| under(p, old) || under(old, p))
            .map(|p| p.to_string())
    };
    for (old, new) in &m.upgrades.renamed_values {
        let at = format!("spec.upgrades.renamed.values.{old}");
        if !paths.iter().any(|p| under(p, new)) {
            let help = match suggest(new, paths.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? The chart's values are listed in its values.yaml and README"),
                None => "name a value of this chart (its values.yaml and README list them)".into(),
            };
            out.push(
                Diagnostic::error(
                    "E0356",
                    format!("`{old}` is renamed to `{new}`, which is not a value of this chart"),
                )
                .at(spans.value(&at))
                .help(help),
            );
        }
        if let Some(p) = clash(old) {
            out.push(
                Diagnostic::error(
                    "E0357",
                    format!("`{old}` is renamed, but the chart still has the value `{p}`"),
                )
                .at(spans.key(&at))
                .help("an old key must be free in the new chart; remove the rename"),
            );
        }
    }
    for (i, old) in m.upgrades.removed_values.iter().enumerate() {
        if let Some(p) = clash(old) {
            out.push(
                Diagnostic::error(
                    "E0357",
                    format!("`{old}` is removed, but the chart still has the value `{p}`"),
                )
                .at(spans.value(&format!("spec.upgrades.removed.values[{i}]")))
                .help("an old key must be free in the new chart; remove it from spec.upgrades.removed.values"),
            );
        }
    }
    out
}

/// `entries` with the old keys added for the schema (not values.yaml).
pub fn extend(m: &Model, entries: &mut Vec<Entry>) {
    let mut added = vec![];
    for (old, new) in renames(m) {
        for e in entries.iter().filter(|e| under(&e.path, &new)) {
            let rest = &e.path[new.len()..];
            let mut schema = match e.schema.as_deref() {
                Some(Value::Object(o)) => o.clone(),
                _ => Default::default(),
            };
            schema.insert("deprecated".into(), json!(true));
            added.push(Entry {
                path: format!("{old}{rest}"),
                default: e.default.clone(),
                description: format!(
                    "Deprecated: renamed to `{new}{rest}`, where values set here apply. {}",
                    e.description
                )
                .into(),
                schema: Some(Value::Object(schema).into()),
                listed: false,
            });
        }
    }
    for old in removals(m) {
        added.push(Entry {
            path: old,
            default: Value::Null,
            description: "Deprecated: removed from the chart; accepted and ignored.".into(),
            schema: Some(json!({"deprecated": true, "x-kind": values::ANY}).into()),
            listed: false,
        });
    }
    entries.extend(added);
}

/// `{{ ... }}` of Helm that reads a dotted path of `.Values` into `$var`,
/// or [`UNSET`] when a values file did not set it.
fn read(var: &str, path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        [one] => format!(
            "{{{{- {var} := ternary (index $.Values \"{one}\") \"{UNSET}\" (hasKey $.Values \"{one}\") }}}}\n"
        ),
        [first, rest @ ..] => {
            let keys: Vec<String> = rest.iter().map(|k| format!("\"{k}\"")).collect();
            format!(
                "{{{{- {var} := dig {} \"{UNSET}\" (index $.Values \"{first}\" | default dict) }}}}\n",
                keys.join(" ")
            )
        }
        [] => unreachable!("value paths are not empty"),
    }
}

fn is_set(var: &str) -> String {
    format!("not (and (kindIs \"string\" {var}) (eq {var} \"{UNSET}\"))")
}

/// The helper every template includes first; empty without `spec.upgrades`.
pub fn helpers(m: &Model) -> String {
    let renames = renames(m);
    if renames.is_empty() {
        return String::new();
    }
    let entries = values::entries(m);
    let mut t = format!(
        "\n{{{{/*\nValues set under keys earlier versions of the chart had (spec.upgrades of\nthe policy) apply to the keys that replaced them. Idempotent: every\ntemplate includes it, in whatever order Helm renders them.\n*/}}}}\n{{{{- define \"{}.upgrades\" -}}}}\n",
        m.name
    );
    for (i, (old, new)) in renames.iter().enumerate() {
        let (o, p) = (format!("$old{i}"), format!("$at{i}"));
        t.push_str(&read(&o, old));
        t.push_str(&format!("{{{{- if {} }}}}\n", is_set(&o)));
        let parts: Vec<&str> = new.split('.').collect();
        let (last, parents) = parts.split_last().expect("value paths are not empty");
        let list: Vec<String> = parents.iter().map(|k| format!("\"{k}\"")).collect();
        t.push_str(&format!("{{{{- {p} := $.Values }}}}\n"));
        if !list.is_empty() {
            t.push_str(&format!(
                "{{{{- range (list {}) }}}}{{{{- if not (hasKey {p} .) }}}}{{{{- $_ := set {p} . dict }}}}{{{{- end }}}}{{{{- {p} = index {p} . }}}}{{{{- end }}}}\n",
                list.join(" ")
            ));
        }
        // A map (a service) merges key by key; a leaf is replaced.
        let leaf = entries.iter().any(|e| e.path == *new);
        if leaf {
            t.push_str(&format!("{{{{- $_ := set {p} \"{last}\" {o} }}}}\n"));
        } else {
            t.push_str(&format!(
                "{{{{- $_ := set {p} \"{last}\" (mergeOverwrite (deepCopy (index {p} \"{last}\" | default dict)) {o}) }}}}\n"
            ));
        }
        t.push_str("{{- end }}\n");
    }
    t.push_str("{{- end }}\n");
    t
}

/// The line each template opens with; `None` without renames.
pub fn template_line(m: &Model) -> Option<String> {
    (!renames(m).is_empty()).then(|| format!("{{{{- include \"{}.upgrades\" $ }}}}", m.name))
}

/// NOTES.txt lines warning about each old key a values file still sets.
pub fn notes(m: &Model) -> String {
    let mut t = String::new();
    for (i, (old, new)) in renames(m).iter().enumerate() {
        let o = format!("$renamed{i}");
        t.push_str(&read(&o, old));
        t.push_str(&format!(
            "{{{{- if {} }}}}\n\nWARNING: your values set `{old}`, which this chart renamed to `{new}`:\nthey apply to `{new}`. Rename the key in your values file; a later version\nmay stop accepting `{old}`.\n{{{{- end }}}}\n",
            is_set(&o)
        ));
    }
    for (i, old) in removals(m).iter().enumerate() {
        let o = format!("$removed{i}");
        t.push_str(&read(&o, old));
        t.push_str(&format!(
            "{{{{- if {} }}}}\n\nWARNING: your values set `{old}`, which this chart no longer has: they are\nignored. Remove them from your values file.\n{{{{- end }}}}\n",
            is_set(&o)
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 2.0.0\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n  upgrades:\n    renamed:\n      services: {frontend: web}\n      values: {services.web.replicaCount: services.web.replicas}\n    removed:\n      services: [legacy]\n      values: [serviceDefaults.extraEnv]\n";

    fn schema_of(m: &Model) -> Value {
        let mut e = values::entries(m);
        extend(m, &mut e);
        values::schema(m, &e)
    }

    #[test]
    fn schema_keeps_old_keys_deprecated() {
        let m = crate::compile_model(POLICY, None).unwrap();
        let s = schema_of(&m);
        let services = &s["properties"]["services"]["properties"];
        let def = |r: &Value| {
            let name = r["$ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            s["definitions"][name].clone()
        };
        let frontend = def(&services["frontend"]);
        assert_eq!(frontend["additionalProperties"], json!(false));
        assert_eq!(frontend["properties"]["replicas"]["type"], json!("integer"));
        assert_eq!(
            frontend["properties"]["replicas"]["deprecated"],
            json!(true)
        );
        assert_eq!(frontend["properties"]["replicas"]["minimum"], json!(0));
        assert!(frontend["properties"]["replicas"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Deprecated: renamed to `services.web.replicas`"));
        // The current service keeps its own, undeprecated shape.
        let web = def(&services["web"]);
        assert_eq!(web["properties"]["replicas"].get("deprecated"), None);
        assert_eq!(web["properties"]["replicaCount"]["type"], json!("integer"));
        assert_eq!(web["properties"]["replicaCount"]["deprecated"], json!(true));
        // Removed keys take anything.
        let legacy = def(&services["legacy"]);
        assert_eq!(legacy.get("type"), None);
        assert_eq!(legacy["deprecated"], json!(true));
        let extra = &s["properties"]["serviceDefaults"]["properties"]["extraEnv"];
        assert_eq!(extra.get("type"), None);
        assert_eq!(extra["deprecated"], json!(true));
    }

    #[test]
    fn helper_copies_old_keys_onto_new_ones() {
        let m = crate::compile_model(POLICY, None).unwrap();
        let h = helpers(&m);
        assert!(h.contains("{{- define \"shop.upgrades\" -}}\n"));
        assert!(h.contains("{{- $old0 := dig \"frontend\" \"meshpack:unset\" (index $.Values \"services\" | default dict) }}\n"));
        assert!(h.contains("{{- $_ := set $at0 \"web\" (mergeOverwrite (deepCopy (index $at0 \"web\" | default dict)) $old0) }}\n"));
        assert!(h.contains("{{- $_ := set $at1 \"replicas\" $old1 }}\n"));
        assert_eq!(
            template_line(&m).as_deref(),
            Some("{{- include \"shop.upgrades\" $ }}")
        );
        let n = notes(&m);
        assert!(n.contains("WARNING: your values set `services.frontend`, which this chart renamed to `services.web`:"));
        assert!(n.contains(
            "WARNING: your values set `services.legacy`, which this chart no longer has"
        ));
        assert!(n.contains(
            "WARNING: your values set `serviceDefaults.extraEnv`, which this chart no longer has"
        ));
    }

    #[test]
    fn refuses_paths_the_chart_cannot_honour() {
        let bad = POLICY
            .replace(
                "services.web.replicaCount: services.web.replicas",
                "services.web.replicas: services.web.replica",
            )
            .replace("[serviceDefaults.extraEnv]", "[serviceDefaults]");
        let d = crate::compile_model(&bad, None).unwrap_err();
        let got: Vec<(&str, usize)> = d.iter().map(|d| (d.code, d.pos.unwrap().line)).collect();
        assert_eq!(got, vec![("E0356", 11), ("E0357", 11), ("E0357", 14)]);
        assert!(d[0]
            .help
            .as_deref()
            .unwrap()
            .starts_with("did you mean `services.web.replicas`?"));
    }

    #[test]
    fn nothing_without_upgrades() {
        let plain = POLICY.split("  upgrades:").next().unwrap();
        let m = crate::compile_model(plain, None).unwrap();
        assert_eq!(helpers(&m), "");
        assert_eq!(notes(&m), "");
        assert_eq!(template_line(&m), None);
    }
}
