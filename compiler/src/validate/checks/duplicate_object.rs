//! M011: two objects with the same group, kind, namespace and name: the
//! second overwrites the first on apply (and Helm refuses to install).

use super::Set;
use std::collections::HashMap;

pub fn run(set: &Set) -> Vec<(usize, String)> {
    // Keys borrow from the objects: this check visits every object, and
    // four owned strings per object were most of its time at 100,000.
    let mut seen: HashMap<(&str, &str, &str, &str), usize> =
        HashMap::with_capacity(set.objects.len());
    let mut out = vec![];
    for (i, o) in set.objects.iter().enumerate() {
        let key = (o.group(), o.kind(), set.ns(i), o.name());
        if let Some(first) = seen.get(&key) {
            out.push((
                i,
                format!(
                    "same group, kind, namespace and name as the object at {}",
                    set.objects[*first].location()
                ),
            ));
        } else {
            seen.insert(key, i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::run as check;

    #[test]
    fn duplicates_by_group_kind_namespace_name() {
        let y = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: other}\n";
        assert_eq!(
            check(super::run, y),
            vec![(
                "ConfigMap/default/a".to_string(),
                "same group, kind, namespace and name as the object at t.yaml:1".to_string()
            )]
        );
    }
}
