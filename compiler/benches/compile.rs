//! Compile time in process (policy text -> chart and Kustomize tree in
//! memory), for synthetic policies of growing size, and the time per rule
//! to show the curve stays flat (linear growth).
//!
//!     cargo bench --bench compile                      # N = 10 .. 10000
//!     MESHPACK_BENCH_N=500,5000 cargo bench --bench compile
//!
//! bench/scale.sh measures the whole binary with peak RSS and the peers.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use meshpack::synthetic::{policy, Shape};
use std::time::{Duration, Instant};

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn main() {
    let ns: Vec<usize> = std::env::var("MESHPACK_BENCH_N")
        .unwrap_or_else(|_| "10,100,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("MESHPACK_BENCH_N: numbers"))
        .collect();
    println!("| services | rules (edges) | model | chart + kustomize | total | µs per edge |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in ns {
        let text = policy(&Shape {
            services: n,
            ..Shape::default()
        });
        let model = meshpack::compile_model(&text, None).expect("synthetic policies compile");
        let edges = model.edges.len();
        let runs = if n >= 5000 { 1 } else { 3 };
        let t_model = best_of(runs, || {
            meshpack::compile_model(&text, None).unwrap();
        });
        let t_pack = best_of(runs, || {
            let out = meshpack::package(&model);
            assert!(!out.chart.is_empty());
        });
        let total = t_model + t_pack;
        println!(
            "| {n} | {edges} | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} |",
            t_model.as_secs_f64() * 1e3,
            t_pack.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e6 / edges.max(1) as f64
        );
    }
}
