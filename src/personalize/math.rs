//! The arithmetic of lodestone's personalization functions, free of Postgres:
//! scaling, weighted averages, exponential-decay preference updates and a
//! per-dimension weighted L2 distance. Every function checks its inputs and
//! returns pgvector-worded errors ([`Error`]), which the SQL shell raises.
//!
//! Sums run in `f64` and each result element is rounded to `f32` once.

use crate::format::{Error, Result, SqlState};

fn different_dims(a: usize, b: usize) -> Error {
    Error::different_dims("vector", a, b)
}

/// A finite `f32` result, or Postgres's overflow / underflow error. An element
/// that rounds to zero from non-zero inputs is an underflow, as in Postgres's
/// `float4mul` and pgvector's `vector * vector`.
fn to_f32(x: f64, inputs_nonzero: bool) -> Result<f32> {
    if x.is_nan() {
        return Err(Error::nan("vector"));
    }
    let r = x as f32;
    if r.is_infinite() {
        return Err(Error::float_overflow());
    }
    if r == 0.0 && inputs_nonzero {
        return Err(Error::float_underflow());
    }
    Ok(r)
}

fn check_scalar(s: f64, what: &str) -> Result<()> {
    if s.is_nan() {
        return Err(Error::new(SqlState::DataException, format!("NaN not allowed as {what}")));
    }
    if s.is_infinite() {
        return Err(Error::new(SqlState::DataException, format!("infinite value not allowed as {what}")));
    }
    Ok(())
}

/// `v * s`: every element times `s`.
pub fn scale(v: &[f32], s: f64) -> Result<Vec<f32>> {
    check_scalar(s, "scale factor")?;
    v.iter().map(|&x| to_f32(f64::from(x) * s, x != 0.0 && s != 0.0)).collect()
}

/// `v / s`: every element divided by `s`.
pub fn divide(v: &[f32], s: f64) -> Result<Vec<f32>> {
    check_scalar(s, "divisor")?;
    if s == 0.0 {
        return Err(Error::new(SqlState::DivisionByZero, "division by zero"));
    }
    v.iter().map(|&x| to_f32(f64::from(x) / s, x != 0.0)).collect()
}

fn check_weight(w: f64) -> Result<()> {
    check_scalar(w, "weight")?;
    if w < 0.0 {
        return Err(Error::new(SqlState::InvalidParameterValue, format!("weight must not be negative: {w}")));
    }
    Ok(())
}

/// The state of `weighted_avg(vector, weight)`: `[Σw, Σw·x₁, …, Σw·xₙ]`, as a
/// `double precision[]` so partial states from parallel workers can be
/// combined. `[0]` is the initial state (no dimensions seen yet).
pub fn weighted_accum(state: &mut Vec<f64>, v: &[f32], w: f64) -> Result<()> {
    check_weight(w)?;
    if state.len() <= 1 {
        state.resize(v.len() + 1, 0.0);
    } else if state.len() - 1 != v.len() {
        return Err(different_dims(state.len() - 1, v.len()));
    }
    state[0] += w;
    for (s, &x) in state[1..].iter_mut().zip(v) {
        *s += w * f64::from(x);
    }
    if state.iter().any(|s| s.is_infinite()) {
        return Err(Error::float_overflow());
    }
    Ok(())
}

/// Merges two partial `weighted_avg` states.
pub fn weighted_combine(a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    if a.len() <= 1 {
        return Ok(if b.is_empty() { a.to_vec() } else { b.to_vec() });
    }
    if b.len() <= 1 {
        return Ok(a.to_vec());
    }
    if a.len() != b.len() {
        return Err(different_dims(a.len() - 1, b.len() - 1));
    }
    let out: Vec<f64> = a.iter().zip(b).map(|(x, y)| x + y).collect();
    if out.iter().any(|s| s.is_infinite()) {
        return Err(Error::float_overflow());
    }
    Ok(out)
}

/// The weighted mean, or `None` when no row had a positive weight.
pub fn weighted_final(state: &[f64]) -> Result<Option<Vec<f32>>> {
    if state.len() <= 1 || state[0] <= 0.0 {
        return Ok(None);
    }
    let total = state[0];
    state[1..].iter().map(|&s| to_f32(s / total, false)).collect::<Result<Vec<_>>>().map(Some)
}

/// `x / ‖x‖` rounded to `f32`; a zero vector stays zero (as `l2_normalize`).
fn normalize(x: &[f64]) -> Result<Vec<f32>> {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm == 0.0 {
        return Ok(vec![0.0; x.len()]);
    }
    x.iter().map(|&v| to_f32(v / norm, false)).collect()
}

/// One step of an exponentially decaying preference profile:
/// `normalize((1 - alpha) * profile + alpha * item)`. Without a profile yet
/// (the user's first interaction) the result is `normalize(item)`.
pub fn preference_update(profile: Option<&[f32]>, item: &[f32], alpha: f64) -> Result<Vec<f32>> {
    check_scalar(alpha, "alpha")?;
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::new(SqlState::InvalidParameterValue, format!("alpha must be between 0 and 1, not {alpha}")));
    }
    let mixed: Vec<f64> = match profile {
        None => item.iter().map(|&x| f64::from(x)).collect(),
        Some(p) => {
            if p.len() != item.len() {
                return Err(different_dims(p.len(), item.len()));
            }
            p.iter().zip(item).map(|(&p, &x)| (1.0 - alpha) * f64::from(p) + alpha * f64::from(x)).collect()
        }
    };
    normalize(&mixed)
}

/// `sqrt(Σ wᵢ (aᵢ - bᵢ)²)`: L2 distance with a non-negative weight per dimension.
pub fn weighted_l2_distance(a: &[f32], b: &[f32], w: &[f32]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(different_dims(a.len(), b.len()));
    }
    if w.len() != a.len() {
        return Err(different_dims(a.len(), w.len()));
    }
    let mut sum = 0.0f64;
    for i in 0..a.len() {
        let wi = f64::from(w[i]);
        if wi < 0.0 {
            return Err(Error::new(
                SqlState::InvalidParameterValue,
                format!("weights must not be negative (dimension {} is {wi})", i + 1),
            ));
        }
        let d = f64::from(a[i]) - f64::from(b[i]);
        sum += wi * d * d;
    }
    Ok(sum.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scale_and_divide() {
        assert_eq!(scale(&[1.0, -2.0, 0.0], 2.5).unwrap(), vec![2.5, -5.0, 0.0]);
        assert_eq!(scale(&[1.0, 2.0], 0.0).unwrap(), vec![0.0, 0.0]);
        assert_eq!(divide(&[1.0, -3.0], 2.0).unwrap(), vec![0.5, -1.5]);
        assert_eq!(divide(&[1.0], 0.0).unwrap_err().state, SqlState::DivisionByZero);
        assert_eq!(scale(&[3e38], 10.0).unwrap_err(), Error::float_overflow());
        assert_eq!(scale(&[1e-45], 0.1).unwrap_err(), Error::float_underflow());
        assert_eq!(divide(&[1e-45], 10.0).unwrap_err(), Error::float_underflow());
        assert_eq!(scale(&[1.0], f64::NAN).unwrap_err().state, SqlState::DataException);
        assert_eq!(divide(&[1.0], f64::INFINITY).unwrap_err().state, SqlState::DataException);
    }

    #[test]
    fn weighted_average() {
        let mut s = vec![0.0];
        weighted_accum(&mut s, &[1.0, 0.0], 1.0).unwrap();
        weighted_accum(&mut s, &[0.0, 4.0], 3.0).unwrap();
        weighted_accum(&mut s, &[100.0, 100.0], 0.0).unwrap(); // weight 0: no effect
        assert_eq!(weighted_final(&s).unwrap(), Some(vec![0.25, 3.0]));
        assert_eq!(weighted_accum(&mut s, &[1.0], 1.0).unwrap_err(), Error::different_dims("vector", 2, 1));
        assert_eq!(weighted_accum(&mut s, &[1.0, 1.0], -1.0).unwrap_err().state, SqlState::InvalidParameterValue);
        assert_eq!(weighted_final(&[0.0]).unwrap(), None);
        let mut z = vec![0.0];
        weighted_accum(&mut z, &[1.0, 2.0], 0.0).unwrap();
        assert_eq!(weighted_final(&z).unwrap(), None);
    }

    #[test]
    fn preference_updates() {
        assert_eq!(preference_update(None, &[3.0, 4.0], 0.5).unwrap(), vec![0.6, 0.8]);
        // alpha 0 keeps the (normalised) profile, alpha 1 takes the item
        assert_eq!(preference_update(Some(&[1.0, 0.0]), &[0.0, 5.0], 0.0).unwrap(), vec![1.0, 0.0]);
        assert_eq!(preference_update(Some(&[1.0, 0.0]), &[0.0, 5.0], 1.0).unwrap(), vec![0.0, 1.0]);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert_eq!(preference_update(Some(&[1.0, 0.0]), &[0.0, 1.0], 0.5).unwrap(), vec![h, h]);
        assert_eq!(preference_update(Some(&[1.0, 0.0]), &[-1.0, 0.0], 0.5).unwrap(), vec![0.0, 0.0]);
        assert_eq!(preference_update(Some(&[1.0]), &[1.0], 1.5).unwrap_err().state, SqlState::InvalidParameterValue);
        assert_eq!(preference_update(Some(&[1.0]), &[1.0], -0.1).unwrap_err().state, SqlState::InvalidParameterValue);
        assert_eq!(
            preference_update(Some(&[1.0]), &[1.0, 2.0], 0.1).unwrap_err(),
            Error::different_dims("vector", 1, 2)
        );
    }

    #[test]
    fn weighted_l2() {
        assert_eq!(weighted_l2_distance(&[0.0, 0.0], &[3.0, 4.0], &[1.0, 1.0]).unwrap(), 5.0);
        assert_eq!(weighted_l2_distance(&[0.0, 0.0], &[3.0, 4.0], &[0.0, 1.0]).unwrap(), 4.0);
        assert_eq!(weighted_l2_distance(&[0.0, 0.0], &[3.0, 4.0], &[4.0, 0.0]).unwrap(), 6.0);
        assert!(weighted_l2_distance(&[0.0], &[1.0], &[-1.0]).is_err());
        assert!(weighted_l2_distance(&[0.0], &[1.0, 2.0], &[1.0]).is_err());
        assert!(weighted_l2_distance(&[0.0, 1.0], &[1.0, 2.0], &[1.0]).is_err());
    }

    proptest! {
        /// With unit weights the weighted L2 distance is the L2 distance.
        #[test]
        fn unit_weights_are_l2(v in proptest::collection::vec((-1e3f32..1e3, -1e3f32..1e3), 1..64)) {
            let (a, b): (Vec<f32>, Vec<f32>) = v.into_iter().unzip();
            let ones = vec![1.0; a.len()];
            let want = a.iter().zip(&b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>().sqrt();
            let got = weighted_l2_distance(&a, &b, &ones).unwrap();
            prop_assert!((got - want).abs() <= 1e-9 * want.max(1.0));
        }

        /// The profile stays a unit vector (or zero) and, with 0 < alpha < 1,
        /// moves toward the item: its cosine similarity to the item does not drop.
        #[test]
        fn profile_moves_toward_item(v in proptest::collection::vec((-10f32..10.0, -10f32..10.0), 2..32), alpha in 0.01f64..0.99) {
            let (p, x): (Vec<f32>, Vec<f32>) = v.into_iter().unzip();
            let p = normalize(&p.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()).unwrap();
            let next = preference_update(Some(&p), &x, alpha).unwrap();
            let norm = next.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
            prop_assert!(norm == 0.0 || (norm - 1.0).abs() < 1e-5);
            let cos = |a: &[f32]| {
                let d: f64 = a.iter().zip(&x).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
                let n: f64 = a.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt() * x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
                if n == 0.0 { 0.0 } else { d / n }
            };
            if norm > 0.0 {
                prop_assert!(cos(&next) >= cos(&p) - 1e-5);
            }
        }

        /// The weighted mean with equal weights is the plain mean.
        #[test]
        fn equal_weights_are_the_mean(rows in proptest::collection::vec(proptest::collection::vec(-100f32..100.0, 4), 1..20), w in 0.1f64..10.0) {
            let mut s = vec![0.0];
            for r in &rows { weighted_accum(&mut s, r, w).unwrap(); }
            let got = weighted_final(&s).unwrap().unwrap();
            for (j, g) in got.iter().enumerate() {
                let mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / rows.len() as f64;
                prop_assert!((f64::from(*g) - mean).abs() <= 1e-4 * mean.abs().max(1.0));
            }
        }
    }
}
