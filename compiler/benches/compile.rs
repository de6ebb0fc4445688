//! Compile time in process for synthetic policies of growing size (every
//! service in one namespace): the model, then the chart written to disk the
//! way `meshpack compile POLICY -o DIR` writes it (streamed to a writer
//! thread), into a FRESH folder and separately as a recompile into the
//! folder written before (unchanged files are hard-linked). Each fresh
//! compile is paired with a `cp -r` of its own output, run alternately, and
//! the ratio is printed as min/median/max over the pairs.
//!
//!     cargo bench --bench compile                       # N = 100, 1000, 10000
//!     MESHPACK_BENCH_N=500,5000 MESHPACK_BENCH_RUNS=3 cargo bench --bench compile
//!
//! Output goes under a temporary `cperf-*` folder, removed at the end.
//! bench/compile.sh measures the whole binary (with peak RSS) and the peers.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use meshpack::package::outputs::{write, Targets};
use meshpack::synthetic::{policy, Shape};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// min/median/max.
fn spread(mut xs: Vec<f64>, unit: &str, digits: usize) -> String {
    xs.sort_by(f64::total_cmp);
    let mid = xs[xs.len() / 2];
    format!(
        "{:.digits$}/{mid:.digits$}/{:.digits$}{unit}",
        xs[0],
        xs[xs.len() - 1]
    )
}

fn main() {
    let ns: Vec<usize> = std::env::var("MESHPACK_BENCH_N")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("MESHPACK_BENCH_N: numbers"))
        .collect();
    let runs: usize = std::env::var("MESHPACK_BENCH_RUNS")
        .map(|s| s.parse().expect("MESHPACK_BENCH_RUNS: a number"))
        .unwrap_or(5);
    let work = tempfile::Builder::new()
        .prefix("cperf-")
        .tempdir()
        .expect("a temporary folder");
    println!("{runs} alternating pairs per row; min/median/max");
    println!();
    println!("| services | edges | model | fresh: model + chart on disk | recompile | cp -r | fresh / cp -r |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in ns {
        let text = policy(&Shape {
            services: n,
            ..Shape::default()
        });
        let (mut model, mut fresh, mut recompile, mut copy, mut ratio) =
            (vec![], vec![], vec![], vec![], vec![]);
        let kept = work.path().join("kept");
        let mut edges = 0;
        for i in 0..runs {
            let out = work.path().join(format!("fresh-{i}"));
            let mut m = None;
            let t_model = timed(|| m = Some(meshpack::compile_model(&text, None).unwrap()));
            let m = m.expect("synthetic policies compile");
            edges = m.edges.len();
            let t = Targets {
                chart: &out,
                kustomize: None,
                marker: "bench\n",
                force: false,
                max_file: 5 << 20,
            };
            let t_fresh = t_model + timed(|| drop(write(&m, &t).expect("written")));
            let copied = work.path().join(format!("copy-{i}"));
            let t_cp = timed(|| {
                let ok = Command::new("cp")
                    .arg("-r")
                    .arg(&out)
                    .arg(&copied)
                    .status()
                    .expect("cp runs")
                    .success();
                assert!(ok, "cp -r failed");
            });
            remove(&copied);
            if i == 0 {
                std::fs::rename(&out, &kept).unwrap();
            } else {
                remove(&out);
            }
            let again = Targets { chart: &kept, ..t };
            let t_re = t_model + timed(|| drop(write(&m, &again).expect("written")));
            model.push(ms(t_model));
            fresh.push(ms(t_fresh));
            recompile.push(ms(t_re));
            copy.push(ms(t_cp));
            ratio.push(t_fresh.as_secs_f64() / t_cp.as_secs_f64());
        }
        remove(&kept);
        println!(
            "| {n} | {edges} | {} | {} | {} | {} | {} |",
            spread(model, " ms", 0),
            spread(fresh, " ms", 0),
            spread(recompile, " ms", 0),
            spread(copy, " ms", 0),
            spread(ratio, "x", 2),
        );
    }
}

fn remove(p: &Path) {
    let _ = std::fs::remove_dir_all(p);
}
