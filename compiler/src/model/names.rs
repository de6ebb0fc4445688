//! Every name of a policy that becomes a Kubernetes name or value goes
//! through [`check`] with the rule Kubernetes applies to the field it
//! lands in, so a name that compiles also installs.
//!
//! Invariant: the resolver never tests a name's shape another way; each
//! [`Rule`] cites the Kubernetes validation it mirrors
//! (k8s.io/apimachinery/pkg/util/validation, validation.go).
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/names/

/// What Kubernetes requires of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `IsDNS1035Label`: Service names, and so service, gateway and release names.
    Dns1035Label,
    /// `IsDNS1123Label`: namespaces.
    Dns1123Label,
    /// `IsDNS1123Subdomain`: most object names (Secrets, ServiceAccounts,
    /// StorageClasses, cert-manager issuers).
    Dns1123Subdomain,
    /// `IsEnvVarName` under RelaxedEnvironmentVariableValidation (GA in
    /// Kubernetes 1.34): printable ASCII but `=`. A newline or other control
    /// character is refused by every version.
    EnvVarName,
    /// `IsConfigMapKey`: the key of a ConfigMap or Secret (`secretKeyRef.key`,
    /// `configMapKeyRef.key`): at most 253 letters, digits, `-`, `_` and
    /// `.`, and neither `.`, `..` nor starting with `..`.
    ConfigMapKey,
    /// An image registry: `host[:port][/path]` as Docker reads references.
    Registry,
    /// `IsQualifiedName`: label keys (`[prefix/]name`, the prefix a DNS-1123
    /// subdomain, the name at most 63 alphanumerics, `-`, `_`, `.`).
    LabelKey,
    /// `IsValidLabelValue`: empty, or a name as in a label key.
    LabelValue,
}

impl Rule {
    /// What the rule accepts, said for a person (the diagnostic's help).
    pub fn expected(self) -> &'static str {
        match self {
            Rule::Dns1035Label => "a DNS-1035 label: lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit, at most 63 characters",
            Rule::Dns1123Label => "a DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters",
            Rule::Dns1123Subdomain => "a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`, each dot-separated part starting and ending with a letter or digit, at most 253 characters",
            Rule::EnvVarName => "printable ASCII characters except `=`, at least one",
            Rule::ConfigMapKey => "a key of letters, digits, `-`, `_` and `.`, at most 253 characters, other than `.` and `..` and not starting with `..`",
            Rule::Registry => "a registry host with an optional port and path, e.g. `registry.example.com:5000/team`",
            Rule::LabelKey => "a label key: an optional DNS-1123 subdomain and `/`, then at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            Rule::LabelValue => "a label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
        }
    }
}

/// Whether `s` satisfies `rule`.
pub fn check(rule: Rule, s: &str) -> bool {
    match rule {
        Rule::Dns1035Label => label(s, 63) && s.starts_with(|c: char| c.is_ascii_lowercase()),
        Rule::Dns1123Label => label(s, 63),
        Rule::Dns1123Subdomain => s.len() <= 253 && s.split('.').all(|l| label(l, 63)),
        Rule::EnvVarName => {
            !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'=')
        }
        Rule::ConfigMapKey => {
            !s.is_empty()
                && s.len() <= 253
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && !s.starts_with("..")
                && s != "."
        }
        Rule::Registry => registry(s),
        Rule::LabelKey => match s.split_once('/') {
            Some((prefix, name)) => {
                check(Rule::Dns1123Subdomain, prefix) && qualified_name_part(name)
            }
            None => qualified_name_part(s),
        },
        Rule::LabelValue => s.is_empty() || qualified_name_part(s),
    }
}

/// The name of a qualified name, and a non-empty label value:
/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters.
fn qualified_name_part(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    s.len() <= 63
        && edge(s.chars().next())
        && edge(s.chars().last())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Lowercase letters, digits and `-`, starting and ending with a letter or digit.
fn label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `host[:port][/path]`: a host of DNS labels (letters of any case, as
/// registries are case-insensitive) or `localhost`, an optional numeric
/// port, path components of lowercase letters, digits and `._-`.
/// https://github.com/distribution/reference/blob/main/reference.go
fn registry(s: &str) -> bool {
    let (hostport, path) = s.split_once('/').unwrap_or((s, ""));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok = !hostport.contains(':') || port.parse::<u16>().is_ok_and(|p| p > 0);
    let path_ok = !s.contains('/')
        || path.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    host_ok && port_ok && path_ok
}

/// Why `<release>-<object>` does not fit in `limit` characters with the
/// release part at least [`super::MIN_FULLNAME`] long (the chart cuts longer
/// release names to fit; below that, releases in one namespace collide and
/// at 0 names start with `-`), or `None` when it fits. The release part is
/// taken as the policy name when that is longer, as a release named after
/// the chart renders it so.
pub fn release_room(app: &str, object: &str, limit: usize) -> Option<String> {
    let release = app.len().max(super::MIN_FULLNAME);
    if release + 1 + object.len() <= limit {
        return None;
    }
    Some(if app.len() > super::MIN_FULLNAME {
        format!(
            "`{app}-{object}` is {} characters; object names stop at {limit}",
            app.len() + 1 + object.len()
        )
    } else {
        format!(
            "`<release>-{object}` leaves the release part {} of {limit} characters; it keeps at least {}",
            (limit - 1).saturating_sub(object.len()),
            super::MIN_FULLNAME
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(check(Rule::Dns1035Label, "api-2"));
        for bad in ["2api", "Api", "a-", "", "a\nb", "a_b", &"a".repeat(64)] {
            assert!(!check(Rule::Dns1035Label, bad), "{bad:?}");
        }
        for good in [
            "tls.crt",
            "DB_PASSWORD",
            "a-b",
            ".env",
            "x..y",
            &"k".repeat(253),
        ] {
            assert!(check(Rule::ConfigMapKey, good), "{good:?}");
        }
        for bad in ["", ".", "..", "..x", "a/b", "a b", "é", &"k".repeat(254)] {
            assert!(!check(Rule::ConfigMapKey, bad), "{bad:?}");
        }
        assert!(check(Rule::Dns1123Label, "2api"));
        assert!(check(Rule::Dns1123Subdomain, "fast.ssd-1"));
        for bad in ["no\n", "a..b", ".a", "A", "a b", &"a".repeat(254)] {
            assert!(!check(Rule::Dns1123Subdomain, bad), "{bad:?}");
        }
        assert!(check(Rule::EnvVarName, "KEY: WITH {{ braces }}"));
        for bad in ["", "A=B", "A\nB", "A\tB", "É"] {
            assert!(!check(Rule::EnvVarName, bad), "{bad:?}");
        }
        for good in [
            "quay.io",
            "quay.io/evalhub",
            "localhost:5000/a/b",
            "Registry.Example.com",
        ] {
            assert!(check(Rule::Registry, good), "{good:?}");
        }
        for bad in [
            "quay.io\ndependencies:",
            "quay.io/",
            "a:b",
            "a:0",
            "a/B",
            "a b",
            "",
        ] {
            assert!(!check(Rule::Registry, bad), "{bad:?}");
        }
        for good in ["app", "app.kubernetes.io/name", "A_b.c-9", &"a".repeat(63)] {
            assert!(check(Rule::LabelKey, good), "{good:?}");
        }
        for bad in [
            "",
            "bad key!",
            "/name",
            "Example.com/x",
            "a/b/c",
            "-a",
            "a_",
            &"a".repeat(64),
        ] {
            assert!(!check(Rule::LabelKey, bad), "{bad:?}");
        }
        for good in ["", "web", "v1.2_3-x"] {
            assert!(check(Rule::LabelValue, good), "{good:?}");
        }
        for bad in ["x y", "{{ .Values.x }}", "a/b", "-a", &"a".repeat(64)] {
            assert!(!check(Rule::LabelValue, bad), "{bad:?}");
        }
    }

    #[test]
    fn release_room_keeps_eight_characters_for_the_release() {
        // 8 + 1 + 54 = 63: fits exactly; one more does not.
        assert_eq!(release_room("hp", &"a".repeat(54), 63), None);
        assert_eq!(
            release_room("hp", &"a".repeat(55), 63).as_deref(),
            Some(format!("`<release>-{}` leaves the release part 7 of 63 characters; it keeps at least 8", "a".repeat(55)).as_str())
        );
        // A policy name longer than 8 is the release part a release named
        // after the chart renders.
        assert_eq!(release_room("a-long-app-name", &"b".repeat(47), 63), None);
        assert_eq!(
            release_room("a-long-app-name", &"b".repeat(48), 63).as_deref(),
            Some(
                format!(
                    "`a-long-app-name-{}` is 64 characters; object names stop at 63",
                    "b".repeat(48)
                )
                .as_str()
            )
        );
    }
}
