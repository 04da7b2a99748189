//! Percentiles and medians of a run's samples, by sorting: a few thousand samples need no histogram.

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

/// The median of `values` (the mean of the middle two for an even count), `None` for none: the
/// cold-start runs are few, and a run count may be even (`BENCH_RUNS`).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
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

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0), "odd count");
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5), "even count");
        assert_eq!(median(&[7.0]), Some(7.0), "one run");
        assert_eq!(median(&[]), None, "no runs");
    }
}
