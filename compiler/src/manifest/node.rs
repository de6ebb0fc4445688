//! A compact, read-only JSON tree for the objects `validate` and `verify`
//! keep: what a `serde_json::Value` holds, in far less memory.
//!
//! Invariant: a `Node` reads exactly like the `serde_json::Value` it was
//! built from (same keys in the same source order, same strings, numbers
//! and nulls; missing keys and positions index to a shared null), so a
//! check gives the same answer on either. It is never modified after it is
//! built. Strings are shared through an [`Interner`] (one allocation per
//! distinct string in a window, not one per occurrence: every object
//! repeats `apiVersion`, `metadata`, `name`, its labels...), maps are boxed
//! slices of (key, value) in source order with a linear lookup (objects
//! have few keys; no hash table, no spare capacity), arrays are boxed
//! slices. A node is 24 bytes, a map entry 40 (a `serde_json::Value` with
//! `preserve_order` is 80, and an `IndexMap` entry about 112 plus its
//! table).

use serde_json::{Number, Value};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// One value of the tree (the variants of `serde_json::Value`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Node {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Arc<str>),
    Array(Box<[Node]>),
    Object(NodeMap),
}

/// A map in source order (its keys are distinct, as the parser leaves
/// them).
#[derive(Debug, Clone, Default)]
pub struct NodeMap(Box<[(Arc<str>, Node)]>);

/// Equal when they hold the same keys with equal values, in any order, as
/// `serde_json::Map` compares (an `IndexMap` under `preserve_order`).
impl PartialEq for NodeMap {
    fn eq(&self, other: &NodeMap) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

static NULL: Node = Node::Null;

impl NodeMap {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.0.iter().find(|(k, _)| &**k == key).map(|(_, v)| v)
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// (key, value) pairs in source order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Node)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| &**k)
    }
    /// A copy without `key` (the strings stay shared).
    pub fn without(&self, key: &str) -> NodeMap {
        NodeMap(
            self.0
                .iter()
                .filter(|(k, _)| &**k != key)
                .cloned()
                .collect(),
        )
    }
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Node> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for &'a NodeMap {
    type Item = (&'a str, &'a Node);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Arc<str>, Node)>,
        fn(&'a (Arc<str>, Node)) -> (&'a str, &'a Node),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
}

/// What a node can be indexed with: a key (`&str`, `String`) or a
/// position (`usize`), as `serde_json::Value` can.
pub trait NodeIndex {
    fn index_into<'v>(&self, v: &'v Node) -> Option<&'v Node>;
}

impl NodeIndex for str {
    fn index_into<'v>(&self, v: &'v Node) -> Option<&'v Node> {
        v.as_object()?.get(self)
    }
}

impl NodeIndex for String {
    fn index_into<'v>(&self, v: &'v Node) -> Option<&'v Node> {
        self.as_str().index_into(v)
    }
}

impl NodeIndex for usize {
    fn index_into<'v>(&self, v: &'v Node) -> Option<&'v Node> {
        v.as_array()?.get(*self)
    }
}

impl<T: NodeIndex + ?Sized> NodeIndex for &T {
    fn index_into<'v>(&self, v: &'v Node) -> Option<&'v Node> {
        (**self).index_into(v)
    }
}

impl<I: NodeIndex> std::ops::Index<I> for Node {
    type Output = Node;
    /// The node at a key or position, or a null when there is none.
    fn index(&self, i: I) -> &Node {
        i.index_into(self).unwrap_or(&NULL)
    }
}

impl Node {
    pub fn get<I: NodeIndex>(&self, i: I) -> Option<&Node> {
        i.index_into(self)
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Node]> {
        match self {
            Node::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&NodeMap> {
        match self {
            Node::Object(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Node::Number(n) => n.as_u64(),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Node::Number(n) => n.as_i64(),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Number(n) => n.as_f64(),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }
    pub fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    /// The node at a JSON pointer (RFC 6901: `/spec/ports/0`), as
    /// `serde_json::Value::pointer` reads it.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut at = self;
        for part in rest.split('/') {
            let key = part.replace("~1", "/").replace("~0", "~");
            at = match at {
                Node::Object(m) => m.get(&key)?,
                Node::Array(a) => {
                    if key.starts_with('+') || (key.len() > 1 && key.starts_with('0')) {
                        return None;
                    }
                    a.get(key.parse::<usize>().ok()?)?
                }
                _ => return None,
            };
        }
        Some(at)
    }

    /// The same value as a `serde_json::Value` (for the rare reader that
    /// needs one; it allocates the whole subtree).
    pub fn to_json(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.to_string()),
            Node::Array(a) => Value::Array(a.iter().map(Node::to_json).collect()),
            Node::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// As JSON, like `serde_json::Value`'s `Display` (`"x"`, `1`, `{"a":true}`).
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_json(), f)
    }
}

impl From<Value> for Node {
    /// With strings shared within this one value only; readers that keep
    /// many objects convert them through one [`Interner`].
    fn from(v: Value) -> Node {
        Interner::default().node(v)
    }
}

impl PartialEq<str> for Node {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}
impl PartialEq<&str> for Node {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}
impl PartialEq<String> for Node {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}
impl PartialEq<bool> for Node {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}
impl PartialEq<i64> for Node {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}
impl PartialEq<u64> for Node {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}
impl PartialEq<Value> for Node {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Node::Null, Value::Null) => true,
            (Node::Bool(a), Value::Bool(b)) => a == b,
            (Node::Number(a), Value::Number(b)) => a == b,
            (Node::String(a), Value::String(b)) => **a == **b,
            (Node::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            // In any order, as `serde_json::Map` compares.
            (Node::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

/// Strings longer than this are not looked up (certificates, scripts):
/// they are rarely repeated and would only grow the set.
const INTERN_MAX_LEN: usize = 128;
/// The set is emptied when it reaches this many strings, which bounds its
/// own memory on inputs of millions of distinct names; the strings every
/// object repeats are back in it at the next object.
const INTERN_WINDOW: usize = 1 << 16;

/// Shares equal strings (see the module comment). One per thread.
#[derive(Default)]
pub struct Interner {
    set: HashSet<Arc<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if s.len() > INTERN_MAX_LEN {
            return Arc::from(s);
        }
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        if self.set.len() >= INTERN_WINDOW {
            self.set.clear();
        }
        let a: Arc<str> = Arc::from(s);
        self.set.insert(a.clone());
        a
    }

    /// The compact form of `v` (consumed: its parts are freed as they are
    /// converted).
    pub fn node(&mut self, v: Value) -> Node {
        match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(b),
            Value::Number(n) => Node::Number(n),
            Value::String(s) => Node::String(self.intern(&s)),
            Value::Array(a) => Node::Array(a.into_iter().map(|x| self.node(x)).collect()),
            Value::Object(m) => Node::Object(NodeMap(
                m.into_iter()
                    .map(|(k, x)| (self.intern(&k), self.node(x)))
                    .collect(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "z": 1, "a": [true, null, "x", {"b": -2, "a": 1.5}],
            "s": "text", "o": {}, "k/x": {"~t": 7}
        })
    }

    #[test]
    fn reads_like_the_value_it_was_built_from() {
        let v = sample();
        let n = Node::from(v.clone());
        assert_eq!(n, v);
        assert_eq!(n.to_json(), v);
        assert_eq!(n.to_string(), v.to_string());
        let keys: Vec<&str> = n.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "s", "o", "k/x"]);
        assert_eq!(n["z"].as_u64(), Some(1));
        assert_eq!(n["a"][3]["b"].as_i64(), Some(-2));
        assert_eq!(n["a"][3]["a"].as_f64(), Some(1.5));
        assert_eq!(n["a"][0].as_bool(), Some(true));
        assert!(n["a"][1].is_null());
        assert_eq!(n["a"][2], "x");
        assert_eq!(n["s"].as_str(), Some("text"));
        assert!(n["o"].as_object().unwrap().is_empty());
        // Missing keys, positions past the end and indexing a leaf: null.
        assert!(n["missing"]["deeper"][4].is_null());
        assert!(n["a"][9].is_null());
        assert!(n["s"]["x"].is_null());
        assert_eq!(n.get("missing"), None);
        assert_eq!(n.get("s"), Some(&Node::String("text".into())));
        for p in ["", "/a/3/b", "/k~1x/~0t", "/a/9", "/a/01", "/nope", "/s/x"] {
            assert_eq!(
                n.pointer(p).map(Node::to_json).as_ref(),
                v.pointer(p),
                "{p}"
            );
        }
    }

    #[test]
    fn equal_strings_share_one_allocation() {
        let mut i = Interner::default();
        let a = i.node(json!({"name": "web", "labels": {"app": "web"}}));
        let b = i.node(json!({"name": "web"}));
        let (Node::String(x), Node::String(y)) = (&a["name"], &b["name"]) else {
            panic!("{a} {b}")
        };
        assert!(Arc::ptr_eq(x, y));
        let Node::String(z) = &a["labels"]["app"] else {
            panic!("{a}")
        };
        assert!(Arc::ptr_eq(x, z));
        assert!(Arc::ptr_eq(
            &a.as_object().unwrap().0[0].0,
            &b.as_object().unwrap().0[0].0
        ));
    }

    #[test]
    fn the_window_bounds_the_set_and_strings_stay_right() {
        let mut i = Interner::default();
        let mut kept = vec![];
        for n in 0..INTERN_WINDOW + 10 {
            kept.push(i.intern(&format!("s{n}")));
        }
        assert!(i.set.len() <= INTERN_WINDOW);
        assert_eq!(&*kept[0], "s0");
        assert_eq!(&*kept[INTERN_WINDOW + 9], format!("s{}", INTERN_WINDOW + 9));
        let long = "x".repeat(INTERN_MAX_LEN + 1);
        assert_eq!(&*i.intern(&long), long);
        assert!(!i.set.contains(long.as_str()));
    }

    #[test]
    fn a_node_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 24);
        assert_eq!(std::mem::size_of::<(Arc<str>, Node)>(), 40);
    }
}
