//! The maps of the check's hot path, and how each gets its seed.

/// The maps of the check's hot path (the store's caches, the prepared
/// rows): foldhash instead of std's SipHash, which was a visible share of
/// an in-process check (`cargo bench -p tally --bench route`). Made by
/// [`hot_map`], each with a seed of its own from the operating system, so the keys an attacker picks (a miss is cached too,
/// under the presented tokenId) cannot be aimed at one bucket; foldhash
/// claims no more resistance than that, which is what a cache bounded by
/// `MAX_ENTRIES` needs.
pub(crate) type HotMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::SeedableRandomState>;

/// An empty [`HotMap`] with a seed from the operating system (foldhash's
/// own, from the address space's layout and the clock, should the
/// operating system have none to give).
pub(crate) fn hot_map<K, V>() -> HotMap<K, V> {
    use foldhash::{SharedSeed, fast::SeedableRandomState};
    let hasher = match crate::random::seed() {
        Ok(seed) => SeedableRandomState::with_seed(seed, SharedSeed::global_random()),
        Err(_) => SeedableRandomState::random(),
    };
    HotMap::with_hasher(hasher)
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::hot_map;

    #[test]
    fn each_hot_map_has_a_seed_of_its_own() {
        // Same key, two maps: with a constant seed (or foldhash's fixed
        // state) the hashes would agree; with 64 random bits they agree
        // once in 2^64.
        let (a, b) = (hot_map::<u64, ()>(), hot_map::<u64, ()>());
        assert_ne!(a.hasher().hash_one(7u64), b.hasher().hash_one(7u64));
    }
}
