//! `meshpack validate`: the manifest corpus in tests/manifests, agreement
//! with the upstream schemas, and the project's own renderings.

mod common;

use common::*;
use meshpack::validate::{self, input, Options};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn istio_crds() -> PathBuf {
    shared_schemas().join("istio/crd-all.gen.yaml")
}

/// Every check, the opt-in ones too.
fn options() -> Options {
    let mut o = Options::default();
    o.schemas.crd_files = vec![istio_crds()];
    o.enable = meshpack::validate::checks::OPT_IN
        .iter()
        .map(|c| c.to_string())
        .collect();
    o
}

fn corpus(dir: &str) -> Vec<(PathBuf, String)> {
    let d = root().join("tests/manifests").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect()
}

/// (code, object) of every finding; `-` when about no object.
fn findings(name: &str, text: &str) -> Vec<String> {
    let r = validate::validate(&[(name.to_string(), text.to_string())], &options()).unwrap();
    let mut v: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{} {}", f.code, f.object.as_deref().unwrap_or("-")))
        .collect();
    v.sort();
    v
}

#[test]
fn invalid_corpus_reports_exactly_the_expected_findings() {
    let files = corpus("invalid");
    assert!(
        files.len() >= 40,
        "the corpus needs at least 40 invalid cases"
    );
    let mut failures = vec![];
    for (path, text) in &files {
        let mut want: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::to_string)
            .collect();
        want.sort();
        assert!(
            !want.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let got = findings(&path.display().to_string(), text);
        if got != want {
            failures.push(format!(
                "{}:\n  want {want:?}\n  got  {got:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_corpus_has_no_findings() {
    for (path, text) in corpus("valid") {
        assert_eq!(
            findings(&path.display().to_string(), &text),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
    }
}

/// meshpack's JSON Schema verdict (V004) for every corpus object equals the
/// verdict of the upstream schemas in ../shared/schemas applied directly.
#[test]
fn schema_verdicts_agree_with_upstream_schemas() {
    let mut compared = 0;
    let fixtures: Vec<(PathBuf, String)> = check_folders()
        .into_iter()
        .flat_map(|(_, dir)| std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect();
    for files in [corpus("valid"), corpus("invalid"), fixtures] {
        for (path, text) in files {
            let (mut objs, mut errs) = (vec![], vec![]);
            input::parse(&path.display().to_string(), &text, &mut objs, &mut errs);
            for o in objs {
                if o.kind().is_empty()
                    || NO_UPSTREAM_SCHEMA
                        .contains(&format!("{}/{}", o.api_version(), o.kind()).as_str())
                {
                    continue;
                }
                if !schema_path(&o.value).is_file() {
                    continue; // no upstream schema: meshpack must say V003, covered above
                }
                let upstream_valid = schema_errors(std::slice::from_ref(&o.value)).is_empty();
                let text = serde_json::to_string(&o.value).unwrap();
                let mut opts = options();
                opts.mesh_checks = false;
                let r = validate::validate(&[("x".into(), text)], &opts).unwrap();
                let ours_valid = !r.findings.iter().any(|f| f.code == "V004");
                assert_eq!(
                    ours_valid,
                    upstream_valid,
                    "{} {}: meshpack {:?}",
                    path.display(),
                    o.id(),
                    r.findings
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 60, "only {compared} objects compared");
}

fn meshpack_validate(input: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec!["validate"];
    all.extend(args);
    all.push("-");
    meshpack_stdin(&all, input)
}

/// Findings the examples have, warnings all (exit code 0):
/// - M006: the customer provides the Secret of a MUTUAL gateway (it holds
///   the customer's client CA).
/// - M033, M034, M026: what `istioctl analyze` (IST0129, IST0134, IST0140)
///   reports on orderflow's chart too. True findings of the compiler's
///   output, left for the compiler's owners: TLS origination to the
///   payments host names no CA (proxies fall back to the system CAs since
///   Istio 1.20), the ledger-db ServiceEntry's TCP port has no address, and
///   the public gateway's route to api skips api's canary split.
const EXPECTED_FINDINGS: [&str; 4] = [
    "warning[M006] credentialName orderflow-admin-mtls: no Certificate or Secret in the set provides it",
    "warning[M033] tls.mode SIMPLE for host api.payments.example.net port 80 sets no caCertificates to verify the server's identity; set caCertificates (or a credentialName holding ca.crt)",
    "warning[M034] port 5432 is TCP and the ServiceEntry has no addresses: its listener takes every connection to port 5432; add addresses or enable DNS auto-allocation",
    "warning[M026] routes to api without a subset, so the subsets VirtualService evalhub/orderflow-api splits api by do not apply to requests through the gateway; route to the subsets here too",
];

/// A Kustomize base folder validates as its objects: its kustomization.yaml
/// is passed over with a note, not reported as an object without a schema.
#[test]
fn a_kustomize_folder_validates_without_its_kustomization() {
    let base = root().join("kustomize/evalhub/base");
    let (code, out) = meshpack(&["validate", base.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let note = format!(
        "note: passed over 1 Kustomize file(s) such as {}: they say how to build objects, they are not objects; to check what they build, run `kubectl kustomize {} | meshpack <command> -`",
        base.join("kustomization.yaml").display(),
        base.display()
    );
    assert!(out.lines().any(|l| l == note), "{out}");
    assert!(!out.contains("V003"), "{out}");
}

#[test]
fn generated_charts_and_overlays_validate_clean() {
    for e in std::fs::read_dir(root().join("charts")).unwrap() {
        let chart = e.unwrap().path();
        if attach_output(chart.file_name().unwrap().to_str().unwrap()) {
            continue;
        }
        for h in HELMS {
            let istio = istio_args(&[]);
            let mut gateway_api = istio.clone();
            gateway_api.extend([
                "--set",
                "gatewayApi.enabled=true",
                "--set",
                "faultInjection.enabled=true",
            ]);
            for args in [vec![], istio, gateway_api] {
                let rendered = template(h, &chart, "evalhub", &args);
                for crd in [vec![], vec!["--crd", istio_crds().to_str().unwrap()]] {
                    let (code, out) = meshpack_validate(&rendered, &crd);
                    assert_eq!(code, 0, "{} {h} {args:?} {crd:?}:\n{out}", chart.display());
                    let unexpected: Vec<&str> = out
                        .lines()
                        .filter(|l| !l.starts_with("Summary: "))
                        .filter(|l| !EXPECTED_FINDINGS.iter().any(|f| l.ends_with(f)))
                        .collect();
                    assert!(unexpected.is_empty(), "{out}");
                }
            }
        }
    }
    for e in std::fs::read_dir(root().join("kustomize")).unwrap() {
        if attach_output(e.as_ref().unwrap().file_name().to_str().unwrap()) {
            continue;
        }
        for overlay in ["plain", "istio", "istio-gateway-api"] {
            let dir = e.as_ref().unwrap().path().join("overlays").join(overlay);
            let out = Command::new(tools().join("helm4/kubectl"))
                .arg("kustomize")
                .arg(&dir)
                .output()
                .unwrap();
            let (code, report) = meshpack_validate(
                &String::from_utf8(out.stdout).unwrap(),
                &["--crd", istio_crds().to_str().unwrap()],
            );
            assert_eq!(code, 0, "{}:\n{report}", dir.display());
        }
    }
}

#[test]
fn exit_codes_and_output_formats() {
    let bad = std::fs::read_to_string(
        root().join("tests/manifests/invalid/deployment-replicas-string.yaml"),
    )
    .unwrap();
    let (code, out) = meshpack_validate(&bad, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stdin:6: Deployment/shop/web: error[V004] /spec/replicas:"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "Summary: 1 resource found in 1 file - Valid: 0, Invalid: 1, Errors: 0, Skipped: 0\n"
        ),
        "{out}"
    );

    let (code, out) = meshpack_validate(&bad, &["-o", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings"][0]["code"], "V004");
    assert_eq!(v["findings"][0]["object"], "Deployment/shop/web");
    assert_eq!(v["summary"]["invalid"], 1);

    let (_, out) = meshpack_validate(&bad, &["-o", "junit"]);
    assert!(
        out.contains("<testcase name=\"Deployment/shop/web\" classname=\"stdin\">")
            && out.contains("<failure type=\"V004\""),
        "{out}"
    );

    let (code, out) = meshpack_validate(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
        &["--ignore-missing-schemas"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Skipped: 1"), "{out}");

    let (code, out) = meshpack_validate("", &["--kubernetes-version", "1.20"]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = meshpack_validate("", &["--crd", "/nonexistent.yaml"]);
    assert_eq!(code, 2, "{out}");
}

/// kubeconform's templates point meshpack at the same upstream folders.
#[test]
fn schema_locations_use_kubeconform_templates() {
    let k = shared_schemas()
        .join("kubernetes/v1.34-standalone-strict/{{.ResourceKind}}{{.KindSuffix}}.json");
    let i =
        shared_schemas().join("istio/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json");
    let rendered = template(
        "helm4",
        &root().join("charts/evalhub"),
        "evalhub",
        &istio_args(&[]),
    );
    let (code, out) = meshpack_validate(
        &rendered,
        &[
            "--schema-location",
            k.to_str().unwrap(),
            "--schema-location",
            i.to_str().unwrap(),
            "--schema-location",
            "default",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let bad = std::fs::read_to_string(root().join("tests/manifests/invalid/pa-mode-invalid.yaml"))
        .unwrap();
    let (code, out) = meshpack_validate(&bad, &["--schema-location", i.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("V004"), "{out}");
}

/// The fixture folders of the mesh checks, `tests/manifests/checks/<code>-<slug>/`.
fn check_folders() -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("tests/manifests/checks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            (name[..4].to_string(), p)
        })
        .collect();
    dirs.sort();
    dirs
}

/// The `# expect:` lines of a fixture; `# expect: nothing` is a clean case.
fn expectations(text: &str) -> Vec<String> {
    let mut want: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .filter(|l| *l != "nothing")
        .map(str::to_string)
        .collect();
    want.sort();
    want
}

/// Every mesh check has one fixture folder holding a case that triggers it
/// and a case that does not; every fixture reports exactly its `# expect:`
/// lines (all checks and the schemas run on each, so a fixture also proves
/// that the other checks stay quiet on it).
#[test]
fn every_check_has_fixtures_with_exact_findings() {
    let codes: Vec<&str> = meshpack::validate::checks::CHECKS
        .iter()
        .map(|c| c.code)
        .collect();
    let folders = check_folders();
    let folder_codes: Vec<&str> = folders.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        folder_codes, codes,
        "one folder per check, named <code>-<slug>"
    );
    let mut failures = vec![];
    for (code, dir) in &folders {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        let (mut fires, mut quiet) = (false, false);
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains("# expect: "),
                "{} has no `# expect:` line",
                path.display()
            );
            let want = expectations(&text);
            if want.iter().any(|w| w.starts_with(&format!("{code} "))) {
                fires = true;
            } else {
                quiet = true;
            }
            let got = findings(&path.display().to_string(), &text);
            if got != want {
                failures.push(format!(
                    "{}:\n  want {want:?}\n  got  {got:?}",
                    path.display()
                ));
            }
        }
        assert!(fires, "{}: no case where {code} fires", dir.display());
        assert!(quiet, "{}: no case where {code} stays quiet", dir.display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The JSON output carries, for every finding, the Istio code that the
/// generated check table (docs/checks.md) lists for it; README points at
/// that table and names no code it lacks.
#[test]
fn json_codes_docs_and_readme_agree() {
    let doc = std::fs::read_to_string(root().join("docs/checks.md")).unwrap();
    let mut table = std::collections::BTreeMap::new();
    for l in doc.lines() {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        if cells.len() > 4 && cells[1].starts_with('M') && cells[1].len() == 4 {
            table.insert(cells[1].to_string(), cells[3].to_string());
        }
    }
    assert_eq!(
        table.len(),
        meshpack::validate::checks::CHECKS.len(),
        "docs/checks.md lists every check once"
    );
    let mut seen = std::collections::BTreeSet::new();
    for (_, dir) in check_folders() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let crds = istio_crds();
            let mut args = vec!["-o", "json", "--crd", crds.to_str().unwrap()];
            for c in meshpack::validate::checks::OPT_IN {
                args.extend(["--enable", c]);
            }
            let (_, out) = meshpack_validate(&text, &args);
            let v: Value = serde_json::from_str(&out).unwrap();
            for f in v["findings"].as_array().unwrap() {
                let code = f["code"].as_str().unwrap();
                let ist = f["ist"].as_str().unwrap_or("-");
                if let Some(want) = table.get(code) {
                    assert_eq!(ist, want, "{}: {f}", p.display());
                    seen.insert(code.to_string());
                } else {
                    assert!(code.starts_with('V'), "{code} is not in docs/checks.md");
                    assert_eq!(f["ist"], Value::Null, "{f}");
                }
            }
        }
    }
    assert_eq!(
        seen.len(),
        table.len(),
        "every check's JSON code was exercised"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("docs/checks.md"),
        "README links the check table"
    );
    for word in readme.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.len() == 4 && word.starts_with('M') && word[1..].chars().all(|c| c.is_ascii_digit())
        {
            assert!(
                table.contains_key(word),
                "README names {word}, which is not a check"
            );
        }
    }
}

/// A flood of objects without a schema: text and JUnit show five of the
/// kind and one finding that counts the rest; JSON lists every object;
/// the summary counts are the same in all three (kubeconform's).
#[test]
fn objects_without_a_schema_are_shown_in_part_except_in_json() {
    let input: Vec<String> = (0..12)
        .map(|i| format!("apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w{i}, namespace: shop}}\n"))
        .collect();
    let input = input.join("---\n");
    let summary =
        "Summary: 12 resources found in 1 file - Valid: 0, Invalid: 0, Errors: 12, Skipped: 0";

    let (code, out) = meshpack_validate(&input, &[]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let mut want: Vec<String> = (0..5)
        .map(|i| format!("stdin:{}: Widget/shop/w{i}: error[V003] no schema for example.com/v1 Widget; pass --crd or --schema-location, or --ignore-missing-schemas", 4 * i + 1))
        .collect();
    want.push("stdin:21: error[V003] 7 more Widget objects (example.com/v1) have no schema, the first at stdin:21; pass --crd or --schema-location, or --ignore-missing-schemas (-o json lists every one)".into());
    want.push(summary.into());
    assert_eq!(lines, want);

    let (code, out) = meshpack_validate(&input, &["-o", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let objects: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["object"].as_str().unwrap())
        .collect();
    let every: Vec<String> = (0..12).map(|i| format!("Widget/shop/w{i}")).collect();
    assert_eq!(objects, every);
    assert_eq!(
        v["summary"],
        serde_json::json!({"files": 1, "resources": 12, "valid": 0, "invalid": 0, "errors": 12, "skipped": 0})
    );

    let (code, out) = meshpack_validate(&input, &["-o", "junit"]);
    assert_eq!(code, 1);
    assert_eq!(out.matches("<testcase ").count(), 6, "{out}");
    assert!(
        out.contains("<testcase name=\"document at line 21\" classname=\"stdin\">")
            && out.contains("<testsuites name=\"meshpack validate\" tests=\"12\" failures=\"6\">"),
        "{out}"
    );
}
