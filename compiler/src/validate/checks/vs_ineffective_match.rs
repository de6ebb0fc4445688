//! M045 (IST0131): a match of a VirtualService rule repeats, or is covered
//! by (a longer URI prefix under a shorter one with the same other
//! conditions), a match of an earlier rule: requests it describes go to the
//! earlier rule.
//! Semantics of Istio's validation warnings (`analyzeUnreachableHTTPRules`,
//! `coveredValidation`); the analysis is M044's.

use super::vs_unreachable_rule::{each, Unused};
use super::Set;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    each(set, |i, k, u| {
        if let Unused::Match(rule, m, earlier) = u {
            out.push((
                i,
                format!("{k} rule {rule} match {m} is never used (duplicate or overlapping match in rule {earlier}); order the more specific match first"),
            ));
        }
    });
    out
}
