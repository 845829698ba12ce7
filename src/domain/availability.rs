//! Availability: a block of time (once, or weekly until a date) in the
//! advisor's time zone, expanded into occurrences and split into sessions.
//!
//! Local rules are kept with their IANA zone and expanded day by day with
//! civil dates, so a weekly 09:00 block stays 09:00 local across daylight-
//! saving changes (a week is never 168 hours). A local time that does not
//! exist (the spring-forward gap) is moved later by the length of the gap, as
//! RFC 5545 does for DTSTART; a local time that exists twice (the autumn
//! fold) means the first of the two. An occurrence left empty by that (a
//! block from 02:30 to 03:15 on a night that skips 02:00–03:00) is skipped.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

/// The longest a weekly series may run, so a block stays a bounded number of rows.
pub const MAX_SERIES_DAYS: i64 = 366;

/// How far past the booking horizon a block may start: availability can be
/// published a little before learners may book it, not years ahead.
pub const HORIZON_MARGIN_DAYS: i64 = 30;

/// Weekdays as a bit set, Monday = bit 0 … Sunday = bit 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weekdays(pub u8);

impl Weekdays {
    pub fn of(days: &[Weekday]) -> Weekdays {
        Weekdays(days.iter().fold(0, |bits, d| bits | (1 << (d.to_monday_zero_offset()))))
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.to_monday_zero_offset()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 & 0x7f == 0
    }

    pub fn days(self) -> Vec<Weekday> {
        (0..7).map(|i| Weekday::from_monday_zero_offset(i).expect("0..7")).filter(|d| self.contains(*d)).collect()
    }
}

/// When an advisor is available, as they said it in their own zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRule {
    pub timezone: String,
    /// The day of a single block, or the first day of a weekly series.
    pub start_date: Date,
    pub start: Time,
    pub end: Time,
    /// Weekly repetition on these weekdays, up to and including `until`.
    pub weekly: Option<(Weekdays, Date)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// The local date the occurrence belongs to.
    pub date: Date,
    pub start: Timestamp,
    pub end: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotTimes {
    pub start: Timestamp,
    pub end: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    UnknownZone,
    EndsBeforeStart,
    UntilBeforeStart,
    SeriesTooLong,
    NoSession,
    /// The block starts before today in its zone.
    InPast,
    /// The block starts after `latest`: the booking horizon plus the margin.
    OutOfRange {
        latest: Date,
        horizon_days: i64,
    },
    /// A series with more occurrences than the instance allows.
    TooManyOccurrences {
        count: usize,
        max: usize,
    },
    /// The advisor would have more upcoming slots than the instance allows.
    TooManySlots {
        open: usize,
        adding: usize,
        max: usize,
    },
}

impl RuleError {
    pub fn code(self) -> &'static str {
        match self {
            RuleError::UnknownZone => "unknown_timezone",
            RuleError::EndsBeforeStart => "block_ends_before_start",
            RuleError::UntilBeforeStart => "series_ends_before_start",
            RuleError::SeriesTooLong => "series_too_long",
            RuleError::NoSession => "block_holds_no_session",
            RuleError::InPast => "block_in_past",
            RuleError::OutOfRange { .. } => "out_of_range",
            RuleError::TooManyOccurrences { .. } => "series_too_long",
            RuleError::TooManySlots { .. } => "too_many_slots",
        }
    }
}

impl BlockRule {
    pub fn zone(&self) -> Result<TimeZone, RuleError> {
        TimeZone::get(&self.timezone).map_err(|_| RuleError::UnknownZone)
    }

    /// Every occurrence of the rule, in order.
    pub fn occurrences(&self) -> Result<Vec<Occurrence>, RuleError> {
        let tz = self.zone()?;
        if self.end <= self.start {
            return Err(RuleError::EndsBeforeStart);
        }
        let (days, until) = match self.weekly {
            None => (Weekdays::of(&[self.start_date.weekday()]), self.start_date),
            Some((days, until)) => {
                if until < self.start_date {
                    return Err(RuleError::UntilBeforeStart);
                }
                let span_days = self.start_date.until(until).map(|s| s.get_days() as i64).unwrap_or(i64::MAX);
                if span_days > MAX_SERIES_DAYS {
                    return Err(RuleError::SeriesTooLong);
                }
                let days = if days.is_empty() { Weekdays::of(&[self.start_date.weekday()]) } else { days };
                (days, until)
            }
        };
        let mut out = Vec::new();
        let mut date = self.start_date;
        while date <= until {
            if days.contains(date.weekday()) {
                let start = local_instant(&tz, date, self.start)?;
                let end = local_instant(&tz, date, self.end)?;
                if end > start {
                    out.push(Occurrence { date, start, end });
                }
            }
            date = date.checked_add(1.day()).map_err(|_| RuleError::SeriesTooLong)?;
        }
        Ok(out)
    }
}

/// Checks that a block starts on a day between today (in its zone) and the
/// booking horizon plus [`HORIZON_MARGIN_DAYS`]. Run before expanding a rule,
/// so dates at the end of the calendar (year 9999) never reach arithmetic.
pub fn check_window(rule: &BlockRule, now: Timestamp, horizon_days: i64) -> Result<(), RuleError> {
    let today = now.to_zoned(rule.zone()?).date();
    if rule.start_date < today {
        return Err(RuleError::InPast);
    }
    let ahead = horizon_days.max(0).saturating_add(HORIZON_MARGIN_DAYS);
    let latest = today.checked_add(ahead.days()).unwrap_or(Date::MAX);
    if rule.start_date > latest {
        return Err(RuleError::OutOfRange { latest, horizon_days });
    }
    Ok(())
}

/// A series may hold at most `max` occurrences with sessions.
pub fn check_series_length(count: usize, max: usize) -> Result<(), RuleError> {
    if count > max {
        return Err(RuleError::TooManyOccurrences { count, max });
    }
    Ok(())
}

/// An advisor with `open` upcoming slots may add `adding` more only while
/// the total stays within `max`.
pub fn check_open_slots(open: usize, adding: usize, max: usize) -> Result<(), RuleError> {
    if open.saturating_add(adding) > max {
        return Err(RuleError::TooManySlots { open, adding, max });
    }
    Ok(())
}

/// A wall-clock time on a date in a zone, with gaps moved later and folds
/// taking the earlier instant (jiff's "compatible" disambiguation).
fn local_instant(tz: &TimeZone, date: Date, time: Time) -> Result<Timestamp, RuleError> {
    tz.to_ambiguous_timestamp(date.to_datetime(time)).compatible().map_err(|_| RuleError::UnknownZone)
}

/// Splits an occurrence into back-to-back sessions of `length`, with
/// `buffer` between them; a remainder too short for a session is left free.
pub fn split(occurrence: &Occurrence, length: SignedDuration, buffer: SignedDuration) -> Vec<SlotTimes> {
    let mut slots = Vec::new();
    if length <= SignedDuration::ZERO || buffer < SignedDuration::ZERO {
        return slots;
    }
    let mut start = occurrence.start;
    while let Ok(end) = start.checked_add(length) {
        if end > occurrence.end {
            break;
        }
        slots.push(SlotTimes { start, end });
        match end.checked_add(buffer) {
            Ok(next) => start = next,
            Err(_) => break,
        }
    }
    slots
}

/// Expands a rule into its sessions, refusing a rule that holds none.
pub fn sessions(
    rule: &BlockRule,
    length: SignedDuration,
    buffer: SignedDuration,
) -> Result<Vec<(Occurrence, Vec<SlotTimes>)>, RuleError> {
    let expanded: Vec<(Occurrence, Vec<SlotTimes>)> = rule
        .occurrences()?
        .into_iter()
        .map(|o| (o, split(&o, length, buffer)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if expanded.is_empty() {
        return Err(RuleError::NoSession);
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    fn utc(ts: Timestamp) -> String {
        ts.to_string()
    }

    fn weekly(tz: &str, from: Date, until: Date, start: Time, end: Time, days: &[Weekday]) -> BlockRule {
        BlockRule { timezone: tz.into(), start_date: from, start, end, weekly: Some((Weekdays::of(days), until)) }
    }

    #[test]
    fn a_single_block_splits_into_ten_minute_sessions() {
        let rule = BlockRule {
            timezone: "Europe/Berlin".into(),
            start_date: date(2026, 12, 1),
            start: time(14, 0, 0, 0),
            end: time(15, 0, 0, 0),
            weekly: None,
        };
        let expanded = sessions(&rule, SignedDuration::from_mins(10), SignedDuration::ZERO).unwrap();
        assert_eq!(expanded.len(), 1);
        let slots = &expanded[0].1;
        assert_eq!(slots.len(), 6);
        assert_eq!(utc(slots[0].start), "2026-12-01T13:00:00Z", "CET is UTC+1");
        assert_eq!(utc(slots[5].end), "2026-12-01T14:00:00Z");
    }

    #[test]
    fn buffers_leave_gaps_and_remainders_stay_free() {
        let occ = Occurrence {
            date: date(2026, 1, 1),
            start: "2026-01-01T10:00:00Z".parse().unwrap(),
            end: "2026-01-01T11:00:00Z".parse().unwrap(),
        };
        let slots = split(&occ, SignedDuration::from_mins(10), SignedDuration::from_mins(5));
        let starts: Vec<String> = slots.iter().map(|s| s.start.to_string()).collect();
        assert_eq!(
            starts,
            ["2026-01-01T10:00:00Z", "2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z", "2026-01-01T10:45:00Z"]
        );
        assert_eq!(split(&occ, SignedDuration::from_mins(25), SignedDuration::ZERO).len(), 2);
        assert!(split(&occ, SignedDuration::from_mins(61), SignedDuration::ZERO).is_empty());
    }

    #[test]
    fn weekly_nine_oclock_stays_nine_oclock_across_berlin_dst() {
        // Europe/Berlin switches to summer time on 2027-03-28.
        let rule = weekly(
            "Europe/Berlin",
            date(2027, 3, 15),
            date(2027, 4, 5),
            time(9, 0, 0, 0),
            time(10, 0, 0, 0),
            &[Weekday::Monday],
        );
        let occ = rule.occurrences().unwrap();
        let starts: Vec<String> = occ.iter().map(|o| utc(o.start)).collect();
        assert_eq!(
            starts,
            ["2027-03-15T08:00:00Z", "2027-03-22T08:00:00Z", "2027-03-29T07:00:00Z", "2027-04-05T07:00:00Z"]
        );
    }

    #[test]
    fn weekly_block_across_new_york_fall_back() {
        // America/New_York leaves summer time on 2026-11-01.
        let rule = weekly(
            "America/New_York",
            date(2026, 10, 25),
            date(2026, 11, 8),
            time(9, 0, 0, 0),
            time(9, 30, 0, 0),
            &[Weekday::Sunday],
        );
        let starts: Vec<String> = rule.occurrences().unwrap().iter().map(|o| utc(o.start)).collect();
        assert_eq!(starts, ["2026-10-25T13:00:00Z", "2026-11-01T14:00:00Z", "2026-11-08T14:00:00Z"]);
    }

    #[test]
    fn lord_howe_shifts_by_thirty_minutes() {
        // Australia/Lord_Howe: UTC+11 in summer, UTC+10:30 in winter; the
        // switch back is on 2027-04-04 (02:00 → 01:30).
        let rule = weekly(
            "Australia/Lord_Howe",
            date(2027, 3, 28),
            date(2027, 4, 11),
            time(9, 0, 0, 0),
            time(10, 0, 0, 0),
            &[Weekday::Sunday],
        );
        let starts: Vec<String> = rule.occurrences().unwrap().iter().map(|o| utc(o.start)).collect();
        assert_eq!(starts, ["2027-03-27T22:00:00Z", "2027-04-03T22:30:00Z", "2027-04-10T22:30:00Z"]);
    }

    #[test]
    fn a_time_in_the_gap_moves_later_and_a_repeated_time_takes_the_first() {
        // Berlin springs forward 02:00 → 03:00 on 2027-03-28.
        let gap = BlockRule {
            timezone: "Europe/Berlin".into(),
            start_date: date(2027, 3, 28),
            start: time(2, 30, 0, 0),
            end: time(4, 0, 0, 0),
            weekly: None,
        };
        let occ = gap.occurrences().unwrap();
        assert_eq!(utc(occ[0].start), "2027-03-28T01:30:00Z", "02:30 does not exist: 03:30 CEST");
        assert_eq!(utc(occ[0].end), "2027-03-28T02:00:00Z");
        let inside = BlockRule { start: time(2, 0, 0, 0), end: time(2, 45, 0, 0), ..gap.clone() };
        let occ = inside.occurrences().unwrap();
        assert_eq!(
            (utc(occ[0].start), utc(occ[0].end)),
            ("2027-03-28T01:00:00Z".into(), "2027-03-28T01:45:00Z".into()),
            "moved to 03:00–03:45 CEST"
        );
        let emptied = BlockRule { start: time(2, 30, 0, 0), end: time(3, 15, 0, 0), ..gap.clone() };
        assert_eq!(emptied.occurrences().unwrap(), vec![], "03:30–03:15 is empty, so skipped");
        assert_eq!(sessions(&emptied, SignedDuration::from_mins(10), SignedDuration::ZERO), Err(RuleError::NoSession));

        // Berlin falls back 03:00 → 02:00 on 2026-10-25: 02:30 happens twice.
        let fold =
            BlockRule { start_date: date(2026, 10, 25), start: time(2, 30, 0, 0), end: time(3, 30, 0, 0), ..gap };
        let occ = fold.occurrences().unwrap();
        assert_eq!(utc(occ[0].start), "2026-10-25T00:30:00Z", "the first 02:30 (CEST)");
        assert_eq!(utc(occ[0].end), "2026-10-25T02:30:00Z", "03:30 CET: two real hours");
    }

    #[test]
    fn bad_rules_are_refused() {
        let base = BlockRule {
            timezone: "Europe/Berlin".into(),
            start_date: date(2026, 12, 1),
            start: time(15, 0, 0, 0),
            end: time(14, 0, 0, 0),
            weekly: None,
        };
        assert_eq!(base.occurrences(), Err(RuleError::EndsBeforeStart));
        let zone = BlockRule { timezone: "Mars/Olympus".into(), ..base.clone() };
        assert_eq!(zone.occurrences(), Err(RuleError::UnknownZone));
        let ok = BlockRule { start: time(14, 0, 0, 0), end: time(14, 5, 0, 0), ..base.clone() };
        assert_eq!(sessions(&ok, SignedDuration::from_mins(10), SignedDuration::ZERO), Err(RuleError::NoSession));
        let early = BlockRule {
            start: time(9, 0, 0, 0),
            end: time(10, 0, 0, 0),
            weekly: Some((Weekdays::default(), date(2026, 11, 1))),
            ..base.clone()
        };
        assert_eq!(early.occurrences(), Err(RuleError::UntilBeforeStart));
        let long = BlockRule { weekly: Some((Weekdays::default(), date(2028, 1, 1))), ..early };
        assert_eq!(long.occurrences(), Err(RuleError::SeriesTooLong));
    }

    #[test]
    fn blocks_start_between_today_and_the_horizon_plus_the_margin() {
        let now: Timestamp = "2027-01-06T23:30:00Z".parse().unwrap();
        let on = |tz: &str, d: Date| BlockRule {
            timezone: tz.into(),
            start_date: d,
            start: time(10, 0, 0, 0),
            end: time(11, 0, 0, 0),
            weekly: None,
        };
        assert_eq!(check_window(&on("UTC", date(2027, 1, 6)), now, 60), Ok(()));
        assert_eq!(check_window(&on("UTC", date(2027, 1, 5)), now, 60), Err(RuleError::InPast));
        // Already 7 January in Berlin: the 6th is past there.
        assert_eq!(check_window(&on("Europe/Berlin", date(2027, 1, 6)), now, 60), Err(RuleError::InPast));
        let latest = date(2027, 4, 6); // 60 + 30 days after 6 January
        assert_eq!(check_window(&on("UTC", latest), now, 60), Ok(()));
        let late = check_window(&on("UTC", date(2027, 4, 7)), now, 60);
        assert_eq!(late, Err(RuleError::OutOfRange { latest, horizon_days: 60 }));
        assert_eq!(late.unwrap_err().code(), "out_of_range");
        let far = check_window(&on("UTC", date(9999, 12, 31)), now, 366);
        assert_eq!(far.map_err(|e| e.code()), Err("out_of_range"));
        let ancient = check_window(&on("UTC", date(1, 1, 1)), now, 60);
        assert_eq!(ancient, Err(RuleError::InPast));
    }

    #[test]
    fn series_length_and_open_slots_are_capped() {
        assert_eq!(check_series_length(200, 200), Ok(()));
        assert_eq!(check_series_length(201, 200), Err(RuleError::TooManyOccurrences { count: 201, max: 200 }));
        assert_eq!(check_open_slots(400, 100, 500), Ok(()));
        let over = check_open_slots(400, 101, 500);
        assert_eq!(over, Err(RuleError::TooManySlots { open: 400, adding: 101, max: 500 }));
        assert_eq!(over.unwrap_err().code(), "too_many_slots");
        assert_eq!(check_open_slots(0, usize::MAX, 500).map_err(|e| e.code()), Err("too_many_slots"));
    }

    #[test]
    fn a_series_without_weekdays_repeats_on_its_first_day() {
        let rule = weekly("UTC", date(2026, 12, 2), date(2026, 12, 20), time(9, 0, 0, 0), time(9, 10, 0, 0), &[]);
        let dates: Vec<Date> = rule.occurrences().unwrap().iter().map(|o| o.date).collect();
        assert_eq!(dates, vec![date(2026, 12, 2), date(2026, 12, 9), date(2026, 12, 16)]);
        let days = Weekdays::of(&[Weekday::Tuesday, Weekday::Thursday]);
        assert_eq!(days.days(), vec![Weekday::Tuesday, Weekday::Thursday]);
    }
}
