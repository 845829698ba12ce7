//! Availability blocks, slots, requests and decisions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::domain::booking::{Action, SlotState};
use crate::domain::person_ref::PersonRef;
use crate::domain::questions::QuestionInput;
use crate::service::App;
use crate::service::booking::{BLOCK_SLOTS_PAGE, BlockInput};
use crate::storage::BlockOverrides;

use super::ApiError;
use super::auth::ApiUser;
use super::error::ErrorBody;
use super::json::{ApiJson, ApiQuery, OptionalJson};
use super::types::{
    BlockCreated, BlockRemoved, BlockRequest, BlockSlots, LinkQuery, NoteRequest, OfferingJson, PageParams,
    QuestionJson, QuestionRequest, RemoveBlockRequest, RequestCreated, RequestJson, RequestSlot, SessionJson, SlotJson,
    SlotsParams, parse_instant,
};

/// Publish availability: one block, or a weekly series. Times are local,
/// `YYYY-MM-DDTHH:MM` to the minute, in `timezone` (an IANA name); the block
/// starts between today and the booking horizon plus 30 days. The answer
/// lists the first 100 slots; `next` pages through the rest.
#[utoipa::path(post, path = "/api/v1/blocks", tag = "booking", security(("token" = [])), request_body = BlockRequest,
    responses((status = 201, body = BlockCreated),
        (status = 400, body = ErrorBody, description = "invalid_json (malformed, wrong field types or unknown fields)"),
        (status = 401, body = ErrorBody, description = "unauthenticated"),
        (status = 403, body = ErrorBody, description = "not_an_advisor"),
        (status = 409, body = ErrorBody, description = "block_overlap"),
        (status = 413, body = ErrorBody, description = "invalid_json (body too large)"),
        (status = 415, body = ErrorBody, description = "invalid_json (not `application/json`)"),
        (status = 422, body = ErrorBody, description = "invalid_datetime (not `YYYY-MM-DDTHH:MM`), invalid_time (seconds or fractions), \
            time_has_offset (an offset or `Z`: give the zone in `timezone`), unknown_timezone (not an IANA \
            `Area/Location` name, `UTC` or `Etc/…`), block_spans_days, block_ends_before_start, block_in_past, \
            out_of_range (starts after the booking horizon plus 30 days, or a number field outside its range), \
            invalid_date, invalid_weekday, series_ends_before_start, series_too_long (more than 366 days, or \
            more occurrences than `max_series_occurrences`), block_holds_no_session, too_many_slots (more upcoming \
            slots than `max_open_slots_per_advisor`), unknown_offering (`offering_id` is not one of your offerings)")))]
pub async fn create_block(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<BlockRequest>,
) -> Result<(StatusCode, Json<BlockCreated>), ApiError> {
    let input = BlockInput {
        start: req.start,
        end: req.end,
        timezone: req.timezone.unwrap_or_default(),
        repeat_weekly_until: req.repeat_weekly_until,
        weekdays: req.weekdays,
        overrides: BlockOverrides {
            buffer_minutes: req.buffer_minutes,
            min_notice_minutes: req.min_notice_minutes,
            horizon_days: req.horizon_days,
            max_per_learner_week: req.max_per_learner_week,
            approval_required: req.approval_required,
            unlisted: req.unlisted,
        },
        offering: req.offering_id,
    };
    let (block, slots) = app.create_block(&user, &input).await?;
    Ok((StatusCode::CREATED, Json(BlockCreated::new(&block, &slots))))
}

/// One page of a block's slots (its advisor only), 100 per page in time order.
#[utoipa::path(get, path = "/api/v1/blocks/{id}/slots", tag = "booking", security(("token" = [])),
    params(("id" = i64, Path), PageParams),
    responses((status = 200, body = BlockSlots),
        (status = 400, body = ErrorBody, description = "invalid_query"),
        (status = 401, body = ErrorBody, description = "unauthenticated"),
        (status = 404, body = ErrorBody, description = "not_found (no such block, or not yours)")))]
pub async fn block_slots(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<BlockSlots>, ApiError> {
    let page = params.page.unwrap_or(1);
    if page == 0 {
        return Err(crate::service::AppError::invalid("page", "invalid_page", "`page` counts from 1.").into());
    }
    let (slots, total) = app.block_slots_page(&user, id, page).await?;
    debug_assert!(slots.len() as i64 <= BLOCK_SLOTS_PAGE);
    Ok(Json(BlockSlots::page(id, page, slots.iter(), total)))
}

/// An advisor's upcoming slots (default: from now to the advisor's booking
/// horizon). For `name@domain` of an advisor on another server: their
/// published availability as known here (fetched when not yet known); the
/// slot ids are this instance's, to request with `POST /api/v1/slots/{id}/requests`.
#[utoipa::path(get, path = "/api/v1/advisors/{username}/slots", tag = "booking",
    params(("username" = String, Path, description = "a local username, or name@domain"), SlotsParams),
    responses((status = 200, body = [SlotJson]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn advisor_slots(
    State(app): State<App>,
    viewer: Option<ApiUser>,
    Path(username): Path<String>,
    ApiQuery(params): ApiQuery<SlotsParams>,
    data: activitypub_federation::config::Data<crate::federation::context::FedData>,
) -> Result<Json<Vec<SlotJson>>, ApiError> {
    let username = match PersonRef::as_written(&username) {
        PersonRef::Local(name) => name,
        PersonRef::Remote(handle) => {
            let (_, _, slots) = crate::federation::mirror::remote_slots(&data, &handle.to_string()).await?;
            return Ok(Json(slots.iter().filter(|s| s.status != SlotState::Cancelled).map(SlotJson::from).collect()));
        }
    };
    let from = params.from.as_deref().map(|t| parse_instant("from", t)).transpose()?;
    let to = params.to.as_deref().map(|t| parse_instant("to", t)).transpose()?;
    let viewer = viewer.map(|v| v.0);
    let slots = app.advisor_slots(&username, viewer.as_ref(), from, to).await?;
    Ok(Json(slots.iter().map(SlotJson::from).collect()))
}

/// Ask for a slot, with a note and answers to the advisor's questions.
#[utoipa::path(post, path = "/api/v1/slots/{id}/requests", tag = "booking", security(("token" = [])),
    params(("id" = i64, Path)), request_body(content = RequestSlot, description = "optional"),
    responses((status = 201, body = RequestCreated),
        (status = 404, body = ErrorBody, description = "no such slot, or an unlisted one without its link"),
        (status = 409, body = ErrorBody, description = "slot_taken, slot_past, slot_cancelled, inside_minimum_notice, beyond_horizon, weekly_limit, already_requested, own_slot, advisor_suspended")))]
pub async fn request_slot(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(slot_id): Path<i64>,
    OptionalJson(req): OptionalJson<RequestSlot>,
) -> Result<(StatusCode, Json<RequestCreated>), ApiError> {
    let request = app.request_slot(&user, slot_id, &req.note, &req.answers, req.link.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(RequestCreated { id: request.id, status: request.status.to_text() })))
}

async fn decide(
    app: App,
    user: crate::storage::User,
    id: i64,
    action: Action,
    note: String,
) -> Result<Json<RequestJson>, ApiError> {
    let decided = app.decide(&user, id, action, &note).await?;
    Ok(Json(RequestJson::from(&decided.request)))
}

/// Approve a request (its advisor). Other pending requests for the slot are declined.
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", tag = "booking", security(("token" = [])),
    params(("id" = i64, Path)), request_body(content = NoteRequest, description = "optional"),
    responses((status = 200, body = RequestJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already_decided, slot_taken, slot_past")))]
pub async fn approve(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<NoteRequest>,
) -> Result<Json<RequestJson>, ApiError> {
    decide(app, user, id, Action::Approve, body.note).await
}

/// Decline a request (its advisor).
#[utoipa::path(post, path = "/api/v1/requests/{id}/decline", tag = "booking", security(("token" = [])),
    params(("id" = i64, Path)), request_body(content = NoteRequest, description = "optional"),
    responses((status = 200, body = RequestJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn decline(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<NoteRequest>,
) -> Result<Json<RequestJson>, ApiError> {
    decide(app, user, id, Action::Decline, body.note).await
}

/// Remove one occurrence of a block, or the whole series: every live request
/// and booking on the removed slots is cancelled with the note (and, where
/// the block was published, its followers see the events cancelled).
#[utoipa::path(post, path = "/api/v1/blocks/{id}/remove", tag = "booking", security(("token" = [])),
    params(("id" = i64, Path)), request_body(content = RemoveBlockRequest, description = "optional"),
    responses((status = 200, body = BlockRemoved), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid_date, too_long")))]
pub async fn remove_block(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<RemoveBlockRequest>,
) -> Result<Json<BlockRemoved>, ApiError> {
    let cancelled = app.remove_block(&user, id, body.date.as_deref(), &body.note).await?;
    Ok(Json(BlockRemoved { cancelled: cancelled.len() }))
}

/// Cancel a request or booking (the learner, or the advisor of an approved one).
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "booking", security(("token" = [])),
    params(("id" = i64, Path)), request_body(content = NoteRequest, description = "optional"),
    responses((status = 200, body = RequestJson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<NoteRequest>,
) -> Result<Json<RequestJson>, ApiError> {
    decide(app, user, id, Action::Cancel, body.note).await
}

/// Your requests and bookings, as learner and as advisor.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "booking", security(("token" = [])),
    responses((status = 200, body = [SessionJson]), (status = 401, body = ErrorBody)))]
pub async fn my_sessions(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<Vec<SessionJson>>, ApiError> {
    let sessions = app.my_sessions(&user).await?;
    Ok(Json(sessions.iter().map(|s| SessionJson::new(s, &user.username)).collect()))
}

/// Your offerings, the default one first (none until you are an advisor).
#[utoipa::path(get, path = "/api/v1/me/offerings", tag = "booking", security(("token" = [])),
    responses((status = 200, body = [OfferingJson]), (status = 401, body = ErrorBody)))]
pub async fn my_offerings(State(app): State<App>, ApiUser(user): ApiUser) -> Result<Json<Vec<OfferingJson>>, ApiError> {
    let offerings = app.offerings(&user).await?;
    Ok(Json(
        offerings
            .iter()
            .map(|o| OfferingJson {
                id: o.id,
                title: o.title.clone(),
                description: o.description.clone(),
                session_minutes: app.offering_minutes(o),
                is_default: o.is_default,
                unlisted: o.unlisted,
            })
            .collect(),
    ))
}

/// The questions an advisor asks with every request.
#[utoipa::path(get, path = "/api/v1/advisors/{username}/questions", tag = "booking",
    params(("username" = String, Path)), responses((status = 200, body = [QuestionJson]), (status = 404, body = ErrorBody)))]
pub async fn questions(
    State(app): State<App>,
    Path(username): Path<String>,
) -> Result<Json<Vec<QuestionJson>>, ApiError> {
    let advisor = app.advisor_account(&username).await?;
    Ok(Json(app.booking_questions(advisor.id, None).await?.iter().map(QuestionJson::from).collect()))
}

/// Replace your booking questions (at most five).
#[utoipa::path(put, path = "/api/v1/me/questions", tag = "booking", security(("token" = [])),
    request_body = [QuestionRequest],
    responses((status = 200, body = [QuestionJson]), (status = 422, body = ErrorBody, description = "invalid_choices, too_many, …")))]
pub async fn save_questions(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<Vec<QuestionRequest>>,
) -> Result<Json<Vec<QuestionJson>>, ApiError> {
    let saved = app.save_booking_questions(&user, None, &question_inputs(req)).await?;
    Ok(Json(saved.iter().map(QuestionJson::from).collect()))
}

/// The questions a request for this slot must answer (its block's own, or
/// else the advisor's).
#[utoipa::path(get, path = "/api/v1/slots/{id}/questions", tag = "booking",
    params(("id" = i64, Path), LinkQuery),
    responses((status = 200, body = [QuestionJson]),
        (status = 404, body = ErrorBody, description = "no such slot, or an unlisted one without its link"),
        (status = 409, body = ErrorBody, description = "advisor_suspended")))]
pub async fn slot_questions(
    State(app): State<App>,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<LinkQuery>,
) -> Result<Json<Vec<QuestionJson>>, ApiError> {
    let (slot, _) = app.requestable_slot(id, query.link.as_deref()).await?;
    Ok(Json(app.questions_for_slot(&slot).await?.iter().map(QuestionJson::from).collect()))
}

/// Give one of your blocks its own questions (an empty list: ask your usual ones).
#[utoipa::path(put, path = "/api/v1/blocks/{id}/questions", tag = "booking", security(("token" = [])),
    params(("id" = i64, Path)), request_body = [QuestionRequest],
    responses((status = 200, body = [QuestionJson]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn save_block_questions(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<Vec<QuestionRequest>>,
) -> Result<Json<Vec<QuestionJson>>, ApiError> {
    let saved = app.save_booking_questions(&user, Some(id), &question_inputs(req)).await?;
    Ok(Json(saved.iter().map(QuestionJson::from).collect()))
}

fn question_inputs(req: Vec<QuestionRequest>) -> Vec<QuestionInput> {
    req.into_iter()
        .map(|q| QuestionInput { label: q.label, kind: q.kind, choices: q.choices.join("\n"), required: q.required })
        .collect()
}
