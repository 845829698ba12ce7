//! Remote actors as last fetched (people on Mastodon, other instances).

use super::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RemoteActor {
    pub id: i64,
    pub ap_id: String,
    pub kind: String,
    pub username: String,
    pub domain: String,
    pub name: String,
    pub summary: String,
    pub url: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_pem: String,
    pub fetched_at: i64,
    /// `publicKey.id`; empty for rows stored before it was kept.
    pub public_key_id: String,
    /// The FEP-521a Ed25519 Multikey: its id and `publicKeyMultibase`.
    pub ed25519_key_id: Option<String>,
    pub ed25519_key: Option<String>,
}

/// A fetched actor to store (everything but the row id and time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRemoteActor {
    pub ap_id: String,
    pub kind: String,
    pub username: String,
    pub domain: String,
    pub name: String,
    pub summary: String,
    pub url: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_pem: String,
    pub public_key_id: String,
    pub ed25519_key_id: Option<String>,
    pub ed25519_key: Option<String>,
}

pub(super) const COLUMNS: &str = "id, ap_id, kind, username, domain, name, summary, url, inbox, shared_inbox, \
     public_key_pem, fetched_at, public_key_id, ed25519_key_id, ed25519_key";

impl Store {
    pub async fn remote_actor(&self, ap_id: &str) -> Result<Option<RemoteActor>> {
        let sql = format!("SELECT {COLUMNS} FROM remote_actors WHERE ap_id = $1");
        Ok(sqlx::query_as(&sql).bind(ap_id).fetch_optional(self.pool()).await?)
    }

    /// The newest remote actor stored under a handle (`ada`, `alpha.test`).
    pub async fn remote_actor_by_handle(&self, username: &str, domain: &str) -> Result<Option<RemoteActor>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM remote_actors WHERE LOWER(username) = LOWER($1) AND LOWER(domain) = LOWER($2) \
             ORDER BY fetched_at DESC LIMIT 1"
        );
        Ok(sqlx::query_as(&sql).bind(username).bind(domain).fetch_optional(self.pool()).await?)
    }

    /// Stores a freshly fetched actor, replacing what was known of it.
    pub async fn upsert_remote_actor(&self, actor: &NewRemoteActor, now: i64) -> Result<RemoteActor> {
        let sql = format!(
            "INSERT INTO remote_actors (ap_id, kind, username, domain, name, summary, url, inbox, shared_inbox, \
             public_key_pem, fetched_at, public_key_id, ed25519_key_id, ed25519_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (ap_id) DO UPDATE SET kind = excluded.kind, username = excluded.username, \
             domain = excluded.domain, name = excluded.name, summary = excluded.summary, url = excluded.url, \
             inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, public_key_pem = excluded.public_key_pem, \
             fetched_at = excluded.fetched_at, public_key_id = excluded.public_key_id, \
             ed25519_key_id = excluded.ed25519_key_id, ed25519_key = excluded.ed25519_key RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(&actor.ap_id)
            .bind(&actor.kind)
            .bind(&actor.username)
            .bind(&actor.domain)
            .bind(&actor.name)
            .bind(&actor.summary)
            .bind(&actor.url)
            .bind(&actor.inbox)
            .bind(&actor.shared_inbox)
            .bind(&actor.public_key_pem)
            .bind(now)
            .bind(&actor.public_key_id)
            .bind(&actor.ed25519_key_id)
            .bind(&actor.ed25519_key)
            .fetch_one(self.pool())
            .await?)
    }
}
