//! What people see before they book or decide (issue 17): the time picker
//! of an advisor's free times, the next free time of directory cards, the
//! Upcoming agenda, a learner's standing with an advisor (a request
//! already made, requests left that week, whether a note is required), and
//! who is asking, for the advisor's decision page. Views for the pages,
//! worked out here from the domain rules in `domain::agenda`.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use crate::domain::agenda::{self, AgendaActions, FreeCheck};
use crate::domain::booking::{RequestStatus, Role, SlotState};
use crate::domain::room::RoomClock;
use crate::domain::{FieldErrors, questions, time_zone};
use crate::storage::{AdvisorPolicy, Block, Offering, Request, SessionEntry, Slot, StorageError, User};

use super::booking::BookingSettings;
use super::offerings::{OfferingLabel, with_offering};
use super::{App, AppError};

/// The most times one picker lists (a month view of 10-minute sessions).
pub const PICKER_SLOTS: usize = 600;
/// How far back the agenda looks for sessions still under way.
const UNDER_WAY_MS: i64 = 24 * 3_600_000;
/// The most items in each part of the agenda.
const AGENDA_MAX: usize = 50;

/// "Tue 8 Dec, 14:00 CET" in a zone, and the instant for `<time datetime>`.
pub fn next_free_label(at: i64, zone: &str) -> (String, String) {
    (format!("{}, {}", time_zone::format_day(at, zone), time_zone::format_clock(at, zone)), time_zone::iso(at))
}

/// An advisor's free times, grouped by day in the reader's zone.
pub struct Picker {
    /// The reader's zone and the advisor's.
    pub zone: String,
    pub advisor_zone: String,
    pub days: Vec<PickerDay>,
    /// How many of the times the reader has already asked for.
    pub mine: usize,
    /// The first free time the reader has not asked for, in their zone:
    /// "Tue 8 Dec, 14:00 CET", and the instant for `<time datetime>`.
    pub next_free: Option<(String, String)>,
    /// Put before the ids of its days, so several pickers fit on a page.
    pub prefix: String,
}

/// What the pickers of one page share ([`App::picker_rules`]).
pub struct PickerRules {
    /// The advisor's offerings, the default one first.
    pub offerings: Vec<Offering>,
    /// Each block's minimum notice in minutes, by block id.
    notices: BTreeMap<i64, i64>,
    /// The advisor's own, for a slot whose block is gone.
    default_notice: i64,
}

impl PickerRules {
    pub(super) fn new(offerings: Vec<Offering>, notices: BTreeMap<i64, i64>, default_notice: i64) -> PickerRules {
        PickerRules { offerings, notices, default_notice }
    }

    /// A block's minimum notice in minutes.
    pub fn notice(&self, block_id: i64) -> i64 {
        self.notices.get(&block_id).copied().unwrap_or(self.default_notice)
    }
}

/// One offering's free times, for a profile that groups them.
pub struct OfferingPicker {
    pub offering: OfferingLabel,
    pub picker: Picker,
    /// "30-minute session".
    pub session_label: String,
}

pub struct PickerDay {
    /// The local date, `2026-12-08` (the month view's key).
    pub date: String,
    /// "Tue 8 Dec".
    pub label: String,
    /// "Tuesday 8 December 2026".
    pub long_label: String,
    /// The day's first free time, for `<time datetime>`.
    pub at: String,
    pub times: Vec<PickerTime>,
}

pub struct PickerTime {
    /// The request form, or the reader's own request for this time.
    pub href: String,
    /// "14:00 EST" in the reader's zone.
    pub time: String,
    /// "15:00 CET" in the advisor's zone.
    pub theirs: String,
    /// The reader has a pending request for it.
    pub mine: bool,
    /// The instant, for `<time datetime>` (the page's script shows it in
    /// the browser's zone on the first paint).
    pub at: String,
}

/// One request in the agenda, as its reader sees it.
pub struct AgendaItem {
    pub request_id: i64,
    /// The reader advises (otherwise they asked).
    pub as_advisor: bool,
    pub status: RequestStatus,
    /// The other person's name and username.
    pub other_name: String,
    pub other_username: String,
    /// "Tue 8 Dec, 14:00–14:10 CET" in the reader's zone.
    pub when: String,
    pub note: String,
    pub actions: AgendaActions,
    /// When the room opens, in the reader's zone ("13:55 CET").
    pub opens: String,
    /// The title of its offering, when its advisor named it.
    pub offering: Option<String>,
}

/// The Upcoming view: what needs the reader, their next sessions and what
/// they wait for, soonest first.
#[derive(Default)]
pub struct Upcoming {
    pub needs_you: Vec<AgendaItem>,
    pub sessions: Vec<AgendaItem>,
    pub waiting: Vec<AgendaItem>,
}

impl Upcoming {
    pub fn is_empty(&self) -> bool {
        self.needs_you.is_empty() && self.sessions.is_empty() && self.waiting.is_empty()
    }
}

/// Where a learner stands with a slot's advisor before asking.
pub struct Standing {
    /// Their live request for this very slot.
    pub existing: Option<i64>,
    /// The advisor's weekly limit (0 = none) and what is left that week.
    pub weekly_limit: u32,
    pub left: Option<u32>,
    /// The Monday of the slot's week, in the advisor's block zone: "Mon 7 Dec".
    pub week_label: String,
    /// The advisor accepts requests without a note.
    pub note_optional: bool,
}

/// Who is asking, for the advisor's decision.
pub struct Requester {
    pub name: String,
    pub username: String,
    pub karma: i64,
    /// Sessions with this advisor that took place before.
    pub earlier_sessions: i64,
    /// Their clock now and their zone: "09:12 (America/New_York)".
    pub local_time: String,
}

impl App {
    /// The next free time of each advisor (by id), from the availability
    /// cache; advisors it does not hold (horizons too long) in one query.
    pub async fn next_free_times(&self, advisors: &[&User]) -> Result<HashMap<i64, i64>, AppError> {
        let now = self.clock.now();
        let mut found = HashMap::new();
        let mut uncached = Vec::new();
        for advisor in advisors.iter().copied() {
            match self.availability(advisor).await? {
                Some(shown) => {
                    if let Some(at) = shown.next_free(now) {
                        found.insert(advisor.id, at);
                    }
                }
                None => uncached.push(advisor.id),
            }
        }
        found.extend(self.store.next_free_times(&uncached, now.as_millisecond()).await?);
        Ok(found)
    }

    /// The picker of `slots` (already the ones this reader may see) of
    /// `advisor`, in `zone`: only free times (`domain::agenda::is_free`),
    /// the reader's own pending requests marked and linked. `link` is the
    /// private link's secret the request form needs for unlisted times.
    pub async fn picker(
        &self,
        advisor: &User,
        slots: &[Slot],
        viewer: Option<&User>,
        zone: &str,
        link: Option<&str>,
    ) -> Result<Picker, AppError> {
        let policy = self.store.advisor_policy(advisor.id).await?;
        let rules = self.picker_rules(advisor, policy, slots).await?;
        self.picker_with(&rules, advisor, slots, viewer, zone, link).await
    }

    /// What the pickers of one page share, read once: the advisor's
    /// offerings and each block's minimum notice (the block's own, else
    /// its offering's, else the advisor's).
    pub async fn picker_rules(
        &self,
        advisor: &User,
        policy: AdvisorPolicy,
        slots: &[Slot],
    ) -> Result<PickerRules, AppError> {
        let offerings = self.offerings(advisor).await?;
        let mut notices: BTreeMap<i64, i64> = BTreeMap::new();
        for slot in slots {
            if notices.contains_key(&slot.block_id) {
                continue;
            }
            // A removed block has no rules of its own (its slots take the
            // advisor's); a database that does not answer is an error.
            let block: Option<Block> = match self.store.block(slot.block_id).await {
                Ok(block) => Some(block),
                Err(StorageError::NotFound) => None,
                Err(other) => return Err(other.into()),
            };
            let offered = match &block {
                Some(b) if b.advisor_id == advisor.id => {
                    let offering = match b.offering_id {
                        Some(id) => offerings.iter().find(|o| o.id == id).cloned(),
                        None => offerings.iter().find(|o| o.is_default).cloned(),
                    };
                    let offering = match (offering, b.offering_id) {
                        (Some(found), _) => Some(found),
                        // Removed since (the list holds the live ones only).
                        (None, Some(_)) => self.offering_for_block(b).await?,
                        (None, None) => None,
                    };
                    match offering {
                        Some(o) => with_offering(policy.clone(), &o).min_notice_minutes,
                        None => policy.min_notice_minutes,
                    }
                }
                Some(b) => self.policy_for_block(b).await?.min_notice_minutes,
                None => policy.min_notice_minutes,
            };
            let notice = block.and_then(|b| b.min_notice_minutes).unwrap_or(offered);
            notices.insert(slot.block_id, notice);
        }
        Ok(PickerRules { offerings, notices, default_notice: policy.min_notice_minutes })
    }

    /// [`App::picker`] with the rules already read.
    pub async fn picker_with<'a>(
        &self,
        rules: &PickerRules,
        advisor: &User,
        slots: impl IntoIterator<Item = &'a Slot>,
        viewer: Option<&User>,
        zone: &str,
        link: Option<&str>,
    ) -> Result<Picker, AppError> {
        let now = self.clock.now();
        let mut free = Vec::new();
        for slot in slots {
            let notice = rules.notice(slot.block_id);
            let check = FreeCheck {
                start: Timestamp::from_millisecond(slot.starts_at).unwrap_or(Timestamp::MIN),
                state: slot.status,
                busy: slot.busy,
                unlisted: false,
                min_notice: SignedDuration::from_mins(notice),
            };
            if agenda::is_free(&check, now) {
                free.push(slot);
            }
            if free.len() == PICKER_SLOTS {
                break;
            }
        }
        let mine: HashMap<i64, i64> = match (viewer, free.first(), free.last()) {
            (Some(v), Some(first), Some(last)) if v.id != advisor.id => self
                .store
                .live_requests_with(v.id, advisor.id, first.starts_at, last.starts_at + 1)
                .await?
                .into_iter()
                .collect(),
            _ => HashMap::new(),
        };
        let next_free = free.iter().find(|s| !mine.contains_key(&s.id)).map(|s| next_free_label(s.starts_at, zone));
        let query = link.map(|l| format!("?link={l}")).unwrap_or_default();
        let mut days: Vec<PickerDay> = Vec::new();
        for slot in free {
            let date = time_zone::local_date(slot.starts_at, zone).map(|d| d.to_string()).unwrap_or_default();
            let own = mine.get(&slot.id).copied();
            let time = PickerTime {
                href: match own {
                    Some(request) => format!("/requests/{request}"),
                    None => format!("/slots/{}/request{query}", slot.id),
                },
                time: time_zone::format_clock(slot.starts_at, zone),
                theirs: time_zone::format_clock(slot.starts_at, &advisor.timezone),
                mine: own.is_some(),
                at: time_zone::iso(slot.starts_at),
            };
            match days.last_mut() {
                Some(day) if day.date == date => day.times.push(time),
                _ => days.push(PickerDay {
                    date,
                    label: time_zone::format_day(slot.starts_at, zone),
                    long_label: time_zone::format_long_day(slot.starts_at, zone),
                    at: time_zone::iso(slot.starts_at),
                    times: vec![time],
                }),
            }
        }
        Ok(Picker {
            zone: zone.to_string(),
            advisor_zone: advisor.timezone.clone(),
            days,
            mine: mine.len(),
            next_free,
            prefix: String::new(),
        })
    }

    /// The free times of `slots` by offering, in the order of the
    /// advisor's offerings (the default one first), leaving out offerings
    /// with no free time. A slot without an offering is in the default one.
    pub async fn offering_pickers(
        &self,
        rules: &PickerRules,
        advisor: &User,
        slots: &[Slot],
        viewer: Option<&User>,
        zone: &str,
    ) -> Result<Vec<OfferingPicker>, AppError> {
        let mut groups: Vec<OfferingPicker> = Vec::new();
        for (i, offering) in rules.offerings.iter().enumerate() {
            let own: Vec<&Slot> = slots
                .iter()
                .filter(|s| s.offering_id == Some(offering.id) || (i == 0 && s.offering_id.is_none()))
                .collect();
            let mut picker = self.picker_with(rules, advisor, own, viewer, zone, None).await?;
            if picker.days.is_empty() {
                continue;
            }
            picker.prefix = format!("o{}-", offering.id);
            let offering = self.offering_label(offering);
            let session_label = format!("{}-minute session", offering.minutes);
            groups.push(OfferingPicker { offering, picker, session_label });
        }
        Ok(groups)
    }

    /// The reader's agenda: requests on both sides that are live and not
    /// over, soonest first, with what they may do with each.
    pub async fn upcoming(&self, user: &User) -> Result<Upcoming, AppError> {
        let now = self.clock.now_ms();
        let zone = &user.timezone;
        let entries = self.store.sessions_between(user.id, now - UNDER_WAY_MS, i64::MAX).await?;
        let mut view = Upcoming::default();
        for e in entries.into_iter().filter(|e| agenda::is_upcoming(e.status, e.ends_at, now)) {
            let as_advisor = e.advisor_username == user.username;
            let role = if as_advisor { Role::Advisor } else { Role::Learner };
            let (other_name, other_username) = if as_advisor {
                (shown(&e.learner_name, &e.learner_username), e.learner_username.clone())
            } else {
                (shown(&e.advisor_name, &e.advisor_username), e.advisor_username.clone())
            };
            let item = AgendaItem {
                request_id: e.request_id,
                as_advisor,
                status: e.status,
                other_name,
                other_username,
                when: time_zone::format_range(e.starts_at, e.ends_at, zone),
                note: e.note.clone(),
                actions: agenda::actions(e.status, role, e.starts_at, e.ends_at, now),
                opens: time_zone::format_clock(RoomClock::new(e.starts_at, e.ends_at).opens_at(), zone),
                offering: e.named_offering().map(|(title, _)| title.to_string()),
            };
            let list = match (e.status, as_advisor) {
                (RequestStatus::Approved, _) => &mut view.sessions,
                (_, true) => &mut view.needs_you,
                (_, false) => &mut view.waiting,
            };
            if list.len() < AGENDA_MAX {
                list.push(item);
            }
        }
        Ok(view)
    }

    /// The first day from now (in the person's zone) with something on
    /// their calendar — a live request either side, or one of their own
    /// slots not removed — for a calendar whose current week is empty.
    pub async fn first_busy_day(&self, user: &User) -> Result<Option<Date>, AppError> {
        let now = self.clock.now_ms();
        let first_session = self
            .store
            .sessions_between(user.id, now, i64::MAX)
            .await?
            .into_iter()
            .find(|e| e.status.is_live())
            .map(|e| e.starts_at);
        let first_slot = if user.is_advisor {
            let year = now + 366 * 24 * 3_600_000;
            self.store
                .advisor_slots(user.id, now, year)
                .await?
                .into_iter()
                .find(|s| s.status != SlotState::Cancelled)
                .map(|s| s.starts_at)
        } else {
            None
        };
        let first = [first_session, first_slot].into_iter().flatten().min();
        Ok(first.and_then(|ms| time_zone::local_date(ms, &user.timezone)))
    }

    /// Where `learner` stands with the advisor of `slot` before asking.
    pub async fn standing(&self, learner: &User, slot: &Slot) -> Result<Standing, AppError> {
        let block = self.store.block(slot.block_id).await.map_err(AppError::missing("slot"))?;
        let policy = self.policy_for_block(&block).await?;
        let rules = super::booking::effective_policy(&policy, &block);
        let (from, to) = super::booking::week_of(slot.starts_at, &block.timezone);
        let live = self.store.live_requests_with(learner.id, slot.advisor_id, from, to).await?;
        let existing = live.iter().find(|(slot_id, _)| *slot_id == slot.id).map(|(_, id)| *id);
        let counted = u32::try_from(live.len()).unwrap_or(u32::MAX);
        Ok(Standing {
            existing,
            weekly_limit: rules.max_per_learner_week,
            left: agenda::requests_left(rules.max_per_learner_week, counted),
            week_label: time_zone::format_day(from, &block.timezone),
            note_optional: policy.note_optional,
        })
    }

    /// A request from the web form: the advisor's note rule first (a note
    /// is required unless they made it optional), then [`App::request_slot`].
    pub async fn request_with_note(
        &self,
        learner: &User,
        slot_id: i64,
        note: &str,
        answers: &serde_json::Value,
        link: Option<&str>,
    ) -> Result<Request, AppError> {
        let (slot, _) = self.requestable_slot(slot_id, link).await?;
        if slot.ap_id.is_none() {
            let block = self.store.block(slot.block_id).await.map_err(AppError::missing("slot"))?;
            let policy = self.policy_for_block(&block).await?;
            agenda::check_note(note, policy.note_optional)?;
        }
        self.request_slot(learner, slot_id, note, answers, link).await
    }

    /// Who asks, for the advisor's decision page (the caller checked that
    /// `advisor` is the request's advisor).
    pub async fn requester(&self, request: &Request, entry: &SessionEntry) -> Result<Requester, AppError> {
        let learner = self.store.user_by_id(request.learner_id).await?;
        let now = self.clock.now_ms();
        Ok(Requester {
            name: shown(&entry.learner_name, &entry.learner_username),
            username: entry.learner_username.clone(),
            karma: self.store.karma_score(learner.id).await?,
            earlier_sessions: self.store.earlier_sessions(learner.id, request.advisor_id, now).await?,
            local_time: format!("{} ({})", time_zone::format_clock(now, &learner.timezone), learner.timezone),
        })
    }

    /// Saves the booking rules page in one go: the rules and the questions
    /// are checked first, so a mistake in either saves nothing.
    pub async fn save_booking_rules(
        &self,
        advisor: &User,
        settings: &BookingSettings,
        inputs: &[questions::QuestionInput],
    ) -> Result<(), AppError> {
        let mut errors = FieldErrors::new();
        let parsed = errors.check(questions::questions(inputs));
        if let Err(AppError::Invalid(found)) = super::booking::check_settings(settings) {
            errors.0.extend(found.0);
        }
        let Some(parsed) = parsed.filter(|_| errors.is_empty()) else { return Err(AppError::Invalid(errors)) };
        self.save_booking_settings(advisor, settings).await?;
        self.store.save_booking_questions(advisor.id, None, &parsed).await?;
        Ok(())
    }
}

fn shown(name: &str, username: &str) -> String {
    crate::domain::account::shown_name(name, username).to_string()
}
