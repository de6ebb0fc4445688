//! M011: two objects with the same group, kind, namespace and name: the
//! second overwrites the first on apply (and Helm refuses to install).

use super::Set;
use std::hash::{BuildHasher, RandomState};

pub fn run(set: &Set) -> Vec<(usize, String)> {
    // (hash, index) pairs, sorted, instead of a hash map keyed by four
    // borrowed strings: at a million objects the map's 72-byte buckets
    // were 150 MB at the run's peak, the pairs 8 bytes an object of one
    // kind (a 32-bit hash: about a hundred pairs of distinct keys share one at
    // a million objects, and cost a comparison each). Objects whose keys
    // hash alike are then compared by their keys.
    let key = |i: usize| {
        let o = &set.objects[i];
        (o.group(), o.kind(), set.ns(i), o.name())
    };
    let hasher = RandomState::new();
    let mut out = vec![];
    // Kind by kind (a repeat has its first's kind): the sort pairs are of
    // one kind at a time, not of every object (8 MB at a million objects,
    // at the checks' peak).
    let mut by_hash: Vec<(u32, u32)> = vec![];
    for of_kind in set.objects_by_kind() {
        by_hash.clear();
        by_hash.extend(
            of_kind
                .iter()
                .map(|&i| (hasher.hash_one(key(i as usize)) as u32, i)),
        );
        by_hash.sort_unstable();
        for same_hash in by_hash.chunk_by(|a, b| a.0 == b.0) {
            if same_hash.len() < 2 {
                continue;
            }
            // In object order (the sort put equal hashes by index); the
            // first object of each key is the one the others repeat.
            for (n, &(_, i)) in same_hash.iter().enumerate() {
                let i = i as usize;
                if let Some(&(_, first)) = same_hash[..n]
                    .iter()
                    .find(|(_, f)| key(*f as usize) == key(i))
                {
                    out.push((
                        i,
                        format!(
                            "same group, kind, namespace and name as the object at {}",
                            set.objects[first as usize].location()
                        ),
                    ));
                }
            }
        }
    }
    out.sort_by_key(|(i, _)| *i);
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

    #[test]
    fn every_repeat_names_the_first_object_of_its_key_in_object_order() {
        let cm = |name: &str| {
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n---\n")
        };
        let y = [
            cm("a"),
            cm("b"),
            cm("a"),
            // Same name, other kind and other group: not repeats.
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\n".to_string(),
            "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n".to_string(),
            cm("b"),
            cm("a"),
        ]
        .concat();
        let at = |line: usize| {
            format!("same group, kind, namespace and name as the object at t.yaml:{line}")
        };
        assert_eq!(
            check(super::run, &y),
            vec![
                ("ConfigMap/a".to_string(), at(1)),
                ("ConfigMap/b".to_string(), at(5)),
                ("ConfigMap/a".to_string(), at(1)),
            ]
        );
    }
}
