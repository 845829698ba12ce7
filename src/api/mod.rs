//! The JSON API under `/api/v1`, authenticated with personal tokens
//! (`Authorization: Bearer oh_…`), described by `/api/v1/openapi.json`.

mod accounts;
mod admin;
mod advisors;
mod auth;
mod booking;
mod engagement;
mod error;
mod follows;
mod json;
mod openapi;
mod tokens;
mod types;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::service::App;

pub use error::ApiError;

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/accounts", post(accounts::sign_up))
        .route("/api/v1/tokens", post(tokens::create_token).get(tokens::list_tokens))
        .route("/api/v1/tokens/{id}", delete(tokens::revoke_token))
        .route("/api/v1/me", get(accounts::me).patch(accounts::update_me))
        .route("/api/v1/me/advisor", put(advisors::save_advisor))
        .route("/api/v1/advisors", get(advisors::directory))
        .route("/api/v1/advisors/{username}", get(advisors::advisor))
        .route("/api/v1/advisors/{username}/slots", get(booking::advisor_slots))
        .route("/api/v1/advisors/{username}/questions", get(booking::questions))
        .route("/api/v1/me/questions", put(booking::save_questions))
        .route("/api/v1/slots/{id}/questions", get(booking::slot_questions))
        .route("/api/v1/blocks/{id}/questions", put(booking::save_block_questions))
        .route("/api/v1/blocks", post(booking::create_block))
        .route("/api/v1/blocks/{id}/slots", get(booking::block_slots))
        .route("/api/v1/blocks/{id}/remove", post(booking::remove_block))
        .route("/api/v1/slots/{id}/requests", post(booking::request_slot))
        .route("/api/v1/requests/{id}/approve", post(booking::approve))
        .route("/api/v1/requests/{id}/decline", post(booking::decline))
        .route("/api/v1/requests/{id}/cancel", post(booking::cancel))
        .route("/api/v1/me/sessions", get(booking::my_sessions))
        .route("/api/v1/me/offerings", get(booking::my_offerings))
        .route("/api/v1/me/calendar-feed", get(engagement::calendar_feed).delete(engagement::revoke_calendar_feed))
        .route("/api/v1/me/calendar-feed/rotate", post(engagement::rotate_calendar_feed))
        .route("/api/v1/me/notifications", get(engagement::notifications))
        .route("/api/v1/me/notifications/read", post(engagement::mark_read))
        .route(
            "/api/v1/me/notification-settings",
            get(engagement::notification_settings).put(engagement::save_notification_settings),
        )
        .route("/api/v1/me/conversations", get(engagement::conversations))
        .route("/api/v1/conversations/{username}", get(engagement::thread))
        .route("/api/v1/conversations/{username}/messages", post(engagement::send_message))
        .route("/api/v1/me/karma", get(engagement::karma))
        .route("/api/v1/follows", post(follows::follow))
        .route("/api/v1/follows/{handle}", delete(follows::unfollow))
        .route("/api/v1/me/follows", get(follows::my_follows))
        .route("/api/v1/requests/{id}/no-show", post(engagement::no_show))
        .route("/api/v1/requests/{id}/forgive", post(engagement::forgive))
        .route("/api/v1/categories", get(advisors::categories).post(advisors::add_category))
        .route("/api/v1/categories/{slug}", delete(advisors::delete_category))
        .route("/api/v1/admin/federation", get(admin::federation))
        .route("/api/v1/admin/write-lock", get(admin::write_lock))
        .route("/api/v1/{*rest}", get(error::unknown_endpoint).post(error::unknown_endpoint))
        .layer(axum::middleware::from_fn(error::json_errors))
}
