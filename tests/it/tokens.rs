//! Personal API tokens on SQLite and PostgreSQL: names, expiry, last use,
//! listing and revoking through the API and the settings page, and every
//! token revoked by a password reset, a suspension, or (unless kept) a
//! password change.

use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::api::Api;
use support::server::PASSWORD;
use support::{TestServer, input_value, test_databases};

/// An API client holding `token`.
fn holding(server: &TestServer, token: &str) -> Api {
    let mut api = Api::new(server);
    api.token = Some(token.to_string());
    api
}

async fn token_count(server: &TestServer, user: &officehours::storage::User) -> usize {
    server.store.api_tokens_of(user.id).await.unwrap().len()
}

#[tokio::test]
async fn tokens_are_named_listed_and_revoked_through_the_api() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_user("ada", false).await;
        let bob = server.create_user("bob", false).await;
        let anon = Api::new(&server);
        let tag = db.backend;

        let bad = [
            (json!({"login": "ada", "password": PASSWORD, "name": "   "}), "name_required"),
            (json!({"login": "ada", "password": PASSWORD, "name": "x".repeat(61)}), "name_too_long"),
            (json!({"login": "ada", "password": PASSWORD, "name": "ci", "expires_in_days": 0}), "expiry_out_of_range"),
            (
                json!({"login": "ada", "password": PASSWORD, "name": "ci", "expires_in_days": 366}),
                "expiry_out_of_range",
            ),
        ];
        for (body, code) in bad {
            let (status, reply) = anon.post("/api/v1/tokens", body.clone()).await;
            assert_eq!(
                (status, reply["error"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
                "[{tag}] {body}"
            );
        }
        let (status, reply) =
            anon.post("/api/v1/tokens", json!({"login": "ada", "password": PASSWORD, "expires_in_days": "soon"})).await;
        assert_eq!((status, reply["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")), "[{tag}]");
        assert_eq!(token_count(&server, &ada).await, 0, "[{tag}] bad input writes nothing");

        let (status, made) = anon
            .post(
                "/api/v1/tokens",
                json!({"login": "ada", "password": PASSWORD, "name": " deploy ", "expires_in_days": 30}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "[{tag}] {made}");
        let secret = made["token"].as_str().unwrap().to_string();
        assert!(secret.starts_with("oh_"));
        assert_eq!(made["name"], "deploy", "the name is trimmed");
        let expires: jiff::Timestamp = made["expires_at"].as_str().unwrap().parse().unwrap();
        let days = (expires - server.now()).total(jiff::Unit::Hour).unwrap() / 24.0;
        assert!((29.9..=30.0).contains(&days), "[{tag}] expires in 30 days, not {days}");
        let (status, old_style) =
            anon.post("/api/v1/tokens", json!({"login": "ada", "password": PASSWORD, "label": "old script"})).await;
        assert_eq!(status, StatusCode::CREATED, "[{tag}] the old `label` field still works: {old_style}");
        assert_eq!((old_style["name"].as_str(), &old_style["expires_at"]), (Some("old script"), &Value::Null));

        let api = holding(&server, &secret);
        let (status, list) = api.get("/api/v1/tokens").await;
        assert_eq!(status, StatusCode::OK, "[{tag}] {list}");
        let list = list.as_array().unwrap().clone();
        assert_eq!(list.len(), 2);
        let deploy = list.iter().find(|t| t["name"] == "deploy").expect("listed by name");
        assert_eq!(deploy["id"], made["id"]);
        assert!(deploy["last_used_at"].is_string(), "[{tag}] this request used it: {deploy}");
        assert_eq!(deploy["expired"], false);
        let other = list.iter().find(|t| t["name"] == "old script").unwrap();
        assert!(other["last_used_at"].is_null(), "never used");
        let text = serde_json::to_string(&list).unwrap();
        assert!(!text.contains("oh_") && !text.contains("token_hash") && !text.contains("\"token\""), "{text}");

        // Someone else's id: 404, and their token keeps working.
        let bob_secret = server.app.create_api_token(&bob, "bob's").await.unwrap();
        let bob_id = server.store.api_tokens_of(bob.id).await.unwrap()[0].id;
        let (status, reply) = api.call(Method::DELETE, &format!("/api/v1/tokens/{bob_id}"), None).await;
        assert_eq!((status, reply["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "[{tag}]");
        assert_eq!(holding(&server, &bob_secret).get("/api/v1/me").await.0, StatusCode::OK, "[{tag}] unchanged");
        assert_eq!(api.call(Method::DELETE, "/api/v1/tokens/abc", None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            anon.call(Method::DELETE, &format!("/api/v1/tokens/{bob_id}"), None).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(anon.get("/api/v1/tokens").await.0, StatusCode::UNAUTHORIZED);

        let other_id = other["id"].as_i64().unwrap();
        let (status, _) = api.call(Method::DELETE, &format!("/api/v1/tokens/{other_id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "[{tag}]");
        assert_eq!(
            api.call(Method::DELETE, &format!("/api/v1/tokens/{other_id}"), None).await.0,
            StatusCode::NOT_FOUND
        );
        let old_secret = old_style["token"].as_str().unwrap();
        assert_eq!(holding(&server, old_secret).get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "[{tag}] revoked");
        let own_id = made["id"].as_i64().unwrap();
        assert_eq!(api.call(Method::DELETE, &format!("/api/v1/tokens/{own_id}"), None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(api.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "[{tag}] a token can revoke itself");
        assert_eq!(token_count(&server, &ada).await, 0);
        assert_eq!(token_count(&server, &bob).await, 1);
    }
}

#[tokio::test]
async fn expired_tokens_are_refused_and_listed_as_expired() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_user("ada", false).await;
        let made = server.app.issue_api_token(&ada, "short", Some(1)).await.unwrap();
        let keeper = server.api_as(&ada).await;
        let api = holding(&server, &made.secret);
        assert_eq!(api.get("/api/v1/me").await.0, StatusCode::OK, "[{}] valid for a day", db.backend);

        // A day and a second later.
        server.advance(jiff::SignedDuration::from_secs(24 * 3600 + 1));
        let (status, reply) = api.get("/api/v1/me").await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
            "[{}]",
            db.backend
        );
        let (_, list) = keeper.get("/api/v1/tokens").await;
        let short = list.as_array().unwrap().iter().find(|t| t["name"] == "short").unwrap().clone();
        assert_eq!(short["expired"], true, "[{}] {short}", db.backend);
        let used_before = short["last_used_at"].clone();
        api.get("/api/v1/me").await;
        let (_, list) = keeper.get("/api/v1/tokens").await;
        let short = list.as_array().unwrap().iter().find(|t| t["name"] == "short").unwrap().clone();
        assert_eq!(short["last_used_at"], used_before, "a refused token is not recorded as used");
    }
}

#[tokio::test]
async fn a_password_reset_and_a_suspension_revoke_every_token() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let admin = server.create_user("root_admin", true).await;
        let turing = server.create_user("turing", false).await;
        let first = server.api_as(&turing).await;
        let second = server.api_as(&turing).await;
        let bystander = server.create_user("hopper", false).await;
        let theirs = server.api_as(&bystander).await;

        let mut browser = server.browser();
        browser.page("/password/forgot").await;
        browser.post("/password/forgot", &[("email", "turing@example.org")]).await;
        let link = server.wait_for_link("turing@example.org", "reset your password").await;
        let form = browser.page(&link).await;
        let token = input_value(&form, "token").unwrap();
        let done =
            browser.post("/password/reset", &[("token", &token), ("password", "enigma rotor plugboard morning")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, done.body);
        assert_eq!(first.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "[{}] revoked by the reset", db.backend);
        assert_eq!(second.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(token_count(&server, &turing).await, 0);
        assert_eq!(theirs.get("/api/v1/me").await.0, StatusCode::OK, "other people's tokens stay");

        let later = server.api_as(&turing).await;
        server.app.set_suspended(&admin, "turing", true).await.unwrap();
        assert_eq!(token_count(&server, &turing).await, 0, "[{}] revoked by the suspension", db.backend);
        server.app.set_suspended(&admin, "turing", false).await.unwrap();
        assert_eq!(
            later.get("/api/v1/me").await.0,
            StatusCode::UNAUTHORIZED,
            "[{}] lifting it brings none back",
            db.backend
        );
        assert_eq!(theirs.get("/api/v1/me").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_password_change_revokes_tokens_unless_asked_to_keep_them() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let emmy = server.create_user("emmy", false).await;
        let mut browser = server.browser();
        browser.log_in("emmy", PASSWORD).await;
        browser.page("/settings").await;

        let kept = server.api_as(&emmy).await;
        let second = "ring theory invariant cellar";
        let changed = browser
            .post("/settings/password", &[("current_password", PASSWORD), ("password", second), ("keep_tokens", "on")])
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        assert_eq!(kept.get("/api/v1/me").await.0, StatusCode::OK, "[{}] kept when asked", db.backend);

        let wrong =
            browser.post("/settings/password", &[("current_password", "not my password"), ("password", "x")]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(kept.get("/api/v1/me").await.0, StatusCode::OK, "[{}] a refused change revokes nothing", db.backend);

        let changed = browser
            .post("/settings/password", &[("current_password", second), ("password", "galois field lattice tea")])
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        assert_eq!(kept.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "[{}] revoked by default", db.backend);
        let page = browser.page("/settings").await;
        assert!(page.contains("your API token is revoked"), "the flash says so");
        assert!(page.contains("Keep my API tokens"), "the form asks");
    }
}

#[tokio::test]
async fn the_settings_page_lists_creates_and_revokes_tokens() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let grace = server.create_user("grace", false).await;
        let alan = server.create_user("alan", false).await;
        let alans = server.api_as(&alan).await;
        let alan_id = server.store.api_tokens_of(alan.id).await.unwrap()[0].id;
        let mut browser = server.browser();
        browser.log_in("grace", PASSWORD).await;
        let page = browser.page("/settings").await;
        assert!(page.contains("You have no API tokens"), "[{}]", db.backend);

        let bad = browser.post("/settings/tokens", &[("name", " "), ("expires_in_days", "400")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        assert!(bad.body.contains("Give the token a name"), "{}", bad.body);
        assert!(bad.body.contains("1 to 365 days"));
        assert!(bad.body.contains("value=\"400\""), "input kept");
        let bad = browser.post("/settings/tokens", &[("name", "ci"), ("expires_in_days", "soon")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("whole number of days"));
        assert_eq!(token_count(&server, &grace).await, 0, "[{}] nothing made", db.backend);

        let made = browser.post("/settings/tokens", &[("name", "laptop script"), ("expires_in_days", "30")]).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        let start = made.body.find("oh_").expect("the secret is shown once");
        let secret: String =
            made.body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        assert_eq!(holding(&server, &secret).get("/api/v1/me").await.0, StatusCode::OK, "[{}]", db.backend);
        browser.post("/settings/tokens", &[("name", "never expires"), ("expires_in_days", "")]).await;

        let page = browser.page("/settings").await;
        assert!(!page.contains("oh_"), "the list never shows secrets");
        assert!(page.contains("laptop script") && page.contains("never expires"));
        assert!(page.contains("last used never"), "the unused one says so");
        assert!(page.contains("expires never"), "no expiry shown as never");
        let tokens = server.store.api_tokens_of(grace.id).await.unwrap();
        let laptop = tokens.iter().find(|t| t.name == "laptop script").unwrap();
        assert!(laptop.last_used_at.is_some(), "[{}] last use recorded", db.backend);
        assert!(page.contains(&format!("/settings/tokens/{}/revoke", laptop.id)), "each has a revoke button");

        let forged = browser.post_raw(&format!("/settings/tokens/{}/revoke", laptop.id), &[("csrf", "forged")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let foreign = browser.post(&format!("/settings/tokens/{alan_id}/revoke"), &[]).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "[{}] someone else's token", db.backend);
        assert_eq!(alans.get("/api/v1/me").await.0, StatusCode::OK, "and it still works");
        assert_eq!(token_count(&server, &grace).await, 2);

        let page = browser.page("/settings").await;
        assert!(page.contains("laptop script"));
        let revoked = browser.post(&format!("/settings/tokens/{}/revoke", laptop.id), &[]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        let page = browser.page("/settings").await;
        assert!(page.contains("API token “laptop script” revoked."), "{page}");
        assert_eq!(holding(&server, &secret).get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "[{}]", db.backend);
        assert_eq!(token_count(&server, &grace).await, 1);
    }
}
