//! Percentiles of a set of durations, by sorting.
//!
//! Percentiles use the nearest-rank method: p99 of 50 samples is the
//! largest one, so a p99 over few runs is a maximum and says so honestly.
//! Every figure is kept as a [`Duration`] until it is printed, in
//! milliseconds with two decimals.

use std::time::Duration;

/// The distribution of one measured quantity.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    sorted: Vec<Duration>,
}

impl Summary {
    pub fn new(mut samples: Vec<Duration>) -> Summary {
        samples.sort_unstable();
        Summary { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank percentile `p` (0 < p <= 100); zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    /// How many samples are above `limit`.
    pub fn count_over(&self, limit: Duration) -> usize {
        self.sorted.len() - self.sorted.partition_point(|d| *d <= limit)
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// Milliseconds with two decimals, the unit of every table.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// A sentence on what p99 means for `n` samples.
pub fn rank_note(n: usize) -> String {
    let rank = (n * 99).div_ceil(100);
    if rank >= n {
        format!("Percentiles by nearest rank: p99 of {n} samples is the slowest one.")
    } else {
        format!("Percentiles by nearest rank: p99 of {n} samples is the one of rank {rank}.")
    }
}

/// `a / b` with two decimals, or `n/a` when `b` is zero.
pub fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".to_owned()
    } else {
        format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64())
    }
}

/// `a - b` in milliseconds, signed.
pub fn diff_ms(a: Duration, b: Duration) -> f64 {
    (a.as_secs_f64() - b.as_secs_f64()) * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Summary {
        Summary::new(v.iter().map(|&m| Duration::from_millis(m)).collect())
    }

    #[test]
    fn nearest_rank_percentiles() {
        let s = millis(&[5, 1, 4, 2, 3]);
        assert_eq!(s.p50(), Duration::from_millis(3));
        assert_eq!(s.p99(), Duration::from_millis(5));
        let hundred = millis(&(1..=100).collect::<Vec<_>>());
        assert_eq!(hundred.p50(), Duration::from_millis(50));
        assert_eq!(hundred.p99(), Duration::from_millis(99));
        assert_eq!(hundred.count_over(Duration::from_millis(90)), 10);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(Summary::default().p99(), Duration::ZERO);
    }
}
