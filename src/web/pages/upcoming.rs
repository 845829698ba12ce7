//! Upcoming: the agenda a person lands on after logging in — what needs
//! their answer, their next sessions and what they wait for, on both
//! sides, with the actions each allows.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::domain::booking::RequestStatus;
use crate::service::App;
use crate::service::agenda::Upcoming;
use crate::web::render::{Page, WebError};
use crate::web::session::{SignedIn, Visitor};

#[derive(Template)]
#[template(path = "upcoming.html")]
struct UpcomingPage {
    v: Visitor,
    zone: String,
    agenda: Upcoming,
    is_advisor: bool,
}

pub async fn upcoming(State(app): State<App>, v: Visitor, SignedIn(user): SignedIn) -> Result<Response, WebError> {
    let agenda = app.upcoming(&user).await?;
    Ok(Page(UpcomingPage { zone: user.timezone.clone(), is_advisor: user.is_advisor, agenda, v }).into_response())
}
