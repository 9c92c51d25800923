//! Small, fast random draws on top of ChaCha8.
//!
//! Everything draws 32-bit words straight from the generator and maps them with integer
//! arithmetic (Lemire's multiply-shift, without rejection: the bias is below n / 2³², irrelevant
//! for demo data). That keeps the output identical on every platform and for every `rand`
//! version that keeps ChaCha8's stream, and keeps generation fast in unoptimised debug builds.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// Uniform in `0..n`; `n` must be positive.
pub fn below(rng: &mut ChaCha8Rng, n: u32) -> u32 {
    debug_assert!(n > 0);
    ((u64::from(rng.next_u32()) * u64::from(n)) >> 32) as u32
}

/// Uniform in `lo..=hi`.
pub fn range(rng: &mut ChaCha8Rng, lo: u32, hi: u32) -> u32 {
    lo + below(rng, hi - lo + 1)
}

/// Uniform in `lo..=hi`, signed.
pub fn offset(rng: &mut ChaCha8Rng, lo: i32, hi: i32) -> i32 {
    lo + below(rng, (hi - lo + 1) as u32) as i32
}

/// True with probability `num / den`.
pub fn ratio(rng: &mut ChaCha8Rng, num: u32, den: u32) -> bool {
    below(rng, den) < num
}

/// One element, uniformly.
pub fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[below(rng, items.len() as u32) as usize]
}

/// A table of weights, prepared once and drawn from many times.
#[derive(Debug, Clone)]
pub struct Weights {
    cumulative: Vec<u32>,
}

impl Weights {
    /// Panics if all weights are zero.
    pub fn new(weights: &[u32]) -> Weights {
        let cumulative: Vec<u32> = weights
            .iter()
            .scan(0u32, |sum, &w| {
                *sum += w;
                Some(*sum)
            })
            .collect();
        assert!(cumulative.last().is_some_and(|&t| t > 0), "weights must not all be zero");
        Weights { cumulative }
    }

    /// An index with probability proportional to its weight.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let x = below(rng, self.cumulative[self.cumulative.len() - 1]);
        let mut i = 0;
        while x >= self.cumulative[i] {
            i += 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn draws_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut seen = [0u32; 7];
        for _ in 0..10_000 {
            seen[below(&mut rng, 7) as usize] += 1;
            assert!((3..=5).contains(&range(&mut rng, 3, 5)));
            assert!((-2..=6).contains(&offset(&mut rng, -2, 6)));
            assert_ne!(Weights::new(&[0, 3, 0, 1]).pick(&mut rng) % 2, 0);
        }
        assert!(seen.iter().all(|&c| c > 1200), "{seen:?}");
    }
}
