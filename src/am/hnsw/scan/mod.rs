//! `ORDER BY embedding <op> $1 LIMIT k`: index scans.
//!
//! The first `amgettuple` walks the graph: a greedy descent through the upper
//! levels, then a beam search of width `hnsw.ef_search` on layer 0. Its
//! results come back closest first. With `hnsw.iterative_scan` on, a scan
//! that runs out (because a `WHERE` clause filtered rows away) resumes from
//! the nodes the beam scored but dropped, `ef_search` at a time, keeping
//! what it has visited. As in pgvector, it stops walking once it has
//! visited `hnsw.max_scan_tuples` layer-0 nodes (the entries and every
//! neighbour seen for the first time) or once what it must keep (the
//! visited set and the queue of dropped nodes) passes `work_mem ×
//! hnsw.scan_mem_multiplier`; then it returns what it has left, closest
//! first. What it caches of the nodes it read (their links and TIDs) does
//! not count against that: the cache is dropped when it would pass the
//! limit, and nodes are read again when needed. `strict_order` drops
//! results that would come out of order; `relaxed_order` returns them as
//! found.
//!
//! **Nothing live is out of reach.** HNSW does not promise that every node
//! can be reached from where a descent lands: an insert that prunes a
//! neighbour's list can strand a node until the next VACUUM relinks it. So
//! when a walk has visited everything it can reach (a first search found
//! fewer than `ef_search` nodes, or an iterative scan has nothing left to
//! resume from) and the budget is not spent, the scan sweeps the index's
//! pages for live nodes it has not visited and scores them too. When that
//! happens in the first search, before any row is returned, the swept rows
//! join its results in order, so even `strict_order` loses none; later,
//! they come out as another round does. The sweep counts against
//! `hnsw.max_scan_tuples` and the memory limit like the walk.
//!
//! Files: this one (state, the walk, iterative rounds), `rerank.rs`
//! (quantized indexes: exact distances from the heap), `sweep.rs` (what the
//! walk cannot reach), `threshold.rs` (sphere quals).
//!
//! The scan takes `SCAN_LOCK` before it reads the meta page: VACUUM frees
//! nodes only after holding that lock exclusively, so the entry point the
//! scan reads stays a node while it walks. On a hot standby no such lock
//! keeps recovery out, so the entry node is checked (a node of the level
//! the meta page says) and the meta page read again after it; a scan
//! retries until both agree.
//!
//! The scan state is Rust memory owned by the scan's memory context: if the
//! query is cancelled, deleting the context drops it.
//!
//! **Quantized indexes** (`quantizer = sq8 | pq | bq`) hold codes, so the
//! beam orders candidates by approximate (asymmetric) distances. Their heap
//! TIDs go to a `pending` queue in that order; the scan then takes
//! `R = ceil(hnsw.ef_search × lodestone.rerank_factor)` of them at a time,
//! fetches each row from the heap with the scan's snapshot (following HOT
//! chains, skipping rows it cannot see), computes the exact distance of the
//! indexed value (evaluating the index expression, if any) and returns the
//! batch in exact order. The beam is `max(ef_search, R)` wide, so with the
//! default factor 1 the first batch re-ranks the whole beam; a beam widened
//! past `ef_search` stops reading new nodes once its cache passes `work_mem
//! × hnsw.scan_mem_multiplier`. Rows come out in exact order within a
//! batch; a later batch (more rows than `R`, or an iterative scan's next
//! round) may return a closer row after a farther one, which `strict_order`
//! drops, as it drops any out-of-order row.

use super::codes::Codes;
use super::disk::DiskGraph;
use super::meta::Meta;
use super::options::{self, IterativeScan};
use crate::am::common::corrupt;
use crate::am::common::page::{corrupt_at, data_pages, item, max_offset, tid_from_ref, Buf, PageLock, SCAN_LOCK};
use crate::format::Error;
use crate::hnsw::layout::{Node, NodeLayout, Ref, KIND_NODE};
use crate::hnsw::search::{descend, search_layer, GraphView, HashVisited, Scored, Scratch, Visited};
use crate::hnsw::space::{Element, Payload, Space};
use crate::types::raise;
use crate::types::varlena::DenseRef;
use pgrx::pg_sys;
use pgrx::PgMemoryContexts;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

mod rerank;
mod sweep;
mod threshold;

use rerank::{rerank_batch, HeapFetch};
use sweep::sweep;
use threshold::{count_round, empty_rounds_to_stop, sphere_key, Sphere};

/// Looks at the meta page a scan takes before it calls the index corrupt.
/// On a primary one suffices (the scan lock keeps the entry a node); on a
/// hot standby recovery may move the entry between two looks, rarely twice.
const ENTRY_TRIES: usize = 100;

/// Bytes a visited node costs the scan's hash set, on average (8 for the
/// id, one control byte, a table between 7/16 and 7/8 full).
const VISITED_BYTES: usize = 16;

/// The node cache is kept below this size whatever the budget, so that a
/// scan past its budget does not read every node twice.
const CACHE_FLOOR: usize = 64 * 1024;

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
    /// With a quantizer: candidates by approximate distance, not yet
    /// re-ranked; the batch size; the heap access for re-ranking.
    quantized: bool,
    pending: VecDeque<(f32, Ref)>,
    rerank: usize,
    heap: Option<HeapFetch>,
    /// The memory context of the scan (the state's own).
    context: pg_sys::MemoryContext,
    /// The quantizer's codes, for a new node cache.
    codes: Option<Codes>,
    /// A widened beam stopped reading nodes at the memory limit: the scan
    /// walks no further.
    walk_over: bool,
    /// The pages were swept for nodes the walk could not reach.
    swept: bool,
    /// Threshold search (`v <<->> sphere(q, r)`, src/types/sphere.rs): the
    /// largest internal distance a row inside the sphere can have. Rows
    /// beyond it are not returned, and the scan ends after rounds that
    /// found nothing inside (set only when the sphere's center is the
    /// query the scan walks from).
    threshold: Option<f32>,
    /// Rounds in a row that found no node inside the threshold.
    empty_rounds: u32,
    /// A sphere qual is in the scan keys: the executor rechecks each row.
    recheck: bool,
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
        quantized: false,
        pending: VecDeque::new(),
        rerank: 0,
        heap: None,
        // SAFETY: reads the current memory context, the scan's.
        context: unsafe { pg_sys::CurrentMemoryContext },
        codes: None,
        walk_over: false,
        swept: false,
        threshold: None,
        empty_rounds: 0,
        recheck: false,
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
    // SAFETY: amrescan's own arguments, as Postgres passes them.
    unsafe { crate::am::common::copy_scan_keys(scan, keys, nkeys, orderbys, norderbys) };
    let state = state_of(scan);
    state.started = false;
    if let Some(graph) = state.graph.take() {
        log_counts(state, &graph);
    }
    super::spare::keep_visited(std::mem::take(&mut state.visited));
    state.discarded.clear();
    state.ready.clear();
    state.pending.clear();
    state.previous = f32::NEG_INFINITY;
    state.exhausted = false;
    state.walk_over = false;
    state.swept = false;
    state.threshold = None;
    state.empty_rounds = 0;
    state.recheck = false;
}

/// The query vector as the index's payload (`None` for a NULL argument):
/// the order-by argument, or without one the sphere's center.
fn query_payload(scan: pg_sys::IndexScanDesc, space: &Space) -> Option<Payload> {
    // SAFETY: the descriptor's counts; an ordered hnsw scan has one
    // order-by key.
    if unsafe { (*scan).numberOfOrderBys } > 0 {
        // SAFETY: as above.
        let key = unsafe { &*(*scan).orderByData };
        if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
            return None;
        }
        return datum_payload(key.sk_argument, space);
    }
    center_payload(sphere_key(scan)?.center?, space)
}

/// A sphere's center (always a `vector`) as the index's payload: rounded to
/// halves for a `halfvec` index, its non-zeros for a `sparsevec` one, as the
/// threshold operators take it.
fn center_payload(center: pg_sys::Datum, space: &Space) -> Option<Payload> {
    if !matches!(space.element, Element::F16 | Element::Sparse) {
        return datum_payload(center, space);
    }
    // SAFETY: a sphere_vector's center is a non-null `vector` (sphere_key).
    let v = unsafe { DenseRef::<f32>::from_datum(center) };
    let name = if space.element == Element::F16 { "halfvec" } else { "sparsevec" };
    if v.dim() != space.dims {
        raise(Error::different_dims(name, v.dim(), space.dims));
    }
    let raw = Space { metric: crate::hnsw::space::Metric::L2, ..*space };
    if space.element == Element::F16 {
        let halves = crate::types::sphere::halves(v.as_slice());
        return space.payload_from_f16(&halves).or_else(|| raw.payload_from_f16(&halves));
    }
    let (indices, values) = crate::types::sphere::sparse_parts(v.as_slice());
    space.payload_from_sparse(&indices, &values).or_else(|| raw.payload_from_sparse(&indices, &values))
}

/// A non-null value of the column's type as the index's payload.
fn datum_payload(datum: pg_sys::Datum, space: &Space) -> Option<Payload> {
    match space.element {
        Element::F32 => {
            // SAFETY: the argument has the column's type (operator classes pair them).
            let v = unsafe { DenseRef::<f32>::from_datum(datum) };
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
            // SAFETY: the argument has the column's type (operator classes pair them).
            let v = unsafe { DenseRef::<half::f16>::from_datum(datum) };
            if v.dim() != space.dims {
                raise(Error::different_dims("halfvec", v.dim(), space.dims));
            }
            let raw = Space { metric: crate::hnsw::space::Metric::L2, ..*space };
            space.payload_from_f16(v.as_slice()).or_else(|| raw.payload_from_f16(v.as_slice()))
        }
        Element::Bit => {
            // SAFETY: the argument has the column's type (operator classes pair them).
            let (bits, bytes) = unsafe { crate::types::bit::bit_parts(datum) };
            if bits != space.dims {
                raise(Error::different_bit_lengths(bits, space.dims));
            }
            Some(space.payload_from_bits(bytes))
        }
        Element::Sparse => {
            // SAFETY: the argument has the column's type (operator classes pair them).
            let v = unsafe { crate::types::sparse_datum::SparseArg::from_datum(datum) };
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
        // A strict scan may drop many rows in a row, a resumed one walk far.
        pgrx::check_for_interrupts!();
        if state.ready.is_empty() && !state.pending.is_empty() {
            rerank_batch(scan, state);
            continue;
        }
        if let Some((distance, tid)) = state.ready.pop_front() {
            if state.threshold.is_some_and(|bound| distance > bound) {
                continue; // outside the sphere
            }
            if state.mode == IterativeScan::StrictOrder {
                if distance < state.previous {
                    continue;
                }
                state.previous = distance;
            }
            // SAFETY: writes the result fields of the scan descriptor.
            unsafe {
                (*scan).xs_heaptid = tid_from_ref(tid);
                (*scan).xs_recheck = state.recheck;
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
        if (*scan).numberOfOrderBys == 0 && sphere_key(scan).is_none() {
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
    let sphere = sphere_key(scan);
    if let Some(sphere) = &sphere {
        state.recheck = true;
        if sphere.center.is_none() {
            state.exhausted = true; // a NULL sphere: the operator is NULL for every row
            return;
        }
        // Every row inside the sphere, not ef_search of them: rounds until
        // one finds nothing inside. With an ORDER BY the rows must come in
        // order (strict), without one as found.
        if state.mode == IterativeScan::Off {
            // SAFETY: reads the descriptor's count.
            let ordered = unsafe { (*scan).numberOfOrderBys } > 0;
            state.mode = if ordered { IterativeScan::StrictOrder } else { IterativeScan::RelaxedOrder };
        }
    }
    // The lock comes before the meta page (finding 2): VACUUM frees a node
    // only after holding it exclusively, so the entry read under it stays
    // a node until the scan lets go.
    let _lock = PageLock::share(state.index, SCAN_LOCK);
    let Some((mut graph, entry, top)) = open_graph(scan, state) else {
        state.exhausted = true;
        return;
    };
    if let Some(Sphere { center: Some(center), radius }) = sphere {
        // The threshold ends the walk only when the walk starts from the
        // sphere's center; otherwise the sphere is a filter the executor
        // applies.
        let same = match (&state.query, center_payload(center, &graph.space)) {
            (Some(query), Some(center)) => query.as_bytes() == center.as_bytes(),
            _ => false,
        };
        if same {
            state.threshold = Some(graph.space.internal_bound(radius));
        }
    }
    if state.quantized {
        state.rerank = options::rerank_candidates();
        state.ef_search = state.ef_search.max(state.rerank);
    }
    let limit = beam_limit(state);
    let mut walk = Walk { graph: &mut graph, limit, stopped: false };
    let best = descend(&mut walk, entry, top, 0, &mut state.scratch);
    state.visited = super::spare::take_visited(state.ef_search * 16);
    let mut discarded = Vec::new();
    let iterative = state.mode != IterativeScan::Off;
    let mut found = search_layer(
        &mut walk,
        &[best],
        state.ef_search,
        0,
        &mut state.visited,
        &mut state.scratch,
        iterative.then_some(&mut discarded),
    );
    state.walk_over = walk.stopped;
    // Fewer than ef_search nodes: the walk reached all it can reach.
    if found.len() < state.ef_search && !state.walk_over {
        found.extend(sweep(state, &mut graph));
        found.sort_unstable();
        if !iterative {
            found.truncate(state.ef_search);
        }
    }
    count_round(state, &found);
    queue_results(state, &mut graph, &found);
    state.discarded.extend(discarded.into_iter().map(Reverse));
    state.graph = Some(graph);
}

/// Reads the meta page and scores its entry point: the graph to walk, the
/// scored entry and its level; `None` for an empty index. The entry must be
/// a node of the level the meta page gives, and still be the entry after it
/// was read (on a hot standby, recovery may move and free it meanwhile);
/// otherwise the scan looks again.
fn open_graph(scan: pg_sys::IndexScanDesc, state: &mut ScanState) -> Option<(DiskGraph, Scored<u64>, usize)> {
    for _ in 0..ENTRY_TRIES {
        pgrx::check_for_interrupts!();
        let meta = Meta::read(state.index);
        state.query = query_payload(scan, &meta.space);
        let (entry, top) = meta.entry?;
        let codes = super::codes::load(state.index, &meta);
        let mut graph =
            DiskGraph::new(state.index, meta.space, meta.layout, state.query.clone(), false).with_codes(codes.clone());
        let distance = match node_level(state.index, &meta.layout, entry) {
            Some(level) if level == top => graph.distance(entry),
            _ => None,
        };
        let Some(distance) = distance else { continue };
        if Meta::read(state.index).entry == Some((entry, top)) {
            state.quantized = codes.is_some();
            state.codes = codes;
            return Some((graph, Scored { id: entry.pack(), distance }, top));
        }
    }
    corrupt(state.index, "entry point")
}

/// The level of the node at `at`, `None` when the slot holds no node.
fn node_level(index: pg_sys::Relation, layout: &NodeLayout, at: Ref) -> Option<usize> {
    let buf = Buf::share(index, at.block);
    let bytes = item(buf.page(), at.offset)?;
    if bytes.first() != Some(&KIND_NODE) {
        return None;
    }
    let node = Node::parse(bytes, layout)?;
    (!node.is_free()).then(|| node.level())
}

/// How large a search's node cache may grow: a beam that a quantizer widened
/// past `hnsw.ef_search` is held to the scan's memory limit; a beam of
/// `ef_search` (at most 1000) is not, as in pgvector.
fn beam_limit(state: &ScanState) -> usize {
    if state.ef_search > options::ef_search() {
        options::scan_memory_limit()
    } else {
        usize::MAX
    }
}

/// The graph as one search walks it: checks for interrupts once per batch
/// of nodes it scores, and stops scoring (every node `None`) once the node
/// cache passes `limit` bytes.
struct Walk<'a> {
    graph: &'a mut DiskGraph,
    limit: usize,
    stopped: bool,
}

impl GraphView for Walk<'_> {
    type Id = u64;

    fn neighbors(&mut self, id: u64, level: usize, out: &mut Vec<u64>) {
        self.graph.neighbors(id, level, out);
    }

    fn distances(&mut self, ids: &[u64], out: &mut Vec<Option<f32>>) {
        pgrx::check_for_interrupts!();
        if self.graph.memory > self.limit {
            self.stopped = true;
            out.extend(ids.iter().map(|_| None));
            return;
        }
        self.graph.distances(ids, out);
    }

    fn prefetch_neighbors(&mut self, id: u64, level: usize) {
        self.graph.prefetch_neighbors(id, level);
    }
}

/// Queues the heap TIDs of `found` (closest first), skipping deleted nodes:
/// ready to return, or with a quantizer pending a re-rank.
fn queue_results(state: &mut ScanState, graph: &mut DiskGraph, found: &[Scored<u64>]) {
    // Nodes carried over from an earlier round may have left the node
    // cache: read them again, and keep those whose distance is unchanged (a
    // changed one means VACUUM freed the slot and an insert reused it).
    let missing: Vec<Scored<u64>> = found.iter().filter(|s| !graph.seen.contains_key(&s.id)).copied().collect();
    if !missing.is_empty() {
        let ids: Vec<u64> = missing.iter().map(|s| s.id).collect();
        let mut distances = Vec::with_capacity(ids.len());
        graph.distances(&ids, &mut distances);
        for (s, d) in missing.iter().zip(distances) {
            if d.map(f32::to_bits) != Some(s.distance.to_bits()) {
                graph.seen.remove(&s.id);
            }
        }
    }
    let queue = if state.quantized { &mut state.pending } else { &mut state.ready };
    for s in found {
        if let Some(node) = graph.seen.get(&s.id) {
            if !node.deleted {
                queue.extend(graph.tids(node).iter().map(|&t| (s.distance, t)));
                if node.overflow.is_valid() {
                    let more = super::tids::read_chain(state.index, node.overflow);
                    queue.extend(more.into_iter().map(|t| (s.distance, t)));
                }
            }
        }
    }
}

/// Bytes the scan keeps besides its node cache: the visited set, the
/// queue of dropped nodes and the TIDs waiting to be returned.
fn held_bytes(state: &ScanState) -> usize {
    state.visited.len() * VISITED_BYTES
        + state.discarded.capacity() * std::mem::size_of::<Reverse<Scored<u64>>>()
        + (state.ready.capacity() + state.pending.capacity()) * std::mem::size_of::<(f32, Ref)>()
}

/// An empty node cache for the graph `old` reads.
/// The old cache is dropped first, so that its buffers are reused (see
/// `spare.rs`) rather than held beside new ones.
fn fresh_graph(state: &ScanState, old: DiskGraph) -> DiskGraph {
    let (index, space, layout, reads, pins) = (old.index(), old.space, old.layout, old.reads, old.pins);
    drop(old);
    let mut graph = DiskGraph::new(index, space, layout, state.query.clone(), false).with_codes(state.codes.clone());
    (graph.reads, graph.pins) = (reads, pins);
    graph
}

/// Continues an iterative scan; `false` when nothing is left.
fn resume(state: &mut ScanState) -> bool {
    let Some(mut graph) = state.graph.take() else {
        return false;
    };
    let limit = options::scan_memory_limit();
    let held = held_bytes(state);
    if held + graph.memory > limit && graph.memory > CACHE_FLOOR {
        graph = fresh_graph(state, graph);
    }
    // pgvector's budget: layer-0 nodes visited, memory kept.
    let over_budget = state.walk_over || state.visited.len() >= options::max_scan_tuples() || held > limit;
    // A threshold search ends after rounds with nothing inside the sphere:
    // what is left is farther than all they saw.
    if state.empty_rounds >= empty_rounds_to_stop(graph.space.metric) {
        state.exhausted = true;
        state.graph = Some(graph);
        return false;
    }
    if over_budget {
        // Return what was scored, one by one, without walking further.
        let Some(Reverse(next)) = state.discarded.pop() else {
            state.exhausted = true;
            state.graph = Some(graph);
            return false;
        };
        if state.threshold.is_some_and(|bound| next.distance > bound) {
            state.exhausted = true; // the rest are farther still
            state.graph = Some(graph);
            return false;
        }
        queue_results(state, &mut graph, &[next]);
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
        // The walk reached all it can reach; what it could not, the sweep
        // finds (once).
        let found = if state.swept {
            Vec::new()
        } else {
            let _lock = PageLock::share(state.index, SCAN_LOCK);
            let mut found = sweep(state, &mut graph);
            found.sort_unstable();
            found
        };
        if found.is_empty() {
            state.exhausted = true;
            state.graph = Some(graph);
            return false;
        }
        count_round(state, &found);
        queue_results(state, &mut graph, &found);
        state.graph = Some(graph);
        return true;
    }
    let _lock = PageLock::share(state.index, SCAN_LOCK);
    let mut discarded = Vec::new();
    let mut walk = Walk { graph: &mut graph, limit: beam_limit(state), stopped: false };
    let found = search_layer(
        &mut walk,
        &batch,
        state.ef_search,
        0,
        &mut state.visited,
        &mut state.scratch,
        Some(&mut discarded),
    );
    state.walk_over |= walk.stopped;
    count_round(state, &found);
    queue_results(state, &mut graph, &found);
    state.discarded.extend(discarded.into_iter().map(Reverse));
    state.graph = Some(graph);
    true
}

/// `amendscan`: the state goes with the scan's memory context.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    let state = state_of(scan);
    if let Some(heap) = state.heap.take() {
        heap.end();
    }
    state.pending = VecDeque::new();
    if let Some(graph) = state.graph.take() {
        log_counts(state, &graph);
    }
    state.discarded = BinaryHeap::new();
    state.ready = VecDeque::new();
    super::spare::keep_visited(std::mem::take(&mut state.visited));
}

/// What a scan read, at DEBUG2: the figures behind the profile in
/// docs/performance.md (`SET client_min_messages = debug2`).
fn log_counts(state: &ScanState, graph: &DiskGraph) {
    // SAFETY: reads this backend's logging settings; no precondition.
    if !unsafe { pg_sys::message_level_is_interesting(pg_sys::DEBUG2 as i32) } {
        return;
    }
    pgrx::debug2!(
        "hnsw scan of \"{}\": {} nodes read with {} buffer pins, {} ids visited, ef_search {}",
        crate::am::common::relation_name(state.index),
        graph.reads,
        graph.pins,
        state.visited.len(),
        state.ef_search
    );
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
