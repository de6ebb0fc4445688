//! Mesh checks over the whole set of objects, one per file, each with a
//! stable code, a severity and a one-line summary (after `istioctl
//! analyze`'s messages). They read manifests only; protocol detection and
//! host resolution are written again here on purpose, so a mistake in the
//! compiler's own logic is not repeated by its checker.

mod address_unknown_service;
mod annotation_alpha;
mod annotation_deprecated;
mod annotation_invalid;
mod annotation_misplaced;
mod annotation_table;
mod annotation_unknown;
mod annotations;
mod authz_selects_nothing;
mod credential_missing;
mod deprecated_fields;
#[cfg(test)]
mod docs;
mod dr_host_unknown;
mod dr_port_tls_no_ca;
mod dr_subset_no_pods;
mod dr_tls_no_ca;
mod duplicate_object;
mod envoyfilter_add;
mod envoyfilter_relative_operation;
mod envoyfilter_relative_proxy_version;
mod envoyfilter_remove;
mod envoyfilter_replace;
mod externalname_port_name;
mod gateway_conflict;
mod gateway_credential_invalid;
mod gateway_duplicate_certificate;
mod gateway_port_not_on_service;
mod http_fields_on_tcp;
mod httproute_backend_unknown;
mod ineffective_gateway_selector;
mod injection_without_peer_authentication;
mod jwks_fetch_unrestricted;
mod jwt_claim_route_without_authn;
mod mtls_conflict;
mod namespace_injection_labels;
mod namespace_not_injected;
mod policy_without_sidecar;
mod port_protocol_unknown;
mod principal_unknown_service_account;
mod se_addresses_required;
mod se_protocol_conflict;
mod sidecar_ambient;
mod sidecar_selectors_overlap;
mod sidecar_selects_nothing;
mod sidecars_without_selector;
mod telemetries_overlap;
mod telemetries_without_selector;
mod telemetry_provider_empty;
mod telemetry_selects_nothing;
mod uid_1337;
mod vs_destination_not_visible;
mod vs_destination_port_required;
mod vs_destination_unknown;
mod vs_gateway_unknown;
mod vs_host_not_in_gateway;
mod vs_ineffective_match;
mod vs_ingress_subset_ignored;
mod vs_internal_gateway;
mod vs_mesh_host_conflict;
mod vs_subset_undefined;
mod vs_unreachable_rule;
mod workload_services_protocol;
mod workload_services_target_port;
mod x509;

use crate::diag::Severity;
// The manifest layer, under the names the checks have always used (checks
// on other branches import them from here).
pub use crate::manifest::analysis;
pub(crate) use crate::manifest::index::string_map;
pub use crate::manifest::index::{
    pod_template, selector_of, ObjectIndex as Set, ServicePort, Svc, Workload,
};
pub use crate::manifest::istio::{
    host_matches, is_cluster_host, principal_parts, principals, protocol, service_accounts,
    split_host,
};
pub use crate::manifest::lookup as index;
pub use crate::manifest::Object;

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// Index of the object in the set.
    pub object: usize,
    pub message: String,
}

pub struct Check {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// The `istioctl analyze` message code this check reproduces, if any
    /// (<https://istio.io/latest/docs/reference/config/analysis/>).
    pub ist: Option<&'static str>,
    pub run: fn(&Set) -> Vec<(usize, String)>,
}

use Severity::{Error, Warning};

/// Every mesh check, by code.
pub const CHECKS: &[Check] = &[
    Check {
        code: "M001",
        severity: Error,
        summary: "AuthorizationPolicy selects no workload",
        ist: Some("IST0127"),
        run: authz_selects_nothing::run,
    },
    Check {
        code: "M002",
        severity: Error,
        summary: "DestinationRule host matches no Service or ServiceEntry",
        ist: Some("IST0174"),
        run: dr_host_unknown::run,
    },
    Check {
        code: "M003",
        severity: Error,
        summary: "principal names a ServiceAccount no workload uses",
        ist: None,
        run: principal_unknown_service_account::run,
    },
    Check {
        code: "M004",
        severity: Error,
        summary: "VirtualService routes to a host or port no Service has",
        ist: Some("IST0101"),
        run: vs_destination_unknown::run,
    },
    Check {
        code: "M005",
        severity: Error,
        summary: "DestinationRule subset matches no pods",
        ist: Some("IST0173"),
        run: dr_subset_no_pods::run,
    },
    Check {
        code: "M006",
        severity: Warning,
        summary: "Gateway credentialName has no Certificate or Secret in the set",
        ist: Some("IST0101"),
        run: credential_missing::run,
    },
    Check {
        code: "M007",
        severity: Error,
        summary: "PeerAuthentication STRICT beside DestinationRule tls DISABLE",
        ist: None,
        run: mtls_conflict::run,
    },
    Check {
        code: "M008",
        severity: Warning,
        summary: "Service port leaves Istio guessing the protocol",
        ist: Some("IST0118"),
        run: port_protocol_unknown::run,
    },
    Check {
        code: "M009",
        severity: Error,
        summary: "HTTP-only rule fields on a TCP port",
        ist: None,
        run: http_fields_on_tcp::run,
    },
    Check {
        code: "M010",
        severity: Warning,
        summary: "sidecar injection without any PeerAuthentication",
        ist: None,
        run: injection_without_peer_authentication::run,
    },
    Check {
        code: "M011",
        severity: Error,
        summary: "duplicate object",
        ist: None,
        run: duplicate_object::run,
    },
    Check {
        code: "M012",
        severity: Error,
        summary: "VirtualService routes to an undefined subset, or weights not adding up to 100",
        ist: Some("IST0101"),
        run: vs_subset_undefined::run,
    },
    Check {
        code: "M013",
        severity: Error,
        summary: "HTTPRoute backend names a Service or port not in the set",
        ist: None,
        run: httproute_backend_unknown::run,
    },
    Check {
        code: "M014",
        severity: Error,
        summary: "two Gateways with the same selector serve the same host on the same port",
        ist: Some("IST0145"),
        run: gateway_conflict::run,
    },
    Check {
        code: "M015",
        severity: Warning,
        summary: "Gateways on the same workloads serve the same certificate",
        ist: Some("IST0138"),
        run: gateway_duplicate_certificate::run,
    },
    Check {
        code: "M016",
        severity: Warning,
        summary: "Gateway port is not a port of the gateway pods' Services",
        ist: Some("IST0162"),
        run: gateway_port_not_on_service::run,
    },
    Check {
        code: "M017",
        severity: Error,
        summary: "Gateway credential Secret in the set holds no valid certificate (missing, unreadable, expired)",
        ist: Some("IST0161"),
        run: gateway_credential_invalid::run,
    },
    Check {
        code: "M018",
        severity: Error,
        summary: "Sidecar workloadSelector matches no workload",
        ist: Some("IST0101"),
        run: sidecar_selects_nothing::run,
    },
    Check {
        code: "M019",
        severity: Error,
        summary: "several Sidecars select the same workload",
        ist: Some("IST0110"),
        run: sidecar_selectors_overlap::run,
    },
    Check {
        code: "M020",
        severity: Error,
        summary: "several Sidecars without workloadSelector in one namespace",
        ist: Some("IST0111"),
        run: sidecars_without_selector::run,
    },
    Check {
        code: "M021",
        severity: Warning,
        summary: "Sidecar selects ambient workloads or an ambient namespace",
        ist: Some("IST0167"),
        run: sidecar_ambient::run,
    },
    Check {
        code: "M022",
        severity: Error,
        summary: "VirtualServices bound to the mesh declare the same host",
        ist: Some("IST0109"),
        run: vs_mesh_host_conflict::run,
    },
    Check {
        code: "M023",
        severity: Warning,
        summary: "VirtualService names a gateway not in the set",
        ist: Some("IST0101"),
        run: vs_gateway_unknown::run,
    },
    Check {
        code: "M024",
        severity: Warning,
        summary: "VirtualService host not served by its Gateway",
        ist: Some("IST0132"),
        run: vs_host_not_in_gateway::run,
    },
    Check {
        code: "M025",
        severity: Warning,
        summary: "VirtualService names an Istio-generated internal gateway",
        ist: Some("IST0165"),
        run: vs_internal_gateway::run,
    },
    Check {
        code: "M026",
        severity: Warning,
        summary: "gateway route without subset bypasses another VirtualService's subset split",
        ist: Some("IST0140"),
        run: vs_ingress_subset_ignored::run,
    },
    Check {
        code: "M027",
        severity: Error,
        summary: "VirtualService destination not exported to its namespace (or external host without ServiceEntry)",
        ist: Some("IST0101"),
        run: vs_destination_not_visible::run,
    },
    Check {
        code: "M028",
        severity: Warning,
        summary: "Services selecting one workload use a port with different protocols",
        ist: Some("IST0116"),
        run: workload_services_protocol::run,
    },
    Check {
        code: "M029",
        severity: Warning,
        summary: "Services selecting one workload send different ports to one targetPort",
        ist: Some("IST0137"),
        run: workload_services_target_port::run,
    },
    Check {
        code: "M030",
        severity: Warning,
        summary: "ExternalName Service port name leaves the protocol unknown, or is `tcp`",
        ist: Some("IST0150"),
        run: externalname_port_name::run,
    },
    Check {
        code: "M031",
        severity: Warning,
        summary: "pod or container runs as UID 1337, the sidecar's",
        ist: Some("IST0144"),
        run: uid_1337::run,
    },
    Check {
        code: "M032",
        severity: Warning,
        summary: "DestinationRule originates TLS without caCertificates",
        ist: Some("IST0128"),
        run: dr_tls_no_ca::run,
    },
    Check {
        code: "M033",
        severity: Warning,
        summary: "DestinationRule port originates TLS without caCertificates",
        ist: Some("IST0129"),
        run: dr_port_tls_no_ca::run,
    },
    Check {
        code: "M034",
        severity: Warning,
        summary: "ServiceEntry with a TCP port has no addresses",
        ist: Some("IST0134"),
        run: se_addresses_required::run,
    },
    Check {
        code: "M035",
        severity: Warning,
        summary: "ServiceEntries declare one host and port with different protocols",
        ist: Some("IST0177"),
        run: se_protocol_conflict::run,
    },
    Check {
        code: "M036",
        severity: Error,
        summary: "JWT claim routing through a gateway no RequestAuthentication covers",
        ist: Some("IST0149"),
        run: jwt_claim_route_without_authn::run,
    },
    Check {
        code: "M037",
        severity: Warning,
        summary: "policy selector picks Gateway API gateway pods (use targetRefs)",
        ist: Some("IST0166"),
        run: ineffective_gateway_selector::run,
    },
    Check {
        code: "M038",
        severity: Warning,
        summary: "Telemetry accessLogging without a provider",
        ist: Some("IST0157"),
        run: telemetry_provider_empty::run,
    },
    Check {
        code: "M039",
        severity: Error,
        summary: "Telemetry selector matches no workload",
        ist: Some("IST0101"),
        run: telemetry_selects_nothing::run,
    },
    Check {
        code: "M040",
        severity: Error,
        summary: "several Telemetries select the same workload",
        ist: Some("IST0159"),
        run: telemetries_overlap::run,
    },
    Check {
        code: "M041",
        severity: Error,
        summary: "several Telemetries without selector in one namespace",
        ist: Some("IST0160"),
        run: telemetries_without_selector::run,
    },
    Check {
        code: "M042",
        severity: Warning,
        summary: "Namespace has more than one kind of Istio data-plane label",
        ist: Some("IST0123"),
        run: namespace_injection_labels::run,
    },
    Check {
        code: "M043",
        severity: Warning,
        summary: "Namespace not enabled for injection",
        ist: Some("IST0102"),
        run: namespace_not_injected::run,
    },
    Check {
        code: "M044",
        severity: Warning,
        summary: "VirtualService rule never used (after a catch-all, or all matches repeated)",
        ist: Some("IST0130"),
        run: vs_unreachable_rule::run,
    },
    Check {
        code: "M045",
        severity: Warning,
        summary: "VirtualService match repeats or is covered by an earlier rule's",
        ist: Some("IST0131"),
        run: vs_ineffective_match::run,
    },
    Check {
        code: "M046",
        severity: Warning,
        summary: "deprecated or ignored Istio field",
        ist: Some("IST0002"),
        run: deprecated_fields::run,
    },
    Check {
        code: "M047",
        severity: Warning,
        summary: "EnvoyFilter relative patch without priority",
        ist: Some("IST0151"),
        run: envoyfilter_relative_operation::run,
    },
    Check {
        code: "M048",
        severity: Error,
        summary: "EnvoyFilter REPLACE on a kind Envoy cannot replace",
        ist: Some("IST0152"),
        run: envoyfilter_replace::run,
    },
    Check {
        code: "M049",
        severity: Error,
        summary: "EnvoyFilter ADD on a route configuration (ignored)",
        ist: Some("IST0153"),
        run: envoyfilter_add::run,
    },
    Check {
        code: "M050",
        severity: Error,
        summary: "EnvoyFilter REMOVE on a route configuration (ignored)",
        ist: Some("IST0154"),
        run: envoyfilter_remove::run,
    },
    Check {
        code: "M051",
        severity: Warning,
        summary: "EnvoyFilter relative patch on a filter added for specific proxy versions",
        ist: Some("IST0155"),
        run: envoyfilter_relative_proxy_version::run,
    },
    Check {
        code: "M052",
        severity: Warning,
        summary: "RequestAuthentications while istiod in the set does not restrict JWKS fetches",
        ist: Some("IST0175"),
        run: jwks_fetch_unrestricted::run,
    },
    Check {
        code: "M053",
        severity: Warning,
        summary: "Istio policy selects pods that opted out of the sidecar",
        ist: None,
        run: policy_without_sidecar::run,
    },
    Check {
        code: "M054",
        severity: Warning,
        summary: "Istio annotation on a kind it does not apply to",
        ist: Some("IST0107"),
        run: annotation_misplaced::run,
    },
    Check {
        code: "M055",
        severity: Warning,
        summary: "unknown annotation in Istio's namespace",
        ist: Some("IST0108"),
        run: annotation_unknown::run,
    },
    Check {
        code: "M056",
        severity: Warning,
        summary: "Istio annotation with a value the injector refuses",
        ist: Some("IST0125"),
        run: annotation_invalid::run,
    },
    Check {
        code: "M057",
        severity: Warning,
        summary: "deprecated Istio annotation",
        ist: Some("IST0135"),
        run: annotation_deprecated::run,
    },
    Check {
        code: "M058",
        severity: Warning,
        summary: "Istio annotation of an alpha-phase feature (opt-in: `--enable M058`)",
        ist: Some("IST0136"),
        run: annotation_alpha::run,
    },
    Check {
        code: "M059",
        severity: Error,
        summary: "VirtualService route without a port goes to a port the destination Service lacks",
        ist: Some("IST0112"),
        run: vs_destination_port_required::run,
    },
    Check {
        code: "M060",
        severity: Warning,
        summary: "env, command or args name an address whose host is no Service",
        ist: None,
        run: address_unknown_service::run_services,
    },
    Check {
        code: "M061",
        severity: Warning,
        summary: "env, command or args name a port the Service does not have",
        ist: None,
        run: address_unknown_service::run_ports,
    },
];

/// The `istioctl analyze` code a finding code stands for, if any.
pub fn ist_code(code: &str) -> Option<&'static str> {
    CHECKS.iter().find(|c| c.code == code).and_then(|c| c.ist)
}

/// Checks that run only when asked for (`validate --enable CODE`), as
/// `istioctl analyze` leaves their analyzers out of its default run: M058
/// (IST0136) reports every alpha-phase annotation, common and harmless ones
/// too (Online Boutique's `sidecar.istio.io/rewriteAppHTTPProbers`).
pub const OPT_IN: &[&str] = &["M058"];

/// Every check but the opt-in ones.
pub fn run_all(set: &Set) -> Result<Vec<Finding>, Panicked> {
    run_enabled(set, &[])
}

/// A check that panicked: a bug in meshpack, which fails the run (with
/// the check's code and the panic's message) rather than abort it.
#[derive(Debug, Clone, PartialEq)]
pub struct Panicked {
    pub code: &'static str,
    pub message: String,
}

/// Every check but the opt-in ones not named in `enabled`, on as many
/// threads as there are cores (`validate::schedule`); the findings in
/// `CHECKS` order.
pub fn run_enabled(set: &Set, enabled: &[String]) -> Result<Vec<Finding>, Panicked> {
    super::schedule::run(set, enabled, super::schedule::threads())
}

#[cfg(test)]
pub(crate) mod testing {
    pub use crate::manifest::testing::{objects, APP};

    /// Run one check; return (object id, message) pairs.
    pub fn run(
        check: fn(&super::Set) -> Vec<(usize, String)>,
        yaml: &str,
    ) -> Vec<(String, String)> {
        let objs = objects(yaml);
        let set = super::Set::new(&objs, "default");
        check(&set)
            .into_iter()
            .map(|(i, m)| (objs[i].id(), m))
            .collect()
    }
}
