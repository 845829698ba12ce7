//! The API's wire types, apart from the handlers that produce them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Config;
use crate::storage::{AdvisorProfile, Category, User};

/// Your own account, as `GET /api/v1/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub display_name: String,
    pub bio: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub is_advisor: bool,
    pub is_pro: bool,
    pub is_admin: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<&User> for Account {
    fn from(u: &User) -> Self {
        Account {
            username: u.username.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            display_name: u.display_name.clone(),
            bio: u.bio.clone(),
            timezone: u.timezone.clone(),
            is_advisor: u.is_advisor,
            is_pro: u.is_pro,
            is_admin: u.is_admin,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// An advisor's public profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Advisor {
    pub username: String,
    /// `@username@domain`, the fediverse handle.
    pub handle: String,
    pub display_name: String,
    pub headline: String,
    pub bio: String,
    pub topics: Vec<String>,
    pub categories: Vec<Category>,
    pub links: Vec<String>,
    pub is_advisor: bool,
    /// The HTML profile page.
    pub url: String,
}

impl Advisor {
    pub fn new(p: &AdvisorProfile, config: &Config) -> Self {
        Advisor {
            username: p.user.username.clone(),
            handle: format!("@{}@{}", p.user.username, config.domain),
            display_name: p.user.name().to_string(),
            headline: p.user.headline.clone(),
            bio: p.user.bio.clone(),
            topics: p.topics.clone(),
            categories: p.categories.clone(),
            links: p.links.clone(),
            is_advisor: p.user.is_advisor,
            url: config.link(&format!("/users/{}", p.user.username)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Directory {
    pub advisors: Vec<Advisor>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub username: String,
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub display_name: String,
    /// IANA zone; UTC when left out.
    #[serde(default)]
    pub timezone: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Username or e-mail address.
    pub login: String,
    pub password: String,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
}

/// Fields to change; those left out keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub timezone: Option<String>,
}

/// The whole advisor profile; fields left out are emptied.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvisorRequest {
    /// Listed in the directory while true (needs a confirmed e-mail).
    pub enabled: bool,
    #[serde(default)]
    pub headline: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub topics: Vec<String>,
    /// Category slugs, see `GET /api/v1/categories`.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub links: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    pub name: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DirectoryParams {
    /// Words to find in names, headlines, bios and topics.
    #[serde(default)]
    pub q: String,
    /// A category slug.
    pub category: Option<String>,
    /// 1-based page number (20 per page).
    pub page: Option<u32>,
}

pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}
