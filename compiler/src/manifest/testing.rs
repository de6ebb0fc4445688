//! Shared test fixtures of the manifest side: objects from YAML text and a
//! small workload with its Service, used by `validate`'s checks and
//! `verify`'s evaluators alike.
//!
//! Invariant: test-only; a fixture that does not parse fails the test that
//! uses it rather than yielding fewer objects.

use super::object::{compact, Object};
use super::read::parse;

/// The objects of a YAML stream (file `t.yaml`); panics on any read error.
pub fn objects(yaml: &str) -> Vec<Object> {
    let (mut o, mut e) = (vec![], vec![]);
    parse("t.yaml", yaml, &mut o, &mut e);
    assert!(e.is_empty(), "{e:?}");
    compact(o)
}

/// A Deployment `api` in namespace `shop` (ServiceAccount `api`, ports
/// `http` 8080 and `tcp-db` 5432) and its Service (80 -> 8080, 5432).
pub const APP: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api, version: v1}}
    spec:
      serviceAccountName: api
      containers: [{name: api, image: x:1, ports: [{name: http, containerPort: 8080}, {name: tcp-db, containerPort: 5432}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: tcp-db, port: 5432}]
";
