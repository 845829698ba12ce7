//! Named offerings (issue 17, item 13), like the event types of scheduling
//! tools: what an offering may be called and how long its sessions are,
//! when one may be removed, and how it is named to the world.

use super::{FieldError, FieldErrors};

/// The title of the offering every advisor starts with.
pub const DEFAULT_TITLE: &str = "Office hours";
/// The longest title, in characters.
pub const TITLE_MAX: usize = 80;
/// The longest description, in characters.
pub const DESCRIPTION_MAX: usize = 500;

/// An offering's title, description and session length, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferingText {
    pub title: String,
    pub description: String,
    pub session_minutes: i64,
}

/// Checks a title (required, at most [`TITLE_MAX`] characters), a
/// description (at most [`DESCRIPTION_MAX`]) and a session length, which
/// must be one of the lengths the instance allows (`allowed`). The text
/// is trimmed; every problem is reported, field by field.
pub fn check(title: &str, description: &str, minutes: &str, allowed: &[i64]) -> Result<OfferingText, FieldErrors> {
    let mut errors = FieldErrors::new();
    let title = title.trim();
    if title.is_empty() {
        errors.add("title", "title_required", "Give the offering a title, e.g. “Career advice for new engineers”.");
    } else if title.chars().any(char::is_control) {
        errors.add("title", "invalid_text", "The title cannot hold line breaks or control characters.");
    } else if title.chars().count() > TITLE_MAX {
        errors.add("title", "too_long", format!("Keep the title to {TITLE_MAX} characters or fewer."));
    }
    let description = description.trim().replace("\r\n", "\n");
    if description.chars().count() > DESCRIPTION_MAX {
        errors.add(
            "description",
            "too_long",
            format!("Keep the description to {DESCRIPTION_MAX} characters or fewer."),
        );
    }
    let session_minutes = errors.check(session_length("session_minutes", minutes, allowed));
    match session_minutes {
        Some(session_minutes) if errors.is_empty() => {
            Ok(OfferingText { title: title.to_string(), description, session_minutes })
        }
        _ => Err(errors),
    }
}

/// A session length typed in a form, among the `allowed` ones.
pub fn session_length(field: &'static str, text: &str, allowed: &[i64]) -> Result<i64, FieldError> {
    let listed = allowed.iter().map(|m| format!("{m}")).collect::<Vec<_>>().join(", ");
    match text.trim().parse::<i64>() {
        Ok(minutes) if allowed.contains(&minutes) => Ok(minutes),
        _ => Err(FieldError {
            field,
            code: "unknown_length",
            message: format!("Choose one of the session lengths this server offers: {listed} minutes."),
        }),
    }
}

/// Why an offering cannot be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalRefusal {
    /// The default offering stays (blocks without another offering are in it).
    Default,
    /// It is the advisor's only offering.
    Last,
    /// Sessions ahead are booked or asked for in it.
    Booked(i64),
}

impl RemovalRefusal {
    pub fn code(self) -> &'static str {
        match self {
            RemovalRefusal::Default => "default_offering",
            RemovalRefusal::Last => "last_offering",
            RemovalRefusal::Booked(_) => "offering_booked",
        }
    }

    pub fn message(self) -> String {
        match self {
            RemovalRefusal::Default => {
                "Your default offering stays: rename or describe it instead, or remove other offerings.".into()
            }
            RemovalRefusal::Last => "This is your only offering; you need at least one.".into(),
            RemovalRefusal::Booked(n) => format!(
                "{} ahead {} booked or asked for in this offering. Cancel {} first (or wait until {} over), \
                 then remove it.",
                super::plural::count(n, "session"),
                if n == 1 { "is" } else { "are" },
                if n == 1 { "it" } else { "them" },
                if n == 1 { "it is" } else { "they are" },
            ),
        }
    }
}

/// May an offering be removed? Never the default one nor the last one, and
/// not while sessions ahead are booked or asked for in it (`live_ahead`):
/// those are kept and the advisor is told what to do.
pub fn check_removal(is_default: bool, offerings: usize, live_ahead: i64) -> Result<(), RemovalRefusal> {
    if offerings <= 1 {
        return Err(RemovalRefusal::Last);
    }
    if is_default {
        return Err(RemovalRefusal::Default);
    }
    if live_ahead > 0 {
        return Err(RemovalRefusal::Booked(live_ahead));
    }
    Ok(())
}

/// Whether an offering was named by its advisor: the default one, still
/// called "Office hours" without a description, is shown as before.
pub fn is_named(title: &str, description: &str) -> bool {
    !(title == DEFAULT_TITLE && description.trim().is_empty())
}

/// The `name` of a published `Event`, the SUMMARY of a calendar entry:
/// "Career advice for new engineers — 10-minute calls" for a named
/// offering, "Office hours with Ada" for an advisor who named none.
pub fn event_name(title: &str, description: &str, advisor: &str, minutes: i64) -> String {
    if is_named(title, description) {
        format!("{title} — {minutes}-minute calls")
    } else {
        format!("{DEFAULT_TITLE} with {advisor}")
    }
}

/// The title and description as one plain line, to put before a summary
/// ("Career advice for new engineers: For people in their first job."),
/// empty for an offering nobody named.
pub fn headline(title: &str, description: &str) -> String {
    if !is_named(title, description) {
        return String::new();
    }
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
    if description.is_empty() { title.to_string() } else { format!("{title}: {description}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_required_and_short() {
        let ok = check("  Career advice  ", " For new engineers. ", "10", &[10, 30]).unwrap();
        assert_eq!(
            (ok.title.as_str(), ok.description.as_str(), ok.session_minutes),
            ("Career advice", "For new engineers.", 10)
        );
        let codes = |e: FieldErrors| e.0.iter().map(|e| (e.field, e.code)).collect::<Vec<_>>();
        assert_eq!(codes(check("   ", "", "10", &[10]).unwrap_err()), vec![("title", "title_required")]);
        let long = "x".repeat(TITLE_MAX + 1);
        assert_eq!(codes(check(&long, "", "10", &[10]).unwrap_err()), vec![("title", "too_long")]);
        assert!(check(&"é".repeat(TITLE_MAX), "", "10", &[10]).is_ok(), "characters, not bytes");
        assert_eq!(codes(check("a\nb", "", "10", &[10]).unwrap_err()), vec![("title", "invalid_text")]);
        let long = "d".repeat(DESCRIPTION_MAX + 1);
        assert_eq!(
            codes(check("", &long, "7", &[10]).unwrap_err()),
            vec![("title", "title_required"), ("description", "too_long"), ("session_minutes", "unknown_length")]
        );
    }

    #[test]
    fn only_the_instances_lengths_are_taken() {
        assert_eq!(session_length("m", "30", &[10, 30]), Ok(30));
        for bad in ["", "15", "ten", "-10", "10.0"] {
            let err = session_length("m", bad, &[10, 30]).unwrap_err();
            assert_eq!(err.code, "unknown_length", "{bad}");
            assert!(err.message.contains("10, 30 minutes"), "{}", err.message);
        }
    }

    #[test]
    fn the_default_last_and_booked_offerings_stay() {
        assert_eq!(check_removal(false, 2, 0), Ok(()));
        assert_eq!(check_removal(false, 1, 0), Err(RemovalRefusal::Last));
        assert_eq!(check_removal(true, 3, 0), Err(RemovalRefusal::Default));
        assert_eq!(check_removal(false, 3, 2), Err(RemovalRefusal::Booked(2)));
        assert!(RemovalRefusal::Booked(1).message().starts_with("1 session ahead is booked"));
        assert!(RemovalRefusal::Booked(3).message().starts_with("3 sessions ahead are booked"));
    }

    #[test]
    fn events_carry_the_offerings_name() {
        assert_eq!(event_name(DEFAULT_TITLE, "", "Ada", 10), "Office hours with Ada");
        assert_eq!(
            event_name("Career advice for new engineers", "", "Ada", 10),
            "Career advice for new engineers — 10-minute calls"
        );
        assert_eq!(event_name(DEFAULT_TITLE, "Anything", "Ada", 30), "Office hours — 30-minute calls");
        assert_eq!(headline(DEFAULT_TITLE, " "), "");
        assert_eq!(
            headline("Career advice", "For people\nin their first job."),
            "Career advice: For people in their first job."
        );
        assert_eq!(headline("Career advice", ""), "Career advice");
    }
}
