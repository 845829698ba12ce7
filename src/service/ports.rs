//! What the use cases need from the world outside this server, as small
//! traits the composition root (`crate::root`) fills in: today the
//! federation layer implements all three. A service calls a port; it never
//! names `crate::federation`, so federation depends on services and not the
//! other way round.

use std::sync::Arc;

use async_trait::async_trait;

use crate::storage::{NewDelivery, PendingEvent, RemoteActor, Request, SessionEntry, User};

use super::{App, AppError};

/// Both people of a request, and their remote actors where they are remote.
pub struct People<'a> {
    pub advisor: &'a User,
    pub learner: &'a User,
    pub advisor_actor: Option<&'a RemoteActor>,
    pub learner_actor: Option<&'a RemoteActor>,
}

/// What a booking event must tell remote people (Join, Accept, Reject,
/// Undo, acknowledgements): activities to queue in the same transaction as
/// the event's other effects.
#[async_trait]
pub trait BookingProtocol: Send + Sync {
    async fn booking_effects(
        &self,
        app: &App,
        event: &PendingEvent,
        request: &Request,
        entry: &SessionEntry,
        people: People<'_>,
    ) -> Result<Vec<NewDelivery>, AppError>;
}

/// A direct message from a local person to a remote one, ready to queue.
pub trait DirectMessages: Send + Sync {
    fn direct_message(&self, app: &App, sender: &User, to: &RemoteActor, text: &str) -> Result<NewDelivery, AppError>;
}

/// Publishing an advisor's availability to their followers.
#[async_trait]
pub trait AvailabilityPublisher: Send + Sync {
    /// Compares what is out there with what the advisor offers now and
    /// queues what changed; returns how many activities were queued.
    async fn publish_for(&self, app: &App, advisor: &User) -> Result<usize, AppError>;

    /// Queues the advisor's live availability to one new follower's
    /// `inbox` (the publisher only sends changes); returns how many.
    async fn send_live_to(&self, app: &App, advisor: &User, inbox: &str) -> Result<usize, AppError>;
}

/// The ports an [`App`] is built with.
#[derive(Clone)]
pub struct Ports {
    pub booking: Arc<dyn BookingProtocol>,
    pub messages: Arc<dyn DirectMessages>,
    pub publisher: Arc<dyn AvailabilityPublisher>,
}
