//! The week calendar as a view: a week of a person's slots (as advisor) and
//! requests (as learner) in their own time zone, each with its state, title
//! and link, and the blocks each day holds. The calendar page renders it.

use std::collections::BTreeMap;

use jiff::ToSpan;
use jiff::civil::Date;

use crate::domain::booking::{RequestStatus, SlotState};
use crate::domain::{offering, time_zone};
use crate::storage::{Block, User};

use super::{App, AppError};

/// One thing on the calendar.
pub struct Entry {
    pub start: i64,
    pub time: String,
    pub title: String,
    /// CSS state: open, requested, approved, declined, cancelled.
    pub state: &'static str,
    pub href: Option<String>,
    /// A confirmed session not yet over: its room.
    pub room: Option<String>,
    /// The title of its offering, when the advisor named it.
    pub offering: Option<String>,
}

pub struct Day {
    pub label: String,
    pub date: String,
    pub today: bool,
    pub entries: Vec<Entry>,
    /// Blocks with slots on this day: (block id, "14:00–15:00", weekly?).
    pub blocks: Vec<(i64, String, bool)>,
}

/// One week of the calendar, Monday first.
pub struct WeekView {
    /// The reader's zone, in which the days and times are given.
    pub zone: String,
    pub monday: Date,
    pub days: Vec<Day>,
    /// Whether nothing at all happens this week.
    pub empty: bool,
}

impl App {
    /// The week holding `week` (a date; default: today in the person's zone).
    pub async fn week_view(&self, user: &User, week: Option<&str>) -> Result<WeekView, AppError> {
        let zone = user.timezone.clone();
        let now = self.clock.now_ms();
        let today = time_zone::local_date(now, &zone).unwrap_or_default();
        let anchor = week.and_then(|w| w.parse::<Date>().ok()).unwrap_or(today);
        let monday = anchor.checked_sub((anchor.weekday().to_monday_zero_offset() as i64).days()).unwrap_or(anchor);
        let dates: Vec<Date> = (0..7).filter_map(|i| monday.checked_add(i.days()).ok()).collect();
        let from = time_zone::start_of_day(monday, &zone);
        let to = time_zone::start_of_day(monday.checked_add(7.days()).unwrap_or(monday), &zone);

        let sessions = self.sessions_between(user, from, to).await?;
        let mut entries: BTreeMap<Date, Vec<Entry>> = BTreeMap::new();
        let mut blocks: BTreeMap<Date, Vec<(i64, String, bool)>> = BTreeMap::new();
        let mut push = |ms: i64, entry: Entry| {
            if let Some(date) = time_zone::local_date(ms, &zone) {
                entries.entry(date).or_default().push(entry);
            }
        };
        if user.is_advisor {
            let slots = self.own_slots(user, from, to).await?;
            let offerings = self.offerings(user).await?;
            let mut block_cache: BTreeMap<i64, Option<Block>> = BTreeMap::new();
            for slot in &slots {
                let live: Vec<_> = sessions
                    .iter()
                    .filter(|s| s.slot_id == slot.id && s.advisor_username == user.username)
                    .filter(|s| s.status.is_live())
                    .collect();
                let (state, title, href) = match slot.status {
                    SlotState::Booked => {
                        let s = live.iter().find(|s| s.status == RequestStatus::Approved);
                        let who = s.map(|s| format!("@{}", s.learner_username)).unwrap_or_default();
                        ("approved", format!("Booked: {who}"), s.map(|s| format!("/requests/{}", s.request_id)))
                    }
                    SlotState::Requested => {
                        let first = live.first();
                        let who = first.map(|s| format!("@{}", s.learner_username)).unwrap_or_default();
                        let more = if live.len() > 1 { format!(" (+{})", live.len() - 1) } else { String::new() };
                        (
                            "requested",
                            format!("Requested by {who}{more}"),
                            first.map(|s| format!("/requests/{}", s.request_id)),
                        )
                    }
                    SlotState::Cancelled => ("cancelled", "Removed".to_string(), None),
                    SlotState::Open if slot.busy => ("busy", "Busy in your calendar".to_string(), None),
                    SlotState::Open => ("open", "Open".to_string(), None),
                };
                let time = time_zone::format_span(slot.starts_at, slot.ends_at, &zone);
                let room = (slot.status == SlotState::Booked).then(|| room_of(&href, slot.ends_at, now)).flatten();
                let offering = match slot.offering_id {
                    Some(id) => offerings.iter().find(|o| o.id == id),
                    None => offerings.first(),
                };
                let offering =
                    offering.filter(|o| offering::is_named(&o.title, &o.description)).map(|o| o.title.clone());
                push(slot.starts_at, Entry { start: slot.starts_at, time, title, state, href, room, offering });
                if slot.status != SlotState::Cancelled
                    && let Some(date) = time_zone::local_date(slot.starts_at, &zone)
                {
                    let block = match block_cache.get(&slot.block_id) {
                        Some(b) => b.clone(),
                        None => {
                            let b = self.block_of(user, slot.block_id).await.ok();
                            block_cache.insert(slot.block_id, b.clone());
                            b
                        }
                    };
                    if let Some(block) = block {
                        let day_blocks = blocks.entry(date).or_default();
                        if !day_blocks.iter().any(|(id, _, _)| *id == block.id) {
                            let label = format!("{}–{} {}", block.start_time, block.end_time, block.timezone);
                            day_blocks.push((block.id, label, block.until_date.is_some()));
                        }
                    }
                }
            }
        }
        for s in sessions.iter().filter(|s| s.learner_username == user.username) {
            let state = s.status.as_str();
            let name = if s.advisor_name.is_empty() { &s.advisor_username } else { &s.advisor_name };
            let time = time_zone::format_span(s.starts_at, s.ends_at, &zone);
            let title = format!("With {name} ({})", s.status);
            let href = Some(format!("/requests/{}", s.request_id));
            let room = (s.status == RequestStatus::Approved).then(|| room_of(&href, s.ends_at, now)).flatten();
            let offering = s
                .offering_title
                .clone()
                .filter(|t| offering::is_named(t, s.offering_description.as_deref().unwrap_or_default()));
            push(s.starts_at, Entry { start: s.starts_at, time, title, state, href, room, offering });
        }
        let mut empty = true;
        let days = dates
            .iter()
            .map(|date| {
                let mut day_entries = entries.remove(date).unwrap_or_default();
                day_entries.sort_by_key(|e| e.start);
                empty &= day_entries.is_empty();
                Day {
                    label: date.strftime("%a %-d %b").to_string(),
                    date: date.to_string(),
                    today: *date == today,
                    entries: day_entries,
                    blocks: blocks.remove(date).unwrap_or_default(),
                }
            })
            .collect();
        Ok(WeekView { zone, monday, days, empty })
    }
}

/// The room of a confirmed session behind a request link, while the
/// session is not over.
fn room_of(request_link: &Option<String>, ends_at: i64, now: i64) -> Option<String> {
    let link = request_link.as_deref()?;
    (now < ends_at).then(|| link.replacen("/requests/", "/rooms/", 1))
}
