//! `ambeginscan`, `amrescan`, `amgettuple`, `amendscan`.
//!
//! A scan ranks the lists by their center's distance to the query, reads
//! the `ivfflat.probes` nearest lists page by page along their chains (one
//! page locked at a time), and returns their rows sorted by distance. With
//! `ivfflat.iterative_scan = relaxed_order`, when those rows run out it
//! probes the next lists, `probes` at a time, up to `ivfflat.max_probes`
//! lists in all (rows of a later batch may be nearer than the last row of
//! an earlier one: the order is relaxed, as pgvector's).
//!
//! Rows are returned by heap TID only, with MVCC snapshots only: a TID that
//! VACUUM frees and the heap reuses points to a row the snapshot cannot see.

use super::directory_cache;
use super::layout::{self, Meta, INVALID_BLOCK};
use super::options::{self, IterativeScan};
use crate::am::common::corrupt;
use crate::am::common::page::{self, tid_from_ref, Buf};
use crate::format::Error;
use crate::hnsw::layout::Ref;
use crate::hnsw::search::Scored;
use crate::hnsw::space::{Element, Metric, Payload, Space};
use crate::types::raise;
use crate::types::varlena::DenseRef;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

struct ScanState {
    index: pg_sys::Relation,
    started: bool,
    space: Option<Space>,
    query: Option<Payload>,
    /// Lists in probe order (nearest center first) and how many were read.
    order: Vec<(u32, u32)>,
    probed: usize,
    /// Rows of the probed lists not returned yet (distance, packed heap
    /// TID), nearest on top: a heap, since a `LIMIT k` scan pops k of them.
    ready: BinaryHeap<Reverse<Scored<u64>>>,
    /// `ivfflat.probes`, `ivfflat.iterative_scan`, `ivfflat.max_probes` as
    /// at `ambeginscan` (pgvector's rule): a function that changes them
    /// mid-scan does not change this scan, and `amgettuple` reads no GUC.
    probes: usize,
    iterative: IterativeScan,
    max_probes: usize,
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
        space: None,
        query: None,
        order: Vec::new(),
        probed: 0,
        ready: BinaryHeap::new(),
        probes: options::probes(),
        iterative: options::iterative_scan(),
        max_probes: options::max_probes(),
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
    state.query = None;
    state.order.clear();
    state.probed = 0;
    state.ready.clear();
}

/// The query as a payload. A NULL query is a zero vector, and a zero query
/// under cosine keeps its zeros, as pgvector: every row is then as near.
fn query_payload(scan: pg_sys::IndexScanDesc, space: &Space) -> Payload {
    // SAFETY: an ordered ivfflat scan has one order-by key.
    let key = unsafe { &*(*scan).orderByData };
    let raw = Space { metric: Metric::L2, ..*space };
    if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
        return Payload::from_bytes(&vec![0; space.payload_len()]);
    }
    match space.element {
        Element::F32 => {
            // SAFETY: the order-by argument has the operator's right type.
            let v = unsafe { DenseRef::<f32>::from_datum(key.sk_argument) };
            if v.dim() != space.dims {
                raise(Error::different_dims("vector", space.dims, v.dim()));
            }
            space.payload_from_f32(v.as_slice()).or_else(|| raw.payload_from_f32(v.as_slice()))
        }
        Element::F16 => {
            // SAFETY: the order-by argument has the operator's right type.
            let v = unsafe { DenseRef::<half::f16>::from_datum(key.sk_argument) };
            if v.dim() != space.dims {
                raise(Error::different_dims("halfvec", space.dims, v.dim()));
            }
            space.payload_from_f16(v.as_slice()).or_else(|| raw.payload_from_f16(v.as_slice()))
        }
        _ => {
            // SAFETY: the order-by argument has the operator's right type.
            let (bits, bytes) = unsafe { crate::types::bit::bit_parts(key.sk_argument) };
            if bits != space.dims {
                raise(Error::different_bit_lengths(space.dims, bits));
            }
            Some(space.payload_from_bits(bytes))
        }
    }
    .unwrap_or_else(|| Payload::from_bytes(&vec![0; space.payload_len()]))
}

fn start(scan: pg_sys::IndexScanDesc, state: &mut ScanState) {
    state.started = true;
    // SAFETY: checks the descriptor as pgvector does.
    unsafe {
        if (*scan).orderByData.is_null() {
            pgrx::error!("cannot scan ivfflat index without order");
        }
        let snapshot = (*scan).xs_snapshot;
        let mvcc = !snapshot.is_null()
            && matches!(
                (*snapshot).snapshot_type,
                pg_sys::SnapshotType::SNAPSHOT_MVCC | pg_sys::SnapshotType::SNAPSHOT_HISTORIC_MVCC
            );
        if !mvcc {
            pgrx::error!("non-MVCC snapshots are not supported with ivfflat");
        }
        if (*state.index).pgstat_info.is_null() && (*state.index).pgstat_enabled {
            pg_sys::pgstat_assoc_relation(state.index);
        }
        let info = (*state.index).pgstat_info;
        if !info.is_null() {
            (*info).t_counts.t_numscans += 1;
        }
    }
    let meta = Meta::read(state.index);
    let query = query_payload(scan, &meta.space);
    let mut ranked: Vec<(f32, u32, u32)> = Vec::with_capacity(meta.lists as usize);
    directory_cache::visit_centers(state.index, &meta, |list, at, center| {
        ranked.push((meta.space.distance(center, query.as_bytes()), list, at.start));
    });
    // Only the lists this scan may probe are put in order.
    let order = |a: &(f32, u32, u32), b: &(f32, u32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let wanted = match state.iterative {
        IterativeScan::Off => state.probes,
        _ => state.max_probes.max(state.probes),
    };
    if wanted < ranked.len() {
        ranked.select_nth_unstable_by(wanted, order);
        ranked.truncate(wanted);
    }
    ranked.sort_unstable_by(order);
    state.order = ranked.into_iter().map(|(_, i, start)| (i, start)).collect();
    state.space = Some(meta.space);
    state.query = Some(query);
    probe(state, state.probes);
}

/// Reads the next `n` lists of the probe order into `ready`.
fn probe(state: &mut ScanState, n: usize) {
    let (Some(space), Some(query)) = (state.space, state.query.as_ref()) else { return };
    let end = (state.probed + n).min(state.order.len());
    let mut nblocks = page::nblocks(state.index);
    let mut rows = Vec::new();
    for &(_, start) in &state.order[state.probed..end] {
        let mut block = start;
        let mut hops = 0u32;
        while block != INVALID_BLOCK {
            pgrx::check_for_interrupts!();
            // A concurrent insert may just have linked a page it added at
            // the end: look at the size again before calling it corrupt.
            if block >= nblocks {
                nblocks = page::nblocks(state.index);
            }
            if block >= nblocks || hops > nblocks {
                corrupt(state.index, "list chain");
            }
            let buf = Buf::share(state.index, block);
            let p = buf.page();
            // Every item of the page is read: request all its lines at once
            // rather than miss on one after another, and start on the next
            // page's buffer header meanwhile.
            page::prefetch(p.cast(), pg_sys::BLCKSZ as usize);
            if page::page_type(p) != layout::PAGE_LIST {
                corrupt(state.index, "list page");
            }
            let next = layout::next_block(p);
            if next != INVALID_BLOCK && next < nblocks {
                page::prefetch_block(state.index, next);
            }
            for offset in 1..=page::max_offset(p) {
                let Some(bytes) = page::item(p, offset) else { continue };
                let (tid, payload) = layout::split_item(state.index, &space, bytes);
                rows.push(Reverse(Scored { id: tid, distance: space.distance(query.as_bytes(), payload) }));
            }
            block = next;
            hops += 1;
        }
    }
    state.probed = end;
    // One heapify for the batch (`extend` rebuilds rather than sifting in
    // each row), not a sort: a `LIMIT k` scan takes k rows of it.
    state.ready.extend(rows);
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
        // Nearest first, ties by TID; NaN (a zero cosine query) orders as
        // any other value (`total_cmp`).
        if let Some(Reverse(Scored { id: tid, .. })) = state.ready.pop() {
            // SAFETY: writes the result fields of the scan descriptor.
            unsafe {
                (*scan).xs_heaptid = tid_from_ref(Ref::unpack(tid));
                (*scan).xs_recheck = false;
                (*scan).xs_recheckorderby = false;
            }
            return true;
        }
        if state.iterative == IterativeScan::Off
            || state.probed >= state.order.len()
            || state.probed >= state.max_probes
        {
            return false;
        }
        let n = state.probes.min(state.max_probes - state.probed);
        probe(state, n);
    }
}

/// `amendscan`: the state goes with the scan's memory context.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    let state = state_of(scan);
    state.ready = BinaryHeap::new();
    state.order = Vec::new();
    state.query = None;
}
