//! Conversations (N2): the list, one thread, sending.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::time_zone;
use crate::service::App;
use crate::service::AppError;
use crate::service::messages::Thread;
use crate::storage::ConversationSummary;
use crate::web::render::{Page, WebError, redirect};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "messages.html")]
struct ListPage {
    v: Visitor,
    /// (conversation, who, when)
    conversations: Vec<(ConversationSummary, String, String)>,
}

pub async fn list(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let conversations = app
        .conversations(&user)
        .await?
        .into_iter()
        .map(|c| {
            let who = match (&c.other_username, &c.other_actor) {
                (Some(username), _) => username.clone(),
                (None, Some(actor)) => actor.clone(),
                (None, None) => "someone".to_string(),
            };
            let when = time_zone::format_instant(c.last_message_at, &user.timezone);
            (c, who, when)
        })
        .collect();
    Ok(Page(ListPage { v, conversations }).into_response())
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    v: Visitor,
    thread: Thread,
    /// (mine?, sender, when, body)
    messages: Vec<(bool, String, String, String)>,
    draft: String,
    error: Option<String>,
}

async fn thread_page(
    app: &App,
    v: Visitor,
    user: &crate::storage::User,
    username: &str,
    draft: String,
    error: Option<String>,
) -> Result<ThreadPage, WebError> {
    let thread = app.thread(user, username).await?;
    let messages = thread
        .messages
        .iter()
        .map(|m| {
            let mine = m.sender_id == Some(user.id);
            let sender = m.sender_username.clone().or(m.sender_actor.clone()).unwrap_or_default();
            (mine, sender, time_zone::format_instant(m.created_at, &user.timezone), m.body.clone())
        })
        .collect();
    Ok(ThreadPage { v, thread, messages, draft, error })
}

pub async fn show(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(username): Path<String>,
) -> Result<Response, WebError> {
    Ok(Page(thread_page(&app, v, &user, &username, String::new(), None).await?).into_response())
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    body: String,
}

pub async fn send(
    State(app): State<App>,
    v: Visitor,
    SignedIn(user): SignedIn,
    Path(username): Path<String>,
    axum::Form(form): axum::Form<MessageForm>,
) -> Result<Response, WebError> {
    match app.send_message(&user, &username, &form.body).await {
        Ok(_) => Ok(redirect(&format!("/messages/{username}#latest"))),
        Err(err @ (AppError::Invalid(_) | AppError::Conflict(..) | AppError::RateLimited { .. })) => {
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            Ok(Page(thread_page(&app, v, &user, &username, form.body, Some(err.message())).await?).with_status(status))
        }
        Err(other) => Err(other.into()),
    }
}
