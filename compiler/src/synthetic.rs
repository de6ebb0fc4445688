//! Synthetic policies for benchmarks and tests: N services, an average
//! fan-out of k edges per service, a share of HTTP rules with paths and
//! methods, a gateway and egress hosts, deterministic by seed.

use serde_json::{json, Map, Value};

#[derive(Debug, Clone)]
pub struct Shape {
    pub services: usize,
    /// Average number of destinations each service may reach.
    pub fanout: usize,
    /// Percentage (0-100) of rules limited to HTTP paths and methods.
    pub http_percent: u32,
    pub seed: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            services: 100,
            fanout: 3,
            http_percent: 30,
            seed: 1,
        }
    }
}

/// splitmix64: small, deterministic, good enough to pick names.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn name(i: usize) -> String {
    format!("svc-{i:05}")
}

/// The policy as YAML text.
pub fn policy(shape: &Shape) -> String {
    let n = shape.services.max(1);
    let mut rng = Rng(shape.seed);
    let mut services = Map::new();
    for i in 0..n {
        let mut s = json!({
            "image": format!("registry.example.com/bench/{}:1.0.0", name(i)),
            "ports": {"http": 8080, "tcp-data": 5432},
        });
        if i % 10 == 9 {
            s["workload"] = json!("StatefulSet");
            s["storage"] = json!("1Gi");
        }
        services.insert(name(i), s);
    }
    let mut allow = vec![json!({"from": "gateway/public", "to": name(0), "ports": ["http"]})];
    for i in 0..n {
        for _ in 0..shape.fanout {
            let d = rng.below(n);
            if d == i {
                continue;
            }
            let http = (rng.below(100) as u32) < shape.http_percent;
            let mut r = json!({"from": name(i), "to": name(d)});
            if http {
                r["ports"] = json!(["http"]);
                r["paths"] = json!([format!("/v{}/*", rng.below(3) + 1)]);
                r["methods"] = json!(["GET", "POST"]);
            } else {
                r["ports"] = json!([if rng.below(2) == 0 {
                    "http"
                } else {
                    "tcp-data"
                }]);
            }
            allow.push(r);
        }
    }
    let egress: Vec<Value> = (0..n.div_ceil(50))
        .map(|j| json!({"host": format!("api{j}.partner.example.com"), "port": 443, "from": [name(rng.below(n))]}))
        .collect();
    let doc = json!({
        "apiVersion": crate::policy::POLICY_API_VERSION,
        "kind": "MeshPolicy",
        "metadata": {"name": "bench"},
        "spec": {
            "version": "1.0.0",
            "services": services,
            "gateways": {"public": {"hosts": ["bench.example.com"], "routes": [{"prefix": "/", "to": name(0)}]}},
            "allow": allow,
            "egress": egress,
        },
    });
    serde_yaml::to_string(&doc).expect("policy serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_valid() {
        let s = Shape {
            services: 40,
            fanout: 4,
            http_percent: 50,
            seed: 7,
        };
        assert_eq!(policy(&s), policy(&s));
        assert_ne!(
            policy(&s),
            policy(&Shape {
                seed: 8,
                ..s.clone()
            })
        );
        let m = crate::compile_model(&policy(&s), None).unwrap();
        assert_eq!(m.services.len(), 40);
        assert!(m.edges.iter().any(|e| !e.paths.is_empty()));
        assert!(m.edges.len() > 40);
    }
}
