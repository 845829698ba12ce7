//! Busy times from an iCalendar (RFC 5545) feed: a pure function from ICS
//! text to the intervals in `[from, to)` in which the advisor is busy.
//!
//! **Parsing.** A small content-line parser (unfolding, parameters with
//! quoted values, nested components) rather than the `icalendar` crate: we
//! read a dozen properties and interpret every value ourselves with jiff, the
//! project's one time-zone source. `icalendar` would add chrono, iso8601,
//! uuid and nom for a typed model we would convert straight back, and real
//! feeds are sloppy in ways a lenient reader handles better (bare LF line
//! ends, junk after `END:VCALENDAR`, unclosed components).
//!
//! **Recurrence.** Our own expansion of the common RRULE subset: FREQ
//! DAILY/WEEKLY/MONTHLY/YEARLY with INTERVAL, COUNT, UNTIL, BYDAY (with
//! ordinals such as `2TU` or `-1FR`), BYMONTHDAY, BYMONTH, BYSETPOS and WKST,
//! plus RDATE, EXDATE and RECURRENCE-ID overrides. Not the `rrule` crate: it
//! computes with chrono and chrono-tz, a second time-zone database that could
//! disagree with jiff's about a TZID, and it pulls in regex. The subset is
//! what Google Calendar, Outlook and Apple Calendar write for events people
//! create. A rule outside it (HOURLY, BYHOUR, BYWEEKNO, …) keeps only its
//! event's first occurrence and is counted in [`Stats::unsupported_rules`].
//!
//! **Zones.** `TZID` parameters name IANA zones; Outlook's Windows names of
//! common zones, a VTIMEZONE's `X-LIC-LOCATION` and Mozilla-style
//! `/mozilla.org/…/Europe/Berlin` ids are understood too. Times ending in `Z`
//! are UTC. *Floating* times (no zone) and *all-day* events (DATE values) are
//! taken in the zone the caller passes in — the advisor's own zone, or UTC
//! when the advisor has none: an all-day event makes the advisor busy from
//! midnight to midnight of that local day. An unknown TZID also falls back to
//! that zone ([`Stats::unknown_zones`]). Nonexistent local times (in a
//! spring-forward gap) move forward, as RFC 5545 asks.
//!
//! **What counts as busy.** Every VEVENT except those with
//! `STATUS:CANCELLED`, `TRANSP:TRANSPARENT` or Outlook's
//! `X-MICROSOFT-CDO-BUSYSTATUS:FREE`, and the busy periods of VFREEBUSY
//! components (published free/busy feeds).

use std::collections::HashMap;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// The most busy intervals one calendar may yield in a window (after
/// overlapping ones are merged).
pub const MAX_INTERVALS: usize = 10_000;
/// A bound on the work of expanding recurrences, in candidate periods (days,
/// weeks, months or years) over all events of one calendar.
const MAX_PERIODS: usize = 2_000_000;
/// A bound for one event; a rule past it (e.g. daily since the year 1600 with
/// a COUNT) is skipped rather than failing the whole calendar.
const MAX_PERIODS_PER_EVENT: usize = 200_000;

/// One busy time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What the parser met besides busy times, for logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Busy events and free/busy periods read.
    pub events: usize,
    /// Events without a readable DTSTART.
    pub skipped_events: usize,
    /// RRULEs outside the supported subset (only the first occurrence counts).
    pub unsupported_rules: usize,
    /// TZIDs neither jiff nor our fallbacks know (the advisor's zone is used).
    pub unknown_zones: usize,
}

/// The busy times of a calendar within the requested window, sorted, merged
/// and clipped to the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusyTimes {
    pub intervals: Vec<Interval>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    #[error("this is not an iCalendar file (it does not start with BEGIN:VCALENDAR)")]
    NotACalendar,
    #[error("the calendar has more than {MAX_INTERVALS} busy times in the window, or recurrences too costly to expand")]
    TooComplex,
}

/// The busy intervals of `ics` that overlap `[from, to)`, clipped to it.
/// `zone` is used for floating times and all-day events (see the module
/// documentation).
pub fn busy_times(ics: &str, zone: &TimeZone, from: Timestamp, to: Timestamp) -> Result<BusyTimes, IcsError> {
    let calendars = parse_calendars(ics)?;
    let mut reader = Reader {
        zones: Zones::new(&calendars, zone),
        from,
        to,
        budget: MAX_PERIODS,
        stats: Stats::default(),
        out: Vec::new(),
    };
    let components: Vec<&Component> = calendars.iter().flat_map(|c| c.children.iter()).collect();
    // Occurrences that a RECURRENCE-ID override replaces, per UID.
    let mut overridden: HashMap<String, Exclusions> = HashMap::new();
    for event in components.iter().filter(|c| c.name == "VEVENT") {
        if let (Some(uid), Some(prop)) = (event.value("UID"), event.prop("RECURRENCE-ID"))
            && let Some(when) = reader.when(prop)
        {
            overridden.entry(uid.to_string()).or_default().add(&when);
        }
    }
    for component in components {
        match component.name.as_str() {
            "VEVENT" => {
                let replaced = component.value("UID").and_then(|uid| overridden.get(uid));
                reader.event(component, replaced)?;
            }
            "VFREEBUSY" => reader.free_busy(component)?,
            _ => {}
        }
    }
    let intervals = merge(std::mem::take(&mut reader.out));
    if intervals.len() > MAX_INTERVALS {
        return Err(IcsError::TooComplex);
    }
    Ok(BusyTimes { intervals, stats: reader.stats })
}

// ---------------------------------------------------------------------------
// Content lines and components

use super::ics::*;
use super::rrule::*;
use super::zones::*;

enum Expansion {
    /// Occurrence starts (after DTSTART) that may reach into the window.
    Starts(Vec<DateTime>),
    /// Over the per-event work limit.
    TooCostly,
}

// ---------------------------------------------------------------------------
// Events

struct Reader {
    zones: Zones,
    from: Timestamp,
    to: Timestamp,
    /// Periods left to expand for the whole calendar.
    budget: usize,
    stats: Stats,
    out: Vec<Interval>,
}

impl Reader {
    fn when(&mut self, prop: &Property) -> Option<When> {
        let value = prop.value.trim();
        let value = value.split(',').next().unwrap_or(value);
        self.when_value(prop, value)
    }

    fn when_list(&mut self, prop: &Property) -> Vec<When> {
        prop.value.split(',').filter_map(|v| self.when_value(prop, v.trim())).collect()
    }

    fn when_value(&mut self, prop: &Property, value: &str) -> Option<When> {
        let date_only = prop.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
        if date_only || value.len() == 8 {
            let date = parse_date(value.get(..8)?)?;
            return Some(When {
                local: date.to_datetime(Time::midnight()),
                zone: self.zones.fallback.clone(),
                all_day: true,
            });
        }
        let (local, utc) = parse_date_time(value)?;
        let zone = match (utc, prop.param("TZID")) {
            (true, _) => TimeZone::UTC,
            (false, Some(tzid)) => self.zones.get(tzid, &mut self.stats),
            (false, None) => self.zones.fallback.clone(),
        };
        Some(When { local, zone, all_day: false })
    }

    fn emit(&mut self, start: Timestamp, end: Timestamp) -> Result<(), IcsError> {
        if end <= start || end <= self.from || start >= self.to {
            return Ok(());
        }
        self.out.push(Interval { start: start.max(self.from), end: end.min(self.to) });
        if self.out.len() > 4 * MAX_INTERVALS {
            self.out = merge(std::mem::take(&mut self.out));
            if self.out.len() > MAX_INTERVALS {
                return Err(IcsError::TooComplex);
            }
        }
        Ok(())
    }

    fn emit_occurrence(&mut self, start: &Zoned, length: Length, excluded: &[&Exclusions]) -> Result<(), IcsError> {
        if excluded.iter().any(|e| e.contains(start)) {
            return Ok(());
        }
        match length.end(start) {
            Some(end) => self.emit(start.timestamp(), end),
            None => Ok(()),
        }
    }

    fn event(&mut self, event: &Component, replaced: Option<&Exclusions>) -> Result<(), IcsError> {
        if event.value_is("STATUS", "CANCELLED")
            || event.value_is("TRANSP", "TRANSPARENT")
            || event.value_is("X-MICROSOFT-CDO-BUSYSTATUS", "FREE")
        {
            return Ok(());
        }
        let Some(start) = event.prop("DTSTART").and_then(|p| self.when(p)) else {
            self.stats.skipped_events += 1;
            return Ok(());
        };
        let Some(first) = start.zoned() else {
            self.stats.skipped_events += 1;
            return Ok(());
        };
        self.stats.events += 1;
        let end = event.prop("DTEND").and_then(|p| self.when(p));
        let length = match (end, event.value("DURATION").and_then(parse_duration)) {
            (Some(end), _) if start.all_day && end.all_day => {
                Length::Nominal { days: days_between(start.local.date(), end.local.date()), time: SignedDuration::ZERO }
            }
            (Some(end), _) => match end.instant() {
                Some(end) => Length::Exact(first.timestamp().duration_until(end)),
                None => return Ok(()),
            },
            (None, Some((days, time))) => Length::Nominal { days, time },
            (None, None) if start.all_day => Length::Nominal { days: 1, time: SignedDuration::ZERO },
            // A timed event without an end is an instant: it blocks nothing.
            (None, None) => return Ok(()),
        };
        // An override of one occurrence stands alone.
        if event.prop("RECURRENCE-ID").is_some() {
            return self.emit_occurrence(&first, length, &[]);
        }
        let mut exdates = Exclusions::default();
        for prop in event.all("EXDATE") {
            for when in self.when_list(prop) {
                exdates.add(&when);
            }
        }
        let mut excluded = vec![&exdates];
        excluded.extend(replaced);
        // DTSTART is always the first occurrence (RFC 5545 3.8.5.3).
        self.emit_occurrence(&first, length, &excluded)?;
        for prop in event.all("RDATE") {
            for when in self.when_list(prop) {
                if let Some(zoned) = when.zoned() {
                    self.emit_occurrence(&zoned, length, &excluded)?;
                }
            }
        }
        let Some(text) = event.value("RRULE") else { return Ok(()) };
        let Some(rule) = parse_rule(text) else {
            self.stats.unsupported_rules += 1;
            return Ok(());
        };
        match self.expand(&rule, &start, length)? {
            Expansion::Starts(starts) => {
                for local in starts {
                    if let Ok(zoned) = local.to_zoned(start.zone.clone()) {
                        self.emit_occurrence(&zoned, length, &excluded)?;
                    }
                }
            }
            Expansion::TooCostly => self.stats.unsupported_rules += 1,
        }
        Ok(())
    }

    /// The occurrence starts after DTSTART (local, in DTSTART's zone) that
    /// may overlap the window.
    fn expand(&mut self, rule: &Rule, start: &When, length: Length) -> Result<Expansion, IcsError> {
        let zone = &start.zone;
        let lead = self.from.checked_sub(length.upper_bound()).unwrap_or(Timestamp::MIN);
        let lead_date = add_days(lead.to_zoned(zone.clone()).date(), -1).unwrap_or(Date::MIN);
        let last_date = add_days(self.to.to_zoned(zone.clone()).date(), 1).unwrap_or(Date::MAX);
        let (start_date, time) = (start.local.date(), start.local.time());
        let mut produced: u64 = 1;
        let mut starts = Vec::new();
        let mut index = rule.first_useful_period(start_date, lead_date);
        for spent in 0.. {
            if spent >= MAX_PERIODS_PER_EVENT {
                return Ok(Expansion::TooCostly);
            }
            self.budget = self.budget.checked_sub(1).ok_or(IcsError::TooComplex)?;
            let Some((first, dates)) = rule.period(start_date, index) else { break };
            if first > last_date {
                break;
            }
            for date in dates {
                let local = date.to_datetime(time);
                if local <= start.local {
                    continue;
                }
                if rule.ended_by(local, zone) {
                    return Ok(Expansion::Starts(starts));
                }
                produced += 1;
                if rule.count.is_some_and(|count| produced > count) {
                    return Ok(Expansion::Starts(starts));
                }
                if date >= lead_date && date <= last_date {
                    starts.push(local);
                }
            }
            index += 1;
        }
        Ok(Expansion::Starts(starts))
    }

    /// VFREEBUSY: `FREEBUSY;FBTYPE=BUSY:19980415T133000Z/19980415T170000Z,…`
    /// (start/end or start/duration; FBTYPE=FREE is skipped).
    fn free_busy(&mut self, component: &Component) -> Result<(), IcsError> {
        for prop in component.all("FREEBUSY") {
            if prop.param("FBTYPE").is_some_and(|t| t.eq_ignore_ascii_case("FREE")) {
                continue;
            }
            for period in prop.value.split(',') {
                let Some((start, end)) = period.trim().split_once('/') else { continue };
                let Some(start) = self.when_value(prop, start).and_then(|w| w.zoned()) else { continue };
                let end = match parse_duration(end) {
                    Some((days, time)) => Length::Nominal { days, time }.end(&start),
                    None => self.when_value(prop, end).and_then(|w| w.instant()),
                };
                if let Some(end) = end {
                    self.stats.events += 1;
                    self.emit(start.timestamp(), end)?;
                }
            }
        }
        Ok(())
    }
}

/// Sorts and merges overlapping or touching intervals.
fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for interval in intervals {
        if let Some(last) = merged.last_mut()
            && interval.start <= last.end
        {
            last.end = last.end.max(interval.end);
            continue;
        }
        merged.push(interval);
    }
    merged
}

#[cfg(test)]
mod tests;
