//! Services outside the cluster: a host name (a managed database, a
//! partner's API), or a VM joined to the mesh at an address.
//!
//! Allow rules to them become egress entries of the model, so that every
//! layer (Sidecar, ServiceEntry, NetworkPolicy) and `verify` treat them as
//! the egress they are.
//! <https://istio.io/latest/docs/reference/config/networking/service-entry/>

use super::{is_host, Port, Protocol, Resolver};
use crate::policy;

#[derive(Debug, Clone, PartialEq)]
pub struct External {
    pub name: String,
    pub host: String,
    /// A VM in the mesh: it gets a WorkloadEntry and is reached over mTLS.
    pub address: Option<String>,
    pub ports: Vec<Port>,
    /// Clients speak HTTP; their sidecar opens TLS to `target_port`.
    pub originate_tls: bool,
}

impl External {
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// IPv4 or IPv6 address, as a WorkloadEntry takes it.
fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

impl Resolver<'_> {
    pub(super) fn external(
        &mut self,
        app: &str,
        name: &str,
        s: &policy::Service,
    ) -> Option<External> {
        let e = s.external.as_ref()?;
        let path = format!("spec.services.{name}");
        // Its ServiceEntry, ServiceAccount and WorkloadEntry are
        // `<release>-<name>`, and the name is a label value and a file name.
        if !super::is_dns_label(name) {
            self.err_key(
                "E0210",
                &path,
                format!("service name `{name}` is not a DNS-1035 label"),
                "use lowercase letters, digits and `-`, starting with a letter".into(),
            );
        } else if name.starts_with("egress-") {
            self.err_key(
                "E0217",
                &path,
                format!("external service name `{name}` starts with `egress-`"),
                "the `egress` list's ServiceEntries are `<release>-egress-<host>`; choose another name".into(),
            );
        } else if let Some(why) = super::names::release_room(app, name, 63) {
            self.err_key(
                "E0211",
                &path,
                format!("{why} (the external service's ServiceEntry)"),
                format!(
                    "shorten the name to at most {} characters",
                    62usize.saturating_sub(app.len().max(super::MIN_FULLNAME))
                ),
            );
        }
        // An external service is not deployed: fields about its pods mean nothing.
        let deployed_fields = [
            ("image", s.image.is_some()),
            ("versions", !s.versions.is_empty()),
            ("replicas", s.replicas.is_some()),
            ("storage", s.storage.is_some()),
            ("ports", !s.ports.is_empty()),
            ("env", !s.env.is_empty()),
            ("resources", s.resources.is_some()),
            ("healthPath", s.health_path.is_some()),
            ("mtls", s.mtls.is_some()),
            ("traffic", s.traffic.is_some()),
        ];
        for (field, set) in deployed_fields.into_iter().chain(super::pod::fields_set(s)) {
            if set {
                let help = if field == "ports" {
                    "list the ports under `external.ports`".to_string()
                } else {
                    "an external service is not deployed; remove it".to_string()
                };
                self.err_key(
                    "E0280",
                    &format!("{path}.{field}"),
                    format!("`{field}` on the external service `{name}`"),
                    help,
                );
            }
        }
        if !is_host(&e.host, false) {
            self.err(
                "E0281",
                &format!("{path}.external.host"),
                format!("`{}` is not a host name", e.host),
                "write the DNS name clients use, e.g. `db.corp.internal`".into(),
            );
        }
        if let Some(a) = &e.address {
            if !is_ip(a) {
                self.err(
                    "E0281",
                    &format!("{path}.external.address"),
                    format!("`{a}` is not an IP address"),
                    "write the VM's address, e.g. `10.20.0.15`".into(),
                );
            }
            if e.originate_tls {
                self.err_key(
                    "E0282",
                    &format!("{path}.external.originateTls"),
                    "a VM in the mesh is reached over mutual TLS already".into(),
                    "remove originateTls, or the address".into(),
                );
            }
        }
        let ports = self.port_list(&format!("{path}.external"), &e.ports);
        if ports.is_empty() {
            self.err_key(
                "E0281",
                &format!("{path}.external.ports"),
                format!("external service `{name}` declares no ports"),
                "add the ports clients use, e.g. `{tcp-postgres: 5432}`".into(),
            );
        }
        if e.originate_tls {
            for p in &ports {
                if p.protocol != Protocol::Http {
                    self.err_key(
                        "E0282",
                        &format!("{path}.external.ports.{}", p.name),
                        format!(
                            "TLS origination needs plain HTTP from the client, but port `{}` is {}",
                            p.name,
                            p.protocol.as_str()
                        ),
                        "name the port `http` (and set `targetPort: 443`), or remove originateTls"
                            .into(),
                    );
                }
            }
        }
        Some(External {
            name: name.to_string(),
            host: e.host.clone(),
            address: e.address.clone(),
            ports,
            originate_tls: e.originate_tls,
        })
    }
}
