//! The availability cache: each advisor's booking rules, offerings, blocks
//! and slots ahead, read once and kept for a few seconds, for the pages
//! every learner lands on (the profile, the slots API, the directory's
//! "next free" cards). Whether a time is free is worked out on each read
//! with the clock of that read, so time passing needs no invalidation;
//! every write on this node that changes what an entry shows marks its
//! advisor (`App::availability_changed`, see `service::changes`), and
//! other nodes catch up within [`AVAILABILITY_CACHE_SECS`].

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::domain::agenda::{self, FreeCheck};
use crate::storage::{AdvisorPolicy, Block, Offering, Slot, User};

use super::agenda::PickerRules;
use super::offerings::with_offering;
use super::{App, AppError};

/// How long another node's change may take to show in this node's
/// availability pages.
pub const AVAILABILITY_CACHE_SECS: u64 = 5;
/// Slots read beyond the longest horizon, so an entry serves while the
/// clock moves on (it is read again once the horizon passes its end).
const WINDOW_MARGIN_MS: i64 = 10 * 60_000;
/// The longest horizon an entry covers (longer ones are read directly).
const WINDOW_MAX_DAYS: i64 = 366;
const DAY_MS: i64 = 86_400_000;

/// An advisor's availability as read at one moment.
pub struct Availability {
    /// `Changes::stamp` when the read began.
    stamp: u64,
    /// The slots held start in `[from, to)` (milliseconds).
    from: i64,
    to: i64,
    pub policy: AdvisorPolicy,
    /// What learners may see: bookable (open or asked for, not busy) and
    /// listed, in time order.
    listed: Vec<Slot>,
    /// The picker's rules: the offerings and each block's notice.
    pub rules: Arc<PickerRules>,
    /// Each block's horizon in days (its own, else its offering's, else
    /// the advisor's), for the next free time.
    horizons: HashMap<i64, i64>,
    /// The longest of those horizons and the advisor's and offerings'.
    span_days: i64,
}

impl Availability {
    /// Whether the slots held cover `[from, to)`.
    pub fn covers(&self, from: i64, to: i64) -> bool {
        self.from <= from && to <= self.to
    }

    /// The listed slots starting in `[from, to)`, as a range of
    /// [`Availability::slots`] (they are in time order).
    pub fn range(&self, from: i64, to: i64) -> Range<usize> {
        let start = self.listed.partition_point(|s| s.starts_at < from);
        let end = self.listed.partition_point(|s| s.starts_at < to).max(start);
        start..end
    }

    pub fn slots(&self) -> &[Slot] {
        &self.listed
    }

    /// The first free time at `now` (`domain::agenda::is_free` within each
    /// slot's horizon), as the directory's cards show it.
    pub fn next_free(&self, now: Timestamp) -> Option<i64> {
        let now_ms = now.as_millisecond();
        self.listed[self.range(now_ms, i64::MAX)]
            .iter()
            .filter(|s| s.ap_id.is_none())
            .find(|s| {
                let horizon = self.horizons.get(&s.block_id).copied().unwrap_or(self.policy.horizon_days);
                let check = FreeCheck {
                    start: Timestamp::from_millisecond(s.starts_at).unwrap_or(Timestamp::MIN),
                    state: s.status,
                    busy: s.busy,
                    unlisted: false,
                    min_notice: SignedDuration::from_mins(self.rules.notice(s.block_id)),
                };
                s.starts_at <= now_ms.saturating_add(horizon.saturating_mul(DAY_MS)) && agenda::is_free(&check, now)
            })
            .map(|s| s.starts_at)
    }
}

impl App {
    /// `advisor`'s availability from the cache, read again when this node
    /// changed it since, when it is older than [`AVAILABILITY_CACHE_SECS`],
    /// or when the clock moved past what it holds. `None` when the
    /// advisor's horizons are too long for an entry.
    pub async fn availability(&self, advisor: &User) -> Result<Option<Arc<Availability>>, AppError> {
        if let Some(hit) = self.cached_availability(advisor.id) {
            return Ok(Some(hit));
        }
        // One reader per missing entry; the others take what it read (an
        // entry read before a change is refused by the check again).
        let _loading = self.loads.lock(advisor.id as u64).await;
        if let Some(hit) = self.cached_availability(advisor.id) {
            return Ok(Some(hit));
        }
        let now = self.clock.now_ms();
        let stamp = self.changes.stamp();
        let policy = self.store.advisor_policy(advisor.id).await?;
        let offerings = self.offerings(advisor).await?;
        let blocks = self.store.advisor_blocks(advisor.id).await?;
        let horizons: HashMap<i64, i64> = blocks
            .iter()
            .map(|b| (b.id, b.horizon_days.unwrap_or(offered(&policy, &offerings, b).horizon_days)))
            .collect();
        let span_days = span_days(&policy, &offerings, horizons.values());
        if span_days > WINDOW_MAX_DAYS {
            return Ok(None);
        }
        let to = now.saturating_add(span_days * DAY_MS + WINDOW_MARGIN_MS);
        let slots = self.store.advisor_slots(advisor.id, now, to).await?;
        let listed: Vec<Slot> = slots
            .into_iter()
            .filter(|s| !s.busy && s.status.takes_requests() && !s.unlisted(policy.unlisted))
            .collect();
        let notices: BTreeMap<i64, i64> = blocks
            .iter()
            .map(|b| (b.id, b.min_notice_minutes.unwrap_or(offered(&policy, &offerings, b).min_notice_minutes)))
            .collect();
        let rules = Arc::new(PickerRules::new(offerings, notices, policy.min_notice_minutes));
        let entry = Arc::new(Availability { stamp, from: now, to, policy, listed, rules, horizons, span_days });
        self.availability_cache.insert(advisor.id, entry.clone());
        Ok(Some(entry))
    }

    /// The cached entry, when this node changed nothing in it since and it
    /// covers the horizon from now.
    fn cached_availability(&self, advisor_id: i64) -> Option<Arc<Availability>> {
        let now = self.clock.now_ms();
        let hit = self.availability_cache.get(&advisor_id)?;
        let usable =
            self.changes.fresh(advisor_id, hit.stamp) && hit.covers(now, now.saturating_add(hit.span_days * DAY_MS));
        usable.then_some(hit)
    }

    /// Forgets `advisor_id`'s cached availability after a change to it
    /// (its slots, requests, blocks, offerings, rules or busy times) has
    /// committed. Call it before the write returns.
    pub(crate) fn availability_changed(&self, advisor_id: i64) {
        self.changes.person(advisor_id);
        self.availability_cache.invalidate(&advisor_id);
    }

    /// Marks a person's profile (account, advisor profile, karma) as
    /// changed, after the write committed.
    pub(crate) fn person_changed(&self, person_id: i64) {
        self.changes.person(person_id);
        self.availability_cache.invalidate(&person_id);
    }
}

/// A block's rules before its own: its offering's over the advisor's (the
/// default offering's for a block without one; the advisor's for a block
/// whose offering is gone).
fn offered(policy: &AdvisorPolicy, offerings: &[Offering], block: &Block) -> AdvisorPolicy {
    let offering = match block.offering_id {
        Some(id) => offerings.iter().find(|o| o.id == id),
        None => offerings.iter().find(|o| o.is_default),
    };
    match offering {
        Some(o) => with_offering(policy.clone(), o),
        None => policy.clone(),
    }
}

/// The longest horizon (days) of the advisor, their offerings and blocks.
fn span_days<'a>(policy: &AdvisorPolicy, offerings: &[Offering], blocks: impl Iterator<Item = &'a i64>) -> i64 {
    let offered = offerings.iter().filter_map(|o| o.horizon_days);
    blocks.copied().chain(offered).fold(policy.horizon_days, i64::max).max(1)
}
