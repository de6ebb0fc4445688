//! M050 (IST0154): an EnvoyFilter REMOVE patch on ROUTE_CONFIGURATION or
//! HTTP_ROUTE, which Istio ignores.
//! Semantics of Istio's `envoyfilter/envoyfilter.go`; the analysis is M047's.

use super::envoyfilter_relative_operation::{report, Problem};
use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    report(
        set,
        Problem::Remove,
        "REMOVE is ignored on ROUTE_CONFIGURATION and HTTP_ROUTE",
    )
}
