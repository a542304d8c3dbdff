//! The `lists` index option and the `ivfflat.*` settings, with pgvector's
//! names, defaults, ranges and descriptions.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{pg_sys, PostgresGucEnum};

pub const DEFAULT_LISTS: i32 = 100;
pub const MIN_LISTS: i32 = 1;
pub const MAX_LISTS: i32 = 32768;

/// `ivfflat.iterative_scan`
#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum IterativeScan {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
}

pub static PROBES: GucSetting<i32> = GucSetting::<i32>::new(1);
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> = GucSetting::<IterativeScan>::new(IterativeScan::Off);
pub static MAX_PROBES: GucSetting<i32> = GucSetting::<i32>::new(MAX_LISTS);

/// The reloption kind Postgres assigned us, set once in `_PG_init`.
static RELOPT_KIND: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The parsed `WITH (...)` options, as Postgres stores them in `rd_options`.
#[repr(C)]
struct RawOptions {
    vl_len: i32,
    lists: i32,
}

/// Registers the reloption and GUCs. Called from `_PG_init`.
pub fn init() {
    // SAFETY: reloption registration happens once per backend at load time,
    // with static strings; Postgres copies what it keeps.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, std::sync::atomic::Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"lists".as_ptr(),
            c"Number of inverted lists".as_ptr(),
            DEFAULT_LISTS,
            MIN_LISTS,
            MAX_LISTS,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
    }
    GucRegistry::define_int_guc(
        c"ivfflat.probes",
        c"Sets the number of probes",
        c"Valid range is 1..lists.",
        &PROBES,
        MIN_LISTS,
        MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"ivfflat.iterative_scan",
        c"Sets the mode for iterative scans",
        c"",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    // Less than probes means probes, as pgvector.
    GucRegistry::define_int_guc(
        c"ivfflat.max_probes",
        c"Sets the max number of probes for iterative scans",
        c"",
        &MAX_PROBES,
        MIN_LISTS,
        MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: marks the prefix so that misspelt ivfflat.* settings warn.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"ivfflat".as_ptr()) };
}

/// `amoptions`: parses and validates `WITH (lists = n)`.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amoptions(reloptions: pg_sys::Datum, validate: bool) -> *mut pg_sys::bytea {
    let table = [pg_sys::relopt_parse_elt {
        optname: c"lists".as_ptr(),
        opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
        offset: std::mem::offset_of!(RawOptions, lists) as i32,
    }];
    // SAFETY: build_reloptions fills a RawOptions-sized struct at the offsets
    // of the table, which match RawOptions's fields.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(std::sync::atomic::Ordering::Relaxed),
            std::mem::size_of::<RawOptions>(),
            table.as_ptr(),
            table.len() as i32,
        )
        .cast()
    }
}

/// The `lists` option of an index (the default when none was given).
pub fn lists_of(index: pg_sys::Relation) -> u32 {
    // SAFETY: rd_options is null or the struct amoptions built.
    let lists = unsafe {
        let raw = (*index).rd_options.cast::<RawOptions>();
        if raw.is_null() {
            DEFAULT_LISTS
        } else {
            (*raw).lists
        }
    };
    lists.clamp(MIN_LISTS, MAX_LISTS) as u32
}

pub fn probes() -> usize {
    PROBES.get().max(1) as usize
}

pub fn iterative_scan() -> IterativeScan {
    ITERATIVE_SCAN.get()
}

/// Lists an iterative scan may probe in all (at least `probes`).
pub fn max_probes() -> usize {
    (MAX_PROBES.get().max(1) as usize).max(probes())
}
