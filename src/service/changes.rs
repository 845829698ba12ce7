//! What this node changed, for the read caches of the service layer
//! (advisors' availability, profiles): every write that changes what a
//! cached entry shows marks its person as changed once it has committed,
//! and an entry read before that mark is never served again.
//!
//! An entry remembers the change counter as it was when its read from the
//! database began. A mark takes the next counter value: an entry whose read
//! began before the mark is older than it and is refused, whatever the
//! order in which the read, its insertion into the cache and the mark
//! happened — so a page asked for after a write returned never shows what
//! the write changed, even while a read that began before it is still
//! filling the cache. Other nodes (and the CLI) are caught up by each
//! cache's short lifetime.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Locks that let one request at a time read a missing entry of a given
/// person while the others wait for it (instead of all of them reading the
/// same rows when an entry expires under load). Sharded by person.
pub struct Loads([tokio::sync::Mutex<()>; 16]);

impl Default for Loads {
    fn default() -> Self {
        Loads(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

impl Loads {
    /// Waits for the lock of `key`'s shard.
    pub async fn lock(&self, key: u64) -> tokio::sync::MutexGuard<'_, ()> {
        self.0[(key % 16) as usize].lock().await
    }

    /// Waits for the lock of a text key's shard.
    pub async fn lock_name(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        self.lock(hasher.finish()).await
    }
}

#[derive(Default)]
pub struct Changes {
    /// Counts the marks made on this node.
    counter: AtomicU64,
    /// The last mark that changed everyone.
    everyone: AtomicU64,
    /// The last mark of each person (advisor or not) that has one.
    people: RwLock<HashMap<i64, u64>>,
}

impl Changes {
    /// The counter now: take it before a cached read begins.
    pub fn stamp(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// Marks what `person_id` shows as changed (after the write committed).
    pub fn person(&self, person_id: i64) {
        let mark = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let mut people = self.people.write().unwrap_or_else(|e| e.into_inner());
        let kept = people.entry(person_id).or_insert(mark);
        *kept = (*kept).max(mark);
    }

    /// Marks everything as changed (a rule or a list every entry reads).
    pub fn everyone(&self) {
        let mark = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        self.everyone.fetch_max(mark, Ordering::SeqCst);
    }

    /// Whether an entry that is no one's (a rule for everyone) whose read
    /// began at `stamp` is still what the database holds.
    pub fn fresh_for_everyone(&self, stamp: u64) -> bool {
        stamp >= self.everyone.load(Ordering::SeqCst)
    }

    /// Whether an entry of `person_id` whose read began at `stamp` is
    /// still what the database holds, as far as this node knows.
    pub fn fresh(&self, person_id: i64, stamp: u64) -> bool {
        if stamp < self.everyone.load(Ordering::SeqCst) {
            return false;
        }
        let people = self.people.read().unwrap_or_else(|e| e.into_inner());
        people.get(&person_id).is_none_or(|mark| stamp >= *mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_begun_before_a_mark_is_refused_and_one_begun_after_is_kept() {
        let changes = Changes::default();
        let before = changes.stamp();
        assert!(changes.fresh(7, before));
        changes.person(7);
        assert!(!changes.fresh(7, before), "read before the write committed");
        assert!(changes.fresh(8, before), "someone else's entry stays");
        let after = changes.stamp();
        assert!(changes.fresh(7, after));
        changes.everyone();
        assert!(!changes.fresh(7, after) && !changes.fresh(8, after));
        assert!(changes.fresh(8, changes.stamp()));
    }
}
