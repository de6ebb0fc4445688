//! The Kustomize tree: a base, a Component per switch of the chart, and
//! ready overlays.
//!
//! ```text
//! base/                          workloads, Services, ServiceAccounts (no mesh)
//! components/istio/              the chart's istio.enabled=true objects (objects/) + injection patches
//!                                (+ base/part-K/ in a tree in parts: the base, patched)
//! components/network-policy/     the chart's networkPolicy.enabled=true objects
//! components/istio-network-policy/  what the mesh needs once pods are isolated (both on)
//! components/istio-gateway-network-policy/, gateway-api-network-policy/,
//!   ingress-network-policy/      who may come in from the gateways, per gateway form
//! overlays/istio/, overlays/plain/, ...  ready overlays (+ namespace-replacements.yaml to copy)
//! ```
//!
//! The objects are `emit`'s in plain mode (the chart's defaults), so a
//! Kustomize build equals `helm template` with the same namespace. In that
//! mode the Istio objects embed no namespace in strings (`emit::identity`).
//!
//! Invariant: a ready overlay renders exactly what `namespace: <release>`
//! over `../../base` and the overlay's Components (then the replacements of
//! its `namespace-replacements.yaml`) renders, without running any of those
//! transformers. kustomize 5.7 checks every object it adds against every
//! object it holds (`resWrangler.Append`), once per layer and once per
//! Component, and `namespace:` checks every object against all again, so
//! render time is quadratic per pass (BENCHMARKS.md): the objects carry
//! their namespace already (the release's, or the one they are pinned to,
//! and the strings that embed it), each Component keeps its objects in an
//! `objects/` Kustomization the overlays list as plain resources, the
//! injection patches are inline in the overlay, and the overlays keep the
//! order the files list (`sortOptions: fifo`, no sort pass). A customer's
//! own overlay (`namespace:` over a ready overlay, or over the base and the
//! Components) still moves everything; pinned objects and strings embedding
//! the namespace then need the copied `namespace-replacements.yaml`
//! (replacements run last within a kustomization, so they belong in the
//! overlay that sets `namespace:`, not in a component).
//!
//! Even so one build is quadratic in its objects, so a tree whose largest
//! overlay holds more than `kustomize_parts::MAX_OBJECTS` objects is
//! written in parts: each layer's objects in one `part-NNN/objects.yaml`
//! per part (the per-service files' objects, in their order), each overlay
//! over the limit as `overlays/<name>/part-NNN/` kustomizations plus a
//! README with the apply loop, and the overlay's own `kustomization.yaml`
//! listing its parts so that paths naming it keep working
//! (`kustomize_parts` says which object goes where). The parts of the
//! overlays with the `istio` Component list the base's part as its patches
//! leave it (`MESHED_BASE`, patched here by `Patch::apply`) instead of the
//! base's and the patches; those patches change no object of another layer
//! of such an overlay (asserted while the files are written).

use super::kustomize_parts as parts;
use super::Tree;
use crate::emit::values::{Bool, Val, GATEWAY_API_ENABLED, INGRESS_ENABLED, ISTIO_ENABLED};
use crate::emit::{self, File, Group, Mode, FIXED_NAMESPACE};
use crate::model::Model;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

const COMPONENTS: [(Group, &str); 10] = [
    (Group::Istio, "istio"),
    (Group::IstioGateway, "istio-gateway"),
    (Group::GatewayApi, "gateway-api"),
    (Group::NetworkPolicy, "network-policy"),
    (Group::IstioNetworkPolicy, "istio-network-policy"),
    (
        Group::IstioGatewayNetworkPolicy,
        "istio-gateway-network-policy",
    ),
    (Group::GatewayApiNetworkPolicy, "gateway-api-network-policy"),
    (Group::IngressNetworkPolicy, "ingress-network-policy"),
    (Group::Ingress, "ingress"),
    (Group::Tests, "tests"),
];

/// The one file of a layer's part folder in a tree in parts (no service
/// file sits beside it: a part folder holds only this and its
/// kustomization).
const PART_FILE: &str = "objects.yaml";

/// In a tree in parts, the base's objects as the `istio` Component's
/// patches leave them, one `part-K/` per base part: what the parts of the
/// overlays with that Component list instead of `base/part-K` and the
/// patches. A JSON patch costs kustomize a JSON round trip of every
/// workload it selects, about 13% of an Istio part's CPU (docs/kustomize.md,
/// "What a part costs"); the copy costs bytes (a third more at 1,000
/// services), not CPU.
const MESHED_BASE: &str = "components/istio/base";

/// Switches set over the chart's defaults.
type Switches = Vec<(Val<Bool>, bool)>;

/// Overlays: name and the switches they turn on over the chart's
/// defaults. An overlay has the component of every group whose
/// `Group::cond` holds there: `istio` uses Istio's own Gateway objects,
/// `istio-gateway-api` the Gateway API's, `ingress` no mesh:
/// NetworkPolicies and Kubernetes Ingresses; `plain` is the defaults.
fn overlays() -> [(&'static str, Switches); 3] {
    [
        ("istio", vec![(ISTIO_ENABLED, true)]),
        (
            "istio-gateway-api",
            vec![(ISTIO_ENABLED, true), (GATEWAY_API_ENABLED, true)],
        ),
        ("ingress", vec![(INGRESS_ENABLED, true)]),
    ]
}

/// The groups whose condition holds with `set` over the defaults, in
/// `COMPONENTS` order.
fn groups_where(m: &Model, set: &[(Val<Bool>, bool)]) -> Vec<Group> {
    COMPONENTS
        .iter()
        .map(|(g, _)| *g)
        .filter(|g| g.cond().is_some_and(|c| c.eval_defaults(m, set)))
        .collect()
}

fn component_dir(g: Group) -> &'static str {
    COMPONENTS
        .iter()
        .find(|(x, _)| *x == g)
        .map(|(_, d)| *d)
        .expect("every non-base group has a component")
}

/// A file's objects (each already YAML) as a YAML stream.
fn yaml_docs(docs: &[(Option<usize>, String)]) -> Vec<u8> {
    let mut s = String::from("# Generated by meshpack; do not edit.\n");
    for (_, d) in docs {
        s.push_str("---\n");
        s.push_str(d);
    }
    s.into_bytes()
}

fn yaml(v: &Value) -> Vec<u8> {
    let mut s = String::from("# Generated by meshpack; do not edit.\n");
    s.push_str(&super::yaml::to_string(v));
    s.into_bytes()
}

/// File name inside its Kustomize folder: the chart template's path with
/// `/` made `-` (`istio/api.yaml` -> `istio-api.yaml`), unique as those are;
/// a service named `kustomization` gets `_kustomization.yaml`, so that
/// Kustomize's own file stays the folder's (no service name has `_`).
fn file_name(f: &File) -> String {
    let name = f.path.replace('/', "-");
    if name == "kustomization.yaml" {
        format!("_{name}")
    } else {
        name
    }
}

/// A patch of the `istio` Component: its file under the Component, the
/// patch itself, and the objects it applies to (none: by its own kind and
/// name). The ready overlays carry the same patches inline.
struct Patch {
    path: String,
    body: Value,
    target: Option<Value>,
}

impl Patch {
    /// The Component's entry, naming the file.
    fn by_path(&self) -> Value {
        let mut p = json!({ "path": self.path });
        if let Some(t) = &self.target {
            p["target"] = t.clone();
        }
        p
    }

    /// An overlay's entry, the patch inline: kustomize reads patch files
    /// only under the kustomization's own folder.
    /// https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/
    fn inline(&self) -> Value {
        let mut p = json!({ "patch": super::yaml::to_string(&self.body) });
        if let Some(t) = &self.target {
            p["target"] = t.clone();
        }
        p
    }

    /// Whether kustomize applies this patch to `obj`: with a target, by
    /// its kind, group, version and equality label selector (an empty
    /// field matches anything); without one, by the patch's own kind, name
    /// and namespace.
    /// https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/
    fn selects(&self, obj: &Value) -> bool {
        let Some(t) = &self.target else {
            let meta = &self.body["metadata"];
            return obj["kind"] == self.body["kind"]
                && obj["metadata"]["name"] == meta["name"]
                && obj["metadata"]["namespace"] == meta["namespace"];
        };
        let api = obj["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let field = |k: &str| t.get(k).and_then(Value::as_str);
        for k in t.as_object().expect("a patch target is a map").keys() {
            assert!(
                ["group", "version", "kind", "labelSelector"].contains(&k.as_str()),
                "a target selecting by {k}: Patch::selects reads only kind, group, version and labels"
            );
        }
        field("kind").is_none_or(|k| obj["kind"] == k)
            && field("group").is_none_or(|g| g == group)
            && field("version").is_none_or(|v| v == version)
            && field("labelSelector").is_none_or(|s| {
                s.split(',').all(|pair| {
                    let (k, v) = pair
                        .split_once('=')
                        .expect("meshpack's label selectors are k=v pairs");
                    obj["metadata"]["labels"][k] == v
                })
            })
    }

    /// The patch applied to `obj` (which it [`selects`](Self::selects)),
    /// as kustomize applies the patches meshpack writes: a JSON patch's
    /// `add` and `remove` on map keys, and a strategic merge patch of maps
    /// (`null` deletes a key; the patch's kind, name and namespace are not
    /// copied). Lists and other operations are not needed and panic.
    fn apply(&self, obj: &mut Value) {
        match &self.body {
            Value::Array(ops) => {
                for op in ops {
                    let path = op["path"].as_str().expect("a JSON patch op has a path");
                    let (parent, key) = path.rsplit_once('/').expect("a JSON pointer");
                    let key = key.replace("~1", "/").replace("~0", "~");
                    let map = obj
                        .pointer_mut(parent)
                        .and_then(Value::as_object_mut)
                        .unwrap_or_else(|| panic!("{path}: no map at {parent}"));
                    match op["op"].as_str() {
                        Some("add") => {
                            map.insert(key, op["value"].clone());
                        }
                        Some("remove") => {
                            map.remove(&key)
                                .unwrap_or_else(|| panic!("{path}: nothing to remove"));
                        }
                        o => panic!("JSON patch op {o:?}: only add and remove are applied"),
                    }
                }
            }
            Value::Object(body) => {
                for (k, v) in body {
                    match k.as_str() {
                        "apiVersion" | "kind" => {}
                        "metadata" => {
                            let mut v = v.clone();
                            if let Some(meta) = v.as_object_mut() {
                                meta.remove("name");
                                meta.remove("namespace");
                            }
                            merge(&mut obj["metadata"], &v);
                        }
                        _ => merge(&mut obj[k], v),
                    }
                }
            }
            b => panic!("a patch is a list of JSON patch ops or a map: {b}"),
        }
    }
}

/// A strategic merge of `patch` into `into` for maps of scalars: `null`
/// deletes the key, a map merges key by key, a scalar replaces.
fn merge(into: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !into.is_object() {
                *into = json!({});
            }
            let map = into.as_object_mut().expect("made a map above");
            for (k, v) in p {
                if v.is_null() {
                    map.remove(k);
                } else {
                    merge(map.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        Value::Array(_) => panic!("strategic merge of a list: not applied here"),
        scalar => *into = scalar.clone(),
    }
}

/// `obj` with every patch of `patches` that selects it applied, in order
/// (as a kustomization lists them); `None` when none selects it.
fn patched(patches: &[Patch], obj: &Value) -> Option<Value> {
    let mut out: Option<Value> = None;
    for p in patches {
        let cur = out.as_ref().unwrap_or(obj);
        if p.selects(cur) {
            let mut next = cur.clone();
            p.apply(&mut next);
            out = Some(next);
        }
    }
    out
}

/// The folder holding a Component's own objects, as a plain Kustomization.
fn objects_dir(g: Group) -> String {
    format!("components/{}/objects", component_dir(g))
}

pub fn tree(m: &Model) -> Tree {
    tree_with(m, parts::MAX_OBJECTS)
}

/// One emitted file, its objects already YAML, kept until the number of
/// parts is known (it depends on every file's object count).
struct Pending {
    group: Group,
    dir: String,
    name: String,
    /// Each object: its service (index into `m.services`) and its text.
    docs: Vec<(Option<usize>, String)>,
    /// A base file's objects as the `istio` Component's patches leave
    /// them (the text of each object a patch changes), beside `docs`;
    /// empty for the other layers.
    meshed: Vec<Option<String>>,
}

/// [`tree`] with at most about `max_objects` objects per overlay part
/// (`kustomize_parts`); tests pass a small value to force parts.
pub fn tree_with(m: &Model, max_objects: usize) -> Tree {
    let mut t = Tree::new();
    // Attach mode: the vendor's manifests are the base, and the vendor's
    // kustomization sets the namespace.
    let attach = m.services.iter().any(|s| s.attach.is_some());
    let services: HashMap<&str, usize> = m
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    // The `istio` Component's patches: a tree in parts applies them here,
    // into a copy of the base (see `MESHED_BASE`).
    let istio_patches = if attach {
        vec![]
    } else {
        istio_component_patches(m)
    };
    let mut all = overlays().to_vec();
    all.push(("plain", vec![]));
    let all: Vec<(&str, Vec<Group>)> = all
        .into_iter()
        .map(|(o, set)| (o, groups_where(m, &set)))
        .collect();
    // The layers beside the base in an overlay that has the `istio`
    // Component: its patches must change none of their objects, or those
    // would need a patched copy too.
    let meshed_with: Vec<Group> = all
        .iter()
        .filter(|(_, g)| g.contains(&Group::Istio))
        .flat_map(|(_, g)| g.iter().copied())
        .collect();
    // What the kustomizations and replacements need of each file, kept
    // while the file itself is turned into text.
    let mut pending: Vec<Pending> = vec![];
    let mut targets: Vec<FileTargets> = vec![];
    // Objects become text on every core; the files come back in order.
    let prepare = |mut f: File| {
        let name = file_name(&f);
        let dir = match f.group {
            Group::Base => "base".to_string(),
            g => objects_dir(g),
        };
        let owners: Vec<Option<usize>> = f
            .docs
            .iter()
            .map(|d| parts::service_of(&d.value, &services))
            .collect();
        let ft = replacement_targets(&f, &owners);
        if !attach {
            set_namespaces(&mut f, &m.name);
        }
        let docs = f
            .docs
            .iter()
            .zip(owners)
            .map(|(d, o)| (o, super::yaml::to_string(&d.value)))
            .collect();
        let meshed = if f.group == Group::Base {
            f.docs
                .iter()
                .map(|d| patched(&istio_patches, &d.value).map(|v| super::yaml::to_string(&v)))
                .collect()
        } else {
            if meshed_with.contains(&f.group) {
                for d in &f.docs {
                    assert!(
                        patched(&istio_patches, &d.value).is_none(),
                        "an istio patch changes {} of {}: only the base has a patched copy",
                        d.value["metadata"]["name"],
                        f.path
                    );
                }
            }
            vec![]
        };
        let pending = Pending {
            group: f.group,
            dir,
            name,
            docs,
            meshed,
        };
        (ft, pending)
    };
    emit::each_prepared(
        m,
        Mode::Plain,
        emit::threads(),
        None,
        &prepare,
        &mut |(ft, p)| {
            if !ft.targets.is_empty() || !ft.fixed.is_empty() || !ft.movable.is_empty() {
                targets.push(ft);
            }
            pending.push(p);
        },
    );

    // Objects per overlay: the base's and its Components'.
    let objects_in = |groups: &[Group]| -> usize {
        pending
            .iter()
            .filter(|p| p.group == Group::Base || groups.contains(&p.group))
            .map(|p| p.docs.len())
            .sum()
    };
    let counts: Vec<usize> = all.iter().map(|(_, g)| objects_in(g)).collect();
    let n_parts = if attach {
        1
    } else {
        parts::count(counts.iter().copied().max().unwrap_or(0), max_objects)
    };
    let part_of = |owner: Option<usize>| match owner {
        Some(i) if n_parts > 1 => parts::of_service(&m.services[i].name, n_parts),
        _ => 1,
    };

    // Each layer's files: with parts, one `part-K/objects.yaml` per layer
    // holding the part's objects in the order the per-service files would
    // list them (the layer's own kustomization lists every part's file, a
    // part's kustomization its own). One file per part, not per service:
    // kustomize takes the same time either way (docs/kustomize.md, "What a
    // part costs"), and a tree in parts is large: a tenth of the files.
    let mut layer_files: BTreeMap<(Group, usize), Vec<String>> = BTreeMap::new();
    let mut layer_docs: BTreeMap<(Group, usize), (String, Vec<u8>)> = BTreeMap::new();
    let mut flat: Vec<(Group, String)> = vec![];
    // Whether an overlay with the `istio` Component is split: its parts
    // then list the base's objects with the patches applied
    // (`MESHED_BASE`), one file per part in the base's order.
    let meshed_parts = n_parts > 1
        && !istio_patches.is_empty()
        && all
            .iter()
            .zip(&counts)
            .any(|((_, g), c)| g.contains(&Group::Istio) && *c > max_objects);
    let mut meshed_docs: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    for p in pending {
        if n_parts == 1 {
            t.insert(format!("{}/{}", p.dir, p.name), yaml_docs(&p.docs));
            flat.push((p.group, p.name));
            continue;
        }
        for (i, (o, text)) in p.docs.iter().enumerate() {
            let (_, buf) = layer_docs
                .entry((p.group, part_of(*o)))
                .or_insert_with(|| (p.dir.clone(), yaml_docs(&[])));
            buf.extend_from_slice(b"---\n");
            buf.extend_from_slice(text.as_bytes());
            if meshed_parts && p.group == Group::Base {
                let buf = meshed_docs
                    .entry(part_of(*o))
                    .or_insert_with(|| yaml_docs(&[]));
                buf.extend_from_slice(b"---\n");
                buf.extend_from_slice(p.meshed[i].as_ref().unwrap_or(text).as_bytes());
            }
        }
    }
    for (k, bytes) in meshed_docs {
        let d = parts::dir(k, n_parts);
        t.insert(format!("{MESHED_BASE}/{d}/{PART_FILE}"), bytes);
        t.insert(
            format!("{MESHED_BASE}/{d}/kustomization.yaml"),
            yaml(&json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [PART_FILE],
            })),
        );
    }
    for ((group, k), (dir, bytes)) in layer_docs {
        let d = parts::dir(k, n_parts);
        t.insert(format!("{dir}/{d}/{PART_FILE}"), bytes);
        flat.push((group, format!("{d}/{PART_FILE}")));
        layer_files
            .entry((group, k))
            .or_default()
            .push(PART_FILE.to_string());
    }
    let files_of = |group: Group| -> Vec<&String> {
        flat.iter()
            .filter(|(g, _)| *g == group)
            .map(|(_, n)| n)
            .collect()
    };
    let kustomization = |resources: Vec<&String>| {
        yaml(&json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        }))
    };
    if !attach {
        t.insert(
            "base/kustomization.yaml".into(),
            kustomization(files_of(Group::Base)),
        );
    }
    for ((group, k), files) in &layer_files {
        let dir = match group {
            Group::Base => "base".to_string(),
            g => objects_dir(*g),
        };
        t.insert(
            format!("{dir}/{}/kustomization.yaml", parts::dir(*k, n_parts)),
            kustomization(files.iter().collect()),
        );
    }

    for (group, dir) in COMPONENTS {
        t.insert(
            format!("{}/kustomization.yaml", objects_dir(group)),
            kustomization(files_of(group)),
        );
        let mut k = json!({
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "resources": ["objects"],
        });
        let vendors: Vec<Patch>;
        let patches: &[Patch] = if attach && matches!(group, Group::Istio | Group::NetworkPolicy) {
            // The vendor's workloads, each by kind and name.
            let mut all = super::attach::patches(m, group == Group::Istio);
            if group == Group::Istio {
                all.extend(super::attach::waypoint_patches(m));
            }
            vendors = all
                .into_iter()
                .map(|(path, body, target)| Patch {
                    path,
                    body,
                    target: Some(target),
                })
                .collect();
            &vendors
        } else if group == Group::Istio {
            &istio_patches
        } else {
            &[]
        };
        if group == Group::Istio || (attach && group == Group::NetworkPolicy) || !patches.is_empty()
        {
            for p in patches {
                t.insert(format!("components/{dir}/{}", p.path), yaml(&p.body));
            }
            k["patches"] = json!(patches.iter().map(Patch::by_path).collect::<Vec<_>>());
        }
        t.insert(format!("components/{dir}/kustomization.yaml"), yaml(&k));
    }

    for ((overlay, groups), objects) in all.into_iter().zip(counts) {
        // Replacements may only name objects the overlay has. The ready
        // overlay needs none (the objects carry their namespaces); the file
        // is for a customer's overlay that sets its own `namespace:`.
        let included: Vec<&FileTargets> = targets
            .iter()
            .filter(|x| x.group == Group::Base || groups.contains(&x.group))
            .collect();
        let replacements = if overlay == "plain" {
            vec![]
        } else {
            namespace_replacements(m, &included)
        };
        if attach {
            // No base to overlay: the vendor's kustomization that sets
            // `namespace:` lists this file under `replacements` (only
            // objects pinned to another namespace need one).
            if !replacements.is_empty() {
                t.insert(
                    format!("replacements/{overlay}.yaml"),
                    yaml(&json!(replacements)),
                );
            }
            continue;
        }
        if n_parts > 1 && objects > max_objects {
            split_overlay(
                m,
                &mut t,
                &SplitOverlay {
                    overlay,
                    groups: &groups,
                    max_objects,
                    n_parts,
                    layer_files: &layer_files,
                    targets: &included,
                    meshed_base: meshed_parts,
                },
            );
            continue;
        }
        // Nothing to replace (no pinned objects, no namespace in strings):
        // no file, and nothing a customer overlay needs to copy.
        if !replacements.is_empty() {
            t.insert(
                format!("overlays/{overlay}/namespace-replacements.yaml"),
                yaml(&json!(replacements)),
            );
        }
        let mut resources = vec!["../../base".to_string()];
        resources.extend(groups.iter().map(|g| format!("../../{}", objects_dir(*g))));
        let mut k = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        });
        if groups.contains(&Group::Istio) && !istio_patches.is_empty() {
            k["patches"] = json!(istio_patches.iter().map(Patch::inline).collect::<Vec<_>>());
        }
        // The order the files list: kustomize's default ("legacy") order
        // costs one more quadratic pass.
        // https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/sortoptions/
        k["sortOptions"] = json!({ "order": "fifo" });
        t.insert(format!("overlays/{overlay}/kustomization.yaml"), yaml(&k));
    }
    super::kustomize_additions::add(m, &mut t);
    t
}

/// What `split_overlay` writes from.
struct SplitOverlay<'a> {
    overlay: &'a str,
    groups: &'a [Group],
    max_objects: usize,
    n_parts: usize,
    layer_files: &'a BTreeMap<(Group, usize), Vec<String>>,
    targets: &'a [&'a FileTargets],
    /// Whether `MESHED_BASE` is written: the parts of an overlay with the
    /// `istio` Component list it instead of the base and the patches.
    meshed_base: bool,
}

/// An overlay over the limit, as `overlays/<name>/part-K/`: each lists the
/// layers' `part-K` folders (with the `istio` Component, the base's as
/// its patches leave them, `MESHED_BASE`, and no patches) and its own
/// `namespace-replacements.yaml`; a README says how to apply them all.
fn split_overlay(m: &Model, t: &mut Tree, s: &SplitOverlay) {
    let n = s.n_parts;
    let part_of = |owner: Option<usize>| match owner {
        Some(i) => parts::of_service(&m.services[i].name, n),
        None => 1,
    };
    let mut layers = vec![Group::Base];
    layers.extend(s.groups.iter().copied());
    let meshed = s.meshed_base && s.groups.contains(&Group::Istio);
    let mut written = vec![];
    for k in 1..=n {
        let resources: Vec<String> = layers
            .iter()
            .filter(|g| s.layer_files.contains_key(&(**g, k)))
            .map(|g| {
                let dir = match g {
                    Group::Base if meshed => MESHED_BASE.to_string(),
                    Group::Base => "base".to_string(),
                    g => objects_dir(*g),
                };
                format!("../../../{dir}/{}", parts::dir(k, n))
            })
            .collect();
        if resources.is_empty() {
            continue;
        }
        let folder = format!("overlays/{}/{}", s.overlay, parts::dir(k, n));
        // The part's own objects: the source of its replacements is one of
        // them, the first service's ServiceAccount when it has a service.
        let source = m
            .services
            .iter()
            .enumerate()
            .find(|(i, _)| part_of(Some(*i)) == k)
            .map(|(_, sv)| {
                (
                    "ServiceAccount".to_string(),
                    // A service whose versions run as their own identities
                    // has no `<fullname>-<service>` account.
                    format!("{}-{}", m.name, m.identity_suffixes(&sv.name)[0]),
                )
            })
            .or_else(|| {
                s.targets
                    .iter()
                    .flat_map(|f| f.movable.iter())
                    .find(|(o, _, _)| part_of(*o) == k)
                    .map(|(_, kind, name)| (kind.clone(), name.clone()))
            });
        let replacements = match &source {
            Some(src) if s.overlay != "plain" => replacements_from(
                src,
                s.targets
                    .iter()
                    .flat_map(|f| f.targets.iter())
                    .filter(|(o, _)| part_of(*o) == k)
                    .map(|(_, v)| v.clone())
                    .collect(),
                s.targets
                    .iter()
                    .flat_map(|f| f.fixed.iter())
                    .filter(|(o, _, _)| part_of(*o) == k)
                    .map(|(_, kind, name)| (kind.clone(), name.clone()))
                    .collect(),
            ),
            _ => vec![],
        };
        if !replacements.is_empty() {
            t.insert(
                format!("{folder}/namespace-replacements.yaml"),
                yaml(&json!(replacements)),
            );
        }
        let mut kz = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        });
        kz["sortOptions"] = json!({ "order": "fifo" });
        let mut text = format!(
            "# Part {k} of {n} of overlays/{}: apply every part (README.md).
",
            s.overlay
        )
        .into_bytes();
        text.extend(yaml(&kz));
        t.insert(format!("{folder}/kustomization.yaml"), text);
        written.push(parts::dir(k, n));
    }
    t.insert(
        format!("overlays/{}/README.md", s.overlay),
        parts::readme(s.overlay, n, s.max_objects).into_bytes(),
    );
    // The overlay's own path keeps working (the objects of every part, as
    // one slow build) so that nothing pointing at it breaks when a policy
    // grows past the limit; the README says to apply the parts instead.
    // In the order of the parts, as the apply loop applies them: the
    // default ("legacy") sort would re-add every object, one more pass
    // quadratic in all of them (a fifth of this build's CPU at 400
    // services, where it takes half a minute).
    let all = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": written,
        "sortOptions": { "order": "fifo" },
    });
    let mut text = format!(
        "# All {n} parts of overlays/{} as one build: slow; apply the parts (README.md).\n",
        s.overlay
    )
    .into_bytes();
    text.extend(yaml(&all));
    t.insert(format!("overlays/{}/kustomization.yaml", s.overlay), text);
}

/// Write the namespace into a file's objects as an overlay's `namespace:`
/// and namespace replacements would: `metadata.namespace` (the one an
/// object is pinned to, else `ns`) and the namespace segment of every
/// string that embeds it (the fields `replacement_targets` names).
fn set_namespaces(f: &mut File, ns: &str) {
    let wanted: BTreeMap<String, (char, usize)> = f
        .out
        .namespaced
        .iter()
        .map(|n| (n.value.clone(), (n.delimiter, n.index)))
        .collect();
    for d in &mut f.docs {
        let obj = &mut d.value;
        let own = obj["metadata"]["annotations"]
            .get(FIXED_NAMESPACE)
            .and_then(Value::as_str)
            .unwrap_or(ns)
            .to_string();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(own));
        }
        if !wanted.is_empty() {
            if let Some(spec) = obj.get_mut("spec") {
                replace_strings(spec, &wanted, ns);
            }
        }
    }
}

/// `find_strings`'s fields, rewritten: the `index`th `delimiter`-separated
/// segment becomes `ns` (what a replacement with those options writes).
fn replace_strings(v: &mut Value, wanted: &BTreeMap<String, (char, usize)>, ns: &str) {
    match v {
        Value::String(s) => {
            if let Some((d, i)) = wanted.get(s.as_str()) {
                let mut parts: Vec<&str> = s.split(*d).collect();
                if let Some(p) = parts.get_mut(*i) {
                    *p = ns;
                }
                *s = parts.join(&d.to_string());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_strings(x, wanted, ns)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_strings(x, wanted, ns)),
        _ => {}
    }
}

/// The `istio` Component's patches: what the chart adds to each pod
/// template and, with waypoints, to the Services.
fn istio_component_patches(m: &Model) -> Vec<Patch> {
    let mut patches = vec![];
    let selector = format!(
        "app.kubernetes.io/name={},app.kubernetes.io/instance={}",
        m.name, m.name
    );
    // One patch per workload kind, applied by label selector: a patch
    // per workload made kustomize match every patch against every
    // resource (minutes at a thousand services).
    for (kind, stem, body) in injection_patches(m) {
        let group = match kind {
            "Job" | "CronJob" => "batch",
            _ => "apps",
        };
        patches.push(Patch {
            path: format!("patches/inject-{stem}.yaml"),
            body,
            target: Some(json!({
                "group": group,
                "version": "v1",
                "kind": kind,
                "labelSelector": selector,
            })),
        });
    }
    // The `tests` component's probes (listed before this one) take
    // the mesh's labels as the workloads do.
    // A JSON patch: a strategic merge patch of a Pod's own labels
    // writes `null` as a string instead of removing the label.
    if m.probe_image.is_some() {
        let (labels, annotations) = emit::workload::mesh_pod_metadata(m);
        let mut ops = vec![];
        for (field, map) in [("labels", labels), ("annotations", annotations)] {
            for (k, v) in map {
                let at = format!("/metadata/{field}/{}", json_pointer_key(&k));
                ops.push(if v.is_null() {
                    json!({ "op": "remove", "path": at })
                } else {
                    json!({ "op": "add", "path": at, "value": v })
                });
            }
        }
        patches.push(Patch {
            path: "patches/inject-pod.yaml".into(),
            body: json!(ops),
            target: Some(json!({
                "version": "v1",
                "kind": "Pod",
                "labelSelector": selector,
            })),
        });
    }
    // The chart's Services carry the waypoint labels when this holds.
    let waypoints = emit::workload::waypoint_cond().eval_defaults(m, &[(ISTIO_ENABLED, true)]);
    for s in &m.services {
        if waypoints && m.needs_waypoint(&s.name) {
            patches.push(Patch {
                path: format!("patches/waypoint-{}.yaml", s.name),
                body: json!({
                    "apiVersion": "v1",
                    "kind": "Service",
                    // A patch without a target applies to the object of
                    // its own id, namespace included: the one written.
                    "metadata": {
                        "name": emit::Names::new(m).host_plain(&s.name),
                        "namespace": m.name,
                        "labels": emit::workload::waypoint_service_labels(m, s),
                    },
                }),
                target: None,
            });
        }
    }
    patches
}

/// What the chart adds to every pod template with `istio.enabled=true`, per
/// workload kind the release has: (kind, file stem, patch). The labels are
/// a JSON patch: kustomize applies a strategic merge patch with a target by
/// re-adding every object (`resWrangler.ApplySmPatch`, one more quadratic
/// pass), a JSON patch only to the objects it selects. A label to remove is
/// set first so that the removal holds whether or not the pod has it.
/// Annotations (the pinned proxy image) stay a strategic merge patch: a
/// JSON patch cannot add to an annotations map a pod template may lack.
fn injection_patches(m: &Model) -> Vec<(&'static str, String, Value)> {
    let (labels, annotations) = emit::workload::mesh_pod_metadata(m);
    let mut kinds: Vec<&'static str> = m.services.iter().map(|s| s.workload.kind()).collect();
    kinds.sort();
    kinds.dedup();
    let mut out = vec![];
    for kind in kinds {
        let template = match kind {
            "CronJob" => "/spec/jobTemplate/spec/template",
            _ => "/spec/template",
        };
        let mut ops = vec![];
        for (k, v) in &labels {
            let at = format!("{template}/metadata/labels/{}", json_pointer_key(k));
            if v.is_null() {
                ops.push(json!({ "op": "add", "path": at, "value": "" }));
                ops.push(json!({ "op": "remove", "path": at }));
            } else {
                ops.push(json!({ "op": "add", "path": at, "value": v }));
            }
        }
        let stem = kind.to_lowercase();
        if !ops.is_empty() {
            out.push((kind, stem.clone(), json!(ops)));
        }
        if !annotations.is_empty() {
            let template = json!({ "template": { "metadata": { "annotations": annotations } } });
            let (api, spec) = match kind {
                "Job" => ("batch/v1", template),
                "CronJob" => ("batch/v1", json!({ "jobTemplate": { "spec": template } })),
                _ => ("apps/v1", template),
            };
            let patch = json!({
                "apiVersion": api,
                "kind": kind,
                // Replaced by each target's name.
                "metadata": { "name": "istio-injection" },
                "spec": spec,
            });
            out.push((kind, format!("{stem}-annotations"), patch));
        }
    }
    out
}

/// A map key as one JSON pointer segment (RFC 6901: `~` and `/` escaped).
fn json_pointer_key(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Every field holding a string that embeds the namespace, as Kustomize
/// field paths (`spec.rules.0.from.0.source.principals.1`).
fn find_strings(
    v: &Value,
    path: &mut Vec<String>,
    wanted: &BTreeMap<&str, (char, usize)>,
    out: &mut Vec<(String, char, usize)>,
) {
    match v {
        Value::String(s) => {
            if let Some((d, i)) = wanted.get(s.as_str()) {
                out.push((path.join("."), *d, *i));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(i.to_string());
                find_strings(x, path, wanted, out);
                path.pop();
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                path.push(if k.contains('.') || k.contains('/') {
                    format!("[{k}]")
                } else {
                    k.clone()
                });
                find_strings(x, path, wanted, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// What one file adds to the namespace replacements, each entry with the
/// service (index into `m.services`) of the object it names.
struct FileTargets {
    group: Group,
    targets: Vec<(Option<usize>, Value)>,
    /// Objects pinned to a namespace of their own: (kind, name).
    fixed: Vec<(Option<usize>, String, String)>,
    /// Release-wide objects that move with the namespace: (kind, name), a
    /// replacement's source in a part that holds no service.
    movable: Vec<(Option<usize>, String, String)>,
}

/// A file's replacement targets (strings embedding the namespace, by
/// object and field), its objects pinned to a namespace of their own, and
/// its release-wide objects that are not; `owners` is each object's service.
fn replacement_targets(f: &File, owners: &[Option<usize>]) -> FileTargets {
    let mut out = FileTargets {
        group: f.group,
        targets: vec![],
        fixed: vec![],
        movable: vec![],
    };
    let wanted: BTreeMap<&str, (char, usize)> = f
        .out
        .namespaced
        .iter()
        .map(|n| (n.value.as_str(), (n.delimiter, n.index)))
        .collect();
    for (d, owner) in f.docs.iter().zip(owners) {
        let obj = &d.value;
        let kind = obj["kind"].as_str().unwrap_or_default();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if obj["metadata"]["annotations"]
            .get(FIXED_NAMESPACE)
            .is_some()
        {
            out.fixed.push((*owner, kind.to_string(), name.to_string()));
        } else if owner.is_none() {
            out.movable.push((None, kind.to_string(), name.to_string()));
        }
        if wanted.is_empty() {
            continue;
        }
        let mut found = vec![];
        find_strings(&obj["spec"], &mut vec!["spec".into()], &wanted, &mut found);
        // One target per (delimiter, index), listing its field paths.
        let mut grouped: BTreeMap<(char, usize), Vec<String>> = BTreeMap::new();
        for (p, dl, i) in found {
            grouped.entry((dl, i)).or_default().push(p);
        }
        for ((dl, i), paths) in grouped {
            out.targets.push((
                *owner,
                json!({
                    "select": { "kind": kind, "name": name },
                    "fieldPaths": paths,
                    "options": { "delimiter": dl.to_string(), "index": i },
                }),
            ));
        }
    }
    out
}

/// A whole overlay's namespace replacements: the source is the first
/// service's ServiceAccount.
fn namespace_replacements(m: &Model, files: &[&FileTargets]) -> Vec<Value> {
    let first = m.services.first().map(|s| match &s.attach {
        Some(a) => a.service_account.clone(),
        None => format!("{}-{}", m.name, m.identity_suffixes(&s.name)[0]),
    });
    let Some(source_sa) = first else {
        return vec![];
    };
    replacements_from(
        &("ServiceAccount".to_string(), source_sa),
        files
            .iter()
            .flat_map(|f| f.targets.iter().map(|(_, v)| v.clone()))
            .collect(),
        files
            .iter()
            .flat_map(|f| f.fixed.iter().map(|(_, k, n)| (k.clone(), n.clone())))
            .collect(),
    )
}

/// Replacements: the namespace of `source` (kind, name) into `targets`,
/// and each `fixed` object's own namespace (its annotation) back.
fn replacements_from(
    source: &(String, String),
    targets: Vec<Value>,
    fixed: Vec<(String, String)>,
) -> Vec<Value> {
    let mut out = vec![];
    if !targets.is_empty() {
        out.push(json!({
            "source": { "kind": source.0, "name": source.1, "fieldPath": "metadata.namespace" },
            "targets": targets,
        }));
    }
    for (kind, name) in fixed {
        out.push(json!({
            "source": { "kind": kind, "name": name, "fieldPath": format!("metadata.annotations.[{FIXED_NAMESPACE}]") },
            "targets": [{ "select": { "kind": kind, "name": name }, "fieldPaths": ["metadata.namespace"] }],
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn docs(bytes: &[u8]) -> Vec<Value> {
        serde_yaml::Deserializer::from_slice(bytes)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect()
    }

    #[test]
    fn a_service_named_kustomization_does_not_replace_the_kustomization() {
        let policy = crate::synthetic::policy(&crate::synthetic::Shape {
            services: 3,
            ..Default::default()
        })
        .replacen(
            "  services:\n",
            "  services:\n    kustomization:\n      image: registry.example.com/k:1.0.0\n      ports:\n        http: 8080\n",
            1,
        );
        let m = crate::compile_model(&policy, None).unwrap();
        let t = super::tree(&m);
        let k = &docs(&t["base/kustomization.yaml"])[0];
        assert_eq!(k["kind"], "Kustomization");
        let resources: Vec<&str> = k["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(resources.contains(&"_kustomization.yaml"), "{resources:?}");
        let objects: Vec<(String, String)> = docs(&t["base/_kustomization.yaml"])
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap().to_string(),
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            objects.contains(&("Service".to_string(), "kustomization".to_string())),
            "{objects:?}"
        );
        assert!(
            objects
                .iter()
                .any(|(k, n)| k == "Deployment" && n.ends_with("-kustomization")),
            "{objects:?}"
        );
    }
}
