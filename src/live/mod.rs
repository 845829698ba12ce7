//! Live sessions: the room's signalling (who is in, chat, warnings, the
//! extension, the hard stop) over a WebSocket, one task per room. The rules
//! are `domain::room`; who may come in is `service::rooms`. Media (the
//! voice and the shared screen) is the voice engine's.

pub mod protocol;
pub mod room;
pub mod socket;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::service::App;

pub use room::Rooms;

/// `/rooms/{id}/join-token` and `/rooms/{id}/live`, with the browser
/// session (a logged-in participant needs no room link).
pub fn router(app: App, rooms: Arc<Rooms>) -> Router<App> {
    Router::new()
        .route("/rooms/{id}/join-token", get(socket::join_token))
        .route("/rooms/{id}/live", get(socket::live))
        .layer(axum::middleware::from_fn_with_state(app, crate::web::session::browser_session))
        .layer(axum::Extension(rooms))
}
