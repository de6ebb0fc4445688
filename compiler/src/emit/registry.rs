//! The orchestrator: the one list of emitters (`EMITTERS`), walked in
//! order to emit every file of a model.
//!
//! Invariant: this is the only module that names the emitters (the modules
//! that make whole files); emitters name only the helpers (`cond`,
//! `values`, `out`, `identity`, `injection`, `pod_meta`, ...) and `mod.rs`'s
//! shared types, never each other, so `emit/` has no import cycle
//! (`tests/layers.rs` checks both). Adding an emitter is one entry here.
//! The order of the list is the order of the files, which the packagers
//! keep.
//!
//! Per-service emitters make each service's file from the model alone, so
//! [`each_prepared`] makes them on several threads, a chunk of services
//! at a time, and still hands the files out in the list's order: the
//! output does not depend on the number of threads.

use super::{external, gateway, ingress, mesh, monitors, netpol, probes, telemetry, workload};
use super::{File, Mode};
use crate::model::{Model, Service};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How an emitter makes its files.
pub enum Files {
    /// A file per service, or none, from the model and that service only.
    PerService(fn(&Model, &Service, Mode) -> Option<File>),
    /// Any number of files from the whole model.
    Whole(fn(&Model, Mode, &mut dyn FnMut(File))),
}

/// One emitter: its name (for readers and tests) and how it makes files.
pub struct Emitter {
    pub name: &'static str,
    pub files: Files,
}

/// Every emitter, in the order its files are emitted.
pub const EMITTERS: &[Emitter] = &[
    Emitter {
        name: "workloads",
        // Attached services are deployed by someone else: no workload file.
        files: Files::PerService(|m, s, mode| {
            s.attach
                .is_none()
                .then(|| workload::service_file(m, s, mode))
        }),
    },
    Emitter {
        name: "istio release",
        files: Files::Whole(|m, mode, sink| sink(mesh::release_file(m, mode))),
    },
    Emitter {
        name: "istio services",
        files: Files::PerService(|m, s, mode| Some(mesh::service_file(m, s, mode))),
    },
    Emitter {
        name: "istio gateways",
        files: Files::Whole(|m, mode, sink| {
            for g in &m.gateways {
                sink(gateway::istio_file(m, g, mode));
            }
        }),
    },
    Emitter {
        name: "external services",
        files: Files::Whole(|m, mode, sink| external::files(m, mode).into_iter().for_each(sink)),
    },
    Emitter {
        name: "telemetry",
        files: Files::Whole(|m, mode, sink| {
            if let Some(t) = &m.telemetry {
                sink(telemetry::file(m, t, mode));
            }
        }),
    },
    Emitter {
        name: "gateway api",
        files: Files::Whole(|m, mode, sink| {
            for g in &m.gateways {
                sink(gateway::gateway_api_file(m, g, mode));
            }
        }),
    },
    Emitter {
        name: "ingress",
        files: Files::Whole(|m, mode, sink| ingress::files(m, mode).into_iter().for_each(sink)),
    },
    Emitter {
        name: "helm test probes",
        files: Files::Whole(|m, mode, sink| probes::files(m, mode).into_iter().for_each(sink)),
    },
    Emitter {
        name: "network policies",
        files: Files::Whole(|m, mode, sink| sink(netpol::release_file(m, mode))),
    },
    Emitter {
        name: "network policies of services",
        files: Files::PerService(netpol::service_file),
    },
    Emitter {
        name: "network policies of the mesh and gateways",
        files: Files::Whole(|m, mode, sink| {
            netpol::closing_files(m, mode).into_iter().for_each(sink)
        }),
    },
    Emitter {
        name: "monitors",
        files: Files::Whole(|m, mode, sink| {
            let f = monitors::file(m, mode);
            if !f.docs.is_empty() {
                sink(f);
            }
        }),
    },
];

/// Emit every object of the model.
pub fn emit(m: &Model, mode: Mode) -> Vec<File> {
    let mut files = vec![];
    each(m, mode, &mut |f| files.push(f));
    files
}

/// Emit the files one at a time: packagers turn each into text and drop
/// its objects, so a large policy's value trees never all exist at once.
pub fn each(m: &Model, mode: Mode, sink: &mut dyn FnMut(File)) {
    each_prepared(m, mode, 1, None, &|f| f, sink);
}

/// Services a worker takes at a time: large enough that handing out work
/// costs nothing, small enough that the threads finish together.
const CHUNK: usize = 32;

/// Like [`each`], with `prepare` applied to every file (turning it into
/// text, say) on up to `threads` threads; `sink` gets the prepared files
/// in [`each`]'s order, on the calling thread, except that the per-service
/// emitters take the services in `order` when one is given (the chart's
/// bucket order). The channel to the sink is bounded, so workers wait when
/// the sink falls behind; a chunk finished early waits for the ones before
/// it.
pub fn each_prepared<P: Send>(
    m: &Model,
    mode: Mode,
    threads: usize,
    order: Option<&[usize]>,
    prepare: &(dyn Fn(File) -> P + Sync),
    sink: &mut dyn FnMut(P),
) {
    // The per-service emitters' order: `order` (indexes into
    // `m.services`, each once) or the model's.
    let services: Vec<&Service> = match order {
        Some(o) => o.iter().map(|&i| &m.services[i]).collect(),
        None => m.services.iter().collect(),
    };
    debug_assert_eq!(services.len(), m.services.len());
    for e in EMITTERS {
        match e.files {
            Files::PerService(f) if threads > 1 && services.len() > CHUNK => {
                per_service_parallel(m, &services, mode, threads, f, prepare, sink)
            }
            Files::PerService(f) => {
                for s in &services {
                    if let Some(file) = f(m, s, mode) {
                        sink(prepare(file));
                    }
                }
            }
            Files::Whole(f) => f(m, mode, &mut |file| sink(prepare(file))),
        }
    }
}

/// One per-service emitter on `threads` workers pulling chunks of services
/// in order; the calling thread puts finished chunks back in order.
fn per_service_parallel<P: Send>(
    m: &Model,
    services: &[&Service],
    mode: Mode,
    threads: usize,
    f: fn(&Model, &Service, Mode) -> Option<File>,
    prepare: &(dyn Fn(File) -> P + Sync),
    sink: &mut dyn FnMut(P),
) {
    let chunks: Vec<&[&Service]> = services.chunks(CHUNK).collect();
    let next = AtomicUsize::new(0);
    // Bounded, so workers wait rather than run far ahead of the sink.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<P>)>(threads * 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, chunks) = (&next, &chunks);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(chunk) = chunks.get(i) else {
                    break;
                };
                let done = chunk
                    .iter()
                    .filter_map(|s| f(m, s, mode))
                    .map(prepare)
                    .collect();
                if tx.send((i, done)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Vec<P>> = BTreeMap::new();
        let mut want = 0;
        // Ends when every worker is done (or one panicked: `scope` then
        // re-raises the panic after the other workers stop).
        for (i, done) in rx.iter() {
            waiting.insert(i, done);
            while let Some(done) = waiting.remove(&want) {
                done.into_iter().for_each(&mut *sink);
                want += 1;
            }
        }
    });
}

/// Threads for emitting: the machine's, at most 8 (the sink, one thread,
/// keeps up with about that many).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(files: &[(String, String)]) -> Vec<&str> {
        files.iter().map(|(p, _)| p.as_str()).collect()
    }

    /// Files in order, each with its objects as YAML, however many threads.
    fn prepared(m: &Model, threads: usize) -> Vec<(String, String)> {
        let mut got = vec![];
        let prepare = |f: File| {
            let text: String = f
                .docs
                .iter()
                .map(|d| serde_json::to_string(&d.value).unwrap())
                .collect();
            (f.path, text)
        };
        each_prepared(m, Mode::Helm, threads, None, &prepare, &mut |p| got.push(p));
        got
    }

    #[test]
    fn threads_change_nothing_in_the_files_or_their_order() {
        let text = crate::synthetic::policy(&crate::synthetic::Shape {
            services: 150,
            ..Default::default()
        });
        let m = crate::compile_model(&text, None).unwrap();
        let one = prepared(&m, 1);
        let mut sequential = vec![];
        each(&m, Mode::Helm, &mut |f| sequential.push(f.path));
        assert_eq!(paths(&one), sequential);
        assert!(one.len() > 3 * 150, "{} files", one.len());
        for threads in [2, 3, 8] {
            assert_eq!(prepared(&m, threads), one, "{threads} threads");
        }
    }
}
