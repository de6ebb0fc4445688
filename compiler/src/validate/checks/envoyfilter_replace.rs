//! M048 (IST0152): an EnvoyFilter REPLACE patch on anything but
//! NETWORK_FILTER, HTTP_FILTER or VIRTUAL_HOST, which Envoy cannot replace.
//! Semantics of Istio's `envoyfilter/envoyfilter.go`; the analysis is M047's.

use super::envoyfilter_relative_operation::{report, Problem};
use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    report(
        set,
        Problem::Replace,
        "REPLACE applies only to NETWORK_FILTER, HTTP_FILTER and VIRTUAL_HOST; use MERGE",
    )
}
