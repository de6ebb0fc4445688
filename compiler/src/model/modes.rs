//! The model's own copies of the policy's modes (mTLS, dataplane, Service
//! names), converted once at resolve time, so emitters read the model
//! alone and the policy language may change its spelling without them.
//!
//! Invariant: one variant per policy variant, converted by `From` (a new
//! policy variant fails to compile here, never later in `emit`).

use crate::policy;

/// Istio's mutual TLS mode of a PeerAuthentication.
/// <https://istio.io/latest/docs/reference/config/security/peer_authentication/#PeerAuthentication-MutualTLS-Mode>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsMode {
    Strict,
    Permissive,
    Disable,
}

impl MtlsMode {
    /// As Istio spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MtlsMode::Strict => "STRICT",
            MtlsMode::Permissive => "PERMISSIVE",
            MtlsMode::Disable => "DISABLE",
        }
    }
}

impl From<policy::MtlsMode> for MtlsMode {
    fn from(m: policy::MtlsMode) -> Self {
        match m {
            policy::MtlsMode::Strict => MtlsMode::Strict,
            policy::MtlsMode::Permissive => MtlsMode::Permissive,
            policy::MtlsMode::Disable => MtlsMode::Disable,
        }
    }
}

/// How pods join the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataplane {
    Sidecar,
    Ambient,
}

impl Dataplane {
    /// As the policy and the chart's values spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataplane::Sidecar => "sidecar",
            Dataplane::Ambient => "ambient",
        }
    }
}

impl From<policy::Dataplane> for Dataplane {
    fn from(d: policy::Dataplane) -> Self {
        match d {
            policy::Dataplane::Sidecar => Dataplane::Sidecar,
            policy::Dataplane::Ambient => Dataplane::Ambient,
        }
    }
}

/// How Kubernetes Services are named (`spec.serviceNames`): `service`
/// (the service's own name) or `release` (`<release>-<service>`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceNames {
    #[default]
    Service,
    Release,
}

impl From<policy::ServiceNames> for ServiceNames {
    fn from(s: policy::ServiceNames) -> Self {
        match s {
            policy::ServiceNames::Service => ServiceNames::Service,
            policy::ServiceNames::Release => ServiceNames::Release,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_keep_their_spelling() {
        for (p, m) in [
            (policy::MtlsMode::Strict, "STRICT"),
            (policy::MtlsMode::Permissive, "PERMISSIVE"),
            (policy::MtlsMode::Disable, "DISABLE"),
        ] {
            assert_eq!(MtlsMode::from(p).as_str(), p.as_str());
            assert_eq!(MtlsMode::from(p).as_str(), m);
        }
        for p in [policy::Dataplane::Sidecar, policy::Dataplane::Ambient] {
            assert_eq!(Dataplane::from(p).as_str(), p.as_str());
        }
        assert_eq!(
            ServiceNames::from(policy::ServiceNames::Release),
            ServiceNames::Release
        );
        assert_eq!(
            ServiceNames::from(policy::ServiceNames::default()),
            ServiceNames::default()
        );
    }
}
