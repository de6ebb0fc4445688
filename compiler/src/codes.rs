//! The registry of diagnostic codes: every `E....` code the compiler
//! reports about a policy or an image lock, and every `V...` code
//! `meshpack validate` reports about a manifest, each with a one-line
//! summary and what to do. The mesh checks (`M...`) are registered where
//! they run, in `validate::checks::CHECKS`.
//!
//! Invariant: a code is declared here once and depends on nothing else in
//! the crate. `tests/docs.rs` fails when a code literal in `compiler/src` is
//! missing here or a code here is no longer used, and generates
//! `docs/errors.md` from this table (`UPDATE_GOLDEN=1 cargo test --test docs`).
//! Codes are stable: never reuse a retired code for another meaning.

/// One diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// `E0231`, `V004`.
    pub code: &'static str,
    /// What was found, in one line.
    pub summary: &'static str,
    /// What to do about it, in one line.
    pub action: &'static str,
}

const fn c(code: &'static str, summary: &'static str, action: &'static str) -> Code {
    Code {
        code,
        summary,
        action,
    }
}

/// The code families, by prefix, in the order the docs list them.
pub const FAMILIES: &[(&str, &str)] = &[
    ("E00", "The file and its shape (loading, the policy schema)"),
    ("E01", "Profiles"),
    ("E02", "Meaning: names, ports, rules, gateways, traffic"),
    (
        "E03",
        "Image locks (E0300-E0306); workloads: pod fields, files, service references (E0310-E0329); upgrades and apiVersions (E0350-E0357)",
    ),
    (
        "V",
        "`meshpack validate`: reading and schema-checking manifests",
    ),
];

/// Every `E` and `V` code, sorted.
pub const CODES: &[Code] = &[
    c("E0001", "the policy file is larger than 4 MiB", "a policy is a few kilobytes: check that you passed the right file"),
    c("E0002", "YAML syntax error", "fix the indentation (spaces, never tabs) or quoting near the position shown"),
    c("E0003", "a key appears twice in one mapping", "keep one of the two; YAML parsers disagree on which one wins"),
    c("E0004", "the file holds no YAML document, or more than one", "put exactly one policy in each file"),
    c("E0005", "the document nests deeper than 64 levels", "the policy language needs only a few levels: check for runaway nesting"),
    c("E0006", "aliases expand the document past 200,000 nodes", "write the values out, or use fewer nested aliases"),
    c("E0007", "a custom YAML tag (`!secret`, `!include`) the policy language gives no meaning", "remove the tag and write the plain value"),
    c("E0008", "a character YAML does not allow (a NUL or other control character, U+FFFE, U+FFFF, or a byte-order mark after the start)", "delete the character at the position shown"),
    c("E0009", "a string of the policy, or a file it packs, holds `mpx<N>x`, the form of the markers meshpack writes into chart templates", "change the text, e.g. `mpx-1-x`"),
    c("E0010", "a field does not fit its type: an unknown field or variant, or a wrong shape the schema let through", "use the field names and values the help line lists (`meshpack schema` describes them all)"),
    c("E0011", "unknown field", "fix the spelling (the help line suggests the closest field) or remove it"),
    c("E0012", "a required field is missing", "add the field; `meshpack schema` describes it"),
    c("E0013", "a value has the wrong type (a string where a number belongs, a list where a map belongs)", "write the type the message names"),
    c("E0014", "a value is not one of the allowed values (an enum or a constant such as `kind`)", "use one of the values the help line lists; the closest is suggested"),
    c("E0015", "a value breaks another schema rule (minimum, maximum, pattern, one of the short forms)", "read the rule in the message and fix the value"),
    c("E0101", "unknown profile", "use one of the built-in profiles: strict, permissive or ambient"),
    c("E0201", "unsupported `apiVersion` or `kind`", "start the policy with `apiVersion: meshpack.dev/v1alpha1` and `kind: MeshPolicy`"),
    c("E0202", "`metadata.name` is not a DNS-1035 label", "use at most 63 lowercase letters, digits and `-`, starting with a letter"),
    c("E0203", "`spec.version` is not a SemVer 2 version, is not a label value (build metadata `+...`), or makes `<name>-<version>` longer than 63 characters", "write a version such as `2.3.0` or `2.3.0-rc.1`"),
    c("E0204", "the policy declares no service", "add at least one service under `spec.services`"),
    c("E0206", "`spec.mesh.revision` is not an Istio revision name", "use a label value such as `1-24-2` or `canary`"),
    c("E0207", "`spec.images.registry` is not a registry host, or an image pull Secret name is not a DNS-1123 subdomain", "write a registry such as `registry.example.com:5000` and Secret names of lowercase letters, digits, `-` and `.`"),
    c("E0208", "a service is named like another service plus a suffix meshpack adds (`-waypoint` next to a service with a waypoint), so two objects would share a name", "rename the service"),
    c("E0210", "a service name is not a DNS-1035 label", "use lowercase letters, digits and `-`, starting with a letter"),
    c("E0211", "`<release>-<service>` is longer than object names may be (52 characters, or 63 with the longest suffix: `-from-ingress` for a service gateways reach)", "shorten the service or the policy name"),
    c("E0212", "an image reference is malformed, has no tag or digest, or uses `latest`", "write `[registry/]repository:tag` or `repository@sha256:<64 hex digits>`"),
    c("E0213", "a Deployment asks for storage", "add `workload: StatefulSet` so each replica keeps its own volume, or remove `storage`"),
    c("E0214", "a storage size is not a Kubernetes quantity", "write a quantity such as `20Gi`"),
    c("E0215", "`healthPath` is not an absolute path, or the service has no HTTP port", "write a path such as `/healthz` and name a port `http`, or remove `healthPath`"),
    c("E0216", "an env var name (an `env` key of the service or a version, an init container's `env[].name`) or an `envFrom` prefix is not an environment variable name", "use printable ASCII characters other than `=`"),
    c("E0217", "a service name is reserved for release-wide objects, or an external service name starts with `egress-`", "choose another service name"),
    c("E0218", "a service or version has no image", "add `image: repository:tag` (or `external:` for a service outside the cluster)"),
    c("E0219", "versions on a StatefulSet, a version name that is not a DNS-1035 label, or `<release>-<service>-<version>` too long", "versions run as Deployments: remove `workload: StatefulSet`, or rename or shorten the version"),
    c("E0220", "a port name is not an IANA service name", "use at most 15 lowercase letters, digits and single `-`, with a letter, such as `http-metrics`"),
    c("E0221", "a port is out of range", "use a port from 1 to 65535"),
    c("E0222", "unknown port or egress protocol", "use one of the protocols the help line lists"),
    c("E0223", "a port number or container port is declared twice in one service", "give each port its own number and target port"),
    c("E0230", "a rule or route names a port the service does not have", "use one of the service's port names or numbers (the help line lists them)"),
    c("E0231", "unknown service", "fix the name (the help line suggests the closest) or declare the service"),
    c("E0232", "unknown gateway in `from: gateway/<name>`", "name a gateway declared under `spec.gateways`"),
    c("E0233", "`*` as a source", "list the services that may connect; a wildcard source would defeat least privilege"),
    c("E0234", "an outside source's namespace or ServiceAccount is not a valid name", "write `{namespace: monitoring, serviceAccount: prometheus}` with DNS names"),
    c("E0235", "an HTTP method is not upper case or not a method", "write methods such as `GET` and `POST`"),
    c("E0236", "a path is not one Istio can match", "write an exact path, a prefix `/api/*`, a suffix `*.js`, or `*`"),
    c("E0237", "a rule allows traffic to a service that declares no ports", "add ports to the service"),
    c("E0238", "`paths` or `methods` on a port that is not HTTP", "Istio would silently deny this traffic: narrow the rule with `ports:` to HTTP ports, or split it"),
    c("E0239", "`from: []`, `to: []` or `ports: []` in a rule lists nothing", "name at least one source, destination or port, or remove `ports` to allow every port"),
    c("E0240", "a gateway name is not a DNS-1035 label, is the reserved `waypoint`, is the name of a service with its own VirtualService, is too long for its objects' names, or gives an HTTPRoute the name of another gateway's", "use lowercase letters, digits and `-`, another name than `waypoint` or a routed service's, and a name that leaves the release part 8 characters of 63"),
    c("E0241", "a gateway lists no host", "add the host names it answers for"),
    c("E0242", "a gateway host is not a host name, or is listed twice", "write each host once, as a DNS name such as `app.example.com` or `*.example.com`"),
    c("E0243", "`httpsRedirect` without `tls`", "add `tls.credentialName`, or remove `httpsRedirect`"),
    c("E0244", "a gateway's `tls.credentialName` or `serviceAccount` is not a valid name, or its `selector` is empty or has a label key or value Kubernetes refuses", "use DNS-1123 subdomains for names, and the labels of the gateway pods for the selector"),
    c("E0245", "unknown cert-manager issuer kind, or an issuer name that is not a DNS-1123 subdomain", "use `Issuer` or `ClusterIssuer`, and an issuer name of lowercase letters, digits, `-` and `.`"),
    c("E0246", "a gateway route matches no path, more than one kind of path, a path without `/` or not normalised (`//`, `/./`, `/../`, `#`, an unencoded space), or a regex that does not compile", "give each route exactly one of `prefix: /api`, `exact: /healthz` or `regex:` (RE2, matched against the whole path)"),
    c("E0247", "a gateway route goes to a port or service that is not HTTP", "route to a port named `http` or `http-<suffix>`"),
    c("E0248", "a gateway routes to a service no allow rule lets it reach", "add `{from: gateway/<name>, to: <service>}` to `spec.allow`"),
    c("E0249", "a route's host, header, rewrite or CORS setting is invalid", "use one of the gateway's hosts, lower-case header names, `rewrite` only with `prefix`, and at least one CORS origin"),
    c("E0250", "an egress host is not a host name", "write a DNS name such as `api.example.com` or `*.example.com`"),
    c("E0251", "two `egress` entries give one host and port two protocols", "give each host and port one protocol: the host's ServiceEntry lists each port once"),
    c("E0252", "a gateway's Gateway API objects would break a list limit that splitting HTTPRoutes cannot meet: more than 64 listeners (a host is one, two with `httpsRedirect`), more than 16 header matches in a route, or more than 16 routes of one host set that tie in precedence or include a regex match", "declare another gateway for some hosts, match at most 16 headers, or give some routes a `host` or paths that differ"),
    c("E0260", "mTLS DISABLE on a port that allow rules protect by identity", "identities travel in mutual TLS: use STRICT or PERMISSIVE for that port"),
    c("E0270", "a duration is malformed or not longer than 1ms", "write a number and a unit: `500ms`, `5s`, `1m`, `1h`"),
    c("E0271", "traffic settings name a version the service does not declare", "add the version under `versions:`, or fix its name"),
    c("E0272", "split weights not adding up to 100, or a version route without a lower-case header match", "give each version its share in percent; match a header such as `{x-canary: \"true\"}` in routes"),
    c("E0273", "an HTTP-only traffic setting on a service without an HTTP port", "remove the setting, or name a port `http`"),
    c("E0274", "an unknown retry condition, a fault that injects nothing, or a status or percentage out of range", "use Envoy's retry conditions, a status from 200 to 599 and percentages from 0 to 100"),
    c("E0275", "a tracing endpoint is not `host:port`", "write the collector's address, e.g. `otel-collector.observability.svc.cluster.local:4317`"),
    c("E0276", "`from: <service>@<version>` names a version the service does not declare", "use one of the versions under `spec.services.<service>.versions` (the help line lists them)"),
    c("E0277", "`from: <service>@<version>` on a service without versions, or on an attached service", "write `from: <service>`, or declare the version; an attached service has one ServiceAccount, so describe each version as an attached service of its own"),
    c("E0278", "`to: <service>@<version>`: allow rules do not scope destinations to a version", "write `to: <service>`; route requests to one version with `traffic.routes` or `split`"),
    c("E0279", "a version-scoped source in a rule to an external service", "write `from: <service>`: egress to external services is allowed per service, whose Sidecar and NetworkPolicy select every version"),
    c("E0280", "a field of a deployed service on an external service", "an external service is not deployed: remove the field (its ports go under `external.ports`)"),
    c("E0281", "an external service's host, address or ports are missing or invalid", "write the DNS name clients use, an IP address for a VM, and at least one port"),
    c("E0282", "`originateTls` on a VM in the mesh, or on a port that is not plain HTTP", "remove `originateTls`, or use it only for HTTP ports of hosts outside the mesh"),
    c("E0283", "an external service as a source, or a non-release source allowed to an external service", "only the release's services can be allowed to external services; allow outside workloads by `{namespace, serviceAccount}`"),
    c("E0284", "`paths` or `methods` on a rule to an external service", "no sidecar runs there to check them: allow its ports, or split the rule"),
    c("E0290", "a workload setting (image, replicas, versions, storage, env, resources, health path, security context) on an attached service", "set it in the chart or manifests that deploy the service, or remove `attach:` to let meshpack generate the workload"),
    c("E0291", "an attached service's workload, ServiceAccount or Service name is not a Kubernetes name", "write the names as the vendor's manifests have them: lowercase letters, digits, `-` (and `.` except for a Service)"),
    c("E0292", "an attached service's selector is empty, or has a label key or value Kubernetes refuses", "give the labels its Service selects, e.g. `selector: {app: frontend}`; an empty selector would select every pod of the namespace"),
    c("E0293", "a policy mixes attached and generated services", "add `attach: {}` to every service the vendor's chart deploys, or write a second policy for the generated ones"),
    c("E0300", "`spec.images.lock` is not a file name beside the policy, or cannot be read", "keep the lock next to the policy (`lock: images.lock`); create it with `meshpack images POLICY -o lock`"),
    c("E0301", "the lock file is not an image lock", "start it with `apiVersion: meshpack.dev/v1alpha1` and `kind: ImageLock`"),
    c("E0302", "a locked image is not `repository:tag`", "name the image as `meshpack images` prints it, without a digest"),
    c("E0303", "a locked digest is not a sha256 digest", "write `sha256:` and 64 lower-case hex digits, as `crane digest <image>` prints"),
    c("E0304", "an image is locked twice", "keep one entry"),
    c("E0305", "an image of the policy is not in the lock", "add `- {image: <image>, digest: sha256:...}` for it"),
    c("E0306", "the policy pins a digest the lock disagrees with", "remove the digest from the policy, or update the lock"),
    c("E0310", "`${` in env, command or args does not open a service reference", "write `${service:<name>}` or `${service:<name>:<port>}`; `$${` is a literal `${`"),
    c("E0311", "a service reference names no service of the policy", "name a service of `spec.services` (the help line suggests the closest)"),
    c("E0312", "a service reference names a port the service does not have", "use one of the port names (or numbers) the help line lists"),
    c("E0313", "a volume takes a name meshpack generates (`tmp`, `data`, `files`), is not a DNS-1123 label, or is taken by another volume", "give the volume another name"),
    c("E0314", "a volume mount names a volume the pod does not have, two mounts (with `/tmp`, storage and `files`) share a path, or an init container takes a container name already in the pod", "add the volume under `volumes` or fix the mount's `name`; give each mount its own path and each container its own name"),
    c("E0315", "a CronJob without a valid `schedule`, or a `schedule` on another kind", "write five cron fields (`0 3 * * *`) on a `workload: CronJob`, or remove `schedule`"),
    c("E0316", "a file under `files` is not a plain file name beside the policy", "keep the file next to the policy and write its name without folders"),
    c("E0317", "a mount path under `files` is not an absolute file path", "write where the container reads the file, e.g. `/etc/app/config.yaml`"),
    c("E0318", "a file under `files` cannot be read, or is larger than 1 MiB", "put the file beside the policy (not a link); larger files belong on a volume"),
    c("E0319", "an env var's `secretKeyRef` or `configMapKeyRef`, or an `envFrom` entry, names a Secret or ConfigMap, or a key of one, as Kubernetes does not allow", "name the Secret or ConfigMap by a DNS-1123 subdomain, and the key by letters, digits, `-`, `_` and `.`"),
    c("E0350", "warning: the policy's apiVersion `meshpack.dev/v1alpha1` is deprecated", "run `meshpack migrate FILE`: it rewrites the apiVersion and keeps comments"),
    c("E0351", "`spec.upgrades` in a `meshpack.dev/v1alpha1` policy", "run `meshpack migrate FILE` to move the policy to `meshpack.dev/v1alpha2`"),
    c("E0352", "a service renamed or removed under `spec.upgrades` is still a service of the policy", "remove it from `spec.services`, or from `spec.upgrades`"),
    c("E0353", "a service is renamed to a name that is not a service of the policy", "name a service of `spec.services` (the help line suggests the closest)"),
    c("E0354", "a name is both renamed and removed, or removed twice", "keep it once, under one of `spec.upgrades.renamed` and `spec.upgrades.removed`"),
    c("E0355", "a value path under `spec.upgrades` is not a dotted path of letters, digits, `-` and `_`", "write the chart value's path, e.g. `services.api.replicas`"),
    c("E0356", "a value is renamed to a path that is not a value of the chart", "name a value the chart's values.yaml or README lists (the help line suggests the closest)"),
    c("E0357", "a renamed or removed value is still a value of the chart (or holds or lies under one)", "an old key must be free in the new chart: remove it from `spec.upgrades`"),
    c("V001", "a file or document cannot be read as YAML or JSON", "fix the syntax at the line shown"),
    c("V002", "an object has no `apiVersion` or `kind`", "add both; every Kubernetes object needs them"),
    c("V003", "no schema for the object's apiVersion and kind", "pass `--crd` or `--schema-location`, or `--ignore-missing-schemas`"),
    c("V004", "the object breaks its schema (type, required field, unknown field in strict mode)", "fix the field at the JSON pointer shown; `--crd` with the upstream CRDs checks fields meshpack's built-in Istio schemas do not cover"),
    c("V005", "the object breaks a CEL rule (`x-kubernetes-validations`) the API server would enforce", "fix the field the rule's message names"),
    c("V006", "a CEL rule could not be evaluated (a warning)", "check that rule by hand, or on a cluster; the message says why it was not run"),
];

/// The registered code, if any.
pub fn find(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_and_in_a_family() {
        for pair in CODES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} must come before {} and be unique",
                pair[0].code,
                pair[1].code
            );
        }
        for c in CODES {
            assert!(
                FAMILIES.iter().any(|(p, _)| c.code.starts_with(p)),
                "{} belongs to no family",
                c.code
            );
            for text in [c.summary, c.action] {
                assert!(
                    !text.is_empty() && !text.contains('\n') && !text.contains('|'),
                    "{}: summary and action are one line without `|`",
                    c.code
                );
            }
        }
    }

    #[test]
    fn find_returns_the_entry() {
        assert_eq!(find("E0231").map(|c| c.summary), Some("unknown service"));
        assert_eq!(find("E9999"), None);
    }
}
