//! `ORDER BY embedding <op> $1 LIMIT k`: index scans.
//!
//! The first `amgettuple` walks the graph: a greedy descent through the upper
//! levels, then a beam search of width `hnsw.ef_search` on layer 0. Its
//! results come back closest first. With `hnsw.iterative_scan` on, a scan
//! that runs out (because a `WHERE` clause filtered rows away) resumes from
//! the nodes the beam scored but dropped, `ef_search` at a time, keeping
//! what it has visited, until `hnsw.max_scan_tuples` nodes have been scored
//! or the scan's memory passes `work_mem × hnsw.scan_mem_multiplier`; then
//! it returns what it has left. `strict_order` drops results that would come
//! out of order; `relaxed_order` returns them as found.
//!
//! The scan state is Rust memory owned by the scan's memory context: if the
//! query is cancelled, deleting the context drops it.

use super::disk::DiskGraph;
use super::meta::Meta;
use super::options::{self, IterativeScan};
use super::page::{tid_from_ref, PageLock, SCAN_LOCK};
use crate::format::Error;
use crate::hnsw::layout::Ref;
use crate::hnsw::search::{descend, search_layer, HashVisited, Scored, Scratch};
use crate::hnsw::space::{Element, Payload, Space};
use crate::types::raise;
use crate::types::varlena::DenseRef;
use pgrx::pg_sys;
use pgrx::PgMemoryContexts;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

struct ScanState {
    index: pg_sys::Relation,
    started: bool,
    query: Option<Payload>,
    graph: Option<DiskGraph>,
    visited: HashVisited<u64>,
    scratch: Scratch<u64>,
    /// Scored but not yet returned, for iterative scans.
    discarded: BinaryHeap<Reverse<Scored<u64>>>,
    /// Heap TIDs ready to return, in order.
    ready: VecDeque<(f32, Ref)>,
    previous: f32,
    mode: IterativeScan,
    ef_search: usize,
    exhausted: bool,
}

/// `ambeginscan`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
) -> pg_sys::IndexScanDesc {
    // SAFETY: RelationGetIndexScan allocates the descriptor in the current
    // (per-scan) memory context.
    let scan = unsafe { pg_sys::RelationGetIndexScan(index, nkeys, norderbys) };
    let state = ScanState {
        index,
        started: false,
        query: None,
        graph: None,
        visited: HashVisited::default(),
        scratch: Scratch::default(),
        discarded: BinaryHeap::new(),
        ready: VecDeque::new(),
        previous: f32::NEG_INFINITY,
        mode: IterativeScan::Off,
        ef_search: 40,
        exhausted: false,
    };
    // SAFETY: the state lives until the scan's memory context is deleted or
    // reset, which also happens when the query fails.
    let state = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
    // SAFETY: `scan` is the descriptor just allocated.
    unsafe { (*scan).opaque = state.cast() };
    scan
}

fn state_of<'a>(scan: pg_sys::IndexScanDesc) -> &'a mut ScanState {
    // SAFETY: opaque was set in ambeginscan and lives as long as the scan.
    unsafe { &mut *(*scan).opaque.cast::<ScanState>() }
}

/// `amrescan`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: copies the new keys into the descriptor, as every AM does.
    unsafe {
        if !keys.is_null() && (*scan).numberOfKeys > 0 {
            std::ptr::copy(keys, (*scan).keyData, nkeys as usize);
        }
        if !orderbys.is_null() && (*scan).numberOfOrderBys > 0 {
            std::ptr::copy(orderbys, (*scan).orderByData, norderbys as usize);
        }
    }
    let state = state_of(scan);
    state.started = false;
    state.graph = None;
    state.visited = HashVisited::default();
    state.discarded.clear();
    state.ready.clear();
    state.previous = f32::NEG_INFINITY;
    state.exhausted = false;
}

/// The query vector as the index's payload (`None` for a NULL argument).
fn query_payload(scan: pg_sys::IndexScanDesc, space: &Space) -> Option<Payload> {
    // SAFETY: an ordered hnsw scan has one order-by key.
    let key = unsafe { &*(*scan).orderByData };
    if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
        return None;
    }
    match space.element {
        Element::F32 => {
            // SAFETY: the order-by argument has the operator's right type.
            let v = unsafe { DenseRef::<f32>::from_datum(key.sk_argument) };
            if v.dim() != space.dims {
                raise(Error::different_dims("vector", v.dim(), space.dims));
            }
            // A zero query under cosine has no direction: every distance is
            // NaN for the operator, so any order is as good; use the raw one.
            Some(space.payload_from_f32(v.as_slice()).unwrap_or_else(|| {
                Payload::from_words(v.as_slice().iter().map(|x| x.to_bits()).collect(), space.payload_len())
            }))
        }
        Element::F16 => {
            // SAFETY: the order-by argument has the operator's right type.
            let v = unsafe { DenseRef::<half::f16>::from_datum(key.sk_argument) };
            if v.dim() != space.dims {
                raise(Error::different_dims("halfvec", v.dim(), space.dims));
            }
            let raw = Space { metric: crate::hnsw::space::Metric::L2, ..*space };
            space.payload_from_f16(v.as_slice()).or_else(|| raw.payload_from_f16(v.as_slice()))
        }
        Element::Bit => {
            // SAFETY: the order-by argument has the operator's right type.
            let (bits, bytes) = unsafe { crate::types::bit::bit_parts(key.sk_argument) };
            if bits != space.dims {
                raise(Error::different_bit_lengths(bits, space.dims));
            }
            Some(space.payload_from_bits(bytes))
        }
        Element::Sparse => {
            // SAFETY: the order-by argument has the operator's right type.
            let v = unsafe { crate::types::sparse_datum::SparseArg::from_datum(key.sk_argument) };
            if v.dim() as usize != space.dims {
                raise(Error::different_dims("sparsevec", v.dim() as usize, space.dims));
            }
            // Any number of non-zeros: the query is not stored.
            let raw = Space { metric: crate::hnsw::space::Metric::L2, ..*space };
            space
                .payload_from_sparse(v.indices(), v.values())
                .or_else(|| raw.payload_from_sparse(v.indices(), v.values()))
        }
    }
}

/// `amgettuple`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(
    scan: pg_sys::IndexScanDesc,
    _direction: pg_sys::ScanDirection::Type,
) -> bool {
    let state = state_of(scan);
    if !state.started {
        start(scan, state);
    }
    loop {
        if let Some((distance, tid)) = state.ready.pop_front() {
            if state.mode == IterativeScan::StrictOrder {
                if distance < state.previous {
                    continue;
                }
                state.previous = distance;
            }
            // SAFETY: writes the result fields of the scan descriptor.
            unsafe {
                (*scan).xs_heaptid = tid_from_ref(tid);
                (*scan).xs_recheck = false;
                (*scan).xs_recheckorderby = false;
            }
            return true;
        }
        if state.mode == IterativeScan::Off || state.exhausted || !resume(state) {
            return false;
        }
    }
}

fn start(scan: pg_sys::IndexScanDesc, state: &mut ScanState) {
    state.started = true;
    // SAFETY: checks the descriptor as pgvector does.
    unsafe {
        if (*scan).orderByData.is_null() {
            pgrx::error!("cannot scan hnsw index without order");
        }
        let snapshot = (*scan).xs_snapshot;
        let mvcc = !snapshot.is_null()
            && matches!(
                (*snapshot).snapshot_type,
                pg_sys::SnapshotType::SNAPSHOT_MVCC | pg_sys::SnapshotType::SNAPSHOT_HISTORIC_MVCC
            );
        if !mvcc {
            pgrx::error!("non-MVCC snapshots are not supported with hnsw");
        }
        count_index_scan(state.index);
    }
    state.mode = options::iterative_scan();
    state.ef_search = options::ef_search();
    let meta = Meta::read(state.index);
    state.query = query_payload(scan, &meta.space);
    let Some((entry, top)) = meta.entry else {
        state.exhausted = true;
        return;
    };
    let _lock = PageLock::share(state.index, SCAN_LOCK);
    let mut graph = DiskGraph::new(state.index, meta.space, meta.layout, state.query.clone(), false);
    let Some(d) = graph.distance(entry) else {
        state.exhausted = true;
        return;
    };
    let best = descend(&mut graph, Scored { id: entry.pack(), distance: d }, top, 0, &mut state.scratch);
    state.visited = HashVisited::with_capacity(state.ef_search * 16);
    let mut discarded = Vec::new();
    let iterative = state.mode != IterativeScan::Off;
    let found = search_layer(
        &mut graph,
        &[best],
        state.ef_search,
        0,
        &mut state.visited,
        &mut state.scratch,
        iterative.then_some(&mut discarded),
    );
    queue_results(state, &graph, &found);
    state.discarded.extend(discarded.into_iter().map(Reverse));
    state.graph = Some(graph);
}

/// Queues the heap TIDs of `found` (closest first), skipping deleted nodes.
fn queue_results(state: &mut ScanState, graph: &DiskGraph, found: &[Scored<u64>]) {
    for s in found {
        if let Some(node) = graph.seen.get(&s.id) {
            if !node.deleted {
                state.ready.extend(graph.tids(node).iter().map(|&t| (s.distance, t)));
                if node.overflow.is_valid() {
                    let more = super::tids::read_chain(state.index, node.overflow);
                    state.ready.extend(more.into_iter().map(|t| (s.distance, t)));
                }
            }
        }
    }
}

/// Continues an iterative scan; `false` when nothing is left.
fn resume(state: &mut ScanState) -> bool {
    let Some(mut graph) = state.graph.take() else {
        return false;
    };
    let over_budget = graph.reads >= options::max_scan_tuples()
        || graph.memory + state.discarded.len() * 16 + state.visited.len() * 16 > options::scan_memory_limit();
    if over_budget {
        // Return what was scored, one by one, without walking further.
        let Some(Reverse(next)) = state.discarded.pop() else {
            state.exhausted = true;
            return false;
        };
        queue_results(state, &graph, &[next]);
        state.graph = Some(graph);
        return true;
    }
    let mut batch = Vec::with_capacity(state.ef_search);
    while batch.len() < state.ef_search {
        let Some(Reverse(next)) = state.discarded.pop() else {
            break;
        };
        batch.push(next);
    }
    if batch.is_empty() {
        state.exhausted = true;
        return false;
    }
    let _lock = PageLock::share(state.index, SCAN_LOCK);
    let mut discarded = Vec::new();
    let found = search_layer(
        &mut graph,
        &batch,
        state.ef_search,
        0,
        &mut state.visited,
        &mut state.scratch,
        Some(&mut discarded),
    );
    queue_results(state, &graph, &found);
    state.discarded.extend(discarded.into_iter().map(Reverse));
    state.graph = Some(graph);
    true
}

/// `amendscan`: the state goes with the scan's memory context.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    let state = state_of(scan);
    state.graph = None;
    state.discarded = BinaryHeap::new();
    state.ready = VecDeque::new();
    state.visited = HashVisited::default();
}

/// Postgres's `pgstat_count_index_scan` macro.
unsafe fn count_index_scan(index: pg_sys::Relation) {
    // SAFETY: as `pgstat_should_count_relation`: associate the relation with
    // its stats entry if counting is on, then bump the entry's counter.
    unsafe {
        if (*index).pgstat_info.is_null() && (*index).pgstat_enabled {
            pg_sys::pgstat_assoc_relation(index);
        }
        let info = (*index).pgstat_info;
        if !info.is_null() {
            (*info).t_counts.t_numscans += 1;
        }
    }
}
