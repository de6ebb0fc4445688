//! Output of `meshpack validate`: for people (default), JSON and JUnit XML
//! for CI systems. JSON findings carry `ist`, the `istioctl analyze` code
//! a mesh check reproduces (null when it has none).

use super::{Finding, Report};
use crate::diag::Severity;
use serde_json::json;
use std::collections::BTreeMap;

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// kubeconform's summary line.
pub(crate) fn summary(r: &Report) -> String {
    format!(
        "Summary: {} resource{} found in {} file{} - Valid: {}, Invalid: {}, Errors: {}, Skipped: {}",
        r.resources,
        if r.resources == 1 { "" } else { "s" },
        r.files,
        if r.files == 1 { "" } else { "s" },
        r.valid,
        r.invalid,
        r.errors,
        r.skipped
    )
}

pub(crate) fn text(r: &Report) -> String {
    let mut s = String::new();
    for f in &r.findings {
        let obj = f
            .object
            .as_deref()
            .map(|o| format!(" {o}:"))
            .unwrap_or_default();
        s.push_str(&format!(
            "{}:{}:{obj} {}[{}] {}\n",
            f.file,
            f.line,
            severity(f.severity),
            f.code,
            f.message
        ));
    }
    s.push_str(&summary(r));
    s.push('\n');
    s
}

pub(crate) fn json(r: &Report) -> String {
    let findings: Vec<_> = r
        .findings
        .iter()
        .map(|f| {
            json!({
                "file": f.file, "line": f.line, "object": f.object,
                "code": f.code, "ist": super::checks::ist_code(f.code),
                "severity": severity(f.severity), "message": f.message,
            })
        })
        .collect();
    let v = json!({
        "findings": findings,
        "summary": {
            "files": r.files, "resources": r.resources, "valid": r.valid,
            "invalid": r.invalid, "errors": r.errors, "skipped": r.skipped,
        },
    });
    serde_json::to_string_pretty(&v).expect("json") + "\n"
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One test suite per file, one test case per object with findings; errors
/// are failures, warnings are written to system-out.
pub(crate) fn junit(r: &Report) -> String {
    let mut by_file: BTreeMap<&str, BTreeMap<String, Vec<&Finding>>> = BTreeMap::new();
    for f in &r.findings {
        let key = f
            .object
            .clone()
            .unwrap_or_else(|| format!("document at line {}", f.line));
        by_file
            .entry(&f.file)
            .or_default()
            .entry(key)
            .or_default()
            .push(f);
    }
    let failures = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"meshpack validate\" tests=\"{}\" failures=\"{failures}\">\n",
        r.resources
    );
    for (file, cases) in by_file {
        let fails = cases
            .values()
            .filter(|fs| fs.iter().any(|f| f.severity == Severity::Error))
            .count();
        s.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\">\n",
            xml(file),
            cases.len()
        ));
        for (name, fs) in cases {
            s.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\">\n",
                xml(&name),
                xml(file)
            ));
            for f in &fs {
                if f.severity == Severity::Error {
                    s.push_str(&format!(
                        "      <failure type=\"{}\" message=\"{}\">{}:{}: {}</failure>\n",
                        f.code,
                        xml(&f.message),
                        xml(&f.file),
                        f.line,
                        xml(&f.message)
                    ));
                }
            }
            let warnings: Vec<String> = fs
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .map(|f| format!("warning[{}] {}", f.code, xml(&f.message)))
                .collect();
            if !warnings.is_empty() {
                s.push_str(&format!(
                    "      <system-out>{}</system-out>\n",
                    warnings.join("\n")
                ));
            }
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
