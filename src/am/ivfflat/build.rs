//! `ambuild`, `ambuildempty`, `ambuildphasename`.
//!
//! Two passes over the table, as pgvector: a reservoir sample of the rows
//! (50 per list, at least 10,000) for k-means ([`super::centers`], parallel
//! in the pure core), then every row, assigned to its nearest center in
//! parallel batches that fit `maintenance_work_mem` and appended to its
//! list's chain of pages. Pages are written without WAL and logged whole at
//! the end, as Postgres's own index builds do.

use super::assign;
use super::centers;
use super::layout::{self, entry_bytes, item_bytes, Meta, FIRST_DIR_BLOCK, META_BLOCK};
use super::options;
use crate::am::common::page::{self, ref_from_tid};
use crate::am::common::relation_name;
use crate::am::hnsw::support::{payload_of, RowContext};
use crate::hnsw::layout::{maxalign, LINE_POINTER};
use crate::hnsw::space::{Metric, Space};
use crate::pool::run_cancellable;
use crate::quant::rng::Rng;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{ereport, PgLogLevel, PgSqlErrorCode};
use std::sync::atomic::AtomicBool;

/// Build sub-phases in `pg_stat_progress_create_index.phase`, pgvector's.
pub const PHASE_KMEANS: i64 = 2;
pub const PHASE_ASSIGN: i64 = 3;
pub const PHASE_LOAD: i64 = 4;

/// `ambuildphasename`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    let name: &'static std::ffi::CStr = match phase {
        1 => c"initializing",
        PHASE_KMEANS => c"performing k-means",
        PHASE_ASSIGN => c"assigning tuples",
        PHASE_LOAD => c"loading tuples",
        _ => return std::ptr::null_mut(),
    };
    name.as_ptr().cast_mut()
}

fn progress(param: u32, value: i64) {
    // SAFETY: reports progress of the current command; a no-op outside one.
    unsafe { pg_sys::pgstat_progress_update_param(param as i32, value) };
}

/// Postgres's MaxHeapTuplesPerPage for 8 kB pages: (8192 - 24) / (24 + 4).
const MAX_HEAP_TUPLES_PER_PAGE: usize = 291;

/// The size pgvector gives one value of the column (a varlena), to check
/// memory with its formula and messages.
fn item_size(space: &Space) -> usize {
    maxalign(8 + space.payload_len())
}

fn check_memory(total: usize) {
    // SAFETY: reads a GUC of this backend.
    let mwm_kb = unsafe { pg_sys::maintenance_work_mem } as usize;
    if total / 1024 > mwm_kb {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "memory required is {} MB, maintenance_work_mem is {} MB",
                total / (1024 * 1024) + 1,
                mwm_kb / 1024
            )
        );
    }
}

/// A buffer of the index being written (either fork), exclusively locked,
/// marked dirty and released when dropped.
struct WriteBuf(pg_sys::Buffer);

impl WriteBuf {
    fn new(index: pg_sys::Relation, fork: pg_sys::ForkNumber::Type) -> WriteBuf {
        // SAFETY: extends the fork under the relation extension lock, the new
        // buffer zeroed and locked before anyone can see it.
        unsafe {
            pg_sys::LockRelationForExtension(index, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            let b = pg_sys::ReadBufferExtended(
                index,
                fork,
                pg_sys::InvalidBlockNumber,
                pg_sys::ReadBufferMode::RBM_ZERO_AND_LOCK,
                std::ptr::null_mut(),
            );
            pg_sys::UnlockRelationForExtension(index, pg_sys::ExclusiveLock as pg_sys::LOCKMODE);
            WriteBuf(b)
        }
    }

    fn open(index: pg_sys::Relation, fork: pg_sys::ForkNumber::Type, block: u32) -> WriteBuf {
        // SAFETY: a block this build wrote; nobody else uses the index yet.
        unsafe {
            let b = pg_sys::ReadBufferExtended(
                index,
                fork,
                block,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            );
            pg_sys::LockBuffer(b, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            WriteBuf(b)
        }
    }

    fn page(&self) -> pg_sys::Page {
        // SAFETY: the buffer is pinned.
        unsafe { pg_sys::BufferGetPage(self.0) }
    }

    fn block(&self) -> u32 {
        // SAFETY: the buffer is pinned.
        unsafe { pg_sys::BufferGetBlockNumber(self.0) }
    }
}

impl Drop for WriteBuf {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // Postgres's abort releases locks and pins.
        }
        // SAFETY: we hold the pin and the exclusive lock.
        unsafe {
            pg_sys::MarkBufferDirty(self.0);
            pg_sys::UnlockReleaseBuffer(self.0);
        }
    }
}

/// Writes the meta page, the directory and one empty page per list; the
/// lists' first blocks.
fn write_skeleton(
    index: pg_sys::Relation,
    fork: pg_sys::ForkNumber::Type,
    meta: &mut Meta,
    centers: &[f32],
) -> Vec<u32> {
    let space = meta.space;
    let lists = meta.lists as usize;
    let entry_len = maxalign(layout::ENTRY_HEADER + space.payload_len()) + LINE_POINTER;
    let usable = pg_sys::BLCKSZ as usize - 24 - maxalign(std::mem::size_of::<page::PageOpaque>());
    let per_page = (usable / entry_len).max(1);
    meta.dir_pages = lists.div_ceil(per_page) as u32;
    let first_list = FIRST_DIR_BLOCK + meta.dir_pages;
    let starts: Vec<u32> = (0..lists as u32).map(|i| first_list + i).collect();

    let m = WriteBuf::new(index, fork);
    if m.block() != META_BLOCK {
        pgrx::error!("index \"{}\" already contains data", relation_name(index));
    }
    page::init_page(m.page(), layout::PAGE_META);
    if page::add_item(m.page(), &meta.to_bytes()).is_none() {
        pgrx::error!("failed to add index item to \"{}\"", relation_name(index));
    }
    drop(m);
    let dim = space.dims;
    for chunk in (0..lists).collect::<Vec<_>>().chunks(per_page) {
        let d = WriteBuf::new(index, fork);
        page::init_page(d.page(), layout::PAGE_DIR);
        for &i in chunk {
            let center = layout::center_payload(&space, &centers[i * dim..(i + 1) * dim]);
            if page::add_item(d.page(), &entry_bytes(starts[i], starts[i], center.as_bytes())).is_none() {
                pgrx::error!("failed to add index item to \"{}\"", relation_name(index));
            }
        }
    }
    for _ in 0..lists {
        pgrx::check_for_interrupts!();
        let l = WriteBuf::new(index, fork);
        layout::init_list_page(l.page());
    }
    starts
}

/// Rows read, sampled or batched for assignment.
struct BuildState {
    space: Space,
    target: usize,
    /// Sampling pass: payloads of the reservoir, `payload_len` bytes each.
    samples: Vec<u8>,
    seen: u64,
    rng: Rng,
    /// Loading pass: rows waiting for assignment.
    batch_tids: Vec<u64>,
    batch: Vec<u8>,
    batch_limit: usize,
    centers: Vec<layout::Entry>,
    tails: Vec<u32>,
    index: pg_sys::Relation,
    indexed: f64,
    /// Each row's detoasted copy lives here until the row is done, not
    /// until the build ends (6 KB a row for 1536 dimensions).
    row: RowContext,
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn sample(
    _index: pg_sys::Relation,
    _tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `state` is the BuildState given to IndexBuildHeapScan; one column.
    let (state, value, null) = unsafe { (&mut *state.cast::<BuildState>(), *values, *isnull) };
    if null {
        return;
    }
    let space = state.space;
    // SAFETY: a non-null value of the indexed column; the payload is an
    // owned copy, so it outlives the row's context.
    let Some(payload) = state.row.run(|| unsafe { payload_of(&space, value) }) else {
        return;
    };
    let len = state.space.payload_len();
    let n = state.samples.len() / len;
    if n < state.target {
        state.samples.extend_from_slice(payload.as_bytes());
    } else {
        let j = state.rng.below(state.seen as usize + 1);
        if j < state.target {
            state.samples[j * len..(j + 1) * len].copy_from_slice(payload.as_bytes());
        }
    }
    state.seen += 1;
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn load(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: as in `sample`.
    let (state, tid, value, null) = unsafe { (&mut *state.cast::<BuildState>(), &*tid, *values, *isnull) };
    if null {
        return;
    }
    let space = state.space;
    // SAFETY: a non-null value of the indexed column; the payload is an
    // owned copy, so it outlives the row's context.
    let Some(payload) = state.row.run(|| unsafe { payload_of(&space, value) }) else {
        return;
    };
    state.batch_tids.push(ref_from_tid(tid).pack());
    state.batch.extend_from_slice(payload.as_bytes());
    state.indexed += 1.0;
    if state.batch.len() + state.batch_tids.len() * 16 >= state.batch_limit {
        flush(state, pg_sys::ForkNumber::MAIN_FORKNUM);
    }
    if (state.indexed as u64).is_multiple_of(1024) {
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.indexed as i64);
    }
}

/// Assigns the batch and appends each row to its list.
fn flush(state: &mut BuildState, fork: pg_sys::ForkNumber::Type) {
    if state.batch_tids.is_empty() {
        return;
    }
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_ASSIGN);
    // Aligned copies: payload slices of a Vec<u8> may not be 4-aligned.
    let payloads: Vec<crate::hnsw::space::Payload> =
        state.batch.chunks(state.space.payload_len()).map(crate::hnsw::space::Payload::from_bytes).collect();
    let space = state.space;
    let centers = &state.centers;
    // On the build's own pool (not rayon's global one), cancellable: the
    // flag is read between chunks of rows.
    let lists: Vec<u32> = run_cancellable(|cancel| assign::lists(&space, centers, &payloads, cancel), || {});
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    let mut order: Vec<usize> = (0..lists.len()).collect();
    order.sort_by_key(|&i| lists[i]);
    let mut current: Option<(u32, WriteBuf)> = None;
    for i in order {
        let list = lists[i] as usize;
        let bytes = item_bytes(state.batch_tids[i], payloads[i].as_bytes());
        if current.as_ref().is_none_or(|(l, _)| *l as usize != list) {
            // Unlock the previous list's page first: interrupts are held
            // off while a buffer lock is held, so the check would be void.
            drop(current.take());
            pgrx::check_for_interrupts!();
            current = Some((list as u32, WriteBuf::open(state.index, fork, state.tails[list])));
        }
        let Some((_, buf)) = current.as_mut() else { continue };
        if !page::fits(buf.page(), bytes.len()) {
            let next = WriteBuf::new(state.index, fork);
            layout::init_list_page(next.page());
            layout::set_next_block(buf.page(), next.block());
            state.tails[list] = next.block();
            *buf = next;
        }
        if page::add_item(buf.page(), &bytes).is_none() {
            pgrx::error!("failed to add index item to \"{}\"", relation_name(state.index));
        }
    }
    drop(current);
    state.batch_tids.clear();
    state.batch.clear();
}

/// Records each list's last page in the directory.
fn write_tails(index: pg_sys::Relation, fork: pg_sys::ForkNumber::Type, centers: &[layout::Entry], tails: &[u32]) {
    for (entry, &tail) in centers.iter().zip(tails) {
        if tail == entry.insert {
            continue;
        }
        let d = WriteBuf::open(index, fork, entry.block);
        if let Some(bytes) = page::item_mut(d.page(), entry.offset) {
            bytes[4..8].copy_from_slice(&tail.to_ne_bytes());
        }
    }
}

/// Reads the directory just written (through the given fork).
fn read_skeleton(index: pg_sys::Relation, fork: pg_sys::ForkNumber::Type, meta: &Meta) -> Vec<layout::Entry> {
    let mut entries = Vec::with_capacity(meta.lists as usize);
    for block in FIRST_DIR_BLOCK..FIRST_DIR_BLOCK + meta.dir_pages {
        let d = WriteBuf::open(index, fork, block);
        for offset in 1..=page::max_offset(d.page()) {
            let Some(bytes) = page::item(d.page(), offset) else { continue };
            let (start, insert) = layout::entry_pages(bytes);
            entries.push(layout::Entry {
                start,
                insert,
                block,
                offset,
                center: crate::hnsw::space::Payload::from_bytes(&bytes[layout::ENTRY_HEADER..]),
            });
        }
    }
    entries
}

/// `ambuild`
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    let space = layout::space_of(index);
    let lists = options::lists_of(index);
    // SAFETY: reads the size of an open relation.
    let heap_blocks = unsafe { pg_sys::RelationGetNumberOfBlocksInFork(heap, pg_sys::ForkNumber::MAIN_FORKNUM) };
    let max_tuples = heap_blocks as usize * MAX_HEAP_TUPLES_PER_PAGE;
    let target = (lists as usize * 50).max(10000).min(max_tuples).max(1);
    check_memory(item_size(&space) * (lists as usize + target));

    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_KMEANS);
    // SAFETY: reads a GUC of this backend.
    let mwm = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
    let mut state = BuildState {
        space,
        target,
        samples: Vec::new(),
        seen: 0,
        rng: Rng::new(centers::SEED),
        batch_tids: Vec::new(),
        batch: Vec::new(),
        batch_limit: (mwm / 2).max(1 << 20),
        centers: Vec::new(),
        tails: Vec::new(),
        index,
        indexed: 0.0,
        row: RowContext::new(c"ivfflat build row"),
    };
    // SAFETY: the table AM calls `sample` for every row with our state; the
    // FFI guard turns a Postgres ERROR inside the scan into a Rust panic.
    unsafe { crate::am::common::index_build_heap_scan(heap, index, index_info, Some(sample), &mut state) };
    let n = state.samples.len() / space.payload_len();
    if n < lists as usize {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            "ivfflat index created with little data",
            "lodestone",
        )
        .set_detail("This will cause low recall.")
        .set_hint("Drop the index until the table has more data.")
        .report(PgLogLevel::NOTICE);
    }
    let trained = train(&space, std::mem::take(&mut state.samples), n, lists as usize, mwm);

    let mut meta = Meta { space, lists, dir_pages: 0 };
    let starts = write_skeleton(index, pg_sys::ForkNumber::MAIN_FORKNUM, &mut meta, &trained);
    state.centers = read_skeleton(index, pg_sys::ForkNumber::MAIN_FORKNUM, &meta);
    state.tails = starts;

    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_ASSIGN);
    // SAFETY: reads the planner's row estimate of an open relation.
    let estimate = unsafe { (*(*heap).rd_rel).reltuples }.max(0.0);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, estimate as i64);
    // SAFETY: as above, with the loading callback.
    let heap_tuples =
        unsafe { crate::am::common::index_build_heap_scan(heap, index, index_info, Some(load), &mut state) };
    flush(&mut state, pg_sys::ForkNumber::MAIN_FORKNUM);
    write_tails(index, pg_sys::ForkNumber::MAIN_FORKNUM, &state.centers, &state.tails);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.indexed as i64);

    if page::needs_wal(index) {
        // SAFETY: logs full images of every page we wrote without WAL.
        unsafe { pg_sys::log_newpage_range(index, pg_sys::ForkNumber::MAIN_FORKNUM, 0, page::nblocks(index), true) };
    }
    // SAFETY: palloc0 of the result struct Postgres expects back.
    unsafe {
        let result =
            pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBuildResult>()).cast::<pg_sys::IndexBuildResult>();
        (*result).heap_tuples = heap_tuples;
        (*result).index_tuples = state.indexed;
        result
    }
}

/// k-means on (a memory-bounded part of) the sample; `lists × dims` floats.
/// The sample is dropped once converted: a build holds one copy of it.
fn train(space: &Space, samples: Vec<u8>, n: usize, lists: usize, mwm: usize) -> Vec<f32> {
    let len = space.payload_len();
    // Floats for k-means: bits expand 32 times, so keep them within memory.
    let cap = (mwm / 2 / (space.dims * 4).max(1)).max(lists.min(n)).max(1);
    let take = n.min(cap);
    let mut floats = Vec::with_capacity(take * space.dims);
    for i in 0..take {
        let p = crate::hnsw::space::Payload::from_bytes(&samples[i * len..(i + 1) * len]);
        layout::to_f32(space, p.as_bytes(), &mut floats);
    }
    drop(samples);
    let spherical = matches!(space.metric, Metric::InnerProduct | Metric::Cosine);
    // On the build's pool, cancellable: an interrupt raises its own ERROR
    // (run_cancellable), never a fallback to samples as centers.
    let trained = run_cancellable(|cancel| centers::train(floats, space.dims, lists, spherical, cancel), || {});
    trained.unwrap_or_else(|e| crate::types::raise(e))
}

/// `ambuildempty`: the init fork of an unlogged index: an index of no rows.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let space = layout::space_of(index);
    let lists = options::lists_of(index);
    let trained = centers::train(Vec::new(), space.dims, lists as usize, false, &AtomicBool::new(false))
        .unwrap_or_else(|e| crate::types::raise(e));
    let mut meta = Meta { space, lists, dir_pages: 0 };
    write_skeleton(index, pg_sys::ForkNumber::INIT_FORKNUM, &mut meta, &trained);
    // SAFETY: logs the init fork's pages, all written above.
    unsafe {
        let n = pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::INIT_FORKNUM);
        pg_sys::log_newpage_range(index, pg_sys::ForkNumber::INIT_FORKNUM, 0, n, true);
    }
}
