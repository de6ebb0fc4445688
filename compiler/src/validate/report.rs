//! Output of `meshpack validate`: for people (default), JSON and JUnit XML
//! for CI systems. JSON findings carry `ist`, the `istioctl analyze` code
//! a mesh check reproduces (null when it has none).
//!
//! Invariant: every format is written finding by finding to the writer it
//! is given, with no tree or string of the whole report in between: a
//! report can hold a million findings (a `--schema-location` without the
//! input's kinds and `-o json`), and a `serde_json::Value` per finding and
//! the whole text were most of the 3.5 GB such a run took.

use super::{Finding, Report};
use crate::diag::Severity;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};

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

pub(crate) fn text(r: &Report, w: &mut impl Write) -> io::Result<()> {
    for f in &r.findings {
        write!(w, "{}:{}:", f.file, f.line)?;
        if let Some(o) = &f.object {
            write!(w, " {o}:")?;
        }
        writeln!(w, " {}[{}] {}", severity(f.severity), f.code, f.message)?;
    }
    writeln!(w, "{}", summary(r))
}

/// The JSON of a report, its fields in the order `-o json` has always
/// written them.
#[derive(Serialize)]
struct Json<'a> {
    findings: JsonFindings<'a>,
    summary: JsonSummary,
}

/// Serialized one finding at a time (`collect_seq`), not collected first.
struct JsonFindings<'a>(&'a [Finding]);

impl Serialize for JsonFindings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|f| JsonFinding {
            file: &f.file,
            line: f.line,
            object: f.object.as_deref(),
            code: f.code,
            ist: super::checks::ist_code(f.code),
            severity: severity(f.severity),
            message: &f.message,
        }))
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    file: &'a str,
    line: usize,
    object: Option<&'a str>,
    code: &'a str,
    ist: Option<&'static str>,
    severity: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonSummary {
    files: usize,
    resources: usize,
    valid: usize,
    invalid: usize,
    errors: usize,
    skipped: usize,
}

pub(crate) fn json(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let v = Json {
        findings: JsonFindings(&r.findings),
        summary: JsonSummary {
            files: r.files,
            resources: r.resources,
            valid: r.valid,
            invalid: r.invalid,
            errors: r.errors,
            skipped: r.skipped,
        },
    };
    serde_json::to_writer_pretty(&mut *w, &v)?;
    writeln!(w)
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One test suite per file, one test case per object with findings; errors
/// are failures, warnings are written to system-out.
pub(crate) fn junit(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let mut by_file: BTreeMap<&str, BTreeMap<Cow<str>, Vec<&Finding>>> = BTreeMap::new();
    for f in &r.findings {
        let key = match &f.object {
            Some(o) => Cow::Borrowed(o.as_str()),
            None => Cow::Owned(format!("document at line {}", f.line)),
        };
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
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        w,
        "<testsuites name=\"meshpack validate\" tests=\"{}\" failures=\"{failures}\">",
        r.resources
    )?;
    for (file, cases) in by_file {
        let fails = cases
            .values()
            .filter(|fs| fs.iter().any(|f| f.severity == Severity::Error))
            .count();
        writeln!(
            w,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\">",
            xml(file),
            cases.len()
        )?;
        for (name, fs) in cases {
            writeln!(
                w,
                "    <testcase name=\"{}\" classname=\"{}\">",
                xml(&name),
                xml(file)
            )?;
            for f in &fs {
                if f.severity == Severity::Error {
                    writeln!(
                        w,
                        "      <failure type=\"{}\" message=\"{}\">{}:{}: {}</failure>",
                        f.code,
                        xml(&f.message),
                        xml(&f.file),
                        f.line,
                        xml(&f.message)
                    )?;
                }
            }
            let warnings: Vec<String> = fs
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .map(|f| format!("warning[{}] {}", f.code, xml(&f.message)))
                .collect();
            if !warnings.is_empty() {
                writeln!(w, "      <system-out>{}</system-out>", warnings.join("\n"))?;
            }
            writeln!(w, "    </testcase>")?;
        }
        writeln!(w, "  </testsuite>")?;
    }
    writeln!(w, "</testsuites>")
}
