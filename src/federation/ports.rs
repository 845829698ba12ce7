//! Federation as the service layer's ports (`service::ports`): what a
//! booking event sends, direct messages, publishing availability.

use std::sync::Arc;

use async_trait::async_trait;

use crate::service::App;
use crate::service::AppError;
use crate::service::ports::{AvailabilityPublisher, BookingProtocol, DirectMessages, People, Ports};
use crate::storage::{NewDelivery, PendingEvent, RemoteActor, Request, SessionEntry, User};

use super::FederationError;

/// ActivityPub behind every port.
pub struct ActivityPub;

/// The ports of an instance that federates.
pub fn ports() -> Ports {
    let activitypub = Arc::new(ActivityPub);
    Ports { booking: activitypub.clone(), messages: activitypub.clone(), publisher: activitypub }
}

fn internal(err: FederationError) -> AppError {
    match err {
        FederationError::App(err) => err,
        other => AppError::Internal(anyhow::anyhow!("{other}")),
    }
}

#[async_trait]
impl BookingProtocol for ActivityPub {
    async fn booking_effects(
        &self,
        app: &App,
        event: &PendingEvent,
        request: &Request,
        entry: &SessionEntry,
        people: People<'_>,
    ) -> Result<Vec<NewDelivery>, AppError> {
        super::requests::protocol_effects(app, event, request, entry, people).await.map_err(internal)
    }
}

impl DirectMessages for ActivityPub {
    fn direct_message(&self, app: &App, sender: &User, to: &RemoteActor, text: &str) -> Result<NewDelivery, AppError> {
        super::messages::direct_note(app, sender, to, text, None).map_err(internal)
    }
}

#[async_trait]
impl AvailabilityPublisher for ActivityPub {
    async fn publish_for(&self, app: &App, advisor: &User) -> Result<usize, AppError> {
        super::events::publish_for(app, advisor).await
    }

    async fn send_live_to(&self, app: &App, advisor: &User, inbox: &str) -> Result<usize, AppError> {
        super::events::send_live_events_to(app, advisor, inbox).await
    }
}
