//! `spec.upgrades`: services and chart values that earlier chart versions
//! had under other names, or had and no longer do.
//!
//! Invariant: every old name is a DNS-1035 label and every value path a
//! dotted path of `[A-Za-z0-9_-]` segments, so both can be written into
//! template text and schema keys as they are; a renamed service's new name
//! is a service of this policy and its old name is not. Whether a value
//! path is a chart value is `package::upgrades`' to check (the model knows
//! no chart values).

use super::Resolver;
use crate::diag::suggest;
use crate::policy;

/// What earlier versions of the chart called otherwise or had.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Upgrades {
    /// (old service, new service), sorted by the old name.
    pub renamed_services: Vec<(String, String)>,
    pub removed_services: Vec<String>,
    /// (old value path, new value path), dotted.
    pub renamed_values: Vec<(String, String)>,
    pub removed_values: Vec<String>,
}

impl Upgrades {
    pub fn is_empty(&self) -> bool {
        *self == Upgrades::default()
    }
}

/// Whether `p` is a dotted values path meshpack can write into a template.
pub fn is_value_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|s| {
            !s.is_empty()
                && s.len() <= 63
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Resolver<'_> {
    pub(super) fn upgrades(
        &mut self,
        doc: &policy::PolicyFile,
        services: &[super::Service],
    ) -> Upgrades {
        let Some(u) = &doc.spec.upgrades else {
            return Upgrades::default();
        };
        if doc.api_version != policy::POLICY_API_VERSION {
            self.err_key(
                "E0351",
                "spec.upgrades",
                format!(
                    "`spec.upgrades` needs apiVersion `{}`",
                    policy::POLICY_API_VERSION
                ),
                "run `meshpack migrate FILE` to move the policy to the current apiVersion".into(),
            );
        }
        let current: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        let mut out = Upgrades::default();
        for (old, new) in &u.renamed.services {
            let path = format!("spec.upgrades.renamed.services.{old}");
            self.name_key(
                super::names::Rule::Dns1035Label,
                "E0202",
                &path,
                old,
                "a service name",
            );
            if current.contains(&old.as_str()) {
                self.err_key(
                    "E0352",
                    &path,
                    format!("`{old}` is renamed but is still a service of this policy"),
                    format!(
                        "remove `{old}` from spec.services, or from spec.upgrades.renamed.services"
                    ),
                );
            }
            if !current.contains(&new.as_str()) {
                let help = match suggest(new, current.iter().copied()) {
                    Some(s) => {
                        format!("did you mean `{s}`? A rename names a service of spec.services")
                    }
                    None => "a rename names a service of spec.services".to_string(),
                };
                self.err(
                    "E0353",
                    &path,
                    format!("`{old}` is renamed to `{new}`, which is not a service of this policy"),
                    help,
                );
            }
            if u.removed.services.contains(old) {
                self.err_key(
                    "E0354",
                    &path,
                    format!("`{old}` is both renamed and removed"),
                    "keep it under one of spec.upgrades.renamed and spec.upgrades.removed".into(),
                );
            }
            out.renamed_services.push((old.clone(), new.clone()));
        }
        for (i, old) in u.removed.services.iter().enumerate() {
            let path = format!("spec.upgrades.removed.services[{i}]");
            self.name(
                super::names::Rule::Dns1035Label,
                "E0202",
                &path,
                old,
                "a service name",
            );
            if current.contains(&old.as_str()) {
                self.err(
                    "E0352",
                    &path,
                    format!("`{old}` is removed but is still a service of this policy"),
                    format!(
                        "remove `{old}` from spec.services, or from spec.upgrades.removed.services"
                    ),
                );
            }
            if u.removed.services[..i].contains(old) {
                self.err(
                    "E0354",
                    &path,
                    format!("`{old}` is removed twice"),
                    "list it once".into(),
                );
            }
            out.removed_services.push(old.clone());
        }
        let bad_path = |p: &str| !is_value_path(p);
        let path_help = "write a dotted chart value path, e.g. `services.api.replicas` (letters, digits, `-` and `_` between the dots)";
        for (old, new) in &u.renamed.values {
            let path = format!("spec.upgrades.renamed.values.{old}");
            for (p, which) in [(old, "old"), (new, "new")] {
                if bad_path(p) {
                    let msg = format!(
                        "`{}` is not a chart value path ({which} name)",
                        crate::diag::visible(p)
                    );
                    if which == "old" {
                        self.err_key("E0355", &path, msg, path_help.into());
                    } else {
                        self.err("E0355", &path, msg, path_help.into());
                    }
                }
            }
            out.renamed_values.push((old.clone(), new.clone()));
        }
        for (i, old) in u.removed.values.iter().enumerate() {
            if bad_path(old) {
                self.err(
                    "E0355",
                    &format!("spec.upgrades.removed.values[{i}]"),
                    format!("`{}` is not a chart value path", crate::diag::visible(old)),
                    path_help.into(),
                );
            }
            if u.renamed.values.contains_key(old) {
                self.err(
                    "E0354",
                    &format!("spec.upgrades.removed.values[{i}]"),
                    format!("`{old}` is both renamed and removed"),
                    "keep it under one of spec.upgrades.renamed and spec.upgrades.removed".into(),
                );
            }
            out.removed_values.push(old.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::compile_model;

    const BASE: &str = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: shop}\nspec:\n  version: 1.0.0\n  services:\n    web: {image: 'r.example.com/web:1', ports: {http: 8080}}\n    db: {image: 'r.example.com/db:1', ports: {tcp-pg: 5432}}\n";

    fn codes(extra: &str) -> Vec<(&'static str, usize)> {
        match compile_model(&format!("{BASE}{extra}"), None) {
            Ok(_) => vec![],
            Err(d) => d
                .iter()
                .map(|d| (d.code, d.pos.map_or(0, |p| p.line)))
                .collect(),
        }
    }

    #[test]
    fn resolves_renames_and_removals() {
        let m = compile_model(
            &format!("{BASE}  upgrades:\n    renamed:\n      services: {{frontend: web}}\n      values: {{services.web.replicaCount: services.web.replicas}}\n    removed:\n      services: [legacy]\n      values: [services.web.storage.size]\n"),
            None,
        )
        .unwrap();
        let u = &m.upgrades;
        assert_eq!(
            u.renamed_services,
            vec![("frontend".to_string(), "web".to_string())]
        );
        assert_eq!(u.removed_services, vec!["legacy".to_string()]);
        assert_eq!(
            u.renamed_values,
            vec![(
                "services.web.replicaCount".to_string(),
                "services.web.replicas".to_string()
            )]
        );
        assert_eq!(
            u.removed_values,
            vec!["services.web.storage.size".to_string()]
        );
    }

    #[test]
    fn reports_each_mistake_at_its_line() {
        // Line 9 is `upgrades:`, 11 the renamed services, 13 the removed.
        let bad = "  upgrades:\n    renamed:\n      services: {web: db, old: wbe}\n    removed:\n      services: [db, old, 'Bad_Name']\n      values: ['a..b']\n";
        let mut got = codes(bad);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("E0202", 13),
                ("E0352", 11),
                ("E0352", 13),
                ("E0353", 11),
                ("E0354", 11),
                ("E0355", 14),
            ]
        );
    }

    #[test]
    fn upgrades_need_v1alpha2() {
        let old = BASE.replace("v1alpha2", "v1alpha1");
        let d = compile_model(
            &format!("{old}  upgrades:\n    removed:\n      services: [legacy]\n"),
            None,
        )
        .unwrap_err();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "E0351");
        assert_eq!(d[0].pos.map(|p| (p.line, p.col)), Some((9, 3)));
        assert!(d[0].help.as_deref().unwrap().contains("meshpack migrate"));
    }
}
