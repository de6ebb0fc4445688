//! M055 (IST0108): an annotation in Istio's namespace (`*istio.io/...`)
//! that Istio's annotation table does not know: Istio ignores it, most
//! often a misspelling (`networking.istio.io/exportTwo`).
//! Semantics of Istio's `annotations.K8sAnalyzer`, on the places of
//! `annotations.rs` (pod templates read as the Pods they become).

use super::annotations::{self, ISTIO};
use super::Set;
use crate::diag::suggest;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for p in annotations::places(set) {
        for (name, _, def) in p.istio() {
            if def.is_some() {
                continue;
            }
            let close = suggest(name, super::annotation_table::TABLE.iter().map(|a| a.name))
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_else(|| "; remove it or check the spelling".to_string());
            out.push((
                p.object,
                format!(
                    "{}: unknown annotation {name}: Istio {ISTIO} has no such annotation and ignores it{close}",
                    p.path
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    #[test]
    fn misspelled_service_annotation() {
        let got = check(
            super::run,
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop, annotations: {networking.istio.io/exportTwo: bar, example.com/x: y}}\nspec: {ports: [{port: 80}]}\n",
        );
        assert_eq!(
            got,
            vec![(
                "Service/shop/web".to_string(),
                "metadata.annotations: unknown annotation networking.istio.io/exportTwo: Istio 1.30 has no such annotation and ignores it; did you mean networking.istio.io/exportTo?".to_string()
            )]
        );
    }
}
