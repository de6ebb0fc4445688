//! The intended graph of a policy: services, gateways, outside identities
//! and egress hosts, edges labelled with ports and HTTP limits. Mermaid and
//! DOT as text; SVG laid out here, without Graphviz.

use crate::model::{Model, Source};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NodeKind {
    Gateway,
    Outside,
    Service,
    Egress,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    pub(crate) id: String,
    pub(crate) label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Graph {
    pub(crate) nodes: Vec<Node>,
    /// (from id, to id, label)
    pub(crate) edges: Vec<(String, String, String)>,
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn source_node(s: &Source) -> Node {
    match s {
        Source::Service(n) => Node {
            kind: NodeKind::Service,
            id: format!("svc_{}", slug(n)),
            label: n.clone(),
        },
        Source::Version { service, version } => Node {
            kind: NodeKind::Service,
            id: format!("svc_{}_at_{}", slug(service), slug(version)),
            label: format!("{service}@{version}"),
        },
        Source::Gateway(g) => Node {
            kind: NodeKind::Gateway,
            id: format!("gw_{}", slug(g)),
            label: format!("gateway/{g}"),
        },
        Source::External {
            namespace,
            service_account,
        } => Node {
            kind: NodeKind::Outside,
            id: format!("ext_{}_{}", slug(namespace), slug(service_account)),
            label: format!("{namespace}/{service_account}"),
        },
    }
}

pub(crate) fn build(m: &Model) -> Graph {
    let mut nodes: BTreeSet<Node> = m
        .services
        .iter()
        .map(|s| source_node(&Source::Service(s.name.clone())))
        .collect();
    for g in &m.gateways {
        nodes.insert(source_node(&Source::Gateway(g.name.clone())));
    }
    // Merge edges between the same two nodes into one label.
    let mut labels: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in &m.edges {
        let from = source_node(&e.source);
        let to = source_node(&Source::Service(e.dest.clone()));
        let mut l = e.ports.join(",");
        if !e.methods.is_empty() {
            l.push_str(&format!(" {}", e.methods.join(",")));
        }
        if !e.paths.is_empty() {
            l.push_str(&format!(" {}", e.paths.join(" ")));
        }
        labels
            .entry((from.id.clone(), to.id.clone()))
            .or_default()
            .push(l);
        nodes.insert(from);
    }
    for e in &m.egress {
        let to = Node {
            kind: NodeKind::Egress,
            id: format!("egress_{}_{}", slug(&e.host), e.port),
            label: format!("{}:{}", e.host, e.port),
        };
        for f in &e.from {
            labels
                .entry((format!("svc_{}", slug(f)), to.id.clone()))
                .or_default()
                .push(e.protocol.as_str().to_string());
        }
        nodes.insert(to);
    }
    let mut nodes: Vec<Node> = nodes.into_iter().collect();
    nodes.sort_by(|a, b| (a.kind, &a.label).cmp(&(b.kind, &b.label)));
    let edges = labels
        .into_iter()
        .map(|((a, b), ls)| (a, b, ls.join(" | ")))
        .collect();
    Graph { nodes, edges }
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

pub(crate) fn mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for n in &g.nodes {
        let l = mermaid_text(&n.label);
        let shape = match n.kind {
            NodeKind::Gateway => format!("{{{{\"{l}\"}}}}"),
            NodeKind::Outside => format!("[/\"{l}\"/]"),
            NodeKind::Service => format!("[\"{l}\"]"),
            NodeKind::Egress => format!("([\"{l}\"])"),
        };
        out.push_str(&format!("  {}{shape}\n", n.id));
    }
    for (a, b, l) in &g.edges {
        out.push_str(&format!("  {a} -->|\"{}\"| {b}\n", mermaid_text(l)));
    }
    out
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub(crate) fn dot(g: &Graph) -> String {
    let mut out = String::from("digraph meshpack {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for n in &g.nodes {
        let shape = match n.kind {
            NodeKind::Gateway => "hexagon",
            NodeKind::Outside => "parallelogram",
            NodeKind::Service => "box, style=rounded",
            NodeKind::Egress => "ellipse, style=dashed",
        };
        out.push_str(&format!(
            "  {} [label=\"{}\", shape={shape}];\n",
            n.id,
            dot_text(&n.label)
        ));
    }
    for (a, b, l) in &g.edges {
        out.push_str(&format!("  {a} -> {b} [label=\"{}\"];\n", dot_text(l)));
    }
    out.push_str("}\n");
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Layered layout (after Sugiyama): columns by longest path from the entry
/// points (gateways and outside identities first, egress hosts last);
/// edges spanning several columns pass through waypoints that take part in
/// the ordering, so they run in the gaps instead of behind boxes; each
/// column is ordered by the mean position of its neighbours.
pub(crate) fn svg(g: &Graph) -> String {
    let index: BTreeMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let n = g.nodes.len();
    let mut rank = vec![0usize; n];
    for (i, node) in g.nodes.iter().enumerate() {
        if node.kind == NodeKind::Service {
            rank[i] = 1;
        }
    }
    // Longest path, relaxed at most |V| times so cycles stop.
    for _ in 0..n {
        let mut changed = false;
        for (a, b, _) in &g.edges {
            let (ia, ib) = (index[a.as_str()], index[b.as_str()]);
            if g.nodes[ib].kind == NodeKind::Service && rank[ib] < rank[ia] + 1 && rank[ia] < n {
                rank[ib] = rank[ia] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let last = rank.iter().copied().max().unwrap_or(0) + 1;
    for (i, node) in g.nodes.iter().enumerate() {
        if node.kind == NodeKind::Egress {
            rank[i] = last;
        }
    }
    // Items: the nodes, then waypoints; each edge becomes a chain of items.
    let mut item_rank = rank.clone();
    let mut chains: Vec<Vec<usize>> = vec![];
    for (a, b, _) in &g.edges {
        let (ia, ib) = (index[a.as_str()], index[b.as_str()]);
        let mut chain = vec![ia];
        if rank[ib] > rank[ia] + 1 {
            for r in rank[ia] + 1..rank[ib] {
                item_rank.push(r);
                chain.push(item_rank.len() - 1);
            }
        }
        chain.push(ib);
        chains.push(chain);
    }
    let items = item_rank.len();
    let mut neighbours: Vec<Vec<usize>> = vec![vec![]; items];
    for c in &chains {
        for pair in c.windows(2) {
            neighbours[pair[0]].push(pair[1]);
            neighbours[pair[1]].push(pair[0]);
        }
    }
    let mut cols: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, r) in item_rank.iter().enumerate() {
        cols.entry(*r).or_default().push(i);
    }
    let mut order = vec![0.0f64; items];
    let renumber = |cols: &BTreeMap<usize, Vec<usize>>, order: &mut Vec<f64>| {
        for c in cols.values() {
            for (j, i) in c.iter().enumerate() {
                order[*i] = j as f64;
            }
        }
    };
    renumber(&cols, &mut order);
    for sweep in 0..6 {
        let keys: Vec<usize> = if sweep % 2 == 0 {
            cols.keys().copied().collect()
        } else {
            cols.keys().rev().copied().collect()
        };
        for k in keys {
            let mut col = cols[&k].clone();
            let bary = |i: usize| {
                let ns: Vec<f64> = neighbours[i]
                    .iter()
                    .filter(|o| item_rank[**o] != item_rank[i])
                    .map(|o| order[*o])
                    .collect();
                if ns.is_empty() {
                    order[i]
                } else {
                    ns.iter().sum::<f64>() / ns.len() as f64
                }
            };
            col.sort_by(|a, b| {
                bary(*a)
                    .partial_cmp(&bary(*b))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.cmp(b))
            });
            cols.insert(k, col);
            renumber(&cols, &mut order);
        }
    }
    // Boxes grow with their number of edges, so edge ends stay apart.
    let degree = |i: usize| {
        g.edges
            .iter()
            .filter(|(a, b, _)| index[a.as_str()] == i || index[b.as_str()] == i)
            .count()
    };
    let (w, col_gap, gap, lane) = (180.0, 170.0, 24.0, 14.0);
    let height = |i: usize| {
        if i < n {
            (12.0 * degree(i) as f64).max(36.0)
        } else {
            lane
        }
    };
    let mut pos = vec![(0.0f64, 0.0f64); items];
    let mut max_y: f64 = 0.0;
    for (r, col) in &cols {
        let mut y = 20.0;
        for i in col {
            pos[*i] = (20.0 + *r as f64 * (w + col_gap), y);
            y += height(*i) + if *i < n { gap } else { 4.0 };
        }
        max_y = max_y.max(y);
    }
    // Edge ends spread over a box's side, ordered by the other end's height.
    let mut start_y = vec![0.0f64; chains.len()];
    let mut end_y = vec![0.0f64; chains.len()];
    let mut outs: BTreeMap<usize, Vec<(f64, usize)>> = BTreeMap::new();
    let mut ins: BTreeMap<usize, Vec<(f64, usize)>> = BTreeMap::new();
    for (e, c) in chains.iter().enumerate() {
        outs.entry(c[0]).or_default().push((pos[c[1]].1, e));
        ins.entry(c[c.len() - 1])
            .or_default()
            .push((pos[c[c.len() - 2]].1, e));
    }
    for (slots, target) in [(&mut outs, &mut start_y), (&mut ins, &mut end_y)] {
        for (node, list) in slots.iter_mut() {
            list.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
            let k = list.len() as f64;
            for (j, (_, e)) in list.iter().enumerate() {
                target[*e] = pos[*node].1 + height(*node) * (j as f64 + 1.0) / (k + 1.0);
            }
        }
    }
    let width = 40.0 + (last as f64 + 1.0) * (w + col_gap) - col_gap;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{:.0}\" viewBox=\"0 0 {width:.0} {:.0}\" font-family=\"Helvetica, Arial, sans-serif\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        max_y + 20.0,
        max_y + 20.0
    );
    for (e, ((_, _, l), c)) in g.edges.iter().zip(&chains).enumerate() {
        // Points: out of the source's right side, through each waypoint,
        // into the target's left side; joined by horizontal-tangent curves.
        let mut pts = vec![(pos[c[0]].0 + w, start_y[e])];
        for wp in &c[1..c.len() - 1] {
            let (x, y) = pos[*wp];
            pts.push((x, y + lane / 2.0));
            pts.push((x + w, y + lane / 2.0));
        }
        pts.push((pos[c[c.len() - 1]].0, end_y[e]));
        let mut d = format!("M {:.1} {:.1}", pts[0].0, pts[0].1);
        for pair in pts.windows(2) {
            let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
            if (y1 - y2).abs() < 0.01 && x2 - x1 <= w + 0.1 {
                d.push_str(&format!(" L {x2:.1} {y2:.1}"));
            } else {
                let dx = ((x2 - x1) / 2.0).max(30.0);
                d.push_str(&format!(
                    " C {:.1} {y1:.1}, {:.1} {y2:.1}, {x2:.1} {y2:.1}",
                    x1 + dx,
                    x2 - dx
                ));
            }
        }
        out.push_str(&format!(
            "<path d=\"{d}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"><title>{}</title></path>\n",
            xml(l)
        ));
        // The label sits just past the source, where edges are still apart.
        let short: String = if l.chars().count() > 30 {
            l.chars().take(29).chain(['…']).collect()
        } else {
            l.clone()
        };
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" fill=\"#333\">{}</text>\n",
            pts[0].0 + 6.0,
            pts[0].1 - 2.5,
            xml(&short)
        ));
    }
    for (i, node) in g.nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let h = height(i);
        let (fill, stroke, dash) = match node.kind {
            NodeKind::Gateway => ("#e8f0fe", "#1a73e8", ""),
            NodeKind::Outside => ("#fef7e0", "#b06000", ""),
            NodeKind::Service => ("#f1f3f4", "#3c4043", ""),
            NodeKind::Egress => ("#fce8e6", "#c5221f", " stroke-dasharray=\"5 3\""),
        };
        out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w}\" height=\"{h:.0}\" rx=\"8\" fill=\"{fill}\" stroke=\"{stroke}\"{dash}/>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" dominant-baseline=\"middle\">{}</text>\n",
            x + w / 2.0,
            y + h / 2.0,
            xml(&node.label)
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/evalhub.yaml"
        ))
        .unwrap();
        crate::compile_model(&text, None).unwrap()
    }

    #[test]
    fn edges_merge_and_carry_their_limits() {
        let g = build(&model());
        let find = |a: &str, b: &str| {
            g.edges
                .iter()
                .find(|(x, y, _)| x == a && y == b)
                .map(|(_, _, l)| l.clone())
        };
        assert_eq!(
            find("gw_public", "svc_api").as_deref(),
            Some("http,http-metrics GET,POST,PUT,DELETE /api/*")
        );
        assert_eq!(
            find("svc_taskrunner", "egress_api_openai_com_443").as_deref(),
            Some("tls")
        );
        assert_eq!(
            find("ext_monitoring_prometheus", "svc_api").as_deref(),
            Some("http-metrics")
        );
        assert_eq!(find("svc_postgres", "svc_api"), None);
    }

    #[test]
    fn a_version_source_is_a_node_of_its_own() {
        let m = crate::compile_model(
            "apiVersion: meshpack.dev/v1alpha2\nkind: MeshPolicy\nmetadata: {name: bk}\nspec:\n  version: 1.0.0\n  services:\n    reviews:\n      image: 'r.example.com/r:1'\n      ports: {http: 9080}\n      versions: {v1: {}, v2: {}}\n    ratings: {image: 'r.example.com/ra:1', ports: {http: 9080}}\n  allow:\n    - {from: reviews@v2, to: ratings, methods: [GET]}\n",
            None,
        )
        .unwrap();
        let g = build(&m);
        let labels: Vec<&str> = g.nodes.iter().map(|n| n.label.as_str()).collect();
        assert_eq!(labels, ["ratings", "reviews", "reviews@v2"]);
        assert_eq!(
            g.edges,
            [(
                "svc_reviews_at_v2".to_string(),
                "svc_ratings".to_string(),
                "http GET".to_string()
            )]
        );
    }

    #[test]
    fn formats() {
        let g = build(&model());
        let m = mermaid(&g);
        assert!(m.starts_with("flowchart LR\n"));
        assert!(m.contains("  gw_public{{\"gateway/public\"}}\n"));
        assert!(m.contains("  svc_frontend -->|\"http\"| svc_api\n"));
        let d = dot(&g);
        assert!(d.contains("  gw_public -> svc_frontend [label=\"http\"];\n"));
        let s = svg(&g);
        assert!(s.starts_with("<svg ") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<rect x=").count(), g.nodes.len());
        assert_eq!(s.matches("marker-end=").count(), g.edges.len());
    }
}
