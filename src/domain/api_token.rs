//! What a valid personal API token request is: its name and lifetime.

use super::validation::{FieldError, field_error};

pub const NAME_MAX: usize = 60;
pub const EXPIRY_DAYS_MAX: i64 = 365;

/// The name a person gives a token: trimmed, 1 to 60 characters, one line.
pub fn name(value: &str) -> Result<String, FieldError> {
    let name = value.trim();
    if name.is_empty() {
        return Err(field_error("name", "name_required", "Give the token a name, e.g. what script uses it."));
    }
    if name.chars().count() > NAME_MAX {
        return Err(field_error(
            "name",
            "name_too_long",
            format!("A token name can be at most {NAME_MAX} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(field_error(
            "name",
            "name_invalid_characters",
            "A token name fits on one line, without control characters.",
        ));
    }
    Ok(name.to_string())
}

/// Days until the token expires: 1 to 365, or `None` for a token that does
/// not expire.
pub fn expires_in_days(days: Option<i64>) -> Result<Option<i64>, FieldError> {
    match days {
        Some(d) if !(1..=EXPIRY_DAYS_MAX).contains(&d) => Err(field_error(
            "expires_in_days",
            "expiry_out_of_range",
            format!("A token can expire after 1 to {EXPIRY_DAYS_MAX} days (or leave it empty for never)."),
        )),
        other => Ok(other),
    }
}

/// The expiry as a form sends it: empty for never, else whole days.
pub fn expires_in_days_text(value: &str) -> Result<Option<i64>, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<i64>() {
        Ok(days) => expires_in_days(Some(days)),
        Err(_) => Err(field_error(
            "expires_in_days",
            "expiry_not_a_number",
            "Write the expiry as a whole number of days, or leave it empty for never.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  deploy bot ").unwrap(), "deploy bot");
        assert_eq!(name("   ").unwrap_err().code, "name_required");
        assert_eq!(name(&"x".repeat(60)).unwrap().chars().count(), 60);
        assert_eq!(name(&"é".repeat(61)).unwrap_err().code, "name_too_long");
        assert_eq!(name("two\nlines").unwrap_err().code, "name_invalid_characters");
    }

    #[test]
    fn expiry_is_one_to_365_days_or_never() {
        assert_eq!(expires_in_days(None).unwrap(), None);
        assert_eq!(expires_in_days(Some(1)).unwrap(), Some(1));
        assert_eq!(expires_in_days(Some(365)).unwrap(), Some(365));
        assert_eq!(expires_in_days(Some(0)).unwrap_err().code, "expiry_out_of_range");
        assert_eq!(expires_in_days(Some(366)).unwrap_err().code, "expiry_out_of_range");
        assert_eq!(expires_in_days_text(" ").unwrap(), None);
        assert_eq!(expires_in_days_text("30").unwrap(), Some(30));
        assert_eq!(expires_in_days_text("soon").unwrap_err().code, "expiry_not_a_number");
        assert_eq!(expires_in_days_text("-3").unwrap_err().code, "expiry_out_of_range");
    }
}
