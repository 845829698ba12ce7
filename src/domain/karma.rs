//! Karma (K1): the rules an admin can tune, and the pure decisions made
//! with them: who may request, who is listed, when a no-show can be marked
//! or forgiven, and what a late cancellation is.

use jiff::{SignedDuration, Timestamp};

use super::FieldErrors;

/// The instance's karma rules. Points are added to a person's score; the
/// score is the sum of their karma events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// For each person present at a session that took place.
    pub attended: i64,
    /// For the person who did not come.
    pub no_show: i64,
    /// For cancelling an approved session shortly before it starts.
    pub late_cancel: i64,
    /// "Shortly": this many minutes before the start, or later.
    pub late_cancel_minutes: i64,
    /// Below this score a person cannot request sessions.
    pub request_threshold: i64,
    /// Below this score an advisor is hidden from the directory.
    pub directory_threshold: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            attended: 1,
            no_show: -5,
            late_cancel: -2,
            late_cancel_minutes: 60,
            request_threshold: -5,
            directory_threshold: -10,
        }
    }
}

words! {
    /// What a karma event is for: attending a session, missing it, its
    /// forgiveness (the points given back), a late cancellation.
    pub enum KarmaKind("karma event kind") {
        Attended = "attended",
        NoShow = "no_show",
        LateCancel = "late_cancel",
        Forgiven = "forgiven",
    }
}

/// How long after a session's end the other party can record a no-show.
pub const NO_SHOW_WINDOW: SignedDuration = SignedDuration::from_hours(24);
/// How long after recording it a no-show can be forgiven.
pub const FORGIVE_WINDOW: SignedDuration = SignedDuration::from_hours(24 * 7);

/// The settings under which the rules are stored, with their bounds.
pub const SETTINGS: [(&str, &str, i64, i64); 6] = [
    ("attended", "Points for attending a session", 0, 20),
    ("no_show", "Points for a no-show", -100, 0),
    ("late_cancel", "Points for a late cancellation", -100, 0),
    ("late_cancel_minutes", "A cancellation is late this many minutes before the start", 0, 24 * 60),
    ("request_threshold", "Below this score a person cannot request sessions", -1000, 0),
    ("directory_threshold", "Below this score an advisor is hidden from the directory", -1000, 0),
];

impl Rules {
    pub fn get(&self, name: &str) -> Option<i64> {
        Some(match name {
            "attended" => self.attended,
            "no_show" => self.no_show,
            "late_cancel" => self.late_cancel,
            "late_cancel_minutes" => self.late_cancel_minutes,
            "request_threshold" => self.request_threshold,
            "directory_threshold" => self.directory_threshold,
            _ => return None,
        })
    }

    fn slot(&mut self, name: &str) -> Option<&mut i64> {
        Some(match name {
            "attended" => &mut self.attended,
            "no_show" => &mut self.no_show,
            "late_cancel" => &mut self.late_cancel,
            "late_cancel_minutes" => &mut self.late_cancel_minutes,
            "request_threshold" => &mut self.request_threshold,
            "directory_threshold" => &mut self.directory_threshold,
            _ => return None,
        })
    }

    /// Rules from stored settings; unknown names and unreadable values are
    /// ignored (the default stays).
    pub fn from_settings<'a>(settings: impl IntoIterator<Item = (&'a str, &'a str)>) -> Rules {
        let mut rules = Rules::default();
        for (name, value) in settings {
            if let (Some(slot), Ok(value)) = (rules.slot(name), value.trim().parse::<i64>()) {
                *slot = value;
            }
        }
        rules
    }

    /// Validates new values for some rules (name → text) over `self`.
    pub fn with_changes<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Rules, FieldErrors> {
        let mut rules = *self;
        let mut errors = FieldErrors::new();
        for (name, text) in changes {
            let Some((field, label, min, max)) = SETTINGS.iter().find(|(n, ..)| *n == name) else {
                errors.add("rule", "unknown_rule", format!("There is no karma rule `{name}`."));
                continue;
            };
            match text.trim().parse::<i64>() {
                Ok(value) if (*min..=*max).contains(&value) => {
                    if let Some(slot) = rules.slot(field) {
                        *slot = value;
                    }
                }
                _ => errors.add(field, "out_of_range", format!("{label}: give a whole number from {min} to {max}.")),
            }
        }
        errors.into_result().map(|()| rules)
    }
}

/// Why someone cannot request sessions, and how they get back.
pub fn can_request(score: i64, rules: &Rules) -> Result<(), String> {
    if score >= rules.request_threshold {
        return Ok(());
    }
    Err(format!(
        "Your karma is {score}, below {}, so you cannot request sessions for now. Missed sessions (no-shows) \
         cost karma. Write to the advisor of a session you missed: they can forgive it within 7 days, which \
         gives the points back. The instance's admins can help too.",
        rules.request_threshold
    ))
}

pub fn listed_in_directory(score: i64, rules: &Rules) -> bool {
    score >= rules.directory_threshold
}

/// Whether cancelling at `at` a session starting at `start` is late.
pub fn is_late_cancellation(at: Timestamp, start: Timestamp, rules: &Rules) -> bool {
    at >= start || start.duration_since(at) <= SignedDuration::from_mins(rules.late_cancel_minutes)
}

/// When a no-show can be recorded: from the session's start until 24 hours
/// after its end.
pub fn no_show_open(now: Timestamp, start: Timestamp, end: Timestamp) -> Result<(), &'static str> {
    if now < start {
        return Err("session_not_started");
    }
    if now.duration_since(end) > NO_SHOW_WINDOW {
        return Err("no_show_window_closed");
    }
    Ok(())
}

/// Forgiving is possible for 7 days after the no-show was recorded.
pub fn forgive_open(now: Timestamp, recorded: Timestamp) -> Result<(), &'static str> {
    if now.duration_since(recorded) > FORGIVE_WINDOW { Err("forgive_window_closed") } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn karma_kinds_are_words() {
        crate::domain::assert_words(&KarmaKind::ALL, KarmaKind::as_str);
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn thresholds_block_requests_and_hide_advisors_below_them() {
        let rules = Rules::default();
        assert!(can_request(0, &rules).is_ok());
        assert!(can_request(-5, &rules).is_ok(), "one no-show still lets you book");
        let why = can_request(-6, &rules).unwrap_err();
        assert!(why.contains("below -5") && why.contains("forgive"), "{why}");
        assert!(listed_in_directory(-10, &rules));
        assert!(!listed_in_directory(-11, &rules));
    }

    #[test]
    fn late_means_within_the_window_before_the_start_or_after_it() {
        let rules = Rules::default();
        let start = at("2026-12-01T14:00:00Z");
        assert!(!is_late_cancellation(at("2026-12-01T12:59:59Z"), start, &rules));
        assert!(is_late_cancellation(at("2026-12-01T13:00:00Z"), start, &rules));
        assert!(is_late_cancellation(at("2026-12-01T13:59:00Z"), start, &rules));
        assert!(is_late_cancellation(at("2026-12-01T14:05:00Z"), start, &rules));
        let lenient = Rules { late_cancel_minutes: 0, ..rules };
        assert!(!is_late_cancellation(at("2026-12-01T13:59:00Z"), start, &lenient));
    }

    #[test]
    fn no_shows_are_marked_from_the_start_until_a_day_after_the_end() {
        let start = at("2026-12-01T14:00:00Z");
        let end = at("2026-12-01T14:10:00Z");
        assert_eq!(no_show_open(at("2026-12-01T13:59:00Z"), start, end), Err("session_not_started"));
        assert_eq!(no_show_open(start, start, end), Ok(()));
        assert_eq!(no_show_open(at("2026-12-02T14:10:00Z"), start, end), Ok(()));
        assert_eq!(no_show_open(at("2026-12-02T14:10:01Z"), start, end), Err("no_show_window_closed"));
        let recorded = at("2026-12-01T15:00:00Z");
        assert_eq!(forgive_open(at("2026-12-08T15:00:00Z"), recorded), Ok(()));
        assert_eq!(forgive_open(at("2026-12-08T15:00:01Z"), recorded), Err("forgive_window_closed"));
    }

    #[test]
    fn rules_load_from_settings_and_changes_are_validated() {
        let rules = Rules::from_settings([("no_show", "-3"), ("attended", "x"), ("bogus", "7")]);
        assert_eq!(rules, Rules { no_show: -3, ..Rules::default() });
        let changed = rules.with_changes([("attended", "2"), ("request_threshold", "-20")]).unwrap();
        assert_eq!((changed.attended, changed.request_threshold), (2, -20));
        let errors = rules.with_changes([("no_show", "5"), ("nope", "1")]).unwrap_err();
        let codes: Vec<_> = errors.0.iter().map(|e| e.code).collect();
        assert_eq!(codes, vec!["out_of_range", "unknown_rule"]);
    }
}
