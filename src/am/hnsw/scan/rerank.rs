//! Re-ranking for quantized indexes: candidates found by their codes are
//! scored again with exact distances read from the heap, a batch at a time.

use super::*;

/// What re-ranking needs to read the indexed value of a heap row: a table
/// AM index-fetch, a slot, and an executor state to evaluate the index's
/// expression (if it has one). Allocated in the scan's memory context,
/// released by `amendscan` (and by Postgres's abort processing on error).
pub(super) struct HeapFetch {
    heap: pg_sys::Relation,
    fetch: *mut pg_sys::IndexFetchTableData,
    slot: *mut pg_sys::TupleTableSlot,
    estate: *mut pg_sys::EState,
    info: *mut pg_sys::IndexInfo,
    /// Reset after every batch: detoasted values and expression results.
    batch: pg_sys::MemoryContext,
}

/// Re-ranks the next `rerank` pending candidates with exact distances from
/// the heap and queues the visible ones, closest first.
pub(super) fn rerank_batch(scan: pg_sys::IndexScanDesc, state: &mut ScanState) {
    let take = state.rerank.max(1).min(state.pending.len());
    let batch: Vec<(f32, Ref)> = state.pending.drain(..take).collect();
    if state.heap.is_none() {
        state.heap = Some(HeapFetch::begin(scan, state.index, state.context));
    }
    let Some(heap) = state.heap.as_ref() else { return };
    let Some(graph) = state.graph.as_ref() else { return };
    let space = graph.space;
    let mut exact: Vec<(f32, Ref)> = Vec::with_capacity(batch.len());
    // SAFETY: the batch context is ours; everything allocated while it is
    // current (detoasted values) is freed by the reset below.
    let old = unsafe { pg_sys::MemoryContextSwitchTo(heap.batch) };
    for (_, tid) in batch {
        // A widened beam re-ranks up to 100,000 rows a batch.
        pgrx::check_for_interrupts!();
        // SAFETY: the scan's snapshot is an MVCC snapshot (checked in start).
        let Some(payload) = (unsafe { heap.indexed_payload(&space, tid, (*scan).xs_snapshot) }) else {
            continue;
        };
        let d = match &state.query {
            Some(q) => space.distance(q.as_bytes(), payload.as_bytes()),
            None => 0.0,
        };
        exact.push((d, tid));
    }
    // SAFETY: back to the caller's context, then free the batch's memory.
    unsafe {
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::MemoryContextReset(heap.batch);
    }
    exact.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    state.ready.extend(exact);
}

impl HeapFetch {
    pub(super) fn begin(
        scan: pg_sys::IndexScanDesc,
        index: pg_sys::Relation,
        context: pg_sys::MemoryContext,
    ) -> HeapFetch {
        // SAFETY: an index scan run by the executor has its heap relation
        // open; every object is created in the scan's memory context, as
        // the executor would, and released in `end`.
        unsafe {
            let heap = (*scan).heapRelation;
            if heap.is_null() {
                pgrx::error!("a quantized hnsw scan needs its table to re-rank");
            }
            let old = pg_sys::MemoryContextSwitchTo(context);
            let am = (*heap).rd_tableam;
            let Some(fetch_begin) = (*am).index_fetch_begin else {
                pgrx::error!("the table access method cannot fetch rows by TID");
            };
            let fetch = fetch_begin(heap);
            let slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
            let info = pg_sys::BuildIndexInfo(index);
            let estate = pg_sys::CreateExecutorState();
            let econtext = pg_sys::MakePerTupleExprContext(estate);
            (*econtext).ecxt_scantuple = slot;
            let batch = pg_sys::AllocSetContextCreateInternal(
                context,
                c"lodestone hnsw rerank".as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            );
            pg_sys::MemoryContextSwitchTo(old);
            HeapFetch { heap, fetch, slot, estate, info, batch }
        }
    }

    /// The index's payload of the row at `tid`, as the snapshot sees it
    /// (`None` when it sees no version of it).
    ///
    /// # Safety
    /// `snapshot` must be the scan's registered MVCC snapshot.
    unsafe fn indexed_payload(
        &self,
        space: &crate::hnsw::space::Space,
        tid: Ref,
        snapshot: pg_sys::Snapshot,
    ) -> Option<Payload> {
        // SAFETY: the fetch, slot and executor state were made for this
        // heap and index in `begin`; the TID is a copy (the table AM moves
        // it along the HOT chain).
        unsafe {
            let mut at = tid_from_ref(tid);
            let (mut call_again, mut all_dead) = (false, false);
            let fetch_tuple = (*(*self.heap).rd_tableam).index_fetch_tuple?;
            if !fetch_tuple(self.fetch, &mut at, snapshot, self.slot, &mut call_again, &mut all_dead) {
                return None;
            }
            let econtext = (*self.estate).es_per_tuple_exprcontext;
            let (mut values, mut isnull) = ([pg_sys::Datum::from(0usize); 1], [false; 1]);
            pg_sys::FormIndexDatum(self.info, self.slot, self.estate, values.as_mut_ptr(), isnull.as_mut_ptr());
            let payload = if isnull[0] { None } else { crate::am::hnsw::support::payload_of(space, values[0]) };
            if !econtext.is_null() {
                pg_sys::MemoryContextReset((*econtext).ecxt_per_tuple_memory);
            }
            payload
        }
    }

    pub(super) fn end(self) {
        // SAFETY: releases what `begin` made, once (buffer pins included).
        unsafe {
            if let Some(fetch_end) = (*(*self.heap).rd_tableam).index_fetch_end {
                fetch_end(self.fetch);
            }
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::FreeExecutorState(self.estate);
            pg_sys::MemoryContextDelete(self.batch);
        }
    }
}
