//! The one clock: every "now" of the application comes from here.
//!
//! Production runs on the system clock. Tests run on a manual clock that
//! stands still until they move it (`advance`, `set`), shared by the test
//! and the services (both hold clones of one handle; storage reads no clock
//! and receives `now` from the services), so a test lets a day pass without
//! sleeping and without rewriting rows.
//!
//! Nothing outside this module reads the system time, with two deliberate
//! exceptions that must stay on real time: the job loop's tokio timers
//! (`service::jobs`: how often it wakes is not application time), and HTTP
//! signatures (`federation::signatures`: the `Date` header we send and the
//! federation crate's check of the ones we receive are compared with the
//! peer's real clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// A cheap, cloneable handle on the current time.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock; otherwise a time moved only by hand.
    manual: Option<Arc<Manual>>,
}

/// A manual clock's time (milliseconds since the epoch), and a signal to
/// whoever sleeps on it that it moved.
#[derive(Default)]
struct Manual {
    ms: AtomicI64,
    moved: tokio::sync::Notify,
}

impl Clock {
    /// The system clock (production).
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A manual clock standing at `start` until it is moved.
    pub fn manual(start: Timestamp) -> Clock {
        Clock {
            manual: Some(Arc::new(Manual { ms: AtomicI64::new(start.as_millisecond()), moved: Default::default() })),
        }
    }

    /// A manual clock starting at the system's current time (so dates in
    /// tests look like today's).
    pub fn manual_from_now() -> Clock {
        Clock::manual(Timestamp::now())
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Milliseconds since the Unix epoch, the unit of every stored instant.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(manual) => manual.ms.load(Ordering::SeqCst),
            None => Timestamp::now().as_millisecond(),
        }
    }

    pub fn now(&self) -> Timestamp {
        match &self.manual {
            Some(manual) => {
                Timestamp::from_millisecond(manual.ms.load(Ordering::SeqCst)).unwrap_or(Timestamp::UNIX_EPOCH)
            }
            None => Timestamp::now(),
        }
    }

    /// Moves a manual clock by `by` (whole milliseconds) and returns the
    /// new time; `None`, and nothing moves, on the system clock.
    pub fn advance(&self, by: SignedDuration) -> Option<Timestamp> {
        let manual = self.manual.as_ref()?;
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let now = manual.ms.fetch_add(by, Ordering::SeqCst).saturating_add(by);
        manual.moved.notify_waiters();
        Timestamp::from_millisecond(now).ok()
    }

    /// Sets a manual clock to `at`; false (nothing changes) on the system clock.
    pub fn set(&self, at: Timestamp) -> bool {
        match &self.manual {
            Some(manual) => {
                manual.ms.store(at.as_millisecond(), Ordering::SeqCst);
                manual.moved.notify_waiters();
                true
            }
            None => false,
        }
    }
}

impl Clock {
    /// Waits until the clock reads `at_ms` or later: a timer on the system
    /// clock; on a manual clock, until a test moves it that far (a room's
    /// deadline in a test passes when the test says so, not after a sleep).
    pub async fn sleep_until(&self, at_ms: i64) {
        match &self.manual {
            None => {
                let left = at_ms - self.now_ms();
                if left > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(left as u64)).await;
                }
            }
            Some(manual) => loop {
                let moved = manual.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                if self.now_ms() >= at_ms {
                    return;
                }
                moved.await;
            },
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.is_manual() {
            true => write!(f, "Clock::manual({})", self.now()),
            false => f.write_str("Clock::system"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_moved_and_clones_share_it() {
        let start = Timestamp::from_millisecond(1_700_000_000_000).unwrap();
        let clock = Clock::manual(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now_ms(), 1_700_000_000_000);
        assert_eq!(shared.advance(SignedDuration::from_secs(90)), Some(start + SignedDuration::from_secs(90)));
        assert_eq!(clock.now_ms(), 1_700_000_090_000);
        assert!(clock.set(start));
        assert_eq!(shared.now(), start);
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.is_manual());
        assert_eq!(clock.advance(SignedDuration::from_secs(1)), None);
        assert!(!clock.set(Timestamp::UNIX_EPOCH));
        let (before, now, after) = (Timestamp::now(), clock.now(), Timestamp::now());
        assert!(before <= now && now <= after);
    }

    #[tokio::test]
    async fn sleeping_on_a_manual_clock_ends_when_the_clock_gets_there() {
        let clock = Clock::manual(Timestamp::from_millisecond(1_700_000_000_000).unwrap());
        let until = clock.now_ms() + 10_000;
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(until).await }
        });
        clock.advance(SignedDuration::from_secs(5));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!sleeper.is_finished(), "woke five seconds early");
        clock.advance(SignedDuration::from_secs(5));
        sleeper.await.unwrap();
        // Already past: at once.
        clock.sleep_until(until - 1).await;
    }
}
