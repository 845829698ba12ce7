//! The web UI: server-rendered pages from `frontend/templates`, static files
//! from `frontend/static`, both compiled into the binary.

mod assets;
mod pages;
pub mod render;
pub mod session;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::service::App;

/// A form's address opened with GET (a reload of a form shown again with
/// its errors, a bookmark): the page the form is on.
fn back(to: &'static str) -> impl Fn() -> std::future::Ready<axum::response::Response> + Clone + Send + Sync + 'static {
    move || std::future::ready(render::redirect(to))
}

async fn request_page(axum::extract::Path((id, _)): axum::extract::Path<(i64, String)>) -> axum::response::Response {
    render::redirect(&format!("/requests/{id}"))
}

pub fn router(app: App) -> Router<App> {
    Router::new()
        .route("/", get(pages::home::home))
        .route("/signup", get(pages::auth::signup_page).post(pages::auth::signup))
        .route("/login", get(pages::auth::login_page).post(pages::auth::login))
        .route("/logout", post(pages::auth::logout))
        .route("/verify-email", get(pages::auth::verify_email))
        .route("/verify-email/resend", post(pages::auth::resend_verification))
        .route("/password/forgot", get(pages::auth::forgot_page).post(pages::auth::forgot))
        .route("/password/reset", get(pages::auth::reset_page).post(pages::auth::reset))
        .route("/settings", get(pages::settings::account_page).post(pages::settings::save_profile))
        .route("/settings/email", get(back("/settings")).post(pages::settings::change_email))
        .route("/settings/password", get(back("/settings")).post(pages::settings::change_password))
        .route("/settings/tokens", get(back("/settings")).post(pages::settings::create_token))
        .route("/settings/tokens/{id}/revoke", post(pages::settings::revoke_token))
        .route("/settings/advisor", get(pages::settings::advisor_page).post(pages::settings::save_advisor))
        .route("/advisors", get(pages::directory::directory))
        .route("/users/{username}", get(pages::directory::profile))
        .route("/remote/{handle}", get(pages::remote::profile))
        .route("/remote/{handle}/follow", post(pages::remote::follow))
        .route("/remote/{handle}/unfollow", post(pages::remote::unfollow))
        .route("/settings/booking", get(pages::booking_settings::page).post(pages::booking_settings::save))
        .route("/settings/booking/link", get(back("/settings/booking")).post(pages::booking_settings::new_link))
        .route("/settings/booking/calendar", get(back("/settings/booking")).post(pages::booking_settings::save_busy))
        .route(
            "/settings/booking/questions",
            get(back("/settings/booking")).post(pages::booking_settings::save_questions),
        )
        .route("/settings/offerings", get(pages::offerings::list).post(pages::offerings::create))
        .route("/settings/offerings/{id}", get(pages::offerings::edit_page).post(pages::offerings::update))
        .route("/settings/offerings/{id}/remove", get(back("/settings/offerings")).post(pages::offerings::remove))
        .route("/settings/offerings/{id}/link", get(back("/settings/offerings")).post(pages::offerings::new_link))
        .route("/book/{secret}", get(pages::booking_settings::private_page))
        .route("/upcoming", get(pages::upcoming::upcoming))
        .route("/calendar", get(pages::calendar::calendar))
        .route("/calendar/blocks", get(back("/calendar#add")).post(pages::calendar::add_block))
        .route("/blocks/{id}/remove", get(pages::calendar::remove_page).post(pages::calendar::remove))
        .route("/blocks/{id}/edit", get(pages::calendar::edit_page).post(pages::calendar::edit))
        .route("/blocks/{id}/questions", post(pages::calendar::save_block_questions))
        .route("/slots/{id}/request", get(pages::booking::new_request).post(pages::booking::send_request))
        .route("/requests/{id}", get(pages::booking::show))
        .route("/rooms/{id}", get(pages::room::room))
        .route("/requests/{id}/{action}", get(request_page).post(pages::booking::act))
        .route("/admin/users", get(pages::admin::users_page))
        .route("/admin/categories", get(pages::admin::categories_page).post(pages::admin::add_category))
        .route("/admin/categories/{slug}/delete", post(pages::admin::delete_category))
        .route("/admin/karma", get(pages::karma::rules).post(pages::karma::save_rules))
        .route("/admin/federation", get(pages::admin::federation_page))
        .route("/users/{username}/suspend", post(pages::karma::suspend))
        .route("/karma", get(pages::karma::own))
        .route("/notifications", get(pages::notifications::feed))
        .route("/notifications/read", post(pages::notifications::mark_read))
        .route(
            "/settings/notifications",
            get(pages::notifications::settings_page).post(pages::notifications::save_settings),
        )
        .route("/settings/calendar", get(pages::feeds::settings_page).post(pages::feeds::save))
        .route("/help", get(pages::help::help))
        .route("/help/calendar", get(pages::feeds::help))
        .route("/requests/{id}/event.ics", get(pages::feeds::session_download))
        .route("/messages", get(pages::messages::list))
        .route("/messages/{username}", get(pages::messages::show).post(pages::messages::send))
        .fallback(pages::home::not_found)
        .layer(from_fn_with_state(app, session::browser_session))
        .route("/static/{*path}", get(assets::serve))
        // Calendar apps fetch feeds without cookies; no session, no CSRF.
        .route("/feeds/{token}", get(pages::feeds::feed))
}
