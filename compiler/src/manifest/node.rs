//! A compact, read-only JSON tree for the objects `validate` and `verify`
//! keep: what a `serde_json::Value` holds, in far less memory.
//!
//! Invariant: a `Node` reads exactly like the `serde_json::Value` it was
//! built from (same keys in the same source order, same strings, numbers
//! and nulls; missing keys and positions index to a shared null), so a
//! check gives the same answer on either. It is never modified after it is
//! built, so equal parts can be shared: strings, and maps and arrays below
//! an object's root, go through an [`Interner`] (one allocation per
//! distinct string or subtree in a window, not one per occurrence: every
//! object repeats `apiVersion`, `metadata`, `name`, its labels, and most
//! repeat small subtrees such as `{mode: ISTIO_MUTUAL}` or a port list).
//! Maps are their values in source order behind their shape, the array of
//! their keys, which maps with the same keys share (a linear lookup:
//! objects have few keys; no hash table, no spare capacity); arrays are
//! slices. A node is one 8-byte word whose low three bits say what it is
//! (allocations are 8-aligned, so a pointer leaves them free): null, a
//! boolean and integers of up to 61 bits sit in the word itself; strings,
//! maps, arrays and the rare larger integer or float sit behind a pointer
//! to a reference-counted allocation that holds their length ([`thin`]),
//! or, for a reader that keeps its trees to the end (`validate`, through
//! [`Interner::leaking`]), to a place in a chunk that is never freed and
//! whose count is never touched.
//! So a map of n keys is 16 + 8n bytes, 8 + 8n in a chunk (less 8 for
//! each value its shape carries: an object's `apiVersion`, `kind` and
//! namespace, see [`NodeMap`]) and an array item 8 (a `serde_json::Value`
//! with `preserve_order` is 80, and an `IndexMap` entry about 112 plus its
//! table). At a million objects the trees hold about 3
//! million maps of 8 million keys: the tagged word saved 64 MB over a
//! 16-byte enum, and shared shapes 35 MB more.

use serde_json::Value;
use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Arc;
use thin::Thin;

/// One value of the tree (a `serde_json::Value`), as one tagged word:
/// read it with [`Node::view`] or the `as_*` accessors. The word is the
/// node's only field, and a [`Str`], [`Array`] or [`NodeMap`] is the same
/// word (with the same tag), so a `&Node` of that kind reads as a
/// reference to one of them.
///
/// The word is a pointer, not a `usize`, so that a pointer's provenance
/// survives the tag (`map_addr`; strict provenance, as Miri checks it);
/// inline values are pointers without provenance.
#[repr(transparent)]
pub struct Node {
    word: *const u8,
}
// SAFETY: as for `Arc`: every payload (bytes, nodes, numbers) is Send +
// Sync and never written after it is built, and the counts are atomic.
unsafe impl Send for Node {}
unsafe impl Sync for Node {}
impl Node {
    /// The word's bits (the tag, an inline value, or a tagged address).
    fn w(&self) -> usize {
        self.word.addr()
    }
    /// Which node this is: for a string, array or map its allocation (the
    /// same for every node that shares it, while it lives), for an inline
    /// value the value. Equal identities are equal nodes; equal nodes
    /// may have different identities (built apart).
    pub(crate) fn identity(&self) -> usize {
        self.w()
    }
    /// A node of an inline value (null, a boolean, a small integer).
    const fn inline(w: usize) -> Node {
        Node {
            word: std::ptr::without_provenance(w),
        }
    }
}

// The tags: the low three bits of a node's word.
const TAG_MASK: usize = 0b111;
const NULL_TAG: usize = 0;
/// The value in bit 3.
const BOOL_TAG: usize = 1;
/// A non-negative integer below 2^61 in the bits above the tag.
const POS_TAG: usize = 2;
/// A negative integer of at least -2^60, shifted left over the tag.
const NEG_TAG: usize = 3;
const STR_TAG: usize = 4;
const ARRAY_TAG: usize = 5;
const MAP_TAG: usize = 6;
/// Any other number (a larger integer, a float), behind a pointer.
const BIG_TAG: usize = 7;
const POS_INLINE_MAX: u64 = (1 << 61) - 1;
const NEG_INLINE_MIN: i64 = -(1 << 60);

// The inline integers and the pointer tags assume a 64-bit word.
const _: () = assert!(
    usize::BITS == 64,
    "meshpack's manifest trees need a 64-bit target"
);

/// What a node is, borrowed (the variants of `serde_json::Value`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum View<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(&'a Str),
    Array(&'a Array),
    Object(&'a NodeMap),
}

/// A number that does not fit in a node's word.
#[derive(Clone)]
#[repr(transparent)]
struct Big(Thin<Number, BIG_TAG>);

impl Node {
    pub const NULL: Node = Node::inline(NULL_TAG);

    /// Reads the word as the pointer type of its tag.
    ///
    /// SAFETY: the caller checked that the tag is the one `T` carries.
    unsafe fn cast<T>(&self) -> &T {
        const { assert!(std::mem::size_of::<T>() == 8 && std::mem::align_of::<T>() == 8) };
        &*(self as *const Node).cast::<T>()
    }

    pub fn view(&self) -> View<'_> {
        // SAFETY (casts): each arm's tag is the one its type carries.
        match self.w() & TAG_MASK {
            NULL_TAG => View::Null,
            BOOL_TAG => {
                // Only `false` and `true`: `STORED`, a shape's slot, must
                // never be read as a value.
                debug_assert!(self.w() >> 3 <= 1, "a shape's STORED slot read as a value");
                View::Bool(self.w() >> 3 != 0)
            }
            POS_TAG => View::Number(Number(N::PosInt((self.w() >> 3) as u64))),
            NEG_TAG => View::Number(Number(N::NegInt((self.w() as i64) >> 3))),
            STR_TAG => View::String(unsafe { self.cast::<Str>() }),
            ARRAY_TAG => View::Array(unsafe { self.cast::<Array>() }),
            MAP_TAG => View::Object(unsafe { self.cast::<NodeMap>() }),
            _ => View::Number(unsafe { self.cast::<Big>() }.0.as_slice()[0]),
        }
    }

    fn tag(&self) -> usize {
        self.w() & TAG_MASK
    }
}

impl Default for Node {
    fn default() -> Node {
        Node::NULL
    }
}

impl Clone for Node {
    fn clone(&self) -> Node {
        // SAFETY (casts): each arm's tag is the one its type carries; the
        // clone's count is the new node's, which takes its word.
        match self.tag() {
            STR_TAG => std::mem::forget(unsafe { self.cast::<Str>() }.clone()),
            ARRAY_TAG => std::mem::forget(unsafe { self.cast::<Array>() }.clone()),
            MAP_TAG => std::mem::forget(unsafe { self.cast::<NodeMap>() }.clone()),
            BIG_TAG => std::mem::forget(unsafe { self.cast::<Big>() }.clone()),
            _ => {}
        }
        Node { word: self.word }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let at = (self as *mut Node).cast::<u8>();
        // SAFETY: each arm's tag is the one its type carries, and the node
        // holds one count of it, given up here once.
        unsafe {
            match self.tag() {
                STR_TAG => std::ptr::drop_in_place(at.cast::<Str>()),
                ARRAY_TAG => std::ptr::drop_in_place(at.cast::<Array>()),
                MAP_TAG => std::ptr::drop_in_place(at.cast::<NodeMap>()),
                BIG_TAG => std::ptr::drop_in_place(at.cast::<Big>()),
                _ => {}
            }
        }
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        (self.w() == other.w() && self.tag() != BIG_TAG) || self.view() == other.view()
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.view(), f)
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::inline(BOOL_TAG | usize::from(b) << 3)
    }
}

impl From<Number> for Node {
    fn from(n: Number) -> Node {
        Node::number_in(n, None)
    }
}

impl Node {
    /// A number's node, a large one allocated in `arena` when given.
    fn number_in(n: Number, arena: Option<&mut thin::Arena>) -> Node {
        match n.0 {
            N::PosInt(u) if u <= POS_INLINE_MAX => Node::inline(POS_TAG | (u as usize) << 3),
            N::NegInt(i) if i >= NEG_INLINE_MIN => Node::inline(NEG_TAG | (i << 3) as usize),
            _ => Node::take(Big(Thin::from_slice(&[n], arena))),
        }
    }
}

impl From<Str> for Node {
    fn from(s: Str) -> Node {
        Node::take(s)
    }
}

impl From<Array> for Node {
    fn from(a: Array) -> Node {
        Node::take(a)
    }
}

impl From<NodeMap> for Node {
    fn from(m: NodeMap) -> Node {
        Node::take(m)
    }
}

/// The pointer types whose word a node takes over (with its count).
trait Word {
    fn word(&self) -> *const u8;
}
impl Node {
    fn take<T: Word>(t: T) -> Node {
        let t = ManuallyDrop::new(t);
        Node { word: t.word() }
    }
}

/// A JSON number as `serde_json::Number` holds one (without its
/// `arbitrary_precision` feature, which this crate does not enable): a
/// non-negative integer, a negative one or a finite float, which reads,
/// compares and prints as that `Number` does (`1` and `1.0` differ; a float
/// stays a float).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(N);

#[derive(Debug, Clone, Copy, PartialEq)]
enum N {
    PosInt(u64),
    /// Always negative, as in `serde_json`.
    NegInt(i64),
    Float(f64),
}

impl Number {
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(u) => Some(u),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(u) => i64::try_from(u).ok(),
            N::NegInt(i) => Some(i),
            N::Float(_) => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        Some(match self.0 {
            N::PosInt(u) => u as f64,
            N::NegInt(i) => i as f64,
            N::Float(f) => f,
        })
    }
    /// The `serde_json::Number` it was built from.
    pub fn to_json(self) -> serde_json::Number {
        match self.0 {
            N::PosInt(u) => u.into(),
            N::NegInt(i) => i.into(),
            N::Float(f) => {
                serde_json::Number::from_f64(f).expect("finite: read from a serde_json::Number")
            }
        }
    }
    /// The same representation (a float by its bits), for sharing.
    fn same(&self, other: &Number) -> bool {
        match (self.0, other.0) {
            (N::Float(a), N::Float(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
    fn bits(&self) -> u64 {
        match self.0 {
            N::PosInt(u) => u,
            N::NegInt(i) => i as u64,
            N::Float(f) => f.to_bits(),
        }
    }
}

impl From<&serde_json::Number> for Number {
    fn from(n: &serde_json::Number) -> Number {
        // `serde_json` keeps a non-negative integer as u64 and only
        // negative ones as i64, so the variant is recovered exactly.
        Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => N::PosInt(u),
            (None, Some(i)) => N::NegInt(i),
            (None, None) => N::Float(n.as_f64().expect("a float without arbitrary_precision")),
        })
    }
}

/// As `serde_json::Number` prints it (`8080`, `-2`, `1.5`, `1.0`).
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_json(), f)
    }
}

/// A shared string behind one 8-byte pointer; reads as a `&str`.
#[derive(Clone)]
#[repr(transparent)]
pub struct Str(Thin<u8, STR_TAG>);

macro_rules! word_of_thin {
    ($($t:ty),*) => {$(
        impl Word for $t {
            fn word(&self) -> *const u8 {
                self.0.word()
            }
        }
    )*};
}
word_of_thin!(Str, Array, NodeMap, Big);

impl Str {
    pub fn new(s: &str) -> Str {
        Str(Thin::from_slice(s.as_bytes(), None))
    }
    fn new_in(s: &str, arena: Option<&mut thin::Arena>) -> Str {
        Str(Thin::from_slice(s.as_bytes(), arena))
    }
    /// The same allocation (not only the same text).
    pub fn ptr_eq(a: &Str, b: &Str) -> bool {
        Thin::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        // SAFETY: a `Str` is only built from a `&str` (`Str::new`).
        unsafe { std::str::from_utf8_unchecked(self.0.as_slice()) }
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self
    }
}

/// The interner looks strings up by their text.
impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        Str::ptr_eq(self, other) || **self == **other
    }
}
impl Eq for Str {}

/// As the `str` hashes, so that a set of `Str` is searched with a `&str`.
impl Hash for Str {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (**self).hash(h)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s)
    }
}

/// The items of an array behind one 8-byte pointer; reads as a `&[Node]`.
#[derive(Clone)]
#[repr(transparent)]
pub struct Array(Thin<Node, ARRAY_TAG>);

impl Deref for Array {
    type Target = [Node];
    fn deref(&self) -> &[Node] {
        self.0.as_slice()
    }
}

impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        Thin::ptr_eq(&self.0, &other.0) || **self == **other
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A map in source order (its keys are distinct, as the parser leaves
/// them): its shape (the array of its keys, as string nodes) and then its
/// values, in one allocation. Maps with the same keys in the same order
/// share one shape (through the [`Interner`], as any array), so a map
/// costs 16 bytes plus 8 per value: most objects repeat a few shapes
/// (`{apiVersion, kind, metadata, spec}`, `{name, namespace}`), and at a
/// million objects this is 35 MB less than (key, value) pairs.
///
/// A shape may also carry values every map of that shape has: an object's
/// `apiVersion` and `kind` (`Interner::node`), the same for every object
/// of a kind, live in the shape, not in each root map (16 bytes an object,
/// 15 MiB at a million), and its metadata's `namespace` (8 more). Such a
/// shape is its n keys, then n slots, each the key's value or [`STORED`]
/// (the value is the map's: the j-th `STORED` slot is the map's j-th
/// value), then a mark of how many values its maps store ([`carries`]); a
/// shape without the mark carries nothing.
///
/// A map read by a process that keeps its trees (`Interner::leaking`) has
/// no header of its own: 8 bytes a map, and a million objects hold about
/// 3.5 million maps that no other shares (see [`thin::MapItems`]).
#[derive(Clone)]
#[repr(transparent)]
pub struct NodeMap(thin::MapItems<MAP_TAG>);

impl Default for NodeMap {
    fn default() -> NodeMap {
        NodeMap::from_parts(Vec::new(), Vec::new())
    }
}

/// Equal when they hold the same keys with equal values, in any order, as
/// `serde_json::Map` compares (an `IndexMap` under `preserve_order`).
impl PartialEq for NodeMap {
    fn eq(&self, other: &NodeMap) -> bool {
        thin::MapItems::ptr_eq(&self.0, &other.0)
            || (self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v)))
    }
}

impl fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

static NULL: Node = Node::NULL;

/// The text of a key node (keys are always strings: `NodeMap`'s shapes
/// are only built from interned keys).
fn key_str(k: &Node) -> &str {
    k.as_str().unwrap_or("")
}

impl NodeMap {
    /// A map (not shared) of these keys (string nodes, distinct) and
    /// values, in this order.
    pub(super) fn from_parts(mut keys: Vec<Node>, values: Vec<Node>) -> NodeMap {
        debug_assert_eq!(keys.len(), values.len());
        debug_assert!(keys.iter().all(|k| k.tag() == STR_TAG));
        let shape_node = Node::from(Array(Thin::from_tail(&mut keys, 0, None)));
        let mut items = Vec::with_capacity(values.len() + 1);
        items.push(shape_node);
        items.extend(values);
        NodeMap(thin::MapItems::from_tail(&mut items, 0, None))
    }
    /// The shape's nodes: the keys, then (when it carries values) a slot
    /// per key and the [`carries`] mark.
    fn shape(&self) -> &[Node] {
        self.0.shape()
    }
    /// The map's own values (all of them, unless its shape carries some).
    fn stored(&self) -> &[Node] {
        &self.0.items()[1..]
    }
    /// The keys, and the shape's slots (empty when it carries no value).
    fn parts(&self) -> (&[Node], &[Node]) {
        let shape = self.shape();
        match shape.last().and_then(carried_mark) {
            Some(_) => {
                let keys = (shape.len() - 1) / 2;
                (&shape[..keys], &shape[keys..2 * keys])
            }
            None => (shape, &[]),
        }
    }
    /// The keys and the values, in source order, when the shape carries no
    /// value (every map but an object's root and `metadata`, and every map
    /// `from_parts` made).
    pub(super) fn plain(&self) -> Option<(&[Node], &[Node])> {
        let (keys, slots) = self.parts();
        slots.is_empty().then(|| (keys, self.stored()))
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        let (keys, slots) = self.parts();
        let at = keys.iter().position(|k| key_str(k) == key)?;
        if slots.is_empty() {
            return self.stored().get(at);
        }
        match &slots[at] {
            s if s.w() == STORED.w() => {
                let j = slots[..at].iter().filter(|s| s.w() == STORED.w()).count();
                self.stored().get(j)
            }
            carried => Some(carried),
        }
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    pub fn len(&self) -> usize {
        self.parts().0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// (key, value) pairs in source order.
    pub fn iter(&self) -> Entries<'_> {
        self.into_iter()
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.parts().0.iter().map(key_str)
    }
    /// A copy without `key` (the strings and values stay shared; values
    /// its shape carried become the copy's own).
    pub fn without(&self, key: &str) -> NodeMap {
        let (keys, values) = self
            .parts()
            .0
            .iter()
            .zip(self.values())
            .filter(|(k, _)| key_str(k) != key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .unzip();
        NodeMap::from_parts(keys, values)
    }
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Node> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }
}

/// A slot of a shape that carries values: the key's value is the map's own.
/// A boolean's tag with a value no boolean has, so it is never a value.
const STORED: Node = Node::inline(BOOL_TAG | 2 << 3);

/// The last node of a shape that carries values, after its slots: how
/// many values the map stores itself (`STORED` slots). A boolean's tag
/// with a value of 3 or more, so it is neither a value nor `STORED`, and
/// no key (keys are strings): a shape's last node says whether it carries.
fn carries(stored: usize) -> Node {
    Node::inline(BOOL_TAG | (stored + 3) << 3)
}

/// How many values a map of a carrying shape stores, from its mark.
fn carried_mark(last: &Node) -> Option<usize> {
    (last.tag() == BOOL_TAG && last.w() >> 3 >= 3).then(|| (last.w() >> 3) - 3)
}

/// How many values a map of this shape stores itself.
fn stored_len(shape: &[Node]) -> usize {
    match shape.last().and_then(carried_mark) {
        Some(n) => n,
        None => shape.len(),
    }
}

/// A map's (key, value) pairs in source order, from both ends.
pub struct Entries<'a> {
    keys: &'a [Node],
    /// The shape's slots (empty when it carries no value: the values are
    /// `stored` in key order).
    slots: &'a [Node],
    stored: &'a [Node],
}

impl<'a> Entries<'a> {
    /// The first (`front`) or last entry, taking it off.
    fn take(&mut self, front: bool) -> Option<(&'a str, &'a Node)> {
        let (key, keys) = if front {
            let (k, rest) = self.keys.split_first()?;
            (k, rest)
        } else {
            let (k, rest) = self.keys.split_last()?;
            (k, rest)
        };
        self.keys = keys;
        let slot = match self.slots.len() {
            0 => None,
            _ if front => self.slots.split_first(),
            _ => self.slots.split_last(),
        };
        let value = match slot {
            Some((s, rest)) => {
                self.slots = rest;
                (s.w() != STORED.w()).then_some(s)
            }
            None => None,
        };
        let value = match value {
            Some(carried) => carried,
            None if front => {
                let (v, rest) = self.stored.split_first()?;
                self.stored = rest;
                v
            }
            None => {
                let (v, rest) = self.stored.split_last()?;
                self.stored = rest;
                v
            }
        };
        Some((key_str(key), value))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a str, &'a Node);
    fn next(&mut self) -> Option<Self::Item> {
        self.take(true)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.keys.len(), Some(self.keys.len()))
    }
}

impl DoubleEndedIterator for Entries<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.take(false)
    }
}

impl ExactSizeIterator for Entries<'_> {}

impl<'a> IntoIterator for &'a NodeMap {
    type Item = (&'a str, &'a Node);
    type IntoIter = Entries<'a>;
    fn into_iter(self) -> Entries<'a> {
        let (keys, slots) = self.parts();
        Entries {
            keys,
            slots,
            stored: self.stored(),
        }
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
        // SAFETY: the tag is a string's.
        (self.tag() == STR_TAG).then(|| &**unsafe { self.cast::<Str>() })
    }
    pub fn as_array(&self) -> Option<&[Node]> {
        // SAFETY: the tag is an array's.
        (self.tag() == ARRAY_TAG).then(|| &**unsafe { self.cast::<Array>() })
    }
    pub fn as_object(&self) -> Option<&NodeMap> {
        // SAFETY: the tag is a map's.
        (self.tag() == MAP_TAG).then(|| unsafe { self.cast::<NodeMap>() })
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self.view() {
            View::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<Number> {
        match self.view() {
            View::Number(n) => Some(n),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }
    pub fn is_null(&self) -> bool {
        self.tag() == NULL_TAG
    }
    pub fn is_object(&self) -> bool {
        self.tag() == MAP_TAG
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
            at = match at.view() {
                View::Object(m) => m.get(&key)?,
                View::Array(a) => {
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
        match self.view() {
            View::Null => Value::Null,
            View::Bool(b) => Value::Bool(b),
            View::Number(n) => Value::Number(n.to_json()),
            View::String(s) => Value::String(s.to_string()),
            View::Array(a) => Value::Array(a.iter().map(Node::to_json).collect()),
            View::Object(m) => Value::Object(
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
        match (self.view(), other) {
            (View::Null, Value::Null) => true,
            (View::Bool(a), Value::Bool(b)) => a == *b,
            (View::Number(a), Value::Number(b)) => a == Number::from(b),
            (View::String(a), Value::String(b)) => **a == **b,
            (View::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            // In any order, as `serde_json::Map` compares.
            (View::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

/// Strings longer than this are not looked up (certificates, scripts):
/// they are rarely repeated and would only grow the set.
const INTERN_MAX_LEN: usize = 128;
/// The string set is emptied when it reaches this many strings, which
/// bounds its own memory on inputs of millions of distinct names; the
/// strings every object repeats are back in it at the next object.
const INTERN_WINDOW: usize = 1 << 16;
/// The same for each of the sets of shared maps and arrays.
const TREE_WINDOW: usize = 1 << 16;

/// Shares equal strings and equal subtrees (see the module comment). One
/// per thread.
#[derive(Default)]
pub struct Interner {
    strings: HashSet<Str>,
    maps: HashSet<Shared<thin::MapItems<MAP_TAG>>, BuildHasherDefault<Fx>>,
    arrays: HashSet<Shared<Thin<Node, ARRAY_TAG>>, BuildHasherDefault<Fx>>,
    /// The items of the maps (shape, then values) and arrays being built,
    /// and the keys of the maps, innermost last (buffers reused, not one
    /// `Vec` per map).
    keys: Vec<Node>,
    items: Vec<Node>,
    /// The last file name given to [`Interner::file`], as given and as kept.
    file: Option<(Arc<str>, super::files::FileId)>,
    /// Where its strings, maps and arrays are allocated when they are
    /// never freed (`leaking`); the global allocator otherwise.
    arena: Option<thin::Arena>,
}

impl Interner {
    /// An interner whose trees are never freed: they live until the
    /// process exits, packed in chunks (`thin::Arena`; dropping them does
    /// nothing). For a command that keeps what it reads to the end, as
    /// `validate` does: at a million objects its peak RSS went from about
    /// 1.5x the trees' bytes to about their bytes (see BENCHMARKS.md), and
    /// it skips freeing them one by one at exit.
    pub fn leaking() -> Interner {
        Interner {
            arena: Some(thin::Arena::default()),
            ..Interner::default()
        }
    }

    pub fn intern(&mut self, s: &str) -> Str {
        if s.len() > INTERN_MAX_LEN {
            return Str::new_in(s, self.arena.as_mut());
        }
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        if self.strings.len() >= INTERN_WINDOW {
            self.strings.clear();
        }
        let a = Str::new_in(s, self.arena.as_mut());
        self.strings.insert(a.clone());
        a
    }

    /// The number of an object's file (objects come file by file: the
    /// table is asked once a file, not once an object).
    pub fn file(&mut self, name: &Arc<str>) -> super::files::FileId {
        match &self.file {
            Some((given, id)) if Arc::ptr_eq(given, name) || **given == **name => *id,
            _ => {
                let id = super::files::FileId::of(name);
                self.file = Some((name.clone(), id));
                id
            }
        }
    }

    /// The compact form of `v` (consumed: its parts are freed as they are
    /// converted). Its root map or array is not shared (it is the one
    /// object's own: it holds its name), every map and array below it is.
    pub fn node(&mut self, v: Value) -> Node {
        self.build(v, Place::Root)
    }

    fn build(&mut self, v: Value, place: Place) -> Node {
        let share = place != Place::Root;
        match v {
            Value::Null => Node::NULL,
            Value::Bool(b) => Node::from(b),
            Value::Number(n) => Node::number_in(Number::from(&n), self.arena.as_mut()),
            Value::String(s) => Node::from(self.intern(&s)),
            Value::Array(a) => {
                let start = self.items.len();
                for x in a {
                    let n = self.build(x, Place::Below);
                    self.items.push(n);
                }
                let a = cons(
                    &mut self.arrays,
                    &mut self.items,
                    start,
                    share,
                    self.arena.as_mut(),
                );
                Node::from(Array(a))
            }
            Value::Object(m) => {
                // The shape's place first, then the values; the keys on
                // their own stack, made one shared array at the end.
                let start = self.items.len();
                self.items.push(Node::NULL);
                let kstart = self.keys.len();
                for (k, x) in m {
                    let inner = match place {
                        Place::Root if k == "metadata" => Place::Metadata,
                        _ => Place::Below,
                    };
                    let k = self.intern(&k);
                    self.keys.push(Node::from(k));
                    let n = self.build(x, inner);
                    self.items.push(n);
                }
                if place != Place::Below {
                    carry(place, &mut self.keys, kstart, &mut self.items, start + 1);
                }
                let shape = cons(
                    &mut self.arrays,
                    &mut self.keys,
                    kstart,
                    true,
                    self.arena.as_mut(),
                );
                let shape = Node::from(Array(shape));
                // A map from an arena holds its shape untagged (`MapItems`).
                self.items[start] = match self.arena {
                    Some(_) => thin::untagged(shape),
                    None => shape,
                };
                let m = cons(
                    &mut self.maps,
                    &mut self.items,
                    start,
                    share,
                    self.arena.as_mut(),
                );
                Node::from(NodeMap(m))
            }
        }
    }
}

/// Where a map being built sits in its object, for the values its shape
/// carries (see [`NodeMap`]).
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// The object's own map (not shared): its `apiVersion` and `kind`.
    Root,
    /// The root's `metadata` (unique to the object, by its name): its
    /// `namespace`, one of few in any input (8 bytes an object).
    Metadata,
    Below,
}

/// Moves the values a map at `place` carries, when they are strings, into
/// its shape (see [`NodeMap`]): `keys[kstart..]` become the keys and then
/// a slot per key, `values[vstart..]` the values left to the map. Shapes
/// are shared, so every object of a kind (or namespace) carries them once.
fn carry(place: Place, keys: &mut Vec<Node>, kstart: usize, values: &mut Vec<Node>, vstart: usize) {
    let carried = |k: &Node, v: &Node| {
        v.tag() == STR_TAG
            && match place {
                Place::Root => matches!(key_str(k), "apiVersion" | "kind"),
                Place::Metadata => key_str(k) == "namespace",
                Place::Below => false,
            }
    };
    let n = keys.len() - kstart;
    if !(0..n).any(|i| carried(&keys[kstart + i], &values[vstart + i])) {
        return;
    }
    // In place (a million roots): the values left to the map move down
    // over those carried, which move into the shape.
    let mut kept = vstart;
    for i in 0..n {
        let at = vstart + i;
        if carried(&keys[kstart + i], &values[at]) {
            let v = std::mem::take(&mut values[at]);
            keys.push(v);
        } else {
            keys.push(STORED);
            values.swap(kept, at);
            kept += 1;
        }
    }
    keys.push(carries(kept - vstart));
    // What is left past `kept` are the nulls `take` left behind.
    values.truncate(kept);
}

/// The slice of `stack[start..]` (taken off the stack), as the one the
/// set already holds when it holds one with the same parts.
fn cons<S: Slice>(
    set: &mut HashSet<Shared<S>, BuildHasherDefault<Fx>>,
    stack: &mut Vec<S::Item>,
    start: usize,
    share: bool,
    arena: Option<&mut thin::Arena>,
) -> S {
    if !share {
        return S::from_tail(stack, start, arena);
    }
    if let Some(found) = set.get(Shallow::new(&stack[start..])) {
        let found = found.0.clone();
        stack.truncate(start);
        return found;
    }
    if set.len() >= TREE_WINDOW {
        set.clear();
    }
    let made = S::from_tail(stack, start, arena);
    set.insert(Shared(made.clone()));
    made
}

/// What `cons` makes: an allocation of the slice it is given.
trait Slice: Clone {
    type Item: Parts;
    fn from_tail(
        stack: &mut Vec<Self::Item>,
        start: usize,
        arena: Option<&mut thin::Arena>,
    ) -> Self;
    fn parts(&self) -> &[Self::Item];
}
impl<T: Parts, const TAG: usize> Slice for Thin<T, TAG> {
    type Item = T;
    fn from_tail(stack: &mut Vec<T>, start: usize, arena: Option<&mut thin::Arena>) -> Self {
        Thin::from_tail(stack, start, arena)
    }
    fn parts(&self) -> &[T] {
        self.as_slice()
    }
}
impl Slice for thin::MapItems<MAP_TAG> {
    type Item = Node;
    fn from_tail(stack: &mut Vec<Node>, start: usize, arena: Option<&mut thin::Arena>) -> Self {
        thin::MapItems::from_tail(stack, start, arena)
    }
    fn parts(&self) -> &[Node] {
        self.items()
    }
}

/// Compared and hashed shallowly: the parts of a map or array are already
/// shared when it is built, so two with the same parts (the same scalars,
/// and the same string and subtree allocations, in the same order) are
/// equal, and comparing them costs a word per part, not a walk of the
/// subtree. (Equal parts in different allocations, after a window was
/// emptied, only miss a chance to share.)
trait Parts {
    fn same(&self, other: &Self) -> bool;
    fn hash_parts(&self, h: &mut Fx);
}

/// Two nodes are the same part when their words are equal (the same
/// inline value, or the same allocation), or both are numbers behind a
/// pointer with the same representation.
impl Parts for Node {
    fn same(&self, other: &Node) -> bool {
        self.w() == other.w()
            || (self.tag() == BIG_TAG
                && other.tag() == BIG_TAG
                && matches!((self.view(), other.view()),
                    (View::Number(a), View::Number(b)) if a.same(&b)))
    }
    fn hash_parts(&self, h: &mut Fx) {
        // By the word, but a number behind a pointer by its value. (The tag
        // first: a shape's parts include `STORED`, which is no value.)
        match self.tag() {
            BIG_TAG => {
                if let View::Number(n) = self.view() {
                    h.add(BIG_TAG as u64);
                    h.add(n.bits());
                }
            }
            _ => h.add(self.w() as u64),
        }
    }
}

/// A shared slice in an interner's set.
struct Shared<S>(S);

/// The parts of a slice being built, to look it up in the set before it
/// is allocated.
#[repr(transparent)]
struct Shallow<T>([T]);

impl<T> Shallow<T> {
    fn new(parts: &[T]) -> &Shallow<T> {
        // SAFETY: `Shallow<T>` is a `repr(transparent)` wrapper of `[T]`,
        // so the two references have the same layout and metadata.
        unsafe { &*(parts as *const [T] as *const Shallow<T>) }
    }
}

impl<T: Parts> Hash for Shallow<T> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let mut fx = Fx::default();
        fx.add(self.0.len() as u64);
        self.0.iter().for_each(|p| p.hash_parts(&mut fx));
        h.write_u64(fx.finish());
    }
}
impl<T: Parts> PartialEq for Shallow<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| a.same(b))
    }
}
impl<T: Parts> Eq for Shallow<T> {}

impl<S: Slice> Borrow<Shallow<S::Item>> for Shared<S> {
    fn borrow(&self) -> &Shallow<S::Item> {
        Shallow::new(self.0.parts())
    }
}
impl<S: Slice> Hash for Shared<S> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        Borrow::<Shallow<S::Item>>::borrow(self).hash(h)
    }
}
impl<S: Slice> PartialEq for Shared<S> {
    fn eq(&self, other: &Self) -> bool {
        Borrow::<Shallow<S::Item>>::borrow(self) == Borrow::<Shallow<S::Item>>::borrow(other)
    }
}
impl<S: Slice> Eq for Shared<S> {}

/// The Fx hash (rustc's `FxHasher`: a rotate, xor and multiply per word),
/// for the words of [`Parts`]; SipHash, the std default, costs several
/// times more per word and its resistance to chosen collisions buys
/// nothing here (the words are addresses and small numbers). `finish`
/// rotates, as `rustc-hash` 2 does, so the set's bucket index (the low
/// bits) depends on every word, not only on the last one's low bits.
#[derive(Default)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n)
    }
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// `Thin<T>`: an immutable, reference-counted `[T]` behind one 8-byte
/// pointer, the count and the length in a 4 + 4-byte header before the
/// items (`Arc<[T]>` is a 16-byte pointer to a 16-byte header, `Box<[T]>`
/// a 16-byte pointer). A tree holds one per string, map and array, so
/// halving the pointer, and its low three bits carrying the tag, make a
/// node 8 bytes (a map 16 plus 8 per value), and the counted header lets
/// the interner share them. The
/// `thin-vec` crate is thin but owned (a clone copies, so nothing could be
/// shared) and keeps a capacity this never needs; this module is the small
/// part of `std::sync::Arc` it takes (the same orderings: see the comments
/// in `alloc::sync`), with a 32-bit count and length.
mod thin {
    use super::{Node, ARRAY_TAG, NULL_TAG, TAG_MASK};
    use std::alloc::{self, Layout};
    use std::marker::PhantomData;
    use std::ptr::{self, NonNull};
    use std::sync::atomic::{self, AtomicU32, Ordering};

    /// 8-aligned, so the low three bits of its address are free for a tag.
    #[repr(C, align(8))]
    struct Header {
        refs: AtomicU32,
        len: u32,
    }

    /// The address of the header with `TAG` (below 8) in its low bits: the
    /// word a `Node` of this kind holds.
    #[repr(transparent)]
    pub struct Thin<T, const TAG: usize> {
        word: NonNull<u8>,
        owns: PhantomData<T>,
    }

    // SAFETY: as for `Arc<[T]>`: clones on several threads give shared
    // access to the items, and the last one to drop them may be on any
    // thread.
    unsafe impl<T: Send + Sync, const TAG: usize> Send for Thin<T, TAG> {}
    unsafe impl<T: Send + Sync, const TAG: usize> Sync for Thin<T, TAG> {}

    /// More references than this abort the process, as `Arc` does past
    /// `isize::MAX`: the count must never wrap to a free while references
    /// remain. (Two billion references are 16 GiB of pointers alone; a
    /// tree of a million objects holds a few million in all.)
    const MAX_REFS: u32 = i32::MAX as u32;

    /// The count of an allocation taken from an [`Arena`]: it is never
    /// freed, so clones and drops leave the count alone (above `MAX_REFS`:
    /// a counted allocation never reaches it).
    const IMMORTAL: u32 = u32::MAX;

    /// Where the allocations of trees that live until the process exits
    /// come from (`Interner::leaking`): chunks taken from the global
    /// allocator and never returned, each handed out front to back. A
    /// million small trees kept by `validate` then fill whole pages: made
    /// one by one by the allocator they sat between the freed parts of the
    /// documents they were read from, in pages it could neither reuse for
    /// other sizes nor return (RSS about 1.5x the live bytes), and each was
    /// rounded up to its size class.
    pub struct Arena {
        /// The next free byte of the current chunk (8-aligned) and the
        /// address of its end; null before the first chunk.
        next: *mut u8,
        end: usize,
        /// The size of the next chunk: doubling from 4 KiB to 1 MiB, so a
        /// small input takes little.
        chunk: usize,
    }

    // SAFETY: an arena is a cursor into memory no one else writes: the
    // chunks are its own until handed out, and handed out once.
    unsafe impl Send for Arena {}

    impl Default for Arena {
        fn default() -> Arena {
            Arena {
                next: ptr::null_mut(),
                end: 0,
                chunk: 4 << 10,
            }
        }
    }

    impl Arena {
        const MAX_CHUNK: usize = 1 << 20;

        /// A place for `layout` (size a multiple of 8, align at most 8),
        /// never freed.
        fn take(&mut self, layout: Layout) -> *mut u8 {
            debug_assert!(layout.align() <= 8 && layout.size() % 8 == 0);
            let size = layout.size();
            if size > Self::MAX_CHUNK / 4 {
                // Alone: a large string would waste the current chunk.
                return Self::chunk_of(size);
            }
            if self.next.is_null() || self.end - self.next.addr() < size {
                // At least `size`: chunks start small, and the first
                // thing asked for may be a 5 KiB annotation.
                let len = self.chunk.max(size);
                self.chunk = (self.chunk * 2).min(Self::MAX_CHUNK);
                self.next = Self::chunk_of(len);
                self.end = self.next.addr() + len;
            }
            assert!(
                self.end - self.next.addr() >= size,
                "a place inside the chunk"
            );
            let place = self.next;
            // SAFETY: `size` bytes fit before `end` (the current chunk had
            // room, or the new one is at least `size` long; asserted), so
            // the new cursor is within the chunk or one past its end.
            self.next = unsafe { place.add(size) };
            place
        }

        fn chunk_of(len: usize) -> *mut u8 {
            let layout = Layout::from_size_align(len, 8).expect("a chunk that fits in memory");
            // SAFETY: `len` is not zero (a header at least).
            let raw = unsafe { alloc::alloc(layout) };
            if raw.is_null() {
                alloc::handle_alloc_error(layout)
            }
            raw
        }
    }

    /// The allocation for `len` items and the offset of the first.
    fn layout<T>(len: usize) -> (Layout, usize) {
        let items = Layout::array::<T>(len).expect("a slice that fits in memory");
        let (whole, offset) = Layout::new::<Header>()
            .extend(items)
            .expect("a slice that fits in memory");
        (whole.pad_to_align(), offset)
    }

    impl<T, const TAG: usize> Thin<T, TAG> {
        const TAG_FITS: () = assert!(TAG < std::mem::align_of::<Header>());
        /// An arena hands out 8-aligned places only.
        const ALIGN_FITS: () = assert!(std::mem::align_of::<T>() <= 8);

        /// A new allocation (from `arena`, never freed, when given) with
        /// the header for `len` items written, and the (uninitialised)
        /// place of the first item.
        fn allocate(len: usize, arena: Option<&mut Arena>) -> (NonNull<u8>, *mut T) {
            #[allow(clippy::let_unit_value)]
            let () = Self::TAG_FITS;
            #[allow(clippy::let_unit_value)]
            let () = Self::ALIGN_FITS;
            let len32 = u32::try_from(len).expect("a string or slice of under 4 Gi items");
            let (layout, offset) = layout::<T>(len);
            let (raw, refs) = match arena {
                Some(arena) => (arena.take(layout), IMMORTAL),
                // SAFETY: the layout is not zero-sized (it holds the header).
                None => (unsafe { alloc::alloc(layout) }, 1),
            };
            let Some(header) = NonNull::new(raw.cast::<Header>()) else {
                alloc::handle_alloc_error(layout)
            };
            // SAFETY: `raw` is a fresh allocation of `layout` (or a fresh
            // place of its size and alignment in a chunk), aligned for the
            // header at 0 and for the items at `offset`.
            unsafe {
                header.as_ptr().write(Header {
                    refs: AtomicU32::new(refs),
                    len: len32,
                });
            }
            let word = NonNull::new(raw.map_addr(|a| a | TAG)).expect("a non-null address");
            // SAFETY: as above.
            (word, unsafe { raw.add(offset).cast::<T>() })
        }

        /// Moves `v[start..]` into a new allocation (`v` keeps
        /// `v[..start]`).
        pub fn from_tail(v: &mut Vec<T>, start: usize, arena: Option<&mut Arena>) -> Thin<T, TAG> {
            let len = v.len().checked_sub(start).expect("start within the vector");
            let (word, items) = Self::allocate(len, arena);
            // SAFETY: the `len` items at `start` are initialised and move
            // into the new place, which holds `len` items and does not
            // overlap; the vector then forgets them (nothing can panic in
            // between, so none is dropped twice or lost).
            unsafe {
                ptr::copy_nonoverlapping(v.as_ptr().add(start), items, len);
                v.set_len(start);
            }
            Thin {
                word,
                owns: PhantomData,
            }
        }

        fn header_ptr(&self) -> *mut Header {
            self.word
                .as_ptr()
                .map_addr(|a| a & !(std::mem::align_of::<Header>() - 1))
                .cast::<Header>()
        }

        fn header(&self) -> &Header {
            // SAFETY: the header lives as long as any reference to it.
            unsafe { &*self.header_ptr() }
        }

        fn items(&self) -> *mut T {
            // SAFETY: the offset is within the allocation (`layout`: it
            // does not depend on the length).
            unsafe {
                self.header_ptr()
                    .cast::<u8>()
                    .add(layout::<T>(0).1)
                    .cast::<T>()
            }
        }

        pub fn as_slice(&self) -> &[T] {
            // SAFETY: `len` initialised items follow the header and are
            // never written again while it lives.
            unsafe { std::slice::from_raw_parts(self.items(), self.header().len as usize) }
        }

        pub fn ptr_eq(a: &Thin<T, TAG>, b: &Thin<T, TAG>) -> bool {
            a.word == b.word
        }

        /// The tagged address, which identifies the allocation while it
        /// lives; the word a node of it holds.
        pub fn word(&self) -> *const u8 {
            self.word.as_ptr()
        }
    }

    impl<T: Copy, const TAG: usize> Thin<T, TAG> {
        pub fn from_slice(s: &[T], arena: Option<&mut Arena>) -> Thin<T, TAG> {
            let (word, items) = Self::allocate(s.len(), arena);
            // SAFETY: the new place holds `s.len()` items and does not
            // overlap `s`; `T: Copy`, so copying bits is a copy.
            unsafe { ptr::copy_nonoverlapping(s.as_ptr(), items, s.len()) };
            Thin {
                word,
                owns: PhantomData,
            }
        }
    }

    impl<T, const TAG: usize> Clone for Thin<T, TAG> {
        fn clone(&self) -> Thin<T, TAG> {
            // Relaxed, as `Arc::clone`: a new reference is made from an
            // existing one, which keeps the allocation alive meanwhile.
            // An arena's allocation is never freed: nothing to count (and
            // `IMMORTAL` is never written, so reading it is not a race).
            let refs = &self.header().refs;
            if refs.load(Ordering::Relaxed) != IMMORTAL
                && refs.fetch_add(1, Ordering::Relaxed) >= MAX_REFS
            {
                std::process::abort();
            }
            Thin {
                word: self.word,
                owns: PhantomData,
            }
        }
    }

    impl<T, const TAG: usize> Drop for Thin<T, TAG> {
        fn drop(&mut self) {
            // Release, then Acquire before freeing, as `Arc::drop`: every
            // other reference's use of the items happens before the free.
            // An arena's allocation is never freed (nor are its items
            // dropped: they may be its own too, or leak with it).
            let refs = &self.header().refs;
            if refs.load(Ordering::Relaxed) == IMMORTAL || refs.fetch_sub(1, Ordering::Release) != 1
            {
                return;
            }
            atomic::fence(Ordering::Acquire);
            let len = self.header().len as usize;
            // SAFETY: this was the last reference: the items are dropped
            // once and the allocation freed with the layout it was made
            // with.
            unsafe {
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.items(), len));
                alloc::dealloc(self.header_ptr().cast::<u8>(), layout::<T>(len).0);
            }
        }
    }

    /// A map's items (its shape, then the values it stores; see
    /// `NodeMap`) behind one word: the address of the first item, with
    /// `TAG` in its low bits. One from the global allocator is laid out as
    /// a [`Thin`] (the counted header just before the items), and its first
    /// item is the shape's node. One from an [`Arena`] has no header: it is
    /// never freed, so there is nothing to count, and its length follows
    /// from its shape (`stored_len`); that saves 8 bytes a map, and every
    /// object holds a few maps no other shares (its root and `metadata`,
    /// and any holding its name). Its first item is then the shape's word
    /// with no tag ([`untagged`]: the shape is the arena's too, never
    /// freed), which is how the two are told apart.
    #[repr(transparent)]
    pub struct MapItems<const TAG: usize> {
        word: NonNull<u8>,
    }

    // SAFETY: as for `Thin<Node, TAG>`.
    unsafe impl<const TAG: usize> Send for MapItems<TAG> {}
    unsafe impl<const TAG: usize> Sync for MapItems<TAG> {}

    /// The shape node `n` (an array from an arena) as an arena map holds
    /// it: its address without the tag (a node that reads as null, and
    /// whose drop does nothing: an arena's array is not counted).
    pub(super) fn untagged(n: Node) -> Node {
        debug_assert_eq!(n.tag(), ARRAY_TAG);
        let n = std::mem::ManuallyDrop::new(n);
        Node {
            word: n.word.map_addr(|a| a & !TAG_MASK),
        }
    }

    impl<const TAG: usize> MapItems<TAG> {
        /// Moves `v[start..]` (the shape, then the values) into a new
        /// allocation: from `arena` when given, and then the shape must be
        /// `untagged` already (so that the interner's set compares the
        /// items it holds with the ones on its stack), else from the global
        /// allocator with a counted header.
        pub fn from_tail(v: &mut Vec<Node>, start: usize, arena: Option<&mut Arena>) -> Self {
            let len = v.len().checked_sub(start).expect("start within the vector");
            assert!(len >= 1, "a map's items start with its shape");
            assert_eq!(
                v[start].tag() == NULL_TAG,
                arena.is_some(),
                "an arena's map holds its shape untagged, any other tagged"
            );
            let items: *mut Node = match arena {
                Some(arena) => {
                    let layout = Layout::array::<Node>(len).expect("a map that fits in memory");
                    arena.take(layout).cast::<Node>()
                }
                None => Thin::<Node, TAG>::allocate(len, None).1,
            };
            // SAFETY: as in `Thin::from_tail`: the `len` items move into a
            // new place that holds `len` items, and the vector forgets them.
            unsafe {
                ptr::copy_nonoverlapping(v.as_ptr().add(start), items, len);
                v.set_len(start);
            }
            MapItems {
                word: NonNull::new(items.cast::<u8>().map_addr(|a| a | TAG)).expect("non-null"),
            }
        }

        const TAG_FITS: () = assert!(TAG < std::mem::align_of::<Header>());

        fn first(&self) -> *mut Node {
            #[allow(clippy::let_unit_value)]
            let () = Self::TAG_FITS;
            self.word
                .as_ptr()
                .map_addr(|a| a & !TAG_MASK)
                .cast::<Node>()
        }

        /// The first item: the shape, tagged or not.
        fn shape_slot(&self) -> &Node {
            // SAFETY: every map has its shape as first item, which lives as
            // long as the map.
            unsafe { &*self.first() }
        }

        /// The counted header, when the map has one.
        fn header(&self) -> Option<&Header> {
            if self.shape_slot().tag() == NULL_TAG {
                return None;
            }
            // SAFETY: a map with a tagged shape was laid out by
            // `Thin::allocate`: its header is just before the items.
            Some(unsafe {
                &*self
                    .first()
                    .cast::<u8>()
                    .sub(layout::<Node>(0).1)
                    .cast::<Header>()
            })
        }

        /// The shape's nodes.
        pub fn shape(&self) -> &[Node] {
            let slot = self.shape_slot();
            if slot.tag() != NULL_TAG {
                debug_assert_eq!(slot.tag(), ARRAY_TAG);
                return slot.as_array().unwrap_or(&[]);
            }
            // SAFETY: an untagged shape is the address of an array's
            // allocation (a `Thin<Node, ARRAY_TAG>`'s header, then its
            // items), from the arena, never freed.
            unsafe {
                let header = slot.word.cast::<Header>();
                let items = slot.word.add(layout::<Node>(0).1).cast::<Node>();
                std::slice::from_raw_parts(items, (*header).len as usize)
            }
        }

        /// The shape, then the values the map stores.
        pub fn items(&self) -> &[Node] {
            let len = match self.header() {
                Some(h) => h.len as usize,
                None => 1 + super::stored_len(self.shape()),
            };
            // SAFETY: `len` initialised items start at `first`, never
            // written again while the map lives.
            unsafe { std::slice::from_raw_parts(self.first(), len) }
        }

        pub fn ptr_eq(a: &Self, b: &Self) -> bool {
            a.word == b.word
        }

        pub fn word(&self) -> *const u8 {
            self.word.as_ptr()
        }

        /// Whether the map has a counted header (it is not an arena's).
        #[cfg(test)]
        pub fn counted(&self) -> bool {
            self.header().is_some()
        }
    }

    impl<const TAG: usize> Clone for MapItems<TAG> {
        fn clone(&self) -> Self {
            // As `Thin::clone`; an arena's map has no count.
            if let Some(h) = self.header() {
                if h.refs.load(Ordering::Relaxed) != IMMORTAL
                    && h.refs.fetch_add(1, Ordering::Relaxed) >= MAX_REFS
                {
                    std::process::abort();
                }
            }
            MapItems { word: self.word }
        }
    }

    impl<const TAG: usize> Drop for MapItems<TAG> {
        fn drop(&mut self) {
            // As `Thin::drop`; an arena's map is never freed.
            let Some(h) = self.header() else {
                return;
            };
            if h.refs.load(Ordering::Relaxed) == IMMORTAL
                || h.refs.fetch_sub(1, Ordering::Release) != 1
            {
                return;
            }
            atomic::fence(Ordering::Acquire);
            let len = h.len as usize;
            // SAFETY: the last reference: the items are dropped once and
            // the allocation freed with the layout `Thin::allocate` made,
            // through a pointer from the word (which may free the whole
            // allocation; one from `h`, a reference to the header alone,
            // may not: Miri's borrow models refuse it).
            unsafe {
                let header = self.first().cast::<u8>().sub(layout::<Node>(0).1);
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.first(), len));
                alloc::dealloc(header, layout::<Node>(len).0);
            }
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
        assert_eq!(n.get("s"), Some(&Node::from(Str::from("text"))));
        for p in ["", "/a/3/b", "/k~1x/~0t", "/a/9", "/a/01", "/nope", "/s/x"] {
            assert_eq!(
                n.pointer(p).map(Node::to_json).as_ref(),
                v.pointer(p),
                "{p}"
            );
        }
    }

    /// Every kind of number reads, compares and prints as the
    /// `serde_json::Number` it came from.
    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        // The last integers that fit in a node's word, the first that do
        // not, and the extremes.
        let v = json!([
            0,
            1,
            u64::MAX,
            i64::MAX,
            -1,
            i64::MIN,
            (1u64 << 61) - 1,
            1u64 << 61,
            -(1i64 << 60),
            -(1i64 << 60) - 1,
            1.0,
            -0.5,
            1e300,
            0.1
        ]);
        let n = Node::from(v.clone());
        for (x, y) in n.as_array().unwrap().iter().zip(v.as_array().unwrap()) {
            assert_eq!(x.as_u64(), y.as_u64(), "{y}");
            assert_eq!(x.as_i64(), y.as_i64(), "{y}");
            assert_eq!(x.as_f64(), y.as_f64(), "{y}");
            assert_eq!(x.to_string(), y.to_string());
            assert_eq!(x.to_json(), *y);
            assert_eq!(x, y);
            let View::Number(num) = x.view() else {
                panic!("{x}")
            };
            assert_eq!(num.to_string(), y.to_string());
        }
        // An integer and a float of the same value differ, as in serde_json.
        assert_ne!(n[1], n[10]);
        assert_ne!(n[1], json!(1.0));
        assert_eq!(n[10].to_string(), "1.0");
        assert_eq!(n[10].as_u64(), None);
        assert_eq!(n[2].as_i64(), None);
        assert_eq!(n[4].as_u64(), None);
    }

    #[test]
    fn equal_strings_share_one_allocation() {
        let mut i = Interner::default();
        let a = i.node(json!({"name": "web", "labels": {"app": "web"}}));
        let b = i.node(json!({"name": "web"}));
        let (View::String(x), View::String(y)) = (a["name"].view(), b["name"].view()) else {
            panic!("{a} {b}")
        };
        assert!(Str::ptr_eq(x, y));
        let View::String(z) = a["labels"]["app"].view() else {
            panic!("{a}")
        };
        assert!(Str::ptr_eq(x, z));
        assert_eq!(
            a.as_object().unwrap().shape()[0].w(),
            b.as_object().unwrap().shape()[0].w()
        );
    }

    fn same_map(a: &Node, b: &Node) -> bool {
        match (a.view(), b.view()) {
            (View::Object(x), View::Object(y)) => thin::MapItems::ptr_eq(&x.0, &y.0),
            (View::Array(x), View::Array(y)) => Thin::ptr_eq(&x.0, &y.0),
            _ => panic!("{a} {b}"),
        }
    }

    /// Equal maps and arrays below the roots share one allocation, within
    /// an object and across objects; different ones (another value, order
    /// or number type) and the roots do not.
    #[test]
    fn equal_subtrees_share_one_allocation() {
        let mut i = Interner::default();
        let dr = |name: &str| {
            json!({"kind": "DestinationRule", "metadata": {"name": name},
                "spec": {"host": name, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
                    "ports": [{"port": 80}], "alt": {"tls": {"mode": "ISTIO_MUTUAL"}}}})
        };
        let a = i.node(dr("a"));
        let b = i.node(dr("b"));
        let a2 = i.node(dr("a"));
        let tp = |n: &Node| n["spec"]["trafficPolicy"].clone();
        assert!(same_map(&tp(&a), &tp(&b)));
        assert!(same_map(&tp(&a)["tls"], &a["spec"]["alt"]["tls"]));
        assert!(same_map(&a["spec"]["ports"], &b["spec"]["ports"]));
        assert!(!same_map(&a["spec"], &b["spec"]));
        assert!(same_map(&a["spec"], &a2["spec"]));
        assert!(same_map(&a["metadata"], &a2["metadata"]));
        // The root is never shared, even when equal.
        assert!(!same_map(&a, &a2));
        assert_eq!(a, a2);
        assert_eq!(a.to_json(), dr("a"));
        assert_eq!(b.to_json(), dr("b"));
        let c = i.node(
            json!({"x": {"p": 80, "q": 1}, "y": {"q": 1, "p": 80}, "z": {"p": 80.0, "q": 1}}),
        );
        assert!(!same_map(&c["x"], &c["y"]));
        assert_eq!(c["x"], c["y"]);
        assert!(!same_map(&c["x"], &c["z"]));
        assert_ne!(c["x"], c["z"]);
        assert_eq!(c["z"]["p"].to_string(), "80.0");
        let e = i.node(json!({"a": [], "b": {}, "c": [], "d": {}}));
        assert!(same_map(&e["a"], &e["c"]));
        assert!(same_map(&e["b"], &e["d"]));
    }

    /// Maps with the same keys in the same order share their shape, with
    /// different values or not; another order or another key does not.
    #[test]
    fn maps_with_the_same_keys_share_one_shape() {
        let mut i = Interner::default();
        let a = i.node(json!({"m": {"name": "a", "namespace": "x"}}));
        let b = i.node(
            json!({"m": {"name": "b", "namespace": "y"}, "n": {"namespace": "y", "name": "b"}}),
        );
        let shape = |n: &Node| n.as_object().unwrap().shape().as_ptr() as usize;
        assert_eq!(shape(&a["m"]), shape(&b["m"]));
        assert_ne!(shape(&b["m"]), shape(&b["n"]));
        assert_ne!(shape(&a), shape(&b));
        assert_eq!(b["m"], b["n"]);
        let m = b["n"].as_object().unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["namespace", "name"]);
        assert_eq!(
            m.values().map(|v| v.as_str().unwrap()).collect::<Vec<_>>(),
            ["y", "b"]
        );
        let w = m.without("namespace");
        assert_eq!(Node::from(w.clone()).to_json(), json!({"name": "b"}));
        assert_eq!(w.len(), 1);
        assert!(m.contains_key("name") && !w.contains_key("namespace"));
        let empty = NodeMap::default();
        assert!(empty.is_empty() && empty.get("x").is_none());
        assert_eq!(Node::from(empty).to_json(), json!({}));
    }

    /// A root map's `apiVersion` and `kind` (strings) live in its shape,
    /// shared by every object of the kind; the map reads exactly as before
    /// from both ends, wherever the two keys stand.
    #[test]
    fn objects_of_a_kind_carry_their_api_version_and_kind_in_one_shape() {
        for i in [Interner::default(), Interner::leaking()] {
            carry_api_version_and_kind(i);
        }
    }

    fn carry_api_version_and_kind(mut i: Interner) {
        let obj = |name: &str| {
            json!({"metadata": {"name": name}, "kind": "Service", "spec": {"a": 1},
                "apiVersion": "v1", "status": null})
        };
        let (a, b) = (i.node(obj("a")), i.node(obj("b")));
        let m = a.as_object().unwrap();
        let shape = |n: &Node| n.as_object().unwrap().shape().as_ptr() as usize;
        assert_eq!(shape(&a), shape(&b));
        // Three of five values are the map's own.
        assert_eq!(m.stored().len(), 3);
        assert_eq!(m.len(), 5);
        assert_eq!(a, obj("a"));
        assert_eq!(a.to_json(), obj("a"));
        assert_eq!(a.to_string(), obj("a").to_string());
        assert_eq!(a["kind"], "Service");
        assert_eq!(a["apiVersion"], "v1");
        assert_eq!(a["metadata"]["name"], "a");
        assert!(a["status"].is_null() && a.get("status").is_some());
        assert_eq!(a.get("nope"), None);
        let keys = ["metadata", "kind", "spec", "apiVersion", "status"];
        assert_eq!(m.keys().collect::<Vec<_>>(), keys);
        let values: Vec<Value> = m.values().map(Node::to_json).collect();
        let want = [
            json!({"name": "a"}),
            json!("Service"),
            json!({"a": 1}),
            json!("v1"),
            json!(null),
        ];
        assert_eq!(values, want);
        let back: Vec<(&str, Value)> = m.iter().rev().map(|(k, v)| (k, v.to_json())).collect();
        let want_back: Vec<(&str, Value)> = keys.into_iter().zip(want).rev().collect();
        assert_eq!(back, want_back);
        // From both ends at once, and counted.
        let mut it = m.iter();
        assert_eq!(it.len(), 5);
        assert_eq!(it.next().map(|(k, _)| k), Some("metadata"));
        assert_eq!(it.next_back().map(|(k, _)| k), Some("status"));
        assert_eq!(it.next_back().map(|(k, _)| k), Some("apiVersion"));
        assert_eq!(
            it.next().map(|(k, v)| (k, v.to_json())),
            Some(("kind", json!("Service")))
        );
        assert_eq!(it.len(), 1);
        assert_eq!(it.next().map(|(k, _)| k), Some("spec"));
        assert_eq!(it.next(), None);
        let w = m.without("kind");
        assert_eq!(
            Node::from(w).to_json(),
            json!({"metadata": {"name": "a"}, "spec": {"a": 1}, "apiVersion": "v1", "status": null})
        );
        // Another kind: another shape. A kind that is not a string, and
        // maps below the root, carry nothing.
        let c = i.node(json!({"metadata": {"name": "a"}, "kind": "Pod", "spec": {"a": 1}, "apiVersion": "v1", "status": null}));
        assert_ne!(shape(&a), shape(&c));
        let d = i.node(json!({"kind": 7, "apiVersion": "v1", "x": {"kind": "Pod"}}));
        assert_eq!(d.as_object().unwrap().stored().len(), 2);
        assert_eq!(d["x"].as_object().unwrap().stored().len(), 1);
        assert_eq!(
            d.to_json(),
            json!({"kind": 7, "apiVersion": "v1", "x": {"kind": "Pod"}})
        );
    }

    /// An object's `metadata.namespace` (a string) lives in the shape of
    /// its metadata, shared by every object of the namespace with the same
    /// metadata keys; nowhere else does a namespace key carry.
    #[test]
    fn metadata_carries_its_namespace_in_one_shape() {
        for i in [Interner::default(), Interner::leaking()] {
            carry_namespace(i);
        }
    }

    fn carry_namespace(mut i: Interner) {
        let obj = |name: &str, ns: Value| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                "spec": {"namespace": "x"}})
        };
        let (a, b) = (
            i.node(obj("a", json!("shop"))),
            i.node(obj("b", json!("shop"))),
        );
        let c = i.node(obj("c", json!("other")));
        let meta = |n: &Node| n["metadata"].as_object().unwrap().clone();
        let shape = |m: &NodeMap| m.shape().as_ptr() as usize;
        assert_eq!(shape(&meta(&a)), shape(&meta(&b)));
        assert_ne!(shape(&meta(&a)), shape(&meta(&c)));
        assert_eq!(meta(&a).stored().len(), 2);
        assert!(meta(&a).plain().is_none());
        for (n, name, ns) in [(&a, "a", "shop"), (&b, "b", "shop"), (&c, "c", "other")] {
            assert_eq!(*n, obj(name, json!(ns)));
            assert_eq!(n.to_string(), obj(name, json!(ns)).to_string());
            assert_eq!(n["metadata"]["namespace"], ns);
            let m = meta(n);
            let keys: Vec<&str> = m.iter().rev().map(|(k, _)| k).collect();
            assert_eq!(keys, ["labels", "namespace", "name"]);
        }
        // Not a string; or not an object's metadata: stored as any value.
        let d = i.node(obj("d", json!(null)));
        assert_eq!(meta(&d).stored().len(), 3);
        assert_eq!(d, obj("d", json!(null)));
        assert_eq!(a["spec"].as_object().unwrap().stored().len(), 1);
        assert!(a["metadata"]["labels"]
            .as_object()
            .unwrap()
            .plain()
            .is_some());
    }

    /// The sets are emptied at their window; what was built before and
    /// after reads the same, and sharing starts again.
    #[test]
    fn the_windows_bound_the_sets_and_trees_stay_right() {
        let mut i = Interner::default();
        let mut kept = vec![];
        for n in 0..TREE_WINDOW + 10 {
            kept.push(i.node(json!({"spec": {"n": n, "m": {"mode": "STRICT"}}})));
        }
        assert!(i.maps.len() <= TREE_WINDOW);
        assert!(i.strings.len() <= INTERN_WINDOW);
        for (n, k) in kept.iter().enumerate() {
            assert_eq!(
                k.to_json(),
                json!({"spec": {"n": n, "m": {"mode": "STRICT"}}})
            );
        }
        let last = kept.len() - 1;
        assert!(same_map(
            &kept[last]["spec"]["m"],
            &kept[last - 1]["spec"]["m"]
        ));
        drop(kept);
        assert_eq!(i.keys.len() + i.items.len(), 0);
    }

    #[test]
    fn the_window_bounds_the_set_and_strings_stay_right() {
        let mut i = Interner::default();
        let mut kept = vec![];
        for n in 0..INTERN_WINDOW + 10 {
            kept.push(i.intern(&format!("s{n}")));
        }
        assert!(i.strings.len() <= INTERN_WINDOW);
        assert_eq!(&*kept[0], "s0");
        assert_eq!(&*kept[INTERN_WINDOW + 9], format!("s{}", INTERN_WINDOW + 9));
        let long = "x".repeat(INTERN_MAX_LEN + 1);
        assert_eq!(&*i.intern(&long), long);
        assert!(!i.strings.contains(long.as_str()));
        assert_eq!(&*i.intern(""), "");
    }

    /// Every item is dropped exactly once, when its last reference goes,
    /// whichever thread that is on.
    #[test]
    fn thin_slices_drop_their_items_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let drops = Arc::new(AtomicUsize::new(0));
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let mut v: Vec<Counted> = (0..5).map(|_| Counted(drops.clone())).collect();
        let t: Thin<Counted, 0> = Thin::from_tail(&mut v, 2, None);
        assert_eq!((v.len(), t.as_slice().len()), (2, 3));
        drop(v);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        let clones: Vec<_> = (0..4).map(|_| t.clone()).collect();
        drop(t);
        std::thread::scope(|s| {
            for c in clones {
                s.spawn(move || drop(c));
            }
        });
        assert_eq!(drops.load(Ordering::SeqCst), 5);
        let empty: Thin<Counted, 0> = Thin::from_tail(&mut vec![], 0, None);
        assert!(empty.as_slice().is_empty());
    }

    /// A leaking interner's trees read like the values they came from,
    /// share as the counted ones do, and are never freed: clones and drops
    /// on any thread leave them readable, and a string too large for a
    /// chunk gets one of its own.
    #[test]
    fn trees_from_an_arena_read_alike_and_outlive_every_drop() {
        let mut arena = Interner::leaking();
        let big = "c".repeat(1 << 20);
        let v = json!({"a": sample(), "b": sample(), "big": big, "n": 1e300});
        let kept = arena.node(v.clone());
        assert_eq!(kept, v);
        assert_eq!(kept.to_json(), v);
        // Its maps have no header (8 bytes each); the global allocator's do.
        assert!(!kept.as_object().unwrap().0.counted());
        assert!(!kept["a"]["a"][3].as_object().unwrap().0.counted());
        assert!(Node::from(v.clone()).as_object().unwrap().0.counted());
        // Shared below the root, as with the global allocator.
        assert!(same_map(&kept["a"], &kept["b"]));
        let counted = Interner::default().node(v.clone());
        assert_eq!(counted, kept.to_json());
        let inner = kept["a"]["a"].clone();
        let clones: Vec<Node> = (0..64).map(|_| kept.clone()).collect();
        std::thread::scope(|s| {
            for c in clones {
                s.spawn(move || drop(c));
            }
        });
        drop(kept);
        assert_eq!(inner, v["a"]["a"]);
        // Many small trees: chunks are taken as they fill.
        let many: Vec<Node> = (0..5000)
            .map(|i| arena.node(json!({"name": format!("app-{i}"), "i": i})))
            .collect();
        for (i, n) in many.iter().enumerate() {
            assert_eq!(n["name"], format!("app-{i}"));
            assert_eq!(n["i"].as_u64(), Some(i as u64));
        }
        assert_eq!(arena.node(json!(big.clone())).as_str(), Some(big.as_str()));
    }

    /// Whatever comes first into a fresh arena, and however large (up to
    /// the size that gets a chunk alone), lands inside a chunk: strings of
    /// 5 KiB and 100 KiB, maps and arrays of a thousand items, between
    /// small ones, all read back whole.
    #[test]
    fn places_larger_than_the_current_chunk_get_a_chunk_that_holds_them() {
        for first in [5 << 10, 100 << 10, 300 << 10] {
            let mut arena = Interner::leaking();
            let text = |n: usize, c: char| c.to_string().repeat(n);
            let values = [
                json!(text(first, 'a')),
                json!({"small": "x"}),
                json!(text(first + 8, 'b')),
                json!((0..1000).map(|i| format!("k{i}")).collect::<Vec<_>>()),
                Value::Object((0..1000).map(|i| (format!("key-{i}"), json!(i))).collect()),
                json!({"n": 1e300, "big": u64::MAX}),
                json!(text(3 << 10, 'c')),
            ];
            let kept: Vec<Node> = values.iter().map(|v| arena.node(v.clone())).collect();
            for (n, v) in kept.iter().zip(&values) {
                assert_eq!(n, v, "first {first}");
                assert_eq!(&n.to_json(), v);
            }
        }
    }

    #[test]
    fn a_node_is_8_bytes_and_crosses_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Node>();
        assert_eq!(std::mem::size_of::<Node>(), 8);
    }
}
