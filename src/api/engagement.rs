//! Calendar feed, notifications, messages and karma (issue 4).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::App;

use super::ApiError;
use super::auth::ApiUser;
use super::error::ErrorBody;
use super::json::{ApiJson, OptionalJson};
use super::types::NoteRequest;

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedJson {
    /// The private subscription URL (`…/feeds/<token>.ics`).
    pub url: String,
    pub include_blocks: bool,
}

impl From<crate::service::feeds::FeedState> for FeedJson {
    fn from(state: crate::service::feeds::FeedState) -> Self {
        FeedJson { url: state.url, include_blocks: state.include_blocks }
    }
}

/// Your calendar subscription URL; the feed is created on the first call.
#[utoipa::path(get, path = "/api/v1/me/calendar-feed", tag = "calendar", security(("token" = [])),
    responses((status = 200, body = FeedJson), (status = 401, body = ErrorBody)))]
pub async fn calendar_feed(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<FeedJson>, ApiError> {
    Ok(Json(app.calendar_feed_url(&user).await?.into()))
}

/// A new subscription URL; the old one answers 404 from now on.
#[utoipa::path(post, path = "/api/v1/me/calendar-feed/rotate", tag = "calendar", security(("token" = [])),
    responses((status = 200, body = FeedJson), (status = 401, body = ErrorBody)))]
pub async fn rotate_calendar_feed(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<FeedJson>, ApiError> {
    Ok(Json(app.rotate_calendar_feed(&user).await?.into()))
}

/// Switch the subscription off (a later GET makes a new URL).
#[utoipa::path(delete, path = "/api/v1/me/calendar-feed", tag = "calendar", security(("token" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn revoke_calendar_feed(State(app): State<App>, ApiUser(user): ApiUser) -> Result<StatusCode, ApiError> {
    app.revoke_calendar_feed(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationJson {
    pub id: i64,
    /// `request_received`, `request_approved`, `request_declined`, `request_cancelled`, `reminder`, `message`, `no_show`.
    pub kind: String,
    pub text: String,
    pub request_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub created_at: String,
    pub read: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsJson {
    pub unread: i64,
    pub notifications: Vec<NotificationJson>,
}

/// Your activity feed, newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "notifications", security(("token" = [])),
    responses((status = 200, body = NotificationsJson), (status = 401, body = ErrorBody)))]
pub async fn notifications(
    State(app): State<App>,
    ApiUser(user): ApiUser,
) -> Result<Json<NotificationsJson>, ApiError> {
    let list = app.notifications(&user, None).await?;
    Ok(Json(NotificationsJson {
        unread: app.unread_count(&user).await?,
        notifications: list
            .into_iter()
            .map(|n| NotificationJson {
                id: n.id,
                kind: n.kind.to_text(),
                text: n.body,
                request_id: n.request_id,
                conversation_id: n.conversation_id,
                created_at: instant(n.created_at),
                read: n.read_at.is_some(),
            })
            .collect(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Mark notifications up to this id read (default: all).
    pub through: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadJson {
    pub marked: u64,
}

/// Mark notifications read.
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "notifications", security(("token" = [])),
    request_body(content = ReadRequest, description = "optional"),
    responses((status = 200, body = ReadJson), (status = 401, body = ErrorBody)))]
pub async fn mark_read(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    OptionalJson(req): OptionalJson<ReadRequest>,
) -> Result<Json<ReadJson>, ApiError> {
    Ok(Json(ReadJson { marked: app.mark_read(&user, req.through).await? }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettingsJson {
    /// The notification types sent by e-mail; the others only show in the feed.
    pub mail: Vec<String>,
    /// Minutes before a session the reminder goes out (0: none; null: the instance default).
    pub reminder_minutes: Option<i64>,
}

/// Which notifications you get by e-mail, and when reminders go out.
#[utoipa::path(get, path = "/api/v1/me/notification-settings", tag = "notifications", security(("token" = [])),
    responses((status = 200, body = NotificationSettingsJson), (status = 401, body = ErrorBody)))]
pub async fn notification_settings(
    State(app): State<App>,
    ApiUser(user): ApiUser,
) -> Result<Json<NotificationSettingsJson>, ApiError> {
    let settings = app.notification_settings(&user).await?;
    Ok(Json(settings_json(&settings)))
}

/// Replace your notification settings. Unknown types or fields are refused.
#[utoipa::path(put, path = "/api/v1/me/notification-settings", tag = "notifications", security(("token" = [])),
    request_body = NotificationSettingsJson,
    responses((status = 200, body = NotificationSettingsJson), (status = 400, body = ErrorBody, description = "invalid_json (unknown fields)"),
        (status = 422, body = ErrorBody, description = "unknown_notification_type, out_of_range")))]
pub async fn save_notification_settings(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<NotificationSettingsJson>,
) -> Result<Json<NotificationSettingsJson>, ApiError> {
    let settings = app.save_notification_settings(&user, &req.mail, req.reminder_minutes).await?;
    Ok(Json(settings_json(&settings)))
}

fn settings_json(settings: &crate::service::notifications::NotificationSettings) -> NotificationSettingsJson {
    NotificationSettingsJson {
        mail: settings.mail.iter().map(|k| k.as_str().to_string()).collect(),
        reminder_minutes: (!settings.reminder_is_default).then_some(settings.reminder_minutes),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationJson {
    pub id: i64,
    /// The other person's username (local) or actor id (remote).
    pub with: String,
    pub last_message: Option<String>,
    pub last_message_at: String,
    pub unread: i64,
}

/// Your conversations, most recent first.
#[utoipa::path(get, path = "/api/v1/me/conversations", tag = "messages", security(("token" = [])),
    responses((status = 200, body = [ConversationJson]), (status = 401, body = ErrorBody)))]
pub async fn conversations(
    State(app): State<App>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<ConversationJson>>, ApiError> {
    let list = app.conversations(&user).await?;
    Ok(Json(
        list.into_iter()
            .map(|c| ConversationJson {
                id: c.id,
                with: c.other_username.or(c.other_actor).unwrap_or_default(),
                last_message: c.last_body,
                last_message_at: instant(c.last_message_at),
                unread: c.unread,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageJson {
    pub id: i64,
    /// The sender's username (local) or actor id (remote).
    pub from: String,
    pub body: String,
    pub created_at: String,
}

impl From<crate::storage::Message> for MessageJson {
    fn from(m: crate::storage::Message) -> Self {
        MessageJson {
            id: m.id,
            from: m.sender_username.or(m.sender_actor).unwrap_or_default(),
            body: m.body,
            created_at: instant(m.created_at),
        }
    }
}

/// The messages between you and `username`, oldest first (reading marks them read).
#[utoipa::path(get, path = "/api/v1/conversations/{username}", tag = "messages", security(("token" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = [MessageJson]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "cannot_message_self")))]
pub async fn thread(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(username): Path<String>,
) -> Result<Json<Vec<MessageJson>>, ApiError> {
    let thread = app.thread(&user, &username).await?;
    Ok(Json(thread.messages.into_iter().map(MessageJson::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub body: String,
}

/// Send `username` a message.
#[utoipa::path(post, path = "/api/v1/conversations/{username}/messages", tag = "messages", security(("token" = [])),
    params(("username" = String, Path)), request_body = MessageRequest,
    responses((status = 201, body = MessageJson), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "recipient_suspended"),
        (status = 422, body = ErrorBody, description = "cannot_message_self, required, too_long"),
        (status = 429, body = ErrorBody)))]
pub async fn send_message(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(username): Path<String>,
    ApiJson(req): ApiJson<MessageRequest>,
) -> Result<(StatusCode, Json<MessageJson>), ApiError> {
    let message = app.send_message(&user, &username, &req.body).await?;
    Ok((StatusCode::CREATED, Json(message.into())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KarmaEventJson {
    pub kind: String,
    pub points: i64,
    pub note: String,
    pub request_id: Option<i64>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KarmaJson {
    pub score: i64,
    pub can_request: bool,
    /// Why not, and how to recover (when `can_request` is false).
    pub reason: Option<String>,
    pub request_threshold: i64,
    pub directory_threshold: i64,
    pub history: Vec<KarmaEventJson>,
}

/// Your karma: score, what it allows, and its history.
#[utoipa::path(get, path = "/api/v1/me/karma", tag = "karma", security(("token" = [])),
    responses((status = 200, body = KarmaJson), (status = 401, body = ErrorBody)))]
pub async fn karma(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<KarmaJson>, ApiError> {
    let report = app.karma_report(&user).await?;
    Ok(Json(KarmaJson {
        score: report.score,
        can_request: report.can_request.is_ok(),
        reason: report.can_request.err(),
        request_threshold: report.rules.request_threshold,
        directory_threshold: report.rules.directory_threshold,
        history: report
            .history
            .into_iter()
            .map(|e| KarmaEventJson {
                kind: e.kind.to_text(),
                points: e.points,
                note: e.note,
                request_id: e.request_id,
                created_at: instant(e.created_at),
            })
            .collect(),
    }))
}

/// Record that the other person did not come (from the start until 24 hours after the end).
#[utoipa::path(post, path = "/api/v1/requests/{id}/no-show", tag = "karma", security(("token" = [])),
    params(("id" = i64, Path)), request_body(content = NoteRequest, description = "optional"),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "not_approved, no_show_recorded, session_not_started, no_show_window_closed")))]
pub async fn no_show(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<NoteRequest>,
) -> Result<StatusCode, ApiError> {
    app.mark_no_show(&user, id, &body.note).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forgive a no-show you recorded (within 7 days): the points go back.
#[utoipa::path(post, path = "/api/v1/requests/{id}/forgive", tag = "karma", security(("token" = [])),
    params(("id" = i64, Path)), request_body(content = NoteRequest, description = "optional"),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no_no_show, already_forgiven, forgive_window_closed")))]
pub async fn forgive(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<NoteRequest>,
) -> Result<StatusCode, ApiError> {
    app.forgive_no_show(&user, id, &body.note).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn instant(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}
