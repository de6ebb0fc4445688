//! DaemonSets, Jobs and CronJobs: the controller around a generated pod
//! template (`workload.rs` fills the template as for any workload).
//!
//! Invariant: a Job or CronJob under Istio can complete. A classic
//! `istio-proxy` container keeps running after the application exits, so
//! the pod (and the Job) never finishes. Kubernetes 1.29+ runs sidecars as
//! init containers with `restartPolicy: Always` that stop once the main
//! containers end (<https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/>),
//! and Istio injects its proxy that way when asked: the pod annotation
//! `sidecar.istio.io/nativeSidecar: "true"` "takes precedence over the
//! `ENABLE_NATIVE_SIDECARS` environment variable" of istiod
//! (<https://istio.io/latest/docs/reference/config/annotations/#SidecarNativeSidecar>);
//! Istio 1.27 made native sidecars its default where the cluster supports
//! them. The annotation is written on every Job and CronJob pod, mesh on
//! or off: no injector reads it when Istio is off, and with Istio it pins
//! the behaviour the Job needs whatever istiod's default. Older clusters
//! (before 1.29) need the application to call the proxy's
//! `POST localhost:15020/quitquitquit` when done (docs/workloads.md).

use super::to_value;
use crate::model::Workload;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{json, Map, Value};

/// Istio's per-pod switch to a native sidecar (see the module comment).
pub const NATIVE_SIDECAR: &str = "sidecar.istio.io/nativeSidecar";

/// Retries of a failed Job pod before the Job fails (Kubernetes' default is 6).
const BACKOFF_LIMIT: i32 = 3;

/// The controller object of a DaemonSet, Job or CronJob around `template`.
pub fn object(w: Workload, schedule: Option<&str>, template: PodTemplateSpec) -> Value {
    let job = |template| JobSpec {
        backoff_limit: Some(BACKOFF_LIMIT),
        template,
        ..Default::default()
    };
    match w {
        Workload::DaemonSet => to_value(&DaemonSet {
            spec: Some(DaemonSetSpec {
                selector: LabelSelector::default(),
                template,
                ..Default::default()
            }),
            ..Default::default()
        }),
        Workload::Job => to_value(&Job {
            spec: Some(job(template)),
            ..Default::default()
        }),
        Workload::CronJob => to_value(&CronJob {
            spec: Some(CronJobSpec {
                schedule: schedule.unwrap_or_default().to_string(),
                // A run still going when the next is due is not doubled.
                concurrency_policy: Some("Forbid".into()),
                job_template: JobTemplateSpec {
                    metadata: None,
                    spec: Some(job(template)),
                },
                ..Default::default()
            }),
            ..Default::default()
        }),
        Workload::Deployment | Workload::StatefulSet => {
            unreachable!("Deployments and StatefulSets are built in workload.rs")
        }
    }
}

/// The pod template inside a workload object.
pub fn template_mut(w: Workload, v: &mut Value) -> &mut Value {
    match w {
        Workload::CronJob => &mut v["spec"]["jobTemplate"]["spec"]["template"],
        _ => &mut v["spec"]["template"],
    }
}

/// Annotations a kind's pods always carry.
pub fn pod_annotations(w: Workload) -> Map<String, Value> {
    let mut m = Map::new();
    if w.runs_to_completion() {
        m.insert(NATIVE_SIDECAR.into(), json!("true"));
    }
    m
}
