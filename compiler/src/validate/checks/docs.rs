//! `docs/checks.md`, generated from the registry (`CHECKS`) and the list of
//! `istioctl analyze` codes meshpack does not reproduce (`LEFT_OUT`), so
//! the documentation cannot drift from the code. A test compares the file
//! with `markdown()`; `UPDATE_DOCS=1 cargo test -p meshpack --lib
//! checks_doc` rewrites it.
//!
//! Invariant: every code of Istio's message list
//! (`pkg/config/analysis/msg/messages.yaml`) is in `ISTIO_CODES` and is
//! either reproduced by a check, covered by the schema findings
//! (`SCHEMA_CODES`), or left out here with the reason.

use super::CHECKS;
use crate::diag::Severity;

/// Every code of Istio's analyzer messages (istio/istio master, 2026).
pub const ISTIO_CODES: &[&str] = &[
    "IST0001", "IST0002", "IST0101", "IST0102", "IST0103", "IST0106", "IST0107", "IST0108",
    "IST0109", "IST0110", "IST0111", "IST0112", "IST0116", "IST0118", "IST0123", "IST0125",
    "IST0126", "IST0127", "IST0128", "IST0129", "IST0130", "IST0131", "IST0132", "IST0133",
    "IST0134", "IST0135", "IST0136", "IST0137", "IST0138", "IST0139", "IST0140", "IST0141",
    "IST0142", "IST0143", "IST0144", "IST0145", "IST0146", "IST0147", "IST0148", "IST0149",
    "IST0150", "IST0151", "IST0152", "IST0153", "IST0154", "IST0155", "IST0156", "IST0157",
    "IST0158", "IST0159", "IST0160", "IST0161", "IST0162", "IST0163", "IST0164", "IST0165",
    "IST0166", "IST0167", "IST0168", "IST0169", "IST0170", "IST0171", "IST0172", "IST0173",
    "IST0174", "IST0175", "IST0176", "IST0177",
];

/// Istio codes the schema findings stand for: (IST code, meshpack codes, note).
pub const SCHEMA_CODES: &[(&str, &str, &str)] = &[
    ("IST0106", "V004, V005", "schema and CEL validation of every object, with Istio's CRDs via `--crd`"),
    ("IST0133", "V006, M044, M045", "Istio's validation warnings: the VirtualService ones are M044/M045; other validation warnings are not reproduced"),
];

/// Istio codes no check reproduces: (code, Istio analyzer, reason).
pub const LEFT_OUT: &[(&str, &str, &str)] = &[
    ("IST0001", "(istioctl itself)", "an internal error of istioctl, not a finding; meshpack's own failures exit with code 2"),
    ("IST0103", "injection.Analyzer", "needs running Pods: a pod template never carries the proxy the injection webhook adds at admission, so every template would be reported"),
    ("IST0126", "multicluster.MeshNetworksAnalyzer", "needs the control plane's meshNetworks config and the cluster's secrets for remote registries"),
    ("IST0139", "webhook.Analyzer", "needs the cluster's MutatingWebhookConfigurations and istiod's revision tags"),
    ("IST0141", "istioctl x precheck", "needs the cluster's RBAC (can the user create each resource)"),
    ("IST0142", "istioctl x precheck", "needs the cluster's Kubernetes version"),
    ("IST0143", "(no analyzer in pkg/config/analysis)", "needs the listening sockets of running pods, read from their proxies"),
    ("IST0146", "injection.ImageAutoAnalyzer", "needs the cluster's injection webhooks (their namespace and object selectors)"),
    ("IST0147", "injection.ImageAutoAnalyzer", "needs the cluster's injection webhooks (their namespace and object selectors)"),
    ("IST0148", "injection.Analyzer", "needs the injector ConfigMap of the installed control plane (enableNamespacesByDefault)"),
    ("IST0156", "k8sgateway.CRDVersionAnalyzer", "needs the Gateway API CRDs installed in the cluster"),
    ("IST0158", "injection.ImageAnalyzer", "needs running Pods and the injector ConfigMap of the installed control plane"),
    ("IST0163", "externalcontrolplane.ExternalControlPlaneAnalyzer", "needs the cluster's webhook configurations pointing at an external control plane"),
    ("IST0164", "externalcontrolplane.ExternalControlPlaneAnalyzer", "needs the cluster's webhook configurations pointing at an external control plane"),
    ("IST0168", "(istioctl upgrade checks)", "needs the installed Istio release and its compatibility version"),
    ("IST0169", "(istioctl upgrade checks)", "needs the installed Istio release and its compatibility version"),
    ("IST0170", "multicluster.ServiceAnalyzer", "needs the Services of several clusters"),
    ("IST0171", "conditions.ConditionAnalyzer", "reads `status.conditions` written by controllers in a cluster; rendered manifests carry no status"),
    ("IST0172", "k8sgateway.CRDVersionAnalyzer", "needs the Gateway API CRDs installed in the cluster"),
    ("IST0176", "k8sgateway.CRDVersionAnalyzer", "needs the Gateway API CRDs installed in the cluster"),
];

/// Parts of an Istio analyzer meshpack skips on purpose although a check
/// reproduces the rest: (IST code, what, why).
pub const FALSE_POSITIVES: &[(&str, &str)] = &[
    ("IST0101 (Gateway selector)", "Istio reports a Gateway whose selector matches no Pod. A rendered chart ships its Gateway without the ingress gateway's Deployment (installed with Istio), so every Gateway would be reported; M016, M017 and M036 decide only when the gateway's pods are in the set"),
    ("IST0101 (AuthorizationPolicy namespaces)", "Istio reports every `source.namespaces` entry that is not a Namespace it knows; rendered charts carry no Namespace objects, so every entry would be reported"),
    ("IST0127", "Istio matches selectors against Pods, so on rendered files every selector looks unmatched; M001 matches pod templates (Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, Pod), WorkloadEntries and Gateway API Gateways. Istio also reports a selector-less policy in a namespace without Pods; M001 does not"),
    ("IST0110, IST0111, IST0159, IST0160, IST0173", "read from pod templates, not Pods, so they work on rendered charts"),
    ("IST0162", "Istio ignores Service ports without `protocol` (Kubernetes defaults it to TCP only in a cluster); M016 counts them as TCP"),
    ("IST0107, IST0108, IST0125, IST0135, IST0136", "Istio reads the annotations of Namespaces, Services, Pods and the metadata of Deployments; on files there are no Pods, so M054-M058 read every pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) as the Pod it becomes, and judge names by Istio 1.30's annotation table (istio/api `annotation/annotations.yaml`, generated into `annotation_table.rs`). `proxy.istio.io/config` is only checked to be a YAML mapping, not field by field"),
    ("IST0136", "`istioctl analyze` leaves its maturity analyzer out of its run for noise, and M058 is opt-in likewise (`validate --enable M058`); it skips what Istio's analyzer skips (`sidecar.istio.io/status`, and on pods without `istio-init` the annotations istiod sets by default)"),
    ("IST0112", "Istio reports every mesh route without a port to a multi-port Service. Istio's proxies send such a request to the destination's port of the listener it was matched on (`GetDestinationCluster` in `pilot/pkg/networking/core/route`), so a VirtualService for that very Service (Istio's test case `reviews-2port-missing`) works for every port; M059 reports a mesh route only for the ports of the VirtualService's hosts the destination lacks, and a gateway route whenever the Service has several ports"),
];

/// Known differences from Istio's own test grid, measured as described in
/// the generated section: (what, why).
pub const DIFFERENCES: &[(&str, &str)] = &[
    ("IST0162, IST0149 on Istio's test files", "Istio's test harness adds a default ingress gateway Pod and Service that are not in the files; meshpack sees only the files"),
    ("IST0101 for a gateway credential in another namespace", "M006 accepts a Secret or Certificate of that name in any namespace of the set, Istio only in the gateway pods' namespace"),
    ("IST0101 for a route with an empty destination", "Istio reports a `destination: {}` as an unknown host; meshpack's schema check reports the missing host"),
    ("IST0112 for a mesh route to its own multi-port Service", "not reported by M059, see above"),
    ("IST0107, IST0108, IST0125, IST0135, IST0136", "added after this measurement; their fixtures (M054-M058) hold the situations of Istio's `misannotated.yaml` case, with the findings Istio's grid expects for it"),
    ("IST0127 for a policy without selector in a namespace without pods", "not reported by M001"),
    ("IST0132 for a VirtualService whose gateway is missing", "Istio reports both the missing gateway and the hosts; M023 reports the missing gateway only"),
    ("IST0134 with DNS auto-allocation", "meshpack does not read the mesh config, so it reports TCP ServiceEntries without addresses even where istiod allocates them"),
    ("IST0173 with topology labels", "Istio adds node topology labels to Pods before matching subsets; pod templates have no node"),
    ("IST0102 with enableNamespacesByDefault", "meshpack does not read the injector ConfigMap (IST0148), so it reports the namespace as not injected"),
    ("one finding per patch", "M047-M051 report each EnvoyFilter patch; Istio prints one message per object and code"),
];

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The whole of `docs/checks.md`.
pub fn markdown() -> String {
    let mut s = String::from(
        "<!-- Generated from compiler/src/validate/checks (CHECKS, docs.rs); do not edit.\n     Regenerate: UPDATE_DOCS=1 cargo test -p meshpack --lib checks_doc -->\n\
# `meshpack validate`: mesh checks\n\n\
`meshpack validate` runs these checks over every object of its input,\n\
offline. Each has a stable code; where it reproduces an `istioctl analyze`\n\
message the table names that code\n\
([Istio's list](https://istio.io/latest/docs/reference/config/analysis/)),\n\
and `--output json` carries it in each finding's `ist` field. Workloads are\n\
read from pod templates (Deployment, StatefulSet, DaemonSet, ReplicaSet,\n\
Job, CronJob) and Pods, so the checks work on rendered charts. Every check\n\
is linear in the number of objects (selectors are answered from a label\n\
index built once).\n\n\
| code | severity | Istio | finding |\n| --- | --- | --- | --- |\n",
    );
    for c in CHECKS {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.code,
            severity(c.severity),
            c.ist.unwrap_or("-"),
            cell(c.summary)
        ));
    }
    s.push_str(
        "\nSchema findings stand for Istio's schema messages:\n\n\
| Istio | meshpack | note |\n| --- | --- | --- |\n",
    );
    for (ist, ours, note) in SCHEMA_CODES {
        s.push_str(&format!("| {ist} | {ours} | {} |\n", cell(note)));
    }
    s.push_str(
        "\n## Istio analyzers left out\n\n\
These need a live cluster (or the installed control plane's configuration),\n\
or are not implemented yet; the reason says which.\n\n\
| Istio | analyzer | reason |\n| --- | --- | --- |\n",
    );
    for (ist, analyzer, why) in LEFT_OUT {
        s.push_str(&format!("| {ist} | {analyzer} | {} |\n", cell(why)));
    }
    s.push_str(
        "\n## Where meshpack differs on purpose\n\n\
Istio's analyzers misread rendered files in these places:\n\n",
    );
    for (what, why) in FALSE_POSITIVES {
        s.push_str(&format!("- **{what}**: {why}.\n"));
    }
    s.push_str(
        "\n## Measured against Istio's analyzer tests\n\n\
Run on the inputs of Istio's analyzer test grid\n\
(`pkg/config/analysis/analyzers/analyzers_test.go` and its `testdata/`,\n\
istio/istio master, 2026) and compared with the findings that grid\n\
expects, for the analyzers meshpack reproduces (84 test cases, 146\n\
expected findings; the 18 cases of left-out analyzers are not counted):\n\
meshpack reports 138 of the 146, and 9 findings the grid does not expect.\n\
The differences:\n\n",
    );
    for (what, why) in DIFFERENCES {
        s.push_str(&format!("- **{what}**: {why}.\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_istio_code_is_checked_covered_or_left_out() {
        let ours: BTreeSet<&str> = CHECKS.iter().filter_map(|c| c.ist).collect();
        let schema: BTreeSet<&str> = SCHEMA_CODES.iter().map(|c| c.0).collect();
        let left: BTreeSet<&str> = LEFT_OUT.iter().map(|c| c.0).collect();
        let all: BTreeSet<&str> = ISTIO_CODES.iter().copied().collect();
        let mut missing = vec![];
        for c in &all {
            if !ours.contains(c) && !schema.contains(c) && !left.contains(c) {
                missing.push(*c);
            }
        }
        assert!(
            missing.is_empty(),
            "neither checked nor left out: {missing:?}"
        );
        for c in ours.iter().chain(&schema).chain(&left) {
            assert!(all.contains(c), "{c} is not one of Istio's codes");
        }
        // A code is left out only when no check reproduces it.
        let both: Vec<&&str> = left.intersection(&ours).collect();
        assert!(both.is_empty(), "both reproduced and left out: {both:?}");
    }

    #[test]
    fn codes_are_unique_and_ordered() {
        let codes: Vec<&str> = CHECKS.iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
    }

    #[test]
    fn checks_doc_is_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/checks.md");
        let want = markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/checks.md is stale; regenerate it with UPDATE_DOCS=1 cargo test -p meshpack --lib checks_doc"
        );
    }
}
