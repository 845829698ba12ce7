//! Static files, embedded at compile time so the binary alone runs.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &[u8])] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../frontend/static/style.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../frontend/static/app.js")),
    ("localtime.js", "text/javascript; charset=utf-8", include_bytes!("../../frontend/static/localtime.js")),
    ("room.js", "text/javascript; charset=utf-8", include_bytes!("../../frontend/static/room.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../frontend/static/favicon.svg")),
];

pub async fn serve(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, body)) => {
            ([(CONTENT_TYPE, *content_type), (CACHE_CONTROL, "public, max-age=3600")], *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
