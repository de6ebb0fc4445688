//! The compact pieces the object index is built of, so that its memory is
//! a few bytes per workload, Service and label rather than a tree of owned
//! strings (at a million objects in one namespace the index held 280 MB
//! in `BTreeMap<String, String>`s, `(String, String, String)` keys and
//! `Vec<usize>`s; see BENCHMARKS.md):
//! - [`Strings`]: every distinct string of the index once, with a `u32` id;
//! - [`Labels`]: a label or annotation map as a sorted slice of shared
//!   strings;
//! - [`Postings`]: many ascending lists of `u32` in two flat arrays.
//!
//! Invariant: each reads exactly like what it replaces (`Labels` like a
//! `BTreeMap<String, String>`: keys distinct, iterated in key order;
//! `Postings` like a `Vec<Vec<u32>>` of ascending lists); only memory and
//! cost differ.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Distinct strings, each stored once and numbered in order of arrival.
#[derive(Default)]
pub struct Strings {
    ids: HashMap<Arc<str>, u32>,
}

impl Strings {
    /// The shared copy of `s` and its id, adding it when new.
    pub fn intern(&mut self, s: &str) -> (u32, Arc<str>) {
        if let Some((k, id)) = self.ids.get_key_value(s) {
            return (*id, k.clone());
        }
        let id = u32::try_from(self.ids.len()).expect("fewer than 2^32 strings");
        let k: Arc<str> = Arc::from(s);
        self.ids.insert(k.clone(), id);
        (id, k)
    }

    /// The shared copy of `s`.
    pub fn arc(&mut self, s: &str) -> Arc<str> {
        self.intern(s).1
    }

    /// The id of `s`, if it was interned (a string the index never saw
    /// matches nothing in it).
    pub fn id(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
}

/// A label (or annotation) map: (key, value) pairs sorted by key, keys
/// distinct, strings shared through [`Strings`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Box<[(Arc<str>, Arc<str>)]>);

impl Labels {
    /// From (key, value) pairs in any order; a later pair of the same key
    /// wins, as inserting them one by one into a map would.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(
        strings: &mut Strings,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Labels {
        let mut v: Vec<(Arc<str>, Arc<str>)> = pairs
            .into_iter()
            .map(|(k, v)| (strings.arc(k.as_ref()), strings.arc(v.as_ref())))
            .collect();
        // Stable, so pairs of one key stay in arrival order; keep the last.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(v.len());
        for pair in v {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        Labels(out.into_boxed_slice())
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

    /// List `i` (empty past the end).
    pub fn get(&self, i: usize) -> &[u32] {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.items[a as usize..b as usize],
            _ => &[],
        }
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
    /// How many keys were numbered.
    pub fn count(&self) -> usize {
        self.ids.len()
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
        assert!(Arc::ptr_eq(&again.0[1].1, &labels.0[1].1));
        assert_eq!(s.id("never"), None);
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
}
