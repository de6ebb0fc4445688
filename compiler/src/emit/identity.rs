//! How an AuthorizationPolicy rule names the identities it admits, and
//! how a Sidecar names the release's Services: namespace-portable from
//! Istio 1.25 on, with principals (and FQDNs) embedding the namespace before.
//!
//! Invariant: the choice is `istio.version` in the chart and the portable
//! form in the Kustomize tree (the chart's default), so the tree holds no
//! string with the release namespace in it for these fields and a plain
//! `namespace:` in any overlay is enough.
//!
//! `source.serviceAccounts` (Istio 1.25+): `<ns>/<sa>`, or a bare `<sa>`
//! meaning the policy's own namespace (istio/api#3417); the CRD's CEL rules
//! allow at most 16 entries per source and no `principals` or `namespaces`
//! beside it, so a long list is split into several sources (OR'ed).
//! <https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source>

use super::out::{self, template_text};
use super::values::{ISTIO_TRUST_DOMAIN, ISTIO_VERSION};
use super::{Names, Out, Part, FULLNAME, PLAIN_NAMESPACE};
use crate::model::Model;
use serde_json::{json, Value};

/// At most this many `serviceAccounts` per source (CRD CEL rule).
pub const MAX_ACCOUNTS: usize = 16;

/// The chart's condition for the portable form.
pub fn portable() -> String {
    format!(
        "semverCompare \">=1.25-0\" (toString {})",
        ISTIO_VERSION.expr()
    )
}

/// The line of the chart's `<app>.hoist.idKey` helper: the key a rule
/// names its identities under, `serviceAccounts` where [`portable`] holds.
pub fn key_line() -> String {
    format!(
        "{{{{- ternary \"serviceAccounts\" \"principals\" ({}) }}}}",
        portable()
    )
}

/// The line of the chart's `<app>.hoist.idRelease` helper: what precedes
/// `-<suffix>` in the identity of the release's ServiceAccount
/// `<fullname>-<suffix>` in either spelling ([`Identity::release`]).
pub fn release_prefix_line(app: &str) -> String {
    let fullname = format!("{{{{ include \"{app}.fullname\" $ }}}}");
    format!(
        "{{{{- if {} }}}}{fullname}{{{{- else }}}}{{{{ {} }}}}/ns/{{{{ {} }}}}/sa/{fullname}{{{{- end }}}}",
        portable(),
        ISTIO_TRUST_DOMAIN.expr(),
        out::RELEASE_NAMESPACE,
    )
}

/// A piece of an identity string (owned [`Part`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Piece {
    Lit(String),
    /// Template expression and its default.
    Val(String, String),
}

fn parts(p: &[Piece]) -> Vec<Part<'_>> {
    p.iter()
        .map(|x| match x {
            Piece::Lit(s) => Part::Lit(s),
            Piece::Val(e, d) => Part::Val(e, d),
        })
        .collect()
}

/// One identity a rule admits, spelled both ways.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `<trustDomain>/ns/<ns>/sa/<sa>`.
    pub principal: Vec<Piece>,
    /// `<sa>` in the release's namespace, else `<ns>/<sa>`.
    pub account: Vec<Piece>,
    /// `-<suffix>` when the ServiceAccount is the release's own
    /// `<fullname>-<suffix>`: both spellings are the file's
    /// `$hoist_idRelease_0` followed by it.
    pub release_suffix: Option<String>,
}

pub fn lit(s: impl Into<String>) -> Piece {
    Piece::Lit(s.into())
}

pub fn val(e: &str, d: &str) -> Piece {
    Piece::Val(e.into(), d.into())
}

fn trust_domain(m: &Model) -> Piece {
    val(
        &ISTIO_TRUST_DOMAIN.expr(),
        &ISTIO_TRUST_DOMAIN.default_text(m),
    )
}

impl Identity {
    /// A ServiceAccount of this release: `<fullname>-<suffix>`, or the
    /// vendor's own ServiceAccount when `suffix` names an attached service.
    pub fn release(n: &Names, suffix: &str) -> Self {
        let (name, release_suffix) = match n.attached(suffix) {
            Some(a) => (vec![lit(a.service_account.clone())], None),
            None => (
                vec![val(FULLNAME, n.app), lit(format!("-{suffix}"))],
                Some(format!("-{suffix}")),
            ),
        };
        let mut principal = vec![
            trust_domain(n.model()),
            lit("/ns/"),
            val(out::RELEASE_NAMESPACE, PLAIN_NAMESPACE),
            lit("/sa/"),
        ];
        principal.extend(name.iter().cloned());
        Identity {
            principal,
            account: name.to_vec(),
            release_suffix,
        }
    }

    /// A ServiceAccount in another namespace, both given as pieces.
    pub fn other(n: &Names, namespace: Piece, sa: Piece) -> Self {
        Identity {
            principal: vec![
                trust_domain(n.model()),
                lit("/ns/"),
                namespace.clone(),
                lit("/sa/"),
                sa.clone(),
            ],
            account: vec![namespace, lit("/"), sa],
            release_suffix: None,
        }
    }

    /// A fixed namespace and ServiceAccount.
    pub fn fixed(n: &Names, namespace: &str, sa: &str) -> Self {
        Identity::other(n, lit(namespace), lit(sa))
    }

    /// A namespace and ServiceAccount from the values.
    pub fn from_values(n: &Names, ns: (&str, &str), sa: (&str, &str)) -> Self {
        Identity::other(n, val(ns.0, ns.1), val(sa.0, sa.1))
    }
}

/// Sources for the portable form: at most [`MAX_ACCOUNTS`] per source.
fn account_sources(accounts: Vec<Value>) -> Value {
    let sources: Vec<Value> = accounts
        .chunks(MAX_ACCOUNTS)
        .map(|c| json!({ "source": { "serviceAccounts": c } }))
        .collect();
    json!(sources)
}

/// Set `rule.from` to admit `ids`: the portable form in plain mode, both
/// forms behind `istio.version` in the chart.
pub fn set_from(out: &mut Out, rule: &mut Value, ids: &[Identity]) {
    if !out.helm() {
        let accounts = ids.iter().map(|i| out.text(&parts(&i.account))).collect();
        rule["from"] = account_sources(accounts);
        return;
    }
    if let Some(lines) = release_from(ids) {
        let marker = out.lines(lines).expect("helm mode has lines");
        rule[marker.as_str()] = Value::Null;
        return;
    }
    let mut lines = vec![format!("{{{{- if {} }}}}", portable()), "from:".to_string()];
    for chunk in ids.chunks(MAX_ACCOUNTS) {
        lines.push("  - source:".into());
        lines.push("      serviceAccounts:".into());
        for i in chunk {
            lines.push(format!("        - {}", template_text(&parts(&i.account))));
        }
    }
    lines.push("{{- else }}".into());
    lines.push("from:".into());
    lines.push("  - source:".into());
    lines.push("      principals:".into());
    for i in ids {
        lines.push(format!("        - {}", template_text(&parts(&i.principal))));
    }
    lines.push("{{- end }}".into());
    let marker = out.lines(lines).expect("helm mode has lines");
    rule[marker.as_str()] = Value::Null;
}

/// `from` of a rule admitting only the release's own ServiceAccounts, few
/// enough for one portable source: both spellings are one source, one list
/// under the file's `$hoist_idKey_0`, each item `$hoist_idRelease_0` and
/// its suffix, so the rule parses and runs no branch per rule
/// (`emit::hoist`; issue #17).
fn release_from(ids: &[Identity]) -> Option<Vec<String>> {
    if ids.is_empty() || ids.len() > MAX_ACCOUNTS {
        return None;
    }
    let mut lines = vec![
        "from:".to_string(),
        "  - source:".to_string(),
        "      {{ $hoist_idKey_0 }}:".to_string(),
    ];
    for i in ids {
        let suffix = i.release_suffix.as_deref()?;
        let item = [Part::Val("$hoist_idRelease_0", ""), Part::Lit(suffix)];
        lines.push(format!("        - {}", template_text(&item)));
    }
    Some(lines)
}

/// A Sidecar's `egress`: `before` hosts, the release's Services it calls
/// (`dests`), then `after` hosts. The Services: the Sidecar's own namespace
/// (`./`) and every Service in it in the portable form (a host's name must
/// be an FQDN, with a wildcard only as its left-most label, so no
/// namespace-free name selects one Service; the AuthorizationPolicies
/// still decide who may call whom), else each Service's FQDN.
/// <https://istio.io/latest/docs/reference/config/networking/sidecar/#IstioEgressListener>
pub fn set_sidecar_egress(
    n: &Names,
    out: &mut Out,
    spec: &mut Value,
    before: &[Vec<Piece>],
    dests: &[&str],
    after: &[Vec<Piece>],
) {
    if !out.helm() {
        let mut hosts: Vec<Value> = before.iter().map(|h| out.text(&parts(h))).collect();
        if !dests.is_empty() {
            hosts.push(json!(NAMESPACE_SERVICES));
        }
        hosts.extend(after.iter().map(|h| out.text(&parts(h))));
        spec["egress"] = json!([{ "hosts": hosts }]);
        return;
    }
    let item = |h: &[Piece]| format!("      - {}", template_text(&parts(h)));
    let mut lines = vec!["egress:".to_string(), "  - hosts:".to_string()];
    lines.extend(before.iter().map(|h| item(h)));
    if !dests.is_empty() {
        lines.push(format!("{{{{- if {} }}}}", portable()));
        lines.push(format!("      - {NAMESPACE_SERVICES:?}"));
        lines.push("{{- else }}".into());
        for d in dests {
            // An attached service is called by the vendor's Service name.
            let name = match n.attached(d) {
                Some(a) => vec![lit(format!("./{}.", a.service))],
                None => vec![lit("./"), val(FULLNAME, n.app), lit(format!("-{d}."))],
            };
            let mut host = name;
            host.push(val(out::RELEASE_NAMESPACE, PLAIN_NAMESPACE));
            host.push(lit(".svc.cluster.local"));
            lines.push(item(&host));
        }
        lines.push("{{- end }}".into());
    }
    lines.extend(after.iter().map(|h| item(h)));
    let marker = out.lines(lines).expect("helm mode has lines");
    spec[marker.as_str()] = Value::Null;
}

/// Every Service of the Sidecar's own namespace.
pub const NAMESPACE_SERVICES: &str = "./*.svc.cluster.local";

#[cfg(test)]
mod tests {
    use super::*;

    fn release(suffix: &str) -> Identity {
        Identity {
            principal: vec![],
            account: vec![],
            release_suffix: Some(format!("-{suffix}")),
        }
    }

    #[test]
    fn release_identities_are_one_list_under_the_bound_key() {
        assert_eq!(
            release_from(&[release("api"), release("web")]).unwrap(),
            vec![
                "from:",
                "  - source:",
                "      {{ $hoist_idKey_0 }}:",
                "        - \"{{ $hoist_idRelease_0 }}-api\"",
                "        - \"{{ $hoist_idRelease_0 }}-web\"",
            ]
        );
    }

    #[test]
    fn other_identities_and_long_lists_keep_both_spellings() {
        let other = Identity {
            principal: vec![lit("cluster.local/ns/x/sa/y")],
            account: vec![lit("x/y")],
            release_suffix: None,
        };
        assert!(release_from(&[release("api"), other]).is_none());
        let many: Vec<Identity> = (0..=MAX_ACCOUNTS)
            .map(|i| release(&format!("s{i}")))
            .collect();
        assert!(release_from(&many).is_none());
        assert!(release_from(&many[..MAX_ACCOUNTS]).is_some());
        assert!(release_from(&[]).is_none());
    }

    #[test]
    fn the_helpers_spell_both_forms() {
        assert_eq!(
            key_line(),
            "{{- ternary \"serviceAccounts\" \"principals\" (semverCompare \">=1.25-0\" (toString $.Values.istio.version)) }}"
        );
        assert_eq!(
            release_prefix_line("app"),
            "{{- if semverCompare \">=1.25-0\" (toString $.Values.istio.version) }}{{ include \"app.fullname\" $ }}{{- else }}{{ $.Values.istio.trustDomain }}/ns/{{ $.Release.Namespace }}/sa/{{ include \"app.fullname\" $ }}{{- end }}"
        );
    }
}
