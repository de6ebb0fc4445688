//! The compact pieces the object index is built of, so that its memory is
//! a few bytes per workload, Service and label rather than a tree of owned
//! strings (at a million objects in one namespace the index held 280 MB
//! in `BTreeMap<String, String>`s, `(String, String, String)` keys and
//! `Vec<usize>`s; see BENCHMARKS.md):
//! - [`Strings`]: every distinct string of the index once, with a `u32` id,
//!   kept as the objects' own [`Str`] where they have it (no copy);
//! - [`Labels`]: a label or annotation map as a sorted slice of shared
//!   strings;
//! - [`Postings`]: many ascending lists of `u32` in two flat arrays.
//!
//! Invariant: each reads exactly like what it replaces (`Labels` like a
//! `BTreeMap<String, String>`: keys distinct, iterated in key order;
//! `Postings` like a `Vec<Vec<u32>>` of ascending lists); only memory and
//! cost differ.

use super::node::{Node, Str, View};
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

/// A label (or annotation) map: (key, value) pairs sorted by key, keys
/// distinct, strings shared through [`Strings`]; 16 bytes a pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Box<[(Str, Str)]>);

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
        // Exact: a `Vec` grown by pushes holds room for 4 pairs.
        Labels(v.into_boxed_slice())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// (key, value) pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
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
    use super::*;

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
        assert!(Str::ptr_eq(&again.0[1].1, &labels.0[1].1));
        assert_eq!(s.id("never"), None);
        // A kept string is the caller's allocation, and later copies of its
        // text share it.
        let node = Str::new("kept");
        let (kid, kept) = s.keep(&node);
        assert!(Str::ptr_eq(&kept, &node));
        assert!(Str::ptr_eq(&s.intern("kept").1, &node));
        assert_eq!(s.intern("kept").0, kid);
        assert!(Str::ptr_eq(&s.keep(&Str::new("kept")).1, &node));
        assert!(Str::ptr_eq(
            &s.text(&Node::from(Str::new("web")), "x"),
            &labels.0[1].1
        ));
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
