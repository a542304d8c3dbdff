//! The neighbour lists of the in-memory build: flat arrays of atomic words,
//! read without locks by searches and rewritten under a per-node spin lock
//! (see [`Lists`]), in memory advised for huge pages.

use super::params::GraphParams;
use super::select::Link;
use std::sync::atomic::{AtomicU32, Ordering};

/// Every node's neighbour lists, closest link first, in flat arrays of
/// atomic words.
///
/// Level 0 of node `n` is the block at `n * stride0` of `layer0`:
/// `[lock, len, ids × cap0, distances × cap0]`. The levels above of a node
/// of level `L ≥ 1` follow one another from `upper_at[n]` in `upper`, each
/// `[len, ids × m, distances × m]`. An id word holds the node id in its low
/// 31 bits and the link's `diverse` status in bit 31; a distance word holds
/// the bits of an `f32`.
///
/// Writers hold the node's lock (the first word of its level-0 block) and
/// publish a list by storing its length last (release). Searches read ids
/// without the lock: a list rewritten under them may read as a mix of old and
/// new ids, every one of them a real node, which costs a search nothing but
/// a slightly different path (hnswlib takes a lock here; the lock-free read
/// is what makes the flat layout pay).
pub(super) struct Lists {
    cap0: usize,
    cap: usize,
    layer0: Vec<AtomicU32>,
    upper: Vec<AtomicU32>,
    upper_at: Vec<u32>,
}

const DIVERSE: u32 = 1 << 31;

impl Lists {
    pub(super) fn new(params: &GraphParams, levels: &[u8]) -> Lists {
        assert!(levels.len() < DIVERSE as usize, "too many nodes for one graph");
        let (cap0, cap) = (params.capacity(0), params.capacity(1));
        let stride0 = 2 + 2 * cap0;
        let layer0 = huge_vec(levels.len() * stride0, |_| AtomicU32::new(0));
        let mut upper_at = Vec::with_capacity(levels.len());
        let mut words = 0usize;
        for &level in levels {
            upper_at.push(u32::try_from(words).expect("upper lists fit in 2^32 words"));
            words += usize::from(level) * (1 + 2 * cap);
        }
        let upper = huge_vec(words, |_| AtomicU32::new(0));
        Lists { cap0, cap, layer0, upper, upper_at }
    }

    /// The words of `node`'s list at `level`: `[len, ids, distances]`, and
    /// its capacity.
    fn block(&self, node: u32, level: usize) -> (&[AtomicU32], usize) {
        let n = node as usize;
        if level == 0 {
            let start = n * (2 + 2 * self.cap0) + 1;
            (&self.layer0[start..start + 1 + 2 * self.cap0], self.cap0)
        } else {
            let start = self.upper_at[n] as usize + (level - 1) * (1 + 2 * self.cap);
            (&self.upper[start..start + 1 + 2 * self.cap], self.cap)
        }
    }

    /// Appends the ids of `node`'s list at `level` to `out`, without a lock.
    pub(super) fn read_ids(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        let (words, cap) = self.block(node, level);
        let len = (words[0].load(Ordering::Acquire) as usize).min(cap);
        out.extend(words[1..1 + len].iter().map(|w| w.load(Ordering::Relaxed) & !DIVERSE));
    }

    /// Hints the CPU to load the length and first ids of `node`'s list at
    /// `level`.
    pub(super) fn prefetch(&self, node: u32, level: usize) {
        let (words, _) = self.block(node, level);
        #[cfg(target_arch = "x86_64")]
        for line in words.chunks(16).take(2) {
            // SAFETY: prefetching is only a hint, valid for any address; SSE
            // is part of every x86-64 CPU.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = words;
    }

    pub(super) fn lock(&self, node: u32) -> ListLock<'_> {
        let word = &self.layer0[node as usize * (2 + 2 * self.cap0)];
        let mut spins = 0u32;
        while word.compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        ListLock { lists: self, node, word }
    }
}

/// A node's lists, locked for writing.
pub(super) struct ListLock<'a> {
    lists: &'a Lists,
    node: u32,
    word: &'a AtomicU32,
}

impl ListLock<'_> {
    pub(super) fn get(&self, level: usize) -> Vec<Link<u32>> {
        let (words, cap) = self.lists.block(self.node, level);
        let len = (words[0].load(Ordering::Relaxed) as usize).min(cap);
        (0..len)
            .map(|i| {
                let id = words[1 + i].load(Ordering::Relaxed);
                let distance = f32::from_bits(words[1 + cap + i].load(Ordering::Relaxed));
                Link { id: id & !DIVERSE, distance, diverse: id & DIVERSE != 0 }
            })
            .collect()
    }

    pub(super) fn set(&self, level: usize, links: &[Link<u32>]) {
        let (words, cap) = self.lists.block(self.node, level);
        let len = links.len().min(cap);
        for (i, l) in links[..len].iter().enumerate() {
            words[1 + i].store(l.id | if l.diverse { DIVERSE } else { 0 }, Ordering::Relaxed);
            words[1 + cap + i].store(l.distance.to_bits(), Ordering::Relaxed);
        }
        words[0].store(len as u32, Ordering::Release);
    }
}

impl Drop for ListLock<'_> {
    fn drop(&mut self) {
        self.word.store(0, Ordering::Release);
    }
}

/// A vector of `n` elements made by `make`, in memory the kernel is asked to
/// back with transparent huge pages (2 MiB) before it is first touched. A
/// build reads node payloads and neighbour lists at random over hundreds of
/// megabytes; with 4 KiB pages nearly every read also misses the TLB. Where
/// transparent huge pages are off (or not Linux) this is a plain vector.
pub(super) fn huge_vec<T>(n: usize, make: impl Fn(usize) -> T) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    advise_huge(&v);
    v.extend((0..n).map(make));
    v
}

/// Asks the kernel to back the rest of `v`'s capacity with transparent
/// huge pages (see [`huge_vec`]): for a vector filled in place, such as the
/// payloads a build collects, advised again each time it grows.
#[allow(clippy::ptr_arg)] // the capacity, not just the elements
pub fn advise_huge<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + v.capacity() * std::mem::size_of::<T>();
        let (from, to) = (start.div_ceil(HUGE) * HUGE, end / HUGE * HUGE);
        if to > from {
            // SAFETY: madvise only advises the kernel about pages of this
            // allocation (the 2 MiB-aligned middle of its capacity); it does
            // not change their contents, and an error is harmless.
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}
