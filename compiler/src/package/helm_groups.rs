//! Large releases: per-service chart templates grouped into bucket files.
//!
//! Invariant: a policy with at most [`Layout::group_above`] services keeps one
//! template file per service and kind (`<svc>.yaml`, `istio/<svc>.yaml`,
//! `network-policies/<svc>.yaml`), byte for byte as `helm::template` writes
//! it. Above that, each kind's per-service files go into
//! `services/bucket-NNNN.yaml` under the kind's folder, the bucket chosen by
//! a hash of the service name alone ([`bucket`]), so adding or removing a
//! service changes one file per kind (unless the bucket count
//! [`bucket_count`] doubles or halves, which moves about half the services). A bucket file
//! opens with its kind's condition and preamble once (the helper bindings,
//! the union of the files' own bindings, `$portable` for the Istio 1.25
//! check) and then holds each service's objects unchanged, grouped by kind
//! in Helm's install order and, within a kind, in the model's order
//! ([`by_kind`]); a service's opening lines (`$pod`) come again before each
//! of its objects that reads them. Neighbouring objects under the same
//! guard that reads values only share one `if` block ([`mergeable`]), and
//! neighbouring objects that differ in their service's name alone are
//! written once in a `range` over the names ([`Run`]).
//! The objects rendered are the same as the
//! per-service layout's, and so is `helm template`'s text: Helm sorts by
//! kind alone, stably, so objects of one kind keep their order.
//! A bucket whose text would pass [`MAX_GROUP_BYTES`] falls back to one file
//! per service, so no file nears Helm's per-file limit.
//! Only `helm`'s chart writer uses this module.

use super::helm::{self, Prepared};
use crate::emit::{hoist, identity, Group};

/// Helm refuses a chart file over 5 MiB (`MaxDecompressedFileSize`, Helm
/// 3.17.3 and 4, for archives and chart folders alike; no flag changes it).
/// <https://github.com/helm/helm/blob/v3.17.3/pkg/chart/loader/archive.go>
/// (`MaxDecompressedFileSize`; `LoadDir` applies it too, in `directory.go`).
/// Bucket files stay below 2 MiB, well under it.
pub const MAX_GROUP_BYTES: usize = 2 << 20;

/// Services per bucket file on average, at most (the bucket count is the
/// next power of two of `services / SERVICES_PER_FILE`).
pub const SERVICES_PER_FILE: usize = 64;

/// Most bucket files per kind.
pub const MAX_BUCKETS: usize = 4096;

/// How per-service templates are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Group per-service files when the policy has more services than this.
    pub group_above: usize,
    /// A bucket whose text would be longer falls back to one file per
    /// service ([`MAX_GROUP_BYTES`]; tests set less to reach the fallback).
    pub max_group_bytes: usize,
    /// Write neighbouring objects of one shape once, in a `range` over
    /// their services ([`shape`]); tests turn it off to compare.
    pub ranges: bool,
}

impl Default for Layout {
    /// 200: every committed chart and golden has fewer services, so they keep
    /// one file per service; at 1,000 services a chart has 48 bucket files
    /// instead of 3,000 templates.
    fn default() -> Self {
        Layout {
            group_above: 200,
            max_group_bytes: MAX_GROUP_BYTES,
            ranges: true,
        }
    }
}

/// Buckets per kind for a policy of `services` services: a power of two,
/// so a count that doubles splits each bucket in two.
pub fn bucket_count(services: usize) -> usize {
    services
        .div_ceil(SERVICES_PER_FILE)
        .next_power_of_two()
        .clamp(1, MAX_BUCKETS)
}

/// The bucket of a service: the stable, mixed hash of its name
/// ([`super::kustomize_parts::name_hash`]) modulo the bucket count.
/// Depends on the name only, never on the other services.
pub fn bucket(name: &str, buckets: usize) -> usize {
    (super::kustomize_parts::name_hash(name) % buckets.max(1) as u64) as usize
}

/// The path (under `templates/`) of a bucket file of a per-service file
/// whose own path is `path` (`<dir>/<svc>.yaml` or `<svc>.yaml`).
pub fn bucket_path(path: &str, bucket: usize) -> String {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let sep = if dir.is_empty() { "" } else { "/" };
    format!("{dir}{sep}services/bucket-{bucket:04}.yaml")
}

/// The Istio 1.25 check, bound once per bucket file.
const PORTABLE_VAR: &str = "$portable";

/// One service's part of a bucket: its own bindings and its objects' text.
struct Part {
    path: String,
    service: String,
    /// Finds the service's name in its objects' text ([`shape`]).
    finder: memchr::memmem::Finder<'static>,
    prelude: Vec<String>,
    body: String,
    /// `body[..opening]` are the opening lines ([`crate::emit::File::opening`]).
    opening: usize,
    /// Each object's kind and text in `body`.
    docs: Vec<(String, std::ops::Range<usize>)>,
}

/// Helm's install order of kinds (`InstallOrder`, the same list in Helm
/// 3.17 and 4.1); other kinds sort after these, by name.
/// <https://github.com/helm/helm/blob/v3.17.3/pkg/releaseutil/kind_sorter.go>
const INSTALL_ORDER: [&str; 38] = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Where Helm puts `kind` when it sorts a release's objects.
pub fn kind_rank(kind: &str) -> (usize, &str) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (i, ""),
        None => (INSTALL_ORDER.len(), kind),
    }
}

/// The parts' objects in the order a bucket file holds them: by
/// [`kind_rank`], then part, then the object's place in its part.
///
/// Why: `helm template` and `install` sort every object by kind with
/// `sort.SliceStable`, whose comparison (`lessByKind`) builds a map of the
/// install order on each call, so its cost grows with the number of
/// comparisons: objects that already come in runs of one kind need far
/// fewer than a file interleaving ServiceAccount, Service and Deployment
/// per service (at 1,000 services about 0.05 s of Helm 4's CPU per render,
/// pprof). Same-kind objects keep their order, so Helm's output is the same.
fn by_kind(parts: &[Part]) -> Vec<(usize, usize)> {
    // Each object's rank once (not on every comparison); (part, object)
    // pairs are distinct, so an unstable sort gives the one order.
    let mut order: Vec<((usize, &str), usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, part)| {
            part.docs
                .iter()
                .enumerate()
                .map(move |(d, (kind, _))| (kind_rank(kind), p, d))
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, p, d)| (p, d)).collect()
}

/// The last line of a guarded object's text (`helm::body`).
const END_LINE: &str = "{{- end }}\n";

/// A guarded object's guard line and the text after it, when the object
/// can share its `if` block with a neighbour of the same guard: the guard
/// reads values only (`$.Values`, `$.Capabilities`, `$portable`, never a
/// variable an opening or an object binds) and the object binds no
/// variable (inside a shared block it would still be bound for the next
/// object). Then one `{{- if X }}` around two objects renders what two
/// blocks did: `X` has the same value both times. Runs of one guard are
/// common once a bucket is grouped by kind (every Sidecar of a bucket
/// under `ne $.Values.istio.dataplane "ambient"`, every PeerAuthentication
/// under `not $.Values.istio.namespaceWide`), and each `if` is parsed and
/// run on every render.
fn mergeable(text: &str) -> Option<(&str, &str)> {
    let (guard, rest) = text.split_at(text.find('\n')? + 1);
    let expr = guard.strip_prefix("{{- if ")?.strip_suffix(" }}\n")?;
    let values_only =
        expr.match_indices('$')
            .all(|(i, _)| match expr[i..].strip_prefix(PORTABLE_VAR) {
                Some(after) => !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'),
                None => expr[i + 1..].starts_with('.'),
            });
    (values_only
        && !expr.contains("{{")
        && rest.starts_with("---\n")
        && rest.ends_with(END_LINE)
        && !rest.contains(":=")
        && !rest.contains("$portable ="))
    .then_some((guard, rest))
}

/// The variables `opening`'s lines bind (`{{- $pod := ... }}` binds `$pod`).
fn bound_vars(opening: &str) -> Vec<&str> {
    opening
        .lines()
        .filter_map(|l| l.strip_prefix("{{- $")?.split_once(" :=").map(|(v, _)| v))
        .collect()
}

/// Whether template `text` reads the variable `$<var>`.
fn reads(text: &str, var: &str) -> bool {
    // Each `$` followed by the name (no string made per call: this runs
    // for every object of every bucket).
    memchr::memchr_iter(b'$', text.as_bytes()).any(|i| var_at(text, i, var))
}

/// Whether `text[i..]` is `$<var>`, the whole variable.
fn var_at(text: &str, i: usize, var: &str) -> bool {
    text[i + 1..]
        .strip_prefix(var)
        .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

/// `text` with every match of `find` replaced by `with` (`str::replace`,
/// with `memmem`'s search: it runs over whole bucket files).
fn replace_all(text: &str, find: &memchr::memmem::Finder, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for at in find.find_iter(text.as_bytes()) {
        out.push_str(&text[copied..at]);
        out.push_str(with);
        copied = at + find.needle().len();
    }
    out.push_str(&text[copied..]);
    out
}

/// `text` with each range over services ([`Run`]) written out once per
/// name, `$s` read as the quoted name: what scans of the text for the
/// values it reads need (`values_contract::reads`), not what Helm renders
/// (whitespace and a hoisted guard differ).
pub fn unrange(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(hoist::SERVICE_RANGE) {
        let after = &rest[at + hoist::SERVICE_RANGE.len()..];
        let Some((names, after)) = after.split_once(RANGE_WITH) else {
            break;
        };
        let Some((body, after)) = after.split_once(RANGE_CLOSE) else {
            break;
        };
        out.push_str(&rest[..at]);
        for name in names.split(' ') {
            let t = body.replace(RANGE_READ, name.trim_matches('"'));
            let t = t.replace(&format!("{RANGE_VAR} "), &format!("{name} "));
            out.push_str(&t.replace(&format!("{RANGE_VAR})"), &format!("{name})")));
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Write one object (after its opening lines, when they come before it),
/// sharing the open `if` block when it can ([`mergeable`]).
fn single<'a>(body: &mut String, open: &mut Option<&'a str>, opening: Option<&str>, text: &'a str) {
    if let Some(o) = opening {
        body.push_str(o);
        *open = None;
    }
    let guard = mergeable(text);
    match (*open, guard) {
        (Some(o), Some((g, rest))) if o == g => {
            // One block for both: drop the previous `end` and this `if`.
            body.truncate(body.len() - END_LINE.len());
            body.push_str(rest);
        }
        _ => body.push_str(text),
    }
    *open = guard.map(|(g, _)| g);
}

/// A [`Run`]'s range: [`hoist::SERVICE_RANGE`], the quoted names, this
/// (`.` the root again), the object, [`RANGE_CLOSE`].
const RANGE_WITH: &str = " }}{{- with $ }}\n";
const RANGE_CLOSE: &str = "{{- end }}{{- end }}\n";
/// The variable the range binds to each name, and a read of it in text.
const RANGE_VAR: &str = hoist::SERVICE_RANGE_VAR;
const RANGE_READ: &str = "{{ $s }}";

/// Neighbouring objects (in a bucket's order) of one shape: the same text
/// once each service's name is read from `$s` ([`shape`]).
///
/// Why: Helm parses every template file on every render, and at 1,000
/// services parsing was 30% of what `helm template` spent beyond a chart
/// of the same objects as plain YAML (perf, Helm 3.17). Most of a
/// bucket's PeerAuthentications, DestinationRules, ServiceAccounts,
/// PodDisruptionBudgets and many workloads differ in the name alone;
/// written once in a `range` over their names, they are parsed once.
///
/// Invariant: a run written as a range renders exactly the text its
/// objects rendered one by one. Each object's text is its shape with
/// `$s` bound to its name; the range body opens with `{{- with $ }}`, so
/// `.` is the root as it was; the newline that ends each object is the
/// one a `{{-` trims, as between objects written one by one (see
/// [`Run::write`]); bindings made inside end with an iteration, so the
/// object after a range writes its service's opening lines again.
#[derive(Default)]
struct Run {
    /// The shape of the run's objects, when they have one (an object
    /// without stays a run of one).
    shape: String,
    has_shape: bool,
    /// (part, object, whether its opening lines come before it)
    items: Vec<(usize, usize, bool)>,
}

impl Run {
    fn takes(&self, has_shape: bool, shape: &str) -> bool {
        !self.items.is_empty() && has_shape && self.has_shape && shape == self.shape
    }

    /// Write the run and empty it; true when it was written as a range.
    fn write<'a>(
        &mut self,
        parts: &'a [Part],
        body: &mut String,
        open: &mut Option<&'a str>,
    ) -> bool {
        let items = std::mem::take(&mut self.items);
        if !self.has_shape || items.len() < 2 {
            for (pi, di, with_opening) in items {
                let p = &parts[pi];
                let opening = with_opening.then_some(&p.body[..p.opening]);
                single(body, open, opening, &p.body[p.docs[di].1.clone()]);
            }
            return false;
        }
        let shape = &self.shape;
        let names = items.iter().fold(String::new(), |mut l, (pi, _, _)| {
            // A Go string literal as it is: names are DNS labels.
            debug_assert!(parts[*pi]
                .service
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-'));
            l.push_str(" \"");
            l.push_str(&parts[*pi].service);
            l.push('"');
            l
        });
        // `{{- range` trims the newline before it and the body's
        // `{{- end` the newline ending each object, and each iteration
        // starts with one (the body's first line break, or the one after
        // the object's own `{{- if ... }}`): the text between objects is
        // one newline, as before.
        let range = format!("{}{}{RANGE_WITH}", hoist::SERVICE_RANGE, &names[1..]);
        // `mergeable` takes a guard reading values only, never `$s`.
        match mergeable(shape) {
            // The same guard for every object, read once around the range.
            Some((guard, rest)) => {
                body.push_str(guard);
                body.push_str(&range);
                body.push_str(&rest[..rest.len() - END_LINE.len()]);
                body.push_str(RANGE_CLOSE);
                body.push_str(END_LINE);
            }
            None => {
                body.push_str(&range);
                body.push_str(shape);
                body.push_str(RANGE_CLOSE);
            }
        }
        *open = None;
        true
    }
}

/// Writes to `out` an object's text (after its opening lines when they
/// come first) with its service's name (`name` finds it) read from `$s`:
/// `{{ $s }}` in the text, `$s` for a string literal of the name alone
/// inside an action. Only whole words are
/// replaced (not `api` in `apiVersion`), which keeps unrelated texts apart;
/// any replacement is sound, since rendering the shape with `$s` bound
/// to the name gives the text back. False (no shape) when the text
/// already reads a `$s`, ends without a newline or has an action that
/// does not close.
fn shape(
    opening: &str,
    with_opening: bool,
    text: &str,
    name: &memchr::memmem::Finder,
    out: &mut String,
) -> bool {
    static OPEN: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"{{"));
    out.clear();
    let len = name.needle().len();
    for t in [with_opening.then_some(opening), Some(text)]
        .into_iter()
        .flatten()
    {
        if !t.ends_with('\n') {
            return false;
        }
        let mut hits = name.find_iter(t.as_bytes()).peekable();
        let mut i = 0;
        for open in OPEN.find_iter(t.as_bytes()) {
            if open < i {
                // A `{{` inside the action just read.
                continue;
            }
            words(t, i, open, len, &mut hits, out);
            let Some(close) = action_end(t, open) else {
                return false;
            };
            if !literals(&t[open..close], name, out) {
                return false;
            }
            // Places of the name inside the action are the literals'.
            while hits.next_if(|&at| at < close).is_some() {}
            i = close;
        }
        words(t, i, t.len(), len, &mut hits, out);
    }
    true
}

/// `t[from..to]`, text outside actions, with each whole-word name as
/// `{{ $s }}`; `hits` are the name's places in `t`, in order (one search
/// of the whole text rather than one per piece between actions).
fn words(
    t: &str,
    from: usize,
    to: usize,
    len: usize,
    hits: &mut std::iter::Peekable<memchr::memmem::FindIter>,
    out: &mut String,
) {
    let b = &t.as_bytes()[..to];
    let word = |k: usize| {
        b.get(k)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    let mut copied = from;
    while let Some(&at) = hits.peek() {
        if at + len > to {
            break;
        }
        hits.next();
        // `{` before it too: `{{{ $s }}` would open the action one brace
        // early (a parse error).
        let brace = at > from && b[at - 1] == b'{';
        if at < copied || (at > from && word(at - 1)) || brace || word(at + len) {
            continue;
        }
        out.push_str(&t[copied..at]);
        out.push_str(RANGE_READ);
        copied = at + len;
    }
    out.push_str(&t[copied..to]);
}

/// An action with each string literal `"<name>"` as `$s`; false when the
/// action reads a `$s` of its own (a variable is read in actions only).
fn literals(action: &str, name: &memchr::memmem::Finder, out: &mut String) -> bool {
    let b = action.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = literal_end(b, i, b'"').unwrap_or(b.len());
                if b[i + 1..end - 1] == *name.needle() {
                    out.push_str(&action[copied..i]);
                    out.push_str(RANGE_VAR);
                    copied = end;
                }
                i = end;
            }
            b'`' | b'\'' => i = literal_end(b, i, b[i]).unwrap_or(b.len()),
            b'$' if var_at(action, i, &RANGE_VAR[1..]) => return false,
            _ => i += 1,
        }
    }
    out.push_str(&action[copied..]);
    true
}

/// Where the literal opening at `b[start]` with `quote` ends (past its
/// closing quote); backslashes escape in `"` and `'` literals, not in raw
/// `` ` `` ones (Go's lexer).
fn literal_end(b: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if quote != b'`' => i += 2,
            c if c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Where the action opening at `t[open..]` (`{{`) ends, past its `}}`:
/// `}}` inside a string, raw string, character literal or comment does
/// not close it (text/template's lexer).
/// <https://pkg.go.dev/text/template#hdr-Actions>
fn action_end(t: &str, open: usize) -> Option<usize> {
    let b = t.as_bytes();
    let mut i = open + 2;
    // `{{/* */}}` or `{{- /* */ -}}`: a comment, closed by `*/` first.
    let lead = t[i..].strip_prefix("- ").unwrap_or(&t[i..]);
    if lead.starts_with("/*") {
        let from = t.len() - lead.len();
        i = from + memchr::memmem::find(&b[from..], b"*/")? + 2;
        return memchr::memmem::find(&b[i..], b"}}").map(|k| i + k + 2);
    }
    while i + 1 < b.len() {
        match b[i] {
            q @ (b'"' | b'`' | b'\'') => i = literal_end(b, i, q)?,
            b'}' if b[i + 1] == b'}' => return Some(i + 2),
            _ => i += 1,
        }
    }
    None
}

/// Collects the per-service files of one kind at a time and hands out
/// each bucket file as soon as it is complete: the files come in bucket
/// order ([`Grouper::order`]), so a bucket is complete when a file of a
/// later bucket (or kind) arrives, and only one bucket's text is held
/// (holding a whole kind was 105 MiB at 10,000 services, heaptrack).
pub struct Grouper {
    buckets: usize,
    max_bytes: usize,
    ranges: bool,
    app: String,
    upgrades_line: Option<String>,
    group: Option<Group>,
    parts: Vec<Vec<Part>>,
    /// Buckets below this one are handed out for the current kind.
    done: usize,
}

impl Grouper {
    /// `None` when the policy keeps one file per service.
    pub fn new(
        services: usize,
        layout: &Layout,
        app: &str,
        upgrades_line: Option<String>,
    ) -> Option<Grouper> {
        (services > layout.group_above).then(|| {
            let buckets = bucket_count(services);
            Grouper {
                buckets,
                max_bytes: layout.max_group_bytes,
                ranges: layout.ranges,
                app: app.to_string(),
                upgrades_line,
                group: None,
                parts: (0..buckets).map(|_| vec![]).collect(),
                done: 0,
            }
        })
    }

    /// The order to emit services in (indexes into `m.services`): by
    /// bucket, and in the model's order within one, which is the order of
    /// the services in their bucket file.
    pub fn order(&self, m: &crate::model::Model) -> Vec<usize> {
        let mut order: Vec<(usize, usize)> = m
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (bucket(&s.name, self.buckets), i))
            .collect();
        order.sort_unstable();
        order.into_iter().map(|(_, i)| i).collect()
    }

    /// Bucket files per kind.
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    /// Take a per-service file (`f.service` set) whose objects are already
    /// text (`body`, see [`helm::body`]); files of another kind than the
    /// previous one first complete that kind's buckets, handed to `sink`.
    /// Returns the file back when it is not a per-service file.
    pub(crate) fn add(
        &mut self,
        f: Prepared,
        sink: &mut dyn FnMut(String, String),
    ) -> Option<Prepared> {
        let Some(svc) = &f.service else {
            return Some(f);
        };
        if self.group != Some(f.group) {
            self.finish(sink);
            self.group = Some(f.group);
        }
        let b = bucket(svc, self.buckets);
        assert!(
            b >= self.done,
            "{svc}: per-service files must come in bucket order (Grouper::order)"
        );
        self.hand_out(b, sink);
        let service = svc.clone();
        let finder = memchr::memmem::Finder::new(service.as_bytes()).into_owned();
        self.parts[b].push(Part {
            path: f.path,
            service,
            finder,
            prelude: f.prelude,
            body: f.body,
            opening: f.opening,
            docs: f.docs,
        });
        None
    }

    /// Hand out the rest of the current kind's buckets.
    pub fn finish(&mut self, sink: &mut dyn FnMut(String, String)) {
        self.hand_out(self.buckets, sink);
        self.group = None;
        self.done = 0;
    }

    /// Hand out the current kind's buckets below `upto`: no later file
    /// belongs to them.
    fn hand_out(&mut self, upto: usize, sink: &mut dyn FnMut(String, String)) {
        let Some(group) = self.group else {
            return;
        };
        for b in self.done..upto {
            let parts = std::mem::take(&mut self.parts[b]);
            let Some(first) = parts.first() else {
                continue;
            };
            let path = bucket_path(&first.path, b);
            let text = self.bucket_text(group, b, &parts);
            if text.len() <= self.max_bytes {
                sink(path, text);
                continue;
            }
            // Too large for one file: each service's own file instead.
            for p in parts {
                let text = helm::assemble_with(
                    group,
                    &self.app,
                    &p.prelude,
                    vec![],
                    &p.body,
                    self.upgrades_line.as_deref(),
                );
                sink(p.path, text);
            }
        }
        self.done = self.done.max(upto);
    }

    fn bucket_text(&self, group: Group, b: usize, parts: &[Part]) -> String {
        let portable_if = format!("{{{{- if {} }}}}", identity::portable());
        let portable = memchr::memmem::Finder::new(&portable_if);
        let hoist = parts
            .iter()
            .any(|p| portable.find(p.body.as_bytes()).is_some());
        let mut prelude: Vec<String> = vec![];
        for p in parts {
            for l in &p.prelude {
                if !prelude.contains(l) {
                    prelude.push(l.clone());
                }
            }
        }
        let mut extra = vec![format!(
            "{{{{- /* {} services: bucket {b} of {} by name hash (docs/chart.md). */}}}}",
            parts.len(),
            self.buckets
        )];
        if hoist {
            extra.push(format!(
                "{{{{- {PORTABLE_VAR} := {} }}}}",
                identity::portable()
            ));
        }
        let portable_var_if = format!("{{{{- if {PORTABLE_VAR} }}}}");
        let mut body = String::with_capacity(parts.iter().map(|p| p.body.len()).sum());
        // Per part: whether some object reads its opening lines, and
        // whether those lines were written since another part's.
        let needs: Vec<bool> = parts
            .iter()
            .map(|p| {
                let vars = bound_vars(&p.body[..p.opening]);
                p.docs
                    .iter()
                    .any(|(_, r)| vars.iter().any(|v| reads(&p.body[r.clone()], v)))
            })
            .collect();
        let mut written = vec![false; parts.len()];
        let mut last = None;
        // The guard of the object just written, while its block may take
        // the next object too ([`mergeable`]).
        let mut open: Option<&str> = None;
        // Whether an object's opening lines come before it: when some
        // object reads them and another part's were written since, or
        // once for a part whose objects read none of them.
        let wants = |pi: usize, text: &str, last: Option<usize>, written: &[bool]| {
            let opening = &parts[pi].body[..parts[pi].opening];
            !opening.is_empty()
                && if needs[pi] {
                    last != Some(pi) && bound_vars(opening).iter().any(|v| reads(text, v))
                } else {
                    !written[pi]
                }
        };
        let mut run = Run::default();
        // The shape of the object at hand, compared with the run's.
        let mut scratch = String::new();
        for (pi, di) in by_kind(parts) {
            let p = &parts[pi];
            let text = &p.body[p.docs[di].1.clone()];
            let mut with_opening = wants(pi, text, last, &written);
            if self.ranges {
                let p_shape = |with_opening, out: &mut String| {
                    shape(&p.body[..p.opening], with_opening, text, &p.finder, out)
                };
                let mut ok = p_shape(with_opening, &mut scratch);
                if !run.takes(ok, &scratch) {
                    if run.write(parts, &mut body, &mut open) {
                        // A range's bindings end with it.
                        last = None;
                        with_opening = wants(pi, text, last, &written);
                        ok = p_shape(with_opening, &mut scratch);
                    }
                    run.has_shape = ok;
                    std::mem::swap(&mut run.shape, &mut scratch);
                }
                run.items.push((pi, di, with_opening));
            } else {
                single(
                    &mut body,
                    &mut open,
                    with_opening.then_some(&p.body[..p.opening]),
                    text,
                );
            }
            if with_opening {
                written[pi] = true;
                last = Some(pi);
            }
        }
        run.write(parts, &mut body, &mut open);
        if hoist {
            body = replace_all(&body, &portable, &portable_var_if);
        }
        helm::assemble_with(
            group,
            &self.app,
            &prelude,
            extra,
            &body,
            self.upgrades_line.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_counts_are_powers_of_two_within_bounds() {
        assert_eq!(bucket_count(0), 1);
        assert_eq!(bucket_count(1), 1);
        assert_eq!(bucket_count(64), 1);
        assert_eq!(bucket_count(65), 2);
        assert_eq!(bucket_count(201), 4);
        assert_eq!(bucket_count(1_000), 16);
        assert_eq!(bucket_count(10_000), 256);
        assert_eq!(bucket_count(10_000_000), MAX_BUCKETS);
    }

    #[test]
    fn buckets_depend_on_the_name_only_and_halving_keeps_the_low_bits() {
        // Pinned: a change here moves services between chart files.
        let got: Vec<usize> = ["api", "db", "web", "x-a", "x-q"]
            .iter()
            .map(|n| bucket(n, 16))
            .collect();
        assert_eq!(got, [15, 14, 3, 13, 8]);
        // Names differing only in a byte's high bits spread (plain FNV-1a
        // kept them together modulo 16).
        assert_ne!(bucket("x-a", 16), bucket("x-q", 16));
        let mut per = [0usize; 16];
        for i in 0..1600 {
            per[bucket(&format!("svc-{i:05}"), 16)] += 1;
        }
        assert!(per.iter().all(|n| (70..=130).contains(n)), "{per:?}");
        for n in ["api", "svc-00001", "web"] {
            assert_eq!(bucket(n, 16) % 8, bucket(n, 8), "{n}");
        }
    }

    #[test]
    fn bucket_paths_stay_in_their_kind_folder() {
        assert_eq!(bucket_path("api.yaml", 3), "services/bucket-0003.yaml");
        assert_eq!(
            bucket_path("istio/api.yaml", 12),
            "istio/services/bucket-0012.yaml"
        );
        assert_eq!(
            bucket_path("network-policies/api.yaml", 255),
            "network-policies/services/bucket-0255.yaml"
        );
    }

    use crate::package::{helm, Tree};

    fn synthetic(services: usize) -> String {
        crate::synthetic::policy(&crate::synthetic::Shape {
            services,
            ..Default::default()
        })
    }

    fn chart(policy: &str, group_above: usize) -> Tree {
        chart_ranges(policy, group_above, true)
    }

    fn chart_ranges(policy: &str, group_above: usize, ranges: bool) -> Tree {
        let m = crate::compile_model(policy, None).expect("synthetic policies compile");
        helm::chart_with(
            &m,
            &Layout {
                group_above,
                ranges,
                ..Layout::default()
            },
        )
    }

    fn text(t: &Tree, p: &str) -> String {
        String::from_utf8(t[p].clone()).unwrap()
    }

    /// The kinds that are grouped: the folder of their per-service files
    /// and their group.
    const KINDS: [(&str, Group); 3] = [
        ("", Group::Base),
        ("istio/", Group::Istio),
        ("network-policies/", Group::NetworkPolicy),
    ];

    fn grouped(p: &str) -> bool {
        p.contains("services/bucket-")
    }

    #[test]
    fn grouped_files_hold_the_per_service_objects_under_one_preamble() {
        let policy = synthetic(120);
        let m = crate::compile_model(&policy, None).unwrap();
        let one = chart(&policy, usize::MAX);
        // Objects one by one: `shapes_are_written_once_in_a_range` and
        // `tests/chart_layout.rs` show what ranges change.
        let two = chart_ranges(&policy, 100, false);
        assert_eq!(one, helm::chart(&m), "120 services stay below the default");
        let buckets = bucket_count(120);
        assert_eq!(buckets, 2);

        // The file list: the same chart-wide files, and per kind the
        // per-service files replaced by one file per bucket.
        let mut want: Vec<String> = one
            .keys()
            .filter(|p| {
                !m.services.iter().any(|s| {
                    KINDS
                        .iter()
                        .any(|(dir, _)| **p == format!("templates/{dir}{}.yaml", s.name))
                })
            })
            .cloned()
            .collect();
        for (dir, _) in KINDS {
            for b in 0..buckets {
                want.push(format!("templates/{dir}services/bucket-{b:04}.yaml"));
            }
        }
        want.sort();
        assert_eq!(two.keys().cloned().collect::<Vec<_>>(), want);
        for p in two.keys().filter(|p| !grouped(p) && *p != "README.md") {
            assert_eq!(
                text(&two, p),
                text(&one, p),
                "{p} is the same in both layouts"
            );
        }
        let readme = text(&two, "README.md");
        assert!(
            readme.contains("The templates of the 120 services are grouped")
                && readme.contains("hold\nup to 2 files each"),
            "{readme}"
        );

        // Each bucket: its preamble once, then its services' objects exactly
        // as in each service's own file (the Istio 1.25 check read from
        // `$portable`), grouped by kind in Helm's install order and in the
        // model's order within a kind; a workload's `$pod` binding right
        // before it.
        let portable_if = format!("{{{{- if {} }}}}", identity::portable());
        for (dir, group) in KINDS {
            for b in 0..buckets {
                let path = format!("templates/{dir}services/bucket-{b:04}.yaml");
                let got = text(&two, &path);
                // (kind, service's place in the bucket, its `$pod` binding, text)
                let mut objs: Vec<(String, usize, String, String)> = vec![];
                let mut prelude = vec![];
                let mut n = 0;
                for s in m.services.iter().filter(|s| bucket(&s.name, buckets) == b) {
                    let own = format!("templates/{dir}{}.yaml", s.name);
                    let Some(own) = one.get(&own) else { continue };
                    let own = String::from_utf8(own.clone()).unwrap();
                    n += 1;
                    // The service's own file: the head with its bindings,
                    // the objects, the foot.
                    let own_prelude: Vec<String> = if group == Group::Base {
                        vec![crate::emit::additions::openshift_binding(&m.name)]
                    } else {
                        vec![]
                    };
                    let head = helm::head(group, &m.name, &own_prelude, &[]);
                    let mut rest = own.strip_prefix(&head).unwrap_or_else(|| panic!("{own}"));
                    // The hoisted pieces and the extraEgress hosts the
                    // service's objects read.
                    let binding = crate::emit::additions::extra_egress_binding(&m.name);
                    while rest.starts_with("{{- $hoist_") || rest.starts_with(&binding) {
                        rest = &rest[rest.find('\n').unwrap() + 1..];
                    }
                    let objects = rest.strip_suffix(&helm::foot(group)).unwrap();
                    assert_eq!(
                        helm::assemble(group, &m.name, &own_prelude, vec![], objects),
                        own
                    );
                    // A workload file opens with its service's values (`$own`).
                    let binding = format!(
                        "{}\n",
                        crate::emit::hoist::own_binding(&crate::emit::svc_values(s))
                    );
                    let first = objects.strip_prefix(&binding);
                    assert_eq!(first.is_some(), group == Group::Base, "{own}");
                    let first = first.unwrap_or(objects);
                    assert!(first.starts_with("---\n") || first.starts_with("{{- if "));
                    for o in split_objects(first) {
                        let kind = o
                            .lines()
                            .find_map(|l| l.strip_prefix("kind: "))
                            .unwrap_or_else(|| panic!("{o}"));
                        let o = o.replace(&portable_if, "{{- if $portable }}");
                        objs.push((kind.to_string(), n, binding.clone(), o));
                    }
                    for l in own_prelude {
                        if !prelude.contains(&l) {
                            prelude.push(l);
                        }
                    }
                }
                // Helm's install order: these kinds first, in this order,
                // then the others by name.
                let known = [
                    "PodDisruptionBudget",
                    "ServiceAccount",
                    "ConfigMap",
                    "Service",
                    "Deployment",
                    "StatefulSet",
                    "Job",
                    "CronJob",
                ];
                let rank = |k: &str| match known.iter().position(|x| *x == k) {
                    Some(i) => (i, String::new()),
                    None => (known.len(), k.to_string()),
                };
                objs.sort_by_key(|(kind, i, _, _)| (rank(kind), *i));
                let mut bodies = String::new();
                let mut last = 0;
                // Neighbours under the same guard share one `if` block
                // when the guard reads values only and the first binds
                // nothing.
                let mut open: Option<&str> = None;
                let mut shared = 0;
                for (_, i, binding, o) in &objs {
                    if o.contains("$pod.") && last != *i {
                        bodies.push_str(binding);
                        last = *i;
                        open = None;
                    }
                    let guard = o
                        .starts_with("{{- if ")
                        .then(|| o.split_inclusive('\n').next().unwrap());
                    match (open, guard) {
                        (Some(a), Some(b)) if a == b => {
                            assert!(bodies.ends_with("{{- end }}\n"));
                            bodies.truncate(bodies.len() - "{{- end }}\n".len());
                            bodies.push_str(&o[b.len()..]);
                            shared += 1;
                        }
                        _ => bodies.push_str(o),
                    }
                    let plain_guard = guard.is_some_and(|g| {
                        g.replace("$.", "")
                            .replace("$portable", "")
                            .find('$')
                            .is_none()
                    });
                    open = guard.filter(|_| plain_guard && !o.contains(":="));
                }
                if group == Group::Istio {
                    // Every Sidecar and PeerAuthentication of the bucket
                    // under one guard each.
                    assert!(shared > 2 * n - 4, "{path}: {shared} of {n}");
                    assert_eq!(
                        bodies
                            .matches("{{- if not $.Values.istio.namespaceWide }}")
                            .count(),
                        1,
                        "{path}"
                    );
                }
                let kinds: Vec<&str> = got.lines().filter_map(|l| l.strip_prefix("kind: ")).fold(
                    vec![],
                    |mut v, k| {
                        if v.last() != Some(&k) {
                            v.push(k);
                        }
                        v
                    },
                );
                let want_kinds: &[&str] = match group {
                    Group::Base => &[
                        "PodDisruptionBudget",
                        "ServiceAccount",
                        "Service",
                        "Deployment",
                        "StatefulSet",
                    ],
                    Group::Istio => &[
                        "AuthorizationPolicy",
                        "DestinationRule",
                        "PeerAuthentication",
                        "Sidecar",
                    ],
                    _ => &["NetworkPolicy"],
                };
                assert_eq!(kinds, want_kinds, "{path}");
                assert!(n > 30, "{path}: {n} services");
                let mut extra = vec![format!(
                    "{{{{- /* {n} services: bucket {b} of {buckets} by name hash (docs/chart.md). */}}}}"
                )];
                if group == Group::Istio {
                    extra.push(format!("{{{{- $portable := {} }}}}", identity::portable()));
                    assert!(bodies.contains("{{- if $portable }}"), "{path}");
                }
                if group == Group::Base {
                    assert_eq!(bodies.matches("{{- $pod := ").count(), n, "{path}");
                }
                assert!(!bodies.contains(&portable_if), "{path}");
                let want = helm::assemble(group, &m.name, &prelude, extra, &bodies);
                assert_eq!(got, want, "{path}");
                assert_eq!(
                    got.matches(":= include \"bench.fullname\"").count(),
                    1,
                    "{path}"
                );
                assert!(got.len() < MAX_GROUP_BYTES);
            }
        }
    }

    /// The objects of a template text: each from its `---` line (or the
    /// `{{- if` line right before it) to the next object's.
    fn split_objects(t: &str) -> Vec<&str> {
        let lines: Vec<(usize, &str)> = t
            .split_inclusive('\n')
            .scan(0, |at, l| {
                let start = *at;
                *at += l.len();
                Some((start, l))
            })
            .collect();
        let mut starts = vec![];
        for (i, (at, l)) in lines.iter().enumerate() {
            let opens_if =
                l.starts_with("{{- if ") && lines.get(i + 1).is_some_and(|n| n.1 == "---\n");
            let after_if = i > 0 && lines[i - 1].1.starts_with("{{- if ");
            if opens_if || (*l == "---\n" && !after_if) {
                starts.push(*at);
            }
        }
        starts.push(t.len());
        starts.windows(2).map(|w| &t[w[0]..w[1]]).collect()
    }

    #[test]
    fn kinds_rank_as_helm_installs_them() {
        let mut kinds = [
            "Sidecar",
            "Deployment",
            "AuthorizationPolicy",
            "ServiceAccount",
            "PodDisruptionBudget",
            "Service",
        ];
        kinds.sort_by_key(|k| kind_rank(k));
        assert_eq!(
            kinds,
            [
                "PodDisruptionBudget",
                "ServiceAccount",
                "Service",
                "Deployment",
                "AuthorizationPolicy",
                "Sidecar"
            ]
        );
        assert!(reads("x {{ $pod.a_6 }}", "pod") && !reads("{{ $pods }}", "pod"));
        assert_eq!(
            bound_vars("{{- $pod := index $hoist_pods \"a\" }}\n"),
            ["pod"]
        );
    }

    #[test]
    fn adding_a_service_changes_one_bucket_file_per_kind() {
        let policy = synthetic(120);
        let new = "zz-added";
        let more = policy.replacen(
            "  services:\n",
            &format!("  services:\n    {new}:\n      image: registry.example.com/bench/{new}:1.0.0\n      ports:\n        http: 8080\n"),
            1,
        );
        assert_ne!(more, policy);
        let before = chart(&policy, 100);
        let after = chart(&more, 100);
        assert_eq!(bucket_count(121), bucket_count(120));
        let b = bucket(new, bucket_count(121));
        for (dir, _) in KINDS {
            let changed: Vec<&String> = after
                .keys()
                .filter(|p| p.starts_with(&format!("templates/{dir}services/")))
                .filter(|p| before.get(*p) != after.get(*p))
                .collect();
            let path = format!("templates/{dir}services/bucket-{b:04}.yaml");
            if dir == "network-policies/" {
                // A service no rule names needs no NetworkPolicy of its own.
                assert!(changed.is_empty(), "{dir}: {changed:?}");
                continue;
            }
            assert_eq!(changed, vec![&path], "{dir}");
            assert!(text(&after, &path).contains(&format!("{new}\"")), "{path}");
            assert!(
                !text(&before, &path).contains(&format!("{new}\"")),
                "{path}"
            );
        }
    }
    #[test]
    fn a_shape_reads_the_service_name_from_the_range() {
        let shape = |opening: &str, with_opening: bool, text: &str, name: &str| {
            let mut out = String::new();
            let find = memchr::memmem::Finder::new(name.as_bytes());
            shape(opening, with_opening, text, &find, &mut out).then_some(out)
        };
        let s = |text: &str, name: &str| shape("", false, text, name);
        // Whole words in text, literals of the name alone in actions.
        assert_eq!(
            s(
                "name: \"{{ $fullname }}-api\"\nhost: api.ns\napiVersion: v1\n",
                "api"
            )
            .unwrap(),
            "name: \"{{ $fullname }}-{{ $s }}\"\nhost: {{ $s }}.ns\napiVersion: v1\n"
        );
        assert_eq!(
            s(
                "{{- if gt (int (index $.Values.services \"api\").replicas) 1 }}\n",
                "api"
            )
            .unwrap(),
            "{{- if gt (int (index $.Values.services $s).replicas) 1 }}\n"
        );
        // A literal holding more than the name, a raw string, a comment
        // and `}}` inside a literal stay as they are.
        assert_eq!(
            s(
                "{{ printf \"api-%s}}\" `api` }} {{- /* api }} */}} api\n",
                "api"
            )
            .unwrap(),
            "{{ printf \"api-%s}}\" `api` }} {{- /* api }} */}} {{ $s }}\n"
        );
        // The opening lines come first when they are written.
        assert_eq!(
            shape(
                "{{- $pod := index $hoist_pods \"a\" }}\n",
                true,
                "---\nkind: X\n",
                "a"
            )
            .unwrap(),
            "{{- $pod := index $hoist_pods $s }}\n---\nkind: X\n"
        );
        assert_eq!(
            shape(
                "{{- $pod := index $hoist_pods \"a\" }}\n",
                false,
                "---\n",
                "a"
            )
            .unwrap(),
            "---\n"
        );
        // Not after a brace: `{{{ $s }}` would not parse.
        assert_eq!(s("x: \"{a}\" a\n", "a").unwrap(), "x: \"{a}\" {{ $s }}\n");
        // No shape: a text reading `$s` already, one that does not end its
        // line, an action that does not close.
        assert_eq!(s("{{ $s }}\n", "a"), None);
        assert_eq!(s("kind: X", "a"), None);
        assert_eq!(s("{{ \"a }}\n", "a"), None);
        assert_eq!(action_end("{{- /* }} */ -}}x", 0), Some(16));
        assert_eq!(action_end("{{ \"\\\"}}\" }}", 0), Some(12));
    }

    #[test]
    fn shapes_are_written_once_in_a_range() {
        let policy = synthetic(120);
        let ranged = chart(&policy, 100);
        let single = chart_ranges(&policy, 100, false);
        let mut ranges = 0;
        for (p, t) in ranged.iter().filter(|(p, _)| grouped(p)) {
            let t = String::from_utf8(t.clone()).unwrap();
            ranges += t.matches(crate::emit::hoist::SERVICE_RANGE).count();
            // The values a scan finds read are the same (`unrange`).
            let one_by_one = String::from_utf8(single[p].clone()).unwrap();
            assert_eq!(
                crate::package::values_contract::reads(&t),
                crate::package::values_contract::reads(&one_by_one),
                "{p}"
            );
            let fewer = t.len() < single[p].len();
            assert!(fewer || p.contains("network-policies/"), "{p}");
        }
        // Every bucket's PeerAuthentications, DestinationRules and
        // ServiceAccounts differ in the name alone.
        let istio = text(&ranged, "templates/istio/services/bucket-0000.yaml");
        let range_of = |kind: &str| {
            istio
                .split(crate::emit::hoist::SERVICE_RANGE)
                .skip(1)
                .any(|r| {
                    r.split("{{- end }}{{- end }}")
                        .next()
                        .unwrap()
                        .contains(&format!("kind: {kind}\n"))
                })
        };
        assert!(
            range_of("PeerAuthentication") && range_of("DestinationRule"),
            "{istio}"
        );
        // The guard every PeerAuthentication shares is read once, outside.
        assert!(
            istio.contains(&format!(
                "{{{{- if not $.Values.istio.namespaceWide }}}}\n{}",
                crate::emit::hoist::SERVICE_RANGE
            )),
            "{istio}"
        );
        assert!(ranges >= 3 * 2 * KINDS.len() - 2, "{ranges}");
    }
}
