//! V003 findings (no schema for an object's apiVersion and kind): one per
//! object, or, when a flood is to be collapsed, the first few objects of
//! each apiVersion and kind and then one finding that counts the rest.
//!
//! Invariant: only what findings are written changes; every object without
//! a schema is still counted (the summary's Errors and Valid are
//! kubeconform's counts, whatever is shown).

use super::Finding;
use crate::diag::Severity;
use crate::manifest::Object;
use std::collections::BTreeMap;

/// Kind -> (objects seen, where the first one not shown is).
type ByKind = BTreeMap<String, (usize, Option<(String, usize)>)>;

/// The objects without a schema seen so far, by apiVersion and kind.
pub(crate) struct Missing {
    shown: Option<usize>,
    /// apiVersion -> its kinds. Ordered: the items of a `List` share its
    /// line, so two kinds' counting findings can share a position, and the
    /// report's sort by position keeps them in the order given here.
    kinds: BTreeMap<String, ByKind>,
}

impl Missing {
    /// `shown`: how many objects of one apiVersion and kind get a finding
    /// each (`None`: every one).
    pub(crate) fn new(shown: Option<usize>) -> Missing {
        Missing {
            shown,
            kinds: BTreeMap::new(),
        }
    }

    /// The finding of one more object without a schema, unless it is one
    /// too many of its kind (then it is counted for [`Missing::rest`]).
    pub(crate) fn object(&mut self, o: &Object) -> Option<Finding> {
        let Some(shown) = self.shown else {
            return Some(finding(o));
        };
        // Looked up by `&str` so that an object already seen allocates nothing.
        let by_kind = match self.kinds.get_mut(o.api_version()) {
            Some(k) => k,
            None => self.kinds.entry(o.api_version().to_string()).or_default(),
        };
        let (seen, first_hidden) = match by_kind.get_mut(o.kind()) {
            Some(k) => k,
            None => by_kind.entry(o.kind().to_string()).or_default(),
        };
        *seen += 1;
        if *seen <= shown {
            return Some(finding(o));
        }
        first_hidden.get_or_insert_with(|| (o.file().to_string(), o.line()));
        None
    }

    /// One finding per apiVersion and kind that had objects not shown,
    /// at the first of them.
    pub(crate) fn rest(self) -> Vec<Finding> {
        let shown = self.shown.unwrap_or(usize::MAX);
        let mut out = vec![];
        for (api_version, kinds) in self.kinds {
            for (kind, (seen, first_hidden)) in kinds {
                let Some((file, line)) = first_hidden else {
                    continue;
                };
                let more = seen - shown;
                out.push(Finding {
                    message: format!(
                        "{more} more {kind} object{} ({api_version}) ha{} no schema, the first at {file}:{line}; pass --crd or --schema-location, or --ignore-missing-schemas (-o json lists every one)",
                        if more == 1 { "" } else { "s" },
                        if more == 1 { "s" } else { "ve" },
                    ),
                    file,
                    line,
                    object: None,
                    code: "V003",
                    severity: Severity::Error,
                });
            }
        }
        out
    }
}

fn finding(o: &Object) -> Finding {
    Finding {
        file: o.file().to_string(),
        line: o.line(),
        object: Some(o.id()),
        code: "V003",
        severity: Severity::Error,
        message: format!(
            "no schema for {} {}; pass --crd or --schema-location, or --ignore-missing-schemas",
            o.api_version(),
            o.kind()
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::{validate, Options, Report};

    fn run(text: &str, shown: Option<usize>) -> Report {
        let opts = Options {
            missing_schemas_shown: shown,
            ..Options::default()
        };
        validate(&[("m.yaml".to_string(), text.to_string())], &opts).expect("runs")
    }

    /// Past `shown` objects of one apiVersion and kind, one finding at the
    /// first object not shown counts the rest; other kinds (and the same
    /// kind in another apiVersion) count apart; the summary's counts are
    /// those of a run that lists every object.
    #[test]
    fn a_flood_of_one_kind_is_shown_in_part_and_counted() {
        let doc = |api: &str, kind: &str, i: usize| {
            format!("apiVersion: {api}\nkind: {kind}\nmetadata: {{name: o{i}, namespace: shop}}\n")
        };
        let mut docs = vec![];
        for i in 0..8 {
            docs.push(doc("example.com/v1", "Widget", i));
        }
        docs.push(doc("example.com/v2", "Widget", 8));
        docs.push(doc("example.com/v1", "Gadget", 9));
        docs.push(doc("v1", "ConfigMap", 10));
        // Each document is 3 lines and a `---`: the i-th starts at line 4i+1.
        let text = docs.join("---\n");

        let all = run(&text, None);
        let shown = run(&text, Some(5));
        let lines = |r: &Report| -> Vec<(usize, Option<String>, String)> {
            r.findings
                .iter()
                .map(|f| {
                    assert_eq!(f.code, "V003");
                    (f.line, f.object.clone(), f.message.clone())
                })
                .collect()
        };
        let one = |i: usize, api: &str, kind: &str| {
            (
                4 * i + 1,
                Some(format!("{kind}/shop/o{i}")),
                format!("no schema for {api} {kind}; pass --crd or --schema-location, or --ignore-missing-schemas"),
            )
        };
        let mut want: Vec<_> = (0..5).map(|i| one(i, "example.com/v1", "Widget")).collect();
        want.push((
            21,
            None,
            "3 more Widget objects (example.com/v1) have no schema, the first at m.yaml:21; pass --crd or --schema-location, or --ignore-missing-schemas (-o json lists every one)".into(),
        ));
        want.push(one(8, "example.com/v2", "Widget"));
        want.push(one(9, "example.com/v1", "Gadget"));
        assert_eq!(lines(&shown), want);

        assert_eq!(all.findings.len(), 10, "{:?}", lines(&all));
        assert_eq!(lines(&all)[5], one(5, "example.com/v1", "Widget"));
        let counts = |r: &Report| (r.resources, r.valid, r.invalid, r.errors, r.skipped);
        assert_eq!(counts(&shown), counts(&all));
        assert_eq!(counts(&shown), (11, 1, 0, 10, 0));
        assert!(shown.failed());

        let one_more = run(&docs[..6].join("---\n"), Some(5));
        assert_eq!(
            one_more.findings.last().map(|f| f.message.as_str()),
            Some("1 more Widget object (example.com/v1) has no schema, the first at m.yaml:21; pass --crd or --schema-location, or --ignore-missing-schemas (-o json lists every one)")
        );
    }
}
