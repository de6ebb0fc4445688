//! Just enough X.509 to tell whether a PEM certificate is valid now: the
//! PEM armour, the DER walk from `Certificate` to `tbsCertificate.validity`
//! (RFC 5280 section 4.1), and UTCTime/GeneralizedTime (section 4.1.2.5).
//!
//! Invariant: reads bytes only; never panics on malformed input (every
//! length is checked); knows nothing of Kubernetes.

use base64::Engine;

/// The DER of every `CERTIFICATE` block of a PEM text.
pub fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = vec![];
    let mut body: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            let b = body.take().ok_or("END CERTIFICATE without BEGIN")?;
            out.push(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("certificate is not base64: {e}"))?,
            );
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    if out.is_empty() {
        return Err("no PEM CERTIFICATE block".into());
    }
    Ok(out)
}

/// One DER element: (tag, content, rest).
fn element(der: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let bad = || "malformed DER".to_string();
    let (&tag, rest) = der.split_first().ok_or_else(bad)?;
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// `notBefore` and `notAfter` as `YYYYMMDDHHMMSS`, comparable as strings.
pub fn validity(der: &[u8]) -> Result<(String, String), String> {
    let (_, cert, _) = element(der)?;
    let (_, tbs, _) = element(cert)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    for _ in 0..3 {
        // serialNumber, signature, issuer
        rest = element(rest)?.2;
    }
    let (_, validity, _) = element(rest)?;
    let (t1, nb, rest) = element(validity)?;
    let (t2, na, _) = element(rest)?;
    Ok((time(t1, nb)?, time(t2, na)?))
}

fn time(tag: u8, v: &[u8]) -> Result<String, String> {
    let s = std::str::from_utf8(v).map_err(|_| "malformed time")?;
    let digits = s.trim_end_matches('Z');
    match (tag, digits.len()) {
        // UTCTime: YYMMDDHHMMSS; years 50-99 are 19xx (RFC 5280 4.1.2.5.1)
        (0x17, 12) => {
            let century = if digits < "50" { "20" } else { "19" };
            Ok(format!("{century}{digits}"))
        }
        // GeneralizedTime: YYYYMMDDHHMMSS
        (0x18, 14) => Ok(digits.to_string()),
        _ => Err(format!("unsupported certificate time {s:?}")),
    }
}

/// Now as `YYYYMMDDHHMMSS` (UTC).
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    timestamp(secs)
}

/// Unix seconds as `YYYYMMDDHHMMSS`, by Howard Hinnant's `civil_from_days`.
pub fn timestamp(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with `openssl ca -selfsign -startdate 20200101000000Z -enddate
    /// 20210101000000Z` (P-256 key).
    const CERT: &str = include_str!(
        "../../../../tests/manifests/checks/M017-gateway-credential-invalid/expired.pem"
    );

    #[test]
    fn reads_validity() {
        let ders = pem_certificates(CERT).unwrap();
        assert_eq!(ders.len(), 1);
        assert_eq!(
            validity(&ders[0]).unwrap(),
            ("20200101000000".to_string(), "20210101000000".to_string())
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(pem_certificates("nothing").is_err());
        assert!(validity(&[0x30, 0x05, 0x01]).is_err());
        assert!(validity(&[]).is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(951_782_400), "20000229000000");
        assert_eq!(timestamp(1_796_083_200), "20261201000000");
    }
}
