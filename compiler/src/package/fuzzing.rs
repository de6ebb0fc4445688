//! Oracles of the fuzz targets (`fuzz/`), kept in the library so stable
//! `cargo test` runs them too. Each panics when an invariant breaks.
//!
//! Invariant checked: whatever strings reach the YAML writer
//! (`package::yaml`), values.yaml or Chart.yaml, the text reads back as
//! exactly those strings under YAML 1.2 (serde_yaml) and under YAML 1.1 as
//! Helm and kubectl read it (`manifest::yaml11`), and adds no key.

use super::yaml;
use crate::manifest::yaml11;
use crate::model::Maintainer;
use serde_json::{json, Value};

/// Strings from fuzz bytes: split at 0xFF (never part of UTF-8), each
/// part read as UTF-8 with invalid bytes replaced.
pub fn strings(data: &[u8]) -> Vec<String> {
    data.split(|b| *b == 0xff)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// Both readers give back `v` from `text`.
fn reads_back(what: &str, text: &str, v: &Value) {
    let y12: Value = serde_yaml::from_str(text)
        .unwrap_or_else(|e| panic!("{what}: YAML 1.2 cannot read it: {e}\n{text}"));
    assert_eq!(&y12, v, "{what}: YAML 1.2 reads something else\n{text}");
    let y11 = yaml11::parse(text)
        .unwrap_or_else(|e| panic!("{what}: YAML 1.1 cannot read it: {e:?}\n{text}"));
    assert_eq!(&y11, v, "{what}: YAML 1.1 reads something else\n{text}");
}

/// The writer: every string as a key, a value, a list item and a nested value.
pub fn writer(data: &[u8]) {
    let s = strings(data);
    let mut m = serde_json::Map::new();
    for (i, k) in s.iter().enumerate() {
        let next = &s[(i + 1) % s.len()];
        m.insert(
            k.clone(),
            json!({"v": next, "l": [k, next], "n": {k.clone(): [next]}}),
        );
    }
    let v = Value::Object(m);
    reads_back("yaml::to_string", &yaml::to_string(&v), &v);
}

/// values.yaml and Chart.yaml of evalhub with fuzz strings in every free-text
/// field that reaches them.
pub fn chart_files(data: &[u8]) {
    let s = strings(data);
    let get = |i: usize| s.get(i).cloned().unwrap_or_default();
    let text = include_str!("../../../policies/evalhub.yaml");
    let mut m = crate::compile_model(text, None).expect("evalhub compiles");
    m.description = get(0);
    m.home = Some(get(1));
    m.maintainers = vec![Maintainer {
        name: get(2),
        email: Some(get(3)),
        url: None,
    }];
    m.pull_secrets = s.clone();
    m.profile = get(4);
    let images = vec![json!({"name": get(5), "image": get(6)})];
    let chart = super::helm::chart_yaml(&m, &images);
    let c = yaml11::parse(&chart).unwrap_or_else(|e| panic!("Chart.yaml: {e:?}\n{chart}"));
    let keys: Vec<&str> = c
        .as_object()
        .expect("a map")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "apiVersion",
            "name",
            "description",
            "type",
            "version",
            "appVersion",
            "kubeVersion",
            "home",
            "maintainers",
            "keywords",
            "annotations"
        ],
        "{chart}"
    );
    assert_eq!(c["description"], json!(get(0)), "{chart}");
    assert_eq!(c["home"], json!(get(1)), "{chart}");
    assert_eq!(
        c["maintainers"],
        json!([{"name": get(2), "email": get(3)}]),
        "{chart}"
    );
    assert_eq!(
        c["annotations"]["meshpack.dev/profile"],
        json!(get(4)),
        "{chart}"
    );
    let listed = c["annotations"]["artifacthub.io/images"]
        .as_str()
        .expect("a string");
    reads_back("artifacthub.io/images", listed, &Value::Array(images));
    let entries = super::values::entries(&m);
    let values = super::values::values_yaml(&m, &entries);
    let v = yaml11::parse(&values).unwrap_or_else(|e| panic!("values.yaml: {e:?}\n{values}"));
    assert_eq!(v["global"]["imagePullSecrets"], json!(s), "{values}");
}

#[cfg(test)]
mod tests {
    /// The oracles over the inputs that broke writers before: YAML 1.1
    /// words, numbers, newlines, indicators, controls, non-characters.
    #[test]
    fn oracles_hold_on_hostile_strings() {
        let cases: [&[u8]; 6] = [
            b"on\xffno\xffy\xff010\xff1e3\xff~\xff<<",
            b"a\ndependencies:\n- x\xff- b\xff\"q\xff'q\xff{{ x }}\xff#c",
            b"\x00\x01\t\r\n\xff\x7f\xffx: y\xff \xff",
            "\u{85}\u{2028}\u{feff}\u{fffe}\u{ffff}\u{200b}é".as_bytes(),
            b"multi\nline\n\xff\nlead\n\xfftrail \nx\n",
            b"",
        ];
        for c in cases {
            super::writer(c);
            super::chart_files(c);
        }
    }
}
