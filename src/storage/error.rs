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
