//! The one way a block's times are written: a local date and time to the
//! minute, `2027-01-06T10:00`, with the IANA zone given separately.
//!
//! A trailing offset or `Z` is refused (`time_has_offset`) rather than
//! converted: the zone field decides what the wall-clock time means, and
//! an offset next to it would either repeat it or contradict it. Seconds
//! and fractions are refused (`invalid_time`): sessions start on the minute.

use jiff::civil::DateTime;

use super::validation::{FieldError, field_error};

/// Parses `YYYY-MM-DDTHH:MM` (surrounding blanks ignored).
pub fn parse(field: &'static str, text: &str) -> Result<DateTime, FieldError> {
    let text = text.trim();
    let (head, rest) = match text.char_indices().nth(16) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    if !is_minute_shape(head) {
        return Err(not_a_datetime(field, text));
    }
    // After the minutes: `:SS`, `:SS.fff`, then perhaps `Z`, `+05:00` or `[Zone]`.
    let after_seconds = match rest.strip_prefix(':') {
        Some(tail) => tail.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ','),
        None => rest,
    };
    if after_seconds.starts_with(['Z', 'z', '+', '-', '[', '\u{2212}']) {
        return Err(field_error(
            field,
            "time_has_offset",
            format!(
                "`{text}` carries an offset or `Z`; give the local time and the zone separately, \
                 like 2027-01-06T10:00 with the time zone Europe/Berlin."
            ),
        ));
    }
    let has_seconds =
        rest.strip_prefix(':').is_some_and(|t| t.len() >= 2 && t.as_bytes()[..2].iter().all(u8::is_ascii_digit));
    if !after_seconds.is_empty() || (!rest.is_empty() && !has_seconds) {
        return Err(not_a_datetime(field, text));
    }
    if !rest.is_empty() {
        return Err(field_error(
            field,
            "invalid_time",
            format!("`{text}` has seconds; times are to the minute, like 2027-01-06T10:00."),
        ));
    }
    head.parse::<DateTime>().map_err(|_| not_a_datetime(field, text))
}

/// `DDDD-DD-DDTDD:DD`, digits where the pattern has `D`.
fn is_minute_shape(text: &str) -> bool {
    const PATTERN: &[u8; 16] = b"DDDD-DD-DDTDD:DD";
    text.len() == PATTERN.len()
        && text.bytes().zip(PATTERN).all(|(c, p)| if *p == b'D' { c.is_ascii_digit() } else { c == *p })
}

fn not_a_datetime(field: &'static str, text: &str) -> FieldError {
    field_error(field, "invalid_datetime", format!("`{text}` is not a local date and time like 2027-01-06T10:00."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        parse("start", text).map(|_| "ok").unwrap_or_else(|e| e.code)
    }

    #[test]
    fn the_minute_form_is_accepted() {
        let dt = parse("start", " 2027-01-06T10:00 ").unwrap();
        assert_eq!(dt.to_string(), "2027-01-06T10:00:00");
    }

    #[test]
    fn seconds_and_fractions_are_refused() {
        assert_eq!(code("2027-01-06T10:00:30.5"), "invalid_time");
        assert_eq!(code("2027-01-06T10:00:30"), "invalid_time");
        assert_eq!(code("2027-01-06T10:00:00"), "invalid_time");
        assert_eq!(code("2027-01-06T10:00:00,25"), "invalid_time");
    }

    #[test]
    fn offsets_and_z_are_refused_alike() {
        for text in [
            "2027-01-06T10:00Z",
            "2027-01-06T10:00z",
            "2027-01-06T10:00+05:00",
            "2027-01-06T10:00-0800",
            "2027-01-06T10:00:00Z",
            "2027-01-06T10:00:30.5+05:00",
            "2027-01-06T10:00[Europe/Berlin]",
        ] {
            assert_eq!(code(text), "time_has_offset", "{text}");
        }
    }

    #[test]
    fn other_shapes_are_not_datetimes() {
        for text in [
            "tomorrow at four",
            "2027-01-06 10:00",
            "2027-1-6T10:00",
            "2027-01-06T10",
            "2027-01-06",
            "+09999-01-06T10:00",
            "2027-02-30T10:00",
            "2027-01-06T24:00",
            "2027-01-06T10:00 ",
            "2027-01-06T10:00am",
            "2027-01-06T10:00:",
            "2027-01-06T10:00:5",
            "",
        ] {
            let want = if text == "2027-01-06T10:00 " { "ok" } else { "invalid_datetime" };
            assert_eq!(code(text), want, "{text:?}");
        }
        assert_eq!(code("2027-01-06T10:00:3x"), "invalid_datetime");
    }
}
