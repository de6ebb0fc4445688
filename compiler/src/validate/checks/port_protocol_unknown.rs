//! M008: a Service port whose name has no protocol prefix Istio knows and
//! which sets no `appProtocol`: Istio sniffs, which breaks server-first
//! protocols (MySQL, SMTP) and disables L7 policy on the port.
//! <https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/>

use super::{protocol, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for s in &set.services {
        let spec = &set.objects[s.object].value["spec"];
        if spec["type"] == "ExternalName" {
            continue; // M030
        }
        if super::analysis::istio_managed_service(&set.objects[s.object], &s.namespace) {
            continue;
        }
        for (n, p) in s.ports.iter().enumerate() {
            // UDP and SCTP ports are what they say, whatever their name
            // (Istio's `kube.ConvertProtocol`).
            if matches!(spec["ports"][n]["protocol"].as_str(), Some("UDP" | "SCTP")) {
                continue;
            }
            if protocol(&p.name, p.app_protocol.as_deref()).is_none() {
                let what = match &p.app_protocol {
                    Some(a) => format!("appProtocol {a} is not one Istio knows"),
                    None if p.name.is_empty() => "has no name and no appProtocol".to_string(),
                    None => format!(
                        "name {} has no protocol prefix and no appProtocol is set",
                        p.name
                    ),
                };
                out.push((
                    s.object,
                    format!(
                        "port {} {what}; name it <protocol>[-suffix] or set appProtocol",
                        p.port
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    #[test]
    fn names_and_app_protocols() {
        let y = "
apiVersion: v1
kind: Service
metadata: {name: s, namespace: shop}
spec:
  ports:
  - {name: http-web, port: 80}
  - {name: postgres, port: 5432}
  - {name: db, port: 5433, appProtocol: tcp}
  - {name: x, port: 9000, appProtocol: quic}
";
        assert_eq!(
            check(super::run, y),
            vec![
                ("Service/shop/s".to_string(), "port 5432 name postgres has no protocol prefix and no appProtocol is set; name it <protocol>[-suffix] or set appProtocol".to_string()),
                ("Service/shop/s".to_string(), "port 9000 appProtocol quic is not one Istio knows; name it <protocol>[-suffix] or set appProtocol".to_string()),
            ]
        );
    }
}
