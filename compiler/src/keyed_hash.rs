//! A fast keyed hasher for the compiler's maps of names and path hashes.
//!
//! One folded multiply per 8 bytes (the 128-bit product's halves xored, as
//! foldhash and wyhash mix) with two secret random seeds, so bucket
//! positions still depend on a secret, as with `RandomState`: a hostile
//! policy cannot make lookups slow by choosing names. SipHash-1-3 was most
//! of the time the position scan spent outside yaml-rust2 (~500,000
//! inserts at 10,000 services, perf), and the model's lookups by service
//! name (millions at 10,000 services) paid it too.
//!
//! Invariant: depends on nothing in the crate; a map's hasher only, never a
//! hash that is stored or compared across runs.

use std::hash::{BuildHasher, Hasher, RandomState};

/// The `BuildHasher`: a map's two secret seeds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyed {
    seeds: [u64; 2],
}

impl Default for Keyed {
    fn default() -> Self {
        // `RandomState` is seeded once per thread and then varied per
        // instance: two of its hashes give two independent secret words.
        let state = RandomState::new();
        Keyed {
            seeds: [state.hash_one(0u64), state.hash_one(1u64) | 1],
        }
    }
}

impl BuildHasher for Keyed {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher {
            seeds: self.seeds,
            hash: 0,
        }
    }
}

pub(crate) struct KeyedHasher {
    seeds: [u64; 2],
    hash: u64,
}

impl Hasher for KeyedHasher {
    #[inline]
    fn write_u64(&mut self, k: u64) {
        let p = u128::from(k ^ self.seeds[0] ^ self.hash) * u128::from(self.seeds[1]);
        self.hash = (p as u64) ^ ((p >> 64) as u64);
    }
    /// Other input goes through the same mix eight bytes at a time; a
    /// short last chunk is padded with zeros, so the length goes in first
    /// (else `"ab"` and `"ab\0"` would be one key).
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.hash ^= (bytes.len() as u64).rotate_left(32);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.write_u64(u64::from(b) | 1 << 63);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_map_finds_every_key_and_tells_near_keys_apart() {
        let mut m: HashMap<String, usize, Keyed> = HashMap::default();
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("svc-{i:05}"))
            .chain(["a", "a\0", "", "abcdefgh", "abcdefgh\0"].map(String::from))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.insert(k.clone(), i), None, "{k:?} collided as a key");
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k.as_str()), Some(&i));
        }
        assert_eq!(m.get("svc-99999"), None);
    }

    #[test]
    fn two_maps_hash_one_key_differently() {
        let (a, b) = (Keyed::default(), Keyed::default());
        assert_ne!(a.hash_one("api"), b.hash_one("api"));
        assert_ne!(a.hash_one("ab"), a.hash_one("ab\0"));
    }
}
