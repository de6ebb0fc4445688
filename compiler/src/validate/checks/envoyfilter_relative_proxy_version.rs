//! M051 (IST0155): an EnvoyFilter without priority patches relative to a
//! filter that an earlier patch adds only for some proxy versions: during
//! an upgrade the patch may not apply.
//! Semantics of Istio's `envoyfilter/envoyfilter.go`; the analysis is M047's.

use super::envoyfilter_relative_operation::{report, Problem};
use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    report(set, Problem::RelativeWithProxyVersion, "relative operation without priority on a filter an earlier patch adds for specific proxyVersions; set spec.priority, or use INSERT_FIRST or ADD")
}
