//! Running the mesh checks on several threads. Each check is an independent
//! `fn(&Set)` over a read-only set, so the checks are spread over the same
//! number of threads as the validator threads that read the documents (one
//! per core, at most 8): more threads than cores would only win a bigger
//! share of a loaded machine, not finish the work sooner on an idle one.
//! Workers take the next check from a shared counter, the costliest first
//! (`HEAVIEST_FIRST`, measured), so that no long check starts last and
//! leaves the other threads idle; the shared analysis index is built as the
//! first task, while another thread runs the costliest check.
//!
//! Invariant: the findings are exactly those of running the checks one
//! after the other in `CHECKS` order, in that order: each check's findings
//! are put back in its slot before they are concatenated. A check that
//! panics (a bug) makes the run an error, the first such check in `CHECKS`
//! order, however many threads: the same whichever thread ran it.

use super::checks::{Check, Finding, Panicked, Set, CHECKS, OPT_IN};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Codes of the checks that cost most on large sets, most expensive first
/// (perf at 100,000 objects in one namespace, `bench/validate.sh`'s input:
/// M011 took 38% of the checks' time, then M002 9%, M053, M009 and M007
/// 3-4% each); the others follow in `CHECKS` order. Only the order in
/// which checks start depends on this list, never the findings.
const HEAVIEST_FIRST: &[&str] = &["M011", "M002", "M053", "M009", "M007"];

/// The checks that run: every check but the opt-in ones not named in
/// `enabled`, in `CHECKS` order.
fn selected(enabled: &[String]) -> Vec<&'static Check> {
    CHECKS
        .iter()
        .filter(|c| !OPT_IN.contains(&c.code) || enabled.iter().any(|e| e == c.code))
        .collect()
}

/// Indexes into `checks`, in the order they should start.
fn start_order(checks: &[&Check]) -> Vec<usize> {
    let rank = |code: &str| {
        HEAVIEST_FIRST
            .iter()
            .position(|h| *h == code)
            .unwrap_or(HEAVIEST_FIRST.len())
    };
    let mut order: Vec<usize> = (0..checks.len()).collect();
    // Stable: checks not in the list keep their `CHECKS` order.
    order.sort_by_key(|&i| rank(checks[i].code));
    order
}

/// One check's findings, or its panic (caught, so that the other checks
/// run on and the run fails with a message instead of aborting).
fn findings(c: &Check, set: &Set) -> Result<Vec<Finding>, Panicked> {
    let found = catch_unwind(AssertUnwindSafe(|| (c.run)(set))).map_err(|p| Panicked {
        code: c.code,
        message: super::panic_message(&*p),
    })?;
    Ok(found
        .into_iter()
        .map(|(object, message)| Finding {
            code: c.code,
            severity: c.severity,
            object,
            message,
        })
        .collect())
}

/// Run the selected checks on `threads` threads (1: on this one); the
/// findings in `CHECKS` order.
pub(crate) fn run(set: &Set, enabled: &[String], threads: usize) -> Result<Vec<Finding>, Panicked> {
    run_checks(set, &selected(enabled), threads)
}

fn run_checks(set: &Set, checks: &[&Check], threads: usize) -> Result<Vec<Finding>, Panicked> {
    if threads <= 1 || checks.len() <= 1 {
        let mut out = vec![];
        for c in checks {
            out.extend(findings(c, set)?);
        }
        return Ok(out);
    }
    let order = start_order(checks);
    // Task 0 builds the shared analysis index; task k > 0 runs check
    // `order[k - 1]`.
    let tasks = checks.len() + 1;
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Result<Vec<Finding>, Panicked>>> =
        checks.iter().map(|_| Mutex::new(Ok(vec![]))).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(tasks) {
            s.spawn(|| loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= tasks {
                    break;
                }
                if t == 0 {
                    // A panic here leaves the index unbuilt: each check
                    // that asks for it builds it again, and reports the
                    // panic as its own.
                    let _ = catch_unwind(AssertUnwindSafe(|| set.analysis()));
                    continue;
                }
                let i = order[t - 1];
                let found = findings(checks[i], set);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = found;
            });
        }
    });
    let mut out = vec![];
    for slot in slots {
        out.extend(slot.into_inner().unwrap_or_else(|e| e.into_inner())?);
    }
    Ok(out)
}

/// Threads for the checks: as many as the validator threads.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::objects;

    /// Objects that make several checks fire, in several namespaces.
    const MIXED: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: a, namespace: x}
spec:
  selector: {app: a}
  ports: [{port: 80}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: x}
spec:
  selector: {matchLabels: {app: nobody}}
  rules: [{from: [{source: {principals: [cluster.local/ns/x/sa/ghost]}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: x}
spec: {host: missing, trafficPolicy: {tls: {mode: DISABLE}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: x}
spec: {host: missing}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v, namespace: y}
spec:
  hosts: [v]
  http: [{route: [{destination: {host: nowhere, subset: s}}]}]
"#;

    #[test]
    fn parallel_findings_equal_sequential_ones_in_check_order() {
        let objs = objects(MIXED);
        let set = Set::new(&objs, "default");
        let one = run(&set, &[], 1).expect("no check panics");
        let codes: Vec<&str> = one.iter().map(|f| f.code).collect();
        assert!(
            codes.len() >= 4 && codes.windows(2).all(|w| w[0] <= w[1]),
            "want several findings in CHECKS order: {codes:?}"
        );
        for threads in [2, 3, 8] {
            let set = Set::new(&objs, "default");
            assert_eq!(
                run(&set, &[], threads),
                Ok(one.clone()),
                "{threads} threads"
            );
        }
        let with_opt_in = run(&set, &["M058".to_string()], 2);
        assert_eq!(with_opt_in, run(&set, &["M058".to_string()], 1));
    }

    /// A check that panics fails the run with its code and message, the
    /// first in `CHECKS` order whatever the threads; the others still run
    /// (no abort, no hang).
    #[test]
    fn a_panicking_check_is_an_error_naming_it() {
        fn boom(_: &Set) -> Vec<(usize, String)> {
            panic!("boom on purpose")
        }
        fn bang(_: &Set) -> Vec<(usize, String)> {
            panic!("{}", String::from("bang"))
        }
        let fake = |code, run| Check {
            code,
            severity: crate::diag::Severity::Error,
            summary: "",
            ist: None,
            run,
        };
        let (t1, t2) = (fake("T001", boom), fake("T002", bang));
        let mut checks: Vec<&Check> = selected(&[]);
        checks.insert(3, &t2);
        checks.insert(1, &t1);
        let objs = objects(MIXED);
        let set = Set::new(&objs, "default");
        for threads in [1, 2, 8] {
            assert_eq!(
                run_checks(&set, &checks, threads),
                Err(Panicked {
                    code: "T001",
                    message: "boom on purpose".into()
                }),
                "{threads} threads"
            );
        }
        checks.remove(1);
        assert_eq!(
            run_checks(&set, &checks, 2).map_err(|p| (p.code, p.message)),
            Err(("T002", "bang".to_string()))
        );
    }

    #[test]
    fn the_heaviest_checks_start_first_and_the_rest_keep_their_order() {
        let checks = selected(&[]);
        let order = start_order(&checks);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..checks.len()).collect::<Vec<_>>());
        let codes: Vec<&str> = order.iter().map(|&i| checks[i].code).collect();
        let heavy = HEAVIEST_FIRST.len();
        assert_eq!(&codes[..heavy], HEAVIEST_FIRST);
        let rest = &codes[heavy..];
        assert!(rest.windows(2).all(|w| w[0] < w[1]), "{rest:?}");
        assert!(!codes.contains(&"M058"), "opt-in check selected");
    }
}
