//! Counting failed attempts (log-in, password reset) per key in memory.

use std::time::Duration;

use moka::sync::Cache;

use super::AppError;

/// Allows `limit` failures per key; the count is forgotten `window` after the
/// last failure. In memory: a restart forgets, which errs on the side of
/// letting people in, and costs a few bytes per key.
#[derive(Clone)]
pub struct RateLimiter {
    failures: Cache<String, u32>,
    limit: u32,
    window: Duration,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        let failures = Cache::builder().max_capacity(100_000).time_to_live(window).build();
        RateLimiter { failures, limit, window }
    }

    pub fn check(&self, key: &str) -> Result<(), AppError> {
        if self.failures.get(key).unwrap_or(0) >= self.limit {
            return Err(AppError::RateLimited { retry_after_secs: self.window.as_secs() });
        }
        Ok(())
    }

    pub fn record_failure(&self, key: &str) {
        let count = self.failures.get(key).unwrap_or(0);
        self.failures.insert(key.to_string(), count.saturating_add(1));
    }

    pub fn clear(&self, key: &str) {
        self.failures.invalidate(key);
    }
}

impl super::App {
    /// Counts an action that costs us work or sends mail (connecting a
    /// calendar, …) against its key; refused once the key has too many.
    pub fn count_action(&self, key: &str) -> Result<(), AppError> {
        self.action_limiter.check(key)?;
        self.action_limiter.record_failure(key);
        Ok(())
    }

    /// Counts a fetch of an unknown actor's document by the inbox against
    /// its host; refused (429) when one host makes us fetch too often.
    pub fn count_actor_fetch(&self, host: &str) -> Result<(), AppError> {
        self.actor_fetch_limiter.check(host)?;
        self.actor_fetch_limiter.record_failure(host);
        Ok(())
    }

    /// Counts a calendar feed fetch against its client address; refused
    /// (429) in a flood.
    pub fn count_feed_fetch(&self, key: &str) -> Result<(), AppError> {
        self.feed_limiter.check(key)?;
        self.feed_limiter.record_failure(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_cleared() {
        let limiter = RateLimiter::new(3, Duration::from_secs(900));
        for _ in 0..3 {
            assert!(limiter.check("ada").is_ok());
            limiter.record_failure("ada");
        }
        let err = limiter.check("ada").unwrap_err();
        assert_eq!(err.status(), 429);
        assert!(err.message().contains("15 minute"), "{}", err.message());
        assert!(limiter.check("grace").is_ok());
        limiter.clear("ada");
        assert!(limiter.check("ada").is_ok());
    }
}
