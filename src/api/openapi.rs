//! The OpenAPI document, generated from the handlers' annotations so it
//! cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Officehours API", description = "Accounts, advisor profiles and the directory of an Officehours instance. Errors are `{\"error\": code, \"message\": text}`."),
    paths(
        super::accounts::sign_up, super::accounts::create_token, super::accounts::me, super::accounts::update_me,
        super::advisors::directory, super::advisors::advisor, super::advisors::save_advisor,
        super::advisors::categories, super::advisors::add_category, super::advisors::delete_category,
        super::booking::create_block, super::booking::block_slots, super::booking::remove_block, super::booking::advisor_slots, super::booking::request_slot,
        super::booking::approve, super::booking::decline, super::booking::cancel, super::booking::my_sessions,
        super::booking::questions, super::booking::save_questions,
        super::booking::slot_questions, super::booking::save_block_questions,
        super::engagement::calendar_feed, super::engagement::rotate_calendar_feed,
        super::engagement::revoke_calendar_feed, super::engagement::notifications, super::engagement::mark_read,
        super::engagement::notification_settings, super::engagement::save_notification_settings,
        super::engagement::conversations, super::engagement::thread, super::engagement::send_message,
        super::engagement::karma, super::engagement::no_show, super::engagement::forgive,
        super::follows::follow, super::follows::unfollow, super::follows::my_follows,
        super::admin::federation,
    ),
    modifiers(&TokenAuth),
    tags((name = "accounts"), (name = "directory"), (name = "booking"), (name = "calendar"), (name = "notifications"), (name = "messages"), (name = "karma"), (name = "federation"), (name = "admin"))
)]
pub struct ApiDoc;

struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("oh_…").build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
