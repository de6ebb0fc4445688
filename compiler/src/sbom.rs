//! The bundle's SBOM: CycloneDX 1.5 JSON (cyclonedx.org/docs/1.5/json)
//! listing the chart (the bundle's subject, hashed as `helm package`
//! writes it), the policy and its image lock, and every image a release
//! runs (each service and version, and the mesh runtime) by digest, with a
//! `pkg:oci` purl (github.com/package-url/purl-spec, type `oci`).
//!
//! Invariant: derived from the model and file bytes only, so `bundle
//! --verify` can rebuild it; no timestamps or random serial numbers (both
//! optional in CycloneDX), so bundles stay byte-identical.

use crate::model::Model;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `pkg:oci/<name>@sha256%3A<hex>?repository_url=<registry/repo>&tag=<tag>`.
pub(crate) fn purl(registry: &str, repository: &str, tag: &str, digest: &str) -> String {
    let name = repository.rsplit('/').next().unwrap_or(repository);
    let reg = if registry.is_empty() {
        "docker.io"
    } else {
        registry
    };
    let mut p = format!(
        "pkg:oci/{}@{}?repository_url={reg}/{repository}",
        name.to_ascii_lowercase(),
        digest.replace(':', "%3A")
    );
    if !tag.is_empty() {
        p.push_str(&format!("&tag={tag}"));
    }
    p
}

/// The SBOM's bytes.
pub(crate) fn cyclonedx(
    m: &Model,
    chart_tgz: &[u8],
    policy: &str,
    lock: Option<&(String, String)>,
) -> Vec<u8> {
    let chart_ref = format!("chart:{}@{}", m.name, m.version);
    let mut components = vec![json!({
        "type": "file",
        "bom-ref": "file:policy.yaml",
        "name": "policy.yaml",
        "description": "the meshpack policy the chart is compiled from",
        "hashes": [{"alg": "SHA-256", "content": sha256(policy.as_bytes())}],
    })];
    if let Some((name, text)) = lock {
        components.push(json!({
            "type": "file",
            "bom-ref": format!("file:{name}"),
            "name": name,
            "description": "the image lock: the digest of every image",
            "hashes": [{"alg": "SHA-256", "content": sha256(text.as_bytes())}],
        }));
    }
    // One component per image reference, naming what runs it.
    let mut images: BTreeMap<String, (Vec<String>, &crate::model::Image)> = BTreeMap::new();
    for (what, i) in m.images() {
        let r = crate::lock::reference(i);
        images.entry(r).or_insert_with(|| (vec![], i)).0.push(what);
    }
    let mut refs = vec![Value::from("file:policy.yaml")];
    for (r, (users, i)) in &images {
        let bom_ref = format!("image:{r}");
        let name = if i.registry.is_empty() {
            i.repository.clone()
        } else {
            format!("{}/{}", i.registry, i.repository)
        };
        let version = if i.digest.is_empty() {
            &i.tag
        } else {
            &i.digest
        };
        let runs: Vec<Value> = users
            .iter()
            .map(|u| json!({"name": "meshpack:runs", "value": u}))
            .collect();
        let mut c = json!({
            "type": "container",
            "bom-ref": bom_ref,
            "name": name,
            "version": version,
            "properties": runs,
        });
        if let Some(hex) = i.digest.strip_prefix("sha256:") {
            c["hashes"] = json!([{"alg": "SHA-256", "content": hex}]);
            c["purl"] = json!(purl(&i.registry, &i.repository, &i.tag, &i.digest));
        } else {
            c["description"] = json!("not pinned: no digest (use an image lock)");
        }
        components.push(c);
        refs.push(Value::from(bom_ref));
    }
    if let Some((name, _)) = lock {
        refs.push(Value::from(format!("file:{name}")));
    }
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "meshpack", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {
                "type": "application",
                "bom-ref": chart_ref,
                "name": m.name,
                "version": m.version,
                "description": format!("Helm chart {}-{}.tgz", m.name, m.version),
                "hashes": [{"alg": "SHA-256", "content": sha256(chart_tgz)}],
            },
        },
        "components": components,
        "dependencies": [{"ref": chart_ref, "dependsOn": refs}],
    });
    (serde_json::to_string_pretty(&doc).expect("json") + "\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: meshpack.dev/v1alpha1
kind: MeshPolicy
metadata: {name: shop}
spec:
  version: 1.0.0
  mesh: {proxy: docker.io/istio/proxyv2:1.24.2}
  services:
    web: {image: example.com/web:1.0, ports: {http: 8080}}
    api: {image: example.com/web:1.0, ports: {http: 8080}}
";

    #[test]
    fn components_by_digest() {
        let mut m = crate::compile_model(POLICY, None).unwrap();
        let d = format!("sha256:{}", "a".repeat(64));
        for (_, i) in m.images_mut() {
            if i.repository == "web" {
                i.digest = d.clone();
            }
        }
        let v: Value = serde_json::from_slice(&cyclonedx(&m, b"tgz", "p", None)).unwrap();
        assert_eq!(v["bomFormat"], "CycloneDX");
        assert_eq!(v["specVersion"], "1.5");
        assert_eq!(v["metadata"]["component"]["name"], "shop");
        assert_eq!(
            v["metadata"]["component"]["hashes"][0]["content"],
            sha256(b"tgz")
        );
        let c = &v["components"];
        assert_eq!(c[0]["name"], "policy.yaml");
        assert_eq!(c[0]["hashes"][0]["content"], sha256(b"p"));
        assert_eq!(c[1]["bom-ref"], "image:docker.io/istio/proxyv2:1.24.2");
        assert_eq!(c[1]["version"], "1.24.2");
        assert_eq!(
            c[1]["description"],
            "not pinned: no digest (use an image lock)"
        );
        assert_eq!(c[2]["bom-ref"], "image:example.com/web:1.0");
        assert_eq!(c[2]["name"], "example.com/web");
        assert_eq!(c[2]["version"], d.as_str());
        assert_eq!(c[2]["hashes"][0]["content"], "a".repeat(64));
        assert_eq!(
            c[2]["purl"],
            format!(
                "pkg:oci/web@sha256%3A{}?repository_url=example.com/web&tag=1.0",
                "a".repeat(64)
            )
        );
        assert_eq!(
            c[2]["properties"],
            json!([{"name": "meshpack:runs", "value": "api"}, {"name": "meshpack:runs", "value": "web"}])
        );
        assert_eq!(c.as_array().unwrap().len(), 3);
    }
}
