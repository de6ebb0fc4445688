//! M038 (IST0157): a Telemetry's `accessLogging` entry names no provider
//! and is not `disabled`: with Istio's default mesh config (no
//! `defaultProviders.accessLogging`) it is ignored. Name a provider
//! (`envoy`, or one of `meshConfig.extensionProviders`).
//! Semantics of Istio's `telemetry/providers.go`, assuming the default mesh
//! config (meshpack does not read the cluster's).

use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("telemetry.istio.io", "Telemetry") {
        for l in o.value["spec"]["accessLogging"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if l["disabled"] == true {
                continue;
            }
            if l["providers"].as_array().is_none_or(|p| p.is_empty()) {
                out.push((
                    i,
                    "accessLogging names no provider and the default mesh config has none; it is ignored: add providers: [{name: envoy}]".to_string(),
                ));
            }
        }
    }
    out
}
