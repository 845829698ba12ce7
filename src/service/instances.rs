//! What an admin sees of federation: every remote instance we deliver to or
//! hear from, its health (alive, failing, dead) and its delivery queue.

use crate::app::App;
use crate::storage::{InstanceOverview, User};

use super::AppError;
use super::advisors::require_admin;

/// An instance's state as the admin page and the API name it.
pub fn instance_state(instance: &InstanceOverview) -> &'static str {
    if instance.dead_since.is_some() {
        "dead"
    } else if instance.failures > 0 {
        "failing"
    } else {
        "ok"
    }
}

impl App {
    /// Admins only.
    pub async fn federation_instances(&self, admin: &User) -> Result<Vec<InstanceOverview>, AppError> {
        require_admin(admin)?;
        Ok(self.store.instances_overview().await?)
    }
}
