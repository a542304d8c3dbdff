//! The `ivfflat` index access method, pgvector 0.8.6's surface: rows are
//! grouped into `lists` inverted lists around k-means centers; a scan reads
//! the `ivfflat.probes` lists nearest to the query.
//!
//! | file          | callbacks                                             |
//! |---------------|-------------------------------------------------------|
//! | `assign.rs`   | a row's list: its nearest center (pure)               |
//! | `build.rs`    | `ambuild`, `ambuildempty`, `ambuildphasename`         |
//! | `centers.rs`  | k-means on the sample (pure)                          |
//! | `directory_cache.rs` | the centers, copied once per backend for scans |
//! | `insert.rs`   | `aminsert`                                            |
//! | `scan.rs`     | `ambeginscan`, `amrescan`, `amgettuple`, `amendscan`  |
//! | `vacuum.rs`   | `ambulkdelete`, `amvacuumcleanup`                     |
//! | `options.rs`  | `amoptions`, the `ivfflat.*` settings                 |
//! | `layout.rs`   | meta page, directory, list pages                      |
//! | `info.rs`     | `lodestone_ivfflat_info`                              |
//! | `verify.rs`   | `lodestone_ivfflat_verify`                            |
//! | this file     | the handler, `amcostestimate`, `amvalidate`           |

pub mod assign;
pub mod build;
pub mod centers;
pub mod directory_cache;
pub mod info;
pub mod insert;
pub mod layout;
pub mod options;
pub mod scan;
pub mod vacuum;
pub mod verify;

use crate::types::RawDatum;
use pgrx::prelude::*;

/// `ivfflathandler(internal) RETURNS index_am_handler`
#[pg_extern(sql = false)]
fn ivfflathandler(_fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    crate::am::common::ordered_am_routine(crate::am::common::AmCallbacks {
        amsupport: 5,
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

/// `amcostestimate`, pgvector's model: Postgres's generic estimate with half
/// of the page reads sequential (a list is a chain read in order), and the
/// startup cost the share `probes / lists` of the total. Without an
/// `ORDER BY` the index is never used.
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
        let lists = layout::Meta::read(index).lists.max(1) as f64;
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);

        let ratio = (options::probes() as f64 / lists).min(1.0);
        let sequential_ratio = 0.5;
        let (mut random_page_cost, mut seq_page_cost) = (0.0, 0.0);
        pg_sys::get_tablespace_page_costs((*info).reltablespace, &mut random_page_cost, &mut seq_page_cost);

        costs.indexTotalCost -= sequential_ratio * costs.numIndexPages * (costs.spc_random_page_cost - seq_page_cost);
        costs.indexStartupCost = costs.indexTotalCost * ratio;
        // The heap's TOAST pages are not in a sequential scan's cost either.
        let startup_pages = costs.numIndexPages * ratio;
        let heap_pages = f64::from((*(*info).rel).pages);
        if startup_pages > heap_pages && ratio < 0.5 {
            costs.indexStartupCost -=
                (1.0 - sequential_ratio) * startup_pages * (costs.spc_random_page_cost - seq_page_cost);
            costs.indexStartupCost -= (startup_pages - heap_pages) * seq_page_cost;
        }

        *startup_cost = costs.indexStartupCost;
        *total_cost = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = costs.indexCorrelation;
        *pages = costs.numIndexPages;
    }
}

/// pgvector's operator classes for `halfvec` and `bit` name a support
/// function 5, `ivfflat_<type>_support(internal)`, through which its C code
/// learns the element type. lodestone reads the element type from the
/// column and never calls them; they exist so that the catalog is pgvector's.
#[pgrx::pg_extern(sql = false)]
fn ivfflat_halfvec_support(_fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    RawDatum(pg_sys::Datum::from(2usize))
}

/// See [`ivfflat_halfvec_support`].
#[pgrx::pg_extern(sql = false)]
fn ivfflat_bit_support(_fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    RawDatum(pg_sys::Datum::from(3usize))
}
