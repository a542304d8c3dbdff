//! Levels: a node reaches level `l` with probability `m^-l`, so every level
//! has about `1/m` of the nodes of the level below (HNSW paper, `mL = 1/ln m`).

/// The highest level any node gets. With `m >= 2` and `mL = 1/ln m` a level
/// beyond this is less likely than one in 2^30 insertions at m = 2, and the
/// links of a node must fit on one page.
pub const MAX_LEVEL: usize = 16;

/// `mL` for a given `m`.
pub fn level_multiplier(m: usize) -> f64 {
    1.0 / (m.max(2) as f64).ln()
}

/// The level for a uniform random `u` in `(0, 1]`.
pub fn level_for(u: f64, m: usize, max_level: usize) -> usize {
    let u = u.clamp(f64::MIN_POSITIVE, 1.0);
    let level = (-u.ln() * level_multiplier(m)).floor();
    (level as usize).min(max_level)
}

/// A reproducible level for the `n`-th vector of a build: a hash of `n` and
/// a seed, so that a build's levels do not depend on thread scheduling.
pub fn level_for_index(n: u64, seed: u64, m: usize, max_level: usize) -> usize {
    level_for(unit_from_hash(splitmix64(n ^ seed.rotate_left(17))), m, max_level)
}

/// SplitMix64: a fast, well-mixed 64-bit hash.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A float in `(0, 1]` from the top 53 bits of `x`.
pub fn unit_from_hash(x: u64) -> f64 {
    ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_thin_out_by_m() {
        let m = 16;
        let n = 200_000u64;
        let mut counts = [0usize; MAX_LEVEL + 1];
        for i in 0..n {
            counts[level_for_index(i, 42, m, MAX_LEVEL)] += 1;
        }
        let at_least_1: usize = counts[1..].iter().sum();
        let expected = n as f64 / m as f64;
        assert!((at_least_1 as f64 - expected).abs() < expected * 0.05, "{at_least_1} nodes at level ≥ 1");
        assert!(counts[0] > counts[1] && counts[1] > counts[2]);
    }

    #[test]
    fn extreme_uniforms() {
        assert_eq!(level_for(1.0, 16, MAX_LEVEL), 0);
        assert_eq!(level_for(0.0, 16, MAX_LEVEL), MAX_LEVEL);
        assert_eq!(level_for(0.0, 16, 3), 3);
    }
}
