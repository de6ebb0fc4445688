//! `compile`: policies into charts and Kustomize trees, or (`check`) a
//! comparison of what is on disk with what they compile to.
//!
//! Invariant: the rules of the command live here, not in the CLI: the
//! repository mode (no policy named: every `policies/*.yaml` into
//! `charts/<name>` and `kustomize/<name>`, plus the committed policy
//! schema), Helm's limit on one chart file, and which outputs a request
//! asks for. Nothing is printed; progress is reported through [`Event`]s in
//! the order it happens.

use super::{policy, Error};
use crate::{package, package_only, Failure};
use std::path::{Path, PathBuf};

/// Helm's limit on one file of a chart (`chart file ... is larger than the
/// maximum file size`): Helm refuses to load a chart with any file over
/// 5 MiB (`MaxDecompressedFileSize`,
/// <https://github.com/helm/helm/blob/main/pkg/chart/loader/archive.go>).
pub const HELM_MAX_FILE: usize = 5 << 20;

/// Where the committed JSON Schema of the policy language lives.
pub const SCHEMA_PATH: &str = "policies/meshpolicy.schema.json";

/// What to compile, as the command line asks.
#[derive(Debug, Default)]
pub struct Request {
    /// Policy files; none means repository mode (`policies/*.yaml`).
    pub policies: Vec<PathBuf>,
    /// Where the chart goes (one policy only).
    pub output: Option<PathBuf>,
    pub kustomize: Option<PathBuf>,
    pub profile: Option<String>,
    /// Compare with the disk instead of writing.
    pub check: bool,
    /// Replace directories meshpack did not create.
    pub force: bool,
}

/// A chart file over Helm's limit: nothing of that chart was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{policy}: the chart's {path} would be {bytes} bytes; Helm loads no chart file over {HELM_MAX_FILE}\nhelp: split the application into several policies")]
pub struct TooLarge {
    pub policy: String,
    pub path: String,
    pub bytes: usize,
}

/// Progress, in the order it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// An output directory was written (files in it) from a policy.
    Wrote {
        dir: &'a Path,
        files: usize,
        policy: &'a str,
    },
    /// A policy (or its image lock) does not compile; the others go on.
    Invalid {
        policy: &'a str,
        failure: &'a Failure,
    },
    /// A chart would hold a file Helm does not load; the others go on.
    TooLarge(&'a TooLarge),
    /// A policy compiles with warnings (a deprecated apiVersion), rendered
    /// against its text.
    Warnings { policy: &'a str, text: &'a str },
}

/// How a run ended when it could run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Policies compiled (or checked).
    pub policies: usize,
    /// Some policy did not compile or was too large (exit 1).
    pub failed: bool,
    /// With `check`: the generated files that differ from the disk.
    pub stale: Vec<String>,
}

/// The policy language's schema as committed (`meshpack schema` prints it).
pub fn schema_text() -> String {
    serde_json::to_string_pretty(&crate::policy::schema()).expect("schema") + "\n"
}

fn policy_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    v.sort();
    Ok(v)
}

/// A compile keeps the memory it frees for its own later allocations
/// (`heap::keep_freed_memory`): the policy's parse trees are freed just
/// before the emitters allocate as much. With no purge, a 10,000-service
/// compile took a quarter fewer page faults (68k -> 51k, median of 10
/// alternating runs), for a peak RSS of 208 MiB instead of 184.
fn keep_freed_memory() {
    crate::heap::keep_freed_memory();
}

/// Compile (or check) every policy of the request.
pub fn run(req: &Request, report: &mut dyn FnMut(Event)) -> Result<Outcome, Error> {
    keep_freed_memory();
    let repo_mode = req.policies.is_empty();
    let policies =
        if repo_mode {
            match policy_files(Path::new("policies")) {
                Ok(p) if !p.is_empty() => p,
                Ok(_) => return Err(Error::Usage(
                    "no policies/*.yaml here; name a policy file: meshpack compile POLICY -o DIR"
                        .into(),
                )),
                Err(source) => {
                    return Err(Error::Read {
                        path: "policies/".into(),
                        source,
                    })
                }
            }
        } else {
            req.policies.clone()
        };
    if req.output.is_some() && policies.len() > 1 {
        return Err(Error::Usage(
            "-o names one chart directory; give one policy, or none to compile policies/ into charts/".into(),
        ));
    }
    let mut out = Outcome {
        policies: policies.len(),
        ..Outcome::default()
    };
    for path in &policies {
        // Policies found in policies/ are not read through links.
        let text = policy::read(path, repo_mode)?;
        let shown = path.display().to_string();
        let model = match policy::compile_text(path, &text, req.profile.as_deref()) {
            Ok(c) => {
                let text = policy::render_warnings(&c, &shown, &text);
                if !text.is_empty() {
                    report(Event::Warnings {
                        policy: &shown,
                        text: &text,
                    });
                }
                c.model
            }
            Err(Error::Invalid(f)) => {
                report(Event::Invalid {
                    policy: &shown,
                    failure: &f,
                });
                out.failed = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        let chart = req
            .output
            .clone()
            .unwrap_or_else(|| Path::new("charts").join(&model.name));
        let kustomize = req.kustomize.clone().or_else(|| {
            req.output
                .is_none()
                .then(|| Path::new("kustomize").join(&model.name))
        });
        let too_large = |path: String, bytes: usize| TooLarge {
            policy: shown.clone(),
            path,
            bytes,
        };
        if !req.check {
            let marker = format!(
                "Generated by meshpack from {}; do not edit: change the policy and run `meshpack compile`.\n",
                path.display()
            );
            // Only the outputs asked for, the chart streamed to disk.
            let targets = package::outputs::Targets {
                chart: &chart,
                kustomize: kustomize.as_deref(),
                marker: &marker,
                force: req.force,
                max_file: HELM_MAX_FILE,
            };
            match package::outputs::write(&model, &targets) {
                Ok(written) => {
                    for (dir, files) in written {
                        report(Event::Wrote {
                            dir: &dir,
                            files,
                            policy: &shown,
                        });
                    }
                }
                Err(package::outputs::Failure::TooLarge { path, bytes }) => {
                    report(Event::TooLarge(&too_large(path, bytes)));
                    out.failed = true;
                }
                Err(package::outputs::Failure::Io { dir, error }) => {
                    return Err(Error::Io {
                        path: dir,
                        source: error,
                    })
                }
            }
            continue;
        }
        let built = package_only(&model, kustomize.is_some());
        if let Some((p, b)) = built.chart.iter().find(|(_, b)| b.len() > HELM_MAX_FILE) {
            report(Event::TooLarge(&too_large(p.clone(), b.len())));
            out.failed = true;
            continue;
        }
        let mut targets = vec![(chart, built.chart)];
        if let Some(k) = kustomize {
            targets.push((k, built.kustomize));
        }
        for (dir, tree) in targets {
            if tree.is_empty() {
                continue;
            }
            let problems = package::check_dir(&dir, &tree).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            out.stale.extend(problems);
        }
    }
    if repo_mode && !out.failed {
        let want = schema_text();
        if req.check {
            if std::fs::read_to_string(SCHEMA_PATH).ok().as_deref() != Some(want.as_str()) {
                out.stale.push(format!("changed: {SCHEMA_PATH}"));
            }
        } else if let Err(source) = std::fs::write(SCHEMA_PATH, want) {
            return Err(Error::Io {
                path: SCHEMA_PATH.into(),
                source,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_says_which_file_and_what_to_do() {
        let t = TooLarge {
            policy: "p.yaml".into(),
            path: "templates/x.yaml".into(),
            bytes: 6 << 20,
        };
        assert_eq!(
            t.to_string(),
            format!("p.yaml: the chart's templates/x.yaml would be 6291456 bytes; Helm loads no chart file over 5242880\nhelp: split the application into several policies")
        );
    }

    #[test]
    fn one_output_directory_takes_one_policy() {
        let req = Request {
            policies: vec!["a.yaml".into(), "b.yaml".into()],
            output: Some("out".into()),
            ..Request::default()
        };
        let e = run(&req, &mut |_| panic!("nothing is compiled")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "-o names one chart directory; give one policy, or none to compile policies/ into charts/"
        );
    }

    #[test]
    fn check_reports_a_stale_chart_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let policy =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/evalhub.yaml");
        let chart = dir.path().join("chart");
        let req = Request {
            policies: vec![policy.clone()],
            output: Some(chart.clone()),
            check: true,
            ..Request::default()
        };
        let mut events = vec![];
        let out = run(&req, &mut |e| events.push(format!("{e:?}"))).unwrap();
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(out.policies, 1);
        assert!(!out.failed);
        // Nothing is on disk: every file of the chart is missing, and no
        // Kustomize tree was asked for (`-o` without `--kustomize`).
        assert_eq!(
            out.stale.first(),
            Some(&format!("missing: {}", chart.join(".helmignore").display()))
        );
        assert!(
            out.stale
                .iter()
                .all(|p| p.starts_with(&format!("missing: {}/", chart.display()))),
            "{:?}",
            out.stale
        );
        assert!(out
            .stale
            .contains(&format!("missing: {}", chart.join("Chart.yaml").display())));
        assert!(!chart.exists(), "check writes nothing");
    }
}
