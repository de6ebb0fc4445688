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

// ---- Round two (issue 16): one regression test per defect. ----

/// A policy of services `(name, extra YAML under the service)`, with `spec`
/// lines added under `spec:`; every service allows itself.
fn policy2(services: &[(&str, &str)], spec: &str) -> String {
    let mut s = String::from(
        "apiVersion: meshpack.dev/v1alpha1\nkind: MeshPolicy\nmetadata:\n  name: hp\nspec:\n  version: 1.0.0\n",
    );
    s.push_str(spec);
    s.push_str("  services:\n");
    for (name, extra) in services {
        s.push_str(&format!(
            "    {}:\n      image: example.com/app:1.0\n      ports: {{http: 8080}}\n{extra}",
            serde_json::to_string(name).unwrap()
        ));
    }
    s.push_str("  allow:\n");
    for (name, _) in services {
        let n = serde_json::to_string(name).unwrap();
        s.push_str(&format!("    - {{from: {n}, to: {n}}}\n"));
    }
    s
}

/// Write `text` as a policy in a new folder and compile it to `<dir>/hp`.
fn compile_text(text: &str) -> (tempfile::TempDir, std::path::PathBuf, i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("p.yaml");
    std::fs::write(&file, text).unwrap();
    let chart = tmp.path().join("hp");
    let (code, out) = meshpack(&[
        "compile",
        file.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ]);
    (tmp, chart, code, out)
}

/// `helm template` in both modes with both Helms and `helm lint --strict`:
/// the objects of each render, after checking each render for truthy words.
fn render_all(chart: &std::path::Path) -> Vec<(String, Vec<Value>)> {
    let mut renders = vec![];
    for h in HELMS {
        for istio in [false, true] {
            let args = if istio { istio_args(&[]) } else { vec![] };
            let text = template(h, chart, "hp", &args);
            let off = truthy_offences(&format!("{h} istio={istio}"), &text);
            assert!(off.is_empty(), "{off:?}");
            renders.push((format!("{h} istio={istio}"), parse(&text)));
            let set = format!("istio.enabled={istio}");
            let lint = run(Command::new(helm(h))
                .args(["lint", "--strict"])
                .arg(chart)
                .args(["--set", &set]));
            assert!(lint.contains("0 chart(s) failed"), "{h} {set}: {lint}");
        }
    }
    renders
}

/// #1: names YAML 1.1 reads as booleans render, lint and keep their text.
#[test]
fn yaml_1_1_words_as_names_install() {
    let text = policy2(
        &[
            ("on", ""),
            ("no", "      workload: StatefulSet\n      storage: {size: 1Gi, storageClassName: \"no\"}\n"),
            ("y", "      versions:\n        off: {replicas: 1}\n        yes: {replicas: 1}\n      traffic:\n        split: {off: 50, yes: 50}\n"),
        ],
        "",
    );
    let (_t, chart, code, out) = compile_text(&text);
    assert_eq!(code, 0, "{out}");
    assert_tree_truthy_clean(&chart);
    // Read back as Helm does (YAML 1.1): the keys are still the names.
    let values = meshpack::validate::yaml11::parse(
        &std::fs::read_to_string(chart.join("values.yaml")).unwrap(),
    )
    .unwrap();
    let s = &values["services"];
    assert_eq!(s["on"]["replicas"], 1);
    assert_eq!(s["no"]["storage"]["storageClassName"], "no");
    assert_eq!(s["y"]["versions"]["off"]["replicas"], 1);
    assert_eq!(s["y"]["traffic"]["split"]["yes"], 50);
    for (what, objs) in render_all(&chart) {
        let o = by_id(&objs);
        assert!(o.contains_key("Deployment/hp-on"), "{what}");
        assert!(o.contains_key("Deployment/hp-y-off"), "{what}");
        assert!(o.contains_key("Deployment/hp-y-yes"), "{what}");
        let sts = &o["StatefulSet/hp-no"];
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "no",
            "{what}"
        );
    }
}

/// #2: a newline in a free-text field never adds YAML: Chart.yaml keeps its
/// keys; the names that reach values are refused where they stand.
#[test]
fn newlines_in_free_text_inject_nothing() {
    let evil = "x\ndependencies:\n- name: evil\n  repository: https://evil.example.com";
    let text = policy2(
        &[("web", "")],
        &format!(
            "  chart: {{description: {}}}\n",
            serde_json::to_string(evil).unwrap()
        ),
    );
    let (_t, chart, code, out) = compile_text(&text);
    assert_eq!(code, 0, "{out}");
    let c: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart.join("Chart.yaml")).unwrap()).unwrap();
    assert_eq!(c["description"], evil);
    assert!(c.get("dependencies").is_none(), "{c}");
    render_all(&chart);
    for (spec, svc, code_, line) in [
        (
            "  images: {registry: \"quay.io\\ndependencies: [{name: x}]\"}\n",
            "",
            "E0207",
            7,
        ),
        ("  images: {pullSecrets: [\"a\\nb\"]}\n", "", "E0207", 7),
        (
            "",
            "      workload: StatefulSet\n      storage: {size: 1Gi, storageClassName: \"a\\nb: c\"}\n",
            "E0214",
            12,
        ),
    ] {
        let (_t, chart, code, out) = compile_text(&policy2(&[("web", svc)], spec));
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("error[{code_}]")) && out.contains(&format!("p.yaml:{line}:")),
            "{spec}{svc}: {out}"
        );
        assert!(!chart.exists());
    }
    let gw = "  gateways:\n    pub:\n      hosts: [a.example.com]\n      tls: {credentialName: c, certManager: {issuer: \"le\\nx: y\"}}\n      routes: [{prefix: /, to: web}]\n";
    let mut text = policy2(&[("web", "")], gw);
    text.push_str("    - {from: gateway/pub, to: web}\n");
    let (_t, _c, code, out) = compile_text(&text);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0245]") && out.contains("p.yaml:10:"),
        "{out}"
    );
}

/// A bundle of evalhub made by meshpack, and its entries (path, header, bytes).
fn evalhub_bundle(dir: &std::path::Path) -> Vec<(String, tar::Header, Vec<u8>)> {
    use std::io::Read;
    let out = dir.join("b.tgz");
    let policy = root().join("policies/evalhub.yaml");
    let (code, msg) = meshpack(&[
        "bundle",
        policy.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{msg}");
    let bytes = std::fs::read(&out).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut entries = vec![];
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        let h = e.header().clone();
        let mut b = vec![];
        e.read_to_end(&mut b).unwrap();
        entries.push((path, h, b));
    }
    entries
}

/// Write entries as a gzipped tar, as given (links, devices, modes and all).
fn forge(path: &std::path::Path, entries: &[(String, tar::Header, Vec<u8>)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut t = tar::Builder::new(gz);
    for (p, h, b) in entries {
        let mut h = h.clone();
        h.set_path(p).unwrap();
        h.set_cksum();
        t.append(&h, b.as_slice()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
}

/// #3: links, devices and setuid modes in a bundle are problems, not skipped.
#[test]
fn bundle_verify_refuses_links_devices_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let good = evalhub_bundle(tmp.path());
    let tpl = "evalhub-2.3.0/chart/evalhub/templates/api.yaml";
    let other = "evalhub-2.3.0/chart/evalhub/templates/scheduler.yaml";
    type Edit = Box<dyn Fn(&mut tar::Header)>;
    let cases: Vec<(&str, Edit, String)> = vec![
        (
            "symlink",
            Box::new(|h| {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name("/etc/passwd").unwrap();
                h.set_size(0);
            }),
            format!("{tpl}: a symbolic link; a bundle holds only regular files and folders"),
        ),
        (
            "hardlink",
            Box::new(move |h| {
                h.set_entry_type(tar::EntryType::Link);
                h.set_link_name(other).unwrap();
                h.set_size(0);
            }),
            format!("{tpl}: a hard link; a bundle holds only regular files and folders"),
        ),
        (
            "device",
            Box::new(|h| {
                h.set_entry_type(tar::EntryType::Char);
                h.set_device_major(1).unwrap();
                h.set_device_minor(3).unwrap();
                h.set_size(0);
            }),
            format!("{tpl}: a device node; a bundle holds only regular files and folders"),
        ),
        (
            "setuid",
            Box::new(|h| h.set_mode(0o4755)),
            format!("{tpl}: file mode 4755; bundles hold files 644"),
        ),
    ];
    for (what, edit, want) in cases {
        let entries: Vec<_> = good
            .iter()
            .map(|(p, h, b)| {
                if p == tpl {
                    let mut h = h.clone();
                    edit(&mut h);
                    let body = if h.entry_type() == tar::EntryType::Regular {
                        b.clone()
                    } else {
                        vec![]
                    };
                    (p.clone(), h, body)
                } else {
                    (p.clone(), h.clone(), b.clone())
                }
            })
            .collect();
        let forged = tmp.path().join(format!("{what}.tgz"));
        forge(&forged, &entries);
        let (code, out) = meshpack(&["bundle", "--verify", forged.to_str().unwrap()]);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.lines().any(|l| l == want),
            "{what}: want `{want}` in\n{out}"
        );
        assert!(!out.contains("verified"), "{what}: {out}");
    }
    // The untouched archive, re-written the same way, verifies.
    let same = tmp.path().join("same.tgz");
    forge(&same, &good);
    let (code, out) = meshpack(&["bundle", "--verify", same.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

/// Peak resident memory of a command, in KiB, sampled from /proc while it
/// runs (VmHWM only grows, so the last sample is a lower bound of the peak).
fn peak_kib(cmd: &mut Command) -> (i32, u64) {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = l.split_whitespace().nth(1).unwrap().parse().unwrap();
                peak = peak.max(kib);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            return (st.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// #8: an archive claiming a huge entry is refused without reading it whole.
#[test]
fn bundle_verify_streams_huge_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = evalhub_bundle(tmp.path());
    let forged = tmp.path().join("big.tgz");
    forge(&forged, &entries);
    // Append a 256 MiB entry of zeros, streamed (not held in memory here).
    let big: u64 = 256 << 20;
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&forged).unwrap(),
        flate2::Compression::fast(),
    );
    let mut t = tar::Builder::new(gz);
    for (p, h, b) in &entries {
        let mut h = h.clone();
        h.set_path(p).unwrap();
        h.set_cksum();
        t.append(&h, b.as_slice()).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(big);
    h.set_path("evalhub-2.3.0/chart/evalhub/templates/zeros.yaml")
        .unwrap();
    h.set_cksum();
    t.append(&h, std::io::Read::take(std::io::repeat(0), big))
        .unwrap();
    t.into_inner().unwrap().finish().unwrap();
    assert!(std::fs::metadata(&forged).unwrap().len() < 8 << 20);
    let (code, peak) = peak_kib(Command::new(env!("CARGO_BIN_EXE_meshpack")).args([
        "bundle",
        "--verify",
        forged.to_str().unwrap(),
    ]));
    assert_eq!(code, 2);
    assert!(peak < 128 << 10, "peak {peak} KiB");
    let (_, out) = meshpack(&["bundle", "--verify", forged.to_str().unwrap()]);
    assert!(
        out.contains("zeros.yaml claims 268435456 bytes; no file of a bundle is over 5242880"),
        "{out}"
    );
}

/// #4: aliases of one long string are stopped by bytes, in compile and validate.
#[test]
fn alias_bombs_of_long_strings_are_stopped() {
    let long = "x".repeat(1 << 20);
    let aliases = vec!["*s"; 100].join(", ");
    let text = format!(
        "{}  chart: {{description: &s {long}}}\n  x-pad: [{aliases}]\n",
        policy2(&[("web", "")], "")
    );
    assert!(text.len() < 4 << 20);
    let (_t, chart, code, out) = compile_text(&text);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0006]: aliases expand the document past 4194304 bytes of copied text"),
        "{out}"
    );
    assert!(!chart.exists());
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata:\n  a: &s {long}\n  b: [{aliases}]\n"
    );
    let (code, out) = meshpack_stdin(&["validate", "--no-mesh-checks", "-"], &manifest);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("aliases expand the document past 4194304 bytes of copied text"),
        "{out}"
    );
}

/// #5: compiles killed at any moment leave a complete output, and the next
/// compile removes what they left beside it.
#[test]
fn killed_compiles_leave_output_and_no_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, policy) = meshpack(&["synthesize", "--services", "300"]);
    assert_eq!(code, 0);
    let file = tmp.path().join("p.yaml");
    std::fs::write(&file, policy).unwrap();
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let chart = outdir.join("chart");
    let args = [
        "compile",
        file.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ];
    let start = std::time::Instant::now();
    let (code, msg) = meshpack(&args);
    assert_eq!(code, 0, "{msg}");
    let took = start.elapsed();
    let want = read_tree(&chart);
    for i in 1..=17u32 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meshpack"))
            .args(args)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took * i / 17);
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            read_tree(&chart) == want,
            "kill {i} after {:?}: the output is not the complete chart",
            took * i / 17
        );
    }
    let (code, msg) = meshpack(&args);
    assert_eq!(code, 0, "{msg}");
    let names: Vec<String> = std::fs::read_dir(&outdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["chart".to_string()], "leftovers");
}

/// #6: --check and the image lock never read through a link.
#[cfg(unix)]
#[test]
fn links_are_never_read_through() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret.env");
    std::fs::write(&secret, "AWS_SECRET=hunter2\n").unwrap();
    let text = policy2(&[("web", "")], "");
    let file = tmp.path().join("p.yaml");
    std::fs::write(&file, &text).unwrap();
    let chart = tmp.path().join("hp");
    let (code, out) = meshpack(&[
        "compile",
        file.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    std::fs::remove_file(chart.join("values.yaml")).unwrap();
    std::os::unix::fs::symlink(&secret, chart.join("values.yaml")).unwrap();
    let (code, out) = meshpack(&[
        "compile",
        file.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(
        out.contains(&format!(
            "changed: {}: is a symbolic link; meshpack does not follow links it finds",
            chart.join("values.yaml").display()
        )),
        "{out}"
    );
    // A lock that is a link is refused unread.
    let locked = text.replace("spec:\n", "spec:\n  images: {lock: images.lock}\n");
    std::fs::write(&file, locked).unwrap();
    std::os::unix::fs::symlink(&secret, tmp.path().join("images.lock")).unwrap();
    let (code, out) = meshpack(&[
        "compile",
        file.to_str().unwrap(),
        "-o",
        chart.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(
        out.contains("cannot read the image lock `images.lock`: is a symbolic link"),
        "{out}"
    );
}

/// #7: service `web-canary` beside version `canary` of `web` is refused.
#[test]
fn workload_names_never_collide() {
    let text = policy2(
        &[
            (
                "web",
                "      versions:\n        canary: {}\n        stable: {}\n",
            ),
            ("web-canary", ""),
        ],
        "",
    );
    let (_t, chart, code, out) = compile_text(&text);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0221]: version `canary` of service `web` and service `web-canary` would both be the workload `<release>-web-canary`")
            || out.contains("error[E0221]: service `web-canary` and version `canary` of service `web` would both be the workload `<release>-web-canary`"),
        "{out}"
    );
    assert!(!chart.exists());
}

/// #9: a byte-order mark is read as Kubernetes and editors mean it.
#[test]
fn byte_order_marks_are_accepted() {
    let text = format!("\u{feff}{}", policy2(&[("web", "")], ""));
    let (_t, chart, code, out) = compile_text(&text);
    assert_eq!(code, 0, "{out}");
    assert!(chart.join("Chart.yaml").exists());
    let m = "\u{feff}apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: d}\ndata: {a: b}\n";
    let (code, out) = meshpack_stdin(&["validate", "--no-mesh-checks", "-"], m);
    assert_eq!(code, 0, "{out}");
}

/// #10: a version Helm cannot read (a part past uint64) is refused.
#[test]
fn versions_past_uint64_are_refused() {
    let text = policy2(&[("web", "")], "").replace("1.0.0", "99999999999999999999.0.0");
    let (_t, _c, code, out) = compile_text(&text);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0203]: `99999999999999999999.0.0` is not a SemVer 2 version"),
        "{out}"
    );
    assert!(out.contains("p.yaml:6:12"), "{out}");
}

/// #11: two long release names never share object names.
#[test]
fn long_release_names_stay_distinct() {
    let svc = "s".repeat(43);
    let (_t, chart, code, out) = compile_text(&policy2(&[(&svc, "")], ""));
    assert_eq!(code, 0, "{out}");
    let mut names = vec![];
    for release in [
        "customer-production-eu-west-1-blue",
        "customer-production-eu-west-1-green",
    ] {
        let text = run(Command::new(helm("helm4"))
            .args(["template", release])
            .arg(&chart));
        let objs = parse(&text);
        let d = objs
            .iter()
            .find(|o| o["kind"] == "Deployment")
            .expect("a Deployment");
        let name = d["metadata"]["name"].as_str().unwrap().to_string();
        assert!(name.len() <= 52, "{name}");
        assert!(name.ends_with(&format!("-{svc}")), "{name}");
        names.push(name);
    }
    assert_ne!(names[0], names[1]);
    // One more character and the release part would keep fewer than 8.
    let (_t, _c, code, out) = compile_text(&policy2(&[(&"s".repeat(44), "")], ""));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[E0211]"), "{out}");
}

/// #12: validate reads YAML as Kubernetes does (go-yaml v2, YAML 1.1).
#[test]
fn validate_reads_yaml_like_kubernetes() {
    let yes = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: d\n  labels: {x: yes}\ndata: {a: b}\n";
    let (code, out) = meshpack_stdin(&["validate", "--no-mesh-checks", "-"], yes);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("V004") && out.contains("labels/x"), "{out}");
    let octal = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: d}\nspec:\n  replicas: 010\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: x:1}]\n";
    let (code, out) = meshpack_stdin(&["validate", "--no-mesh-checks", "-"], octal);
    assert_eq!(code, 0, "{out}");
}

/// #13: names Kubernetes refuses are refused at compile, at their line.
#[test]
fn names_kubernetes_refuses_are_refused() {
    for (svc, spec, code_, at, shown) in [
        (
            "      env: {\"A\\nB\": x}\n",
            "",
            "E0216",
            "p.yaml:11:",
            "`A\\nB`",
        ),
        (
            "",
            "  images: {pullSecrets: [Regcred]}\n",
            "E0207",
            "p.yaml:7:",
            "`Regcred`",
        ),
        (
            "      workload: StatefulSet\n      storage: {size: 1Gi, storageClassName: fast_ssd}\n",
            "",
            "E0214",
            "p.yaml:12:",
            "`fast_ssd`",
        ),
    ] {
        let (_t, chart, code, out) = compile_text(&policy2(&[("web", svc)], spec));
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("error[{code_}]: {shown} is not a")) && out.contains(at),
            "{out}"
        );
        assert!(!chart.exists());
    }
}

/// #14: endless and unreadable inputs: bounded, and exit 2 in every command.
#[test]
fn endless_and_unreadable_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("o");
    let (code, out) = meshpack(&["compile", "/dev/zero", "-o", out_dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("error: cannot read /dev/zero: the file is larger than 4194304 bytes"),
        "{out}"
    );
    let missing = tmp.path().join("missing.yaml");
    let m = missing.to_str().unwrap();
    for args in [
        vec!["compile", m, "-o", out_dir.to_str().unwrap()],
        vec!["graph", m],
        vec!["images", m],
        vec!["diff", m, m],
        vec!["bundle", m, "-o", "x.tgz"],
        vec!["bundle", "--verify", m],
        vec!["verify", "--policy", m, m],
        vec!["validate", m],
    ] {
        let (code, out) = meshpack(&args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(out.contains("missing.yaml"), "{args:?}: {out}");
    }
    assert!(!out_dir.exists());
}

/// #15: empty lists in a rule are mistakes, not "every port" or "nothing".
#[test]
fn empty_rule_lists_are_refused() {
    for (rule, line_col, field) in [
        (
            "    - {from: web, to: web, ports: []}\n",
            "p.yaml:12:35",
            "ports",
        ),
        ("    - {from: [], to: web}\n", "p.yaml:12:14", "from"),
    ] {
        let text =
            policy2(&[("web", "")], "").replace("    - {from: \"web\", to: \"web\"}\n", rule);
        let (_t, _c, code, out) = compile_text(&text);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("error[E0239]: `{field}: []` lists nothing"))
                && out.contains(line_col),
            "{rule}: {out}"
        );
    }
}

/// #16: NUL bytes, the document root, invisible characters and custom tags
/// are reported where they are and as what they are.
#[test]
fn diagnostics_place_and_show_what_they_found() {
    let base = policy2(&[("web", "")], "");
    let nul = base.replace("example.com/app:1.0", "example.com/app:1\u{0}0");
    let (_t, _c, code, out) = compile_text(&nul);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0008]: the character U+0000 is not allowed in YAML")
            && out.contains("p.yaml:9:31"),
        "{out}"
    );
    let (_t, _c, code, out) = compile_text("- a\n- b\n");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the document is a list, expected a map"),
        "{out}"
    );
    assert!(!out.contains("``"), "{out}");
    let zw = policy2(&[("we\u{200b}b", "")], "");
    let (_t, _c, code, out) = compile_text(&zw);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("`we\\u{200b}b`"), "{out}");
    assert!(
        !out.contains('\u{200b}') || out.contains("\"we\u{200b}b\""),
        "{out}"
    );
    let tag = base.replace("ports: {http: 8080}", "ports: !custom {http: 8080}");
    let (_t, _c, code, out) = compile_text(&tag);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[E0007]: the YAML tag `!custom` has no meaning here")
            && out.contains("p.yaml:10:"),
        "{out}"
    );
    assert!(!out.contains("enum"), "{out}");
}

/// Found by the hostile property test: a rule path ending in a multi-byte
/// character panicked (a byte slice inside the character).
#[test]
fn paths_ending_in_multibyte_characters_compile() {
    let text = policy2(&[("web", "")], "").replace(
        "    - {from: \"web\", to: \"web\"}\n",
        "    - {from: web, to: web, paths: [\"/\\u200b\", \"/é*\"]}\n",
    );
    let (_t, chart, code, out) = compile_text(&text);
    assert_eq!(code, 0, "{out}");
    let objs = by_id(&parse(&template("helm4", &chart, "hp", &istio_args(&[]))));
    let op = &objs["AuthorizationPolicy/hp-web"]["spec"]["rules"][0]["to"][0]["operation"];
    assert_eq!(op["paths"], serde_json::json!(["/\u{200b}", "/é*"]));
}
