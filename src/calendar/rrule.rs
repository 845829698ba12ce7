//! Recurrence rules (RRULE): the subset calendar apps write, expanded with
//! jiff on the civil calendar.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::ics::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Until {
    Instant(Timestamp),
    Local(DateTime),
    Date(Date),
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) freq: Freq,
    pub(crate) interval: i64,
    pub(crate) count: Option<u64>,
    pub(crate) until: Option<Until>,
    /// (ordinal, weekday); ordinal 0 means every such weekday.
    pub(crate) by_day: Vec<(i32, Weekday)>,
    pub(crate) by_month_day: Vec<i32>,
    pub(crate) by_month: Vec<i8>,
    pub(crate) by_set_pos: Vec<i32>,
    pub(crate) week_start: Weekday,
}

pub(crate) fn weekday(code: &str) -> Option<Weekday> {
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

pub(crate) fn int_list<T: std::str::FromStr>(text: &str, valid: impl Fn(&T) -> bool) -> Option<Vec<T>> {
    text.split(',').map(|part| part.trim().parse::<T>().ok().filter(&valid)).collect()
}

/// `None` for a rule outside the supported subset (or malformed).
pub(crate) fn parse_rule(text: &str) -> Option<Rule> {
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

pub(crate) fn add_days(date: Date, days: i64) -> Option<Date> {
    date.checked_add(days.days()).ok()
}

pub(crate) fn days_between(from: Date, to: Date) -> i64 {
    to.since(from).map(|span| i64::from(span.get_days())).unwrap_or(0)
}

pub(crate) fn month_start(year: i64, month0: i64) -> Option<Date> {
    let year = year.checked_add(month0.div_euclid(12))?;
    Date::new(i16::try_from(year).ok()?, i8::try_from(month0.rem_euclid(12) + 1).ok()?, 1).ok()
}

/// The dates in `[first, last]` that `by_day` names: every such weekday, or
/// the n-th (from the end when negative).
pub(crate) fn weekdays_in(first: Date, last: Date, by_day: &[(i32, Weekday)]) -> Vec<Date> {
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
pub(crate) fn month_dates(rule: &Rule, first: Date, default_day: i8) -> Vec<Date> {
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
pub(crate) fn set_positions(dates: Vec<Date>, positions: &[i32]) -> Vec<Date> {
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
    pub(crate) fn period(&self, start: Date, index: i64) -> Option<(Date, Vec<Date>)> {
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
    pub(crate) fn first_useful_period(&self, start: Date, lead: Date) -> i64 {
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

    pub(crate) fn ended_by(&self, local: DateTime, zone: &TimeZone) -> bool {
        match self.until {
            None => false,
            Some(Until::Date(date)) => local.date() > date,
            Some(Until::Local(until)) => local > until,
            Some(Until::Instant(until)) => local.to_zoned(zone.clone()).is_ok_and(|z| z.timestamp() > until),
        }
    }
}
