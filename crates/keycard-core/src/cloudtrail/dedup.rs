//! eventID deduplication within a sliding window of days: overlapping trails deliver the same
//! event twice at about the same time, so the set only spans the days in flight and memory
//! stays flat in corpus size.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

/// The eventIDs already counted, sharded so parallel workers rarely wait for each other, and
/// bucketed by the event's day so old days can be dropped. Each ID is kept as a 64-bit hash
/// ([`id_hash`]), which the sets use as it is.
#[derive(Debug)]
pub(super) struct Dedup {
    shards: Vec<Mutex<HashMap<i64, IdSet>>>,
}

type IdSet = HashSet<u64, BuildHasherDefault<PreHashed>>;

/// A hasher for keys that already are good 64-bit hashes: hashing them again (SipHash, the
/// default) cost more than the rest of deduplication.
#[derive(Debug, Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A 64-bit hash of an eventID (a UUID in practice, any string accepted): 16 bytes per
/// multiply-fold round, every byte and the length mixed in. Deterministic, so the same ID
/// always lands on the same hash across workers and runs.
fn id_hash(id: &str) -> u64 {
    const K0: u64 = 0xA076_1D64_78BD_642F;
    const K1: u64 = 0xE703_7ED1_A0B4_28DB;
    const K2: u64 = 0x8EBC_6AF0_9C88_C6E3;
    fn fold(a: u64, b: u64) -> u64 {
        let r = u128::from(a).wrapping_mul(u128::from(b));
        (r as u64) ^ ((r >> 64) as u64)
    }
    let bytes = id.as_bytes();
    let mut h = K2 ^ (bytes.len() as u64).wrapping_mul(K0);
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        let (a, b) = c.split_at(8);
        let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
        let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
        h = fold(a ^ K0, b ^ h ^ K1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 16];
        tail[..rest.len()].copy_from_slice(rest);
        let a = u64::from_le_bytes(tail[..8].try_into().unwrap_or_default());
        let b = u64::from_le_bytes(tail[8..].try_into().unwrap_or_default());
        h = fold(a ^ K0, b ^ h ^ K1);
    }
    fold(h ^ K2, h.rotate_left(29) ^ K0)
}

impl Dedup {
    const SHARDS: usize = 32;

    pub(super) fn new() -> Self {
        Dedup {
            shards: (0..Self::SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    /// Whether this (day, id) is new; records it.
    pub(super) fn first_time(&self, day: i64, id: &str) -> bool {
        let hash = id_hash(id);
        let shard = &self.shards[(hash >> 59) as usize % Self::SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(day).or_default().insert(hash)
    }

    pub(super) fn evict_before(&self, day: i64) {
        for shard in &self.shards {
            let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|d, _| *d >= day);
        }
    }
}

/// Days of eventIDs kept behind the oldest file in flight.
pub(super) const DEDUP_DAYS_BEHIND: i64 = 2;
