//! Hostile input: nothing in a policy becomes template code, no output
//! escapes its directory, and a failed compile changes nothing on disk.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

const NASTY: &[&str] = &[
    "{{ .Release.Name }}",
    "{{- include \"prop.fullname\" . }}",
    "}} {{",
    "`backticks` and $dollars",
    "line one\nline two",
    "key: value",
    "\"quoted\" 'single' \\backslash",
    "{{/* comment */}}",
    "# not a comment",
    "- not a list",
    "{{ fail \"boom\" }}",
];

fn policy(env: &[(String, &str)], path: &str) -> String {
    let env_yaml: String = env
        .iter()
        .map(|(k, v)| {
            format!(
                "        {}: {}\n",
                serde_json::to_string(k).unwrap(),
                serde_json::to_string(v).unwrap()
            )
        })
        .collect();
    format!(
        "apiVersion: meshpack.dev/v1alpha1\nkind: MeshPolicy\nmetadata:\n  name: prop\nspec:\n  version: 1.0.0\n  chart:\n    description: \"{{{{ fail \\\"chart\\\" }}}}\"\n  services:\n    web:\n      image: example.com/web:1.0\n      ports: {{http: 8080}}\n      env:\n{env_yaml}    db:\n      image: example.com/db:1.0\n      ports: {{http: 8081}}\n  allow:\n    - {{from: db, to: web, paths: [{}]}}\n",
        serde_json::to_string(path).unwrap()
    )
}

/// Every user string that reaches a template renders literally, read back
/// from real Helm output.
#[test]
fn user_strings_render_literally() {
    let env: Vec<(String, &str)> = NASTY
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("VAR_{i}"), *v))
        .collect();
    let mut env = env;
    env.push(("KEY: WITH {{ braces }}".to_string(), "x"));
    let path = "/{{ .Values }}/`x`/*";
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("p.yaml");
    std::fs::write(&file, policy(&env, path)).unwrap();
    let chart = tmp.path().join("prop");
    let (code, out) = meshpack(&[
        "compile",
        file.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    for h in HELMS {
        let args = istio_args(&[]);
        let objs = by_id(&parse(&template(h, &chart, "prop", &args)));
        let c = &objs["Deployment/prop-web"]["spec"]["template"]["spec"]["containers"][0];
        for (k, v) in &env {
            let got = c["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == *k)
                .unwrap_or_else(|| panic!("{h}: no env {k}"));
            assert_eq!(got["value"], Value::String(v.to_string()), "{h}: {k}");
        }
        let rule = &objs["AuthorizationPolicy/prop-web"]["spec"]["rules"][0]["to"][0]["operation"];
        assert_eq!(rule["paths"][0], path, "{h}");
    }
    let chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml")).unwrap();
    assert!(
        chart_yaml.contains("description: \"{{ fail \\\"chart\\\" }}\""),
        "{chart_yaml}"
    );
    // helm lint reads Chart.yaml as data: the description stays text.
    run(Command::new(helm("helm4")).arg("lint").arg(&chart));
}

/// A failed compile leaves the existing output byte for byte as it was.
#[test]
fn failed_compile_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("evalhub");
    let good = root().join("policies/evalhub.yaml");
    let (code, msg) = meshpack(&[
        "compile",
        good.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{msg}");
    let before = read_tree(&out);
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&good)
            .unwrap()
            .replace("to: postgres}", "to: postgress}"),
    )
    .unwrap();
    let (code, msg) = meshpack(&[
        "compile",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("did you mean `postgres`?"), "{msg}");
    assert_eq!(read_tree(&out), before);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no temporary directories left: {leftovers:?}"
    );
}

/// Directories meshpack did not make are not replaced without --force.
#[test]
fn foreign_directories_need_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let good = root().join("policies/evalhub.yaml");
    let (code, msg) = meshpack(&[
        "compile",
        good.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{msg}");
    assert!(msg.contains("--force"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "keep me"
    );
    let (code, msg) = meshpack(&[
        "compile",
        good.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code, 0, "{msg}");
    assert!(!out.join("notes.txt").exists() && out.join("Chart.yaml").exists());
}

/// Names that look like paths are refused before anything is written.
#[test]
fn path_names_never_leave_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let evil = root().join("tests/policies/bad/service-name-path-traversal.yaml");
    let out = tmp.path().join("o");
    let (code, msg) = meshpack(&[
        "compile",
        evil.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{msg}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
