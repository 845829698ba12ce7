use thiserror::Error;

/// What can go wrong below the domain: the database, or a uniqueness rule it
/// enforces. Unique violations are turned into [`StorageError::Duplicate`]
/// naming the field, so callers can answer "that e-mail is taken" even when
/// two sign-ups race past the application's own check.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("{0}")]
    Config(String),
    #[error("duplicate {0}")]
    Duplicate(&'static str),
    #[error("not found")]
    NotFound,
    /// A rule checked inside a write transaction said no (e.g. `block_overlap`).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A limit checked inside a write transaction was reached: its code
    /// (e.g. `too_many_slots`) and the count found.
    #[error("limit {0} reached at {1}")]
    Limit(&'static str, i64),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Columns with a unique constraint, as both backends name them in errors
/// (SQLite: `UNIQUE constraint failed: users.email`; PostgreSQL:
/// `users_email_key`).
const UNIQUE_FIELDS: &[(&str, &str, &str)] = &[
    ("users.username", "users_username_key", "username"),
    ("users.email", "users_email_key", "email"),
    ("categories.slug", "categories_slug_key", "category"),
    ("categories.name", "categories_name_key", "category"),
    // The learner's one live request per slot, then the one approved request per slot (S5).
    ("requests.slot_id, requests.learner_id", "requests_one_live_per_learner", "live_request"),
    ("requests.slot_id", "requests_one_approved_per_slot", "approved_request"),
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
            for (sqlite_name, pg_name, field) in UNIQUE_FIELDS {
                if constraint == *pg_name || message.contains(sqlite_name) {
                    return StorageError::Duplicate(field);
                }
            }
            return StorageError::Duplicate("value");
        }
        StorageError::Database(err)
    }
}
