//! The bad-policy corpus: every file under `tests/policies/bad/` states the
//! errors it must produce in `# expect: CODE LINE:COL message` lines (in
//! source order), and compiling it must report exactly those.

use meshpack::compile_model;
use std::path::Path;

struct Expect {
    code: String,
    pos: Option<(usize, usize)>,
    message: String,
}

fn expectations(text: &str) -> Vec<Expect> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let code = parts.next().unwrap().to_string();
            let pos = parts.next().unwrap();
            let pos = (pos != "-").then(|| {
                let (a, b) = pos.split_once(':').expect("LINE:COL");
                (a.parse().unwrap(), b.parse().unwrap())
            });
            Expect {
                code,
                pos,
                message: parts.next().unwrap_or("").to_string(),
            }
        })
        .collect()
}

#[test]
fn bad_policies_report_exactly_their_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/policies/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let want = expectations(&text);
        assert!(!want.is_empty(), "{} has no `# expect:` line", f.display());
        let got = match compile_model(&text, None) {
            Ok(_) => {
                failures.push(format!("{}: compiled without error", f.display()));
                continue;
            }
            Err(d) => d,
        };
        let shown: Vec<String> = got.iter().map(|d| d.short("p.yaml")).collect();
        if got.len() != want.len() {
            failures.push(format!(
                "{}: want {} errors, got:\n  {}",
                f.display(),
                want.len(),
                shown.join("\n  ")
            ));
            continue;
        }
        for (w, g) in want.iter().zip(&got) {
            let pos = g.pos.map(|p| (p.line, p.col));
            if w.code != g.code || w.pos != pos || !g.message.contains(&w.message) {
                failures.push(format!(
                    "{}: want `{} {:?} {}`, got `{}`",
                    f.display(),
                    w.code,
                    w.pos,
                    w.message,
                    g.short("p.yaml")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn example_policies_compile() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let text = std::fs::read_to_string(&p).unwrap();
            if let Err(d) = compile_model(&text, None) {
                panic!("{}: {:?}", p.display(), d);
            }
        }
    }
}

#[test]
fn a_50_megabyte_file_is_refused_before_parsing() {
    let big = format!("{}\n", "# padding\n".repeat(5 << 20));
    let e = compile_model(&big, None).unwrap_err();
    assert_eq!(e[0].code, "E0001");
    assert!(e[0].message.contains("bytes; at most"), "{}", e[0].message);
}

/// Files under `files:` are read beside the policy (`compile_policy`'s
/// reader): one that cannot be read, or holds a bad reference, is an error
/// at its line.
#[test]
fn unreadable_files_and_their_references_are_reported() {
    let policy = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata:
  name: shop
spec:
  version: 1.0.0
  services:
    api:
      image: example.com/api:1.0
      files:
        /etc/api/a.yaml: missing.yaml
        /etc/api/b.yaml: b.yaml
        /etc/api/c.yaml: c.yaml
    db:
      image: example.com/db:1.0
      ports: {tcp-postgres: 5432}
";
    let failure = match meshpack::compile_policy("p.yaml", policy, None, &|f| match f {
        "b.yaml" => Ok("url: ${service:db:http}\n".to_string()),
        "c.yaml" => Ok("path: /mpx1x\n".to_string()),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not found",
        )),
    }) {
        Ok(_) => panic!("compiled"),
        Err(f) => f,
    };
    let shown: Vec<String> = failure
        .diagnostics
        .iter()
        .map(|d| d.short("p.yaml"))
        .collect();
    assert_eq!(
        shown,
        vec![
            "p.yaml:11:26: error[E0318]: cannot read `missing.yaml`: not found",
            "p.yaml:12:26: error[E0312]: in `b.yaml`: `db` has no port `http`",
            "p.yaml:13:26: error[E0009]: `c.yaml` holds `mpx1x`, the form of meshpack's template markers",
        ]
    );
}
