//! The primary-key index: finds duplicate keys across all files of a source in one pass.
//!
//! Keys are not stored: each is reduced to its 128-bit xxh3 hash (a collision among 10^10 keys
//! has a probability near 10^-19), mapped to where it was first seen, packed in 64 bits (file
//! number and line). An entry is 24 bytes, so 10 million distinct keys take about 400 MB at the
//! hash table's worst load, against well over a gigabyte as strings. The hash is already
//! uniform, so the table uses it directly instead of hashing it again.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The 128-bit hash of an encoded key, as two `u64` (alignment 8, not 16 like `u128`, which
/// keeps entries at 24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyHash(u64, u64);

impl KeyHash {
    pub fn of(encoded: &[u8]) -> KeyHash {
        let h = xxhash_rust::xxh3::xxh3_128(encoded);
        KeyHash((h >> 64) as u64, h as u64)
    }
}

impl Hash for KeyHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.1);
    }
}

/// A hasher that passes a `u64` through (the key is already a good hash).
#[derive(Debug, Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `KeyHash`; fold anything else in, FNV-style.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

const LINE_BITS: u32 = 40;
const FILE_LIMIT: usize = 1 << (64 - LINE_BITS);
const LINE_LIMIT: u64 = 1 << LINE_BITS;
/// A first-seen location that did not fit the packing.
const UNKNOWN: u64 = u64::MAX;

/// Distinct keys seen so far and where each was first seen.
#[derive(Debug, Default)]
pub(crate) struct PkIndex {
    seen: HashMap<KeyHash, u64, BuildHasherDefault<PassThrough>>,
}

impl PkIndex {
    /// Records `key` as seen at `file`/`line` if it is new (`None`), else returns where it was
    /// first seen (`Some(None)` when that location could not be stored).
    pub fn insert_or_first(
        &mut self,
        key: KeyHash,
        file: usize,
        line: u64,
    ) -> Option<Option<(usize, u64)>> {
        let packed = if file < FILE_LIMIT && line < LINE_LIMIT {
            ((file as u64) << LINE_BITS) | line
        } else {
            UNKNOWN
        };
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(packed);
                None
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let p = *o.get();
                Some((p != UNKNOWN).then_some(((p >> LINE_BITS) as usize, p & (LINE_LIMIT - 1))))
            }
        }
    }

    /// Makes room for `additional` more keys at once: no rehashing while they arrive, and
    /// no moment with both the old and the grown table in memory.
    pub fn reserve(&mut self, additional: usize) {
        self.seen.reserve(additional);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_seen_is_kept() {
        let mut idx = PkIndex::default();
        let a = KeyHash::of(b"a");
        let b = KeyHash::of(b"b");
        assert_eq!(idx.insert_or_first(a, 0, 2), None);
        assert_eq!(idx.insert_or_first(b, 1, 7), None);
        assert_eq!(idx.insert_or_first(a, 3, 9), Some(Some((0, 2))));
        assert_eq!(idx.insert_or_first(b, 0, 1), Some(Some((1, 7))));
        assert_eq!(idx.insert_or_first(KeyHash::of(b"c"), FILE_LIMIT, 1), None);
        assert_eq!(idx.insert_or_first(KeyHash::of(b"c"), 0, 1), Some(None));
        assert_eq!(idx.len(), 3);
        assert_eq!(std::mem::size_of::<(KeyHash, u64)>(), 24);
    }
}
