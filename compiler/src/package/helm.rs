//! The Helm chart: Chart.yaml, values, schema, helpers, NOTES, README and
//! one template file per emitted file.
//!
//! Object templates come from `emit` in Helm mode: each object is
//! serialised to YAML, every `{{` in it is escaped (it is data: user text
//! must never become template code), and only then are the markers replaced
//! by the template text `Out` recorded for them. Chart text files are
//! minijinja templates under `compiler/templates/chart/`, rendered with
//! `{{{ }}}`/`{{% %}}` delimiters so Helm's `{{ }}` pass through untouched.

use super::helm_groups::{Grouper, Layout};
use super::markers;
use super::values::{self, Entry};
use super::Tree;
use crate::emit::cond::Cond;
use crate::emit::{self, File, Fragment, Group, Mode};
use crate::model::{Model, Source};
use minijinja::syntax::SyntaxConfig;
use minijinja::{context, Environment, UndefinedBehavior};
use serde_json::Value;
use std::fmt::Write as _;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "_helpers.tpl",
        include_str!("../../templates/chart/_helpers.tpl"),
    ),
    (
        "capabilities.yaml",
        include_str!("../../templates/chart/capabilities.yaml"),
    ),
    ("NOTES.txt", include_str!("../../templates/chart/NOTES.txt")),
    (
        "additions.yaml",
        include_str!("../../templates/chart/additions.yaml"),
    ),
    (
        "_additions.tpl",
        include_str!("../../templates/chart/_additions.tpl"),
    ),
    ("README.md", include_str!("../../templates/chart/README.md")),
    (
        "helmignore",
        include_str!("../../templates/chart/helmignore"),
    ),
];

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .block_delimiters("{{%", "%}}")
            .variable_delimiters("{{{", "}}}")
            .comment_delimiters("{{#", "#}}")
            .build()
            .expect("valid delimiters"),
    );
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // A JSON string is a valid YAML scalar, quoted and escaped.
    env.add_filter("yaml", |s: String| {
        serde_json::to_string(&s).expect("string")
    });
    for (name, src) in TEMPLATES {
        env.add_template(name, src).expect("chart templates parse");
    }
    env
}

/// The Helm condition of a group of objects (`Group::cond`, at the top of
/// a file).
pub fn condition(g: Group) -> Option<String> {
    g.cond().map(|c| c.helm_top())
}

/// Longest object-name suffix the chart appends to the fullname.
fn longest_suffix(f: &File) -> usize {
    let mut max = 0;
    for d in &f.docs {
        if let Some(Value::String(m)) = d.value.pointer("/metadata/name") {
            if let Some(Fragment::Inline(t)) =
                markers::marker_index(m).and_then(|i| f.out.fragments.get(i))
            {
                // `"{{ include "x.fullname" $ }}-suffix"`
                if let Some(i) = t.rfind("}}") {
                    max = max.max(t[i + 2..].trim_end_matches('"').len());
                }
            }
        }
    }
    max
}

pub fn chart(m: &Model) -> Tree {
    let mut tree = Tree::new();
    chart_to(m, &mut |p, b| {
        tree.insert(p, b);
    });
    tree
}

/// The chart's files, each handed to `sink` as soon as it is finished (the
/// per-service templates first, then the chart-wide files), so a writer can
/// store them while later ones are produced.
pub fn chart_to(m: &Model, sink: &mut dyn FnMut(String, Vec<u8>)) {
    chart_to_with(m, &Layout::default(), sink)
}

/// The chart with per-service templates laid out as `layout` says (tests
/// force the grouped layout on small policies through it).
#[doc(hidden)]
pub fn chart_with(m: &Model, layout: &Layout) -> Tree {
    let mut tree = Tree::new();
    chart_to_with(m, layout, &mut |p, b| {
        tree.insert(p, b);
    });
    tree
}

/// [`chart_to`] with a layout.
pub fn chart_to_with(m: &Model, layout: &Layout, sink: &mut dyn FnMut(String, Vec<u8>)) {
    let mut tree = Tree::new();
    let mut suffix = 0;
    let mut istio_kinds = std::collections::BTreeSet::new();
    let upgrades_line = super::upgrades::template_line(m);
    let mut grouper = Grouper::new(m.services.len(), layout, &m.name, upgrades_line.clone());
    let mut put_template = |p: String, t: String| sink(format!("templates/{p}"), t.into_bytes());
    // What depends on the model alone (the values file, its schema, the
    // README's rows) is made beside the templates: a tenth of a large
    // compile that would otherwise run after them on one core.
    let side = std::thread::scope(|scope| {
        let side = scope.spawn(|| Side::build(m));
        templates(
            m,
            &mut grouper,
            &upgrades_line,
            &mut put_template,
            &mut suffix,
            &mut istio_kinds,
        );
        side.join().expect("the values and README rows")
    });
    // Object names are "<fullname><suffix>": keep them within 63 characters,
    // and StatefulSet names within 52 (see model::MAX_OBJECT_NAME).
    let longest_service = m
        .services
        .iter()
        .map(|s| s.name.len() + 1)
        .max()
        .unwrap_or(0);
    // `resolve` refuses names that leave less (services: E0211, gateways:
    // E0240); a chart that cut every release name to nothing would render
    // names such as `-web`, which the API server refuses.
    let fullname_max = 63usize
        .saturating_sub(suffix)
        .min(crate::model::MAX_OBJECT_NAME.saturating_sub(longest_service));
    debug_assert!(
        fullname_max >= crate::model::MIN_FULLNAME,
        "an object name suffix of {suffix} characters leaves the release part {fullname_max}"
    );

    let Side {
        values_yaml,
        schema,
        value_rows,
        service_rows,
        edge_rows,
        graph,
        addition_services,
        addition_rows,
        addition_row_host,
    } = side;
    let env = env();
    let cert_manager = m
        .gateways
        .iter()
        .any(|g| g.tls.as_ref().is_some_and(|t| t.issuer.is_some()));
    let images: Vec<Value> = m
        .images()
        .into_iter()
        .map(|(what, i)| serde_json::json!({"name": what, "image": i.to_string()}))
        .collect();
    let tracing = m.telemetry.as_ref().and_then(|t| t.tracing.as_ref());
    let ctx = context! {
        name => &m.name,
        version => &m.version,
        description => &m.description,
        home => &m.home,
        maintainers => m.maintainers.iter().map(|x| context!{name => &x.name, email => &x.email, url => &x.url}).collect::<Vec<_>>(),
        profile => &m.profile,
        mtls => m.mtls.as_str(),
        dry_run => m.dry_run,
        fullname_max => fullname_max,
        // Room for `<prefix>-<5 hex digits>` with a prefix of 2 or more.
        fullname_cut => (fullname_max >= 8).then(|| fullname_max - 6),
        fullname_label => fullname_label(m),
        fullname_installed => fullname_installed(m),
        gateway_istio => gateway_istio(m),
        cert_manager => cert_manager,
        istio_kinds => security_first(istio_kinds),
        telemetry => m.telemetry.is_some(),
        tracing_provider => tracing.map(|t| t.provider),
        fault_injection => m.services.iter().any(|s| s.traffic.fault.is_some()),
        gateways => !m.gateways.is_empty(),
        waypoint => emit::ambient::any_waypoint(m),
        services => m.services.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        short_services => m.service_names == crate::model::ServiceNames::Service,
        // Rows as text: one value per service row held at 10,000
        // services took ~100 MiB at the chart's memory peak.
        service_rows => service_rows,
        edge_rows => edge_rows,
        egress_rows => m.egress.iter().map(|e| context!{from => md(&e.from.join(", ")), host => md(&e.host), port => e.port}).collect::<Vec<_>>(),
        values => value_rows,
        graph => graph,
        edge_count => m.edges.len(),
        buckets => grouper.as_ref().map(|g| g.buckets()),
    };
    let render_with = |name: &str, ctx: &minijinja::Value| {
        env.get_template(name)
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|e| panic!("chart template {name}: {e:#}"))
    };
    let render = |name: &str| render_with(name, &ctx);
    let put = |tree: &mut Tree, path: &str, text: String| {
        tree.insert(path.to_string(), text.into_bytes());
    };
    put(&mut tree, "Chart.yaml", chart_yaml(m, &images));
    drop(images);
    put(&mut tree, "values.yaml", values_yaml);
    put(&mut tree, "values.schema.json", schema);
    put(&mut tree, ".helmignore", render("helmignore"));
    put(&mut tree, "README.md", render("README.md"));
    let mut helpers = render("_helpers.tpl");
    if m.services.iter().any(|s| s.attach.is_some()) {
        helpers.push_str(&super::attach::helpers(m));
    }
    helpers.push_str(&super::upgrades::helpers(m));
    helpers.push_str(&emit::hoist::helpers(&m.name));
    put(&mut tree, "templates/_helpers.tpl", helpers);
    put(
        &mut tree,
        "templates/NOTES.txt",
        render("NOTES.txt") + &super::upgrades::notes(m),
    );
    // Made only for its template: a value per service.
    let additions = context! {
        addition_services => addition_services,
        addition_rows => addition_rows,
        addition_row_host => addition_row_host,
        ..ctx.clone()
    };
    put(
        &mut tree,
        "templates/additions.yaml",
        render_with("additions.yaml", &additions),
    );
    drop(additions);
    put(
        &mut tree,
        "templates/_additions.tpl",
        render("_additions.tpl"),
    );
    put(
        &mut tree,
        "templates/istio/capabilities.yaml",
        render("capabilities.yaml"),
    );
    put(
        &mut tree,
        "ci/istio-values.yaml",
        "# chart-testing: render with the mesh on.\nistio:\n  enabled: true\n".into(),
    );
    put(
        &mut tree,
        "ci/plain-values.yaml",
        "# chart-testing: render without a mesh.\nistio:\n  enabled: false\n".into(),
    );
    for (p, b) in tree {
        sink(p, b);
    }
}

/// The chart files that depend on the model alone.
struct Side {
    values_yaml: String,
    schema: String,
    value_rows: Vec<Value>,
    service_rows: String,
    edge_rows: Vec<Value>,
    graph: Option<String>,
    /// `templates/additions.yaml`'s rows (`additions::services`,
    /// `additions::compact`): made here, not after the templates, where
    /// they took ~30 ms of a 10,000-service compile on one core.
    addition_services: Vec<Value>,
    addition_rows: String,
    addition_row_host: &'static str,
}

impl Side {
    fn build(m: &Model) -> Side {
        let mut entries = values::entries(m);
        let values_yaml = values::values_yaml(m, &entries);
        let value_rows = value_rows(&entries);
        if !m.upgrades.is_empty() {
            super::upgrades::extend(m, &mut entries);
        }
        let schema = values::schema_text(m, &entries);
        drop(entries);
        // Helm refuses chart files over 5 MiB: large policies get no graph
        // and no edge table in the README (`meshpack graph` and `matrix`
        // print them).
        let small = m.edges.len() <= 300;
        let (addition_rows, addition_row_host) = super::additions::compact(m);
        Side {
            addition_services: super::additions::services(m),
            addition_rows,
            addition_row_host,
            values_yaml,
            schema,
            value_rows,
            // Rows as text: one value per service row held at 10,000
            // services took ~100 MiB at the chart's memory peak.
            service_rows: super::readme::service_rows(m),
            edge_rows: if small { edge_rows(m) } else { vec![] },
            graph: small.then(|| emit::graph::mermaid(&emit::graph::build(m))),
        }
    }
}

/// The per-service and release-wide templates: objects become text on
/// every core, files are put together in order (grouped into buckets when
/// `grouper` is set).
fn templates(
    m: &Model,
    grouper: &mut Option<Grouper>,
    upgrades_line: &Option<String>,
    put_template: &mut dyn FnMut(String, String),
    suffix: &mut usize,
    istio_kinds: &mut std::collections::BTreeSet<String>,
) {
    let order = grouper.as_ref().map(|g| g.order(m));
    emit::each_prepared(
        m,
        Mode::Helm,
        emit::threads(),
        order.as_deref(),
        &prepare,
        &mut |mut f| {
            *suffix = (*suffix).max(f.suffix);
            istio_kinds.extend(std::mem::take(&mut f.istio_kinds));
            let f = match grouper {
                Some(g) => match g.add(f, put_template) {
                    Some(f) => f,
                    None => return,
                },
                None => f,
            };
            let text = assemble_with(
                f.group,
                &m.name,
                &f.prelude,
                vec![],
                &f.body,
                upgrades_line.as_deref(),
            );
            put_template(f.path, text);
        },
    );
    if let Some(g) = grouper {
        g.finish(put_template);
    }
}

/// Chart.yaml, written by the one YAML writer every emitted file goes
/// through (`package::yaml`): no user text is ever spliced into YAML text,
/// so a newline in a registry cannot add a key.
/// https://helm.sh/docs/topics/charts/#the-chartyaml-file
pub fn chart_yaml(m: &Model, images: &[Value]) -> String {
    use serde_json::json;
    let mut c = serde_json::Map::new();
    c.insert("apiVersion".into(), json!("v2"));
    c.insert("name".into(), json!(m.name));
    c.insert("description".into(), json!(m.description));
    c.insert("type".into(), json!("application"));
    c.insert("version".into(), json!(m.version));
    c.insert("appVersion".into(), json!(m.version));
    c.insert("kubeVersion".into(), json!(">=1.27.0-0"));
    if let Some(h) = &m.home {
        c.insert("home".into(), json!(h));
    }
    if !m.maintainers.is_empty() {
        let list: Vec<Value> = m
            .maintainers
            .iter()
            .map(|x| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), json!(x.name));
                if let Some(e) = &x.email {
                    o.insert("email".into(), json!(e));
                }
                if let Some(u) = &x.url {
                    o.insert("url".into(), json!(u));
                }
                Value::Object(o)
            })
            .collect();
        c.insert("maintainers".into(), Value::Array(list));
    }
    c.insert(
        "keywords".into(),
        json!(["istio", "service-mesh", "meshpack"]),
    );
    // Artifact Hub reads this annotation as a YAML list inside a string.
    // https://artifacthub.io/docs/topics/annotations/helm/
    let list = super::yaml::to_string(&Value::Array(images.to_vec()));
    c.insert(
        "annotations".into(),
        json!({"meshpack.dev/profile": m.profile, "artifacthub.io/images": list}),
    );
    format!(
        "# Generated by meshpack from the {} policy; do not edit.\n{}",
        m.name,
        super::yaml::to_string(&Value::Object(c))
    )
}

/// `<group>/<version>/<Kind>` of an Istio object, as Helm's capabilities
/// list a served resource.
fn istio_kind(v: &Value) -> Option<String> {
    let api = v["apiVersion"].as_str()?;
    let kind = v["kind"].as_str()?;
    api.split_once('/')
        .is_some_and(|(g, _)| g.ends_with("istio.io"))
        .then(|| format!("{api}/{kind}"))
}

/// The kinds in the order the chart checks them: security first, so a
/// cluster with Istio 1.18 to 1.21 hears about PeerAuthentication.
fn security_first(kinds: std::collections::BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = kinds.into_iter().collect();
    v.sort_by_key(|k| {
        (
            !k.ends_with("/PeerAuthentication"),
            !k.starts_with("security."),
            k.clone(),
        )
    });
    v
}

/// The text of one template file.
pub fn template(f: &File, app: &str) -> String {
    assemble(f.group, app, &f.prelude, vec![], &body(f))
}

/// A template file of these objects: [`head`] with `extra` and the
/// bindings of the hoisted pieces the objects read
/// (`emit::hoist::bindings`), the objects (their metadata folded by
/// `emit::hoist::fold_meta`), [`foot`].
pub(crate) fn assemble(
    group: Group,
    app: &str,
    prelude: &[String],
    extra: Vec<String>,
    body: &str,
) -> String {
    assemble_with(group, app, prelude, extra, body, None)
}

/// [`assemble`], with the values-upgrade check (`upgrades`) after the
/// generated-file comment. Made in one buffer of the final size: a bucket
/// file is up to ~1 MB and all of them 80 MB at 10,000 services, so
/// inserting the line afterwards (shifting the whole text) and growing the
/// buffer for the foot each copied every byte again.
pub(crate) fn assemble_with(
    group: Group,
    app: &str,
    prelude: &[String],
    mut extra: Vec<String>,
    body: &str,
    upgrades: Option<&str>,
) -> String {
    let body = emit::hoist::fold_meta(body);
    extra.extend(emit::hoist::bindings(app, &body));
    if memchr::memmem::find(
        body.as_bytes(),
        emit::additions::EXTRA_EGRESS_HOSTS.as_bytes(),
    )
    .is_some()
    {
        extra.push(emit::additions::extra_egress_binding(app));
    }
    let head = head(group, app, prelude, &extra);
    let foot = foot(group);
    let extra_len = upgrades.map_or(0, |l| l.len() + 1);
    let mut t = String::with_capacity(head.len() + extra_len + body.len() + foot.len());
    t.push_str(&head);
    if let Some(line) = upgrades {
        insert_upgrades_line(&mut t, line);
    }
    t.push_str(&body);
    t.push_str(&foot);
    t
}

/// A template file with its objects turned into text, and what the chart
/// needs to know of them; made on any thread.
pub(crate) struct Prepared {
    pub path: String,
    pub group: Group,
    pub service: Option<String>,
    pub prelude: Vec<String>,
    /// The objects as template text ([`body`]).
    pub body: String,
    /// Where `body`'s opening lines end ([`File::opening`]).
    pub opening: usize,
    /// Each object's kind and its text in `body` (its condition included).
    pub docs: Vec<(String, std::ops::Range<usize>)>,
    /// The longest object name suffix ([`longest_suffix`]).
    suffix: usize,
    /// The Istio kinds among the objects.
    istio_kinds: Vec<String>,
}

fn prepare(f: File) -> Prepared {
    let (body, opening, docs) = body_parts(&f);
    Prepared {
        suffix: longest_suffix(&f),
        istio_kinds: f.docs.iter().filter_map(|d| istio_kind(&d.value)).collect(),
        body,
        opening,
        docs,
        path: f.path,
        group: f.group,
        service: f.service,
        prelude: f.prelude,
    }
}

/// A template file's opening: the generated-file comment, the group's
/// condition, the helper bindings, then `prelude` and `extra` lines.
pub(crate) fn head(group: Group, app: &str, prelude: &[String], extra: &[String]) -> String {
    let mut t = String::from("{{- /* Generated by meshpack; do not edit. */}}\n");
    if let Some(c) = condition(group) {
        t.push_str(&format!("{{{{- if {c} }}}}\n"));
    }
    for line in emit::helm_prelude(app).iter().chain(prelude).chain(extra) {
        t.push_str(line);
        t.push('\n');
    }
    t
}

/// A template file's objects.
pub(crate) fn body(f: &File) -> String {
    body_parts(f).0
}

/// [`body`], where its opening lines end, and each object's kind and text
/// in it.
fn body_parts(f: &File) -> (String, usize, Vec<(String, std::ops::Range<usize>)>) {
    let mut t = String::with_capacity(4096);
    for line in &f.opening {
        t.push_str(line);
        t.push('\n');
    }
    let opening = t.len();
    let mut docs = Vec::with_capacity(f.docs.len());
    for d in &f.docs {
        let start = t.len();
        match &d.when {
            Some(w) => {
                let _ = write!(t, "{{{{- if {w} }}}}\n---\n");
                markers::write(&mut t, &d.value, &f.out.fragments);
                t.push_str("{{- end }}\n");
            }
            None => {
                t.push_str("---\n");
                markers::write(&mut t, &d.value, &f.out.fragments);
            }
        }
        let kind = d.value["kind"].as_str().unwrap_or_default().to_string();
        docs.push((kind, start..t.len()));
    }
    (t, opening, docs)
}

/// What the release's name prefix must be beyond a DNS-1123 subdomain
/// (which `_helpers.tpl` always checks): `(pattern, why)` when objects the
/// chart always renders need more; `None` when dots and a leading digit
/// install fine.
/// <https://kubernetes.io/docs/concepts/overview/working-with-objects/names/>
fn fullname_label(m: &Model) -> Option<(&'static str, &'static str)> {
    // The chart's own Services, named `<fullname>-<service>`, are DNS-1035
    // labels.
    if m.service_names == crate::model::ServiceNames::Release {
        return Some((
            "^[a-z]([-a-z0-9]*[a-z0-9])?$",
            "Services named from it must be DNS-1035 labels (lowercase letters, digits and '-', starting with a letter)",
        ));
    }
    // A StatefulSet's controller sets each pod's `spec.hostname` to the
    // pod's name, and a pod's host name is a DNS-1123 label: with a dot
    // the StatefulSet is accepted but none of its pods is.
    m.services
        .iter()
        .any(|s| s.workload == crate::model::Workload::StatefulSet)
        .then_some((
            "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            "a StatefulSet's pods take its name as their host name, which must be a DNS-1123 label (lowercase letters, digits and '-', no '.')",
        ))
}

/// Values under which Istio makes Services named from the prefix, which
/// must then be a DNS-1035 label: `(condition, why)` for `_helpers.tpl`.
/// Istio names the Deployment and Service of a Gateway API gateway of its
/// class `<gateway>-istio`, and those of the ambient waypoint after it.
/// <https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment>
fn fullname_installed(m: &Model) -> Vec<(String, &'static str)> {
    let mut v = vec![];
    if !m.gateways.is_empty() {
        v.push((
            gateway_api_istio(),
            "with gatewayApi.enabled Istio names each gateway's Service after it, and a Service name is a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)",
        ));
    }
    if emit::ambient::any_waypoint(m) {
        v.push((
            Cond::is(&emit::values::ISTIO_ENABLED)
                .and(emit::ambient::ambient())
                .helm_top(),
            "in ambient mode Istio names the waypoint's Service after it, and a Service name is a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)",
        ));
    }
    v
}

/// The values under which Istio deploys each Gateway API Gateway itself.
fn gateway_api_istio() -> String {
    Cond::is(&emit::values::GATEWAY_API_ENABLED)
        .and(Cond::eq(&emit::values::GATEWAY_API_CLASS_NAME, "istio"))
        .helm_top()
}

/// `(condition, longest prefix, gateway, its deployment)`: Istio deploys a Gateway API
/// Gateway of class `istio` as a Deployment and Service named
/// `<gateway>-istio`, and a Service name is at most 63 characters, which
/// the chart's own names (`fullname_max`) do not count: under those values
/// a name prefix longer than 63 minus `-<gateway>-istio` of the longest
/// gateway fails the install, saying so. A failure, not a shorter cut:
/// cutting every object's prefix by six more characters would rename the
/// objects of installs that work (a StatefulSet's volumes with them).
/// <https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/#automated-deployment>
fn gateway_istio(m: &Model) -> Option<(String, usize, String, String)> {
    let g = m.gateways.iter().max_by_key(|g| g.name.len())?;
    let deployment = g.istio_deployment();
    let room = 63usize.saturating_sub(1 + deployment.len());
    Some((gateway_api_istio(), room, g.name.clone(), deployment))
}

/// A template file's closing.
pub(crate) fn foot(group: Group) -> String {
    match condition(group) {
        Some(_) => "{{- end }}\n".into(),
        None => String::new(),
    }
}

/// The values-upgrade check, after the generated-file comment.
pub(crate) fn insert_upgrades_line(text: &mut String, line: &str) {
    let at = text.find('\n').map_or(0, |i| i + 1);
    text.insert_str(at, &format!("{line}\n"));
}

/// Markdown table cells: `|` would end the cell.
pub(super) fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn edge_rows(m: &Model) -> Vec<Value> {
    m.edges
        .iter()
        .map(|e| {
            let mut http = vec![];
            if !e.methods.is_empty() {
                http.push(e.methods.join(" "));
            }
            if !e.paths.is_empty() {
                http.push(e.paths.join(" "));
            }
            serde_json::json!({
                "from": md(&match &e.source { Source::External { .. } => format!("{} (outside)", e.source), other => other.to_string() }),
                "to": e.dest,
                "ports": e.ports.join(", "),
                "http": md(&if http.is_empty() { "any".to_string() } else { http.join(" ") }),
            })
        })
        .collect()
}

/// One row per value; per-service and per-gateway values once, with
/// `<name>` for the name (the services table lists each one).
fn value_rows(entries: &[Entry]) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = vec![];
    for e in entries {
        let parts: Vec<&str> = e.path.splitn(3, '.').collect();
        let (path, default) = match parts.as_slice() {
            ["services" | "gateways", _, rest] => (
                format!("{}.<name>.{rest}", parts[0]),
                if e.listed {
                    "per service, from the policy".to_string()
                } else {
                    "serviceDefaults".to_string()
                },
            ),
            _ => (
                e.path.clone(),
                format!(
                    "`{}`",
                    md(&serde_json::to_string(&e.default).expect("json"))
                ),
            ),
        };
        if !seen.insert(path.clone()) {
            continue;
        }
        let default = if parts[0] == "gateways" {
            "per gateway, from the policy".to_string()
        } else {
            default
        };
        let ty = match &e.default {
            Value::Bool(_) => "bool",
            Value::Number(_) => "int",
            Value::String(_) => "string",
            Value::Array(_) => "list",
            Value::Object(_) => "object",
            Value::Null => "null",
        };
        rows.push(serde_json::json!({
            "path": path,
            "type": ty,
            "default": default,
            "description": md(&e.description),
        }));
    }
    rows
}
