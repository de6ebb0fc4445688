//! Syntax checks of the strings a policy holds (DNS names, hosts, port
//! names, SemVer, quantities, Go durations) and the parsing of image
//! references.
//!
//! Invariant: pure functions of a string, no diagnostics: the resolver
//! decides the code, position and help of what they refuse.

use super::{names, Image};

/// DNS-1035 label: what Kubernetes requires of Service names.
pub fn is_dns_label(s: &str) -> bool {
    names::check(names::Rule::Dns1035Label, s)
}

/// A Go duration (`1h30m`, `500ms`, `2.5s`), as Istio and CEL read them;
/// in seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let mut rest = s;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit, len) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, f)| (*f, u.len()))?;
        total += n * unit;
        rest = &rest[len..];
    }
    Some(total)
}

pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    names::check(names::Rule::Dns1123Subdomain, s)
}

pub(super) fn is_host(s: &str, wildcard: bool) -> bool {
    let rest = if wildcard {
        s.strip_prefix("*.").unwrap_or(s)
    } else {
        s
    };
    rest.contains('.') && is_dns_subdomain(rest)
}

/// IANA service name, as Kubernetes checks port names.
pub(super) fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

pub(super) fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            // Helm (Masterminds/semver) reads each part as a uint64.
            p.parse::<u64>().is_ok()
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
        && s[core.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c))
}

pub(super) fn is_quantity(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    !digits.is_empty()
        && digits.parse::<f64>().is_ok()
        && [
            "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
        ]
        .contains(&suffix)
}

/// `[registry/]repository[:tag][@sha256:digest]`, Docker's rule for what a
/// registry is: a first component with `.` or `:`, or `localhost`.
pub fn parse_image(reference: &str, default_registry: Option<&str>) -> Result<Image, String> {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => {
            let hex = d.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64
                || !hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return Err(format!("`{d}` is not a sha256 digest"));
            }
            (r, d.to_string())
        }
        None => (reference, String::new()),
    };
    let (name, tag) = match rest.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t.to_string()),
        _ => (rest, String::new()),
    };
    if tag.is_empty() && digest.is_empty() {
        return Err(format!("image `{reference}` has neither tag nor digest"));
    }
    if tag == "latest" && digest.is_empty() {
        return Err(format!("image `{reference}` uses the movable tag `latest`"));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
        || name.contains("//")
    {
        return Err(format!("`{reference}` is not an image reference"));
    }
    let first = name.split('/').next().unwrap_or("");
    let explicit =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let (registry, repository) = if explicit {
        let (r, repo) = name.split_once('/').unwrap_or((name, ""));
        (r.to_string(), repo.to_string())
    } else {
        match default_registry {
            Some(d) => {
                // `quay.io/evalhub` names a registry and a repository prefix.
                let (r, prefix) = d.split_once('/').unwrap_or((d, ""));
                let repo = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{}/{name}", prefix.trim_end_matches('/'))
                };
                (r.to_string(), repo)
            }
            None => (String::new(), name.to_string()),
        }
    };
    Ok(Image {
        registry,
        repository,
        tag,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        let i = parse_image("frontend:2.3.0", Some("quay.io/evalhub")).unwrap();
        assert_eq!(
            (i.registry.as_str(), i.repository.as_str(), i.tag.as_str()),
            ("quay.io", "evalhub/frontend", "2.3.0")
        );
        let i = parse_image("docker.io/library/postgres:16.4", Some("quay.io/evalhub")).unwrap();
        assert_eq!(
            (i.registry.as_str(), i.repository.as_str()),
            ("docker.io", "library/postgres")
        );
        let i = parse_image("localhost:5000/a/b:1", None).unwrap();
        assert_eq!(
            (i.registry.as_str(), i.repository.as_str(), i.tag.as_str()),
            ("localhost:5000", "a/b", "1")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let i = parse_image(&format!("x/y@{d}"), None).unwrap();
        assert_eq!(
            (
                i.registry.as_str(),
                i.repository.as_str(),
                i.tag.as_str(),
                i.digest.as_str()
            ),
            ("", "x/y", "", d.as_str())
        );
        assert!(parse_image("x/y", None)
            .unwrap_err()
            .contains("neither tag nor digest"));
        assert!(parse_image("x:latest", None)
            .unwrap_err()
            .contains("latest"));
        assert!(parse_image("x@sha256:12", None).is_err());
        assert!(parse_image("X:1", None).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(5.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5 s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn names() {
        assert!(is_dns_label("api-2"));
        assert!(!is_dns_label("2api"));
        assert!(!is_dns_label("Api"));
        assert!(!is_dns_label("../../etc"));
        assert!(is_port_name("http-metrics"));
        assert!(!is_port_name("http-metrics-long"));
        assert!(!is_port_name("8080"));
        assert!(
            is_semver("2.3.0")
                && is_semver("1.0.0-rc.1+b5")
                && !is_semver("2.3")
                && !is_semver("01.2.3")
        );
        assert!(is_quantity("20Gi") && is_quantity("0.5") && !is_quantity("20GB"));
        assert!(is_host("*.s3.amazonaws.com", true) && !is_host("localhost", true));
    }
}
