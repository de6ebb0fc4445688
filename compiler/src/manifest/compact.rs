//! The compact pieces the object index is built of, so that its memory is
//! a few bytes per workload, Service and label rather than a tree of owned
//! strings (at a million objects in one namespace the index held 280 MB
//! in `BTreeMap<String, String>`s, `(String, String, String)` keys and
//! `Vec<usize>`s; see BENCHMARKS.md):
//! - [`Strings`]: every distinct string of the index once, with a `u32` id,
//!   kept as the objects' own [`Str`] where they have it (no copy);
//! - [`Labels`]: a label or annotation map as a map node in key order (the
//!   object's own when it is one);
//! - [`Postings`]: many ascending lists of `u32` in two flat arrays.
//!
//! Invariant: each reads exactly like what it replaces (`Labels` like a
//! `BTreeMap<String, String>`: keys distinct, iterated in key order;
//! `Postings` like a `Vec<Vec<u32>>` of ascending lists); only memory and
//! cost differ.

use super::node::{Node, NodeMap, Str, View};
use std::collections::{BTreeMap, HashMap};

/// Distinct strings, each stored once and numbered in order of arrival.
/// A string is an 8-byte [`Str`]: the objects' own allocation when it came
/// from a string node (`keep`), so the index copies no text it can share
/// (at a million objects an `Arc<str>` per distinct string was 4 MB, and
/// each field holding one 16 bytes).
#[derive(Default)]
pub struct Strings {
    ids: HashMap<Str, u32>,
}

impl Strings {
    /// The shared copy of `s` and its id, adding a copy of it when new.
    pub fn intern(&mut self, s: &str) -> (u32, Str) {
        if let Some((k, id)) = self.ids.get_key_value(s) {
            return (*id, k.clone());
        }
        self.add(Str::new(s))
    }

    /// Like `intern`, keeping `s` itself (another reference to its
    /// allocation, not a copy) when new.
    pub fn keep(&mut self, s: &Str) -> (u32, Str) {
        if let Some((k, id)) = self.ids.get_key_value(&**s) {
            return (*id, k.clone());
        }
        self.add(s.clone())
    }

    fn add(&mut self, s: Str) -> (u32, Str) {
        let id = u32::try_from(self.ids.len()).expect("fewer than 2^32 strings");
        self.ids.insert(s.clone(), id);
        (id, s)
    }

    /// The shared copy of `s`.
    pub fn share(&mut self, s: &str) -> Str {
        self.intern(s).1
    }

    /// The shared copy of a string node's text (the node's own allocation
    /// when new), or of `default` for any other node.
    pub fn text(&mut self, v: &Node, default: &str) -> Str {
        match v.view() {
            View::String(s) => self.keep(s).1,
            _ => self.share(default),
        }
    }

    /// The id of `s`, if it was interned (a string the index never saw
    /// matches nothing in it).
    pub fn id(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
}

/// A label (or annotation) map: keys distinct and ascending, values
/// strings, as one map node: 8 bytes, and no allocation of its own when
/// the object's map already is one (`of_map`: most label maps have a few
/// keys, written in order, and their trees are shared). At a million
/// objects a boxed slice of shared string pairs per map was 9 MB more.
#[derive(Clone, Default)]
pub struct Labels(Option<NodeMap>);

impl Labels {
    /// From (key, value) pairs in any order; a later pair of the same key
    /// wins, as inserting them one by one into a map would.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(
        strings: &mut Strings,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Labels {
        Labels::from_shared(
            pairs
                .into_iter()
                .map(|(k, v)| (strings.share(k.as_ref()), strings.share(v.as_ref())))
                .collect(),
        )
    }

    /// From pairs already shared through [`Strings`], in any order (as `new`).
    pub fn from_shared(mut v: Vec<(Str, Str)>) -> Labels {
        // Stable, so pairs of one key stay in arrival order; keep the last.
        v.sort_by(|a, b| str::cmp(&a.0, &b.0));
        v.dedup_by(|later, earlier| {
            let same = *later.0 == *earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        if v.is_empty() {
            return Labels::default();
        }
        let (keys, values) = v
            .into_iter()
            .map(|(k, v)| (Node::from(k), Node::from(v)))
            .unzip();
        Labels(Some(NodeMap::from_parts(keys, values)))
    }

    /// A label map as `string_map` reads an object's (a value that is no
    /// string is its JSON text), every string shared through `strings`:
    /// the map itself when its keys are already in order and its values
    /// strings, else a sorted copy.
    pub fn of_map(strings: &mut Strings, map: &NodeMap) -> Labels {
        let mut in_order = true;
        let mut last: Option<&str> = None;
        for (k, v) in map.iter() {
            strings.share(k);
            match v.view() {
                View::String(s) => {
                    strings.keep(s);
                }
                _ => in_order = false,
            }
            in_order &= last.is_none_or(|l| l < k);
            last = Some(k);
        }
        if map.is_empty() {
            return Labels::default();
        }
        if in_order && map.plain().is_some() {
            return Labels(Some(map.clone()));
        }
        Labels::from_shared(
            map.iter()
                .map(|(k, v)| {
                    let v = match v.view() {
                        View::String(s) => strings.keep(s).1,
                        _ => strings.share(&v.to_string()),
                    };
                    (strings.share(k), v)
                })
                .collect(),
        )
    }

    /// The keys and the values (string nodes), in key order.
    fn parts(&self) -> (&[Node], &[Node]) {
        self.0
            .as_ref()
            .and_then(NodeMap::plain)
            .unwrap_or((&[], &[]))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        let (keys, values) = self.parts();
        keys.binary_search_by(|k| k.as_str().unwrap_or("").cmp(key))
            .ok()
            .and_then(|i| values[i].as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// (key, value) pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let (keys, values) = self.parts();
        keys.iter()
            .zip(values)
            .map(|(k, v)| (k.as_str().unwrap_or(""), v.as_str().unwrap_or("")))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.parts().0.len()
    }

    /// Whether every (key, value) of `selector` is here.
    pub fn contains_all(&self, selector: &impl Selector) -> bool {
        selector.pairs().all(|(k, v)| self.get(k) == Some(v))
    }

    /// An owned map, for readers that keep or change one.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// Equal when they hold the same pairs (both are in key order).
impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for Labels {}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A label selector's (key, value) pairs: an owned map a check built, or
/// a Service's [`Labels`].
pub trait Selector {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)>;
    fn is_empty(&self) -> bool;
}

impl Selector for BTreeMap<String, String> {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn is_empty(&self) -> bool {
        BTreeMap::is_empty(self)
    }
}

impl Selector for Labels {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter()
    }
    fn is_empty(&self) -> bool {
        Labels::is_empty(self)
    }
}

/// Lists of `u32` numbered `0..len`, each ascending, in two flat arrays:
/// 8 bytes per list and 4 per item, where a `Vec<Vec<usize>>` takes 24
/// per list, 8 per item and an allocation per list.
#[derive(Debug, Default)]
pub struct Postings {
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl Postings {
    /// From (list, item) pairs in any order, for lists `0..lists`; each
    /// list comes out ascending, duplicates kept.
    pub fn new(lists: usize, mut pairs: Vec<(u32, u32)>) -> Postings {
        pairs.sort_unstable();
        let mut starts = Vec::with_capacity(lists + 1);
        let mut items = Vec::with_capacity(pairs.len());
        let mut next = 0;
        for list in 0..lists {
            starts.push(items.len() as u32);
            while next < pairs.len() && pairs[next].0 as usize == list {
                items.push(pairs[next].1);
                next += 1;
            }
        }
        starts.push(items.len() as u32);
        assert_eq!(next, pairs.len(), "a pair names a list past {lists}");
        Postings { starts, items }
    }

    /// Item `i` in list `list_of[i]`, for lists `0..lists` (so each list
    /// is ascending): a counting sort, with no (list, item) pairs to build
    /// and sort (for the objects by kind at a million objects, 8 MB and a
    /// doubling `Vec` of them at the index's peak).
    #[cfg(test)]
    pub fn of_items(lists: usize, list_of: &[u32]) -> Postings {
        let mut p = Postings::of_items_with(|each| list_of.iter().for_each(|l| each(*l)));
        p.starts.resize(lists + 1, p.starts[p.starts.len() - 1]);
        p
    }

    /// As `of_items`, for items whose lists `each_item` calls back in
    /// order, twice (to count, then to place): the list numbers are never
    /// held (4 MB at a million objects, at the index's peak).
    pub fn of_items_with(mut each_item: impl FnMut(&mut dyn FnMut(u32))) -> Postings {
        let mut starts = vec![0u32];
        let mut total = 0usize;
        each_item(&mut |l| {
            let l = l as usize + 1;
            if starts.len() <= l {
                starts.resize(l + 1, 0);
            }
            starts[l] += 1;
            total += 1;
        });
        for l in 1..starts.len() {
            starts[l] += starts[l - 1];
        }
        let mut next = starts.clone();
        let mut items = vec![0u32; total];
        let mut i = 0u32;
        each_item(&mut |l| {
            let at = &mut next[l as usize];
            items[*at as usize] = i;
            *at += 1;
            i += 1;
        });
        Postings { starts, items }
    }

    /// Every list, in order.
    pub fn lists(&self) -> impl Iterator<Item = &[u32]> + '_ {
        self.starts
            .windows(2)
            .map(|w| &self.items[w[0] as usize..w[1] as usize])
    }

    /// List `i` (empty past the end).
    pub fn get(&self, i: usize) -> &[u32] {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.items[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// [`Postings`] found by key: the distinct keys sorted, list `i` the one
/// of `keys[i]`, so a lookup is a binary search over small `Copy` keys (of
/// the index's `u32` string ids) and there is no hash table: a
/// `HashMap<(u32, u32, u32), u32>` of 125,000 keys is 262,144 buckets of
/// 17 bytes (4.25 MiB); here 12 bytes a key.
#[derive(Debug)]
pub struct Keyed<K> {
    keys: Box<[K]>,
    lists: Postings,
}

impl<K> Default for Keyed<K> {
    fn default() -> Self {
        Keyed {
            keys: Box::default(),
            lists: Postings::default(),
        }
    }
}

impl<K: Ord + Copy> Keyed<K> {
    /// From (key, item) pairs in any order; each key's list comes out
    /// ascending, duplicates kept.
    pub fn new(mut pairs: Vec<(K, u32)>) -> Keyed<K> {
        pairs.sort_unstable();
        let distinct = pairs
            .iter()
            .enumerate()
            .filter(|(i, p)| *i == 0 || pairs[i - 1].0 != p.0)
            .count();
        let mut keys = Vec::with_capacity(distinct);
        let mut starts = Vec::with_capacity(distinct + 1);
        let mut items = Vec::with_capacity(pairs.len());
        for (k, item) in pairs {
            if keys.last() != Some(&k) {
                keys.push(k);
                starts.push(items.len() as u32);
            }
            items.push(item);
        }
        starts.push(items.len() as u32);
        Keyed {
            keys: keys.into_boxed_slice(),
            lists: Postings { starts, items },
        }
    }

    /// The list of `key` (empty for a key never given).
    pub fn get(&self, key: &K) -> &[u32] {
        self.keys
            .binary_search(key)
            .map_or(&[], |i| self.lists.get(i))
    }
}

/// Keys numbered in order of arrival, for building [`Postings`].
pub struct Keys<K> {
    ids: HashMap<K, u32>,
}

impl<K: std::hash::Hash + Eq> Default for Keys<K> {
    fn default() -> Self {
        Keys {
            ids: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Keys<K> {
    /// The number of `key`, adding it when new.
    pub fn number(&mut self, key: K) -> u32 {
        let n = self.ids.len() as u32;
        *self.ids.entry(key).or_insert(n)
    }
    pub fn into_map(self) -> HashMap<K, u32> {
        self.ids
    }
}

#[cfg(test)]
mod tests {
    use super::super::node::Interner;
    use super::*;

    #[test]
    fn an_object_label_map_is_kept_when_in_key_order_and_sorted_otherwise() {
        let mut s = Strings::default();
        let first_key = |l: &Labels| l.iter().next().map(|(k, _)| k.as_ptr());
        // In order, all strings: the object's own map (its own key text).
        let tree = Node::from(serde_json::json!({"app": "a", "version": "v1"}));
        let map = tree.as_object().unwrap();
        let kept = Labels::of_map(&mut s, map);
        assert_eq!(
            kept.iter().collect::<Vec<_>>(),
            [("app", "a"), ("version", "v1")]
        );
        assert_eq!(first_key(&kept), map.keys().next().map(str::as_ptr));
        assert_eq!(kept.get("version"), Some("v1"));
        assert_eq!(kept.get("v"), None);
        // Out of order, or a value that is no string (read as its JSON
        // text, as `string_map` reads it): a sorted copy.
        let tree = Node::from(serde_json::json!({"version": "v1", "app": "a", "n": 3}));
        let map = tree.as_object().unwrap();
        let sorted = Labels::of_map(&mut s, map);
        assert_eq!(
            sorted.iter().collect::<Vec<_>>(),
            [("app", "a"), ("n", "3"), ("version", "v1")]
        );
        assert_ne!(first_key(&sorted), map.keys().nth(1).map(str::as_ptr));
        assert_eq!(sorted.get("n"), Some("3"));
        // Every string is in the table either way; an empty map is empty.
        for t in ["app", "a", "version", "v1", "n", "3"] {
            assert!(s.id(t).is_some(), "{t}");
        }
        // A map whose shape carries a value (an object's `metadata` carries
        // its namespace): in order and all strings, but read through a copy.
        let object = Interner::leaking().node(serde_json::json!(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}}
        ));
        let carried = Labels::of_map(&mut s, object["metadata"].as_object().unwrap());
        assert_eq!(
            carried.iter().collect::<Vec<_>>(),
            [("name", "a"), ("namespace", "shop")]
        );
        assert_eq!(carried.get("namespace"), Some("shop"));
        let empty = Node::from(serde_json::json!({}));
        let none = Labels::of_map(&mut s, empty.as_object().unwrap());
        assert!(none.is_empty() && none == Labels::default());
        assert_eq!(kept, Labels::new(&mut s, [("version", "v1"), ("app", "a")]));
    }

    #[test]
    fn labels_read_like_the_map_they_replace() {
        let mut s = Strings::default();
        let pairs = [("tier", "web"), ("app", "a"), ("app", "b"), ("z", "")];
        let owned = || pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let labels = Labels::new(&mut s, owned());
        let map: BTreeMap<String, String> = owned().collect();
        assert_eq!(labels.to_map(), map);
        assert_eq!(
            labels.iter().collect::<Vec<_>>(),
            [("app", "b"), ("tier", "web"), ("z", "")]
        );
        for k in ["app", "tier", "z", "missing", ""] {
            assert_eq!(labels.get(k), map.get(k).map(String::as_str), "{k}");
        }
        assert_eq!(labels.len(), 3);
        let sel = |p: &[(&str, &str)]| -> BTreeMap<String, String> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(labels.contains_all(&sel(&[("app", "b"), ("z", "")])));
        assert!(labels.contains_all(&sel(&[])));
        assert!(!labels.contains_all(&sel(&[("app", "a")])));
        // The strings are shared: a second map of the same strings adds none.
        let (id, _) = s.intern("web");
        let again = Labels::new(&mut s, owned());
        assert_eq!(again, labels);
        assert_eq!(s.intern("web").0, id);
        let second = |l: &Labels| l.iter().nth(1).map(|(_, v)| v.as_ptr());
        assert_eq!(second(&again), second(&labels));
        assert_eq!(s.id("never"), None);
        // A kept string is the caller's allocation, and later copies of its
        // text share it.
        let node = Str::new("kept");
        let (kid, kept) = s.keep(&node);
        assert!(Str::ptr_eq(&kept, &node));
        assert!(Str::ptr_eq(&s.intern("kept").1, &node));
        assert_eq!(s.intern("kept").0, kid);
        assert!(Str::ptr_eq(&s.keep(&Str::new("kept")).1, &node));
        assert_eq!(
            Some(s.text(&Node::from(Str::new("web")), "x").as_ptr()),
            second(&labels)
        );
        assert_eq!(&*s.text(&Node::NULL, "default"), "default");
    }

    #[test]
    fn postings_hold_each_list_ascending() {
        let p = Postings::new(4, vec![(2, 9), (0, 3), (2, 1), (0, 1), (2, 5)]);
        assert_eq!(p.get(0), [1, 3]);
        assert_eq!(p.get(1), [] as [u32; 0]);
        assert_eq!(p.get(2), [1, 5, 9]);
        assert_eq!(p.get(3), [] as [u32; 0]);
        assert_eq!(p.get(4), [] as [u32; 0]);
        let empty = Postings::new(0, vec![]);
        assert_eq!(empty.get(0), [] as [u32; 0]);
    }

    #[test]
    fn postings_of_items_list_each_item_under_its_list_in_order() {
        let p = Postings::of_items(4, &[2, 0, 2, 0, 2, 3]);
        assert_eq!(p.get(0), [1, 3]);
        assert_eq!(p.get(1), [] as [u32; 0]);
        assert_eq!(p.get(2), [0, 2, 4]);
        assert_eq!(p.get(3), [5]);
        assert_eq!(p.get(4), [] as [u32; 0]);
        let pairs: Vec<(u32, u32)> = [2, 0, 2, 0, 2, 3]
            .iter()
            .enumerate()
            .map(|(i, l)| (*l, i as u32))
            .collect();
        let by_pairs = Postings::new(4, pairs);
        for l in 0..5 {
            assert_eq!(p.get(l), by_pairs.get(l), "list {l}");
        }
        assert_eq!(Postings::of_items(0, &[]).get(0), [] as [u32; 0]);
    }

    #[test]
    fn keyed_postings_find_each_key_list() {
        let pairs = vec![
            ((2, 7), 9),
            ((0, 1), 3),
            ((2, 7), 1),
            ((0, 1), 1),
            ((5, 0), 4),
        ];
        let k = Keyed::new(pairs.clone());
        // As a map of key -> ascending list, built the slow way.
        let mut want: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
        for (key, item) in pairs {
            want.entry(key).or_default().push(item);
        }
        for (key, mut list) in want {
            list.sort();
            assert_eq!(k.get(&key), list, "{key:?}");
        }
        assert_eq!(k.get(&(0, 1)), [1, 3]);
        assert_eq!(k.get(&(2, 7)), [1, 9]);
        assert_eq!(k.get(&(5, 0)), [4]);
        for missing in [(0, 0), (1, 0), (2, 8), (9, 9)] {
            assert_eq!(k.get(&missing), [] as [u32; 0], "{missing:?}");
        }
        let empty: Keyed<u32> = Keyed::new(vec![]);
        assert_eq!(empty.get(&0), [] as [u32; 0]);
        assert_eq!(Keyed::<u32>::default().get(&3), [] as [u32; 0]);
    }
}
