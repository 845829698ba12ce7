//! IANA time zones: the one source every page, e-mail and feed uses.

use std::sync::LazyLock;

use super::validation::{FieldError, field_error};

/// Checks an IANA zone name such as `Europe/Berlin` and returns its
/// canonical spelling. Only names of places pass: the picker's `Area/Location`
/// names ([`all`]), `UTC` (`Etc/UTC` is taken as `UTC`) and the fixed-offset
/// `Etc/…` zones (`Etc/GMT+5`, which some systems report). Database files
/// that are not places — `localtime`, `posixrules`, `Factory`, `posix/…`,
/// `right/…` — and bare abbreviations such as `EST` are refused. Backward
/// names like `Asia/Calcutta` pass.
pub fn parse(field: &'static str, name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok("UTC".to_string());
    }
    canonical(name).ok_or_else(|| {
        field_error(
            field,
            "unknown_timezone",
            format!("`{name}` is not a time zone we know; give an IANA zone name like Europe/Berlin, or UTC."),
        )
    })
}

/// The picker's spelling of a zone name (matched ignoring case), if it has one.
pub fn canonical(name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("UTC") || name.eq_ignore_ascii_case("Etc/UTC") {
        return Some("UTC".to_string());
    }
    let listed = match all().iter().find(|zone| zone.eq_ignore_ascii_case(name)) {
        Some(zone) => zone.clone(),
        None if name.get(..4).is_some_and(|area| area.eq_ignore_ascii_case("Etc/")) => {
            jiff::tz::db().available().map(|zone| zone.to_string()).find(|zone| zone.eq_ignore_ascii_case(name))?
        }
        None => return None,
    };
    jiff::tz::TimeZone::get(&listed).ok().map(|_| listed)
}

/// Every zone name, sorted, for the settings picker.
pub fn all() -> &'static [String] {
    static ZONES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut zones: Vec<String> = jiff::tz::db()
            .available()
            .map(|name| name.to_string())
            .filter(|name| name.contains('/') || name == "UTC")
            .filter(|name| !name.starts_with("Etc/") && !name.starts_with("posix/") && !name.starts_with("right/"))
            .collect();
        zones.sort();
        zones.dedup();
        zones
    });
    &ZONES
}

/// "14 Dec 2026, 09:00 CET" for an instant in a person's zone.
pub fn format_instant(ms: i64, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_zoned(tz).strftime("%-d %b %Y, %H:%M %Z").to_string(),
        Err(_) => String::from("—"),
    }
}

fn zoned(ms: i64, zone: &str) -> Option<jiff::Zoned> {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(ms).ok().map(|ts| ts.to_zoned(tz))
}

/// "14:00" in a zone.
pub fn format_time(ms: i64, zone: &str) -> String {
    zoned(ms, zone).map(|z| z.strftime("%H:%M").to_string()).unwrap_or_default()
}

/// "Tue 1 Dec" in a zone.
pub fn format_day(ms: i64, zone: &str) -> String {
    zoned(ms, zone).map(|z| z.strftime("%a %-d %b").to_string()).unwrap_or_default()
}

/// "Tuesday 1 December 2026" in a zone.
pub fn format_long_day(ms: i64, zone: &str) -> String {
    zoned(ms, zone).map(|z| z.strftime("%A %-d %B %Y").to_string()).unwrap_or_default()
}

/// An instant as `<time datetime>` writes it: `2026-12-01T14:00:00Z`.
pub fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|ts| ts.to_string()).unwrap_or_default()
}

/// "CET", the zone's abbreviation at that instant.
pub fn abbreviation(ms: i64, zone: &str) -> String {
    zoned(ms, zone).map(|z| z.strftime("%Z").to_string()).unwrap_or_default()
}

/// "14:00–14:10 CET": a span within one day, with the zone's abbreviation.
pub fn format_span(start: i64, end: i64, zone: &str) -> String {
    format!("{}–{} {}", format_time(start, zone), format_time(end, zone), abbreviation(start, zone))
}

/// "14:00 CET".
pub fn format_clock(ms: i64, zone: &str) -> String {
    format!("{} {}", format_time(ms, zone), abbreviation(ms, zone))
}

/// "Tue 1 Dec, 14:00–14:10 CET".
pub fn format_range(start: i64, end: i64, zone: &str) -> String {
    format!(
        "{}, {}–{} {}",
        format_day(start, zone),
        format_time(start, zone),
        format_time(end, zone),
        abbreviation(start, zone)
    )
}

/// The local date of an instant in a zone.
pub fn local_date(ms: i64, zone: &str) -> Option<jiff::civil::Date> {
    zoned(ms, zone).map(|z| z.date())
}

/// Midnight at the start of a local date, as milliseconds.
pub fn start_of_day(date: jiff::civil::Date, zone: &str) -> i64 {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    tz.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .map(|t| t.as_millisecond())
        .unwrap_or_default()
}

/// "December 2026" for an instant in a person's zone.
pub fn format_date(ms: i64, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_zoned(tz).strftime("%B %Y").to_string(),
        Err(_) => String::from("—"),
    }
}

/// Clock times written in a text: `14:20`, `9:05` (as `09:05`). How a
/// person names a slot in a message.
pub fn clock_times(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_digit() || c == ':')) {
        let Some((h, m)) = word.split_once(':') else { continue };
        let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) else { continue };
        if h < 24
            && m < 60
            && (1..=2).contains(&word.find(':').unwrap_or(0))
            && word.len() - word.find(':').unwrap_or(0) == 3
        {
            found.push(format!("{h:02}:{m:02}"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_zones_pass_and_unknown_fail() {
        assert_eq!(parse("timezone", "Europe/Berlin").unwrap(), "Europe/Berlin");
        assert_eq!(parse("timezone", " America/New_York ").unwrap(), "America/New_York");
        assert_eq!(parse("timezone", "").unwrap(), "UTC");
        let err = parse("timezone", "Mars/Olympus").unwrap_err();
        assert_eq!(err.code, "unknown_timezone");
        assert_eq!(parse("timezone", "europe/berlin").unwrap(), "Europe/Berlin", "the canonical spelling");
        assert_eq!(parse("timezone", "Etc/UTC").unwrap(), "UTC");
        assert_eq!(parse("timezone", "Asia/Calcutta").unwrap(), "Asia/Calcutta", "backward names pass");
        assert_eq!(parse("timezone", "etc/gmt+5").unwrap(), "Etc/GMT+5", "fixed offsets some systems report");
    }

    #[test]
    fn database_files_that_are_not_places_are_refused() {
        for name in [
            "localtime",
            "posixrules",
            "Factory",
            "factory",
            "posix/Europe/Berlin",
            "right/Europe/Berlin",
            "EST",
            "GMT",
            "Etc/",
            "Etc/localtime",
            "../etc/passwd",
            "Europe/",
            "/Europe/Berlin",
        ] {
            assert_eq!(parse("timezone", name).map_err(|e| e.code), Err("unknown_timezone"), "{name}");
        }
    }

    #[test]
    fn zone_list_is_sorted_and_includes_lord_howe() {
        let zones = all();
        assert!(zones.len() > 300, "only {} zones", zones.len());
        assert!(zones.windows(2).all(|w| w[0] < w[1]));
        assert!(zones.iter().any(|z| z == "Australia/Lord_Howe"));
    }

    #[test]
    fn instants_shown_with_zone_abbreviation_across_dst() {
        // 2026-03-29 is the EU switch to summer time.
        let winter = jiff::Timestamp::from_second(1_774_684_800).unwrap().as_millisecond(); // 2026-03-28 08:00 UTC
        let summer = jiff::Timestamp::from_second(1_774_771_200).unwrap().as_millisecond(); // 2026-03-29 08:00 UTC
        assert_eq!(format_instant(winter, "Europe/Berlin"), "28 Mar 2026, 09:00 CET");
        assert_eq!(format_instant(summer, "Europe/Berlin"), "29 Mar 2026, 10:00 CEST");
    }

    #[test]
    fn clock_times_are_found_in_free_text() {
        assert_eq!(super::clock_times("Could I have 14:20 please? or 9:05."), vec!["14:20", "09:05"]);
        assert!(super::clock_times("no times, 25:00, 1:2, 123:45").is_empty());
    }
}
