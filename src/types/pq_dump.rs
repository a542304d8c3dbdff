//! When dumps carry `lodestone.pq_codebooks`.
//!
//! A pq value names its codebook by id, so a dump of a database with pq
//! data must carry the codebooks: the table and its sequence are extension
//! configuration tables (`pg_extension_config_dump`), whose rows pg_dump
//! writes out. But a configuration table's data is dumped even when it is
//! empty, as a `COPY lodestone.…`, and pgvector has no schema `lodestone`:
//! a dump of a database that only ever used what pgvector has would then
//! fail to restore on pgvector. So the table is registered only when its
//! first row is stored, by a statement trigger on INSERT (which `COPY`
//! fires too, so a restored database is registered again as it is loaded):
//! a database that never trained a codebook dumps only what pgvector also
//! has.

use super::RawDatum;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::Spi;
use pgrx::{PgLogLevel, PgSqlErrorCode, PgTryBuilder};

/// Statement trigger on `lodestone.pq_codebooks` (AFTER INSERT): registers
/// the table and its sequence for pg_dump, once.
#[pg_extern(sql = false)]
fn pq_codebooks_register(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    // SAFETY: a trigger function's fcinfo->context is its TriggerData (the
    // node tag is checked first); tg_relation is the open relation.
    let (table, namespace) = unsafe {
        let ctx = (*fcinfo).context;
        if ctx.is_null() || (*ctx).type_ != pg_sys::NodeTag::T_TriggerData {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                "pq_codebooks_register() must be called as a trigger",
                "lodestone",
            )
            .report(PgLogLevel::ERROR);
        }
        let relation = (*ctx.cast::<pg_sys::TriggerData>()).tg_relation;
        ((*relation).rd_id, (*(*relation).rd_rel).relnamespace)
    };
    // SAFETY: plain catalog lookups by OID and name.
    let (extension, sequence) = unsafe {
        (
            pg_sys::getExtensionOfObject(pg_sys::RelationRelationId, table),
            pg_sys::get_relname_relid(c"pq_codebooks_id_seq".as_ptr(), namespace),
        )
    };
    if extension == pg_sys::InvalidOid {
        return RawDatum(pg_sys::Datum::from(0usize)); // not the extension's table
    }
    // Two first trainings at once would both update pg_extension's row (the
    // second failing with "tuple concurrently updated"): one waits here, then
    // sees the other's registration.
    // SAFETY: a lock on the extension object, released at transaction end.
    unsafe {
        pg_sys::LockDatabaseObject(pg_sys::ExtensionRelationId, extension, 0, pg_sys::ShareUpdateExclusiveLock as i32);
    }
    for relation in [table, sequence] {
        if relation != pg_sys::InvalidOid && !registered(extension, relation) {
            register(extension, relation);
        }
    }
    RawDatum(pg_sys::Datum::from(0usize))
}

fn registered(extension: pg_sys::Oid, relation: pg_sys::Oid) -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT $2 = ANY (coalesce(extconfig, '{}')) FROM pg_catalog.pg_extension WHERE oid = $1",
        &[extension.into(), relation.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// `pg_extension_config_dump(relation, '')`, which Postgres allows only from
/// an extension's script: it is called as the script would, with the
/// extension marked as being created for the duration of the call.
fn register(extension: pg_sys::Oid, relation: pg_sys::Oid) {
    // SAFETY: the two globals are what CREATE EXTENSION sets around its
    // script; they are restored whether the call returns or raises, so no
    // later statement sees them. The function checks that `relation` belongs
    // to `extension`, and its arguments are an OID and a text datum.
    unsafe {
        let was = (pg_sys::creating_extension, pg_sys::CurrentExtensionObject);
        PgTryBuilder::new(|| {
            pg_sys::creating_extension = true;
            pg_sys::CurrentExtensionObject = extension;
            pg_sys::OidFunctionCall2Coll(
                pg_sys::Oid::from(pg_sys::F_PG_EXTENSION_CONFIG_DUMP),
                pg_sys::InvalidOid,
                pg_sys::Datum::from(relation),
                pg_sys::Datum::from(pg_sys::cstring_to_text(c"".as_ptr())),
            );
        })
        .finally(|| {
            pg_sys::creating_extension = was.0;
            pg_sys::CurrentExtensionObject = was.1;
        })
        .execute();
    }
}
