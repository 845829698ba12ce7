//! An advisor's named offerings (issue 17, item 13).

use serde::Serialize;

use super::{Backend, Result, StorageError, Store};
use crate::domain::offering::DEFAULT_TITLE;

/// One offering. Its rules are overrides of the advisor's booking rules
/// (`None` inherits); the default offering has none and reads the
/// advisor's rules, questions and private link.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Offering {
    pub id: i64,
    pub advisor_id: i64,
    pub title: String,
    pub description: String,
    /// `None`: the instance's session length.
    pub session_minutes: Option<i64>,
    #[sqlx(try_from = "super::DbBool")]
    pub is_default: bool,
    pub buffer_minutes: Option<i64>,
    pub min_notice_minutes: Option<i64>,
    pub horizon_days: Option<i64>,
    pub max_per_learner_week: Option<i64>,
    #[sqlx(try_from = "super::DbOptBool")]
    pub approval_required: Option<bool>,
    #[sqlx(try_from = "super::DbOptBool")]
    pub unlisted: Option<bool>,
    #[sqlx(try_from = "super::DbOptBool")]
    pub note_optional: Option<bool>,
    #[serde(skip)]
    pub private_link_hash: Option<String>,
    pub created_at: i64,
}

const OFFERING_COLUMNS: &str = "id, advisor_id, title, description, session_minutes, is_default, buffer_minutes, \
     min_notice_minutes, horizon_days, max_per_learner_week, approval_required, unlisted, note_optional, \
     private_link_hash, created_at";

impl Store {
    /// An advisor's offerings, the default one first, then oldest first.
    pub async fn offerings(&self, advisor_id: i64) -> Result<Vec<Offering>> {
        let sql = format!(
            "SELECT {OFFERING_COLUMNS} FROM offerings WHERE advisor_id = $1 AND deleted_at IS NULL \
             ORDER BY is_default DESC, created_at, id"
        );
        Ok(sqlx::query_as(&sql).bind(advisor_id).fetch_all(self.pool()).await?)
    }

    /// One offering that has not been removed.
    pub async fn offering(&self, id: i64) -> Result<Offering> {
        let sql = format!("SELECT {OFFERING_COLUMNS} FROM offerings WHERE id = $1 AND deleted_at IS NULL");
        Ok(sqlx::query_as(&sql).bind(id).fetch_one(self.pool()).await?)
    }

    /// The advisor's default offering, made ("Office hours") when missing.
    pub async fn default_offering(&self, advisor_id: i64, now: i64) -> Result<Offering> {
        let sql = format!(
            "SELECT {OFFERING_COLUMNS} FROM offerings WHERE advisor_id = $1 AND is_default = $2 AND deleted_at IS NULL"
        );
        let found: Option<Offering> =
            sqlx::query_as(&sql).bind(advisor_id).bind(true).fetch_optional(self.pool()).await?;
        if let Some(found) = found {
            return Ok(found);
        }
        let insert = format!(
            "INSERT INTO offerings (advisor_id, title, description, is_default, created_at) \
             VALUES ($1, $2, '', $3, $4) RETURNING {OFFERING_COLUMNS}"
        );
        match sqlx::query_as(&insert)
            .bind(advisor_id)
            .bind(DEFAULT_TITLE)
            .bind(true)
            .bind(now)
            .fetch_one(self.pool())
            .await
        {
            Ok(made) => Ok(made),
            // Made at the same moment by another request: read that one.
            Err(err) if err.as_database_error().is_some_and(|db| db.is_unique_violation()) => {
                Ok(sqlx::query_as(&sql).bind(advisor_id).bind(true).fetch_one(self.pool()).await?)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Adds a (non-default) offering.
    pub async fn create_offering(&self, offering: &Offering, now: i64) -> Result<Offering> {
        let sql = format!(
            "INSERT INTO offerings (advisor_id, title, description, session_minutes, is_default, buffer_minutes, \
             min_notice_minutes, horizon_days, max_per_learner_week, approval_required, unlisted, note_optional, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {OFFERING_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(offering.advisor_id)
            .bind(&offering.title)
            .bind(&offering.description)
            .bind(offering.session_minutes)
            .bind(false)
            .bind(offering.buffer_minutes)
            .bind(offering.min_notice_minutes)
            .bind(offering.horizon_days)
            .bind(offering.max_per_learner_week)
            .bind(offering.approval_required)
            .bind(offering.unlisted)
            .bind(offering.note_optional)
            .bind(now)
            .fetch_one(self.pool())
            .await?)
    }

    /// Saves an offering's title, description, length, rules and link.
    pub async fn update_offering(&self, offering: &Offering) -> Result<()> {
        sqlx::query(
            "UPDATE offerings SET title = $2, description = $3, session_minutes = $4, buffer_minutes = $5, \
             min_notice_minutes = $6, horizon_days = $7, max_per_learner_week = $8, approval_required = $9, \
             unlisted = $10, note_optional = $11, private_link_hash = $12 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(offering.id)
        .bind(&offering.title)
        .bind(&offering.description)
        .bind(offering.session_minutes)
        .bind(offering.buffer_minutes)
        .bind(offering.min_notice_minutes)
        .bind(offering.horizon_days)
        .bind(offering.max_per_learner_week)
        .bind(offering.approval_required)
        .bind(offering.unlisted)
        .bind(offering.note_optional)
        .bind(&offering.private_link_hash)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The live offering whose private link has this hash.
    pub async fn offering_by_private_link(&self, link_hash: &str) -> Result<Option<Offering>> {
        let sql =
            format!("SELECT {OFFERING_COLUMNS} FROM offerings WHERE private_link_hash = $1 AND deleted_at IS NULL");
        Ok(sqlx::query_as(&sql).bind(link_hash).fetch_optional(self.pool()).await?)
    }

    /// Removes an offering with its blocks — unless sessions from `now` on
    /// are booked or asked for in it: then nothing changes and their number
    /// comes back as `Err`. Its slots ahead are locked before they are
    /// counted (requests lock their slot), so none is asked for meanwhile.
    pub async fn remove_offering(&self, id: i64, now: i64) -> Result<std::result::Result<(), i64>> {
        let mut tx = self.begin_write().await?;
        if !self.lock_row(&mut tx, "offerings", id).await? {
            return Err(StorageError::NotFound);
        }
        let ahead = "SELECT s.id FROM slots s JOIN blocks b ON b.id = s.block_id \
                     WHERE b.offering_id = $1 AND s.cancelled_at IS NULL AND s.ends_at > $2";
        if self.backend() == Backend::Postgres {
            sqlx::query(&format!("SELECT id FROM slots WHERE id IN ({ahead}) ORDER BY id FOR UPDATE"))
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let live: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM requests WHERE status IN ('requested', 'approved') AND slot_id IN ({ahead})"
        ))
        .bind(id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if live > 0 {
            return Ok(Err(live));
        }
        sqlx::query(&format!("UPDATE slots SET cancelled_at = $2 WHERE id IN ({ahead}) AND starts_at >= $2"))
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE blocks SET deleted_at = $2 WHERE offering_id = $1 AND deleted_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE offerings SET deleted_at = $2, private_link_hash = NULL WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}
