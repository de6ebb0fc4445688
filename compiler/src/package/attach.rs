//! Attach mode's packaging: what lets a vendor's own chart or manifests
//! join the mesh layer meshpack renders.
//!
//! - Helm: the chart is a *subchart* the vendor adds as a dependency. Its
//!   templates render the mesh objects and NetworkPolicies under its own
//!   values (`<chart>.istio.enabled` in the vendor's values); its named
//!   template `<chart>.podLabels` is what the vendor's pod templates
//!   include, one line per workload. A subchart rather than a library chart:
//!   a library chart renders nothing by itself, so the vendor would also add
//!   a template file calling it, and its values would have to be declared in
//!   the vendor's own values.yaml; a subchart brings its objects, values,
//!   defaults and values.schema.json with the dependency alone.
//! - Kustomize: per attached workload, a patch selected by kind and name
//!   that adds the same labels and annotations.
//!
//! Invariant: the injection decision is not made here. The named templates
//! are built from `emit::pod_meta::pod_labels` and `pod_annotation_lines`
//! and the patches from `mesh_pod_metadata`, so a change there reaches
//! attached workloads too.

use crate::emit::{self, svc_values, Fragment, Mode, Names, Out, ATTACH_LABEL};
use crate::model::Model;
use crate::policy::AttachKind;
use serde_json::{json, Map, Value};

/// Named templates appended to the chart's `_helpers.tpl` in attach mode.
pub fn helpers(m: &Model) -> String {
    let app = &m.name;
    let n = Names::new(m);
    let services: Vec<&str> = m
        .services
        .iter()
        .filter(|s| s.attach.is_some())
        .map(|s| s.name.as_str())
        .collect();
    let quoted: Vec<String> = services.iter().map(|s| format!("{s:?}")).collect();
    let mut t = String::new();
    t.push_str(&format!(
        r#"
{{{{/*
Attach mode. The vendor's pod templates include, one line per workload:
  labels:
    app: frontend
    {{{{- include "{app}.podLabels" (dict "ctx" $ "service" "frontend") | nindent 8 }}}}
`ctx` is the vendor chart's root context; this chart's values are read from
`.Values.{app}` there (pass "dependency" when the dependency has an alias).
The labels carry the mesh's pod label (`{ATTACH_LABEL}`, which the
release-wide NetworkPolicies select) and, with istio.enabled, the
injection labels (Istio 1.16+ matches the label; see NOTES).
*/}}}}
{{{{- /* Fails unless the dependency and the service are known. */}}}}
{{{{- define "{app}.attachContext" -}}}}
{{{{- $key := .dependency | default "{app}" }}}}
{{{{- if not (hasKey .ctx.Values $key) }}}}
{{{{- fail (printf "{app}: no values under %q; add the {app} chart to Chart.yaml dependencies (helm dependency update), or pass \"dependency\" with its alias" $key) }}}}
{{{{- end }}}}
{{{{- if not (has .service (list {list})) }}}}
{{{{- fail (printf "{app}: %q is not a service of the policy; expected one of: {names}" .service) }}}}
{{{{- end }}}}
{{{{- end }}}}

{{{{- define "{app}.podLabels" -}}}}
{{{{- include "{app}.attachContext" . }}}}
{{{{- $ctx := dict "Values" (index .ctx.Values (.dependency | default "{app}")) "Release" .ctx.Release "Chart" (dict "Name" "{app}" "Version" "{version}" "AppVersion" "{version}") "Capabilities" .ctx.Capabilities "Template" .ctx.Template }}}}
{{{{- include (printf "{app}.podLabels.%s" .service) $ctx }}}}
{{{{- end }}}}

{{{{- /* Labels of the vendor's Service (ambient: the waypoint it uses). */}}}}
{{{{- define "{app}.serviceLabels" -}}}}
{{{{- include "{app}.attachContext" . }}}}
{{{{- $ctx := dict "Values" (index .ctx.Values (.dependency | default "{app}")) "Release" .ctx.Release "Chart" (dict "Name" "{app}" "Version" "{version}" "AppVersion" "{version}") "Capabilities" .ctx.Capabilities "Template" .ctx.Template }}}}
{{{{- include (printf "{app}.serviceLabels.%s" .service) $ctx }}}}
{{{{- end }}}}

{{{{- define "{app}.podAnnotations" -}}}}
{{{{- include "{app}.attachContext" . }}}}
{{{{- $ctx := dict "Values" (index .ctx.Values (.dependency | default "{app}")) "Release" .ctx.Release "Chart" (dict "Name" "{app}" "Version" "{version}" "AppVersion" "{version}") "Capabilities" .ctx.Capabilities "Template" .ctx.Template }}}}
{{{{- include (printf "{app}.podAnnotations.%s" .service) $ctx }}}}
{{{{- end }}}}
"#,
        list = quoted.join(" "),
        names = services.join(", "),
        version = m.version,
    ));
    for s in m.services.iter().filter(|s| s.attach.is_some()) {
        let mut out = Out::new(Mode::Helm);
        emit::pod_meta::pod_labels(m, &n, &mut out, s, None);
        // The vendor's pods keep their own selector labels: drop the chart's.
        let labels: Vec<String> = lines(&out)
            .into_iter()
            .filter(|l| !l.contains("$selector") && !l.starts_with("app.kubernetes.io/component:"))
            .collect();
        t.push_str(&format!(
            "\n{{{{- define \"{app}.podLabels.{}\" -}}}}\n",
            s.name
        ));
        t.push_str(&format!("{ATTACH_LABEL}: {:?}\n", m.name));
        for l in labels {
            t.push_str(&l);
            t.push('\n');
        }
        t.push_str("{{- end }}\n");
        // Ambient: requests to the Service go through the waypoint when
        // rules need one; the same lines as a generated Service's.
        t.push_str(&format!(
            "\n{{{{- define \"{app}.serviceLabels.{}\" -}}}}\n",
            s.name
        ));
        if m.needs_waypoint(&s.name) {
            let mut out = Out::new(Mode::Helm);
            let mut labels = Value::Null;
            emit::workload::waypoint_labels(m, &mut out, &mut labels, s);
            t.push_str(&format!(
                "{{{{- $fullname := include \"{app}.fullname\" $ }}}}\n"
            ));
            for l in lines(&out) {
                t.push_str(&l);
                t.push('\n');
            }
        }
        t.push_str("{{- end }}\n");
        let metrics = emit::metrics::pod_annotations(s);
        let annotations = emit::pod_meta::pod_annotation_lines(
            app,
            &svc_values(s).own_or_default(emit::values::PodField::PodAnnotations),
            &metrics,
        );
        t.push_str(&format!(
            "\n{{{{- define \"{app}.podAnnotations.{}\" -}}}}\n",
            s.name
        ));
        for l in annotations {
            t.push_str(&indent(&l));
            t.push('\n');
        }
        t.push_str("{{- end }}\n");
    }
    t
}

/// The lines of the one `Lines` fragment an emitter recorded.
fn lines(out: &Out) -> Vec<String> {
    out.fragments
        .iter()
        .flat_map(|f| match f {
            Fragment::Lines(l) => l.iter().map(|x| indent(x)).collect(),
            Fragment::Inline(_) => vec![],
        })
        .collect()
}

/// `{N}` placeholders at indentation 0 (the vendor's `nindent` indents).
fn indent(l: &str) -> String {
    let mut l = l.to_string();
    for n in 0..=4 {
        l = l.replace(&format!("{{{n}}}"), &n.to_string());
    }
    l
}

/// Ambient: patches labelling the vendor's Services that rules send
/// through the waypoint (file name, patch, target).
pub fn waypoint_patches(m: &Model) -> Vec<(String, Value, Value)> {
    if !emit::ambient::ambient_by_default(m) {
        return vec![];
    }
    let mut out = vec![];
    for s in &m.services {
        let Some(a) = &s.attach else { continue };
        if !m.needs_waypoint(&s.name) {
            continue;
        }
        let patch = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": a.service,
                "labels": emit::workload::waypoint_service_labels(m, s),
            },
        });
        let target = json!({ "version": "v1", "kind": "Service", "name": a.service });
        out.push((
            format!("patches/waypoint-{}.yaml", a.service),
            patch,
            target,
        ));
    }
    out
}

/// (group, version) of a workload kind, for patch targets.
fn api(kind: AttachKind) -> (&'static str, &'static str) {
    match kind {
        AttachKind::Job | AttachKind::CronJob => ("batch", "v1"),
        _ => ("apps", "v1"),
    }
}

/// Kustomize patches for the vendor's workloads: (file name, patch, target).
/// `mesh`: the injection metadata too (the istio component); without it
/// only the release label (the network-policy component, which selects it).
pub fn patches(m: &Model, mesh: bool) -> Vec<(String, Value, Value)> {
    // Mesh off, the vendor's pods keep whatever injection label they have:
    // a patch opting them out would sit in the network-policy component,
    // which overlays combine with the istio one in either order, and the
    // later patch wins. (The Helm named templates do opt out.)
    let (mut labels, annotations) = if mesh {
        emit::workload::mesh_pod_metadata(m)
    } else {
        (Map::new(), Map::new())
    };
    labels.insert(ATTACH_LABEL.into(), json!(m.name));
    let mut metadata = json!({ "labels": labels });
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    let mut out = vec![];
    for s in &m.services {
        let Some(a) = &s.attach else { continue };
        let (group, version) = api(a.kind);
        let template = json!({ "metadata": metadata });
        let spec = match a.kind {
            AttachKind::CronJob => json!({ "jobTemplate": { "spec": { "template": template } } }),
            _ => json!({ "template": template }),
        };
        let patch = json!({
            "apiVersion": format!("{group}/{version}"),
            "kind": a.kind.as_str(),
            "metadata": { "name": a.workload },
            "spec": spec,
        });
        let target = json!({
            "group": group,
            "version": version,
            "kind": a.kind.as_str(),
            "name": a.workload,
        });
        let file = format!(
            "patches/{}-{}-{}.yaml",
            if mesh { "inject" } else { "label" },
            a.kind.as_str().to_lowercase(),
            a.workload
        );
        out.push((file, patch, target));
    }
    out
}
