//! M017 (IST0161): the Secret a Gateway server's `credentialName` names is
//! in the set but holds no usable certificate: no `tls.crt`/`tls.key` (or
//! `cert`/`key`) pair, a certificate that is not PEM, or one that has
//! expired or is not valid yet. The gateway then serves no TLS for it.
//! Semantics of Istio's `gateway/secret.go` (`kube.ExtractCertInfo`, then
//! `xds.ValidateCertificate`). Istio looks the Secret up in the namespace
//! of the gateway's pods; when those are not in the set (a rendered
//! chart), meshpack looks it up in every namespace of the set. A Secret
//! that is not in the set at all is M006's finding.

use super::x509;
use super::{string_map, Set};
use crate::manifest::Node;
use base64::Engine;

/// A data key of a Secret, decoded (`data` is base64, `stringData` plain).
fn key(secret: &Node, name: &str) -> Option<Vec<u8>> {
    if let Some(s) = secret["stringData"][name].as_str() {
        return Some(s.as_bytes().to_vec());
    }
    let d = secret["data"][name].as_str()?;
    base64::engine::general_purpose::STANDARD.decode(d).ok()
}

/// Why the Secret holds no valid certificate, or None when it does.
fn problem(secret: &Node, now: &str) -> Option<String> {
    let pair = [("cert", "key"), ("tls.crt", "tls.key")]
        .into_iter()
        .find_map(|(c, k)| match (key(secret, c), key(secret, k)) {
            (Some(c), Some(k)) if !c.is_empty() && !k.is_empty() => Some(c),
            _ => None,
        });
    let Some(cert) = pair else {
        return Some("has no non-empty tls.crt and tls.key (or cert and key)".into());
    };
    let text = String::from_utf8_lossy(&cert);
    let ders = match x509::pem_certificates(&text) {
        Ok(d) => d,
        Err(e) => return Some(format!("certificate unreadable: {e}")),
    };
    for der in ders {
        match x509::validity(&der) {
            Err(e) => return Some(format!("certificate unreadable: {e}")),
            Ok((_, not_after)) if not_after.as_str() < now => {
                return Some(format!("certificate expired at {}", pretty(&not_after)))
            }
            Ok((not_before, _)) if not_before.as_str() > now => {
                return Some(format!(
                    "certificate is not valid before {}",
                    pretty(&not_before)
                ))
            }
            Ok(_) => {}
        }
    }
    None
}

fn pretty(t: &str) -> String {
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[8..10],
        &t[10..12],
        &t[12..14]
    )
}

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let ix = set.analysis();
    let now = x509::now();
    let mut secrets_by_name: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for ((_, name), i) in &ix.secrets {
        secrets_by_name.entry(name.as_str()).or_default().push(*i);
    }
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "Gateway") {
        let sel = string_map(&o.value["spec"]["selector"]);
        let pod_ns = ix
            .select_any(set, &sel)
            .first()
            .map(|w| set.workloads[*w].namespace.clone());
        for s in o.value["spec"]["servers"].as_array().into_iter().flatten() {
            let Some(cn) = s["tls"]["credentialName"]
                .as_str()
                .filter(|c| !c.is_empty())
            else {
                continue;
            };
            let mut candidates: Vec<usize> = match &pod_ns {
                Some(ns) => ix
                    .secrets
                    .get(&(ns.to_string(), cn.to_string()))
                    .into_iter()
                    .copied()
                    .collect(),
                None => secrets_by_name.get(cn).cloned().unwrap_or_default(),
            };
            candidates.sort();
            for sec in candidates {
                if let Some(why) = problem(&set.objects[sec].value, &now) {
                    out.push((
                        i,
                        format!(
                            "credentialName {cn}: Secret {}/{cn} {why}; the gateway serves no TLS for these hosts until it holds a valid certificate and key",
                            set.ns(sec)
                        ),
                    ));
                }
            }
        }
    }
    out
}
