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

use super::{external, gateway, ingress, mesh, monitors, netpol, probes, telemetry, workload};
use super::{File, Mode};
use crate::model::Model;

/// One emitter: its name (for readers and tests) and the function handing
/// each of its files to a sink.
pub struct Emitter {
    pub name: &'static str,
    pub files: fn(&Model, Mode, &mut dyn FnMut(File)),
}

/// Every emitter, in the order its files are emitted.
pub const EMITTERS: &[Emitter] = &[
    Emitter {
        name: "workloads",
        files: |m, mode, sink| {
            // Attached services are deployed by someone else: no workload file.
            for s in m.services.iter().filter(|s| s.attach.is_none()) {
                sink(workload::service_file(m, s, mode));
            }
        },
    },
    Emitter {
        name: "istio release",
        files: |m, mode, sink| sink(mesh::release_file(m, mode)),
    },
    Emitter {
        name: "istio services",
        files: |m, mode, sink| {
            for s in &m.services {
                sink(mesh::service_file(m, s, mode));
            }
        },
    },
    Emitter {
        name: "istio gateways",
        files: |m, mode, sink| {
            for g in &m.gateways {
                sink(gateway::istio_file(m, g, mode));
            }
        },
    },
    Emitter {
        name: "external services",
        files: |m, mode, sink| external::files(m, mode).into_iter().for_each(sink),
    },
    Emitter {
        name: "telemetry",
        files: |m, mode, sink| {
            if let Some(t) = &m.telemetry {
                sink(telemetry::file(m, t, mode));
            }
        },
    },
    Emitter {
        name: "gateway api",
        files: |m, mode, sink| {
            for g in &m.gateways {
                sink(gateway::gateway_api_file(m, g, mode));
            }
        },
    },
    Emitter {
        name: "ingress",
        files: |m, mode, sink| ingress::files(m, mode).into_iter().for_each(sink),
    },
    Emitter {
        name: "helm test probes",
        files: |m, mode, sink| probes::files(m, mode).into_iter().for_each(sink),
    },
    Emitter {
        name: "network policies",
        files: netpol::files,
    },
    Emitter {
        name: "monitors",
        files: |m, mode, sink| {
            let f = monitors::file(m, mode);
            if !f.docs.is_empty() {
                sink(f);
            }
        },
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
    for e in EMITTERS {
        (e.files)(m, mode, sink);
    }
}
