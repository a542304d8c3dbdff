//! Quantized indexes (`WITH (quantizer = sq8 | pq | bq)`): nodes keep a
//! compressed code of their vector instead of the vector, the graph is
//! searched on codes, and scans re-rank their best candidates with exact
//! distances from the heap (see `scan.rs`).
//!
//! * **Training** happens once, in `CREATE INDEX`, on a sample of the rows
//!   the build collected (the pure core in `crate::quant`). The graph itself
//!   is built on the full-precision vectors in memory, as without a
//!   quantizer, and only the codes are written to pages.
//! * **The trained quantizer** (`crate::quant::codec` bytes) lives in the
//!   index, in contiguous pages of type [`PAGE_QUANT`] written with the rest
//!   of the build and logged with it (`log_newpage_range`), so a standby
//!   has it. The meta page records the first page, the length and a
//!   checksum. A backend caches the parsed quantizer per index, keyed by the
//!   index's OID and the checksum (a rebuilt index gets new bytes).
//! * BQ has nothing to train; it stores no pages.
//! * A build on an empty table cannot train SQ8 or PQ: it succeeds (so that
//!   `TRUNCATE` works), but inserting into such an index asks for a
//!   `REINDEX` once the table has data.
//!
//! Inserts, vacuum and reconnection compare nodes in the space of *decoded*
//! codes: a node's payload, as the graph code sees it, is the vector its
//! code stands for, in the index's element type, so that the pruning
//! heuristic's distances between two nodes and from the new node are on one
//! scale.
//!
//! The sizes of codes and samples, the compact layout and the checksum are
//! pure arithmetic, in `crate::hnsw::quantized`.

use super::meta::Meta;
use super::options::Options;
use crate::am::common::corrupt;
use crate::am::common::page::{init_page, page_type, Buf};
use crate::format::{Error, SqlState};
use crate::hnsw::layout::{NodeLayout, PAGE_TUPLE_SPACE};
use crate::hnsw::quantized::{
    checksum, code_size, compact, from_f32, kind_name, quant_metric, sample_rows, subvectors, to_f32, trains_in_place,
    PQ_BITS,
};
use crate::hnsw::space::{as_f32, Element, Metric, Payload, Space};
use crate::quant::{self, Kind, Quantizer, TrainOptions};
use crate::types::raise;
use pgrx::pg_sys;
use std::cell::RefCell;
use std::sync::Arc;

/// Page type of the pages holding a trained quantizer.
pub const PAGE_QUANT: u16 = 0x4C33; // "L3"

/// Quantizer bytes one page holds (the page minus header and special space).
const PAGE_BYTES: usize = PAGE_TUPLE_SPACE;

/// Checks that the quantizer suits the column and the operator class, and
/// chooses the node layout for its codes.
pub fn prepare(space: &Space, opts: &Options, kind: Kind) -> NodeLayout {
    let name = kind_name(kind);
    if !matches!(space.element, Element::F32 | Element::F16) {
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("quantizer \"{name}\" is only supported for vector and halfvec columns")
        );
    }
    if quant_metric(space.metric).is_none() {
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("quantizer \"{name}\" does not support L1 distance"),
            "Use an l2, ip or cosine operator class, or quantizer = none."
        );
    }
    if kind == Kind::Pq {
        let m = subvectors(space.dims, opts.pq_subvectors);
        if m > space.dims || !space.dims.is_multiple_of(m) {
            raise(Error::new(
                SqlState::InvalidParameterValue,
                format!("pq_subvectors must divide the {} dimensions of the column, not {m}", space.dims),
            ));
        }
    }
    let size = code_size(kind, space.dims, opts.pq_subvectors);
    if let Some(layout) = NodeLayout::choose(size, opts.m) {
        return compact(layout);
    }
    // Only sq8 codes (a byte per dimension) can outgrow a page.
    let most = (1..=space.dims)
        .rev()
        .find(|&d| NodeLayout::choose(code_size(kind, d, opts.pq_subvectors), opts.m).is_some())
        .unwrap_or(0);
    pgrx::ereport!(
        ERROR,
        pgrx::PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        format!(
            "column cannot have more than {most} dimensions for an hnsw index with quantizer \"{name}\" and m = {}",
            opts.m
        ),
        "Use quantizer = pq or bq, whose codes are smaller."
    );
}

/// A trained quantizer of an index, and what it needs around it.
#[derive(Clone)]
pub struct Codes {
    pub quantizer: Arc<Quantizer>,
    pub space: Space,
    pub metric: quant::Metric,
}

impl Codes {
    pub fn new(quantizer: Arc<Quantizer>, space: Space) -> Codes {
        let metric = quant_metric(space.metric).unwrap_or(quant::Metric::L2Squared);
        Codes { quantizer, space, metric }
    }

    /// The code of a payload.
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        let mut code = vec![0u8; self.quantizer.code_size()];
        self.quantizer.encode(&to_f32(&self.space, payload), &mut code).unwrap_or_else(|e| raise(e));
        code
    }

    /// The payload a code stands for (what the graph code compares). For
    /// cosine, a unit vector again (the index compares unit vectors by
    /// inner product; a decoded one is only nearly unit).
    pub fn decode(&self, code: &[u8]) -> Payload {
        let mut values = vec![0f32; self.space.dims];
        if self.quantizer.decode(code, &mut values).is_err() {
            values.fill(f32::NAN);
        }
        if self.space.metric == Metric::Cosine {
            let norm = values.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            if norm > 0.0 && norm.is_finite() {
                for v in &mut values {
                    *v = (f64::from(*v) / norm) as f32;
                }
            }
        }
        from_f32(&self.space, &values)
    }

    /// The per-query table of a query payload.
    pub fn table(&self, query: &[u8]) -> quant::QueryTable {
        self.quantizer.query(&to_f32(&self.space, query), self.metric).unwrap_or_else(|e| raise(e))
    }
}

/// Trains the quantizer on the rows a build collected: `n` payloads, one
/// every `stride` words of `words`. A deterministic sample of evenly spaced
/// rows. `None` when there are no rows to train SQ8 or PQ on. PQ's k-means
/// runs on the build's threads and stops when the statement is cancelled.
pub fn train(
    space: &Space,
    kind: Kind,
    pq_subvectors: usize,
    words: &[u32],
    stride: usize,
    n: usize,
) -> Option<Quantizer> {
    let dims = space.dims;
    if kind == Kind::Bq {
        return Some(Quantizer::train(Kind::Bq, &[], dims, &TrainOptions::default()).unwrap_or_else(|e| raise(e)));
    }
    if n == 0 {
        return None;
    }
    let take = sample_rows(kind, dims, n);
    let opts = TrainOptions { subvectors: subvectors(dims, pq_subvectors), bits: PQ_BITS, ..TrainOptions::default() };
    if kind == Kind::Pq && take < 1 << PQ_BITS {
        // The rows the build collected before training: all of them, or as
        // many as fit maintenance_work_mem.
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("quantizer \"pq\" needs at least {} rows to train, the build collected {n}", 1 << PQ_BITS),
            "A build trains on the rows that fit maintenance_work_mem; an empty table builds an untrained index."
        );
    }
    let copied: Vec<f32>;
    let sample: &[f32] = if trains_in_place(space, kind, n) && stride == dims {
        as_f32(crate::hnsw::space::words_as_bytes(&words[..n * stride]))
    } else {
        let mut rows = Vec::with_capacity(take * dims);
        for i in 0..take {
            let row = i * n / take;
            let bytes = crate::hnsw::space::words_as_bytes(&words[row * stride..(row + 1) * stride]);
            rows.extend_from_slice(&to_f32(space, bytes));
        }
        copied = rows;
        &copied
    };
    let rows = sample.len() / dims.max(1);
    // Said before and after: tests cancel a build while it trains.
    pgrx::debug1!("hnsw build: training {kind:?} on {rows} rows");
    let started = std::time::Instant::now();
    let trained = match kind {
        Kind::Pq => crate::pool::run_cancellable(
            |cancel| {
                quant::pq::Pq::train_cancellable(sample, dims, opts.subvectors, opts.bits, opts.seed, cancel)
                    .map(Quantizer::Pq)
            },
            || {},
        ),
        _ => Quantizer::train(kind, sample, dims, &opts),
    };
    let trained = trained.unwrap_or_else(|e| raise(e));
    pgrx::debug1!("hnsw build: trained {kind:?} in {:.2} s", started.elapsed().as_secs_f64());
    Some(trained)
}

/// Appends the quantizer's pages to an index being built (without WAL: the
/// build logs every page at its end). Returns the first block.
pub fn write_pages(index: pg_sys::Relation, bytes: &[u8]) -> u32 {
    let mut first = None;
    for chunk in bytes.chunks(PAGE_BYTES) {
        let buf = Buf::extend(index);
        first.get_or_insert(buf.block());
        let page = buf.page();
        init_page(page, PAGE_QUANT);
        // SAFETY: the page is ours, exclusively locked; the chunk fits
        // between the header and the special space. pd_lower is moved past
        // it so that WAL full-page images keep it (they drop the hole).
        unsafe {
            let contents = pg_sys::PageGetContents(page);
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), contents.cast::<u8>(), chunk.len());
            let header = page.cast::<pg_sys::PageHeaderData>();
            (*header).pd_lower = (contents as usize + chunk.len() - page as usize) as u16;
            pg_sys::MarkBufferDirty(buf.buffer);
        }
    }
    first.unwrap_or(u32::MAX)
}

/// Reads the quantizer's bytes back from its pages.
fn read_pages(index: pg_sys::Relation, first: u32, len: usize) -> Vec<u8> {
    try_read_pages(index, first, len).unwrap_or_else(|what| corrupt(index, what))
}

/// [`read_pages`], with what is wrong instead of an error.
fn try_read_pages(index: pg_sys::Relation, first: u32, len: usize) -> Result<Vec<u8>, &'static str> {
    let mut bytes = Vec::with_capacity(len);
    let mut block = first;
    while bytes.len() < len {
        if block >= crate::am::common::page::nblocks(index) {
            return Err("quantizer (missing pages)");
        }
        let buf = Buf::share(index, block);
        let page = buf.page();
        if page_type(page) != PAGE_QUANT {
            return Err("quantizer page");
        }
        let want = (len - bytes.len()).min(PAGE_BYTES);
        // SAFETY: a quantizer page holds its bytes right after the header,
        // up to pd_lower; we read no further than that.
        unsafe {
            let contents = pg_sys::PageGetContents(page);
            let header = page.cast::<pg_sys::PageHeaderData>();
            let have = usize::from((*header).pd_lower).saturating_sub(contents as usize - page as usize);
            if have < want {
                return Err("quantizer page");
            }
            bytes.extend_from_slice(std::slice::from_raw_parts(contents.cast::<u8>(), want));
        }
        block += 1;
    }
    Ok(bytes)
}

/// For `lodestone_hnsw_verify`: what is wrong with the stored quantizer, if
/// anything (without raising an error), and its first block.
pub fn check(index: pg_sys::Relation, meta: &Meta) -> Option<(u32, String)> {
    let q = meta.quant?;
    let block = q.block?;
    let bytes = match try_read_pages(index, block, q.bytes as usize) {
        Ok(bytes) => bytes,
        Err(what) => return Some((block, format!("bad {what}"))),
    };
    if checksum(&bytes) != q.checksum {
        return Some((block, "quantizer checksum mismatch".into()));
    }
    match Quantizer::from_bytes(&bytes) {
        Err(e) => Some((block, e.message)),
        Ok(p) if p.kind() != q.kind || p.dims() != meta.space.dims || p.code_size() != meta.layout.payload_len => {
            Some((block, "quantizer does not match the index".into()))
        }
        Ok(_) => None,
    }
}

type CacheKey = (u32, u32, u32, u32);

thread_local! {
    /// Parsed quantizers of the indexes this backend used.
    static CACHE: RefCell<Vec<(CacheKey, Arc<Quantizer>)>> = const { RefCell::new(Vec::new()) };
}

/// The index's quantizer: `None` for a full-precision index. Raises an
/// error when the index has a quantizer but it was never trained.
pub fn load(index: pg_sys::Relation, meta: &Meta) -> Option<Codes> {
    let q = meta.quant?;
    if q.kind == Kind::Bq {
        let bq =
            Quantizer::train(Kind::Bq, &[], meta.space.dims, &TrainOptions::default()).unwrap_or_else(|e| raise(e));
        return Some(Codes::new(Arc::new(bq), meta.space));
    }
    let Some(block) = q.block else {
        let name = crate::am::common::relation_name(index);
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("hnsw index \"{name}\" has no trained quantizer"),
            format!("The index was built on an empty table. Load rows, then REINDEX INDEX {name}.")
        );
    };
    // SAFETY: reads the OID of an open relation.
    let oid = unsafe { (*index).rd_id }.to_u32();
    let key = (oid, block, q.bytes, q.checksum);
    if let Some(found) = CACHE.with(|c| c.borrow().iter().find(|(k, _)| *k == key).map(|(_, q)| q.clone())) {
        return Some(Codes::new(found, meta.space));
    }
    let bytes = read_pages(index, block, q.bytes as usize);
    if checksum(&bytes) != q.checksum {
        corrupt(index, "quantizer (checksum mismatch)");
    }
    let parsed = Quantizer::from_bytes(&bytes).unwrap_or_else(|_| corrupt(index, "quantizer"));
    if parsed.kind() != q.kind || parsed.dims() != meta.space.dims || parsed.code_size() != meta.layout.payload_len {
        corrupt(index, "quantizer (shape)");
    }
    let parsed = Arc::new(parsed);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 16 {
            c.remove(0);
        }
        c.push((key, parsed.clone()));
    });
    Some(Codes::new(parsed, meta.space))
}
