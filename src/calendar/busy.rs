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

use std::collections::{HashMap, HashSet};

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};

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

#[derive(Debug, Default)]
struct Component {
    /// Upper case, e.g. `VEVENT`.
    name: String,
    props: Vec<Property>,
    children: Vec<Component>,
}

#[derive(Debug)]
struct Property {
    /// Upper case, e.g. `DTSTART`.
    name: String,
    /// Upper-case names; values without their quotes (several values stay
    /// comma-separated).
    params: Vec<(String, String)>,
    value: String,
}

impl Component {
    fn prop(&self, name: &str) -> Option<&Property> {
        self.props.iter().find(|p| p.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.props.iter().filter(move |p| p.name == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.prop(name).map(|p| p.value.trim())
    }

    fn value_is(&self, name: &str, expected: &str) -> bool {
        self.value(name).is_some_and(|v| v.eq_ignore_ascii_case(expected))
    }
}

impl Property {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Unfolds lines (RFC 5545 3.1: a line starting with a space or tab continues
/// the previous one), accepting CRLF and bare LF.
fn content_lines(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = lines.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if !raw.trim().is_empty() {
            lines.push(raw.to_string());
        }
    }
    lines
}

/// `NAME;PARAM=value;PARAM="quoted:value":VALUE`; `None` for a malformed line.
fn parse_line(line: &str) -> Option<Property> {
    let name_end = line.find([';', ':'])?;
    let name = line[..name_end].trim().to_ascii_uppercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let mut params = Vec::new();
    let mut rest = &line[name_end..];
    while let Some(after) = rest.strip_prefix(';') {
        let eq = after.find('=')?;
        let param = after[..eq].trim().to_ascii_uppercase();
        let raw_start = eq + 1;
        let mut in_quotes = false;
        let mut end = None;
        for (i, c) in after[raw_start..].char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ';' | ':' if !in_quotes => {
                    end = Some(raw_start + i);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        params.push((param, after[raw_start..end].replace('"', "")));
        rest = &after[end..];
    }
    let value = rest.strip_prefix(':')?;
    Some(Property { name, params, value: value.to_string() })
}

/// The VCALENDAR components of the text. Lenient: unclosed components are
/// closed at the end, and lines after the last `END:VCALENDAR` are ignored;
/// but anything before the first `BEGIN:VCALENDAR` means "not a calendar".
fn parse_calendars(text: &str) -> Result<Vec<Component>, IcsError> {
    let mut stack: Vec<Component> = Vec::new();
    let mut calendars: Vec<Component> = Vec::new();
    for line in content_lines(text) {
        let started = !calendars.is_empty() || !stack.is_empty();
        let Some(prop) = parse_line(&line) else {
            if started {
                continue;
            }
            return Err(IcsError::NotACalendar);
        };
        match prop.name.as_str() {
            "BEGIN" => {
                let name = prop.value.trim().to_ascii_uppercase();
                if !started && name != "VCALENDAR" {
                    return Err(IcsError::NotACalendar);
                }
                stack.push(Component { name, ..Default::default() });
            }
            "END" => {
                let name = prop.value.trim().to_ascii_uppercase();
                if let Some(at) = stack.iter().rposition(|c| c.name == name) {
                    while stack.len() > at {
                        let done = stack.pop().expect("non-empty");
                        close(&mut stack, &mut calendars, done);
                    }
                }
            }
            _ => match stack.last_mut() {
                Some(top) => top.props.push(prop),
                None if started => {}
                None => return Err(IcsError::NotACalendar),
            },
        }
    }
    while let Some(done) = stack.pop() {
        close(&mut stack, &mut calendars, done);
    }
    if calendars.is_empty() {
        return Err(IcsError::NotACalendar);
    }
    Ok(calendars)
}

fn close(stack: &mut [Component], calendars: &mut Vec<Component>, done: Component) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None if done.name == "VCALENDAR" => calendars.push(done),
        None => {}
    }
}

// ---------------------------------------------------------------------------
// Zones

/// Windows zone names (as Outlook and Exchange write them) of common zones,
/// after CLDR's windowsZones table.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Central Asia Standard Time", "Asia/Almaty"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("Eastern Standard Time", "America/New_York"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
];

struct Zones {
    /// For floating times, all-day events and unknown TZIDs.
    fallback: TimeZone,
    /// TZIDs of the calendar's VTIMEZONEs that name their IANA zone in
    /// `X-LIC-LOCATION` (Google, Thunderbird).
    defined: HashMap<String, TimeZone>,
}

impl Zones {
    fn new(calendars: &[Component], fallback: &TimeZone) -> Zones {
        let mut defined = HashMap::new();
        for vtimezone in calendars.iter().flat_map(|c| &c.children).filter(|c| c.name == "VTIMEZONE") {
            if let (Some(tzid), Some(location)) = (vtimezone.value("TZID"), vtimezone.value("X-LIC-LOCATION"))
                && let Some(zone) = known_zone(location)
            {
                defined.insert(tzid.to_string(), zone);
            }
        }
        Zones { fallback: fallback.clone(), defined }
    }

    fn get(&self, tzid: &str, stats: &mut Stats) -> TimeZone {
        let id = tzid.trim();
        if let Some(zone) = known_zone(id) {
            return zone;
        }
        if let Some(zone) = self.defined.get(id) {
            return zone.clone();
        }
        stats.unknown_zones += 1;
        self.fallback.clone()
    }
}

/// An IANA name, a Windows name, or a path ending in an IANA name.
fn known_zone(id: &str) -> Option<TimeZone> {
    if let Ok(zone) = TimeZone::get(id) {
        return Some(zone);
    }
    if let Some((_, iana)) = WINDOWS_ZONES.iter().find(|(windows, _)| windows.eq_ignore_ascii_case(id)) {
        return TimeZone::get(iana).ok();
    }
    let mut rest = id;
    while let Some(slash) = rest.find('/') {
        rest = &rest[slash + 1..];
        if let Ok(zone) = TimeZone::get(rest) {
            return Some(zone);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Values

/// A DTSTART-like value: a local date-time in a zone (UTC for `Z` times).
#[derive(Debug, Clone)]
struct When {
    local: DateTime,
    zone: TimeZone,
    all_day: bool,
}

impl When {
    fn zoned(&self) -> Option<Zoned> {
        self.local.to_zoned(self.zone.clone()).ok()
    }

    fn instant(&self) -> Option<Timestamp> {
        self.zoned().map(|z| z.timestamp())
    }
}

fn parse_date(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Date::new(text[..4].parse().ok()?, text[4..6].parse().ok()?, text[6..8].parse().ok()?).ok()
}

/// `YYYYMMDDTHHMMSS` with an optional `Z`; the flag says UTC.
fn parse_date_time(text: &str) -> Option<(DateTime, bool)> {
    if !text.is_ascii() || text.len() < 15 || !text[8..9].eq_ignore_ascii_case("T") {
        return None;
    }
    let utc = match &text[15..] {
        "" => false,
        "Z" | "z" => true,
        _ => return None,
    };
    let date = parse_date(&text[..8])?;
    let digits = &text[9..15];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // A leap second (60) is read as the last second of the minute.
    let second: i8 = digits[4..6].parse::<i8>().ok()?.min(59);
    let time = Time::new(digits[..2].parse().ok()?, digits[2..4].parse().ok()?, second, 0).ok()?;
    Some((date.to_datetime(time), utc))
}

/// RFC 5545 DURATION: nominal days (a week is 7) and an exact time part.
fn parse_duration(text: &str) -> Option<(i64, SignedDuration)> {
    let text = text.trim();
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let text = text.strip_prefix(['P', 'p'])?;
    let (mut days, mut seconds, mut number, mut digits, mut in_time, mut units) = (0i64, 0i64, 0i64, 0, false, 0);
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = number.checked_mul(10)?.checked_add(i64::from(d))?;
            digits += 1;
            continue;
        }
        let c = c.to_ascii_uppercase();
        if c == 'T' && !in_time && digits == 0 {
            in_time = true;
            continue;
        }
        if digits == 0 {
            return None;
        }
        match (c, in_time) {
            ('W', false) => days = days.checked_add(number.checked_mul(7)?)?,
            ('D', false) => days = days.checked_add(number)?,
            ('H', true) => seconds = seconds.checked_add(number.checked_mul(3600)?)?,
            ('M', true) => seconds = seconds.checked_add(number.checked_mul(60)?)?,
            ('S', true) => seconds = seconds.checked_add(number)?,
            _ => return None,
        }
        (number, digits, units) = (0, 0, units + 1);
    }
    // No dangling number, at least one unit, and nothing absurd (ten years).
    if digits != 0 || units == 0 || days > 3660 || seconds > 3660 * 86_400 {
        return None;
    }
    let sign = if negative { -1 } else { 1 };
    Some((sign * days, SignedDuration::from_secs(sign * seconds)))
}

/// How long each occurrence lasts.
#[derive(Debug, Clone, Copy)]
enum Length {
    /// From DTEND of a timed event: the same exact duration for each occurrence.
    Exact(SignedDuration),
    /// From DURATION or all-day dates: calendar days (23 or 25 hours across a
    /// DST change) plus exact time.
    Nominal { days: i64, time: SignedDuration },
}

impl Length {
    fn end(self, start: &Zoned) -> Option<Timestamp> {
        match self {
            Length::Exact(d) => start.timestamp().checked_add(d).ok(),
            Length::Nominal { days, time } => {
                start.checked_add(days.days()).ok()?.checked_add(time).ok().map(|z| z.timestamp())
            }
        }
    }

    /// An upper bound, for how far back an occurrence may start and still
    /// reach into the window.
    fn upper_bound(self) -> SignedDuration {
        match self {
            Length::Exact(d) => d,
            Length::Nominal { days, time } => {
                SignedDuration::from_hours(25 * days.max(0)).checked_add(time).unwrap_or(SignedDuration::MAX)
            }
        }
    }
}

/// EXDATEs and overridden occurrences: instants, or local dates for DATE values.
#[derive(Debug, Default)]
struct Exclusions {
    instants: HashSet<Timestamp>,
    dates: HashSet<Date>,
}

impl Exclusions {
    fn add(&mut self, when: &When) {
        if when.all_day {
            self.dates.insert(when.local.date());
        } else if let Some(instant) = when.instant() {
            self.instants.insert(instant);
        }
    }

    fn contains(&self, start: &Zoned) -> bool {
        self.instants.contains(&start.timestamp()) || self.dates.contains(&start.date())
    }
}

// ---------------------------------------------------------------------------
// Recurrence rules

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, Copy)]
enum Until {
    Instant(Timestamp),
    Local(DateTime),
    Date(Date),
}

#[derive(Debug, Clone)]
struct Rule {
    freq: Freq,
    interval: i64,
    count: Option<u64>,
    until: Option<Until>,
    /// (ordinal, weekday); ordinal 0 means every such weekday.
    by_day: Vec<(i32, Weekday)>,
    by_month_day: Vec<i32>,
    by_month: Vec<i8>,
    by_set_pos: Vec<i32>,
    week_start: Weekday,
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Monday,
        "TU" => Weekday::Tuesday,
        "WE" => Weekday::Wednesday,
        "TH" => Weekday::Thursday,
        "FR" => Weekday::Friday,
        "SA" => Weekday::Saturday,
        "SU" => Weekday::Sunday,
        _ => return None,
    })
}

fn int_list<T: std::str::FromStr>(text: &str, valid: impl Fn(&T) -> bool) -> Option<Vec<T>> {
    text.split(',').map(|part| part.trim().parse::<T>().ok().filter(&valid)).collect()
}

/// `None` for a rule outside the supported subset (or malformed).
fn parse_rule(text: &str) -> Option<Rule> {
    let mut rule = Rule {
        freq: Freq::Daily,
        interval: 1,
        count: None,
        until: None,
        by_day: Vec::new(),
        by_month_day: Vec::new(),
        by_month: Vec::new(),
        by_set_pos: Vec::new(),
        week_start: Weekday::Monday,
    };
    let mut freq = None;
    for part in text.trim().split(';').filter(|p| !p.trim().is_empty()) {
        let (key, value) = part.split_once('=')?;
        let value = value.trim();
        match key.trim().to_ascii_uppercase().as_str() {
            "FREQ" => {
                freq = Some(match value.to_ascii_uppercase().as_str() {
                    "DAILY" => Freq::Daily,
                    "WEEKLY" => Freq::Weekly,
                    "MONTHLY" => Freq::Monthly,
                    "YEARLY" => Freq::Yearly,
                    _ => return None,
                })
            }
            "INTERVAL" => rule.interval = value.parse().ok().filter(|n| (1..=10_000).contains(n))?,
            "COUNT" => rule.count = Some(value.parse().ok().filter(|n| *n >= 1)?),
            "UNTIL" => {
                rule.until = Some(if let Some(date) = parse_date(value) {
                    Until::Date(date)
                } else {
                    match parse_date_time(value)? {
                        (local, true) => Until::Instant(local.to_zoned(TimeZone::UTC).ok()?.timestamp()),
                        (local, false) => Until::Local(local),
                    }
                })
            }
            "BYDAY" => {
                for item in value.split(',') {
                    let item = item.trim();
                    let split = item.len().checked_sub(2)?;
                    let (number, code) = (item.get(..split)?, item.get(split..)?);
                    // `MO` is every Monday, `2MO` the second, `-1MO` the last; `0MO` is invalid.
                    let ordinal = match number {
                        "" => 0,
                        n => n.parse::<i32>().ok().filter(|n| *n != 0 && n.abs() <= 53)?,
                    };
                    rule.by_day.push((ordinal, weekday(code)?));
                }
            }
            "BYMONTHDAY" => rule.by_month_day = int_list(value, |n: &i32| *n != 0 && n.abs() <= 31)?,
            "BYMONTH" => rule.by_month = int_list(value, |n: &i8| (1..=12).contains(n))?,
            "BYSETPOS" => rule.by_set_pos = int_list(value, |n: &i32| *n != 0 && n.abs() <= 366)?,
            "WKST" => rule.week_start = weekday(value)?,
            _ => return None,
        }
    }
    rule.freq = freq?;
    // Ordinals belong to monthly and yearly rules only.
    if matches!(rule.freq, Freq::Daily | Freq::Weekly) && rule.by_day.iter().any(|(n, _)| *n != 0) {
        return None;
    }
    Some(rule)
}

fn add_days(date: Date, days: i64) -> Option<Date> {
    date.checked_add(days.days()).ok()
}

fn days_between(from: Date, to: Date) -> i64 {
    to.since(from).map(|span| i64::from(span.get_days())).unwrap_or(0)
}

fn month_start(year: i64, month0: i64) -> Option<Date> {
    let year = year.checked_add(month0.div_euclid(12))?;
    Date::new(i16::try_from(year).ok()?, i8::try_from(month0.rem_euclid(12) + 1).ok()?, 1).ok()
}

/// The dates in `[first, last]` that `by_day` names: every such weekday, or
/// the n-th (from the end when negative).
fn weekdays_in(first: Date, last: Date, by_day: &[(i32, Weekday)]) -> Vec<Date> {
    let mut dates = Vec::new();
    for &(ordinal, day) in by_day {
        let first_match = add_days(first, i64::from(day.since(first.weekday())));
        let last_match = add_days(last, -i64::from(last.weekday().since(day)));
        match ordinal {
            0 => {
                let mut at = first_match;
                while let Some(date) = at.filter(|d| *d <= last) {
                    dates.push(date);
                    at = add_days(date, 7);
                }
            }
            n if n > 0 => {
                if let Some(date) = first_match.and_then(|d| add_days(d, 7 * i64::from(n - 1))).filter(|d| *d <= last) {
                    dates.push(date);
                }
            }
            n => {
                if let Some(date) = last_match.and_then(|d| add_days(d, 7 * i64::from(n + 1))).filter(|d| *d >= first) {
                    dates.push(date);
                }
            }
        }
    }
    dates
}

/// The dates of one month, `first` being its first day.
fn month_dates(rule: &Rule, first: Date, default_day: i8) -> Vec<Date> {
    let last = first.last_of_month();
    let length = i32::from(first.days_in_month());
    let by_month_day: Option<Vec<Date>> = (!rule.by_month_day.is_empty()).then(|| {
        rule.by_month_day
            .iter()
            .map(|&n| if n > 0 { n } else { length + n + 1 })
            .filter(|n| (1..=length).contains(n))
            .filter_map(|n| first.with().day(n as i8).build().ok())
            .collect()
    });
    let by_day = (!rule.by_day.is_empty()).then(|| weekdays_in(first, last, &rule.by_day));
    match (by_month_day, by_day) {
        (Some(days), Some(weekdays)) => days.into_iter().filter(|d| weekdays.contains(d)).collect(),
        (Some(days), None) => days,
        (None, Some(weekdays)) => weekdays,
        (None, None) => {
            first.with().day(default_day).build().ok().filter(|d| d.month() == first.month()).into_iter().collect()
        }
    }
}

/// Keeps the positions BYSETPOS names (1-based, negative from the end) of
/// a sorted set.
fn set_positions(dates: Vec<Date>, positions: &[i32]) -> Vec<Date> {
    if positions.is_empty() {
        return dates;
    }
    let len = dates.len() as i32;
    let mut kept: Vec<Date> = positions
        .iter()
        .map(|&p| if p > 0 { p - 1 } else { len + p })
        .filter(|i| (0..len).contains(i))
        .map(|i| dates[i as usize])
        .collect();
    kept.sort();
    kept.dedup();
    kept
}

impl Rule {
    /// Period `index` of the rule (a day, week, month or year after DTSTART's,
    /// counted in INTERVALs): its first day and its dates, sorted.
    fn period(&self, start: Date, index: i64) -> Option<(Date, Vec<Date>)> {
        let step = index.checked_mul(self.interval)?;
        let in_months = |d: &Date| self.by_month.is_empty() || self.by_month.contains(&d.month());
        let (first, mut dates) = match self.freq {
            Freq::Daily => {
                let day = add_days(start, step)?;
                let weekday_ok = self.by_day.is_empty() || self.by_day.iter().any(|(_, w)| *w == day.weekday());
                let length = i32::from(day.days_in_month());
                let month_day_ok = self.by_month_day.is_empty()
                    || self.by_month_day.iter().any(|&n| {
                        let n = if n > 0 { n } else { length + n + 1 };
                        n == i32::from(day.day())
                    });
                (day, if weekday_ok && month_day_ok { vec![day] } else { Vec::new() })
            }
            Freq::Weekly => {
                let week = add_days(start, -i64::from(start.weekday().since(self.week_start)))?;
                let first = add_days(week, step.checked_mul(7)?)?;
                let dates = (0..7)
                    .filter_map(|i| add_days(first, i))
                    .filter(|d| match self.by_day.is_empty() {
                        true => d.weekday() == start.weekday(),
                        false => self.by_day.iter().any(|(_, w)| *w == d.weekday()),
                    })
                    .collect();
                (first, dates)
            }
            Freq::Monthly => {
                let first = month_start(i64::from(start.year()), i64::from(start.month()) - 1 + step)?;
                (first, month_dates(self, first, start.day()))
            }
            Freq::Yearly => {
                let year = i16::try_from(i64::from(start.year()).checked_add(step)?).ok()?;
                let first = Date::new(year, 1, 1).ok()?;
                let dates = if !self.by_month.is_empty() || !self.by_month_day.is_empty() || self.by_day.is_empty() {
                    let months: Vec<i8> = if !self.by_month.is_empty() {
                        self.by_month.clone()
                    } else if !self.by_month_day.is_empty() {
                        (1..=12).collect()
                    } else {
                        vec![start.month()]
                    };
                    months
                        .iter()
                        .filter_map(|&m| Date::new(year, m, 1).ok())
                        .flat_map(|first| month_dates(self, first, start.day()))
                        .collect()
                } else {
                    weekdays_in(first, first.last_of_year(), &self.by_day)
                };
                (first, dates)
            }
        };
        dates.retain(in_months);
        dates.sort();
        dates.dedup();
        Some((first, set_positions(dates, &self.by_set_pos)))
    }

    /// The first period that may matter for a window starting at `lead`
    /// (only rules without COUNT may skip periods: COUNT counts from DTSTART).
    fn first_useful_period(&self, start: Date, lead: Date) -> i64 {
        if self.count.is_some() || lead <= start {
            return 0;
        }
        let units = match self.freq {
            Freq::Daily => days_between(start, lead),
            Freq::Weekly => days_between(start, lead) / 7,
            Freq::Monthly => {
                (i64::from(lead.year()) - i64::from(start.year())) * 12 + i64::from(lead.month())
                    - i64::from(start.month())
            }
            Freq::Yearly => i64::from(lead.year()) - i64::from(start.year()),
        };
        (units / self.interval - 1).max(0)
    }

    fn ended_by(&self, local: DateTime, zone: &TimeZone) -> bool {
        match self.until {
            None => false,
            Some(Until::Date(date)) => local.date() > date,
            Some(Until::Local(until)) => local > until,
            Some(Until::Instant(until)) => local.to_zoned(zone.clone()).is_ok_and(|z| z.timestamp() > until),
        }
    }
}

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
