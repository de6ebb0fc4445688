//! Istio's access decision for one request.
//!
//! AuthorizationPolicy: CUSTOM is evaluated first (meshpack cannot call the
//! external authorizer, so CUSTOM policies are ignored), then DENY, then
//! ALLOW: with no ALLOW policy for the workload the request is allowed;
//! otherwise it must match a rule of one. Policies annotated
//! `istio.io/dry-run: "true"` are logged, not enforced. Policies in the root
//! namespace (`istio-system`) apply mesh-wide.
//! <https://istio.io/latest/docs/reference/config/security/authorization-policy/>
//!
//! On a port that is not HTTP, Istio cannot see methods or paths: an ALLOW
//! rule that needs them never matches, and a DENY rule ignores them (it
//! matches more, to stay safe).
//! <https://istio.io/latest/docs/ops/common-problems/security-issues/>
//!
//! PeerAuthentication: workload-level (port-level first) over
//! namespace-level over mesh-level; PERMISSIVE when none. A plaintext source
//! cannot reach a STRICT port, and with DISABLE even mesh sources arrive
//! without an identity.
//! <https://istio.io/latest/docs/reference/config/security/peer_authentication/>

use super::{string_match, Probe, Rendered, SourceFacts, Workload};
use crate::manifest::istio::{host_matches, principal_parts};
use crate::manifest::Node;
use crate::manifest::Object;

pub(crate) const ROOT_NAMESPACE: &str = "istio-system";

fn labels_match(selector: &Node, labels: &std::collections::BTreeMap<String, String>) -> bool {
    selector
        .as_object()
        .map(|m| {
            m.iter().all(|(k, v)| {
                v.as_str()
                    .is_some_and(|v| labels.get(k).map(String::as_str) == Some(v))
            })
        })
        .unwrap_or(true)
}

/// Whether a policy with this `selector` in namespace `ns` applies to `w`.
fn applies(o: &Object, selector_key: &str, w: &Workload) -> bool {
    let ns = o.value["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let sel = &o.value["spec"][selector_key];
    let labels = if selector_key == "workloadSelector" {
        &sel["labels"]
    } else {
        &sel["matchLabels"]
    };
    (ns == w.namespace || ns == ROOT_NAMESPACE)
        && (sel.is_null() || labels_match(labels, &w.labels))
}

/// The effective mTLS mode of a workload's port.
pub(crate) fn mtls_mode(set: &Rendered, w: &Workload, port: u16) -> String {
    let pas: Vec<&Object> = set
        .objects
        .iter()
        .filter(|o| o.kind() == "PeerAuthentication")
        .collect();
    let mode = |o: &Object| {
        o.value["spec"]["mtls"]["mode"]
            .as_str()
            .filter(|m| *m != "UNSET")
            .map(str::to_string)
    };
    let ns_of = |o: &Object| {
        o.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string()
    };
    let workload_level = pas.iter().find(|o| {
        ns_of(o) == w.namespace
            && o.value["spec"]["selector"]["matchLabels"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
            && labels_match(&o.value["spec"]["selector"]["matchLabels"], &w.labels)
    });
    if let Some(pa) = workload_level {
        if let Some(m) = pa.value["spec"]["portLevelMtls"][port.to_string()]["mode"].as_str() {
            if m != "UNSET" {
                return m.to_string();
            }
        }
        if let Some(m) = mode(pa) {
            return m;
        }
    }
    let unselected = |ns: &str| {
        pas.iter()
            .find(|o| ns_of(o) == ns && o.value["spec"]["selector"].is_null())
            .and_then(|o| mode(o))
    };
    unselected(&w.namespace)
        .or_else(|| unselected(ROOT_NAMESPACE))
        .unwrap_or_else(|| "PERMISSIVE".into())
}

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Allow,
    Deny,
}

fn list<'a>(v: &'a Node, k: &str) -> Option<Vec<&'a str>> {
    v.get(k)
        .and_then(Node::as_array)
        .map(|a| a.iter().filter_map(Node::as_str).collect())
}

/// Does a `source` match? Fields meshpack cannot know (JWT, IPs) match for
/// DENY and not for ALLOW: the evaluator never over-reports access.
fn source_matches(s: &Node, src: &SourceFacts, action: Action, policy_ns: &str) -> bool {
    let unknown = action == Action::Deny;
    for k in [
        "requestPrincipals",
        "notRequestPrincipals",
        "ipBlocks",
        "notIpBlocks",
        "remoteIpBlocks",
        "notRemoteIpBlocks",
    ] {
        if s.get(k).is_some() {
            return unknown;
        }
    }
    let ns = src.principal.as_ref().and(src.namespace.as_deref());
    let checks: [(&str, Option<&str>, bool); 4] = [
        ("principals", src.principal.as_deref(), false),
        ("notPrincipals", src.principal.as_deref(), true),
        ("namespaces", ns, false),
        ("notNamespaces", ns, true),
    ];
    for (key, value, negated) in checks {
        if let Some(patterns) = list(s, key) {
            let hit = value.is_some_and(|v| patterns.iter().any(|p| string_match(p, v)));
            if hit == negated {
                return false;
            }
        }
    }
    // `<ns>/<sa>`, or a bare `<sa>` in the policy's own namespace (Istio
    // 1.25+, istio/api#3417); matched exactly, whatever the trust domain.
    // <https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source>
    if let Some(sas) = list(s, "serviceAccounts") {
        let hit = src
            .principal
            .as_deref()
            .and_then(principal_parts)
            .is_some_and(|(ns, sa)| {
                sas.iter().any(|x| match x.split_once('/') {
                    Some((xn, xs)) => xn == ns && xs == sa,
                    None => ns == policy_ns && *x == sa,
                })
            });
        if !hit {
            return false;
        }
    }
    true
}

fn operation_matches(op: &Node, port: u16, http: bool, probe: &Probe, action: Action) -> bool {
    let port_s = port.to_string();
    if let Some(ports) = list(op, "ports") {
        if !ports.contains(&port_s.as_str()) {
            return false;
        }
    }
    if list(op, "notPorts").is_some_and(|ports| ports.contains(&port_s.as_str())) {
        return false;
    }
    if op.get("hosts").is_some() || op.get("notHosts").is_some() {
        return action == Action::Deny;
    }
    let http_fields = ["methods", "notMethods", "paths", "notPaths"];
    if !http {
        return match action {
            Action::Allow => !http_fields.iter().any(|k| op.get(*k).is_some()),
            Action::Deny => true,
        };
    }
    let (Some(method), Some(path)) = (&probe.method, &probe.path) else {
        return true;
    };
    if list(op, "methods").is_some_and(|ms| !ms.iter().any(|m| m == method)) {
        return false;
    }
    if list(op, "notMethods").is_some_and(|ms| ms.iter().any(|m| m == method)) {
        return false;
    }
    if list(op, "paths").is_some_and(|ps| !ps.iter().any(|p| string_match(p, path))) {
        return false;
    }
    if list(op, "notPaths").is_some_and(|ps| ps.iter().any(|p| string_match(p, path))) {
        return false;
    }
    true
}

fn rule_matches(
    rule: &Node,
    policy_ns: &str,
    src: &SourceFacts,
    port: u16,
    http: bool,
    probe: &Probe,
    action: Action,
) -> bool {
    if rule.get("when").is_some() {
        return action == Action::Deny;
    }
    let from_ok = match rule["from"].as_array() {
        None => true,
        Some([]) => true,
        Some(f) => f
            .iter()
            .any(|x| source_matches(&x["source"], src, action, policy_ns)),
    };
    let to_ok = match rule["to"].as_array() {
        None => true,
        Some([]) => true,
        Some(t) => t
            .iter()
            .any(|x| operation_matches(&x["operation"], port, http, probe, action)),
    };
    from_ok && to_ok
}

/// Istio's decision for a request from `src` to `dst`'s container `port`.
pub(crate) fn allowed(
    set: &Rendered,
    src: &SourceFacts,
    dst: &Workload,
    port: u16,
    http: bool,
    probe: &Probe,
) -> bool {
    if !dst.in_mesh() {
        return true; // neither sidecar nor ztunnel: Istio enforces nothing on this pod
    }
    let mut src = src.clone();
    if src.workload.as_ref().is_some_and(|w| !w.in_mesh()) {
        src.principal = None; // a pod outside the mesh speaks plaintext
    }
    if dst.ambient {
        return ambient_allowed(set, &src, dst, port, http, probe);
    }
    enforce(set, &src, dst, port, http, probe)
}

/// The sidecar's (or ztunnel's) decision: PeerAuthentication, then the
/// selector-based AuthorizationPolicies of the pod.
fn enforce(
    set: &Rendered,
    src: &SourceFacts,
    dst: &Workload,
    port: u16,
    http: bool,
    probe: &Probe,
) -> bool {
    let mut src = src.clone();
    match mtls_mode(set, dst, port).as_str() {
        "STRICT" if src.principal.is_none() => return false,
        "DISABLE" => src.principal = None,
        _ => {}
    }
    let policies: Vec<&Object> = set
        .objects
        .iter()
        .filter(|o| is_authz(o) && not_dry_run(o))
        .filter(|o| {
            o.value["spec"].get("targetRef").is_none()
                && o.value["spec"].get("targetRefs").is_none()
        })
        .filter(|o| applies(o, "selector", dst))
        .collect();
    decide(&policies, &dst.namespace, &src, port, http, probe)
}

/// Ambient: requests to a Service that uses a waypoint pass the waypoint's
/// policies (attached by `targetRefs`, with the caller's identity and L7),
/// then ztunnel's at the pod with the waypoint's identity; other requests
/// meet ztunnel alone, which sees no HTTP: an ALLOW policy with L7 fields
/// fails safe into denying.
/// <https://istio.io/latest/docs/ambient/usage/l7-features/>
fn ambient_allowed(
    set: &Rendered,
    src: &SourceFacts,
    dst: &Workload,
    port: u16,
    http: bool,
    probe: &Probe,
) -> bool {
    let at_pods = |src: &SourceFacts| -> bool {
        let l7_allow = set.objects.iter().any(|o| {
            is_authz(o)
                && o.value["spec"]["action"].as_str().unwrap_or("ALLOW") == "ALLOW"
                && o.value["spec"].get("targetRefs").is_none()
                && applies(o, "selector", dst)
                && has_l7(o)
        });
        !l7_allow
            && enforce(
                set,
                src,
                dst,
                port,
                false,
                &Probe {
                    method: None,
                    path: None,
                },
            )
    };
    match waypoint_of(set, dst) {
        Some((service, waypoint)) => {
            let attached: Vec<&Object> = set
                .objects
                .iter()
                .filter(|o| is_authz(o) && not_dry_run(o))
                .filter(|o| {
                    o.value["metadata"]["namespace"].as_str() == Some(dst.namespace.as_str())
                })
                .filter(|o| {
                    o.value["spec"]["targetRefs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|t| {
                            (t["kind"] == "Service" && t["name"].as_str() == Some(service.as_str()))
                                || (t["kind"] == "Gateway"
                                    && t["name"].as_str() == Some(waypoint.0.as_str()))
                        })
                })
                .collect();
            if src.principal.is_none() && mtls_mode(set, dst, port) == "STRICT" {
                return false;
            }
            if !decide(&attached, &dst.namespace, src, port, http, probe) {
                return false;
            }
            let via = SourceFacts {
                principal: Some(format!(
                    "{}/ns/{}/sa/{}",
                    set.trust_domain, dst.namespace, waypoint.1
                )),
                namespace: Some(dst.namespace.clone()),
                labels: None,
                workload: None,
            };
            at_pods(&via)
        }
        None => at_pods(src),
    }
}

fn is_authz(o: &Object) -> bool {
    o.kind() == "AuthorizationPolicy" && o.group() == "security.istio.io"
}

fn not_dry_run(o: &Object) -> bool {
    o.value["metadata"]["annotations"]["istio.io/dry-run"].as_str() != Some("true")
}

/// Whether a policy names HTTP attributes ztunnel cannot see.
fn has_l7(o: &Object) -> bool {
    const L7: [&str; 8] = [
        "methods",
        "notMethods",
        "paths",
        "notPaths",
        "hosts",
        "notHosts",
        "requestPrincipals",
        "notRequestPrincipals",
    ];
    o.value["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| {
            r["to"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| L7.iter().any(|k| t["operation"].get(*k).is_some()))
                || r["from"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|f| L7.iter().any(|k| f["source"].get(*k).is_some()))
                || r.get("when").is_some()
        })
}

/// DENY policies first, then ALLOW (none: allowed).
/// `dst_ns`: the namespace of policies that name none (the destination's).
fn decide(
    policies: &[&Object],
    dst_ns: &str,
    src: &SourceFacts,
    port: u16,
    http: bool,
    probe: &Probe,
) -> bool {
    let action_of = |o: &Object| {
        o.value["spec"]["action"]
            .as_str()
            .unwrap_or("ALLOW")
            .to_string()
    };
    let any_rule = |p: &Object, action: Action| {
        p.value["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| rule_matches(r, p.namespace(dst_ns), src, port, http, probe, action))
    };
    if policies
        .iter()
        .filter(|o| action_of(o) == "DENY")
        .any(|p| any_rule(p, Action::Deny))
    {
        return false;
    }
    let allows: Vec<&&Object> = policies
        .iter()
        .filter(|o| action_of(o) == "ALLOW")
        .collect();
    allows.is_empty() || allows.iter().any(|p| any_rule(p, Action::Allow))
}

/// The Service selecting `w` that uses a waypoint, and that waypoint's
/// (name, ServiceAccount): a Gateway of class `istio-waypoint` in the set.
fn waypoint_of(set: &Rendered, w: &Workload) -> Option<(String, (String, String))> {
    let services = set
        .objects
        .iter()
        .filter(|o| o.kind() == "Service" && o.api_version() == "v1");
    for svc in services {
        if svc.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or(&w.namespace)
            != w.namespace
        {
            continue;
        }
        let sel = &svc.value["spec"]["selector"];
        if !sel.is_object() || !labels_match(sel, &w.labels) {
            continue;
        }
        let Some(wp) = svc.value["metadata"]["labels"]["istio.io/use-waypoint"].as_str() else {
            continue;
        };
        let gateway = set.objects.iter().find(|o| {
            o.kind() == "Gateway"
                && o.group() == "gateway.networking.k8s.io"
                && o.name() == wp
                && o.value["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or(&w.namespace)
                    == w.namespace
                && o.value["spec"]["gatewayClassName"] == "istio-waypoint"
        });
        // A label naming no waypoint in the set: Istio routes directly.
        let Some(gateway) = gateway else { continue };
        let sa = gateway.value["metadata"]["annotations"]["gateway.istio.io/service-account"]
            .as_str()
            .unwrap_or(wp)
            .to_string();
        return Some((svc.name().to_string(), (wp.to_string(), sa)));
    }
    None
}

/// Whether an injected workload can reach an external host: its Sidecar's
/// outbound policy, a ServiceEntry declaring host and port, and the
/// Sidecar's egress hosts listing it.
/// <https://istio.io/latest/docs/reference/config/networking/sidecar/>
pub(crate) fn egress_allowed(set: &Rendered, w: &Workload, host: &str, port: u16) -> bool {
    // Without a sidecar (ambient, or outside the mesh) nothing limits hosts.
    if !w.injected {
        return true;
    }
    let sidecars: Vec<&Object> = set
        .objects
        .iter()
        .filter(|o| o.kind() == "Sidecar" && o.group().ends_with("istio.io"))
        .collect();
    let ns_of = |o: &Object| {
        o.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string()
    };
    let sidecar = sidecars
        .iter()
        .find(|o| {
            ns_of(o) == w.namespace
                && !o.value["spec"]["workloadSelector"].is_null()
                && applies(o, "workloadSelector", w)
        })
        .or_else(|| {
            sidecars
                .iter()
                .find(|o| ns_of(o) == w.namespace && o.value["spec"]["workloadSelector"].is_null())
        })
        .or_else(|| {
            sidecars.iter().find(|o| {
                ns_of(o) == ROOT_NAMESPACE && o.value["spec"]["workloadSelector"].is_null()
            })
        });
    let Some(sc) = sidecar else { return true }; // Istio's default: ALLOW_ANY
    if sc.value["spec"]["outboundTrafficPolicy"]["mode"].as_str() != Some("REGISTRY_ONLY") {
        return true;
    }
    let entry = set.objects.iter().find(|o| {
        o.kind() == "ServiceEntry"
            && {
                let exported = o.value["spec"]["exportTo"].as_array();
                let se_ns = ns_of(o);
                exported.is_none_or(|e| {
                    e.iter().any(|x| {
                        x == "*"
                            || (x == "." && se_ns == w.namespace)
                            || x.as_str() == Some(&w.namespace)
                    })
                })
            }
            && o.value["spec"]["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Node::as_str)
                .any(|h| host_matches(h, host))
            && o.value["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["number"].as_u64() == Some(port.into()))
    });
    let Some(se) = entry else { return false };
    let se_ns = ns_of(se);
    let sc_ns = ns_of(sc);
    sc.value["spec"]["egress"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|l| {
            l["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Node::as_str)
                .any(|h| {
                    let (ns, name) = h.split_once('/').unwrap_or(("*", h));
                    let ns_ok = ns == "*" || (ns == "." && sc_ns == se_ns) || ns == se_ns;
                    ns_ok && host_matches(name, host)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::super::{Probe, Rendered, Source};
    use crate::manifest::testing::objects;

    const PODS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/component: api, sidecar.istio.io/inject: 'true'}}
    spec:
      serviceAccountName: api
      containers: [{name: api, image: x:1, ports: [{name: http, containerPort: 8080}, {name: tcp-db, containerPort: 5432}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app.kubernetes.io/component: api}
  ports: [{name: http, port: 80, targetPort: http}, {name: tcp-db, port: 5432, targetPort: 5432}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/component: web, sidecar.istio.io/inject: 'true'}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: x:1}]
";

    fn set(extra: &str) -> Rendered {
        let o = objects(&format!("{PODS}---\n{extra}"));
        Rendered::new(o, "default", "cluster.local")
    }

    fn can(s: &Rendered, src: &Source, port: u16, method: &str, path: &str) -> bool {
        let facts = s.source_facts(src);
        let w = s.workload("api").unwrap();
        let http = w.ports[&port].1;
        let probe = if http {
            Probe {
                method: Some(method.into()),
                path: Some(path.into()),
            }
        } else {
            Probe {
                method: None,
                path: None,
            }
        };
        super::allowed(s, &facts, w, port, http, &probe)
    }

    fn web() -> Source {
        Source::Workload("web".into())
    }

    fn ap(name: &str, spec: &str) -> String {
        format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: shop}}\nspec: {spec}\n")
    }

    /// "If there are no ALLOW policies for the workload, allow the request."
    #[test]
    fn no_policy_allows() {
        let s = set("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
        assert!(can(&s, &web(), 8080, "GET", "/"));
        assert!(can(&s, &Source::Stranger, 5432, "", ""));
    }

    /// An ALLOW policy with no rules matches nothing: allow-nothing.
    #[test]
    fn allow_nothing_denies() {
        let s = set(&ap("none", "{}"));
        assert!(!can(&s, &web(), 8080, "GET", "/"));
    }

    #[test]
    fn principals_ports_methods_paths() {
        let s = set(&ap("a", "{selector: {matchLabels: {app.kubernetes.io/component: api}}, rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}], to: [{operation: {ports: ['8080'], methods: [GET], paths: ['/v1/*', '*.css', /exact]}}]}]}"));
        assert!(can(&s, &web(), 8080, "GET", "/v1/x"));
        assert!(can(&s, &web(), 8080, "GET", "/v1/"));
        assert!(
            !can(&s, &web(), 8080, "GET", "/v1"),
            "prefix match needs the trailing slash"
        );
        assert!(can(&s, &web(), 8080, "GET", "/a/b.css"));
        assert!(can(&s, &web(), 8080, "GET", "/exact"));
        assert!(!can(&s, &web(), 8080, "GET", "/exact/more"));
        assert!(!can(&s, &web(), 8080, "POST", "/v1/x"));
        assert!(!can(&s, &Source::Stranger, 8080, "GET", "/v1/x"));
        assert!(!can(&s, &web(), 5432, "", ""), "ports narrow the rule");
    }

    /// DENY is evaluated before ALLOW and wins.
    #[test]
    fn deny_before_allow() {
        let s = set(&format!(
            "{}---\n{}",
            ap("allow", "{rules: [{}]}"),
            ap(
                "deny",
                "{action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}"
            )
        ));
        assert!(can(&s, &web(), 8080, "GET", "/"));
        assert!(!can(&s, &web(), 8080, "GET", "/admin"));
    }

    /// HTTP-only fields on a TCP port: an ALLOW rule never matches, a DENY
    /// rule matches regardless of them.
    #[test]
    fn http_fields_on_tcp() {
        let s = set(&ap(
            "a",
            "{rules: [{to: [{operation: {ports: ['5432'], methods: [GET]}}]}]}",
        ));
        assert!(!can(&s, &web(), 5432, "", ""));
        let s = set(&format!(
            "{}---\n{}",
            ap("allow", "{rules: [{}]}"),
            ap(
                "d",
                "{action: DENY, rules: [{to: [{operation: {methods: [DELETE]}}]}]}"
            )
        ));
        assert!(!can(&s, &web(), 5432, "", ""));
        assert!(can(&s, &web(), 8080, "GET", "/"));
    }

    /// `istio.io/dry-run` policies are evaluated for logs only.
    #[test]
    fn dry_run_does_not_enforce() {
        let s = set("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: n, namespace: shop, annotations: {istio.io/dry-run: 'true'}}\nspec: {}\n");
        assert!(can(&s, &web(), 8080, "GET", "/"));
    }

    /// Policies in the root namespace apply to every namespace.
    #[test]
    fn root_namespace_applies_mesh_wide() {
        let s = set("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: n, namespace: istio-system}\nspec: {}\n");
        assert!(!can(&s, &web(), 8080, "GET", "/"));
    }

    #[test]
    fn not_principals_and_namespaces() {
        let s = set(&ap(
            "a",
            "{rules: [{from: [{source: {namespaces: [shop], notPrincipals: ['*/sa/web']}}]}]}",
        ));
        assert!(!can(&s, &web(), 8080, "GET", "/"));
        let s = set(&ap(
            "a",
            "{rules: [{from: [{source: {namespaces: [shop]}}]}]}",
        ));
        assert!(can(&s, &web(), 8080, "GET", "/"));
        assert!(!can(&s, &Source::Stranger, 8080, "GET", "/"));
    }

    /// A plaintext source cannot reach a STRICT port; port-level modes win.
    #[test]
    fn peer_authentication() {
        let pa = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: shop}\nspec: {selector: {matchLabels: {app.kubernetes.io/component: api}}, mtls: {mode: STRICT}, portLevelMtls: {'5432': {mode: PERMISSIVE}}}\n";
        let s = set(pa);
        assert!(!can(&s, &Source::Plaintext, 8080, "GET", "/"));
        assert!(can(&s, &Source::Plaintext, 5432, "", ""));
        assert!(can(&s, &web(), 8080, "GET", "/"));
        let s = set("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n");
        assert!(
            !can(&s, &Source::Plaintext, 5432, "", ""),
            "mesh-wide STRICT"
        );
    }
}
