//! Threshold search (`v <<->> sphere(q, r)`, src/types/sphere.rs): the sphere
//! qual among the scan keys, and when a walk from its center may stop.

use super::*;

/// Rounds in a row without a node inside the sphere that end a threshold
/// search. One is a margin of a whole beam past the sphere's edge; a second
/// catches rows the edge's neighbourhood reaches only through farther ones.
const EMPTY_ROUNDS: u32 = 2;

/// A threshold qual: the sphere's center (a datum of the column's type,
/// `None` when NULL) and radius; `None` for no sphere qual.
pub(super) struct Sphere {
    pub(super) center: Option<pg_sys::Datum>,
    pub(super) radius: f64,
}

/// The first sphere qual among the scan keys (strategy 2 in every operator
/// class; the executor rechecks any others).
pub(super) fn sphere_key(scan: pg_sys::IndexScanDesc) -> Option<Sphere> {
    // SAFETY: keyData holds numberOfKeys keys, copied in amrescan.
    let keys = unsafe {
        let n = usize::try_from((*scan).numberOfKeys).unwrap_or(0);
        if n == 0 || (*scan).keyData.is_null() {
            return None;
        }
        std::slice::from_raw_parts((*scan).keyData, n)
    };
    let key = keys.iter().find(|k| k.sk_strategy == 2)?;
    if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
        return Some(Sphere { center: None, radius: 0.0 });
    }
    // SAFETY: a strategy-2 key's argument is a sphere of the column's type.
    Some(match unsafe { crate::types::sphere::sphere_parts(key.sk_argument) } {
        Some((center, radius)) => Sphere { center: Some(center), radius },
        None => Sphere { center: None, radius: 0.0 },
    })
}

/// Empty rounds that end a threshold search. Under inner product the
/// "sphere" is a half-space, and -a·q says little about what a node's
/// neighbours hold: more rounds (measured in hnsw_threshold.sql).
pub(super) fn empty_rounds_to_stop(metric: crate::hnsw::space::Metric) -> u32 {
    match metric {
        crate::hnsw::space::Metric::InnerProduct => EMPTY_ROUNDS * 4,
        _ => EMPTY_ROUNDS,
    }
}

/// Counts a round that found no node inside the threshold.
pub(super) fn count_round(state: &mut ScanState, found: &[Scored<u64>]) {
    if let Some(bound) = state.threshold {
        if found.iter().any(|s| s.distance <= bound) {
            state.empty_rounds = 0;
        } else {
            state.empty_rounds += 1;
        }
    }
}
