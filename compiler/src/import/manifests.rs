//! Reading the input and indexing what it deploys: workloads (with their
//! pod labels, ServiceAccount, containers), Services and ConfigMaps.

use super::Error;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `meshpack import` reads.
pub enum Input {
    /// A chart folder, rendered with `helm template` (values files, `--set`).
    Chart {
        dir: PathBuf,
        values: Vec<PathBuf>,
        set: Vec<String>,
        /// The helm binary (`helm`, found on PATH, by default).
        helm: PathBuf,
    },
    /// A folder of manifests (every `*.yaml`/`*.yml` but `kustomization.yaml`).
    Dir(PathBuf),
    /// One YAML stream (`kustomize build` output); `-` for standard input.
    File(PathBuf),
}

impl Input {
    /// A chart folder (it has Chart.yaml), a manifests folder, or a file.
    pub fn detect(path: &Path, values: Vec<PathBuf>, set: Vec<String>) -> Input {
        if path.join("Chart.yaml").is_file() {
            Input::Chart {
                dir: path.to_path_buf(),
                values,
                set,
                helm: PathBuf::from("helm"),
            }
        } else if path.is_dir() {
            Input::Dir(path.to_path_buf())
        } else {
            Input::File(path.to_path_buf())
        }
    }

    /// [`Input::detect`], refusing `-f`/`--set` for anything but a chart:
    /// only `helm template` reads them, and a draft silently made without
    /// the values the user named would not be the one they asked for.
    pub fn from_args(path: &Path, values: Vec<PathBuf>, set: Vec<String>) -> Result<Input, Error> {
        let options = !values.is_empty() || !set.is_empty();
        let input = Input::detect(path, values, set);
        if options && !matches!(input, Input::Chart { .. }) {
            return Err(Error::OptionsNeedChart {
                input: input.describe(),
            });
        }
        Ok(input)
    }

    pub fn describe(&self) -> String {
        match self {
            Input::Chart { dir, .. } => format!("chart {}", dir.display()),
            Input::Dir(d) => d.display().to_string(),
            Input::File(f) => f.display().to_string(),
        }
    }

    /// The chart's name from Chart.yaml.
    pub fn chart_name(&self) -> Option<String> {
        let Input::Chart { dir, .. } = self else {
            return None;
        };
        let text = std::fs::read_to_string(dir.join("Chart.yaml")).ok()?;
        let v: Value = serde_yaml::from_str(&text).ok()?;
        v["name"].as_str().map(str::to_string)
    }

    /// The chart's version from Chart.yaml.
    pub fn chart_version(&self) -> Option<String> {
        let Input::Chart { dir, .. } = self else {
            return None;
        };
        let text = std::fs::read_to_string(dir.join("Chart.yaml")).ok()?;
        let v: Value = serde_yaml::from_str(&text).ok()?;
        v["version"].as_str().map(str::to_string)
    }
}

/// One object and the file it came from.
#[derive(Debug, Clone)]
pub struct Doc {
    pub file: String,
    pub value: Value,
}

/// Parse a YAML stream; `# Source: <file>` comments (helm template) name
/// each document's file, else `file`.
pub fn parse_stream(text: &str, file: &str) -> Result<Vec<Doc>, Error> {
    let mut out = vec![];
    // Split on document markers ourselves to keep each one's Source comment.
    let mut chunks: Vec<String> = vec![String::new()];
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            chunks.push(String::new());
        } else {
            let c = chunks.last_mut().expect("one chunk");
            c.push_str(line);
            c.push('\n');
        }
    }
    for c in chunks {
        let source = c
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .map(str::to_string)
            .unwrap_or_else(|| file.to_string());
        let v: Value = match serde_yaml::from_str(&c) {
            Ok(v) => v,
            Err(source) => {
                return Err(Error::Yaml {
                    file: file.to_string(),
                    source,
                })
            }
        };
        match v {
            Value::Null => {}
            Value::Object(_) if v["kind"] == "List" => {
                for item in v["items"].as_array().into_iter().flatten() {
                    out.push(Doc {
                        file: source.clone(),
                        value: item.clone(),
                    });
                }
            }
            Value::Object(_) => out.push(Doc {
                file: source,
                value: v,
            }),
            _ => return Err(Error::NotAnObject { file: source }),
        }
    }
    Ok(out)
}

pub fn read_input(input: &Input) -> Result<Vec<Doc>, Error> {
    match input {
        Input::Chart {
            dir,
            values,
            set,
            helm,
        } => {
            let mut cmd = Command::new(helm);
            let release = input.chart_name().unwrap_or_else(|| "release".into());
            cmd.arg("template").arg(&release).arg(dir);
            for v in values {
                cmd.arg("-f").arg(v);
            }
            for s in set {
                cmd.arg("--set").arg(s);
            }
            let out = cmd.output().map_err(|source| Error::HelmMissing {
                dir: dir.clone(),
                source,
            })?;
            if !out.status.success() {
                return Err(Error::HelmFailed {
                    dir: dir.clone(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                });
            }
            parse_stream(
                &String::from_utf8_lossy(&out.stdout),
                &dir.display().to_string(),
            )
        }
        Input::Dir(d) => {
            let mut files = vec![];
            let mut stack = vec![d.clone()];
            while let Some(dir) = stack.pop() {
                let unreadable = |source| Error::Read {
                    path: dir.clone(),
                    source,
                };
                let rd = std::fs::read_dir(&dir).map_err(unreadable)?;
                for e in rd {
                    let p = e.map_err(unreadable)?.path();
                    if p.is_dir() {
                        stack.push(p);
                        continue;
                    }
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
                    let kustomization = name.starts_with("kustomization.");
                    if yaml && !kustomization {
                        files.push(p);
                    }
                }
            }
            files.sort();
            let mut out = vec![];
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|source| Error::Read {
                    path: f.clone(),
                    source,
                })?;
                let shown = f.strip_prefix(d).unwrap_or(&f).display().to_string();
                out.extend(parse_stream(&text, &shown)?);
            }
            Ok(out)
        }
        Input::File(f) => {
            let text = if f.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(Error::Stdin)?;
                s
            } else {
                std::fs::read_to_string(f).map_err(|source| Error::Read {
                    path: f.clone(),
                    source,
                })?
            };
            let shown = if f.as_os_str() == "-" {
                "(standard input)".to_string()
            } else {
                f.display().to_string()
            };
            parse_stream(&text, &shown)
        }
    }
}

/// A Service port as the workload's service gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct PortInfo {
    pub name: String,
    pub port: u16,
    pub target_port: u16,
    /// `appProtocol`, when the Service sets one.
    pub app_protocol: Option<String>,
}

#[derive(Debug, Clone)]
pub struct WorkloadInfo {
    pub kind: String,
    pub name: String,
    pub file: String,
    pub pod_labels: Vec<(String, String)>,
    pub service_account: String,
    /// The Service that selects the pods (the one named like the workload
    /// when several do), its name, selector and ports.
    pub service: Option<ServiceInfo>,
    /// Index of the pod template in `Inventory::docs`.
    pub doc: usize,
}

#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub name: String,
    pub selector: Vec<(String, String)>,
    pub ports: Vec<PortInfo>,
}

pub struct Inventory<'a> {
    pub docs: &'a [Doc],
    pub workloads: Vec<WorkloadInfo>,
    /// Every Service of the input: name -> index in `docs`.
    pub services: Vec<(String, usize)>,
}

const KINDS: [&str; 5] = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"];

/// The pod template of a workload object.
pub fn pod_template(v: &Value) -> &Value {
    if v["kind"] == "CronJob" {
        &v["spec"]["jobTemplate"]["spec"]["template"]
    } else {
        &v["spec"]["template"]
    }
}

fn string_map(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect();
    out.sort();
    out
}

impl<'a> Inventory<'a> {
    pub fn new(docs: &'a [Doc]) -> Self {
        let services: Vec<(String, usize)> = docs
            .iter()
            .enumerate()
            .filter(|(_, d)| d.value["kind"] == "Service" && d.value["apiVersion"] == "v1")
            .map(|(i, d)| {
                (
                    d.value["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    i,
                )
            })
            .collect();
        let mut workloads = vec![];
        for (i, d) in docs.iter().enumerate() {
            let kind = d.value["kind"].as_str().unwrap_or_default();
            if !KINDS.contains(&kind) {
                continue;
            }
            let name = d.value["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let pod = pod_template(&d.value);
            let pod_labels = string_map(&pod["metadata"]["labels"]);
            let service_account = pod["spec"]["serviceAccountName"]
                .as_str()
                .or(pod["spec"]["serviceAccount"].as_str())
                .unwrap_or("default")
                .to_string();
            let selecting: Vec<&(String, usize)> = services
                .iter()
                .filter(|(_, si)| {
                    let sel = string_map(&docs[*si].value["spec"]["selector"]);
                    !sel.is_empty() && sel.iter().all(|kv| pod_labels.contains(kv))
                })
                .collect();
            // The Service named like the workload, else a ClusterIP one,
            // else the first (by name).
            let chosen = selecting
                .iter()
                .find(|(n, _)| *n == name)
                .or_else(|| {
                    selecting.iter().find(|(_, si)| {
                        docs[*si].value["spec"]["type"]
                            .as_str()
                            .unwrap_or("ClusterIP")
                            == "ClusterIP"
                    })
                })
                .or(selecting.first());
            let service = chosen.map(|(n, si)| {
                let sv = &docs[*si].value;
                ServiceInfo {
                    name: n.clone(),
                    selector: string_map(&sv["spec"]["selector"]),
                    ports: sv["spec"]["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| service_port(p, pod))
                        .collect(),
                }
            });
            workloads.push(WorkloadInfo {
                kind: kind.to_string(),
                name,
                file: d.file.clone(),
                pod_labels,
                service_account,
                service,
                doc: i,
            });
        }
        workloads.sort_by(|a, b| a.name.cmp(&b.name).then(a.kind.cmp(&b.kind)));
        Inventory {
            docs,
            workloads,
            services,
        }
    }

    /// The workload a Service name belongs to.
    pub fn workload_of_service(&self, svc: &str) -> Option<&WorkloadInfo> {
        self.workloads
            .iter()
            .find(|w| w.service.as_ref().is_some_and(|s| s.name == svc))
    }

    pub fn has_service(&self, svc: &str) -> bool {
        self.services.iter().any(|(n, _)| n == svc)
    }
}

/// A Service port, with a named `targetPort` resolved through the pod's
/// container ports.
fn service_port(p: &Value, pod: &Value) -> Option<PortInfo> {
    let port = u16::try_from(p["port"].as_u64()?).ok()?;
    let target_port = match &p["targetPort"] {
        Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
        Value::String(name) => pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .find(|cp| cp["name"] == name.as_str())
            .and_then(|cp| cp["containerPort"].as_u64())
            .and_then(|n| u16::try_from(n).ok())?,
        _ => port,
    };
    let name = p["name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("tcp-{port}"));
    Some(PortInfo {
        name,
        port,
        target_port,
        app_protocol: p["appProtocol"].as_str().map(str::to_string),
    })
}
