//! The Gateway API's Gateway and HTTPRoute as typed structs whose
//! install-time fields are [`At`]s (or the `Value` `Names` returns for a
//! release-named field): `crate::gateway_api`'s types, which give
//! `validate` its schemas, cannot hold a marker where a class name, a
//! Secret's name or a list of hostnames goes, so `gateway` used to patch
//! their JSON by index.
//!
//! Invariant: the fields and their order are `crate::gateway_api`'s (so the
//! output is what those types serialise to); the parts without
//! install-time fields reuse them.
//! <https://gateway-api.sigs.k8s.io/reference/spec/>

use super::out::At;
use crate::gateway_api as gapi;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

const API_VERSION: &str = "gateway.networking.k8s.io/v1";

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// `Names::meta` with the gateway's annotations and namespace.
    pub metadata: Value,
    pub spec: GatewaySpec,
}

impl Gateway {
    pub fn new(metadata: Value, spec: GatewaySpec) -> Self {
        Gateway {
            api_version: API_VERSION,
            kind: "Gateway",
            metadata,
            spec,
        }
    }
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    pub gateway_class_name: At<String>,
    pub listeners: Vec<Listener>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub port: u16,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    pub mode: String,
    pub certificate_refs: Vec<SecretRef>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone)]
pub struct SecretRef {
    pub name: At<String>,
}

#[derive(Serialize, Debug, Clone)]
pub struct AllowedRoutes {
    pub namespaces: RouteNamespaces,
}

#[derive(Serialize, Debug, Clone)]
pub struct RouteNamespaces {
    pub from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Label values as `Out::text` returns them (the release namespace).
    pub match_labels: BTreeMap<String, Value>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// `Names::meta`.
    pub metadata: Value,
    pub spec: HttpRouteSpec,
}

impl HttpRoute {
    pub fn new(metadata: Value, spec: HttpRouteSpec) -> Self {
        HttpRoute {
            api_version: API_VERSION,
            kind: "HTTPRoute",
            metadata,
            spec,
        }
    }
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    pub parent_refs: Vec<ParentRef>,
    pub hostnames: At<Vec<String>>,
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// The Gateway's object name (`Names::object`).
    pub name: Value,
    pub namespace: At<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

#[derive(Serialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<gapi::HttpRouteMatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<gapi::HttpRouteFilter>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Serialize, Debug, Clone)]
pub struct BackendRef {
    /// The Service as clients call it (`Names::host`).
    pub name: Value,
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// With every field a literal, the typed structs serialise as
    /// `crate::gateway_api`'s do: same keys, same order.
    #[test]
    fn literals_serialise_as_the_schema_types() {
        let listener = gapi::Listener {
            name: "https-0".into(),
            hostname: Some("a.example.com".into()),
            port: 443,
            protocol: "HTTPS".into(),
            tls: Some(gapi::ListenerTls {
                mode: "Terminate".into(),
                certificate_refs: vec![gapi::SecretRef { name: "tls".into() }],
                options: BTreeMap::from([("k".to_string(), "v".to_string())]),
            }),
            allowed_routes: Some(gapi::AllowedRoutes {
                namespaces: gapi::RouteNamespaces {
                    from: "Selector".into(),
                    selector: Some(gapi::LabelSelector {
                        match_labels: BTreeMap::from([("ns".to_string(), "shop".to_string())]),
                    }),
                },
            }),
        };
        let mut schema = serde_json::to_value(gapi::Gateway::new(
            "",
            gapi::GatewaySpec {
                gateway_class_name: "istio".into(),
                listeners: vec![listener],
            },
        ))
        .unwrap();
        schema["metadata"] = json!({"name": "g"});
        let typed = serde_json::to_value(Gateway::new(
            json!({"name": "g"}),
            GatewaySpec {
                gateway_class_name: At::Lit("istio".into()),
                listeners: vec![Listener {
                    name: "https-0".into(),
                    hostname: Some("a.example.com".into()),
                    port: 443,
                    protocol: "HTTPS".into(),
                    tls: Some(ListenerTls {
                        mode: "Terminate".into(),
                        certificate_refs: vec![SecretRef {
                            name: At::Lit("tls".into()),
                        }],
                        options: BTreeMap::from([("k".to_string(), "v".to_string())]),
                    }),
                    allowed_routes: Some(AllowedRoutes {
                        namespaces: RouteNamespaces {
                            from: "Selector".into(),
                            selector: Some(LabelSelector {
                                match_labels: BTreeMap::from([("ns".to_string(), json!("shop"))]),
                            }),
                        },
                    }),
                }],
            },
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_string(&typed).unwrap(),
            serde_json::to_string(&schema).unwrap()
        );

        let mut schema = serde_json::to_value(gapi::HTTPRoute::new(
            "",
            gapi::HttpRouteSpec {
                parent_refs: vec![gapi::ParentRef {
                    name: "g".into(),
                    namespace: "istio-ingress".into(),
                    section_name: Some("https-0".into()),
                }],
                hostnames: vec!["a.example.com".into()],
                rules: vec![gapi::HttpRouteRule {
                    backend_refs: vec![gapi::BackendRef {
                        name: "api".into(),
                        port: 8080,
                    }],
                    ..Default::default()
                }],
            },
        ))
        .unwrap();
        schema["metadata"] = json!({"name": "r"});
        let typed = serde_json::to_value(HttpRoute::new(
            json!({"name": "r"}),
            HttpRouteSpec {
                parent_refs: vec![ParentRef {
                    name: json!("g"),
                    namespace: At::Lit("istio-ingress".into()),
                    section_name: Some("https-0".into()),
                }],
                hostnames: At::Lit(vec!["a.example.com".into()]),
                rules: vec![HttpRouteRule {
                    backend_refs: vec![BackendRef {
                        name: json!("api"),
                        port: 8080,
                    }],
                    ..Default::default()
                }],
            },
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_string(&typed).unwrap(),
            serde_json::to_string(&schema).unwrap()
        );
    }
}
