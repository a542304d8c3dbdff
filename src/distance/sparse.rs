//! Distance kernels and the ordering of sparse vectors (`sparsevec`).
//!
//! A sparse vector is its strictly ascending 0-based indices and their
//! non-zero values. The kernels merge the two index lists and sum in `f32`
//! in index order, which is the order of pgvector's loops (so an overflow
//! to infinity or a NaN from `inf - inf` happens where it happens there).
//! The dot product fuses each product into the sum, as pgvector's compiled
//! loop does on x86-64; in L2 and L1, pgvector's compiler fuses some terms
//! and vectorises the loop over one side's trailing squares, so the last
//! bits of a long sum can differ.

/// A borrowed sparse vector: `indices` strictly ascending, as long as
/// `values`.
#[derive(Clone, Copy, Debug)]
pub struct SparseRef<'a> {
    pub indices: &'a [i32],
    pub values: &'a [f32],
}

impl<'a> SparseRef<'a> {
    pub fn new(indices: &'a [i32], values: &'a [f32]) -> Self {
        debug_assert_eq!(indices.len(), values.len());
        SparseRef { indices, values }
    }

    #[inline]
    pub fn nnz(&self) -> usize {
        self.indices.len().min(self.values.len())
    }
}

/// Folds every index present in `a` or `b` in ascending order: `both` for
/// an index in both, `one` for an index in only one of them. (A branch-free
/// merge, selecting operands by comparison, measured slower here: its index
/// loads form one dependency chain, which branch prediction otherwise hides
/// even when it often fails.)
#[inline(always)]
fn merge(a: SparseRef, b: SparseRef, both: impl Fn(f32, f32) -> f32, one: impl Fn(f32) -> f32) -> f32 {
    let (na, nb) = (a.nnz(), b.nnz());
    let (mut i, mut j, mut acc) = (0, 0, 0f32);
    while i < na && j < nb {
        let (p, q) = (a.indices[i], b.indices[j]);
        if p == q {
            acc += both(a.values[i], b.values[j]);
            i += 1;
            j += 1;
        } else if p < q {
            acc += one(a.values[i]);
            i += 1;
        } else {
            acc += one(b.values[j]);
            j += 1;
        }
    }
    for &x in &a.values[i..na] {
        acc += one(x);
    }
    for &y in &b.values[j..nb] {
        acc += one(y);
    }
    acc
}

/// `Σ (aᵢ - bᵢ)²` over the union of the indices.
pub fn l2_squared(a: SparseRef, b: SparseRef) -> f32 {
    merge(a, b, |x, y| (x - y) * (x - y), |x| x * x)
}

/// `Σ |aᵢ - bᵢ|` over the union of the indices.
pub fn l1(a: SparseRef, b: SparseRef) -> f32 {
    merge(a, b, |x, y| (x - y).abs(), f32::abs)
}

/// `Σ aᵢ bᵢ` over the indices both have, each product fused into the sum
/// (`fma`, one rounding), as pgvector's loop compiles on x86-64 with
/// `-march=native`: a product that overflows then stays infinite instead of
/// meeting an opposite infinity.
pub fn dot(a: SparseRef, b: SparseRef) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports FMA, checked just above.
            return unsafe { dot_fma(a, b) };
        }
    }
    dot_portable(a, b)
}

/// [`dot_portable`] compiled with FMA instructions (`mul_add` is otherwise a
/// call to `fmaf`; both round once, so the results are the same).
///
/// # Safety
/// The CPU must support FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn dot_fma(a: SparseRef, b: SparseRef) -> f32 {
    dot_portable(a, b)
}

/// Branch-free: both sides advance by comparison results and the fused sum
/// is kept only at shared indices (so a `-0` sum stays `-0`, as in
/// pgvector). Unlike L2 and L1, this measured faster than branching, the
/// loop being short.
#[inline(always)]
fn dot_portable(a: SparseRef, b: SparseRef) -> f32 {
    let (na, nb) = (a.nnz(), b.nnz());
    let (mut i, mut j, mut acc) = (0, 0, 0f32);
    while i < na && j < nb {
        let (p, q) = (a.indices[i], b.indices[j]);
        let fused = a.values[i].mul_add(b.values[j], acc);
        acc = if p == q { fused } else { acc };
        i += usize::from(p <= q);
        j += usize::from(q <= p);
    }
    acc
}

/// `Σ xᵢ²` in `f32`, as pgvector's cosine distance sums each side.
fn squares_f32(values: &[f32]) -> f32 {
    values.iter().fold(0.0, |acc, &x| acc + x * x)
}

/// `1 - a·b / (|a| |b|)`, with the similarity clamped to `[-1, 1]`; NaN when
/// either vector is zero, as in pgvector.
pub fn cosine_distance(a: SparseRef, b: SparseRef) -> f64 {
    let ab = f64::from(dot(a, b));
    let aa = f64::from(squares_f32(&a.values[..a.nnz()]));
    let bb = f64::from(squares_f32(&b.values[..b.nnz()]));
    super::dense::cosine_from_parts(ab, aa, bb)
}

/// `|a|`, accumulated in `f64` as pgvector's `l2_norm(sparsevec)` does;
/// `+0` without elements (an empty `Iterator::sum` of floats is `-0`).
pub fn norm(values: &[f32]) -> f64 {
    values.iter().fold(0.0, |acc, &x| acc + f64::from(x) * f64::from(x)).sqrt()
}

/// pgvector's ordering of sparse vectors (`sparsevec_cmp`): element by
/// element as if dense, where the first index present in only one of them
/// decides by the sign of its value; then by dimensions.
pub fn compare(a_dim: i32, a: SparseRef, b_dim: i32, b: SparseRef) -> i32 {
    let (ax, bx) = (a.values, b.values);
    let (na, nb) = (a.nnz(), b.nnz());
    let nnz = na.min(nb);
    for i in 0..nnz {
        if a.indices[i] < b.indices[i] {
            return if ax[i] < 0.0 { -1 } else { 1 };
        }
        if a.indices[i] > b.indices[i] {
            return if bx[i] < 0.0 { 1 } else { -1 };
        }
        if ax[i] < bx[i] {
            return -1;
        }
        if ax[i] > bx[i] {
            return 1;
        }
    }
    if na < nb && b.indices[nnz] < a_dim {
        return if bx[nnz] < 0.0 { 1 } else { -1 };
    }
    if na > nb && a.indices[nnz] < b_dim {
        return if ax[nnz] < 0.0 { -1 } else { 1 };
    }
    (a_dim.cmp(&b_dim)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A sparse vector of dimension `dim` from its dense form.
    fn sparse(dense: &[f32]) -> (Vec<i32>, Vec<f32>) {
        dense.iter().enumerate().filter(|(_, &v)| v != 0.0).map(|(i, &v)| (i as i32, v)).unzip()
    }

    fn dense_vectors() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        // Mostly zeros, so that the index lists overlap only in part.
        let element = prop_oneof![
            3 => Just(0.0f32),
            1 => -10.0f32..10.0,
        ];
        (1usize..=4096).prop_flat_map(move |n| {
            (prop::collection::vec(element.clone(), n), prop::collection::vec(element.clone(), n))
        })
    }

    fn tolerance(n: usize, magnitude: f64) -> f64 {
        4.0 * f64::from(f32::EPSILON) * (n as f64).sqrt() * magnitude + 1e-12
    }

    /// pgvector's loops, written out with branches: each index present in
    /// either side, in ascending order, one float addition per index.
    fn reference_sums(a: SparseRef, b: SparseRef) -> [f32; 3] {
        let (mut l2, mut l1, mut ip) = (0f32, 0f32, 0f32);
        let (mut i, mut j) = (0, 0);
        while i < a.nnz() || j < b.nnz() {
            let p = a.indices.get(i).copied().unwrap_or(i32::MAX);
            let q = b.indices.get(j).copied().unwrap_or(i32::MAX);
            if p == q {
                let (x, y) = (a.values[i], b.values[j]);
                l2 += (x - y) * (x - y);
                l1 += (x - y).abs();
                ip = x.mul_add(y, ip);
                i += 1;
                j += 1;
            } else if p < q {
                l2 += a.values[i] * a.values[i];
                l1 += a.values[i].abs();
                i += 1;
            } else {
                l2 += b.values[j] * b.values[j];
                l1 += b.values[j].abs();
                j += 1;
            }
        }
        [l2, l1, ip]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn kernels_agree_with_dense_f64_reference((da, db) in dense_vectors()) {
            let n = da.len();
            let (ia, va) = sparse(&da);
            let (ib, vb) = sparse(&db);
            let (a, b) = (SparseRef::new(&ia, &va), SparseRef::new(&ib, &vb));
            let (mut l2, mut ip, mut ipm, mut l1r, mut aa, mut bb) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            for (&x, &y) in da.iter().zip(&db) {
                let (x, y) = (f64::from(x), f64::from(y));
                l2 += (x - y) * (x - y);
                ip += x * y;
                ipm += (x * y).abs();
                l1r += (x - y).abs();
                aa += x * x;
                bb += y * y;
            }
            prop_assert!((f64::from(l2_squared(a, b)) - l2).abs() <= tolerance(n, l2), "l2² {} vs {}", l2_squared(a, b), l2);
            prop_assert!((f64::from(l2_squared(b, a)) - l2).abs() <= tolerance(n, l2));
            prop_assert!((f64::from(dot(a, b)) - ip).abs() <= tolerance(n, ipm), "dot {} vs {}", dot(a, b), ip);
            prop_assert_eq!(dot(a, b).to_bits(), dot_portable(a, b).to_bits());
            // The same terms, added in the same order, as pgvector's loops.
            let [rl2, rl1, rip] = reference_sums(a, b);
            prop_assert_eq!(l2_squared(a, b).to_bits(), rl2.to_bits());
            prop_assert_eq!(l1(a, b).to_bits(), rl1.to_bits());
            prop_assert_eq!(dot(a, b).to_bits(), rip.to_bits());
            prop_assert!((f64::from(l1(a, b)) - l1r).abs() <= tolerance(n, l1r), "l1 {} vs {}", l1(a, b), l1r);
            prop_assert!((norm(&va) - aa.sqrt()).abs() <= 1e-9 * aa.sqrt());
            let cos = cosine_distance(a, b);
            if aa > 0.0 && bb > 0.0 {
                let want = 1.0 - (ip / (aa * bb).sqrt()).clamp(-1.0, 1.0);
                let tol = tolerance(n, ipm) / (aa * bb).sqrt() + tolerance(n, 1.0);
                prop_assert!((cos - want).abs() <= tol, "cos {} vs {}", cos, want);
            } else {
                prop_assert!(cos.is_nan());
            }
            // The ordering is antisymmetric, and zero only for equal values.
            let dim = n as i32;
            let c = compare(dim, a, dim, b);
            prop_assert_eq!(c, -compare(dim, b, dim, a));
            prop_assert_eq!(c == 0, da == db);
            prop_assert_eq!(compare(dim, a, dim, a), 0);
        }
    }

    fn v<'a>(indices: &'a [i32], values: &'a [f32]) -> SparseRef<'a> {
        SparseRef::new(indices, values)
    }

    #[test]
    fn small_exact_cases() {
        let a = v(&[0, 2], &[1.0, 2.0]);
        let b = v(&[1, 2, 4], &[3.0, 4.0, 5.0]);
        assert_eq!(l2_squared(a, b), 1.0 + 9.0 + 4.0 + 25.0);
        assert_eq!(l1(a, b), 1.0 + 3.0 + 2.0 + 5.0);
        assert_eq!(dot(a, b), 8.0);
        let empty = v(&[], &[]);
        assert!(norm(&[]).is_sign_positive());
        assert_eq!(l2_squared(empty, b), 50.0);
        assert_eq!(dot(empty, b), 0.0);
        assert!(cosine_distance(empty, b).is_nan());
        assert_eq!(cosine_distance(a, a), 0.0);
        // float sums, as in pgvector: a fused product that overflows stays
        // infinite (inf + -9e76 is inf), while inf - inf is NaN
        let big = v(&[0, 1], &[3e38, 3e38]);
        let neg = v(&[0, 1], &[3e38, -3e38]);
        assert_eq!(dot(big, neg), f32::INFINITY);
        assert_eq!(dot_portable(big, neg), f32::INFINITY);
        // a negative zero sum stays negative zero past unshared indices
        let tiny = v(&[0, 1], &[1e-30, 1.0]);
        let neg_tiny = v(&[0, 2], &[-1e-30, 1.0]);
        assert!(dot(tiny, neg_tiny) == 0.0 && dot(tiny, neg_tiny).is_sign_negative());
        assert_eq!(l2_squared(v(&[0], &[3e38]), v(&[0], &[-3e38])), f32::INFINITY);
    }

    #[test]
    fn ordering_matches_pgvector() {
        // {1:1}/3 vs {2:1}/3: as dense, [1,0,0] > [0,1,0]
        assert_eq!(compare(3, v(&[0], &[1.0]), 3, v(&[1], &[1.0])), 1);
        // {1:-1}/3 vs {2:1}/3: [-1,0,0] < [0,1,0]
        assert_eq!(compare(3, v(&[0], &[-1.0]), 3, v(&[1], &[1.0])), -1);
        // {}/3 vs {2:-1}/3: [0,0,0] > [0,-1,0]
        assert_eq!(compare(3, v(&[], &[]), 3, v(&[1], &[-1.0])), 1);
        // an element beyond the shorter value's dimensions does not count
        assert_eq!(compare(2, v(&[], &[]), 3, v(&[2], &[-1.0])), -1);
        // then dimensions decide
        assert_eq!(compare(2, v(&[0], &[1.0]), 3, v(&[0], &[1.0])), -1);
        assert_eq!(compare(3, v(&[0], &[1.0]), 3, v(&[0], &[1.0])), 0);
    }
}
