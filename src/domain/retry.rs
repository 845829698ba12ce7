//! When durable work is tried again: the one retry policy of every queue
//! (`storage::queue`: mail, federation deliveries, and what comes next).
//!
//! A worker claims a row for a lease (another worker may take it once the
//! lease ends, so a crash mid-attempt only delays it), counts the attempt,
//! and after a failure either schedules the next attempt — delays doubling
//! from a first delay to a cap — or gives up: after the last attempt, or at
//! once when the failure is permanent (a refusal that asking again will not
//! change). Pure: the caller passes `now` and the attempt number.

/// How often, how far apart and for how long a queue's work is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all; the last failure gives up.
    pub attempts: i64,
    /// How long a claimed row stays claimed (ms).
    pub lease_ms: i64,
    /// The delay after the first failed attempt (ms); each later one doubles.
    pub first_delay_ms: i64,
    /// No delay is longer than this (ms).
    pub max_delay_ms: i64,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this instant (ms since the epoch).
    RetryAt(i64),
    /// Never again; the row keeps the reason.
    GiveUp,
}

impl AfterFailure {
    /// The next attempt's time, `None` when given up.
    pub fn retry_at(self) -> Option<i64> {
        match self {
            AfterFailure::RetryAt(at) => Some(at),
            AfterFailure::GiveUp => None,
        }
    }
}

/// Doublings after which the delay stops growing (before the cap applies).
const MAX_DOUBLINGS: i64 = 9;

impl RetryPolicy {
    /// `attempts` attempts, delays of 1, 2, 4 … × `first_delay_ms`, at most
    /// 480 × `first_delay_ms` (1 minute to 8 hours when the first is a
    /// minute: 16 attempts span about two and a half days).
    pub const fn doubling(attempts: i64, lease_ms: i64, first_delay_ms: i64) -> RetryPolicy {
        RetryPolicy { attempts, lease_ms, first_delay_ms, max_delay_ms: first_delay_ms.saturating_mul(480) }
    }

    /// The delay after failed attempt `attempt` (1-based).
    pub fn delay_ms(&self, attempt: i64) -> i64 {
        let doublings = attempt.clamp(1, MAX_DOUBLINGS + 1) - 1;
        self.first_delay_ms.saturating_mul(1 << doublings).min(self.max_delay_ms)
    }

    /// What follows failed attempt `attempt` (1-based, as the claim counted
    /// it) at `now`; `permanent` failures are given up at once.
    pub fn after_failure(&self, attempt: i64, now: i64, permanent: bool) -> AfterFailure {
        if permanent || attempt >= self.attempts {
            AfterFailure::GiveUp
        } else {
            AfterFailure::RetryAt(now.saturating_add(self.delay_ms(attempt)))
        }
    }

    /// From the first failure to giving up, when every attempt fails (ms).
    pub fn retry_span_ms(&self) -> i64 {
        (1..self.attempts).map(|attempt| self.delay_ms(attempt)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn delays_double_from_the_first_up_to_the_cap() {
        let policy = RetryPolicy::doubling(16, 5 * MINUTE, MINUTE);
        let delays: Vec<i64> = (1..=12).map(|n| policy.delay_ms(n) / MINUTE).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 480, 480, 480]);
        assert_eq!(policy.delay_ms(0), MINUTE, "attempt numbers start at 1");
        assert_eq!(policy.delay_ms(i64::MAX), 8 * HOUR);
        // Scaled: a first delay of a second (the tests' setting) caps at 8 minutes.
        let fast = RetryPolicy::doubling(16, 30_000, 1_000);
        assert_eq!((fast.delay_ms(1), fast.delay_ms(3), fast.delay_ms(16)), (1_000, 4_000, 480_000));
    }

    #[test]
    fn failures_retry_until_the_last_attempt_or_a_permanent_refusal() {
        let policy = RetryPolicy::doubling(16, 30_000, MINUTE);
        let now = 1_000_000;
        assert_eq!(policy.after_failure(1, now, false), AfterFailure::RetryAt(now + MINUTE));
        assert_eq!(policy.after_failure(3, now, false).retry_at(), Some(now + 4 * MINUTE));
        assert_eq!(policy.after_failure(15, now, false), AfterFailure::RetryAt(now + 8 * HOUR));
        assert_eq!(policy.after_failure(16, now, false), AfterFailure::GiveUp);
        assert_eq!(policy.after_failure(17, now, false), AfterFailure::GiveUp);
        assert_eq!(policy.after_failure(1, now, true).retry_at(), None);
    }

    #[test]
    fn sixteen_attempts_a_minute_apart_at_first_span_two_to_four_days() {
        let span = RetryPolicy::doubling(16, 0, MINUTE).retry_span_ms();
        assert!((2 * DAY..=4 * DAY).contains(&span), "{} hours", span / HOUR);
    }
}
