//! Domain rules: pure functions and types with no I/O, unit-tested directly.
//! They decide what a valid account, advisor profile or category is; the
//! service layer calls them before anything reaches storage.

pub mod account;
pub mod advisor;
pub mod api_token;
pub mod availability;
pub mod booking;
pub mod category;
pub mod ip_range;
pub mod karma;
pub mod local_time;
pub mod notification;
pub mod person_ref;
pub mod questions;
pub mod retry;
pub mod time_zone;
mod validation;

pub use validation::{FieldError, FieldErrors};

/// Trims a free-text field and checks its length (for notes and other text
/// outside the account rules).
pub fn validation_text(field: &'static str, label: &str, value: &str, max: usize) -> Result<String, FieldError> {
    validation::bounded_text(field, label, value, max)
}
