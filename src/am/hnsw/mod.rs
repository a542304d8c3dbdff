//! The `hnsw` index access method: the Postgres shell around the pure HNSW
//! core in [`crate::hnsw`]. Everything here talks to Postgres (buffers,
//! locks, WAL, catalogs); nothing in `src/hnsw/` does.
//!
//! | file          | callbacks                                             |
//! |---------------|-------------------------------------------------------|
//! | `build.rs`    | `ambuild`, `ambuildempty`, `ambuildphasename`         |
//! | `insert.rs`   | `aminsert`                                            |
//! | `scan.rs`     | `ambeginscan`, `amrescan`, `amgettuple`, `amendscan`  |
//! | `vacuum.rs`   | `ambulkdelete`, `amvacuumcleanup`                     |
//! | `options.rs`  | `amoptions`, the `hnsw.*` settings                    |
//! | this file     | the handler, `amcostestimate`, `amvalidate`           |
//! | `info.rs`     | `lodestone_hnsw_info`, `lodestone_hnsw_verify`        |
//! | `codes.rs`    | quantized indexes: training, the quantizer's pages    |
//! | `spare.rs`    | search buffers a backend reuses from query to query   |

pub mod alloc;
pub mod build;
pub mod codes;
pub mod disk;
pub mod info;
pub mod insert;
pub mod meta;
pub mod options;
pub mod reconnect;
pub mod scan;
pub mod spare;
pub mod support;
pub mod tids;
pub mod vacuum;

use crate::types::RawDatum;
use pgrx::prelude::*;

/// `hnswhandler(internal) RETURNS index_am_handler`
#[pg_extern(sql = false)]
fn hnswhandler(_fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    crate::am::common::ordered_am_routine(crate::am::common::AmCallbacks {
        amsupport: 3,
        ambuild: Some(build::ambuild),
        ambuildempty: Some(build::ambuildempty),
        aminsert: Some(insert::aminsert),
        ambulkdelete: Some(vacuum::ambulkdelete),
        amvacuumcleanup: Some(vacuum::amvacuumcleanup),
        amcostestimate: Some(amcostestimate),
        amoptions: Some(options::amoptions),
        ambuildphasename: Some(build::ambuildphasename),
        amvalidate: Some(amvalidate),
        ambeginscan: Some(scan::ambeginscan),
        amrescan: Some(scan::amrescan),
        amgettuple: Some(scan::amgettuple),
        amendscan: Some(scan::amendscan),
    })
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// `amcostestimate`, with pgvector's model so that the planner chooses the
/// index where it would choose pgvector's: Postgres's generic estimate,
/// scaled down to the share of the index a search visits. That share is
/// the upper levels' walk (`entry level × m`) plus the layer-0 beam
/// (`2m × ef_search`, of which a fraction shrinking like
/// `log n / (log m · (1 + log ef_search))` is new), over the row count.
/// Without an `ORDER BY` the index is used only for a threshold qual.
#[pgrx::pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup_cost: *mut pg_sys::Cost,
    total_cost: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: the planner passes valid pointers for all outputs, and a path
    // over an open index whose meta page we may read.
    unsafe {
        if (*path).indexorderbys.is_null() && !(*path).indexclauses.is_null() {
            // A threshold qual alone (`v <<->> sphere(q, r)`): the walk
            // reads about the rows inside the sphere, which is what the
            // generic estimate charges for the qual's selectivity.
            let mut costs = pg_sys::GenericCosts::default();
            pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
            *startup_cost = costs.indexStartupCost;
            *total_cost = costs.indexTotalCost;
            *selectivity = costs.indexSelectivity;
            *correlation = costs.indexCorrelation;
            *pages = costs.numIndexPages;
            return;
        }
        if (*path).indexorderbys.is_null() {
            *startup_cost = f64::INFINITY;
            *total_cost = f64::INFINITY;
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let mut costs = pg_sys::GenericCosts::default();
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);

        let info = (*path).indexinfo;
        let index = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let m = meta::Meta::read(index).layout.m.max(2) as f64;
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);

        let tuples = (*info).tuples;
        let ratio = if tuples > 0.0 {
            let ef_search = options::ef_search() as f64;
            let entry_level = (tuples.ln() / m.ln()).floor();
            let layer0_max = 2.0 * m * ef_search;
            let layer0_share = 0.55 * tuples.ln() / (m.ln() * (1.0 + ef_search.ln()));
            ((entry_level * m + layer0_max * layer0_share) / tuples).min(1.0)
        } else {
            1.0
        };
        let (mut random_page_cost, mut seq_page_cost) = (0.0, 0.0);
        pg_sys::get_tablespace_page_costs((*info).reltablespace, &mut random_page_cost, &mut seq_page_cost);

        costs.indexStartupCost = costs.indexTotalCost * ratio;
        // The heap's TOAST pages are not in a sequential scan's cost either:
        // when the search alone reads more pages than the table has, charge
        // them as sequential and at most the table's size.
        let startup_pages = costs.numIndexPages * ratio;
        let heap_pages = f64::from((*(*info).rel).pages);
        if startup_pages > heap_pages && ratio < 0.5 {
            costs.indexStartupCost -= startup_pages * (costs.spc_random_page_cost - seq_page_cost);
            costs.indexStartupCost -= (startup_pages - heap_pages) * seq_page_cost;
        }

        *startup_cost = costs.indexStartupCost;
        *total_cost = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = costs.indexCorrelation;
        *pages = costs.numIndexPages;
    }
}
