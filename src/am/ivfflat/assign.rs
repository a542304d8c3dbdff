//! Which list a row belongs to: its nearest center under the index's
//! distance, lowest list on ties. An insert asks for one row
//! ([`nearer`], as it walks the centers); a build asks for a batch
//! ([`lists`]). Pure: no Postgres call, so it runs on rayon threads.

use super::layout;
use crate::hnsw::space::{Element, Metric, Payload, Space};
use crate::quant::kmeans::{nearest_centroids, norm_sq, Centroids, NearestTwo, Scoring};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes of rows converted to floats at a time: a batch's extra memory
/// (tests/ivfflat_memory.sh counts it), 2,730 rows of 384 dimensions.
const SLICE_BYTES: usize = 4 << 20;

/// Two centers whose scores differ by less than this share of the scores'
/// scale are a tie the product's rounding cannot settle: 1e-4, or more for
/// long vectors (a dot product of `dims` terms may be off by `dims` roundings
/// at worst).
fn tie(dims: usize) -> f32 {
    (4.0 * (dims as f32 + 2.0) * f32::EPSILON).max(1e-4)
}

/// Whether a center at `d` replaces the best so far at `best`: the first
/// of equals stays, and a NaN best is replaced (build and insert agree).
pub fn nearer(d: f32, best: f32) -> bool {
    d < best || best.is_nan()
}

/// The nearest center's list, one center at a time.
pub fn nearest(space: &Space, centers: &[layout::Entry], payload: &[u8]) -> u32 {
    let mut best = (f32::INFINITY, 0u32);
    for (i, c) in centers.iter().enumerate() {
        let d = space.distance(c.center.as_bytes(), payload);
        if nearer(d, best.0) {
            best = (d, i as u32);
        }
    }
    best.1
}

/// Each row's list, the same as [`nearest`] gives. For floats under L2,
/// inner product and cosine, every row's score against every center comes
/// from matrix products (a batch of rows at a time), and only a row whose
/// two best centers are within rounding of each other is settled by
/// [`nearest`]. Returns early (rows unassigned) once `cancel` is set.
pub fn lists(space: &Space, centers: &[layout::Entry], rows: &[Payload], cancel: &AtomicBool) -> Vec<u32> {
    let scoring = match (space.element, space.metric) {
        (Element::F32 | Element::F16, Metric::L2) => Scoring::L2,
        // Cosine rows and centers are stored normalised: the space ranks
        // them by inner product too.
        (Element::F32 | Element::F16, Metric::InnerProduct | Metric::Cosine) => Scoring::NegDot,
        _ => return one_at_a_time(space, centers, rows, cancel),
    };
    let dim = space.dims;
    let mut floats = Vec::with_capacity(centers.len() * dim);
    for c in centers {
        layout::to_f32(space, c.center.as_bytes(), &mut floats);
    }
    let prepared = Centroids::scored(&floats, dim, scoring);
    let widest = floats.chunks_exact(dim.max(1)).map(norm_sq).fold(0f32, f32::max);
    let slice_rows = (SLICE_BYTES / (4 * dim.max(1))).max(256);
    let mut out = Vec::with_capacity(rows.len());
    let mut points = Vec::with_capacity(slice_rows.min(rows.len()) * dim);
    let mut found = Vec::new();
    for slice in rows.chunks(slice_rows) {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        points.clear();
        for p in slice {
            layout::to_f32(space, p.as_bytes(), &mut points);
        }
        let order: Vec<u32> = (0..slice.len() as u32).collect();
        found.clear();
        found.resize(slice.len(), NearestTwo::default());
        nearest_centroids(&points, &order, &prepared, &mut found);
        let mut unsettled = Vec::new();
        for (x, t) in points.chunks_exact(dim.max(1)).zip(&found) {
            let xn = norm_sq(x);
            let scale = match scoring {
                Scoring::L2 => xn + widest,
                Scoring::NegDot => (xn * widest).sqrt(),
            };
            // A NaN or infinite gap (overflowing values) is a tie too.
            if t.scores[1] - t.scores[0] > tie(dim) * scale {
                out.push(t.best());
            } else {
                unsettled.push(out.len());
                out.push(0);
            }
        }
        // Ties (twin centers, rows that are all zero) by exact distances,
        // in parallel: they may be many.
        let base = out.len() - slice.len();
        let settled: Vec<u32> =
            unsettled.par_iter().map(|&at| nearest(space, centers, slice[at - base].as_bytes())).collect();
        for (&at, list) in unsettled.iter().zip(settled) {
            out[at] = list;
        }
    }
    out
}

fn one_at_a_time(space: &Space, centers: &[layout::Entry], rows: &[Payload], cancel: &AtomicBool) -> Vec<u32> {
    rows.par_chunks(256)
        .map(|chunk| {
            if cancel.load(Ordering::Relaxed) {
                return Vec::new();
            }
            chunk.iter().map(|p| nearest(space, centers, p.as_bytes())).collect::<Vec<u32>>()
        })
        .collect::<Vec<Vec<u32>>>()
        .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::rng::Rng;

    fn entries(space: &Space, centers: &[f32]) -> Vec<layout::Entry> {
        centers
            .chunks_exact(space.dims)
            .map(|c| layout::Entry {
                start: 0,
                insert: 0,
                block: 0,
                offset: 0,
                center: layout::center_payload(space, c),
            })
            .collect()
    }

    /// The batched assignment is the one-at-a-time one, for every float
    /// space, narrow and wide, on data with exact ties (duplicate centers,
    /// zero rows) and values whose squares overflow.
    #[test]
    fn batched_lists_are_the_nearest_centers() {
        for element in [Element::F32, Element::F16] {
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                for dims in [3usize, 48] {
                    let space = Space::new(element, metric, dims);
                    let mut rng = Rng::new(7);
                    let mut centers: Vec<f32> = (0..40 * dims).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect();
                    let twin = centers[3 * dims..4 * dims].to_vec();
                    centers[9 * dims..10 * dims].copy_from_slice(&twin);
                    let centers = entries(&space, &centers);
                    // Rows as an index stores them: normalised under cosine.
                    let stored = |v: &[f32]| {
                        if metric == Metric::Cosine {
                            layout::center_payload(&space, v)
                        } else {
                            layout::center_payload(&Space::new(element, Metric::L2, dims), v)
                        }
                    };
                    let mut rows: Vec<Payload> = Vec::new();
                    for i in 0..5000 {
                        let v: Vec<f32> = if i % 97 == 0 {
                            vec![0.0; dims]
                        } else {
                            (0..dims).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect()
                        };
                        rows.push(stored(&v));
                    }
                    rows.push(centers[3].center.clone());
                    if element == Element::F32 {
                        rows.push(stored(&vec![3e19; dims]));
                    }
                    let got = lists(&space, &centers, &rows, &AtomicBool::new(false));
                    let want: Vec<u32> = rows.iter().map(|p| nearest(&space, &centers, p.as_bytes())).collect();
                    assert_eq!(got, want, "{element:?} {metric:?} {dims}");
                }
            }
        }
    }
}
