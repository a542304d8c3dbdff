//! `CREATE INDEX ... USING hnsw`: read the table, build the graph in memory
//! on several threads, write it to pages in one pass, log them.
//!
//! The heap scan collects vectors until they would exceed
//! `maintenance_work_mem`. The graph is then built by the pure core
//! ([`MemGraph::build_parallel`]) on a rayon pool, while this (the only
//! Postgres) thread reports progress and answers cancellation. Nodes are
//! laid out in breadth-first order from the entry point, so that neighbours
//! tend to share pages. If the table does not fit, the graph built so far is
//! written out, a NOTICE says so, and the remaining rows are inserted one by
//! one through the same path as `INSERT` — slower, never out of memory.

use super::codes::{self, Codes};
use super::insert::insert_on_disk;
use super::meta::{Meta, QuantMeta};
use super::options::{self, BuildDistances, Options};
use super::support::{payload_of, space_of, RowContext};
use crate::am::common::page::{init_page, nblocks, needs_wal, Buf, PAGE_DATA};
use crate::am::common::relation_name;
use crate::hnsw::layout::{LinksMut, NodeLayout, NodeMut, Ref, TidList, TidListMut, OVERFLOW_TIDS};
use crate::hnsw::lists::advise_huge;
use crate::hnsw::memgraph::{GraphParams, MemGraph};
use crate::hnsw::page_plan::{breadth_first, Extra, PagePlan, Shape};
use crate::hnsw::quantized;
use crate::hnsw::select::Link;
use crate::hnsw::space::Space;
use crate::pool::{build_threads, run_cancellable};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{ereport, PgLogLevel, PgSqlErrorCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Build sub-phases shown in `pg_stat_progress_create_index.phase`.
pub const PHASE_LOAD: i64 = 2;
pub const PHASE_GRAPH: i64 = 3;
pub const PHASE_WRITE: i64 = 4;

/// `ambuildphasename`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    let name: &'static std::ffi::CStr = match phase {
        1 => c"initializing",
        PHASE_LOAD => c"loading tuples",
        PHASE_GRAPH => c"building graph",
        PHASE_WRITE => c"writing index pages",
        _ => return std::ptr::null_mut(),
    };
    name.as_ptr().cast_mut()
}

fn progress(param: u32, value: i64) {
    // SAFETY: reports progress of the current command; a no-op outside one.
    unsafe { pg_sys::pgstat_progress_update_param(param as i32, value) };
}

/// Checks `ef_construction >= 2 m` and the column, and chooses the layout.
pub fn prepare(index: pg_sys::Relation) -> (Space, Options, NodeLayout) {
    let space = space_of(index);
    let opts = Options::of(index);
    if opts.ef_construction < 2 * opts.m {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "ef_construction must be greater than or equal to 2 * m"
        );
    }
    if let Some(kind) = opts.quantizer {
        return (space, opts, codes::prepare(&space, &opts, kind));
    }
    let layout = if space.is_variable() {
        NodeLayout::choose_variable(space.payload_len(), opts.m)
    } else {
        NodeLayout::choose(space.payload_len(), opts.m)
    };
    let Some(layout) = layout else {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED, "index tuple too large");
    };
    (space, opts, layout)
}

struct BuildState<'a> {
    index: pg_sys::Relation,
    space: Space,
    opts: Options,
    layout: NodeLayout,
    /// Where each row's allocations go, emptied after it.
    row: &'a RowContext,
    /// The collected payloads, packed in words; for a variable space each
    /// payload's end (in words) too. The graph takes `words` over as they
    /// are (no copy).
    words: Vec<u32>,
    ends: Vec<usize>,
    tids: Vec<u64>,
    memory_limit: usize,
    /// Threads that will build the graph (each has per-node scratch).
    threads: usize,
    /// The longest payload, in bytes rounded up to words.
    longest: usize,
    heap_tuples: f64,
    indexed: f64,
    /// Set once the in-memory graph has been written: rows now go to disk.
    spilled: bool,
}

/// Bytes per node of the arrays `write_graph`, `breadth_first` and the
/// `PagePlan` keep while the graph is alive: the order, its seen marks and queue, each node's
/// page, and its node, links and overflow refs.
const WRITE_BYTES: usize = 4 + 1 + 4 + 8 + 3 * std::mem::size_of::<Ref>();

impl BuildState<'_> {
    /// The most memory the build takes with `nodes` rows collected, each
    /// payload padded to `longest` bytes (finding 10 of issue 14): the
    /// payloads, their TIDs (and ends), and then the larger of what
    /// training and building the graph add (training's sample is dropped
    /// before the graph is made). Halves, when measured, are checked on
    /// top of this.
    fn need(&self, nodes: usize, longest: usize) -> usize {
        let params = GraphParams { m: self.opts.m, ef_construction: self.opts.ef_construction, seed: 0 };
        let ends = if self.space.is_variable() { std::mem::size_of::<usize>() } else { 0 };
        let code_size =
            self.opts.quantizer.map_or(0, |kind| quantized::code_size(kind, self.space.dims, self.opts.pq_subvectors));
        let graph = MemGraph::overhead_bytes(&params, nodes, self.threads) + nodes * (WRITE_BYTES + code_size);
        let training = self.opts.quantizer.map_or(0, |kind| quantized::sample_bytes(&self.space, kind, nodes));
        nodes * (longest + 8 + ends) + graph.max(training)
    }
}

/// The quantizer meta data of an index with these options, not trained yet.
fn untrained(opts: &Options) -> Option<QuantMeta> {
    opts.quantizer.map(|kind| QuantMeta {
        kind,
        pq_subvectors: opts.pq_subvectors as u32,
        block: None,
        bytes: 0,
        checksum: 0,
    })
}

/// `ambuild`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    if nblocks(index) != 0 {
        pgrx::error!("index \"{}\" already contains data", relation_name(index));
    }
    let (space, opts, layout) = prepare(index);
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    // SAFETY: reads the planner's row estimate of an open relation.
    let estimate = unsafe { (*(*heap).rd_rel).reltuples }.max(0.0);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, estimate as i64);

    // SAFETY: reads a GUC of this backend.
    let memory_limit = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
    let row = RowContext::new(c"hnsw build row");
    let mut state = BuildState {
        index,
        space,
        opts,
        layout,
        row: &row,
        words: Vec::new(),
        ends: Vec::new(),
        tids: Vec::new(),
        memory_limit,
        threads: build_threads(),
        longest: 0,
        heap_tuples: 0.0,
        indexed: 0.0,
        spilled: false,
    };
    // Room for the rows expected that fit the budget, reserved (not
    // touched) at once and advised for huge pages: growing the vector
    // later may copy it (twice its size while both are alive).
    let per_row = state.need(1024, space.payload_len().div_ceil(4) * 4).div_ceil(1024).max(1);
    let fit = memory_limit / per_row;
    let expected = if estimate > 0.0 { (estimate as usize).saturating_add(1024) } else { 1024 };
    state.words.reserve_exact(fit.min(expected).saturating_mul(space.payload_len().div_ceil(4)));
    advise_huge(&state.words);
    let started = Instant::now();
    // SAFETY: the table AM calls `collect` for every row with our state; the
    // FFI guard turns a Postgres ERROR inside the scan into a Rust panic so
    // our frames unwind instead of being jumped over.
    let heap_tuples =
        unsafe { crate::am::common::index_build_heap_scan(heap, index, index_info, Some(collect), &mut state) };
    // The table's rows, not the callbacks (fewer for a partial index).
    state.heap_tuples = heap_tuples;
    pgrx::debug2!("hnsw build: read {} rows in {:.2} s", state.heap_tuples, started.elapsed().as_secs_f64());
    if !state.spilled {
        flush(&mut state);
        log_pages(index);
    } else {
        // The rows past the spill went in one by one, as inserts do, which
        // can leave a node no scan reaches: link those in, as VACUUM does.
        super::reconnect::reconnect(index);
    }
    let (heap_tuples, indexed) = (state.heap_tuples, state.indexed);
    drop(state);
    drop(row);

    // SAFETY: palloc0 of the result struct Postgres expects back.
    unsafe {
        let result =
            pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBuildResult>()).cast::<pg_sys::IndexBuildResult>();
        (*result).heap_tuples = heap_tuples;
        (*result).index_tuples = indexed;
        result
    }
}

/// Logs full images of every page the build wrote without WAL (a build
/// that spilled does this once, before its first insert on disk, whose
/// records then change pages a standby has).
fn log_pages(index: pg_sys::Relation) {
    if needs_wal(index) {
        let started = Instant::now();
        // SAFETY: logs full images of the pages of an index this
        // transaction created and holds exclusively.
        unsafe { pg_sys::log_newpage_range(index, pg_sys::ForkNumber::MAIN_FORKNUM, 0, nblocks(index), true) };
        pgrx::debug2!("hnsw build: logged the pages in {:.2} s", started.elapsed().as_secs_f64());
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn collect(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `state` is the BuildState passed to IndexBuildHeapScan; the
    // arrays hold one column.
    let (state, tid, value, null) = unsafe { (&mut *state.cast::<BuildState>(), &*tid, *values, *isnull) };
    state.heap_tuples += 1.0;
    if null {
        return;
    }
    let heap_tid = crate::am::common::page::ref_from_tid(tid);
    // The detoasted copy of the value (and an insert's scratch once the
    // build spilled) are freed with the row, not at the end of the build
    // (finding 3 of issue 14).
    let row = state.row;
    row.run(|| add_row(state, value, heap_tid));
    if (state.indexed as u64).is_multiple_of(1024) {
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.indexed as i64);
    }
}

/// Collects one row's payload, or inserts it on disk once the build has
/// spilled.
fn add_row(state: &mut BuildState, value: pg_sys::Datum, heap_tid: Ref) {
    // SAFETY: a non-null value of the indexed column.
    let Some(payload) = (unsafe { payload_of(&state.space, value) }) else {
        return;
    };
    if state.spilled {
        insert_on_disk(state.index, &payload, heap_tid);
    } else {
        // Payloads are held padded to the longest (see `MemGraph::new`).
        let longest = state.longest.max(payload.len().div_ceil(4) * 4);
        if state.need(state.tids.len() + 1, longest) > state.memory_limit && !state.tids.is_empty() {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                format!("hnsw graph no longer fits into maintenance_work_mem after {} tuples", state.tids.len()),
                "lodestone",
            )
            .set_detail("Building will take significantly more time.")
            .set_hint("Increase maintenance_work_mem to speed up builds.")
            .report(PgLogLevel::NOTICE);
            flush(state);
            state.spilled = true;
            log_pages(state.index);
            insert_on_disk(state.index, &payload, heap_tid);
        } else {
            let words = payload.len().div_ceil(4);
            if state.words.capacity() - state.words.len() < words {
                state.words.reserve(words);
                advise_huge(&state.words);
            }
            state.words.extend(payload.as_bytes().chunks(4).map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_ne_bytes(w)
            }));
            state.tids.push(heap_tid.pack());
            state.longest = longest;
            if state.space.is_variable() {
                state.ends.push(state.words.len());
            }
        }
    }
    state.indexed += 1.0;
}

/// Builds the graph of the collected rows and writes the whole index.
fn flush(state: &mut BuildState) {
    let mut words = std::mem::take(&mut state.words);
    let tids = std::mem::take(&mut state.tids);
    let ends = std::mem::take(&mut state.ends);
    if state.space.is_variable() {
        crate::hnsw::memgraph::pad_to_longest(&mut words, &ends);
    }
    drop(ends);
    let used = state.need(tids.len(), state.longest);
    state.longest = 0;
    let params = GraphParams { m: state.opts.m, ef_construction: state.opts.ef_construction, seed: 0x1d_e5_70_9e };
    // With a quantizer: trained on the rows collected so far (this is the
    // only flush unless the table outgrew maintenance_work_mem; later rows
    // are encoded with it).
    let quantizer = state.opts.quantizer.and_then(|kind| {
        let stride = state.space.payload_len().div_ceil(4);
        codes::train(&state.space, kind, state.opts.pq_subvectors, &words, stride, tids.len())
    });
    let started = Instant::now();
    let mut graph = MemGraph::new(state.space, params, words, &tids);
    drop(tids);
    // Half-precision copies to measure, when asked for and they fit.
    let halves = options::BUILD_DISTANCES.get() == BuildDistances::Half
        && MemGraph::halves_bytes(&state.space, graph.len()).is_some_and(|b| used + b <= state.memory_limit);
    pgrx::debug1!(
        "hnsw build: linking {} nodes, measuring {}",
        graph.len(),
        if halves { "halves" } else { "exact vectors" }
    );
    build_graph(&mut graph, halves);
    pgrx::debug2!("hnsw build: linked {} nodes in {:.2} s", graph.len(), started.elapsed().as_secs_f64());
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_WRITE);
    let started = Instant::now();
    let codes = quantizer.map(|q| Codes::new(std::sync::Arc::new(q), state.space));
    write_graph(state.index, &graph, state.space, state.layout, &state.opts, codes.as_ref());
    pgrx::debug2!("hnsw build: wrote {} pages in {:.2} s", nblocks(state.index), started.elapsed().as_secs_f64());
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
}

/// Builds the graph with [`run_cancellable`], reporting progress. With
/// `halves`, the build measures half-precision copies of the vectors.
fn build_graph(graph: &mut MemGraph, halves: bool) {
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_GRAPH);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, graph.len() as i64);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, 0);
    if halves {
        run_cancellable(|_| graph.measure_in_halves(), || {});
    }
    let graph = &*graph;
    let done = AtomicUsize::new(0);
    let built = run_cancellable(
        |cancel| graph.build_parallel(&done, cancel),
        || progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, done.load(Ordering::Relaxed) as i64),
    );
    match built {
        Ok(()) => progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, graph.len() as i64),
        Err(_cancelled) => pgrx::error!("hnsw build was cancelled"),
    }
}

/// Writes meta page, node pages and links pages of a built graph to an
/// empty index, without WAL (the caller logs the whole index).
fn write_graph(
    index: pg_sys::Relation,
    graph: &MemGraph,
    space: Space,
    layout: NodeLayout,
    opts: &Options,
    codes: Option<&Codes>,
) {
    let ef_construction = opts.ef_construction;
    let order = breadth_first(graph);
    // With a quantizer the nodes hold codes, computed here in parallel.
    let code_size = codes.map_or(0, |c| c.quantizer.code_size());
    let encoded = codes.map(|c| encode_all(graph, c));
    let stored = |id: u32| -> &[u8] {
        match &encoded {
            Some(all) => &all[id as usize * code_size..(id as usize + 1) * code_size],
            None => space.payload_used(graph.payload(id)),
        }
    };
    let shape = |id: u32| Shape {
        node_bytes: layout.node_size_for(stored(id).len()),
        level: graph.level(id),
        tids: graph.node(id).tids.len(),
    };
    // Which page each tuple goes to (see `crate::hnsw::page_plan`).
    let plan = PagePlan::new(&order, graph.len(), &layout, shape);
    let node_pages = plan.node_page_count();

    let entry = graph.entry().map(|(id, level)| (plan.nodes[id as usize], level));
    // The trained quantizer goes on the pages after everything else.
    let quant_bytes = codes.filter(|c| c.quantizer.kind() != crate::quant::Kind::Bq).map(|c| c.quantizer.to_bytes());
    let quant_block = plan.end_block();
    let quant = untrained(opts).map(|q| match &quant_bytes {
        Some(bytes) => {
            QuantMeta { block: Some(quant_block), bytes: bytes.len() as u32, checksum: quantized::checksum(bytes), ..q }
        }
        None => q,
    });
    let meta = Meta { space, layout, ef_construction, entry, insert_block: node_pages.max(1), quant };
    let meta_buf = Buf::extend(index);
    meta.write_to(meta_buf.page());
    mark_dirty(&meta_buf);
    drop(meta_buf);

    let map = |links: &[Link<u32>]| -> Vec<Ref> { links.iter().map(|l| plan.nodes[l.id as usize]).collect() };
    let mut bytes = vec![0u8; layout.node_size()];
    for (page_no, range) in plan.node_pages.iter().enumerate() {
        let buf = Buf::extend(index);
        debug_assert_eq!(buf.block(), 1 + page_no as u32);
        init_page(buf.page(), PAGE_DATA);
        for &id in &order[range.clone()] {
            let state = graph.node(id);
            let inline = state.tids.len().min(layout.max_tids);
            let tids: Vec<Ref> = state.tids[..inline].iter().map(|&t| Ref::unpack(t)).collect();
            let payload = stored(id);
            let size = layout.node_size_for(payload.len());
            let mut node = NodeMut::init(&mut bytes[..size], &layout, graph.level(id), 0, payload);
            node.set_tids(&tids);
            if layout.links0_inline {
                node.set_links0(&map(&graph.links(id, 0)));
            }
            node.set_links_tuple(plan.links[id as usize]);
            node.set_overflow(plan.overflow[id as usize]);
            add(index, &buf, &bytes[..size]);
        }
        write_extra(index, &buf, &plan.tails[page_no], graph, &layout, &map);
        mark_dirty(&buf);
        pgrx::check_for_interrupts!();
    }
    for tuples in &plan.extra_pages {
        let buf = Buf::extend(index);
        init_page(buf.page(), PAGE_DATA);
        write_extra(index, &buf, tuples, graph, &layout, &map);
        mark_dirty(&buf);
    }
    if let Some(bytes) = &quant_bytes {
        let first = codes::write_pages(index, bytes);
        if first != quant_block {
            pgrx::error!("quantizer pages of \"{}\" landed at block {first}, not {quant_block}", relation_name(index));
        }
    }
}

/// The codes of every node, `code_size` bytes each by node id, encoded on
/// the build's threads (pure code: errors are collected, then raised here),
/// cancellable.
fn encode_all(graph: &MemGraph, codes: &Codes) -> Vec<u8> {
    use rayon::prelude::*;
    let size = codes.quantizer.code_size();
    let mut all = vec![0u8; graph.len() * size];
    if size == 0 {
        return all;
    }
    let failed = run_cancellable(
        |cancel| {
            all.par_chunks_mut(size)
                .enumerate()
                .map(|(id, out)| {
                    if cancel.load(Ordering::Relaxed) {
                        return None; // the caller raises the interrupt
                    }
                    let values = quantized::to_f32(&codes.space, graph.payload(id as u32));
                    codes.quantizer.encode(&values, out).err()
                })
                .find_any(|e| e.is_some())
                .flatten()
        },
        || {},
    );
    if let Some(e) = failed {
        crate::types::raise(e);
    }
    all
}

/// Adds links and overflow tuples to a page being written.
fn write_extra(
    index: pg_sys::Relation,
    buf: &Buf,
    tuples: &[Extra],
    graph: &MemGraph,
    layout: &NodeLayout,
    map: &impl Fn(&[Link<u32>]) -> Vec<Ref>,
) {
    for tuple in tuples {
        match *tuple {
            Extra::Links(id) => {
                let level = graph.level(id);
                let mut bytes = vec![0u8; layout.links_size(level)];
                let mut links = LinksMut::init(&mut bytes, layout, level);
                for lc in usize::from(layout.links0_inline)..=level {
                    links.set(lc, &map(&graph.links(id, lc)));
                }
                add(index, buf, &bytes);
            }
            Extra::Tids(id, start, next) => {
                let state = graph.node(id);
                let end = (start + OVERFLOW_TIDS).min(state.tids.len());
                let tids: Vec<Ref> = state.tids[start..end].iter().map(|&t| Ref::unpack(t)).collect();
                let mut bytes = vec![0u8; TidList::SIZE];
                TidListMut::init(&mut bytes, next).set(&tids);
                add(index, buf, &bytes);
            }
        }
    }
}

fn add(index: pg_sys::Relation, buf: &Buf, bytes: &[u8]) {
    if crate::am::common::page::add_item(buf.page(), bytes).is_none() {
        pgrx::error!("failed to add index item to \"{}\"", relation_name(index));
    }
}

fn mark_dirty(buf: &Buf) {
    // SAFETY: the buffer is exclusively locked by us.
    unsafe { pg_sys::MarkBufferDirty(buf.buffer) };
}

/// `ambuildempty`: the init fork of an unlogged index, an empty meta page.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let (space, opts, layout) = prepare(index);
    let meta = Meta {
        space,
        layout,
        ef_construction: opts.ef_construction,
        entry: None,
        insert_block: 1,
        quant: untrained(&opts),
    };
    // The page is made before the critical section (an error there would
    // be a PANIC), in memory aligned as a buffer is.
    let mut image = vec![0u64; pg_sys::BLCKSZ as usize / 8];
    meta.write_to(image.as_mut_ptr().cast());
    // SAFETY: the init fork of a new unlogged index is empty; we add its one
    // page through the buffer manager, exclusively locked, and, as
    // Postgres's own index AMs do (ginbuildempty), fill, dirty and WAL-log
    // it inside a critical section, so that a failure in between cannot
    // leave a dirty page that the WAL does not describe (finding 9).
    unsafe {
        let buffer = pg_sys::ReadBufferExtended(
            index,
            pg_sys::ForkNumber::INIT_FORKNUM,
            pg_sys::InvalidBlockNumber,
            pg_sys::ReadBufferMode::RBM_NORMAL,
            std::ptr::null_mut(),
        );
        pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
        pg_sys::CritSectionCount += 1;
        std::ptr::copy_nonoverlapping(
            image.as_ptr().cast::<u8>(),
            pg_sys::BufferGetPage(buffer).cast::<u8>(),
            image.len() * 8,
        );
        pg_sys::MarkBufferDirty(buffer);
        pg_sys::log_newpage_buffer(buffer, true);
        pg_sys::CritSectionCount -= 1;
        pg_sys::UnlockReleaseBuffer(buffer);
    }
}
