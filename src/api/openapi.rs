//! The OpenAPI document, generated from the handlers' annotations so it
//! cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Officehours API", description = "Accounts, advisor profiles and the directory of an Officehours instance. Errors are `{\"error\": code, \"message\": text}`."),
    paths(
        super::accounts::sign_up, super::accounts::me, super::accounts::update_me,
        super::tokens::create_token, super::tokens::list_tokens, super::tokens::revoke_token,
        super::advisors::directory, super::advisors::advisor, super::advisors::save_advisor,
        super::advisors::categories, super::advisors::add_category, super::advisors::delete_category,
        super::booking::create_block, super::booking::block_slots, super::booking::remove_block, super::booking::advisor_slots, super::booking::request_slot,
        super::booking::approve, super::booking::decline, super::booking::cancel, super::booking::my_sessions, super::booking::my_offerings,
        super::booking::questions, super::booking::save_questions,
        super::booking::slot_questions, super::booking::save_block_questions,
        super::engagement::calendar_feed, super::engagement::rotate_calendar_feed,
        super::engagement::revoke_calendar_feed, super::engagement::notifications, super::engagement::mark_read,
        super::engagement::notification_settings, super::engagement::save_notification_settings,
        super::engagement::conversations, super::engagement::thread, super::engagement::send_message,
        super::engagement::karma, super::engagement::no_show, super::engagement::forgive,
        super::follows::follow, super::follows::unfollow, super::follows::my_follows,
        super::admin::federation,
        super::admin::write_lock,
    ),
    modifiers(&TokenAuth, &CommonResponses),
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

/// The answers every operation can give besides its own, so the document
/// lists every status the server sends: `400` (a body, query or path that
/// does not parse), `422` for operations with input (a rule the schema
/// cannot state, or a NUL character), `401` (a missing or wrong token:
/// anonymous operations check a token when one is sent), `413`/`415` for
/// operations with a body, `429` where limits apply, `405` for a method
/// a path does not take, `503` when the database does not answer and `507`
/// when a write finds the data disk full.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ]
            .into_iter()
            .filter_map(|(writes, operation)| Some((writes, operation.as_mut()?)));
            for (writes, operation) in operations {
                let mut common = vec![
                    ("400", "invalid_json, invalid_query or invalid_path: the input does not parse"),
                    ("401", "unauthenticated: the token is missing, unknown, expired or revoked"),
                    ("405", "method_not_allowed: the path does not take this method"),
                    ("429", "rate_limited: too many requests; see Retry-After"),
                    (
                        "503",
                        "database_unavailable: the database does not answer (down or restarting); nothing was changed, try again later",
                    ),
                ];
                if writes {
                    common.push(("507", "storage_full: the server's data disk is full; nothing was saved"));
                }
                let has_input =
                    operation.request_body.is_some() || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if has_input {
                    common.push(("422", "invalid input: a rule the schema cannot state (the code and `fields` say which), or text with a NUL character (invalid_text)"));
                }
                if let Some(body) = &mut operation.request_body {
                    common.push(("413", "too_large: the body is larger than 1 MiB"));
                    common.push(("415", "unsupported_media_type: the body is not sent as application/json"));
                    if body.description.as_deref() == Some("optional") {
                        body.required = Some(utoipa::openapi::Required::False);
                    }
                }
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
        .into()
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
