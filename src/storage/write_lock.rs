//! How long writers wait for the write lock, as a histogram.
//!
//! On SQLite the write lock is the database's one writer, taken by
//! `BEGIN IMMEDIATE` on the store's single write connection (`Store::begin_write`):
//! the wait is the time to get that connection (a fair, first-come queue)
//! plus `BEGIN IMMEDIATE` itself. On PostgreSQL it is the time of the
//! `SELECT … FOR UPDATE` on the row a booking change locks (`Store::lock_row`).
//! Kept in memory, process-wide per store, for the admin API
//! (`GET /api/v1/admin/write-lock`) and the realistic-mix benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Power-of-two buckets in microseconds: bucket `i` counts waits below
/// `2^i` µs (the last one everything longer, from about 8.4 s).
pub const BUCKETS: usize = 24;

#[derive(Debug)]
pub struct WriteLockStats {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    total_micros: AtomicU64,
    longest_micros: AtomicU64,
}

impl Default for WriteLockStats {
    fn default() -> Self {
        WriteLockStats {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            total_micros: AtomicU64::new(0),
            longest_micros: AtomicU64::new(0),
        }
    }
}

/// What the histogram held at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteLockSnapshot {
    /// Waits counted.
    pub count: u64,
    pub total_micros: u64,
    pub longest_micros: u64,
    /// `buckets[i]`: waits shorter than `2^i` µs (and not counted in an earlier bucket).
    pub buckets: Vec<u64>,
}

impl WriteLockStats {
    pub fn record(&self, waited: Duration) {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_micros.fetch_add(micros, Ordering::Relaxed);
        self.longest_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> WriteLockSnapshot {
        WriteLockSnapshot {
            count: self.count.load(Ordering::Relaxed),
            total_micros: self.total_micros.load(Ordering::Relaxed),
            longest_micros: self.longest_micros.load(Ordering::Relaxed),
            buckets: self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
        }
    }
}

impl WriteLockSnapshot {
    /// The waits between `earlier` and this one (the longest is this one's:
    /// a maximum cannot be subtracted).
    pub fn since(&self, earlier: &WriteLockSnapshot) -> WriteLockSnapshot {
        WriteLockSnapshot {
            count: self.count.saturating_sub(earlier.count),
            total_micros: self.total_micros.saturating_sub(earlier.total_micros),
            longest_micros: self.longest_micros,
            buckets: self
                .buckets
                .iter()
                .zip(earlier.buckets.iter().chain(std::iter::repeat(&0)))
                .map(|(now, then)| now.saturating_sub(*then))
                .collect(),
        }
    }

    /// The upper bound (µs) of the bucket holding the `p`th percentile.
    pub fn percentile_below(&self, p: f64) -> u64 {
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return 1 << i;
            }
        }
        self.longest_micros
    }
}

fn bucket(micros: u64) -> usize {
    // 0 µs → bucket 0 (< 1 µs), 1 → 1 (< 2 µs), 2..3 → 2 (< 4 µs), …
    let bits = (u64::BITS - micros.leading_zeros()) as usize;
    bits.min(BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_in_power_of_two_buckets() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(4), 3);
        assert_eq!(bucket(1_000), 10);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn snapshots_subtract_and_give_percentiles() {
        let stats = WriteLockStats::default();
        stats.record(Duration::from_micros(10));
        let before = stats.snapshot();
        for _ in 0..99 {
            stats.record(Duration::from_micros(100));
        }
        stats.record(Duration::from_millis(50));
        let window = stats.snapshot().since(&before);
        assert_eq!(window.count, 100);
        assert_eq!(window.total_micros, 99 * 100 + 50_000);
        assert_eq!(window.percentile_below(50.0), 128);
        assert_eq!(window.percentile_below(99.0), 128);
        assert_eq!(window.percentile_below(100.0), 65_536);
        assert_eq!(window.longest_micros, 50_000);
    }
}
