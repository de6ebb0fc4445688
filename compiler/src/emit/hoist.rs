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
//! objects use. A service's workload reads each piece as `$pod.<name>_<indent>`
//! ([`pod_piece`]): the file binds, once for all its services
//! ([`pods_binding`]), the hoisted text for a service that does not set
//! the piece and its own lines for one that does; those lines, the same
//! for every service, are the chart's `<app>.own.<name>` helper
//! ([`own_helpers`]). Helm parses every template file on every render, so
//! a branch per piece per workload, rarely taken, cost more than running
//! it once per service. Two pieces are words rather than lines: the key
//! and the prefix of an AuthorizationPolicy rule's identities
//! (`emit::identity`), so a rule naming the release's ServiceAccounts has
//! no per-rule branch on the Istio version; and an object's namespace and
//! common labels are one piece ([`fold_meta`]).
//!
//! Invariant: the text a variable holds is the text its lines render at
//! that indentation. Lines rendered at indentation 0 and then indented by
//! `replace "\n" "\n<indent>"` give the same text as the lines rendered at
//! the indentation (every line of their output starts with a newline, which
//! `nindent` and the YAML lines alike produce), and a service's test
//! (`$own.<key>`) is false exactly when `<own> | default <chart-wide>` is the
//! chart-wide value (`default` and `if` share Go's emptiness); a service
//! takes its own text for a piece exactly when that test holds. The same
//! holds for a helper's own lines: they are the lines a workload held
//! inline, with the root `$` read as `$r` (inside a `define`, `$` is the
//! helper's argument).
//! `tests/hoist_equivalence.rs` renders the chart of the starting commit and
//! this one with values overriding each piece and compares every object.

use super::additions::platform;
use super::values::{PodField, GLOBAL_IMAGE_PULL_SECRETS, ISTIO_INJECTION};
use std::fmt::Write as _;

/// A chart-wide piece of a pod template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hoist {
    /// The common labels (`<app>.labels`).
    Labels,
    /// An object's `namespace:` and `labels:` with the common labels, one
    /// piece where an object's metadata has both ([`fold_meta`]).
    NsLabels,
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
    /// The key naming a rule's identities: `serviceAccounts` from Istio
    /// 1.25 on, else `principals` (`emit::identity`). A word, read at
    /// indentation 0 inside a line.
    IdKey,
    /// What precedes `-<service>` in such an identity: the fullname, or
    /// `<trustDomain>/ns/<namespace>/sa/<fullname>` before 1.25. A word.
    IdRelease,
}

impl Hoist {
    /// Every piece, in the order a file binds them.
    pub const ALL: [Hoist; 14] = [
        Hoist::Labels,
        Hoist::NsLabels,
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
        Hoist::IdKey,
        Hoist::IdRelease,
    ];

    /// The name in the variable and the helper (letters only, so the
    /// indentation after `_` is unambiguous).
    pub fn name(self) -> &'static str {
        match self {
            Hoist::Labels => "labels",
            Hoist::NsLabels => "nsLabels",
            Hoist::Selector => "selector",
            Hoist::MeshLabels => "meshLabels",
            Hoist::PodAnnotations => "podAnnotations",
            Hoist::PullSecrets => "pullSecrets",
            Hoist::Field(f) => f.key(),
            Hoist::IdKey => "idKey",
            Hoist::IdRelease => "idRelease",
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
            Hoist::NsLabels => vec![
                format!("namespace: {{{{ {} }}}}", super::out::RELEASE_NAMESPACE),
                "labels:".into(),
                format!("  {}", Hoist::Labels.lines(app)[0].replace("{0}", "{2}")),
            ],
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
            Hoist::IdKey => vec![super::identity::key_line()],
            Hoist::IdRelease => vec![super::identity::release_prefix_line(app)],
        }
    }

    /// A service's own lines for the piece, as every service without
    /// per-service text spells them (`$own` read, `$` the chart's root):
    /// what [`own_helpers`] defines once per chart.
    fn own_lines(self, app: &str) -> Option<Vec<String>> {
        match self {
            Hoist::MeshLabels => Some(super::injection::helm_mesh_lines(
                &super::injection::dig_own(OWN),
            )),
            Hoist::PodAnnotations => Some(super::pod_meta::pod_annotation_lines(
                app,
                &own_set(PodField::PodAnnotations),
                &serde_json::Map::new(),
            )),
            Hoist::Field(f) => Some(field_lines(f, &own_set(f))),
            _ => None,
        }
    }

    /// The test that a service sets the piece itself.
    fn own_test(self) -> Option<String> {
        match self {
            Hoist::MeshLabels => Some(format!("{OWN}.istio")),
            Hoist::PodAnnotations => Some(own_set(PodField::PodAnnotations)),
            Hoist::Field(f) => Some(own_set(f)),
            _ => None,
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

/// `body` with each object's `namespace: <release namespace>`, `labels:`
/// and common labels (three lines, two actions) as the one line of
/// [`Hoist::NsLabels`] at their indentation: a 1,000-service chart has
/// about 11,000 objects, and each action is parsed on every render.
pub fn fold_meta(body: &str) -> String {
    // Found with `memmem` and compared in place: this runs over every byte
    // of a chart's templates on the thread that puts files together, and a
    // line-by-line pass with a padding string per line was a quarter of
    // that thread at 10,000 services (perf).
    let namespace = format!("namespace: {{{{ {} }}}}", super::out::RELEASE_NAMESPACE);
    let labels = Hoist::Labels.var();
    let (labels_head, labels_tail) = labels.split_once("{0}").expect("an indentation");
    let ns_labels = Hoist::NsLabels.var();
    let (ns_head, ns_tail) = ns_labels.split_once("{0}").expect("an indentation");
    let bytes = body.as_bytes();
    let mut out = String::with_capacity(body.len());
    let mut copied = 0;
    let mut digits = String::new();
    for at in memchr::memmem::find_iter(bytes, namespace.as_bytes()) {
        // The line is the namespace alone, after spaces only.
        let indent = bytes[..at].iter().rev().take_while(|&&b| b == b' ').count();
        let start = at - indent;
        if start < copied || (start > 0 && bytes[start - 1] != b'\n') {
            continue;
        }
        let pad = &body[start..at];
        let Some(rest) = body[at + namespace.len()..]
            .strip_prefix('\n')
            .and_then(|r| r.strip_prefix(pad))
            .and_then(|r| r.strip_prefix("labels:\n"))
        else {
            continue;
        };
        let third_len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let third = &rest[..third_len];
        digits.clear();
        let _ = write!(digits, "{}", indent + 2);
        let is_labels = third
            .trim_end_matches('\n')
            .strip_prefix(pad)
            .and_then(|t| t.strip_prefix("  {{- "))
            .and_then(|t| t.strip_prefix(labels_head))
            .and_then(|t| t.strip_suffix(" }}"))
            .and_then(|t| t.strip_suffix(labels_tail))
            == Some(digits.as_str());
        if !is_labels {
            continue;
        }
        let end = if third.ends_with('\n') { "\n" } else { "" };
        out.push_str(&body[copied..start]);
        let _ = write!(out, "{pad}{{{{- {ns_head}{indent}{ns_tail} }}}}{end}");
        copied = body.len() - rest.len() + third_len;
    }
    out.push_str(&body[copied..]);
    out
}

/// A service's piece `h` in its workload: `$pod.<name>_<indent>`, the
/// text [`bindings`] computed for the service once per file (its own lines
/// through the chart's `<app>.own.<name>` helper when it sets the piece,
/// else the hoisted text). A workload thus parses one action per piece
/// instead of a branch with both texts.
pub fn pod_piece(h: Hoist) -> Vec<String> {
    assert!(h.own_test().is_some(), "{h:?} has no own lines");
    vec![format!("{{{{- {POD}.{}_{{0}} }}}}", h.name())]
}

/// The variable holding a service's pieces in its workload file.
pub const POD: &str = "$pod";

/// What an own helper is called with: the root, `$own`, and `$openshift`
/// when its lines read it.
fn own_args(own: &[String]) -> String {
    if own.iter().any(|l| l.contains("$openshift")) {
        format!("list $ {OWN} $openshift")
    } else {
        format!("list $ {OWN}")
    }
}

/// `line` with the root variable `$` (not `$name`) read as `$r`: inside a
/// helper `$` is the helper's argument.
fn rebase(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$'
            && !chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '_')
        {
            out.push('r');
        }
    }
    out
}

/// The `define`s of each piece's own lines (`<app>.own.<name>`), for
/// `_helpers.tpl`: called with `(list $ $own [$openshift])` by
/// [`pod_piece`], they bind those names and render the lines at
/// indentation 0.
pub fn own_helpers(app: &str) -> String {
    let mut t = String::from(
        "\n{{/*\nA service's own pod template pieces (see `$hoist_pods`): the lines a\nservice that sets the value itself renders, parsed once per chart.\n*/}}\n",
    );
    for h in Hoist::ALL {
        let Some(own) = h.own_lines(app) else {
            continue;
        };
        t.push_str(&format!("{{{{- define \"{app}.own.{}\" }}}}\n", h.name()));
        t.push_str("{{- $r := index . 0 }}\n");
        t.push_str(&format!("{{{{- {OWN} := index . 1 }}}}\n"));
        if own_args(&own).ends_with("$openshift") {
            t.push_str("{{- $openshift := index . 2 }}\n");
        }
        for l in own {
            t.push_str(&rebase(&fill(&l)));
            t.push('\n');
        }
        t.push_str("{{- end }}\n");
    }
    t
}

/// `line` with its `{N}` placeholders at indentation 0.
fn fill(line: &str) -> String {
    let mut l = line.to_string();
    for n in 0..=4 {
        l = l.replace(&format!("{{{n}}}"), &n.to_string());
    }
    l
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
            t.push_str(&fill(&l));
            t.push('\n');
        }
        t.push_str("{{- end }}\n");
    }
    t + &own_helpers(app)
}

/// A set of (piece, indentation) pairs: a bit per pair below 128 spaces,
/// since a bucket file reads the same few pairs hundreds of thousands of
/// times (a `BTreeSet` insert each was most of [`bindings`]).
#[derive(Default)]
struct Pairs {
    bits: [u128; Hoist::ALL.len()],
    wide: std::collections::BTreeSet<(usize, usize)>,
}

impl Pairs {
    fn insert(&mut self, (h, indent): (usize, usize)) {
        match indent < 128 {
            true => self.bits[h] |= 1 << indent,
            false => {
                self.wide.insert((h, indent));
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.bits.iter().all(|b| *b == 0) && self.wide.is_empty()
    }

    /// The pairs in order, as a `BTreeSet` of them iterates.
    fn sorted(&self) -> Vec<(usize, usize)> {
        let mut v: Vec<(usize, usize)> = (0..Hoist::ALL.len())
            .flat_map(|h| {
                (0..128)
                    .filter(move |i| self.bits[h] >> i & 1 == 1)
                    .map(move |i| (h, i))
            })
            .chain(self.wide.iter().copied())
            .collect();
        v.sort_unstable();
        v
    }
}

/// The binding lines of the pieces `body` reads (`$hoist_<name>_<indent>`),
/// in [`Hoist::ALL`]'s order, each indentation once.
pub fn bindings(app: &str, body: &str) -> Vec<String> {
    const PREFIX: &str = "$hoist_";
    let mut used = Pairs::default();
    // `memmem` rather than `match_indices`: each scan reads every byte of
    // a bucket file (three per file, 88 MB at 10,000 services).
    for i in memchr::memmem::find_iter(body.as_bytes(), PREFIX) {
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
        let n = digits.len()
            - digits
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        if let Ok(indent) = digits[..n].parse::<usize>() {
            used.insert((h, indent));
        }
    }
    // The pieces workloads read from `$pod`, and their services.
    let mut pieces = Pairs::default();
    for i in memchr::memmem::find_iter(body.as_bytes(), POD_READ) {
        let rest = &body[i + POD_READ.len()..];
        let Some((name, indent)) = rest.split_once(" }}").and_then(|(r, _)| r.rsplit_once('_'))
        else {
            continue;
        };
        let h = Hoist::ALL.iter().position(|h| h.name() == name);
        if let (Some(h), Ok(indent)) = (h, indent.parse::<usize>()) {
            pieces.insert((h, indent));
            used.insert((h, indent));
        }
    }
    let mut services: Vec<&str> = vec![];
    for i in memchr::memmem::find_iter(body.as_bytes(), POD_BINDING) {
        let rest = &body[i + POD_BINDING.len()..];
        let Some((name, _)) = rest.split_once(" }}") else {
            continue;
        };
        // Inside a range over services (`package::helm_groups`), the
        // names are the range's.
        let names = if name == SERVICE_RANGE_VAR {
            body[..i]
                .rfind(SERVICE_RANGE)
                .and_then(|r| body[r + SERVICE_RANGE.len()..].split_once(" }}"))
                .map_or(vec![], |(l, _)| l.split(' ').collect())
        } else {
            vec![name]
        };
        for name in names {
            if !services.contains(&name) {
                services.push(name);
            }
        }
    }
    let mut lines: Vec<String> = used
        .sorted()
        .into_iter()
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
        .collect();
    if pieces.is_empty() && !services.is_empty() {
        // A workload file without a pod template reads no piece.
        lines.push("{{- $hoist_pods := dict }}".into());
    } else if !pieces.is_empty() {
        let pieces: Vec<(Hoist, usize)> = pieces
            .sorted()
            .into_iter()
            .map(|(h, i)| (Hoist::ALL[h], i))
            .collect();
        lines.push(pods_binding(app, &pieces, &services));
    }
    lines
}

/// A range over services' quoted names, each bound to [`SERVICE_RANGE_VAR`]
/// (`package::helm_groups` writes objects of one shape once).
pub const SERVICE_RANGE: &str = "{{- range $s := list ";
pub const SERVICE_RANGE_VAR: &str = "$s";

/// What a workload reads a piece from: `$pod.<name>_<indent> }}`.
const POD_READ: &str = "{{- $pod.";
/// The start of [`own_binding`], before the service's quoted name.
const POD_BINDING: &str = "{{- $pod := index $hoist_pods ";

/// One line binding `$hoist_pods`: for each of `services` (quoted names),
/// a map from `<name>_<indent>` to the text of each of `pieces` at that
/// indentation. A service that sets none of them shares the file's map of
/// hoisted texts; one that sets any gets its own, with its own lines
/// (`<app>.own.<name>`, indented like the line it stands for) where it
/// sets the piece: the branch each workload held, run once per service
/// and parsed once per file.
fn pods_binding(app: &str, pieces: &[(Hoist, usize)], services: &[&str]) -> String {
    let key = |h: Hoist, indent: usize| format!("\"{}_{indent}\"", h.name());
    let hoisted = |h: Hoist, indent: usize| format!("$hoist_{}_{indent}", h.name());
    let mut t = String::from("{{- $hoist_podDefault := dict");
    for &(h, i) in pieces {
        t.push_str(&format!(" {} {}", key(h, i), hoisted(h, i)));
    }
    t.push_str(" }}{{- $hoist_pods := dict }}");
    t.push_str(&format!(
        "{{{{- range $name := list {} }}}}",
        services.join(" ")
    ));
    t.push_str(&format!(
        "{{{{- {OWN} := index $.Values.services $name }}}}"
    ));
    let mut tests: Vec<String> = pieces.iter().filter_map(|(h, _)| h.own_test()).collect();
    tests.dedup();
    t.push_str(&format!(
        "{{{{- if or {} }}}}{{{{- {POD} := dict }}}}",
        tests.join(" ")
    ));
    for &(h, i) in pieces {
        let (Some(test), Some(own)) = (h.own_test(), h.own_lines(app)) else {
            panic!("{h:?} has no own lines");
        };
        t.push_str(&format!(
            "{{{{- if {test} }}}}{{{{- $_ := set {POD} {k} (include \"{app}.own.{n}\" ({args}) | replace \"\\n\" \"\\n{sp}\") }}}}{{{{- else }}}}{{{{- $_ := set {POD} {k} {v} }}}}{{{{- end }}}}",
            k = key(h, i),
            n = h.name(),
            args = own_args(&own),
            sp = " ".repeat(i),
            v = hoisted(h, i),
        ));
    }
    t.push_str(&format!(
        "{{{{- $_ := set $hoist_pods $name {POD} }}}}{{{{- else }}}}{{{{- $_ := set $hoist_pods $name $hoist_podDefault }}}}{{{{- end }}}}{{{{- end }}}}"
    ));
    t
}

/// The test that a service's own pod field is set (`$own`, see
/// [`own_binding`]): `default` takes the chart-wide value exactly when it
/// is false.
pub fn own_set(f: PodField) -> String {
    format!("{OWN}.{}", f.key())
}

/// The variable holding a service's values in its workload file.
pub const OWN: &str = "$own";

/// The line binding [`POD`] to a service's pieces (see [`pods_binding`]).
pub fn own_binding(sv: &super::values::Svc) -> String {
    let e = sv.expr();
    let name = e
        .strip_prefix("(index $.Values.services ")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| {
            panic!("a service's values are (index $.Values.services \"<name>\"): {e}")
        });
    format!("{POD_BINDING}{name} }}}}")
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
    fn helpers_define_every_piece_at_indentation_zero() {
        let h = helpers("app");
        for p in Hoist::ALL {
            assert!(h.contains(&format!("{{{{- define \"app.hoist.{}\" }}}}", p.name())));
        }
        assert!(!h.contains("{0}") && !h.contains("{2}"), "{h}");
        assert!(h.contains("{{- toYaml $.Values.serviceDefaults.resources | nindent 0 }}"));
    }

    #[test]
    fn rebase_reads_the_root_from_r_and_keeps_variables() {
        assert_eq!(
            rebase("{{- if $.Values.a }}{{ include \"x\" (dict \"ctx\" $) }}{{ $own.b }}{{ $_ := set $ }}"),
            "{{- if $r.Values.a }}{{ include \"x\" (dict \"ctx\" $r) }}{{ $own.b }}{{ $_ := set $r }}"
        );
    }

    #[test]
    fn a_workload_reads_its_pieces_from_the_file_binding() {
        assert_eq!(
            pod_piece(Hoist::Field(PodField::Resources)),
            vec!["{{- $pod.resources_{0} }}"]
        );
        let body = "{{- $pod := index $hoist_pods \"a\" }}\n  {{- $pod.resources_10 }}\n  {{- $pod.securityContext_10 }}\n{{- $pod := index $hoist_pods \"b\" }}\n  {{- $pod.resources_10 }}\n";
        let b = bindings("app", body);
        assert_eq!(b[..2], [
            "{{- $hoist_resources_10 := include \"app.hoist.resources\" $ | replace \"\\n\" \"\\n          \" }}",
            "{{- $hoist_securityContext_10 := include \"app.hoist.securityContext\" $ | replace \"\\n\" \"\\n          \" }}",
        ]);
        assert_eq!(b.len(), 3);
        assert_eq!(
            b[2],
            concat!(
                "{{- $hoist_podDefault := dict \"resources_10\" $hoist_resources_10 \"securityContext_10\" $hoist_securityContext_10 }}",
                "{{- $hoist_pods := dict }}{{- range $name := list \"a\" \"b\" }}{{- $own := index $.Values.services $name }}",
                "{{- if or $own.resources $own.securityContext }}{{- $pod := dict }}",
                "{{- if $own.resources }}{{- $_ := set $pod \"resources_10\" (include \"app.own.resources\" (list $ $own) | replace \"\\n\" \"\\n          \") }}",
                "{{- else }}{{- $_ := set $pod \"resources_10\" $hoist_resources_10 }}{{- end }}",
                "{{- if $own.securityContext }}{{- $_ := set $pod \"securityContext_10\" (include \"app.own.securityContext\" (list $ $own $openshift) | replace \"\\n\" \"\\n          \") }}",
                "{{- else }}{{- $_ := set $pod \"securityContext_10\" $hoist_securityContext_10 }}{{- end }}",
                "{{- $_ := set $hoist_pods $name $pod }}{{- else }}{{- $_ := set $hoist_pods $name $hoist_podDefault }}{{- end }}{{- end }}",
            )
        );
        assert_eq!(
            bindings(
                "app",
                "{{- $pod := index $hoist_pods \"a\" }}\nkind: Service\n"
            ),
            vec!["{{- $hoist_pods := dict }}"]
        );
    }

    #[test]
    fn own_helpers_hold_each_piece_once_at_indentation_zero() {
        let h = own_helpers("app");
        let resources = "{{- define \"app.own.resources\" }}\n{{- $r := index . 0 }}\n{{- $own := index . 1 }}\n{{- toYaml $own.resources | nindent 0 }}\n{{- end }}\n";
        assert!(h.contains(resources), "{h}");
        assert!(h.contains("{{- define \"app.own.podSecurityContext\" }}\n{{- $r := index . 0 }}\n{{- $own := index . 1 }}\n{{- $openshift := index . 2 }}\n"), "{h}");
        for p in Hoist::ALL {
            let define = format!("{{{{- define \"app.own.{}\" }}}}", p.name());
            assert_eq!(
                h.matches(&define).count(),
                usize::from(p.own_lines("app").is_some()),
                "{define}"
            );
        }
        assert!(
            !h.contains("$.") && !h.contains("{0}") && !h.contains("{2}"),
            "{h}"
        );
    }

    #[test]
    fn fold_meta_takes_namespace_and_labels_together() {
        let body = "metadata:\n  name: \"{{ $fullname }}-a\"\n  namespace: {{ $.Release.Namespace }}\n  labels:\n    {{- $hoist_labels_4 }}\n    app.kubernetes.io/component: \"a\"\n    x:\n      namespace: {{ $.Release.Namespace }}\n      labels:\n        {{- $hoist_labels_4 }}\n";
        assert_eq!(
            fold_meta(body),
            "metadata:\n  name: \"{{ $fullname }}-a\"\n  {{- $hoist_nsLabels_2 }}\n    app.kubernetes.io/component: \"a\"\n    x:\n      namespace: {{ $.Release.Namespace }}\n      labels:\n        {{- $hoist_labels_4 }}\n"
        );
        assert_eq!(fold_meta(&fold_meta(body)), fold_meta(body));
        // At the very start and end of a text (no final newline), and
        // near misses left alone: labels at another indentation, text
        // before the namespace on its line, a longer namespace line.
        assert_eq!(
            fold_meta("namespace: {{ $.Release.Namespace }}\nlabels:\n  {{- $hoist_labels_2 }}"),
            "{{- $hoist_nsLabels_0 }}"
        );
        for near in [
            "namespace: {{ $.Release.Namespace }}\nlabels:\n  {{- $hoist_labels_20 }}\n",
            " x namespace: {{ $.Release.Namespace }}\n labels:\n   {{- $hoist_labels_3 }}\n",
            "  namespace: {{ $.Release.Namespace }}x\n  labels:\n    {{- $hoist_labels_4 }}\n",
            "  namespace: {{ $.Release.Namespace }}\n labels:\n    {{- $hoist_labels_4 }}\n",
        ] {
            assert_eq!(fold_meta(near), near);
        }
        assert!(helpers("app").contains("{{- define \"app.hoist.nsLabels\" }}\nnamespace: {{ $.Release.Namespace }}\nlabels:\n  {{- include \"app.labels\" (dict \"ctx\" $) | nindent 2 }}\n{{- end }}\n"));
    }
}
