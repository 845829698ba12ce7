use crate::domain::FieldErrors;
use crate::storage::{Constraint, StorageError};

/// The one error type of the service layer. Each variant has exactly one HTTP
/// status and machine code ([`AppError::status`], [`AppError::code`]); the web
/// pages and the API only choose how to render it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("authentication required")]
    Unauthenticated,
    #[error("wrong username or password")]
    WrongCredentials,
    #[error("{1}")]
    Forbidden(&'static str, String),
    /// A booking rule or the state of a slot refused the action (409).
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    /// The database does not answer (down, restarting, or no connection
    /// free in time): nothing was done; trying again later may work (503).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] StorageError),
    /// The disk under the database is full: the change was not saved (507).
    #[error("storage full: {0}")]
    StorageFull(#[source] StorageError),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid(FieldErrors::single(field, code, message))
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(errors) => match errors.first() {
                Some(e) if e.code.ends_with("_taken") => 409,
                _ => 422,
            },
            AppError::NotFound(_) => 404,
            AppError::Unauthenticated | AppError::WrongCredentials => 401,
            AppError::Forbidden(..) => 403,
            AppError::Conflict(..) => 409,
            AppError::RateLimited { .. } => 429,
            AppError::Unavailable(_) => 503,
            AppError::StorageFull(_) => 507,
            AppError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(errors) => errors.first().map(|e| e.code).unwrap_or("invalid_input"),
            AppError::NotFound(_) => "not_found",
            AppError::Unauthenticated => "unauthenticated",
            AppError::WrongCredentials => "wrong_credentials",
            AppError::Forbidden(code, _) | AppError::Conflict(code, _) => code,
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable(_) => "database_unavailable",
            AppError::StorageFull(_) => "storage_full",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// For `map_err` on a storage call: "not found" means there is no such
    /// `what`; any other failure keeps its own meaning (a database that
    /// does not answer is not a missing slot).
    pub fn missing(what: &'static str) -> impl FnOnce(StorageError) -> AppError {
        move |err| match err {
            StorageError::NotFound => AppError::NotFound(what),
            other => other.into(),
        }
    }

    /// Logs what people are not shown: the cause of an internal error, a
    /// database that does not answer, a full disk (the admin's to fix).
    pub fn log_cause(&self, what: &str) {
        match self {
            AppError::Internal(cause) => tracing::error!(error = ?cause, "{what} failed"),
            AppError::Unavailable(cause) => {
                tracing::error!(error = %cause, "{what} failed: the database is unavailable")
            }
            AppError::StorageFull(cause) => tracing::error!(error = %cause, "{what} failed: the data disk is full"),
            _ => {}
        }
    }

    /// A sentence safe to show anyone: internal causes are logged, never shown.
    pub fn message(&self) -> String {
        match self {
            AppError::Invalid(errors) => {
                errors.first().map(|e| e.message.clone()).unwrap_or_else(|| "The input is not valid.".into())
            }
            AppError::NotFound(what) => format!("No such {what}."),
            AppError::Unauthenticated => "Log in first (or send a valid API token).".into(),
            AppError::WrongCredentials => "That username or e-mail and password do not match.".into(),
            AppError::Forbidden(_, message) | AppError::Conflict(_, message) => message.clone(),
            AppError::RateLimited { retry_after_secs } => {
                format!(
                    "Too many attempts. Try again in {}.",
                    crate::domain::plural::count(retry_after_secs.div_ceil(60).max(1) as i64, "minute")
                )
            }
            AppError::Unavailable(_) => {
                "The server cannot reach its database just now; nothing was changed. Try again in a minute.".into()
            }
            AppError::StorageFull(_) => {
                "The server's disk is full, so nothing was saved. Try again later; the administrator has been told."
                    .into()
            }
            AppError::Internal(_) => "Something went wrong on our side; it has been logged.".into(),
        }
    }
}

impl From<StorageError> for AppError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound => AppError::NotFound("record"),
            StorageError::Conflict(Constraint::BlockOverlap) => AppError::Conflict(
                "block_overlap",
                "This block overlaps another of your blocks; change its times or delete the other one first.".into(),
            ),
            StorageError::Conflict(rule) => {
                AppError::Conflict(rule.name(), "That conflicts with the current state.".into())
            }
            StorageError::Duplicate(Constraint::ApprovedRequest) => {
                AppError::Conflict("slot_taken", "Someone else has this slot already.".into())
            }
            StorageError::Duplicate(Constraint::Activity) => {
                AppError::Conflict("already_received", "This activity was received before.".into())
            }
            StorageError::Duplicate(Constraint::LiveRequest) => {
                AppError::Conflict("already_requested", "You have already asked for this slot.".into())
            }
            StorageError::Duplicate(unique) => {
                let (code, message) = match unique {
                    Constraint::Username => ("username_taken", "That username is taken; pick another."),
                    Constraint::Email => ("email_taken", "An account with that e-mail address already exists."),
                    Constraint::Category => ("category_taken", "A category with that name already exists."),
                    _ => ("duplicate", "That already exists."),
                };
                AppError::invalid(unique.name(), code, message)
            }
            StorageError::Unavailable(_) => AppError::Unavailable(err),
            StorageError::Full(_) => AppError::StorageFull(err),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<crate::domain::FieldError> for AppError {
    fn from(error: crate::domain::FieldError) -> Self {
        AppError::Invalid(FieldErrors(vec![error]))
    }
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        AppError::Invalid(errors)
    }
}
