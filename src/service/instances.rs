//! The health of remote instances: what an admin sees of federation (every
//! remote instance we deliver to or hear from, its health — alive, failing,
//! dead — and its delivery queue), and the two events that change it: a
//! delivery failing, and a verified activity arriving.

use crate::domain::federation::{InstanceState, SignatureStyle};
use crate::service::App;
use crate::storage::{InstanceOverview, User};

use super::AppError;
use super::advisors::require_admin;

/// An instance's state as the admin page and the API name it.
pub fn instance_state(instance: &InstanceOverview) -> InstanceState {
    InstanceState::of(instance.dead_since, instance.failures)
}

/// How an instance takes the signatures of our deliveries, if known.
pub fn instance_signatures(instance: &InstanceOverview) -> Option<SignatureStyle> {
    instance.http_signatures.as_deref().and_then(SignatureStyle::parse)
}

impl App {
    /// Admins only.
    pub async fn federation_instances(&self, admin: &User) -> Result<Vec<InstanceOverview>, AppError> {
        require_admin(admin)?;
        Ok(self.store.instances_overview().await?)
    }

    /// How long writers of this node waited for the database's write lock
    /// since it started, and which database it is (admins only; see
    /// `storage::WriteLockStats`).
    pub fn write_lock_waits(
        &self,
        admin: &User,
    ) -> Result<(crate::storage::Backend, crate::storage::WriteLockSnapshot), AppError> {
        require_admin(admin)?;
        Ok((self.store.backend(), self.store.write_lock_waits()))
    }

    /// A verified activity from `domain` arrived: if it was dead it is
    /// revived, and what waited for it is sent now. Domains known not to be
    /// dead are remembered for a minute (per node), so the inbox does not
    /// ask the database about them on every activity; marking a domain dead
    /// forgets it here at once, and on other nodes within that minute.
    pub async fn instance_spoke(&self, domain: &str) -> Result<bool, AppError> {
        if self.live_instances.contains_key(domain) {
            return Ok(false);
        }
        let revived = self.store.instance_spoke(domain, self.clock.now_ms()).await?;
        self.live_instances.insert(domain.to_string(), ());
        if revived {
            tracing::info!(instance = %domain, "revived: it spoke to us; its waiting deliveries go out now");
            self.jobs.notify_one();
        }
        Ok(revived)
    }

    /// A delivery to `domain` failed (not refused); true when this marks it
    /// dead (failures for longer than `federation_dead_after_secs`).
    pub async fn instance_failed(&self, domain: &str) -> Result<bool, AppError> {
        let dead_after = self.config.federation_dead_after_secs as i64 * 1000;
        let dead = self.store.instance_failed(domain, dead_after, self.clock.now_ms()).await?;
        if dead {
            self.live_instances.invalidate(domain);
        }
        Ok(dead)
    }

    /// A signed fetch found how `domain` takes our signatures.
    pub async fn instance_signatures_learned(&self, domain: &str, style: SignatureStyle) -> Result<(), AppError> {
        Ok(self.store.instance_signatures_learned(domain, style).await?)
    }

    /// How `domain` takes the signatures of our deliveries, when known.
    pub async fn instance_signatures(&self, domain: &str) -> Result<Option<SignatureStyle>, AppError> {
        Ok(self.store.instance_signatures(domain).await?)
    }
}
