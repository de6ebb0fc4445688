//! Any strings through the YAML writer, values.yaml and Chart.yaml: the
//! text must read back as exactly those strings under YAML 1.2 and under
//! YAML 1.1 as Helm reads it, and add no key (oracles in
//! `meshpack::package::fuzzing`, which `cargo test` also runs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    meshpack::package::fuzzing::writer(data);
    meshpack::package::fuzzing::chart_files(data);
});
