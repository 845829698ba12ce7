//! The media task's counters, in shared atomics: readable at any time
//! without a command through the task's queue (which, under load, waits
//! behind the media). The task is the only writer; it publishes after each
//! turn of its loop, so a reader sees figures at most one turn old.
//!
//! Besides the packets forwarded, the task records how long each turn of
//! its loop took and what the turn did (a batch of datagrams, due timers, a
//! command), as histograms with power-of-two buckets in microseconds: a
//! packet that arrives during a long turn waits for it, so the longest
//! turns are what a delay's p99 is made of.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::engine::EngineTotals;

/// Buckets: `[0, 1) µs`, then `[2^(i-1), 2^i) µs` for i ≥ 1; the last one
/// takes everything from about 8.4 s up.
pub const BUCKETS: usize = 24;

/// What a turn of the media task did, or a part of a turn that is timed
/// on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A whole turn: from the wake-up to the next wait.
    Turn,
    /// Datagrams handled (a batch read with one call).
    Datagrams,
    /// Connections' due timers.
    Timers,
    /// Datagrams sent (everything the turn produced).
    Flush,
    /// One command (admit, close, stop, stats).
    Command,
}

pub const WORKS: [Work; 5] = [Work::Turn, Work::Datagrams, Work::Timers, Work::Flush, Work::Command];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    total_micros: AtomicU64,
    longest_micros: AtomicU64,
}

/// The counters one media task publishes (see the module's text).
#[derive(Default)]
pub struct MediaCounters {
    forwarded: AtomicU64,
    datagrams: AtomicU64,
    batches: AtomicU64,
    timers_fired: AtomicU64,
    histograms: [Histogram; WORKS.len()],
}

impl MediaCounters {
    /// Publishes the engine's own totals.
    pub(crate) fn set_engine_totals(&self, totals: EngineTotals) {
        self.forwarded.store(totals.forwarded, Ordering::Relaxed);
        self.timers_fired.store(totals.timers_fired, Ordering::Relaxed);
    }

    /// A batch of `datagrams` was read.
    pub(crate) fn add_batch(&self, datagrams: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.datagrams.fetch_add(datagrams as u64, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, work: Work, took: Duration) {
        let histogram = &self.histograms[work as usize];
        let micros = took.as_micros().min(u128::from(u64::MAX)) as u64;
        histogram.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        histogram.total_micros.fetch_add(micros, Ordering::Relaxed);
        histogram.longest_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// What the counters say now.
    pub fn snapshot(&self) -> CountersSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CountersSnapshot {
            forwarded: load(&self.forwarded),
            datagrams: load(&self.datagrams),
            batches: load(&self.batches),
            timers_fired: load(&self.timers_fired),
            histograms: std::array::from_fn(|i| {
                let h = &self.histograms[i];
                HistogramSnapshot {
                    buckets: std::array::from_fn(|b| load(&h.buckets[b])),
                    total_micros: load(&h.total_micros),
                    longest_micros: load(&h.longest_micros),
                }
            }),
        }
    }
}

/// The bucket of a duration in microseconds.
fn bucket(micros: u64) -> usize {
    ((u64::BITS - micros.leading_zeros()) as usize).min(BUCKETS - 1)
}

/// The upper bound of bucket `i` in microseconds.
pub fn bucket_limit(i: usize) -> u64 {
    1 << i
}

/// The counters at one moment; two of them subtract to a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// RTP packets forwarded to another participant, every room together.
    pub forwarded: u64,
    /// Datagrams read, and the batches (system calls) they came in.
    pub datagrams: u64,
    pub batches: u64,
    /// Connection timers served.
    pub timers_fired: u64,
    pub histograms: [HistogramSnapshot; WORKS.len()],
}

impl CountersSnapshot {
    pub fn histogram(&self, work: Work) -> &HistogramSnapshot {
        &self.histograms[work as usize]
    }

    /// What happened between `earlier` and `self` (the longest times are
    /// since the start: they only grow).
    pub fn since(&self, earlier: &CountersSnapshot) -> CountersSnapshot {
        CountersSnapshot {
            forwarded: self.forwarded - earlier.forwarded,
            datagrams: self.datagrams - earlier.datagrams,
            batches: self.batches - earlier.batches,
            timers_fired: self.timers_fired - earlier.timers_fired,
            histograms: std::array::from_fn(|i| self.histograms[i].since(&earlier.histograms[i])),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    pub buckets: [u64; BUCKETS],
    pub total_micros: u64,
    pub longest_micros: u64,
}

impl HistogramSnapshot {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound (µs) of the bucket holding the `p` quantile.
    pub fn quantile_limit(&self, p: f64) -> u64 {
        let count = self.count();
        if count == 0 {
            return 0;
        }
        let rank = ((count as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_limit(i);
            }
        }
        bucket_limit(BUCKETS - 1)
    }

    /// Turns that took at least `micros` (to the bucket: `micros` is
    /// rounded down to a power of two).
    pub fn at_least(&self, micros: u64) -> u64 {
        self.buckets[bucket(micros)..].iter().sum()
    }

    fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: std::array::from_fn(|b| self.buckets[b] - earlier.buckets[b]),
            total_micros: self.total_micros - earlier.total_micros,
            longest_micros: self.longest_micros,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_power_of_two_buckets() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(2), 2);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(1000), 10);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn a_window_is_the_difference_of_two_snapshots() {
        let counters = MediaCounters::default();
        counters.record(Work::Turn, Duration::from_micros(3));
        let before = counters.snapshot();
        counters.set_engine_totals(EngineTotals { forwarded: 10, timers_fired: 0 });
        counters.add_batch(5);
        for micros in [1, 1, 1, 700] {
            counters.record(Work::Turn, Duration::from_micros(micros));
        }
        let window = counters.snapshot().since(&before);
        assert_eq!(window.forwarded, 10);
        assert_eq!((window.datagrams, window.batches), (5, 1));
        let turns = window.histogram(Work::Turn);
        assert_eq!(turns.count(), 4);
        assert_eq!(turns.total_micros, 703);
        assert_eq!(turns.longest_micros, 700);
        assert_eq!(turns.quantile_limit(0.5), 2);
        assert_eq!(turns.quantile_limit(1.0), 1024);
        assert_eq!(turns.at_least(512), 1);
        assert_eq!(window.histogram(Work::Timers).count(), 0);
    }
}
