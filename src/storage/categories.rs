//! The admin-managed list of advisor categories.

use serde::Serialize;

use super::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct Category {
    #[serde(skip)]
    pub id: i64,
    /// Stable identifier used in URLs and the API, e.g. `data-science`.
    pub slug: String,
    pub name: String,
}

impl Store {
    pub async fn categories(&self) -> Result<Vec<Category>> {
        Ok(sqlx::query_as("SELECT id, slug, name FROM categories ORDER BY name").fetch_all(self.pool()).await?)
    }

    pub async fn create_category(&self, slug: &str, name: &str, now: i64) -> Result<Category> {
        Ok(sqlx::query_as(
            "INSERT INTO categories (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id, slug, name",
        )
        .bind(slug)
        .bind(name)
        .bind(now)
        .fetch_one(self.pool())
        .await?)
    }

    /// Removes a category; advisors simply lose it from their profile.
    pub async fn delete_category(&self, slug: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM categories WHERE slug = $1").bind(slug).execute(self.writer()).await?;
        Ok(done.rows_affected() == 1)
    }
}
