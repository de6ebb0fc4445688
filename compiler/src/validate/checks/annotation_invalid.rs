//! M056 (IST0125): an Istio annotation whose value the injector refuses
//! (an interception mode it does not know, a port or CIDR list it cannot
//! parse, a boolean that is not one): the pod is then rejected or injected
//! without the setting.
//! Semantics of Istio's `annotations.K8sAnalyzer` with the value checks of
//! `pkg/kube/inject/validate.go` (`AnnotationValidation`), reported only for
//! annotations on a kind they apply to (a misplaced one is M054). Go's
//! parsers are mirrored: `strconv.ParseUint`, `strconv.ParseBool`,
//! `netip.ParsePrefix`. `proxy.istio.io/config` is checked to be a YAML
//! mapping; Istio also validates each ProxyConfig field, which meshpack
//! does not.
//! <https://github.com/istio/istio/blob/master/pkg/kube/inject/validate.go>

use super::annotations::{self, applies_to};
use super::Set;
use std::net::IpAddr;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for p in annotations::places(set) {
        for (name, value, def) in p.istio() {
            if !def.is_some_and(|d| applies_to(d, p.kind)) {
                continue;
            }
            if let Err(problem) = validate(name, value) {
                out.push((
                    p.object,
                    format!(
                        "{}: annotation {name}: {value:?} is not valid: {problem}",
                        p.path
                    ),
                ));
            }
        }
    }
    out
}

/// Istio's `AnnotationValidation[name](value)`; annotations without a
/// validation are valid.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    match name {
        "sidecar.istio.io/interceptionMode" => match value {
            "REDIRECT" | "TPROXY" | "NONE" => Ok(()),
            _ => Err("use REDIRECT, TPROXY or NONE".into()),
        },
        "status.sidecar.istio.io/port" => port(value).map(|_| ()),
        "readiness.status.sidecar.istio.io/initialDelaySeconds"
        | "readiness.status.sidecar.istio.io/periodSeconds"
        | "readiness.status.sidecar.istio.io/failureThreshold" => uint32(value),
        "traffic.sidecar.istio.io/includeOutboundIPRanges" if value == "*" => Ok(()),
        "traffic.sidecar.istio.io/includeOutboundIPRanges"
        | "traffic.sidecar.istio.io/excludeOutboundIPRanges" => cidrs(value),
        "traffic.sidecar.istio.io/includeInboundPorts" if value == "*" => Ok(()),
        "traffic.sidecar.istio.io/includeInboundPorts"
        | "traffic.sidecar.istio.io/excludeInboundPorts"
        | "traffic.sidecar.istio.io/excludeOutboundPorts" => ports(value),
        "prometheus.istio.io/merge-metrics" => match value {
            "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false"
            | "False" => Ok(()),
            _ => Err("expected a boolean (true or false)".into()),
        },
        "proxy.istio.io/config" => match super::super::yaml11::parse(value) {
            Ok(serde_json::Value::Object(_) | serde_json::Value::Null) => Ok(()),
            Ok(_) => Err("expected a ProxyConfig as a YAML mapping".into()),
            Err(e) => Err(format!("not YAML ({})", e.message)),
        },
        _ => Ok(()),
    }
}

/// `strconv.ParseUint(s, 10, 32)`: decimal digits only (no sign, no spaces).
fn uint32(s: &str) -> Result<(), String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok() {
        Ok(())
    } else {
        Err("expected an unsigned 32-bit integer".into())
    }
}

/// Istio's `parsePort`: trimmed, `strconv.ParseUint(s, 10, 16)`.
fn port(s: &str) -> Result<u16, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(p) = t.parse::<u16>() {
            return Ok(p);
        }
    }
    Err(format!("{s:?} is not a port number (0-65535)"))
}

/// Istio's `parsePorts`: a comma-separated list, empty allowed.
fn ports(s: &str) -> Result<(), String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(());
    }
    t.split(',').try_for_each(|p| port(p).map(|_| ()))
}

/// Istio's `validateCIDRList`: comma-separated `netip.ParsePrefix` values
/// (no spaces; the address need not be masked), empty allowed.
fn cidrs(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    for c in s.split(',') {
        let bad = || Err(format!("{c:?} is not a CIDR (address/bits, no spaces)"));
        let Some((addr, bits)) = c.split_once('/') else {
            return bad();
        };
        let Ok(addr) = addr.parse::<IpAddr>() else {
            return bad();
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let digits = !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit());
        let no_leading_zero = bits == "0" || !bits.starts_with('0');
        if !digits || !no_leading_zero || !bits.parse::<u32>().is_ok_and(|b| b <= max) {
            return bad();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;
    use super::validate;

    #[test]
    fn values_as_the_injector_parses_them() {
        let ok = [
            ("sidecar.istio.io/interceptionMode", "TPROXY"),
            ("status.sidecar.istio.io/port", " 15020 "),
            ("readiness.status.sidecar.istio.io/periodSeconds", "10"),
            ("traffic.sidecar.istio.io/includeOutboundIPRanges", "*"),
            (
                "traffic.sidecar.istio.io/excludeOutboundIPRanges",
                "10.0.0.1/8,fd00::/8",
            ),
            ("traffic.sidecar.istio.io/excludeOutboundIPRanges", ""),
            ("traffic.sidecar.istio.io/includeInboundPorts", "*"),
            ("traffic.sidecar.istio.io/excludeInboundPorts", "8080, 9090"),
            ("prometheus.istio.io/merge-metrics", "False"),
            (
                "proxy.istio.io/config",
                "holdApplicationUntilProxyStarts: true",
            ),
            ("sidecar.istio.io/proxyCPU", "anything"),
        ];
        for (n, v) in ok {
            assert_eq!(validate(n, v), Ok(()), "{n}={v}");
        }
        let bad = [
            ("sidecar.istio.io/interceptionMode", "redirect"),
            ("status.sidecar.istio.io/port", "70000"),
            ("readiness.status.sidecar.istio.io/periodSeconds", "+10"),
            ("readiness.status.sidecar.istio.io/failureThreshold", "-1"),
            ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "*"),
            (
                "traffic.sidecar.istio.io/includeOutboundIPRanges",
                "10.0.0.0",
            ),
            (
                "traffic.sidecar.istio.io/includeOutboundIPRanges",
                "10.0.0.0/8, 10.1.0.0/16",
            ),
            (
                "traffic.sidecar.istio.io/includeOutboundIPRanges",
                "10.0.0.0/33",
            ),
            ("traffic.sidecar.istio.io/excludeOutboundPorts", "80,http"),
            ("traffic.sidecar.istio.io/excludeInboundPorts", "*"),
            ("prometheus.istio.io/merge-metrics", "yes"),
            ("proxy.istio.io/config", "- a list"),
        ];
        for (n, v) in bad {
            assert!(validate(n, v).is_err(), "{n}={v}");
        }
    }

    #[test]
    fn reports_only_where_the_annotation_applies() {
        let got = check(
            super::run,
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {sidecar.istio.io/interceptionMode: bad}}
spec:
  template:
    metadata: {annotations: {sidecar.istio.io/interceptionMode: redirect}}
    spec: {containers: [{name: web, image: x:1}]}
",
        );
        assert_eq!(
            got,
            vec![(
                "Deployment/shop/web".to_string(),
                "spec.template.metadata.annotations: annotation sidecar.istio.io/interceptionMode: \"redirect\" is not valid: use REDIRECT, TPROXY or NONE".to_string()
            )]
        );
    }
}
