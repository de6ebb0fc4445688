//! Version-scoped sources of allow rules: `from: reviews@v2` admits the
//! pods of one version of a service, not the whole service.
//!
//! Invariant: a `Source::Version` names a declared version of a generated
//! (not attached) service, and only appears as the source of an edge
//! between release services: destinations are whole services, and rules to
//! external services take whole services as sources. A service whose
//! version is named in some `from:` has one identity per version
//! ([`Model::version_identities`]); every other service has one identity.
//!
//! Istio tells callers apart by their mTLS identity, the pod's
//! ServiceAccount, and nothing else (an AuthorizationPolicy's
//! `principals`/`serviceAccounts` name ServiceAccounts; pod labels of the
//! caller are not visible to the server). So a version can only be a
//! source of its own when its pods run under a ServiceAccount of their own.
//! <https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source>
//! <https://istio.io/latest/docs/concepts/security/#istio-identity>

use super::{Model, Resolver, Service, Source};
use crate::diag::suggest;
use std::collections::BTreeMap;

/// The separator between a service and its version in `from:`.
pub const AT: char = '@';

impl Model {
    /// Whether the service's versions run under a ServiceAccount each
    /// (`<fullname>-<service>-<version>`): some rule names one of them.
    pub fn version_identities(&self, service: &str) -> bool {
        match self.flags(service) {
            Some(f) => f.version_identities,
            None => self.find_version_identities(service),
        }
    }

    /// [`Model::version_identities`] from the edges (the index files a
    /// version's edges under its service: linear in the service's own).
    pub(super) fn find_version_identities(&self, service: &str) -> bool {
        self.edges_from(service)
            .any(|e| matches!(&e.source, Source::Version { service: s, .. } if s == service))
    }

    /// The suffixes (after `<fullname>-`) of the ServiceAccounts a
    /// service's pods run under: one per version when they are split,
    /// else the service's own.
    pub fn identity_suffixes(&self, service: &str) -> Vec<String> {
        match self.service(service) {
            Some(s) if self.version_identities(service) => s
                .versions
                .iter()
                .map(|v| identity_suffix(service, &v.name))
                .collect(),
            _ => vec![service.to_string()],
        }
    }
}

/// `<service>-<version>`: the ServiceAccount suffix of one version, the
/// same as its Deployment's (`model::traffic` checks the length).
pub fn identity_suffix(service: &str, version: &str) -> String {
    format!("{service}-{version}")
}

impl Resolver<'_> {
    /// Resolve `service@version` in `from:` at `path`; `None` after an error.
    pub(super) fn version_source(
        &mut self,
        path: &str,
        text: &str,
        index: &BTreeMap<&str, &Service>,
    ) -> Option<Source> {
        let (service, version) = text.split_once(AT)?;
        let Some(s) = index.get(service) else {
            self.unknown_service(path, service, index);
            return None;
        };
        if s.attach.is_some() {
            self.err(
                "E0277",
                path,
                format!("`{service}` is attached, so meshpack knows no versions of it"),
                format!(
                    "an attached service has one selector and one ServiceAccount: write `from: {service}`, or describe each version as an attached service of its own (its selector with the `version` label, its own ServiceAccount)"
                ),
            );
            return None;
        }
        if s.versions.is_empty() {
            self.err(
                "E0277",
                path,
                format!("`{service}` declares no versions, so `@{version}` names nothing"),
                format!("write `from: {service}`, or declare the version under `spec.services.{service}.versions`"),
            );
            return None;
        }
        if !s.versions.iter().any(|v| v.name == version) {
            let known: Vec<&str> = s.versions.iter().map(|v| v.name.as_str()).collect();
            let help = match suggest(version, known.iter().copied()) {
                Some(v) => format!("did you mean `{service}@{v}`?"),
                None => format!("`{service}` has versions {}", known.join(", ")),
            };
            self.err(
                "E0276",
                path,
                format!("`{service}` has no version `{version}`"),
                help,
            );
            return None;
        }
        Some(Source::Version {
            service: service.to_string(),
            version: version.to_string(),
        })
    }

    /// `to: service@version`: refused, as allow rules admit callers to
    /// every version of a destination.
    pub(super) fn version_destination(&mut self, path: &str, text: &str) -> bool {
        let Some((service, version)) = text.split_once(AT) else {
            return false;
        };
        self.err(
            "E0278",
            path,
            format!("`{text}`: allow rules do not scope destinations to a version"),
            format!("write `to: {service}` (the rule then admits the callers to every version of it); to send requests to `{version}` only, use `spec.services.{service}.traffic.routes` or `split`"),
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Source;

    const POLICY: &str = "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: bk}\nspec:\n  version: 1.0.0\n  services:\n    productpage: {image: 'r.example.com/p:1', ports: {http: 9080}}\n    reviews:\n      image: 'r.example.com/r:1'\n      ports: {http: 9080}\n      versions: {v1: {}, v2: {}, v3: {}}\n    ratings:\n      image: 'r.example.com/ra:1'\n      ports: {http: 9080}\n      versions: {v1: {}}\n  allow:\n    - {from: productpage, to: reviews}\n    - {from: [reviews@v2, reviews@v3, reviews], to: ratings, ports: [http]}\n";

    #[test]
    fn a_named_version_gives_every_version_of_its_service_an_identity() {
        let m = crate::compile_model(POLICY, None).unwrap();
        let sources: Vec<String> = m
            .edges
            .iter()
            .filter(|e| e.dest == "ratings")
            .map(|e| e.source.to_string())
            .collect();
        assert_eq!(sources, ["reviews", "reviews@v2", "reviews@v3"]);
        assert_eq!(
            m.edges
                .iter()
                .find(|e| e.source.to_string() == "reviews@v2")
                .map(|e| &e.source),
            Some(&Source::Version {
                service: "reviews".into(),
                version: "v2".into()
            })
        );
        assert!(m.version_identities("reviews"));
        assert_eq!(
            m.identity_suffixes("reviews"),
            ["reviews-v1", "reviews-v2", "reviews-v3"]
        );
        // Versions no rule names share their service's identity.
        assert!(!m.version_identities("ratings"));
        assert_eq!(m.identity_suffixes("ratings"), ["ratings"]);
        assert_eq!(m.identity_suffixes("productpage"), ["productpage"]);
        // A version's edges are its service's (Sidecar hosts, egress).
        let from: Vec<&str> = m.edges_from("reviews").map(|e| e.dest.as_str()).collect();
        assert_eq!(from, ["ratings", "ratings", "ratings"]);
    }
}
