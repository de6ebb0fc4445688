//! Chart-wide template text rendered once per template file instead of once
//! per service (issue #17: `helm template` of a large chart spent most of its
//! time parsing and executing the same `toYaml`, `merge` and `if` chains for
//! every workload).
//!
//! A [`Hoist`] is a piece of a pod template whose text depends only on
//! chart-wide values when the service does not override it: the default
//! security contexts, resources, placement, annotations, the mesh labels,
//! the pull secrets, the label blocks. Its lines are the very lines the
//! per-service template would hold, with the service's own value replaced
//! by the chart-wide one; the chart's `_helpers.tpl` defines them as
//! `<app>.hoist.<name>` ([`helpers`]), and a file binds
//! `$hoist_<name>_<indent>` once ([`bindings`]) for each indentation its
//! objects use. A service's template then reads the variable, and keeps
//! the full lines only in the branch taken when the service sets its own
//! value ([`unless`]).
//!
//! Invariant: the text a variable holds is the text its lines render at
//! that indentation. Lines rendered at indentation 0 and then indented by
//! `replace "\n" "\n<indent>"` give the same text as the lines rendered at
//! the indentation (every line of their output starts with a newline, which
//! `nindent` and the YAML lines alike produce), and a service's test
//! ([`unless`]) is false exactly when `<own> | default <chart-wide>` is the
//! chart-wide value (`default` and `if` share Go's emptiness).
//! `tests/hoist_equivalence.rs` renders the chart of the starting commit and
//! this one with values overriding each piece and compares every object.

use super::additions::platform;
use super::values::{PodField, GLOBAL_IMAGE_PULL_SECRETS, ISTIO_INJECTION};

/// A chart-wide piece of a pod template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hoist {
    /// The common labels (`<app>.labels`).
    Labels,
    /// The selector labels (`<app>.selectorLabels`).
    Selector,
    /// The pod labels of `istio.injection` and `istio.revision`.
    MeshLabels,
    /// The pod annotations of a pod without scrape annotations.
    PodAnnotations,
    /// `global.imagePullSecrets`.
    PullSecrets,
    /// `serviceDefaults.*` as a service renders them.
    Field(PodField),
}

impl Hoist {
    /// Every piece, in the order a file binds them.
    pub const ALL: [Hoist; 11] = [
        Hoist::Labels,
        Hoist::Selector,
        Hoist::MeshLabels,
        Hoist::PodAnnotations,
        Hoist::PullSecrets,
        Hoist::Field(PodField::Resources),
        Hoist::Field(PodField::PodSecurityContext),
        Hoist::Field(PodField::SecurityContext),
        Hoist::Field(PodField::NodeSelector),
        Hoist::Field(PodField::Tolerations),
        Hoist::Field(PodField::Affinity),
    ];

    /// The name in the variable and the helper (letters only, so the
    /// indentation after `_` is unambiguous).
    pub fn name(self) -> &'static str {
        match self {
            Hoist::Labels => "labels",
            Hoist::Selector => "selector",
            Hoist::MeshLabels => "meshLabels",
            Hoist::PodAnnotations => "podAnnotations",
            Hoist::PullSecrets => "pullSecrets",
            Hoist::Field(f) => f.key(),
        }
    }

    /// The template variable at the indentation of the line it replaces
    /// (`{0}`, which `package::helm` fills in).
    pub fn var(self) -> String {
        format!("$hoist_{}_{{0}}", self.name())
    }

    /// The piece's lines with the chart-wide value: what a service that
    /// does not override it renders.
    fn lines(self, app: &str) -> Vec<String> {
        match self {
            Hoist::Labels => vec![format!(
                "{{{{- include \"{app}.labels\" (dict \"ctx\" $) | nindent {{0}} }}}}"
            )],
            Hoist::Selector => vec![format!(
                "{{{{- include \"{app}.selectorLabels\" (dict \"ctx\" $) | nindent {{0}} }}}}"
            )],
            Hoist::MeshLabels => super::injection::helm_mesh_lines(&ISTIO_INJECTION.expr()),
            Hoist::PodAnnotations => super::pod_meta::pod_annotation_lines(
                app,
                &PodField::PodAnnotations.default_val().expr(),
                &serde_json::Map::new(),
            ),
            Hoist::PullSecrets => pull_secret_lines(),
            Hoist::Field(f) => {
                let mut lines = vec![];
                if matches!(f, PodField::SecurityContext | PodField::PodSecurityContext) {
                    lines.push(super::additions::openshift_binding(app));
                }
                lines.extend(field_lines(f, &f.default_val().expr()));
                lines
            }
        }
    }
}

/// The pull secrets of every pod (`global.imagePullSecrets`).
fn pull_secret_lines() -> Vec<String> {
    vec![
        format!("{{{{- with {} }}}}", GLOBAL_IMAGE_PULL_SECRETS.expr()),
        "imagePullSecrets:".into(),
        "  {{- range . }}".into(),
        "  - name: {{ . | quote }}".into(),
        "  {{- end }}".into(),
        "{{- end }}".into(),
    ]
}

/// The lines of a pod field in a pod template, reading `expr` (a service's
/// `(<own> | default <chart-wide>)`, or the chart-wide value alone): a
/// `toYaml` under the key the emitter wrote (resources and the security
/// contexts, on `$openshift`'s platform), or the whole key when non-empty.
pub fn field_lines(f: PodField, expr: &str) -> Vec<String> {
    match f {
        PodField::Resources => vec![format!("{{{{- toYaml {expr} | nindent {{0}} }}}}")],
        PodField::PodSecurityContext | PodField::SecurityContext => {
            vec![format!(
                "{{{{- toYaml {} | nindent {{0}} }}}}",
                platform(expr)
            )]
        }
        PodField::NodeSelector
        | PodField::Tolerations
        | PodField::Affinity
        | PodField::PodAnnotations => vec![
            format!("{{{{- with {expr} }}}}"),
            format!("{}:", f.key()),
            "  {{- toYaml . | nindent {2} }}".to_string(),
            "{{- end }}".to_string(),
        ],
    }
}

/// `own` (a service's lines) when `test` holds, else the hoisted piece:
/// `test` must be false exactly when `own` renders as the piece does.
pub fn unless(test: &str, h: Hoist, own: Vec<String>) -> Vec<String> {
    let mut lines = vec![format!("{{{{- if {test} }}}}")];
    lines.extend(own);
    lines.push("{{- else }}".into());
    lines.push(format!("{{{{- {} }}}}", h.var()));
    lines.push("{{- end }}".into());
    lines
}

/// The `define`s of every piece, for `_helpers.tpl`. Each is called with
/// the chart's root context, and renders its lines at indentation 0.
pub fn helpers(app: &str) -> String {
    let mut t = String::from(
        "\n{{/*\nPod template pieces rendered once per template file (see the\n`$hoist_<name>_<indent>` bindings at the top of each): what a service\nrenders when it does not set the value itself.\n*/}}\n",
    );
    for h in Hoist::ALL {
        t.push_str(&format!("{{{{- define \"{app}.hoist.{}\" }}}}\n", h.name()));
        for l in h.lines(app) {
            let mut l = l;
            for n in 0..=4 {
                l = l.replace(&format!("{{{n}}}"), &n.to_string());
            }
            t.push_str(&l);
            t.push('\n');
        }
        t.push_str("{{- end }}\n");
    }
    t
}

/// The binding lines of the pieces `body` reads (`$hoist_<name>_<indent>`),
/// in [`Hoist::ALL`]'s order, each indentation once.
pub fn bindings(app: &str, body: &str) -> Vec<String> {
    const PREFIX: &str = "$hoist_";
    let mut used = std::collections::BTreeSet::new();
    for (i, _) in body.match_indices(PREFIX) {
        let rest = &body[i + PREFIX.len()..];
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let Some(h) = Hoist::ALL
            .iter()
            .position(|h| h.name() == &rest[..name_len])
        else {
            continue;
        };
        let Some(digits) = rest[name_len..].strip_prefix('_') else {
            continue;
        };
        let n: String = digits.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(indent) = n.parse::<usize>() {
            used.insert((h, indent));
        }
    }
    used.into_iter()
        .map(|(h, indent): (usize, usize)| {
            let h = Hoist::ALL[h];
            let pad = if indent == 0 {
                String::new()
            } else {
                format!(" | replace \"\\n\" \"\\n{}\"", " ".repeat(indent))
            };
            format!(
                "{{{{- $hoist_{name}_{indent} := include \"{app}.hoist.{name}\" ${pad} }}}}",
                name = h.name()
            )
        })
        .collect()
}

/// The test that a service's own pod field is set (`$own`, see
/// [`own_binding`]): `default` takes the chart-wide value exactly when it
/// is false.
pub fn own_set(f: PodField) -> String {
    format!("{OWN}.{}", f.key())
}

/// The variable holding a service's values in its workload file.
pub const OWN: &str = "$own";

/// The line binding [`OWN`] to a service's values.
pub fn own_binding(sv: &super::values::Svc) -> String {
    format!("{{{{- {OWN} := {} }}}}", sv.expr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_name_each_used_piece_once_per_indentation() {
        let body = "a\n    {{- $hoist_labels_4 }}\n  {{- $hoist_labels_4 }}\n {{- $hoist_resources_10 }} $hoist_nope_3 $hoist_labels_x";
        assert_eq!(
            bindings("app", body),
            vec![
                "{{- $hoist_labels_4 := include \"app.hoist.labels\" $ | replace \"\\n\" \"\\n    \" }}",
                "{{- $hoist_resources_10 := include \"app.hoist.resources\" $ | replace \"\\n\" \"\\n          \" }}",
            ]
        );
        assert!(bindings("app", "no pieces").is_empty());
    }

    #[test]
    fn unless_keeps_the_own_lines_in_the_override_branch() {
        let own = field_lines(PodField::Resources, "(x | default y)");
        assert_eq!(
            unless("$own.resources", Hoist::Field(PodField::Resources), own),
            vec![
                "{{- if $own.resources }}",
                "{{- toYaml (x | default y) | nindent {0} }}",
                "{{- else }}",
                "{{- $hoist_resources_{0} }}",
                "{{- end }}",
            ]
        );
    }

    #[test]
    fn helpers_define_every_piece_at_indentation_zero() {
        let h = helpers("app");
        for p in Hoist::ALL {
            assert!(h.contains(&format!("{{{{- define \"app.hoist.{}\" }}}}", p.name())));
        }
        assert!(!h.contains("{0}") && !h.contains("{2}"), "{h}");
        assert!(h.contains("{{- toYaml $.Values.serviceDefaults.resources | nindent 0 }}"));
    }
}
