//! `meshpack validate`: schema validation (JSON Schema plus CEL rules) and
//! mesh checks of rendered manifests, offline.
//!
//! Invariant: reads manifests only. Nothing here may use `model`, `emit` or
//! `package`; the schemas of meshpack's own Istio structs are the one thing
//! shared, and only as schemas.

pub(crate) mod cel;
pub mod checks;
pub mod crd;
pub mod input;
pub(crate) mod missing;
pub(crate) mod report;
pub(crate) mod retain;
pub(crate) mod schedule;
pub mod schemas;
pub use crate::manifest::yaml11;

use crate::diag::Severity;
use crate::manifest::node::Interner;
use crate::manifest::read::Doc;
use crate::manifest::{Object, Parsed};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

/// Why validation could not run (a finding about the manifests is not an
/// error: it goes in the [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest file (or standard input) cannot be opened or read.
    #[error("{file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The schemas cannot be loaded: a `--crd` file, a `--schema-location`,
    /// or a schema that does not compile. The message is all there is.
    #[error("{0}")]
    Schemas(String),
    /// A validator thread panicked: a bug in meshpack, reported rather
    /// than left to hang the run or to give a report without its objects.
    #[error("a validator thread failed ({0}); this is a bug in meshpack: please report it with the input that caused it")]
    Worker(String),
    /// A mesh check panicked (its code, the panic's message): a bug in
    /// meshpack, reported as the validator threads' panics are.
    #[error("mesh check {0} failed ({1}); this is a bug in meshpack: please report it with the input that caused it")]
    Check(&'static str, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    /// `Kind/namespace/name`, when the finding is about an object.
    pub object: Option<String>,
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub files: usize,
    pub resources: usize,
    pub valid: usize,
    pub invalid: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

pub struct Options {
    pub schemas: schemas::Options,
    pub ignore_missing_schemas: bool,
    /// Namespace of objects that name none.
    pub default_namespace: String,
    pub mesh_checks: bool,
    /// Opt-in mesh checks to run too (`checks::OPT_IN`).
    pub enable: Vec<String>,
    /// Keep the objects read in chunks that are never freed
    /// (`Interner::leaking`): less memory and time for a process that
    /// validates once and exits (`meshpack validate` sets it), memory
    /// that stays taken for one that validates again and again (off by
    /// default).
    pub keep_until_exit: bool,
    /// How many objects of one apiVersion and kind without a schema get a
    /// V003 finding each; one more V003 finding counts the rest (`None`:
    /// every one). The counts are the same either way.
    pub missing_schemas_shown: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            schemas: schemas::Options {
                strict: true,
                ..Default::default()
            },
            ignore_missing_schemas: false,
            default_namespace: "default".into(),
            mesh_checks: true,
            enable: vec![],
            keep_until_exit: false,
            missing_schemas_shown: None,
        }
    }
}

enum Verdict {
    Valid,
    Invalid,
    Missing,
}

/// Schema findings of one object.
fn check_object(reg: &schemas::Registry, o: &Parsed) -> Result<(Verdict, Vec<Finding>), Error> {
    let mk = |code, severity, message: String, pointer: &str| Finding {
        file: o.file.to_string(),
        line: o.line_of(pointer),
        object: Some(o.id()),
        code,
        severity,
        message,
    };
    if o.api_version().is_empty() || o.kind().is_empty() {
        return Ok((
            Verdict::Invalid,
            vec![mk(
                "V002",
                Severity::Error,
                "object has no apiVersion or kind".into(),
                "",
            )],
        ));
    }
    let Some(c) = reg.get(o.api_version(), o.kind()).map_err(Error::Schemas)? else {
        return Ok((Verdict::Missing, vec![]));
    };
    let mut out = vec![];
    for e in c.validator.iter_errors(&o.value) {
        let path = e.instance_path().to_string();
        let at = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        let msg = format!("{at}: {e}");
        out.push(mk("V004", Severity::Error, msg, &at));
    }
    let rules = if c.has_cel {
        cel::check(&c.schema, &o.value)
    } else {
        vec![]
    };
    for outcome in rules {
        out.push(match outcome {
            cel::Outcome::Violated { path, message } => mk(
                "V005",
                Severity::Error,
                format!("{path}: {message} (CEL rule)"),
                &path,
            ),
            cel::Outcome::NotEvaluated { path, rule, why } => mk(
                "V006",
                Severity::Warning,
                format!("{path}: CEL rule `{rule}` not evaluated: {why}"),
                &path,
            ),
        });
    }
    let verdict = if out.iter().any(|f| f.severity == Severity::Error) {
        Verdict::Invalid
    } else {
        Verdict::Valid
    };
    Ok((verdict, out))
}

/// Validate every object of the sources (`(name, text)` pairs).
pub fn validate(sources: &[(String, String)], opts: &Options) -> Result<Report, Error> {
    let docs = sources
        .iter()
        .flat_map(|(name, text)| input::split(name, text))
        .map(Ok);
    run(docs, sources.len(), opts)
}

/// Validate the files (and `-` for standard input) as streams: a document
/// is read, checked and reduced to what the mesh checks need
/// (`retain`) before the next batch is read, so memory does not grow
/// with the size of the input text.
pub fn validate_paths(files: &[PathBuf], opts: &Options) -> Result<Report, Error> {
    let mut readers = vec![];
    for f in files {
        let (name, r) = input::open_source(f).map_err(|source| Error::Read {
            file: f.display().to_string(),
            source,
        })?;
        readers.push((name, r));
    }
    let n = readers.len();
    let docs = readers.into_iter().flat_map(|(name, r)| {
        let file = name.clone();
        input::DocReader::new(&name, r).map(move |d| {
            d.map_err(|source| Error::Read {
                file: file.clone(),
                source,
            })
        })
    });
    run(docs, n, opts)
}

/// Documents per unit of work handed to a validator thread.
const BATCH: usize = 256;

/// A batch's objects, read errors, a verdict per object and the schema
/// findings, each with the position of its object in the batch (most
/// objects have none: a `Vec` per object was 24 bytes each at a million).
type Part = (
    Vec<Object>,
    Vec<input::ReadError>,
    Vec<Verdict>,
    Vec<(usize, Finding)>,
);

/// Parse, check and reduce one batch of documents: each object is
/// checked against its schema whole, then trimmed (`retain`) and kept in
/// its compact form, its strings shared through the thread's `strings`.
fn work(
    reg: &schemas::Registry,
    docs: &[Doc],
    strings: &mut Interner,
    mesh_checks: bool,
) -> Result<Part, Error> {
    let (mut parsed, mut errors) = (vec![], vec![]);
    for d in docs {
        input::parse_doc(d, &mut parsed, &mut errors);
    }
    let mut verdicts = Vec::with_capacity(parsed.len());
    let mut findings = vec![];
    let mut objects = Vec::with_capacity(parsed.len());
    for (i, mut o) in parsed.into_iter().enumerate() {
        let (verdict, found) = check_object(reg, &o)?;
        verdicts.push(verdict);
        findings.extend(found.into_iter().map(|f| (i, f)));
        if mesh_checks {
            retain::retain(&mut o);
        } else {
            retain::ids_only(&mut o);
        }
        objects.push(o.into_object(strings));
    }
    Ok((objects, errors, verdicts, findings))
}

/// What the validator threads send back, put back in input order: parts
/// that arrive early wait in `early` until the ones before them are in.
/// The first error is kept, and what follows it dropped.
struct Kept {
    objects: Vec<Object>,
    verdicts: Vec<Verdict>,
    schema_findings: Vec<(usize, Finding)>,
    report: Report,
    failed: Option<Error>,
    next: usize,
    early: std::collections::BTreeMap<usize, Result<Part, Error>>,
}

impl Kept {
    fn new(files: usize) -> Kept {
        Kept {
            objects: vec![],
            verdicts: vec![],
            schema_findings: vec![],
            report: Report {
                files,
                ..Default::default()
            },
            failed: None,
            next: 0,
            early: Default::default(),
        }
    }

    fn add(&mut self, seq: usize, part: Result<Part, Error>) {
        self.early.insert(seq, part);
        while let Some(part) = self.early.remove(&self.next) {
            self.next += 1;
            match part {
                Ok(part) if self.failed.is_none() => self.append(part),
                Ok(_) => {}
                Err(e) => {
                    self.failed.get_or_insert(e);
                }
            }
        }
    }

    fn append(&mut self, (objs, errors, vs, fs): Part) {
        let base = self.objects.len();
        self.objects.extend(objs);
        self.verdicts.extend(vs);
        self.schema_findings
            .extend(fs.into_iter().map(|(i, f)| (base + i, f)));
        for e in errors {
            self.report.errors += 1;
            self.report.findings.push(Finding {
                file: e.file,
                line: e.line,
                object: None,
                code: "V001",
                severity: Severity::Error,
                message: e.message,
            });
        }
    }
}

/// Gives back to the kernel the memory a stage freed: after reading, the
/// documents' text and parse trees, in the heaps of the validator threads,
/// which end with the reading; after the index, what building it grew and
/// dropped. The object index, built next on this thread, would not reuse
/// another thread's.
fn give_back_freed_memory() {
    crate::heap::give_back_freed_memory();
}

/// The message a panic was given.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|m| m.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Read the documents and hand them to the validator threads in batches,
/// keeping the parts that come back meanwhile. Stops early, without an
/// error, when no worker is left to take a batch (`run` says why).
fn send_batches(
    docs: impl Iterator<Item = Result<Doc, Error>>,
    work_tx: &mpsc::SyncSender<(usize, Vec<Doc>)>,
    part_rx: &mpsc::Receiver<(usize, Result<Part, Error>)>,
    kept: &mut Kept,
) -> Result<(), Error> {
    let mut seq = 0;
    let mut batch = Vec::with_capacity(BATCH);
    for d in docs {
        batch.push(d?);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if work_tx.send((seq, full)).is_err() {
                break; // every worker has ended
            }
            seq += 1;
            while let Ok((n, part)) = part_rx.try_recv() {
                kept.add(n, part);
            }
        }
    }
    if !batch.is_empty() {
        let _ = work_tx.send((seq, batch));
    }
    Ok(())
}

fn run(
    docs: impl Iterator<Item = Result<Doc, Error>>,
    files: usize,
    opts: &Options,
) -> Result<Report, Error> {
    let reg = schemas::Registry::new(&opts.schemas).map_err(Error::Schemas)?;

    // The calling thread reads documents and hands batches to validator
    // threads over a bounded channel (so reading never runs far ahead);
    // parts come back numbered and are appended in input order as they
    // arrive (`Kept`), so no part waits for the end of the input: at a
    // million objects, holding them all and then copying them into one
    // list held every object twice (24 MB more at the peak), and left the
    // parts' freed memory behind.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Vec<Doc>)>(threads * 2);
    // The workers own the receiver (and nothing else does): when every
    // one of them has ended, panicked too, the channel is closed and the
    // reading thread's `send` fails instead of waiting forever for room.
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (part_tx, part_rx) = mpsc::channel::<(usize, Result<Part, Error>)>();
    let mut kept = Kept::new(files);
    let read = std::thread::scope(|s| {
        for _ in 0..threads {
            {
                let (reg, work_rx, part_tx) = (&reg, Arc::clone(&work_rx), part_tx.clone());
                s.spawn(move || {
                    let mut strings = if opts.keep_until_exit {
                        Interner::leaking()
                    } else {
                        Interner::default()
                    };
                    loop {
                        // A worker that panicked held no lock (it panics in
                        // `work`), but a poisoned queue is still a queue.
                        let next = work_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((seq, docs)) = next else { break };
                        // A panic (a bug in a check, on hostile input) is this
                        // batch's error, so the run fails with its message;
                        // the worker stops, its interner possibly half-updated.
                        let part = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            #[cfg(test)]
                            tests::panic_if_asked(&docs);
                            work(reg, &docs, &mut strings, opts.mesh_checks)
                        }));
                        let stop = part.is_err();
                        let part = part.unwrap_or_else(|p| Err(Error::Worker(panic_message(&*p))));
                        if part_tx.send((seq, part)).is_err() || stop {
                            break;
                        }
                    }
                });
            }
        }
        drop(work_rx);
        drop(part_tx);
        let read = send_batches(docs, &work_tx, &part_rx, &mut kept);
        drop(work_tx);
        read
    });
    // (If reading failed, the workers still drained what was sent.)
    for (n, part) in part_rx {
        kept.add(n, part);
    }
    read?;
    give_back_freed_memory();
    let Kept {
        objects,
        verdicts,
        schema_findings,
        mut report,
        failed,
        ..
    } = kept;
    if let Some(e) = failed {
        return Err(e);
    }

    report.resources = objects.len();
    let mut invalid = vec![false; objects.len()];
    let mut schema_findings = schema_findings.into_iter().peekable();
    let mut missing = missing::Missing::new(opts.missing_schemas_shown);
    let mut missing_count = 0;
    for (idx, verdict) in verdicts.into_iter().enumerate() {
        match verdict {
            Verdict::Invalid => invalid[idx] = true,
            Verdict::Valid => {}
            Verdict::Missing if opts.ignore_missing_schemas => report.skipped += 1,
            Verdict::Missing => {
                report.errors += 1;
                missing_count += 1;
                report.findings.extend(missing.object(&objects[idx]));
            }
        }
        while let Some((_, f)) = schema_findings.next_if(|(i, _)| *i == idx) {
            report.findings.push(f);
        }
    }
    report.findings.extend(missing.rest());

    if opts.mesh_checks {
        let set = crate::manifest::ObjectIndex::new(&objects, &opts.default_namespace);
        // Building the index grew and dropped its tables (the string
        // table's rehashes, the lists' sort buffers) on this thread: 8 MiB
        // of RSS at a million objects that the checks' peak sat on top of.
        give_back_freed_memory();
        let found =
            checks::run_enabled(&set, &opts.enable).map_err(|p| Error::Check(p.code, p.message))?;
        for f in found {
            let o = &objects[f.object];
            if f.severity == Severity::Error {
                invalid[f.object] = true;
            }
            report.findings.push(Finding {
                file: o.file().to_string(),
                line: o.line(),
                object: Some(o.id()),
                code: f.code,
                severity: f.severity,
                message: f.message,
            });
        }
    }
    report.invalid = invalid.iter().filter(|b| **b).count();
    // Saturating: an object can be both invalid and reported V003, and
    // a count must not panic the run.
    report.valid = report
        .resources
        .saturating_sub(report.invalid)
        .saturating_sub(report.skipped)
        .saturating_sub(missing_count);
    report
        .findings
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document holding this makes the worker that gets its batch panic
    /// (`panic_if_asked`): a stand-in for a bug in a check.
    const PANIC: &str = "meshpack-test-worker-panics";

    pub(super) fn panic_if_asked(docs: &[Doc]) {
        if docs.iter().any(|d| d.text[d.range.clone()].contains(PANIC)) {
            panic!("asked to by the test");
        }
    }

    /// `validate` of `objects` ConfigMaps, those at `panics` asking their
    /// worker to panic, in a thread: its result, or `None` if it did not
    /// end within a minute (it hung).
    fn validate_with_panics(objects: usize, panics: &[usize]) -> Option<Result<Report, Error>> {
        let text: Vec<String> = (0..objects)
            .map(|i| {
                let v = if panics.contains(&i) { PANIC } else { "v" };
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: shop}}\ndata: {{k: {v}}}\n")
            })
            .collect();
        let sources = [("m.yaml".to_string(), text.join("---\n"))];
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(validate(&sources, &Options::default()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(60)).ok()
    }

    /// Every worker panicking (each batch asks it to) fails the run with
    /// the panic's message; before, the reading thread waited forever for
    /// room in the queue no one read. One worker of several panicking
    /// fails it too: its batch is lost, and a report without those objects
    /// would be wrong.
    #[test]
    fn a_worker_that_panics_fails_the_run_instead_of_hanging() {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        // More batches than the queue holds and the workers take.
        let batches = threads * 4 + 2;
        let every_batch: Vec<usize> = (0..batches).map(|b| b * BATCH).collect();
        for panics in [every_batch, vec![BATCH + 3]] {
            let result = validate_with_panics(batches * BATCH, &panics)
                .unwrap_or_else(|| panic!("validate hung with panics at {panics:?}"));
            let e = result.expect_err("a run whose worker panicked");
            assert!(
                matches!(&e, Error::Worker(m) if m == "asked to by the test"),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                "a validator thread failed (asked to by the test); this is a bug in meshpack: please report it with the input that caused it"
            );
        }
        let fine = validate_with_panics(3 * BATCH, &[])
            .expect("ends")
            .expect("runs");
        assert_eq!((fine.resources, fine.valid), (3 * BATCH, 3 * BATCH));
    }

    /// Parts put back in input order whatever order they arrive in: the
    /// objects, their verdicts and schema findings (renumbered), read
    /// errors; the first failed part (in input order) is the error, and
    /// nothing after it is kept.
    /// Objects kept until exit (the CLI's way) give the same report as
    /// counted ones, for every finding of a mixed input.
    #[test]
    fn kept_until_exit_reports_the_same() {
        let text = [
            crate::manifest::testing::APP,
            "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: shop}\nspec: {selector: {matchLabels: {app: nobody}}, action: PERMIT}\n",
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop, annotations: {big: ",
            &"x".repeat(9000),
            "}}\ndata: {n: '1'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n",
        ]
        .concat();
        let sources = [("m.yaml".to_string(), text)];
        let run = |keep_until_exit| {
            let opts = Options {
                keep_until_exit,
                ..Options::default()
            };
            validate(&sources, &opts).expect("runs")
        };
        let (counted, kept) = (run(false), run(true));
        assert_eq!(kept.findings, counted.findings);
        assert_eq!(
            (kept.resources, kept.valid, kept.invalid, kept.errors),
            (
                counted.resources,
                counted.valid,
                counted.invalid,
                counted.errors
            )
        );
        let codes: Vec<&str> = kept.findings.iter().map(|f| f.code).collect();
        for code in ["V004", "M011"] {
            assert!(codes.contains(&code), "{code} in {codes:?}");
        }
    }

    #[test]
    fn parts_are_kept_in_input_order_as_they_arrive() {
        let part = |names: &[&str], finding_at: Option<usize>| -> Result<Part, Error> {
            let yaml: Vec<String> = names
                .iter()
                .map(|n| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\n"))
                .collect();
            let objs = crate::manifest::testing::objects(&yaml.join("---\n"));
            let verdicts = names.iter().map(|_| Verdict::Valid).collect();
            let findings = finding_at
                .map(|i| {
                    let f = Finding {
                        file: "t.yaml".into(),
                        line: 1,
                        object: Some(format!("ConfigMap/{}", names[i])),
                        code: "V004",
                        severity: Severity::Error,
                        message: "m".into(),
                    };
                    (i, f)
                })
                .into_iter()
                .collect();
            let errors = vec![input::ReadError {
                file: "t.yaml".into(),
                line: 7,
                message: format!("after {}", names[0]),
            }];
            Ok((objs, errors, verdicts, findings))
        };
        let mut kept = Kept::new(1);
        kept.add(2, part(&["e"], Some(0)));
        kept.add(1, part(&["c", "d"], Some(1)));
        assert!(kept.objects.is_empty(), "nothing before part 0 arrives");
        kept.add(0, part(&["a", "b"], None));
        let names: Vec<&str> = kept.objects.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        assert_eq!(kept.verdicts.len(), 5);
        let at: Vec<(usize, Option<&str>)> = kept
            .schema_findings
            .iter()
            .map(|(i, f)| (*i, f.object.as_deref()))
            .collect();
        assert_eq!(at, [(3, Some("ConfigMap/d")), (4, Some("ConfigMap/e"))]);
        let read: Vec<&str> = kept
            .report
            .findings
            .iter()
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(read, ["after a", "after c", "after e"]);
        assert_eq!(kept.report.errors, 3);

        let mut kept = Kept::new(1);
        kept.add(1, Err(Error::Schemas("second".into())));
        kept.add(2, part(&["z"], None));
        kept.add(0, part(&["a"], None));
        kept.add(3, Err(Error::Schemas("fourth".into())));
        let names: Vec<&str> = kept.objects.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["a"]);
        assert!(matches!(&kept.failed, Some(Error::Schemas(m)) if m == "second"));
    }

    /// Without mesh checks objects keep only their ids (`retain::ids_only`),
    /// and every finding reads as it does with them: schema findings, a
    /// missing schema by id and line, and the counts.
    #[test]
    fn without_mesh_checks_findings_and_counts_are_the_same() {
        let text = "\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop, labels: {app: w}}
spec: {size: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
data: {k: v}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: shop}
spec:
  replicas: two
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: c, image: 'x:1'}]}
";
        let sources = [("m.yaml".to_string(), text.to_string())];
        let run = |mesh_checks| {
            let opts = Options {
                mesh_checks,
                ..Options::default()
            };
            validate(&sources, &opts).expect("runs")
        };
        let (with, without) = (run(true), run(false));
        let schema_findings = |r: &Report| -> Vec<Finding> {
            r.findings
                .iter()
                .filter(|f| f.code.starts_with('V'))
                .cloned()
                .collect()
        };
        assert_eq!(schema_findings(&without), schema_findings(&with));
        let first = |code: &str| {
            without
                .findings
                .iter()
                .find(|f| f.code == code)
                .unwrap_or_else(|| panic!("no {code} in {:?}", without.findings))
        };
        let missing = first("V003");
        assert_eq!(
            (
                missing.file.as_str(),
                missing.line,
                missing.object.as_deref()
            ),
            ("m.yaml", 1, Some("Widget/shop/w"))
        );
        let replicas = first("V004");
        assert_eq!(
            (replicas.line, replicas.object.as_deref()),
            (15, Some("Deployment/shop/d"))
        );
        assert_eq!(
            (
                without.resources,
                without.valid,
                without.invalid,
                without.errors
            ),
            (3, 1, 1, 1)
        );
        assert!(without.findings.iter().all(|f| f.code.starts_with('V')));
    }
}
