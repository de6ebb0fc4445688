//! Stage 2: merge a built-in profile under the policy's own settings.
//!
//! A profile is a partial policy (`profiles/<name>.yaml`, compiled into the
//! binary). Every setting the policy gives wins; the profile fills the rest.

use crate::diag::{suggest, Diagnostic, Pos};
use crate::policy::{self, ProfileFile, ServiceDefaults, Settings, Spec};

/// The built-in profiles, by name.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    ("strict", include_str!("../../profiles/strict.yaml")),
    ("permissive", include_str!("../../profiles/permissive.yaml")),
    ("ambient", include_str!("../../profiles/ambient.yaml")),
];

pub(crate) const DEFAULT: &str = "strict";

pub(crate) fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// Load a built-in profile; `at` is where the policy names it.
pub(crate) fn find(name: &str, at: Option<Pos>) -> Result<Settings, Diagnostic> {
    let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) else {
        let mut d = Diagnostic::error("E0101", format!("unknown profile `{name}`")).at(at);
        d = match suggest(name, names()) {
            Some(s) => d.help(format!(
                "did you mean `{s}`? known profiles: {}",
                names().join(", ")
            )),
            None => d.help(format!("known profiles: {}", names().join(", "))),
        };
        return Err(d);
    };
    let loaded = policy::load::<ProfileFile>(text)
        .unwrap_or_else(|e| panic!("built-in profile {name} is invalid: {e:?}"));
    Ok(loaded.doc.spec)
}

/// The policy's settings over the profile's.
pub(crate) fn merge(spec: &Spec, profile: Settings) -> Settings {
    let d = spec.defaults.clone().unwrap_or_default();
    let p = profile.defaults.unwrap_or_default();
    Settings {
        mtls: spec.mtls.or(profile.mtls),
        authorization: spec.authorization.clone().or(profile.authorization),
        dataplane: spec.dataplane.or(profile.dataplane),
        defaults: Some(ServiceDefaults {
            resources: d.resources.or(p.resources),
            read_only_root_filesystem: d.read_only_root_filesystem.or(p.read_only_root_filesystem),
            run_as_user: d.run_as_user.or(p.run_as_user),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::MtlsMode;

    #[test]
    fn builtin_profiles_load() {
        for n in names() {
            find(n, None).unwrap();
        }
        let p = find("permissive", None).unwrap();
        assert_eq!(p.mtls, Some(MtlsMode::Permissive));
        assert_eq!(p.authorization.unwrap().dry_run, Some(true));
    }

    #[test]
    fn unknown_profile_suggests() {
        let e = find("strikt", None).unwrap_err();
        assert_eq!(e.code, "E0101");
        assert!(e.help.unwrap().starts_with("did you mean `strict`?"));
    }

    #[test]
    fn policy_wins_over_profile() {
        let spec = Spec {
            mtls: Some(MtlsMode::Disable),
            ..Default::default()
        };
        let m = merge(&spec, find("permissive", None).unwrap());
        assert_eq!(m.mtls, Some(MtlsMode::Disable));
        assert_eq!(m.authorization.unwrap().dry_run, Some(true));
        assert_eq!(m.defaults.unwrap().run_as_user, Some(10001));
    }
}
