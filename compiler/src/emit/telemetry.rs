//! Istio `Telemetry` for the release's sidecars: tracing to a collector
//! and Envoy access logs.
//!
//! A Telemetry object names a provider; the provider itself (the
//! collector's address) is defined once in the mesh config's
//! `extensionProviders`, which the chart's NOTES print for the operator.
//! <https://istio.io/latest/docs/tasks/observability/distributed-tracing/opentelemetry/>

use super::{selector, to_value, values, File, Group, Mode, Names};
use crate::istio::telemetry::{AccessLogging, ProviderRef, TelemetrySpec, Tracing};
use crate::model::{Model, Telemetry};
use serde_json::json;

pub fn file(m: &Model, t: &Telemetry, mode: Mode) -> File {
    let mut f = File::new("istio/telemetry.yaml", Group::Istio, mode);
    let n = Names::new(m);
    let out = &mut f.out;
    let spec = TelemetrySpec {
        selector: None,
        tracing: t
            .tracing
            .iter()
            .map(|tr| Tracing {
                providers: vec![ProviderRef {
                    name: tr.provider.into(),
                }],
                random_sampling_percentage: tr.sampling,
            })
            .collect(),
        access_logging: if t.access_logging {
            vec![AccessLogging {
                providers: vec![ProviderRef {
                    name: "envoy".into(),
                }],
            }]
        } else {
            vec![]
        },
    };
    let mut v = to_value(&crate::istio::telemetry::Telemetry::new("", spec));
    v["metadata"] = n.meta(out, "telemetry", None);
    v["spec"]["selector"] = selector(&n, out, None);
    if let Some(tr) = &t.tracing {
        v["spec"]["tracing"][0]["providers"][0]["name"] = out.scalar(
            &format!("{} | quote", values::tracing::provider().expr()),
            json!(tr.provider),
        );
        v["spec"]["tracing"][0]["randomSamplingPercentage"] =
            out.scalar(&values::tracing::sampling().expr(), json!(tr.sampling));
    }
    f.push(v);
    f
}
