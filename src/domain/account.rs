//! What a valid account is: usernames, e-mail addresses, passwords, profile text.

use super::validation::{FieldError, bounded_text, field_error};

pub const USERNAME_MAX: usize = 30;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const BIO_MAX: usize = 2000;
pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 256;

/// Names that would collide with the instance's own paths or actors.
const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "api",
    "static",
    "settings",
    "instance",
    "actor",
    "officehours",
    "root",
    "system",
    "support",
    "help",
    "login",
    "logout",
    "signup",
    "about",
    "inbox",
    "outbox",
    "nodeinfo",
    "webfinger",
    "postmaster",
    "abuse",
    "noreply",
    "security",
];

/// Lower-case ASCII letters, digits and underscores, 1 to 30 characters, as
/// fediverse handles expect (`@name@domain`). Input is lower-cased first.
pub fn username(value: &str) -> Result<String, FieldError> {
    let name = value.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(field_error("username", "required", "Choose a username."));
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(field_error(
            "username",
            "too_long",
            format!("A username can be at most {USERNAME_MAX} characters."),
        ));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(field_error(
            "username",
            "invalid_username",
            "Use only letters a–z, digits and underscores in a username.",
        ));
    }
    if RESERVED.contains(&name.as_str()) {
        return Err(field_error("username", "username_reserved", "That username is reserved; pick another."));
    }
    Ok(name)
}

/// A syntactically valid address, lower-cased so that uniqueness ignores case.
pub fn email(value: &str) -> Result<String, FieldError> {
    let email = value.trim().to_lowercase();
    if email.is_empty() {
        return Err(field_error("email", "required", "Enter your e-mail address."));
    }
    if email.len() > EMAIL_MAX {
        return Err(field_error("email", "too_long", "That e-mail address is too long."));
    }
    let parsed: Result<lettre::Address, _> = email.parse();
    match parsed {
        Ok(address) if address.domain().contains('.') || address.domain() == "localhost" => Ok(email),
        _ => {
            Err(field_error("email", "invalid_email", "That does not look like an e-mail address (name@example.org)."))
        }
    }
}

/// Long enough and not guessable: at least 10 characters and a zxcvbn score
/// of 3 or more, judged with the person's own name and e-mail as hints.
pub fn password(value: &str, hints: &[&str]) -> Result<(), FieldError> {
    let length = value.chars().count();
    if length < PASSWORD_MIN {
        return Err(field_error(
            "password",
            "password_too_short",
            format!("Use at least {PASSWORD_MIN} characters for your password."),
        ));
    }
    if length > PASSWORD_MAX {
        return Err(field_error(
            "password",
            "too_long",
            format!("A password can be at most {PASSWORD_MAX} characters."),
        ));
    }
    let entropy = zxcvbn::zxcvbn(value, hints);
    if (entropy.score() as u8) < 3 {
        let hint = entropy.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return Err(field_error(
            "password",
            "password_too_common",
            format!("That password is too easy to guess{hint}. A few unrelated words make a strong one."),
        ));
    }
    Ok(())
}

pub fn display_name(value: &str) -> Result<String, FieldError> {
    let name = bounded_text("display_name", "A display name", value, DISPLAY_NAME_MAX)?;
    if name.contains('\n') {
        return Err(field_error("display_name", "invalid_characters", "A display name fits on one line."));
    }
    Ok(name)
}

pub fn bio(value: &str) -> Result<String, FieldError> {
    bounded_text("bio", "A bio", value, BIO_MAX)
}

/// The name to show for someone: their display name, or their username when
/// they have none.
pub fn shown_name<'a>(display_name: &'a str, username: &'a str) -> &'a str {
    if display_name.is_empty() { username } else { display_name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(username("  Ada_Lovelace ").unwrap(), "ada_lovelace");
        assert_eq!(username("").unwrap_err().code, "required");
        assert_eq!(username("ada lovelace").unwrap_err().code, "invalid_username");
        assert_eq!(username("adä").unwrap_err().code, "invalid_username");
        assert_eq!(username(&"a".repeat(31)).unwrap_err().code, "too_long");
        assert_eq!(username(&"a".repeat(30)).unwrap(), "a".repeat(30));
        assert_eq!(username("Admin").unwrap_err().code, "username_reserved");
    }

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(email(" Ada@Example.ORG ").unwrap(), "ada@example.org");
        assert_eq!(email("ada@").unwrap_err().code, "invalid_email");
        assert_eq!(email("ada.example.org").unwrap_err().code, "invalid_email");
        assert_eq!(email("ada@example").unwrap_err().code, "invalid_email");
        assert_eq!(email("").unwrap_err().code, "required");
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(email(&long).unwrap_err().code, "too_long");
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert_eq!(password("short", &[]).unwrap_err().code, "password_too_short");
        assert_eq!(password("password123", &[]).unwrap_err().code, "password_too_common");
        assert_eq!(password("qwertyuiop", &[]).unwrap_err().code, "password_too_common");
        assert_eq!(password("adalovelace1", &["adalovelace"]).unwrap_err().code, "password_too_common");
        assert!(password("correct horse battery staple", &[]).is_ok());
        assert_eq!(password(&"x".repeat(300), &[]).unwrap_err().code, "too_long");
    }

    #[test]
    fn profile_text_is_bounded() {
        assert_eq!(display_name("  Ada  ").unwrap(), "Ada");
        assert_eq!(display_name(&"x".repeat(65)).unwrap_err().code, "too_long");
        assert_eq!(display_name("two\nlines").unwrap_err().code, "invalid_characters");
        assert_eq!(bio("line one\r\nline two").unwrap(), "line one\nline two");
        assert_eq!(bio(&"x".repeat(2001)).unwrap_err().code, "too_long");
        assert_eq!(bio("bell\u{7}").unwrap_err().code, "invalid_characters");
    }
}
