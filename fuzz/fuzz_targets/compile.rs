//! Any bytes through the loader, the resolver and, when they compile, the
//! emitters and packagers. Every outcome but a panic is fine; diagnostics
//! must render.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match meshpack::compile_model(text, None) {
        Ok(model) => {
            let out = meshpack::package(&model);
            assert!(!out.chart.is_empty());
        }
        Err(diags) => {
            for d in diags {
                let _ = d.render("fuzz.yaml", text);
            }
        }
    }
});
