//! Domain rules: pure functions and types with no I/O, unit-tested directly.
//! They decide what a valid account, advisor profile or category is; the
//! service layer calls them before anything reaches storage.

/// A closed set of states or kinds, each stored and sent as one word. The
/// storage layer decodes the stored text with `#[sqlx(try_from = "String")]`
/// (unknown text is an error), so above it a state is compared as a value,
/// never as a string; pages, JSON and activities show the same word
/// (`Display`, `Serialize`, `to_text`).
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The word it is stored and sent as.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value a word names; `None` for any other text.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The word, owned (JSON fields).
            pub fn to_text(self) -> String {
                self.as_str().to_string()
            }
        }

        /// Decoding the stored text: the storage boundary is the only place
        /// this is a string.
        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                $name::parse(&text).ok_or_else(|| format!("unknown {} `{text}`", $what))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

pub mod account;
pub mod advisor;
pub mod agenda;
pub mod api_token;
pub mod availability;
pub mod booking;
pub mod category;
pub mod federation;
pub mod ip_range;
pub mod karma;
pub mod local_time;
pub mod notification;
pub mod offering;
pub mod person_ref;
pub mod plural;
pub mod preparation;
pub mod questions;
pub mod retry;
pub mod room;
pub mod time_zone;
mod validation;

pub use validation::{FieldError, FieldErrors};

/// Trims a free-text field and checks its length (for notes and other text
/// outside the account rules).
pub fn validation_text(field: &'static str, label: &str, value: &str, max: usize) -> Result<String, FieldError> {
    validation::bounded_text(field, label, value, max)
}

/// Checks a [`words!`] enum: every value survives the trip to text and back
/// (stored, as JSON), and unknown or empty text is an error.
#[cfg(test)]
pub(crate) fn assert_words<T>(all: &[T], as_str: fn(T) -> &'static str)
where
    T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + serde::Serialize + TryFrom<String, Error = String>,
{
    let mut seen = std::collections::HashSet::new();
    for &value in all {
        let word = as_str(value);
        assert!(seen.insert(word), "`{word}` names two values");
        assert_eq!(T::try_from(word.to_string()), Ok(value));
        assert_eq!(value.to_string(), word);
        assert_eq!(serde_json::to_value(value).unwrap(), serde_json::Value::String(word.to_string()));
    }
    for unknown in ["", "bogus", " open", "OPEN"] {
        if !seen.contains(unknown) {
            assert!(T::try_from(unknown.to_string()).is_err(), "`{unknown}` was accepted");
        }
    }
}
