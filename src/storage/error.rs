use thiserror::Error;

/// What can go wrong below the domain: the database, or a rule it enforces.
/// Unique violations are turned into [`StorageError::Duplicate`] naming the
/// [`Constraint`], so callers can answer "that e-mail is taken" even when
/// two sign-ups race past the application's own check.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("{0}")]
    Config(String),
    #[error("duplicate {0}")]
    Duplicate(Constraint),
    #[error("not found")]
    NotFound,
    /// A rule checked inside a write transaction said no.
    #[error("conflict: {0}")]
    Conflict(Constraint),
    /// A limit checked inside a write transaction was reached, with the
    /// count found.
    #[error("limit {0} reached at {1}")]
    Limit(Constraint, i64),
    /// The database cannot be reached or does not answer (connection
    /// refused or lost, no connection free within the pool's wait, the
    /// server shutting down or starting up): nothing was written, and the
    /// same request may work a moment later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The disk under the database is full (SQLite `SQLITE_FULL`,
    /// PostgreSQL `disk_full`): the write was rolled back.
    #[error("database disk full: {0}")]
    Full(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The rules storage enforces that callers tell apart: unique constraints
/// of the schema, and the checks and limits of write transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// `users.username` is unique.
    Username,
    /// `users.email` is unique.
    Email,
    /// A category's slug and name are unique.
    Category,
    /// One live request per learner and slot (`requests_one_live_per_learner`).
    LiveRequest,
    /// One approved request per slot (`requests_one_approved_per_slot`, S5).
    ApprovedRequest,
    /// A received activity is applied once (`inbox_seen`).
    Activity,
    /// A block's occurrences do not overlap the advisor's other live slots.
    BlockOverlap,
    /// An advisor's upcoming live slots stay under the instance's cap.
    SlotCap,
    /// Any other unique constraint.
    Other,
}

impl Constraint {
    /// Its name in logs and messages: the field for a unique constraint
    /// (`username`; `value` for any other), else the rule's code.
    pub fn name(self) -> &'static str {
        match self {
            Constraint::Username => "username",
            Constraint::Email => "email",
            Constraint::Category => "category",
            Constraint::LiveRequest => "live_request",
            Constraint::ApprovedRequest => "approved_request",
            Constraint::Activity => "activity",
            Constraint::BlockOverlap => "block_overlap",
            Constraint::SlotCap => "too_many_slots",
            Constraint::Other => "value",
        }
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Columns with a unique constraint, as both backends name them in errors
/// (SQLite: `UNIQUE constraint failed: users.email`; PostgreSQL:
/// `users_email_key`).
const UNIQUE_FIELDS: &[(&str, &str, Constraint)] = &[
    ("users.username", "users_username_key", Constraint::Username),
    ("users.email", "users_email_key", Constraint::Email),
    ("categories.slug", "categories_slug_key", Constraint::Category),
    ("categories.name", "categories_name_key", Constraint::Category),
    // The learner's one live request per slot, then the one approved request per slot (S5).
    ("requests.slot_id, requests.learner_id", "requests_one_live_per_learner", Constraint::LiveRequest),
    ("requests.slot_id", "requests_one_approved_per_slot", Constraint::ApprovedRequest),
];

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::RowNotFound = err {
            return StorageError::NotFound;
        }
        if let Some(db) = err.as_database_error()
            && db.is_unique_violation()
        {
            let constraint = db.constraint().unwrap_or_default();
            let message = db.message();
            for (sqlite_name, pg_name, named) in UNIQUE_FIELDS {
                if constraint == *pg_name || message.contains(sqlite_name) {
                    return StorageError::Duplicate(*named);
                }
            }
            return StorageError::Duplicate(Constraint::Other);
        }
        match fault(&err) {
            Some(Fault::Unavailable) => StorageError::Unavailable(err),
            Some(Fault::Full) => StorageError::Full(err),
            None => StorageError::Database(err),
        }
    }
}

/// The failures of the database itself, as opposed to a statement's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Unavailable,
    Full,
}

/// Whether `err` says the database is unreachable or its disk is full.
/// PostgreSQL's SQLSTATEs are five characters (class `08` connection
/// exceptions, `57P01`–`57P03` shutting down or starting up, `53300` too
/// many connections, `53100` disk full); SQLite's are numbers, the primary
/// code in the low byte (13 `SQLITE_FULL`, 10 `SQLITE_IOERR`, 14
/// `SQLITE_CANTOPEN`).
fn fault(err: &sqlx::Error) -> Option<Fault> {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => return Some(Fault::Unavailable),
        _ => {}
    }
    let code = err.as_database_error()?.code()?;
    if let Ok(sqlite) = code.parse::<i32>() {
        return match sqlite & 0xff {
            13 => Some(Fault::Full),
            10 | 14 => Some(Fault::Unavailable),
            _ => None,
        };
    }
    match code.as_ref() {
        "53100" => Some(Fault::Full),
        "53300" | "57P01" | "57P02" | "57P03" => Some(Fault::Unavailable),
        class if class.starts_with("08") => Some(Fault::Unavailable),
        _ => None,
    }
}
