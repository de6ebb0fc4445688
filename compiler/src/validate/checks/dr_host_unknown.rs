//! M002: a DestinationRule for an in-cluster host that no Service (or
//! ServiceEntry) in the set declares applies to nothing.

use super::{is_cluster_host, Set};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (i, o) in set.of_kind("networking.istio.io", "DestinationRule") {
        let Some(host) = o.value["spec"]["host"].as_str() else {
            continue;
        };
        if host.contains('*')
            || !is_cluster_host(host)
            || set.analysis().service_entry_visible(host, set.ns(i))
        {
            continue;
        }
        if set.service_for_host(host, set.ns(i)).is_none() {
            out.push((i, format!("host {host} matches no Service in the set")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run as check, APP};

    #[test]
    fn short_and_qualified_hosts() {
        let dr = |name: &str, host: &str| {
            format!("---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: {name}, namespace: shop}}\nspec: {{host: {host}}}\n")
        };
        let y = format!(
            "{APP}{}{}{}{}{}",
            dr("a", "api"),
            dr("b", "api.shop.svc.cluster.local"),
            dr("c", "apx"),
            dr("d", "api.web.svc.cluster.local"),
            dr("e", "example.com")
        );
        assert_eq!(
            check(super::run, &y),
            vec![
                (
                    "DestinationRule/shop/c".to_string(),
                    "host apx matches no Service in the set".to_string()
                ),
                (
                    "DestinationRule/shop/d".to_string(),
                    "host api.web.svc.cluster.local matches no Service in the set".to_string()
                ),
            ]
        );
    }
}
