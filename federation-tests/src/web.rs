//! Using an instance's web UI as a person would: log in with a cookie jar,
//! read pages, and send forms with their CSRF token.

use crate::Instance;

/// A person logged in to an instance's web UI.
pub struct WebSession<'a> {
    instance: &'a Instance,
    client: reqwest::Client,
}

/// The value of the hidden `csrf` field in a page.
fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

impl<'a> WebSession<'a> {
    /// Logs `username` (password [`crate::TEST_PASSWORD`]) in; panics if that fails.
    pub async fn login(instance: &'a Instance, username: &str) -> WebSession<'a> {
        let session = WebSession::anonymous(instance);
        let (status, html) =
            session.post_form("/login", &[("login", username), ("password", crate::TEST_PASSWORD)], "/login").await;
        assert!(status == 200 && !html.contains("error-summary"), "log-in of {username} failed: {status} {html}");
        session
    }

    /// A visitor who is not logged in.
    pub fn anonymous(instance: &'a Instance) -> WebSession<'a> {
        WebSession { instance, client: instance.new_client() }
    }

    /// `GET path` (redirects followed): the status, the final path and the page.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        let response = self.client.get(self.instance.url(path)).send().await.unwrap();
        let (status, url) = (response.status().as_u16(), response.url().clone());
        let mut at = url.path().to_string();
        if let Some(query) = url.query() {
            at = format!("{at}?{query}");
        }
        (status, at, response.text().await.unwrap())
    }

    /// POSTs `fields` to `path` with the CSRF token of the page at `from`
    /// (redirects followed): the final status and page.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)], from: &str) -> (u16, String) {
        let (_, _, page) = self.get(from).await;
        let csrf = csrf_of(&page).unwrap_or_else(|| panic!("no CSRF field on {from}: {page}"));
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        let response = self.client.post(self.instance.url(path)).form(&form).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}
