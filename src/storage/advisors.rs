//! Advisor profiles (topics, categories, links) and the directory search.

use std::collections::HashMap;

use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::{Any, FromRow, Row};

use super::accounts::{USER_COLUMNS, prefixed_user_columns};
use super::{Category, Result, Store, User, like_pattern};

#[derive(Debug, Clone)]
pub struct AdvisorProfile {
    pub user: User,
    pub topics: Vec<String>,
    pub categories: Vec<Category>,
    pub links: Vec<String>,
}

/// A validated advisor profile as the person saved it.
#[derive(Debug, Clone, Default)]
pub struct AdvisorUpdate {
    pub enabled: bool,
    pub headline: String,
    pub bio: String,
    pub topics: Vec<String>,
    pub category_slugs: Vec<String>,
    pub links: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    /// Words that must each appear in the name, username, headline, bio or a topic.
    pub terms: Vec<String>,
    pub category: Option<String>,
    pub page: u32,
    pub per_page: u32,
    /// Advisors whose karma is below this are left out (`None`: no limit).
    pub min_karma: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DirectoryPage {
    pub advisors: Vec<AdvisorProfile>,
    pub total: i64,
}

impl Store {
    /// Replaces a person's advisor profile in one transaction.
    pub async fn save_advisor_profile(&self, user_id: i64, update: &AdvisorUpdate, now: i64) -> Result<AdvisorProfile> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET is_advisor = $2, headline = $3, bio = $4, updated_at = $5 WHERE id = $1")
            .bind(user_id)
            .bind(update.enabled)
            .bind(&update.headline)
            .bind(&update.bio)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for table in ["advisor_topics", "advisor_links", "advisor_categories"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1")).bind(user_id).execute(&mut *tx).await?;
        }
        for (position, topic) in update.topics.iter().enumerate() {
            sqlx::query("INSERT INTO advisor_topics (user_id, position, topic) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(position as i64)
                .bind(topic)
                .execute(&mut *tx)
                .await?;
        }
        for (position, url) in update.links.iter().enumerate() {
            sqlx::query("INSERT INTO advisor_links (user_id, position, url) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(position as i64)
                .bind(url)
                .execute(&mut *tx)
                .await?;
        }
        for slug in &update.category_slugs {
            sqlx::query(
                "INSERT INTO advisor_categories (user_id, category_id) SELECT $1, id FROM categories WHERE slug = $2",
            )
            .bind(user_id)
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let user = self.user_by_id(user_id).await?;
        let mut profiles = self.attach_profiles(vec![user]).await?;
        Ok(profiles.remove(0))
    }

    /// The profile of any account (advisor or not) by username.
    pub async fn advisor_profile(&self, username: &str) -> Result<AdvisorProfile> {
        let user = self.user_by_username(username).await?;
        let mut profiles = self.attach_profiles(vec![user]).await?;
        Ok(profiles.remove(0))
    }

    /// One page of listed advisors matching every term and the category.
    pub async fn search_advisors(&self, query: &DirectoryQuery) -> Result<DirectoryPage> {
        let mut filter = String::from(" FROM users u WHERE u.is_advisor = TRUE AND u.suspended_at IS NULL");
        if let Some(min) = query.min_karma {
            // A number from the instance's rules, never user input.
            filter.push_str(&format!(
                " AND (SELECT COALESCE(SUM(k.points), 0) FROM karma_events k WHERE k.user_id = u.id) >= {min}"
            ));
        }
        let mut params: Vec<String> = Vec::new();
        for term in &query.terms {
            params.push(like_pattern(term));
            let p = format!("${}", params.len());
            filter.push_str(&format!(
                " AND (LOWER(u.username) LIKE {p} ESCAPE '\\' OR LOWER(u.display_name) LIKE {p} ESCAPE '\\' \
                 OR LOWER(u.headline) LIKE {p} ESCAPE '\\' OR LOWER(u.bio) LIKE {p} ESCAPE '\\' \
                 OR EXISTS (SELECT 1 FROM advisor_topics t WHERE t.user_id = u.id AND LOWER(t.topic) LIKE {p} ESCAPE '\\'))"
            ));
        }
        if let Some(slug) = &query.category {
            params.push(slug.clone());
            filter.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM advisor_categories ac JOIN categories c ON c.id = ac.category_id \
                 WHERE ac.user_id = u.id AND c.slug = ${})",
                params.len()
            ));
        }
        // One query for the page and the total (a window count); a second
        // only when the page is past the end and so carries no total.
        let per_page = query.per_page.clamp(1, 100) as i64;
        let offset = query.page.saturating_sub(1) as i64 * per_page;
        let list_sql = format!(
            "SELECT {}, COUNT(*) OVER () AS total_count{filter} \
             ORDER BY LOWER(CASE WHEN u.display_name = '' THEN u.username ELSE u.display_name END), u.id \
             LIMIT ${} OFFSET ${}",
            prefixed_user_columns("u"),
            params.len() + 1,
            params.len() + 2
        );
        let mut list = sqlx::query(&list_sql);
        for p in &params {
            list = list.bind(p);
        }
        let rows = list.bind(per_page).bind(offset).fetch_all(self.pool()).await?;
        let total = match rows.first() {
            Some(row) => row.try_get::<i64, _>("total_count")?,
            None if offset == 0 => 0,
            None => {
                let count_sql = format!("SELECT COUNT(*){filter}");
                let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
                for p in &params {
                    count = count.bind(p);
                }
                count.fetch_one(self.pool()).await?
            }
        };
        let users = rows.iter().map(User::from_row).collect::<Result<Vec<User>, _>>()?;
        Ok(DirectoryPage { advisors: self.attach_profiles(users).await?, total })
    }

    /// The newest advisors, for the home page.
    pub async fn newest_advisors(&self, limit: i64) -> Result<Vec<AdvisorProfile>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE is_advisor = TRUE AND suspended_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $1"
        );
        let users = sqlx::query_as(&sql).bind(limit).fetch_all(self.pool()).await?;
        self.attach_profiles(users).await
    }

    /// Loads the topics, links and categories of many people in one query.
    async fn attach_profiles(&self, users: Vec<User>) -> Result<Vec<AdvisorProfile>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        let placeholders = super::placeholders(1, ids.len());
        // kind 0 = topic, 1 = link, 2 = category; `ord` keeps each list's order.
        let sql = format!(
            "SELECT user_id, CAST(0 AS BIGINT) AS kind, position AS ord, topic AS a, '' AS b \
               FROM advisor_topics WHERE user_id IN ({placeholders}) \
             UNION ALL SELECT user_id, CAST(1 AS BIGINT), position, url, '' \
               FROM advisor_links WHERE user_id IN ({placeholders}) \
             UNION ALL SELECT ac.user_id, CAST(2 AS BIGINT), c.id, c.slug, c.name \
               FROM advisor_categories ac JOIN categories c ON c.id = ac.category_id WHERE ac.user_id IN ({placeholders}) \
             ORDER BY 1, 2, 3"
        );
        let rows: Vec<(i64, i64, i64, String, String)> =
            bind_ids(sqlx::query_as(&sql), &ids).fetch_all(self.pool()).await?;

        let mut by_user: HashMap<i64, AdvisorProfile> = users
            .into_iter()
            .map(|u| (u.id, AdvisorProfile { user: u, topics: Vec::new(), categories: Vec::new(), links: Vec::new() }))
            .collect();
        for (user_id, kind, ord, a, b) in rows {
            let Some(p) = by_user.get_mut(&user_id) else { continue };
            match kind {
                0 => p.topics.push(a),
                1 => p.links.push(a),
                _ => p.categories.push(Category { id: ord, slug: a, name: b }),
            }
        }
        for p in by_user.values_mut() {
            p.categories.sort_by(|x, y| x.name.cmp(&y.name));
        }
        Ok(ids.iter().filter_map(|id| by_user.remove(id)).collect())
    }
}

fn bind_ids<'q, O>(
    mut query: QueryAs<'q, Any, O, AnyArguments<'q>>,
    ids: &[i64],
) -> QueryAs<'q, Any, O, AnyArguments<'q>> {
    for id in ids {
        query = query.bind(*id);
    }
    query
}
