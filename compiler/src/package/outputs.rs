//! `compile`'s write path: build only the outputs asked for and stream the
//! chart to disk while it is produced.
//!
//! Invariant: the chart's files go to a [`Writer`] one by one as they are
//! finished (never all held at once); the Kustomize tree is built only
//! when a directory for it was named, on a thread beside the chart. A chart
//! file over the size limit abandons the chart before anything is swapped
//! into place, so a failed compile leaves every output as it was.

use super::{helm, kustomize, write_dir, Writer};
use crate::model::Model;
use std::io;
use std::path::{Path, PathBuf};

/// Why nothing (or not everything) was written.
#[derive(Debug)]
pub enum Failure {
    /// A chart file bigger than Helm loads: nothing was written.
    TooLarge { path: String, bytes: usize },
    /// An output directory could not be written.
    Io { dir: PathBuf, error: io::Error },
}

/// Where to write, and what to put in each output's marker file.
pub struct Targets<'a> {
    pub chart: &'a Path,
    pub kustomize: Option<&'a Path>,
    pub marker: &'a str,
    pub force: bool,
    /// The largest chart file Helm loads, in bytes.
    pub max_file: usize,
}

/// Write the chart (and the Kustomize tree when asked for); returns each
/// directory written with its number of files (the marker not counted).
pub fn write(m: &Model, t: &Targets) -> Result<Vec<(PathBuf, usize)>, Failure> {
    let io_err = |dir: &Path| {
        let dir = dir.to_path_buf();
        move |error| Failure::Io { dir, error }
    };
    std::thread::scope(|s| {
        let kust = t.kustomize.map(|_| s.spawn(|| kustomize::tree(m)));
        let mut w = Writer::start(t.chart, t.marker, t.force).map_err(io_err(t.chart))?;
        let mut files = 0;
        let mut failed: Option<Failure> = None;
        helm::chart_to(m, &mut |path, bytes| {
            if failed.is_some() {
                return;
            }
            if bytes.len() > t.max_file {
                failed = Some(Failure::TooLarge {
                    path,
                    bytes: bytes.len(),
                });
            } else if let Err(error) = w.put(path, bytes) {
                failed = Some(Failure::Io {
                    dir: t.chart.to_path_buf(),
                    error,
                });
            } else {
                files += 1;
            }
        });
        if let Some(f) = failed {
            // Dropping the writer removes its temporary directory.
            drop(w);
            return Err(f);
        }
        let kust = kust.map(|h| h.join().expect("the Kustomize tree builds"));
        w.finish().map_err(io_err(t.chart))?;
        let mut written = vec![(t.chart.to_path_buf(), files)];
        if let (Some(dir), Some(tree)) = (t.kustomize, kust) {
            if !tree.is_empty() {
                write_dir(dir, &tree, t.marker, t.force).map_err(io_err(dir))?;
                written.push((dir.to_path_buf(), tree.len()));
            }
        }
        Ok(written)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn model() -> Model {
        let text = crate::synthetic::policy(&crate::synthetic::Shape {
            services: 12,
            ..Default::default()
        });
        crate::compile_model(&text, None).expect("synthetic policies compile")
    }

    /// Every file on disk under `dir` with its bytes, marker excluded.
    fn on_disk(dir: &Path) -> super::super::Tree {
        super::super::list(dir)
            .unwrap()
            .into_iter()
            .filter(|p| p != super::super::MARKER)
            .map(|p| {
                let b = fs::read(dir.join(&p)).unwrap();
                (p, b)
            })
            .collect()
    }

    #[test]
    fn streams_the_same_bytes_as_the_in_memory_package_and_only_what_was_asked() {
        let m = model();
        let d = tempfile::tempdir().unwrap();
        let chart = d.path().join("chart");
        let t = Targets {
            chart: &chart,
            kustomize: None,
            marker: "m\n",
            force: false,
            max_file: 5 << 20,
        };
        let written = write(&m, &t).unwrap();
        let want = crate::package(&m);
        assert_eq!(written, vec![(chart.clone(), want.chart.len())]);
        assert_eq!(on_disk(&chart), want.chart);
        assert_eq!(fs::read_to_string(chart.join(".meshpack")).unwrap(), "m\n");
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no Kustomize tree"
        );

        let kust = d.path().join("kust");
        let t = Targets {
            kustomize: Some(&kust),
            ..t
        };
        let written = write(&m, &t).unwrap();
        assert_eq!(
            written,
            vec![
                (chart.clone(), want.chart.len()),
                (kust.clone(), want.kustomize.len())
            ]
        );
        assert_eq!(on_disk(&chart), want.chart);
        assert_eq!(on_disk(&kust), want.kustomize);
    }

    #[test]
    fn a_file_over_the_limit_leaves_every_output_as_it_was() {
        let m = model();
        let d = tempfile::tempdir().unwrap();
        let chart = d.path().join("chart");
        let kust = d.path().join("kust");
        let t = Targets {
            chart: &chart,
            kustomize: Some(&kust),
            marker: "first\n",
            force: false,
            max_file: 5 << 20,
        };
        write(&m, &t).unwrap();
        let (before_chart, before_kust) = (on_disk(&chart), on_disk(&kust));
        let biggest = before_chart.values().map(Vec::len).max().unwrap();
        let t = Targets {
            marker: "second\n",
            max_file: biggest - 1,
            ..t
        };
        match write(&m, &t) {
            Err(Failure::TooLarge { path, bytes }) => {
                assert_eq!(bytes, biggest);
                assert_eq!(before_chart[&path].len(), biggest);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(on_disk(&chart), before_chart);
        assert_eq!(on_disk(&kust), before_kust);
        assert_eq!(
            fs::read_to_string(chart.join(".meshpack")).unwrap(),
            "first\n"
        );
        let mut names: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["chart", "kust"], "no temporary directory left");
    }
}
