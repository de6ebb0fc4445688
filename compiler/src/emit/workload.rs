//! Workloads: a Deployment or StatefulSet, its Service, ServiceAccount and
//! PodDisruptionBudget, one template file per service.
//!
//! Security defaults follow what kube-linter, Polaris and Checkov check:
//! non-root, read-only root filesystem (with a writable /tmp), no privilege
//! escalation, all capabilities dropped, seccomp RuntimeDefault, requests and
//! limits, distinct readiness and liveness probes, no automounted token.

use super::cond::Cond;
use super::hoist::{self, Hoist};
use super::pod_meta::{pod_annotation_lines, proxy_image_cond, PROXY_IMAGE, VERSION_LABEL};
use super::values::{PodField, ISTIO_ENABLED};
use super::{injection, set, svc_values, to_value, File, Group, Mode, Names, Out};
use crate::model::{Model, Resources, Service, Version, Workload};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec, Probe, Service as K8sService,
    ServiceAccount, ServicePort, ServiceSpec, TCPSocketAction, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub fn service_file(m: &Model, s: &Service, mode: Mode) -> File {
    let mut f = File::new(format!("{}.yaml", s.name), Group::Base, mode);
    f.service = Some(s.name.clone());
    f.prelude.push(super::additions::openshift_binding(&m.name));
    if mode == Mode::Helm {
        f.opening.push(hoist::own_binding(&svc_values(s)));
    }
    let n = Names::new(m);
    let out = &mut f.out;
    // One ServiceAccount per version when a rule names a version
    // (`model::scoped`), else the service's.
    let sas: Vec<Value> = m
        .identity_suffixes(&s.name)
        .iter()
        .map(|sfx| service_account(&n, out, s, sfx))
        .collect();
    let svc = (!s.ports.is_empty()).then(|| service(m, &n, out, s));
    let workloads: Vec<Value> = if s.versions.is_empty() {
        vec![workload(m, &n, out, s, None)]
    } else {
        s.versions
            .iter()
            .map(|v| workload(m, &n, out, s, Some(v)))
            .collect()
    };
    let pdb = pdb(&n, out, s);
    let files = super::pod::files_config_map(&n, out, s);
    for sa in sas {
        f.push(sa);
    }
    if let Some(v) = svc {
        f.push(v);
    }
    if let Some(v) = files {
        f.push(v);
    }
    for w in workloads {
        f.push(w);
    }
    // Pods that run to completion or one per node have no replicas to budget.
    if !s.workload.has_replicas() {
        return f;
    }
    // One budget over all the service's pods (every version).
    let sv = svc_values(s);
    let when = if s.versions.is_empty() {
        format!("gt (int {}) 1", sv.replicas().expr())
    } else {
        let terms: Vec<String> = s
            .versions
            .iter()
            .map(|v| format!("(int {})", sv.version(&v.name).replicas().expr()))
            .collect();
        format!("gt (add 0 {}) 1", terms.join(" "))
    };
    match mode {
        Mode::Helm => f.docs.push(super::Doc {
            when: Some(when),
            value: pdb,
        }),
        Mode::Plain if s.total_replicas() > 1 => f.push(pdb),
        Mode::Plain => {}
    }
    f
}

/// The ServiceAccount `<fullname>-<suffix>`: the service's, or one
/// version's (`<service>-<version>`, labelled with the version).
fn service_account(n: &Names, out: &mut Out, s: &Service, suffix: &str) -> Value {
    let sa = ServiceAccount {
        automount_service_account_token: Some(false),
        ..Default::default()
    };
    let mut v = to_value(&sa);
    v["metadata"] = n.meta(out, suffix, Some(&s.name));
    if let Some(version) = s
        .versions
        .iter()
        .find(|v| crate::model::identity_suffix(&s.name, &v.name) == suffix)
    {
        v["metadata"]["labels"][VERSION_LABEL] = json!(version.name);
    }
    v
}

fn service(m: &Model, n: &Names, out: &mut Out, s: &Service) -> Value {
    let svc = K8sService {
        spec: Some(ServiceSpec {
            // A StatefulSet's Service is headless: each replica gets a stable
            // DNS name, and clients reach the pods directly.
            cluster_ip: (s.workload == Workload::StatefulSet).then(|| "None".to_string()),
            ports: Some(
                s.ports
                    .iter()
                    .map(|p| ServicePort {
                        name: Some(p.name.clone()),
                        port: i32::from(p.port),
                        target_port: Some(IntOrString::String(p.name.clone())),
                        protocol: Some("TCP".into()),
                        app_protocol: Some(p.protocol.as_str().into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut v = to_value(&svc);
    v["metadata"] = n.service_meta(out, &s.name);
    v["spec"]["selector"] = n.selector(out, Some(&s.name));
    if m.needs_waypoint(&s.name) {
        waypoint_labels(m, out, &mut v["metadata"]["labels"], s);
    }
    v
}

/// Ambient: requests to the Service go through the release's waypoint,
/// from ingress gateways too when a gateway's rule names paths or methods
/// (gateways bypass waypoints unless told).
/// <https://istio.io/latest/docs/ambient/usage/waypoint/#useawaypoint>
pub fn waypoint_labels(m: &Model, out: &mut Out, labels: &mut Value, s: &Service) {
    let from_gateway = waypoint_service_labels(m, s).contains_key("istio.io/ingress-use-waypoint");
    let mut lines = vec![
        format!("{{{{- if {} }}}}", waypoint_cond().helm()),
        format!(
            "istio.io/use-waypoint: {{{{ $fullname }}}}-{}",
            super::ambient::WAYPOINT
        ),
    ];
    if from_gateway {
        lines.push("istio.io/ingress-use-waypoint: \"true\"".into());
    }
    lines.push("{{- end }}".into());
    // Kustomize: the istio component patches these in (`waypoint_service_labels`).
    if let Some(marker) = out.lines(lines) {
        labels[marker.as_str()] = Value::Null;
    }
}

/// When Services carry the waypoint labels: the mesh on, in ambient mode.
pub fn waypoint_cond() -> Cond {
    Cond::is(&ISTIO_ENABLED).and(super::ambient::ambient())
}

/// The waypoint labels of a Service in ambient mode, as the chart renders them.
pub fn waypoint_service_labels(m: &Model, s: &Service) -> Map<String, Value> {
    let mut l = Map::new();
    l.insert(
        "istio.io/use-waypoint".into(),
        json!(format!("{}-{}", m.name, super::ambient::WAYPOINT)),
    );
    let from_gateway = m.edges_to(&s.name).any(|e| {
        matches!(e.source, crate::model::Source::Gateway(_))
            && (!e.paths.is_empty() || !e.methods.is_empty())
    });
    if from_gateway {
        l.insert("istio.io/ingress-use-waypoint".into(), json!("true"));
    }
    l
}

fn quantities(kv: &[(String, String)]) -> Value {
    Value::Object(kv.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// `resources` as values.
pub fn resources_value(r: &Resources) -> Value {
    let mut o = Map::new();
    if !r.requests.is_empty() {
        o.insert("requests".into(), quantities(&r.requests));
    }
    if !r.limits.is_empty() {
        o.insert("limits".into(), quantities(&r.limits));
    }
    Value::Object(o)
}

/// The full image reference as the chart's image helper prints it by default.
/// The image a service runs, or its versions' (comma-separated).
pub fn image_ref(s: &Service) -> String {
    if s.versions.is_empty() {
        return s.image.to_string();
    }
    let all: Vec<String> = s.versions.iter().map(|v| v.image.to_string()).collect();
    all.join(", ")
}

fn probes(s: &Service) -> (Option<Probe>, Option<Probe>) {
    let Some(first) = s.ports.first() else {
        return (None, None);
    };
    let http = s.health_path.as_ref().and_then(|path| {
        s.ports
            .iter()
            .find(|p| p.protocol.is_http())
            .map(|p| (path, p))
    });
    let action = |p: &mut Probe| match http {
        Some((path, port)) => {
            p.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: IntOrString::String(port.name.clone()),
                ..Default::default()
            })
        }
        None => {
            p.tcp_socket = Some(TCPSocketAction {
                port: IntOrString::String(first.name.clone()),
                ..Default::default()
            })
        }
    };
    // Readiness reacts fast; liveness waits longer, so a slow start or a
    // busy moment does not restart the pod.
    let mut readiness = Probe {
        period_seconds: Some(10),
        failure_threshold: Some(3),
        ..Default::default()
    };
    let mut liveness = Probe {
        initial_delay_seconds: Some(10),
        period_seconds: Some(20),
        failure_threshold: Some(6),
        ..Default::default()
    };
    action(&mut readiness);
    action(&mut liveness);
    (Some(readiness), Some(liveness))
}

fn workload(m: &Model, n: &Names, out: &mut Out, s: &Service, version: Option<&Version>) -> Value {
    let sv = svc_values(s);
    // Values of this workload: the service's, or its version's.
    let wv = match version {
        Some(v) => sv.version(&v.name),
        None => sv.clone(),
    };
    let object = match version {
        Some(v) => format!("{}-{}", s.name, v.name),
        None => s.name.clone(),
    };
    let replicas = version.map_or(s.replicas, |v| v.replicas);
    let image = version.map_or(&s.image, |v| &v.image);
    let mut mounts = vec![VolumeMount {
        name: "tmp".into(),
        mount_path: "/tmp".into(),
        ..Default::default()
    }];
    if let Some(vol) = &s.storage {
        mounts.push(VolumeMount {
            name: "data".into(),
            mount_path: vol.mount_path.clone(),
            ..Default::default()
        });
    }
    // A Job's pod runs to completion: probes would only restart it.
    let (readiness, liveness) = if s.workload.runs_to_completion() {
        (None, None)
    } else {
        probes(s)
    };
    let container = Container {
        name: s.name.clone(),
        image_pull_policy: Some("IfNotPresent".into()),
        ports: (!s.ports.is_empty()).then(|| {
            s.ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.target_port),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                })
                .collect()
        }),
        readiness_probe: readiness,
        liveness_probe: liveness,
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    let pod = PodSpec {
        automount_service_account_token: Some(false),
        containers: vec![container],
        volumes: Some(vec![Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta::default()),
        spec: Some(pod),
    };
    let mut v = match s.workload {
        Workload::Deployment => to_value(&Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas as i32),
                selector: LabelSelector::default(),
                template,
                ..Default::default()
            }),
            ..Default::default()
        }),
        Workload::DaemonSet | Workload::Job | Workload::CronJob => {
            super::job::object(s.workload, s.pod.schedule.as_deref(), template)
        }
        Workload::StatefulSet => to_value(&StatefulSet {
            spec: Some(StatefulSetSpec {
                replicas: Some(s.replicas as i32),
                service_name: Some(n.host_plain(&s.name)),
                selector: LabelSelector::default(),
                template,
                volume_claim_templates: s.storage.as_ref().map(|vol| {
                    vec![PersistentVolumeClaim {
                        metadata: ObjectMeta {
                            name: Some("data".into()),
                            ..Default::default()
                        },
                        spec: Some(PersistentVolumeClaimSpec {
                            access_modes: Some(vec!["ReadWriteOnce".into()]),
                            resources: Some(VolumeResourceRequirements {
                                requests: Some(BTreeMap::from([(
                                    "storage".to_string(),
                                    Quantity(vol.size.clone()),
                                )])),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    v["metadata"] = n.meta(out, &object, Some(&s.name));
    let spec = &mut v["spec"];
    if s.workload.has_replicas() {
        spec["replicas"] = out.scalar(&wv.replicas().expr(), json!(replicas));
    }
    if s.workload == Workload::StatefulSet {
        spec["serviceName"] = n.host(out, &s.name);
        if let Some(vol) = &s.storage {
            let pvc = &mut spec["volumeClaimTemplates"][0];
            pvc["spec"]["resources"]["requests"]["storage"] = out.scalar(
                &format!("{} | quote", sv.storage_size().expr()),
                json!(vol.size),
            );
            out.optional(
                &mut pvc["spec"],
                "storageClassName",
                &sv.storage_class_name().expr(),
                vol.storage_class.as_ref().map(|c| json!(c)),
            );
        }
    }
    let mut selector = n.selector(out, Some(&s.name));
    let mut labels = workload_pod_labels(m, n, out, s, version);
    if let Some(v) = version {
        selector[VERSION_LABEL] = json!(v.name);
        labels[VERSION_LABEL] = json!(v.name);
    }
    // A Job's selector is generated by Kubernetes (a `controller-uid`);
    // giving one needs `manualSelector`.
    // <https://kubernetes.io/docs/concepts/workloads/controllers/job/#specifying-your-own-pod-selector>
    if !s.workload.runs_to_completion() {
        spec["selector"] = json!({ "matchLabels": selector });
    }
    let tpl = super::job::template_mut(s.workload, &mut v);
    tpl["metadata"] = json!({ "labels": labels });
    let mut metrics = super::metrics::pod_annotations(s);
    metrics.extend(super::job::pod_annotations(s.workload));
    // Scrape and Job annotations are the service's own: no chart-wide text.
    let annotations = if metrics.is_empty() {
        hoist::pod_piece(Hoist::PodAnnotations)
    } else {
        pod_annotation_lines(
            n.app,
            &sv.own_or_default(PodField::PodAnnotations),
            &metrics,
        )
    };
    match out.lines(annotations) {
        Some(marker) => tpl["metadata"][marker.as_str()] = Value::Null,
        None if !metrics.is_empty() => tpl["metadata"]["annotations"] = Value::Object(metrics),
        None => {}
    }
    let pod = &mut tpl["spec"];
    pod["serviceAccountName"] = match version {
        Some(v) if m.version_identities(&s.name) => {
            n.object(out, &crate::model::identity_suffix(&s.name, &v.name))
        }
        _ => n.object(out, &s.name),
    };
    if out.helm() {
        let marker = out
            .lines(vec![format!("{{{{- {} }}}}", Hoist::PullSecrets.var())])
            .expect("helm mode has lines");
        pod[marker.as_str()] = Value::Null;
    } else if !m.pull_secrets.is_empty() {
        pod["imagePullSecrets"] = json!(m
            .pull_secrets
            .iter()
            .map(|s| json!({ "name": s }))
            .collect::<Vec<_>>());
    }
    pod["securityContext"] = field_value(
        out,
        PodField::PodSecurityContext,
        super::pod::pod_security_context(s),
    );
    for f in [
        PodField::NodeSelector,
        PodField::Affinity,
        PodField::Tolerations,
    ] {
        if let Some(marker) = out.lines(field(f)) {
            pod[marker.as_str()] = Value::Null;
        }
    }
    if s.workload.runs_to_completion() {
        pod["restartPolicy"] = json!("OnFailure");
    }
    super::pod::pod(n, out, s, pod);
    let c = &mut pod["containers"][0];
    if let Some(env) = super::pod::env(n, out, s, version) {
        c["env"] = env;
    }
    super::pod::container(n, out, s, c);
    c["image"] = out.scalar(
        &format!(
            "include \"{}.image\" (dict \"image\" {} \"ctx\" $) | quote",
            n.app,
            wv.image().expr()
        ),
        json!(image.to_string()),
    );
    c["securityContext"] = field_value(
        out,
        PodField::SecurityContext,
        super::pod::security_context(s),
    );
    c["resources"] = field_value(out, PodField::Resources, resources_value(&s.resources));
    set(pod, &["terminationGracePeriodSeconds"], json!(30));
    v
}

/// [`pod_labels`] in a service's own workload file, where `$own` holds the
/// service's values (`hoist::own_binding`): the selector and, unless the
/// service sets `istio`, the mesh labels come from the file's bindings.
fn workload_pod_labels(
    m: &Model,
    n: &Names,
    out: &mut Out,
    s: &Service,
    version: Option<&Version>,
) -> Value {
    let mut lines = vec![
        format!("{{{{- {} }}}}", Hoist::Selector.var()),
        format!("app.kubernetes.io/component: \"{}\"", s.name),
    ];
    lines.extend(super::injection::helm_canonical_lines(s, version));
    lines.extend(hoist::pod_piece(Hoist::MeshLabels));
    super::pod_meta::labels_from(m, n, out, s, version, lines)
}

/// What the mesh changes in a pod template with `istio.enabled=true`, as
/// the chart's defaults render it: (labels, annotations), `null` removing
/// a base label. Kustomize patches pods with these.
pub fn mesh_pod_metadata(m: &Model) -> (Map<String, Value>, Map<String, Value>) {
    let labels = injection::kustomize_patch_labels(m);
    let mut annotations = Map::new();
    if proxy_image_cond().eval_defaults(m, &[(ISTIO_ENABLED, true)]) {
        if let Some(p) = &m.mesh.proxy {
            annotations.insert(PROXY_IMAGE.into(), json!(p.to_string()));
        }
    }
    (labels, annotations)
}

/// A pod field's lines: the service's own value when it sets one (where
/// `<own> | default <chart-wide>` is `<own>`), else the file's chart-wide
/// text (`hoist`).
fn field(f: PodField) -> Vec<String> {
    hoist::pod_piece(Hoist::Field(f))
}

/// A pod field written under its key (`resources:`, `securityContext:`):
/// the lines in Helm mode, `default` in plain mode.
fn field_value(out: &mut Out, f: PodField, default: Value) -> Value {
    match out.lines(field(f)) {
        Some(marker) => json!({ marker: null }),
        None => default,
    }
}

fn pdb(n: &Names, out: &mut Out, s: &Service) -> Value {
    let p = PodDisruptionBudget {
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut v = to_value(&p);
    v["metadata"] = n.meta(out, &s.name, Some(&s.name));
    v["spec"]["selector"] = json!({ "matchLabels": n.selector(out, Some(&s.name)) });
    v
}
