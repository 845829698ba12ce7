//! `/help`: the questions people ask again and again, answered for this
//! instance — its session length, karma rules, reminder and room minutes
//! are read from its settings, not written into the text.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::domain::karma::Rules;
use crate::domain::{plural, preparation, room};
use crate::service::App;
use crate::web::render::{Page, WebError};
use crate::web::session::Visitor;

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    v: Visitor,
    session_minutes: i64,
    early_minutes: i64,
    extension_minutes: i64,
    no_show_minutes: i64,
    reminder: String,
    rules: Rules,
    tips: Vec<String>,
    late_cancel: String,
}

pub async fn help(State(app): State<App>, v: Visitor) -> Result<Response, WebError> {
    let rules = app.karma_rules().await?;
    let config = &app.config;
    let reminder = match config.reminder_minutes {
        0 => String::new(),
        n => plural::count(n, "minute"),
    };
    let page = HelpPage {
        v,
        session_minutes: config.session_minutes,
        early_minutes: preparation::early_minutes(),
        extension_minutes: room::EXTENSION_MS / 60_000,
        no_show_minutes: config.room_no_show_minutes,
        reminder,
        late_cancel: plural::count(rules.late_cancel_minutes, "minute"),
        rules,
        tips: preparation::tips(),
    };
    Ok(Page(page).into_response())
}
