//! The iCalendar (RFC 5545) text layer: content lines, components and
//! property values (dates, times, durations), read leniently.

use std::collections::HashSet;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};

use super::busy::IcsError;

#[derive(Debug, Default)]
pub(crate) struct Component {
    /// Upper case, e.g. `VEVENT`.
    pub(crate) name: String,
    pub(crate) props: Vec<Property>,
    pub(crate) children: Vec<Component>,
}

#[derive(Debug)]
pub(crate) struct Property {
    /// Upper case, e.g. `DTSTART`.
    pub(crate) name: String,
    /// Upper-case names; values without their quotes (several values stay
    /// comma-separated).
    pub(crate) params: Vec<(String, String)>,
    pub(crate) value: String,
}

impl Component {
    pub(crate) fn prop(&self, name: &str) -> Option<&Property> {
        self.props.iter().find(|p| p.name == name)
    }

    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.props.iter().filter(move |p| p.name == name)
    }

    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.prop(name).map(|p| p.value.trim())
    }

    pub(crate) fn value_is(&self, name: &str, expected: &str) -> bool {
        self.value(name).is_some_and(|v| v.eq_ignore_ascii_case(expected))
    }
}

impl Property {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Unfolds lines (RFC 5545 3.1: a line starting with a space or tab continues
/// the previous one), accepting CRLF and bare LF.
pub(crate) fn content_lines(text: &str) -> Vec<String> {
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
pub(crate) fn parse_line(line: &str) -> Option<Property> {
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
pub(crate) fn parse_calendars(text: &str) -> Result<Vec<Component>, IcsError> {
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

pub(crate) fn close(stack: &mut [Component], calendars: &mut Vec<Component>, done: Component) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None if done.name == "VCALENDAR" => calendars.push(done),
        None => {}
    }
}

// ---------------------------------------------------------------------------
// Zones

/// A DTSTART-like value: a local date-time in a zone (UTC for `Z` times).
#[derive(Debug, Clone)]
pub(crate) struct When {
    pub(crate) local: DateTime,
    pub(crate) zone: TimeZone,
    pub(crate) all_day: bool,
}

impl When {
    pub(crate) fn zoned(&self) -> Option<Zoned> {
        self.local.to_zoned(self.zone.clone()).ok()
    }

    pub(crate) fn instant(&self) -> Option<Timestamp> {
        self.zoned().map(|z| z.timestamp())
    }
}

pub(crate) fn parse_date(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Date::new(text[..4].parse().ok()?, text[4..6].parse().ok()?, text[6..8].parse().ok()?).ok()
}

/// `YYYYMMDDTHHMMSS` with an optional `Z`; the flag says UTC.
pub(crate) fn parse_date_time(text: &str) -> Option<(DateTime, bool)> {
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
pub(crate) fn parse_duration(text: &str) -> Option<(i64, SignedDuration)> {
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
pub(crate) enum Length {
    /// From DTEND of a timed event: the same exact duration for each occurrence.
    Exact(SignedDuration),
    /// From DURATION or all-day dates: calendar days (23 or 25 hours across a
    /// DST change) plus exact time.
    Nominal { days: i64, time: SignedDuration },
}

impl Length {
    pub(crate) fn end(self, start: &Zoned) -> Option<Timestamp> {
        match self {
            Length::Exact(d) => start.timestamp().checked_add(d).ok(),
            Length::Nominal { days, time } => {
                start.checked_add(days.days()).ok()?.checked_add(time).ok().map(|z| z.timestamp())
            }
        }
    }

    /// An upper bound, for how far back an occurrence may start and still
    /// reach into the window.
    pub(crate) fn upper_bound(self) -> SignedDuration {
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
pub(crate) struct Exclusions {
    pub(crate) instants: HashSet<Timestamp>,
    pub(crate) dates: HashSet<Date>,
}

impl Exclusions {
    pub(crate) fn add(&mut self, when: &When) {
        if when.all_day {
            self.dates.insert(when.local.date());
        } else if let Some(instant) = when.instant() {
            self.instants.insert(instant);
        }
    }

    pub(crate) fn contains(&self, start: &Zoned) -> bool {
        self.instants.contains(&start.timestamp()) || self.dates.contains(&start.date())
    }
}

// ---------------------------------------------------------------------------
// Recurrence rules
