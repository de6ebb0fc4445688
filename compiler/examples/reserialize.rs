//! The physical-limit reference of bench/scale.sh: read a multi-document
//! YAML file into values and write it out again, nothing else.
use serde::Deserialize;
use std::io::Write;

fn main() {
    let path = std::env::args().nth(1).expect("usage: reserialize FILE");
    let text = std::fs::read_to_string(path).expect("read");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_json::Value::deserialize(doc).expect("yaml");
        writeln!(out, "---\n{}", serde_yaml::to_string(&v).expect("yaml")).expect("write");
    }
}
