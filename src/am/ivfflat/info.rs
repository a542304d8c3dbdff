//! `lodestone_ivfflat_info(regclass)`: the size and shape of an ivfflat
//! index, read from its pages (lodestone only).

use super::layout::{self, Meta, INVALID_BLOCK};
use crate::am::common::corrupt;
use crate::am::common::page::{self, Buf};
use crate::hnsw::space::Metric;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// An index opened for reading, closed when dropped.
pub(super) struct Opened(pub pg_sys::Relation, pg_sys::LOCKMODE);

impl Opened {
    fn new(oid: pg_sys::Oid) -> Opened {
        Opened::locked(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE)
    }

    /// Opened with `lock` (`ShareLock` keeps inserts and VACUUM out).
    pub(super) fn locked(oid: pg_sys::Oid, lock: pg_sys::LOCKMODE) -> Opened {
        // SAFETY: index_open raises an ERROR for a missing or non-index OID.
        let rel = unsafe { pg_sys::index_open(oid, lock) };
        let opened = Opened(rel, lock);
        let is_ours =
            crate::am::common::access_method_name(rel).as_deref() == Some("ivfflat") && page::nblocks(rel) > 0 && {
                let buf = Buf::share(rel, layout::META_BLOCK);
                page::page_type(buf.page()) == layout::PAGE_META
                    && page::item(buf.page(), 1).and_then(Meta::from_bytes).is_some()
            };
        if !is_ours {
            // A user error: the wrong index was named.
            ereport!(
                PgLogLevel::ERROR,
                PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
                format!("\"{}\" is not a lodestone ivfflat index", crate::am::common::relation_name(rel))
            );
        }
        opened
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: we opened it with this lock mode.
            unsafe { pg_sys::index_close(self.0, self.1) };
        }
    }
}

// pgrx derives the result columns from this signature, so it stays spelled out.
#[allow(clippy::type_complexity)]
#[pg_extern(sql = false)]
fn lodestone_ivfflat_info(
    index: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(lists, i32),
        name!(tuples, i64),
        name!(pages, i64),
        name!(empty_lists, i32),
        name!(largest_list, i64),
        name!(dimensions, i32),
        name!(metric, String),
    ),
> {
    let opened = Opened::new(index);
    let rel = opened.0;
    let meta = Meta::read(rel);
    let entries = layout::read_directory(rel, &meta);
    let (mut tuples, mut empty, mut largest) = (0i64, 0i32, 0i64);
    for entry in &entries {
        let (mut n, mut block, mut hops) = (0i64, entry.start, 0u32);
        while block != INVALID_BLOCK {
            pgrx::check_for_interrupts!();
            if block >= page::nblocks(rel) || hops > page::nblocks(rel) {
                corrupt(rel, "list chain");
            }
            let buf = Buf::share(rel, block);
            if page::page_type(buf.page()) != layout::PAGE_LIST {
                corrupt(rel, "list page");
            }
            n += (1..=page::max_offset(buf.page())).filter(|&o| page::item(buf.page(), o).is_some()).count() as i64;
            block = layout::next_block(buf.page());
            hops += 1;
        }
        tuples += n;
        largest = largest.max(n);
        if n == 0 {
            empty += 1;
        }
    }
    let metric = match meta.space.metric {
        Metric::L2 => "l2",
        Metric::InnerProduct => "inner_product",
        Metric::Cosine => "cosine",
        Metric::Hamming => "hamming",
        _ => "other",
    };
    let row = (
        meta.lists as i32,
        tuples,
        i64::from(page::nblocks(rel)),
        empty,
        largest,
        meta.space.dims as i32,
        metric.to_string(),
    );
    drop(opened);
    TableIterator::new(std::iter::once(row))
}
