//! Memory that a backend's graph reads hand on to the next one.
//!
//! A search at `hnsw.ef_search` 150 fills about a megabyte: the node
//! cache's map, links and TIDs, and the visited set. Freed at the end of
//! each query, those pages went back to the kernel, and the next query
//! faulted them in again, zeroed: about a tenth of a query's time in a
//! profile of the scanning backend (docs/performance.md). So a
//! [`DiskGraph`] leaves its emptied buffers here when it is dropped, and
//! the next one of this backend takes them; likewise the visited set. A
//! backend keeps at most [`KEPT_BYTES`] of each; a scan nested in another
//! (a join) finds none and allocates its own.
//!
//! [`DiskGraph`]: super::disk::DiskGraph

use super::disk::SeenMap;
use crate::hnsw::layout::Ref;
use crate::hnsw::search::HashVisited;
use std::cell::RefCell;

/// The most a backend keeps between searches, per kind of buffer (so 8 MB
/// in all): enough for a search at ef_search 400; a larger one's buffers
/// are freed.
pub const KEPT_BYTES: usize = 4 << 20;

/// Bytes of a hash table's allocation: `capacity()` is 7/8 of its buckets,
/// each an entry and a control byte.
fn table_bytes(capacity: usize, entry: usize) -> usize {
    capacity.div_ceil(7) * 8 * (entry + 1)
}

/// A node cache's buffers, empty.
#[derive(Default)]
pub struct Arenas {
    pub seen: SeenMap,
    pub links: Vec<u64>,
    pub tids: Vec<Ref>,
}

impl Arenas {
    fn bytes(&self) -> usize {
        table_bytes(self.seen.capacity(), std::mem::size_of::<(u64, super::disk::Seen)>())
            + self.links.capacity() * std::mem::size_of::<u64>()
            + self.tids.capacity() * std::mem::size_of::<Ref>()
    }
}

thread_local! {
    static ARENAS: RefCell<Option<Arenas>> = const { RefCell::new(None) };
    static VISITED: RefCell<Option<HashVisited<u64>>> = const { RefCell::new(None) };
}

/// Buffers for a new node cache: the last ones left, or new ones.
pub fn take_arenas() -> Arenas {
    ARENAS.try_with(|a| a.borrow_mut().take()).ok().flatten().unwrap_or_default()
}

/// Leaves a node cache's buffers, emptied, for the next search.
pub fn keep_arenas(mut arenas: Arenas) {
    if arenas.bytes() > KEPT_BYTES {
        return;
    }
    arenas.seen.clear();
    arenas.links.clear();
    arenas.tids.clear();
    // During thread exit there is nowhere to keep them: they are dropped.
    let _ = ARENAS.try_with(|a| *a.borrow_mut() = Some(arenas));
}

/// An empty visited set with room for `n` ids: the last one left, or new
/// when that one is far larger than `n` (clearing it would cost more, and
/// its few ids would be spread over more cache lines).
pub fn take_visited(n: usize) -> HashVisited<u64> {
    match VISITED.try_with(|v| v.borrow_mut().take()).ok().flatten() {
        Some(mut set) if set.table_bytes() <= table_bytes(n.max(1024) * 8, std::mem::size_of::<u64>()) => {
            set.reset(n);
            set
        }
        _ => HashVisited::with_capacity(n),
    }
}

/// Leaves a visited set for the next search.
pub fn keep_visited(set: HashVisited<u64>) {
    if set.table_bytes() > KEPT_BYTES || set.table_bytes() == 0 {
        return;
    }
    let _ = VISITED.try_with(|v| *v.borrow_mut() = Some(set));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_cache_comes_back_empty_with_its_room() {
        let mut arenas = take_arenas();
        arenas.links.extend(0..1000u64);
        arenas.tids.push(Ref { block: 1, offset: 1 });
        let room = arenas.links.capacity();
        keep_arenas(arenas);
        let again = take_arenas();
        assert!(again.links.is_empty() && again.tids.is_empty() && again.seen.is_empty());
        assert_eq!(again.links.capacity(), room, "the buffers were not reused");
        assert!(take_arenas().links.capacity() == 0, "one cache was handed out twice");
    }

    #[test]
    fn a_huge_cache_is_freed_not_kept() {
        let mut arenas = Arenas::default();
        arenas.links.reserve(KEPT_BYTES / 8 + 1);
        keep_arenas(arenas);
        assert_eq!(take_arenas().links.capacity(), 0);
    }

    #[test]
    fn a_huge_visited_set_is_not_handed_to_a_small_search() {
        let set = take_visited(200_000);
        let big = set.table_bytes();
        keep_visited(set);
        assert!(take_visited(64).table_bytes() < big / 100);
    }

    #[test]
    fn a_kept_visited_set_comes_back_empty() {
        let mut set = take_visited(64);
        use crate::hnsw::search::Visited;
        assert!(set.insert(7));
        keep_visited(set);
        let mut again = take_visited(16);
        assert!(again.is_empty());
        assert!(again.insert(7), "a mark survived into the next search");
    }
}
