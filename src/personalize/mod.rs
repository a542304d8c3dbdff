//! Personalization in SQL: what recommendation and agent-memory applications
//! built on pgvector compute in application code, as functions, operators
//! and aggregates next to the data.
//!
//! | SQL                                         | what                                     |
//! |---------------------------------------------|------------------------------------------|
//! | `vector * real`, `real * vector`, `vector / real` (and `double precision`) | scale every element |
//! | `weighted_avg(vector, double precision)`    | weighted mean (parallel, combine function) |
//! | `preference_update(profile, item, alpha)`   | `normalize((1-alpha)·profile + alpha·item)` |
//! | `preference_ema(vector, alpha ORDER BY …)`  | the same folded over rows in order        |
//! | `weighted_l2_distance(a, b, weights)`       | `sqrt(Σ wᵢ (aᵢ - bᵢ)²)`                   |
//!
//! The arithmetic is in [`math`] (pure, unit-tested); this module is the thin
//! pgrx shell declared by hand in `sql/personalize.sql`.

pub mod math;

use crate::types::vector::{Vector, VectorArg};
use crate::types::OrRaise;
use pgrx::prelude::*;

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_mul_scalar(v: VectorArg, s: f64) -> Vector {
    Vector::from_slice(&math::scale(v.as_slice(), s).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_mul_scalar4(v: VectorArg, s: f32) -> Vector {
    Vector::from_slice(&math::scale(v.as_slice(), f64::from(s)).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn scalar_mul_vector(s: f64, v: VectorArg) -> Vector {
    Vector::from_slice(&math::scale(v.as_slice(), s).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn scalar4_mul_vector(s: f32, v: VectorArg) -> Vector {
    Vector::from_slice(&math::scale(v.as_slice(), f64::from(s)).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_div_scalar(v: VectorArg, s: f64) -> Vector {
    Vector::from_slice(&math::divide(v.as_slice(), s).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_div_scalar4(v: VectorArg, s: f32) -> Vector {
    Vector::from_slice(&math::divide(v.as_slice(), f64::from(s)).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn weighted_vector_accum(state: Vec<f64>, v: VectorArg, weight: f64) -> Vec<f64> {
    let mut state = state;
    math::weighted_accum(&mut state, v.as_slice(), weight).or_raise();
    state
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn weighted_vector_combine(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    math::weighted_combine(&a, &b).or_raise()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn weighted_vector_avg(state: Vec<f64>) -> Option<Vector> {
    math::weighted_final(&state).or_raise().map(|v| Vector::from_slice(&v))
}

/// Not strict: a NULL profile is a user's first interaction, a NULL item
/// leaves the profile unchanged (so it also serves as the transition function
/// of `preference_ema`).
#[pg_extern(immutable, parallel_safe, sql = false)]
fn preference_update(profile: Option<VectorArg>, item: Option<VectorArg>, alpha: Option<f64>) -> Option<Vector> {
    let Some(alpha) = alpha else {
        crate::types::raise(crate::format::Error::new(
            crate::format::SqlState::NullValueNotAllowed,
            "alpha must not be null",
        ));
    };
    match (profile, item) {
        (None, None) => None,
        (Some(p), None) => {
            // Validate alpha even when there is nothing to mix in.
            math::preference_update(Some(p.as_slice()), p.as_slice(), alpha).or_raise();
            Some(Vector::from_slice(p.as_slice()))
        }
        (p, Some(x)) => {
            let out = math::preference_update(p.as_ref().map(|p| p.as_slice()), x.as_slice(), alpha).or_raise();
            Some(Vector::from_slice(&out))
        }
    }
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn weighted_l2_distance(a: VectorArg, b: VectorArg, weights: VectorArg) -> f64 {
    math::weighted_l2_distance(a.as_slice(), b.as_slice(), weights.as_slice()).or_raise()
}
