//! An HTTP client that keeps cookies and fills CSRF tokens like a browser.

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};

pub struct Browser {
    pub http: Client,
    base: String,
    csrf: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c[name.len() + 1..].split(';').next().unwrap_or_default().to_string())
    }
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        officehours::install_crypto();
        let http =
            Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Browser { http, base: base.to_string(), csrf: None }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        let reply = to_reply(response).await;
        if let Some(token) = super::input_value(&reply.body, "csrf") {
            self.csrf = Some(token);
        }
        reply
    }

    /// GET that must answer 200.
    pub async fn page(&mut self, path: &str) -> String {
        let reply = self.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
        reply.body
    }

    /// Posts a form with the CSRF token of the last page seen (loading
    /// `/` first if no page was seen yet).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        if self.csrf.is_none() {
            self.page("/").await;
        }
        let csrf = self.csrf.clone().expect("csrf token");
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let response = self.http.post(self.url(path)).form(fields).send().await.expect("POST");
        let reply = to_reply(response).await;
        if let Some(token) = super::input_value(&reply.body, "csrf") {
            self.csrf = Some(token);
        } else if reply.cookie("oh_session").is_some() {
            // A new (or ended) session: signed-in forms carry a token bound
            // to the session, which the next page a browser loads shows.
            self.csrf = None;
        }
        reply
    }

    /// Signs up through the form and returns the reply (303 on success).
    pub async fn sign_up(&mut self, username: &str, email: &str, password: &str) -> Reply {
        self.page("/signup").await;
        self.post(
            "/signup",
            &[("username", username), ("email", email), ("password", password), ("timezone", "Europe/Berlin")],
        )
        .await
    }

    pub async fn log_in(&mut self, login: &str, password: &str) -> Reply {
        self.page("/login").await;
        self.post("/login", &[("login", login), ("password", password)]).await
    }
}

async fn to_reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Reply { status, headers, body }
}
