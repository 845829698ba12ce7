//! Advisor use cases: switching advisor on and editing the profile, the
//! directory, and the admin's category list.

use std::sync::Arc;

use crate::domain::{FieldErrors, account, advisor, category};
use crate::service::App;
use crate::storage::{AdvisorProfile, AdvisorUpdate, Category, DirectoryPage, DirectoryQuery, StorageError, User};

use super::AppError;

pub const DIRECTORY_PAGE_SIZE: u32 = 20;
const SEARCH_TERMS_MAX: usize = 8;
const SEARCH_TERM_MAX: usize = 64;

/// The advisor form as submitted (web) or sent (API).
#[derive(Debug, Clone, Default)]
pub struct AdvisorForm {
    pub enabled: bool,
    pub headline: String,
    pub bio: String,
    pub topics: Vec<String>,
    pub categories: Vec<String>,
    pub links: Vec<String>,
}

impl App {
    pub async fn save_advisor_profile(&self, user: &User, form: &AdvisorForm) -> Result<AdvisorProfile, AppError> {
        if form.enabled && !user.email_verified {
            return Err(AppError::Forbidden(
                "email_unverified",
                "Confirm your e-mail address before you offer sessions: use the link we sent you, or ask for a new one."
                    .into(),
            ));
        }
        let known: Vec<String> = self.categories().await?.iter().map(|c| c.slug.clone()).collect();
        let mut errors = FieldErrors::new();
        let headline = errors.check(advisor::headline(&form.headline));
        let bio = errors.check(account::bio(&form.bio));
        let topics = errors.check(advisor::topics(form.topics.iter().map(String::as_str)));
        let categories = errors.check(advisor::categories(&form.categories, &known));
        let links = errors.check(advisor::links(form.links.iter().map(String::as_str)));
        let (Some(headline), Some(bio), Some(topics), Some(category_slugs), Some(links)) =
            (headline, bio, topics, categories, links)
        else {
            return Err(AppError::Invalid(errors));
        };
        let update = AdvisorUpdate { enabled: form.enabled, headline, bio, topics, category_slugs, links };
        let saved = self.store.save_advisor_profile(user.id, &update, self.clock.now_ms()).await?;
        self.person_changed(user.id);
        if form.enabled {
            // Every advisor offers something: the default offering.
            self.store.default_offering(user.id, self.clock.now_ms()).await?;
            self.availability_changed(user.id);
        }
        self.directory_changed();
        Ok(saved)
    }

    /// An advisor's public profile; people who are not advisors have none.
    pub async fn advisor(&self, username: &str) -> Result<AdvisorProfile, AppError> {
        match self.profile(username, None).await {
            Ok(profile) if profile.user.is_advisor => Ok(profile),
            Ok(_) | Err(AppError::NotFound(_)) => Err(AppError::NotFound("advisor")),
            Err(other) => Err(other),
        }
    }

    /// An advisor's account alone, without loading the profile's lists.
    pub async fn advisor_account(&self, username: &str) -> Result<User, AppError> {
        match self.store.user_by_username(&username.to_ascii_lowercase()).await {
            // A suspended advisor's profile and availability are hidden.
            Ok(user) if user.is_advisor && user.suspended_at.is_none() => Ok(user),
            Ok(_) | Err(StorageError::NotFound) => Err(AppError::NotFound("advisor")),
            Err(other) => Err(other.into()),
        }
    }

    /// Anyone's public profile page (advisor or not). A suspended person's
    /// is shown to admins only (to lift the suspension), as if it did not
    /// exist to everyone else.
    pub async fn profile(&self, username: &str, viewer: Option<&User>) -> Result<AdvisorProfile, AppError> {
        Ok(self.public_profile(username, viewer).await?.profile.as_ref().clone())
    }

    /// The profile (advisor or not) of a person, for their own settings page.
    pub async fn own_profile(&self, user: &User) -> Result<AdvisorProfile, AppError> {
        Ok(self.store.advisor_profile(&user.username).await?)
    }

    /// Searches by words (name, headline, bio, topics) and category.
    /// Results are cached for a short while (the directory is read far more
    /// than it changes); every profile or category change on this node
    /// empties the cache, other nodes catch up within the cache's lifetime.
    pub async fn directory(&self, q: &str, category: Option<&str>, page: u32) -> Result<Arc<DirectoryPage>, AppError> {
        let terms: Vec<String> =
            q.split_whitespace().take(SEARCH_TERMS_MAX).map(|t| t.chars().take(SEARCH_TERM_MAX).collect()).collect();
        let category = category.map(str::trim).filter(|c| !c.is_empty());
        if let Some(slug) = category
            && !self.categories().await?.iter().any(|c| c.slug == slug)
        {
            return Err(AppError::invalid(
                "category",
                "unknown_category",
                format!("There is no category \"{slug}\" on this instance."),
            ));
        }
        let query = DirectoryQuery {
            terms,
            category: category.map(str::to_string),
            page: page.max(1),
            per_page: DIRECTORY_PAGE_SIZE,
            min_karma: Some(self.cached_karma_rules().await?.directory_threshold),
        };
        let key = format!("{}\u{0}{}\u{0}{}", query.terms.join(" ").to_lowercase(), category.unwrap_or(""), query.page);
        if let Some(hit) = self.directory_cache.get(&key) {
            return Ok(hit);
        }
        // One search per missing page; the others wait for it.
        let _loading = self.loads.lock_name(&key).await;
        if let Some(hit) = self.directory_cache.get(&key) {
            return Ok(hit);
        }
        let found = Arc::new(self.store.search_advisors(&query).await?);
        self.directory_cache.insert(key, found.clone());
        Ok(found)
    }

    /// Forgets cached directory pages after anything they show changed.
    pub(crate) fn directory_changed(&self) {
        self.directory_cache.invalidate_all();
    }

    /// The newest advisors, for the home page.
    pub async fn newest_advisors(&self, limit: i64) -> Result<Vec<AdvisorProfile>, AppError> {
        Ok(self.store.newest_advisors(limit).await?)
    }

    /// The admin's category list (cached in memory for a minute).
    pub async fn categories(&self) -> Result<Arc<Vec<Category>>, AppError> {
        if let Some(cached) = self.categories.get(&()) {
            return Ok(cached);
        }
        let fresh = Arc::new(self.store.categories().await?);
        self.categories.insert((), fresh.clone());
        Ok(fresh)
    }

    pub async fn add_category(&self, admin: &User, name: &str) -> Result<Category, AppError> {
        require_admin(admin)?;
        let (name, slug) = category::name_and_slug(name)?;
        let created = self.store.create_category(&slug, &name, self.clock.now_ms()).await?;
        self.categories.invalidate_all();
        self.directory_changed();
        Ok(created)
    }

    pub async fn delete_category(&self, admin: &User, slug: &str) -> Result<(), AppError> {
        require_admin(admin)?;
        if !self.store.delete_category(slug).await? {
            return Err(AppError::NotFound("category"));
        }
        // Profiles list their categories.
        self.changes.everyone();
        self.categories.invalidate_all();
        self.directory_changed();
        Ok(())
    }
}

pub fn require_admin(user: &User) -> Result<(), AppError> {
    if user.is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden("admin_only", "Only an admin of this instance can do that.".into()))
    }
}
