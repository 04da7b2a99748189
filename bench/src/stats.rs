//! Percentiles of a run's samples, by sorting: a few thousand samples need no histogram.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The median and 99th percentile of a set of timings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub iterations: usize,
    pub median_ms: f64,
    pub p99_ms: f64,
}

impl Summary {
    /// Summarises `samples` (at least one); percentiles by nearest rank, so every reported value
    /// is one that was measured.
    pub fn of(samples: &[Duration]) -> Summary {
        assert!(!samples.is_empty(), "no samples to summarise");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let ms = |q: f64| {
            let rank = (q * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
        };
        Summary {
            iterations: sorted.len(),
            median_ms: ms(0.5),
            p99_ms: ms(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        // 1..=100 ms, shuffled: the median is the 50th value, p99 the 99th.
        let mut samples: Vec<u64> = (1..=100).collect();
        samples.reverse();
        let summary = Summary::of(&millis(&samples));
        assert_eq!(
            (summary.iterations, summary.median_ms, summary.p99_ms),
            (100, 50.0, 99.0)
        );
    }

    #[test]
    fn small_runs_report_their_maximum_as_p99() {
        let summary = Summary::of(&millis(&[3, 1, 2]));
        assert_eq!((summary.median_ms, summary.p99_ms), (2.0, 3.0));
        let one = Summary::of(&millis(&[7]));
        assert_eq!((one.median_ms, one.p99_ms), (7.0, 7.0));
    }
}
