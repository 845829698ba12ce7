//! The JSON API on both databases: tokens, accounts, advisor profiles, the
//! directory, categories, error shapes and the OpenAPI document.

use crate::support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::api::Api;
use support::server::PASSWORD;
use support::{TestServer, test_databases};

#[tokio::test]
async fn sign_up_get_a_token_and_manage_your_account() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let mut api = Api::new(&server);
        let (status, body) = api
            .post("/api/v1/accounts", json!({"username": "Linus", "email": "linus@example.org", "password": PASSWORD, "timezone": "Europe/Helsinki"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "[{}] {body}", db.backend);
        assert_eq!(body["email"], "linus@example.org");
        assert!(body["message"].as_str().unwrap().contains("linus@example.org"), "{body}");
        let linus = server.store.user_by_username("linus").await.unwrap();
        assert_eq!((linus.timezone.as_str(), linus.email_verified), ("Europe/Helsinki", false));

        let (status, body) = api.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "unauthenticated");
        let (status, body) =
            api.post("/api/v1/tokens", json!({"login": "linus", "password": "wrong wrong wrong"})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("wrong_credentials")));
        let (status, body) =
            api.post("/api/v1/tokens", json!({"login": "linus", "password": PASSWORD, "label": "script"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let token = body["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("oh_") && token.len() > 40);
        api.token = Some(token);

        let (status, body) = api.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["email"], "linus@example.org");

        let (status, body) = api
            .call(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"display_name": "Linus T.", "bio": "Kernels"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["display_name"].as_str(), body["timezone"].as_str()),
            (Some("Linus T."), Some("Europe/Helsinki"))
        );
        let (status, body) =
            api.call(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"timezone": "Atlantis/Capital"}))).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_timezone")));
        assert!(body["fields"]["timezone"].as_str().unwrap().contains("not a time zone"));
        let (status, body) = api.call(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"colour": "blue"}))).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
        assert_eq!(
            server.store.user_by_username("linus").await.unwrap().timezone,
            "Europe/Helsinki",
            "nothing changed"
        );

        let mut stranger = Api::new(&server);
        stranger.token = Some("oh_not_a_real_token".into());
        assert_eq!(stranger.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn bad_sign_ups_answer_4xx_with_codes_and_write_nothing() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("taken", false).await;
        let api = Api::new(&server);
        let cases = [
            (
                json!({"username": "taken", "email": "x@example.org", "password": PASSWORD}),
                StatusCode::CONFLICT,
                "username_taken",
            ),
            (
                json!({"username": "fresh", "email": "bad", "password": PASSWORD}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_email",
            ),
            (
                json!({"username": "fresh", "email": "f@example.org", "password": "123456789012"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "password_too_common",
            ),
            (
                json!({"username": "x".repeat(31), "email": "f@example.org", "password": PASSWORD}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_long",
            ),
            (json!({"username": "fresh", "email": "f@example.org"}), StatusCode::BAD_REQUEST, "invalid_json"),
        ];
        for (body, status, code) in cases {
            let (got, reply) = api.post("/api/v1/accounts", body.clone()).await;
            assert_eq!(got, status, "[{}] {body} → {reply}", db.backend);
            assert_eq!(reply["error"], code, "[{}] {body}", db.backend);
            assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let response = reqwest::Client::new()
            .post(server.url("/api/v1/accounts"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_json");
        assert_eq!(server.store.count_users().await.unwrap(), 1, "[{}] nothing written", db.backend);
    }
}

#[tokio::test]
async fn a_sign_up_never_tells_whether_an_address_has_an_account() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("taken", false).await;
        let api = Api::new(&server);
        let (new_status, new_reply) = api
            .post("/api/v1/accounts", json!({"username": "fresh", "email": "Fresh@example.org", "password": PASSWORD}))
            .await;
        let (old_status, old_reply) = api
            .post("/api/v1/accounts", json!({"username": "other", "email": "TAKEN@example.org", "password": PASSWORD}))
            .await;
        assert_eq!(
            (new_status, old_status),
            (StatusCode::ACCEPTED, StatusCode::ACCEPTED),
            "[{}] {old_reply}",
            db.backend
        );
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&new_reply), keys(&old_reply), "the same shape");
        assert_eq!(
            new_reply["message"].as_str().unwrap().replace("fresh@", "X@"),
            old_reply["message"].as_str().unwrap().replace("taken@", "X@")
        );
        assert!(server.store.user_by_username("other").await.is_err(), "[{}] no second account", db.backend);
        // The owner is told by mail how to log in.
        let link = server.wait_for_link("taken@example.org", "tried to open a new account").await;
        assert!(link.ends_with("/login"), "{link}");
        // Other mistakes are still named, the address never is.
        let (status, reply) = api
            .post(
                "/api/v1/accounts",
                json!({"username": "no spaces", "email": "taken@example.org", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
        assert!(reply["fields"].get("username").is_some() && reply["fields"].get("email").is_none(), "{reply}");
        // The web form: no "exists", no session; the same mail.
        let mut browser = server.browser();
        let reply = browser.sign_up("webby", "taken@example.org", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        assert!(reply.cookie("oh_session").is_none());
        assert!(!browser.page("/login").await.contains("already exists"));
        assert_eq!(server.store.count_users().await.unwrap(), 2, "[{}] taken and fresh", db.backend);
    }
}

#[tokio::test]
async fn every_sign_up_attempt_counts_against_the_address() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let api = Api::new(&server);
        for attempt in 0..20 {
            let body = json!({"username": format!("u{attempt}"), "email": format!("u{attempt}@example.org"), "password": "short"});
            assert_eq!(
                api.post("/api/v1/accounts", body).await.0,
                StatusCode::UNPROCESSABLE_ENTITY,
                "attempt {attempt}"
            );
        }
        let (status, reply) = api
            .post("/api/v1/accounts", json!({"username": "late", "email": "late@example.org", "password": PASSWORD}))
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "[{}] {reply}", db.backend);
        assert_eq!(server.store.count_users().await.unwrap(), 0);
    }
}

/// A NUL character anywhere a request carries text answers the same clear
/// 400 on both databases (PostgreSQL cannot store it; it answered 500).
#[tokio::test]
async fn nul_characters_are_refused_the_same_way_on_both_databases() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let user = server.create_advisor("amara").await;
        let api = server.api_as(&user).await;
        let http = reqwest::Client::new();
        let domain = server.addr.to_string();
        let gets = [
            "/users/a%00b".to_string(),
            "/advisors?q=a%00b".into(),
            "/api/v1/advisors/a%00b".into(),
            "/api/v1/advisors?q=a%00b".into(),
            format!("/.well-known/webfinger?resource=acct:a%00b@{domain}"),
            "/messages/a%00b".into(),
        ];
        for path in gets {
            let response = http.get(server.url(&path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "[{}] GET {path}", db.backend);
            assert!(response.text().await.unwrap().contains("NUL"), "[{}] GET {path} says why", db.backend);
        }
        let form = http
            .post(server.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("login=%00x&password=y")
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::UNPROCESSABLE_ENTITY, "[{}] POST /login", db.backend);
        let (status, reply) = api.post("/api/v1/tokens", json!({"login": "amara\u{0}", "password": PASSWORD})).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_text")),
            "[{}]",
            db.backend
        );
        let (status, reply) =
            api.call(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"bio": "before\u{0}after"}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {reply}", db.backend);
        assert_eq!(server.store.user_by_username("amara").await.unwrap().bio, "", "[{}] nothing changed", db.backend);
        // Text that only looks like NUL is ordinary text.
        let (status, reply) =
            api.call(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"bio": "100%00 sure, \\u0000 in C"}))).await;
        assert_eq!(status, StatusCode::OK, "[{}] {reply}", db.backend);
        assert_eq!(reply["bio"], "100%00 sure, \\u0000 in C");
        assert_eq!(http.get(server.url("/advisors?q=100%25")).send().await.unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn advisor_profiles_and_directory() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let user = server.create_user("margaret", false).await;
        let mut api = Api::new(&server);
        api.token = Some(server.app.create_api_token(&user, "test").await.unwrap());

        let profile = json!({
            "enabled": true,
            "headline": "Flight software",
            "topics": ["Apollo", "reliability", "apollo"],
            "categories": ["programming"],
            "links": ["https://margaret.example.org"]
        });
        let (status, body) = api.call(reqwest::Method::PUT, "/api/v1/me/advisor", Some(profile.clone())).await;
        assert_eq!(status, StatusCode::OK, "[{}] {body}", db.backend);
        assert_eq!(body["topics"], json!(["Apollo", "reliability"]));
        assert_eq!(body["handle"], "@margaret@localhost");
        assert_eq!(body["categories"][0]["slug"], "programming");

        let mut bad = profile.clone();
        bad["categories"] = json!(["alchemy"]);
        let (status, body) = api.call(reqwest::Method::PUT, "/api/v1/me/advisor", Some(bad)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_category")));
        let mut bad = profile.clone();
        bad["headline"] = json!("h".repeat(500));
        let (status, body) = api.call(reqwest::Method::PUT, "/api/v1/me/advisor", Some(bad)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("too_long")));

        let anonymous = Api::new(&server);
        let (status, body) = anonymous.get("/api/v1/advisors?q=apollo&category=programming").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total"], 1);
        assert_eq!(body["advisors"][0]["username"], "margaret");
        assert_eq!(body["advisors"][0]["headline"], "Flight software", "the bad updates changed nothing");
        let (_, body) = anonymous.get("/api/v1/advisors?q=cobol").await;
        assert_eq!(body["total"], 0);
        let (status, body) = anonymous.get("/api/v1/advisors?category=alchemy").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_category")));
        let (status, _) = anonymous.get("/api/v1/advisors?page=minus-one").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        for page in ["0", "10001"] {
            let (status, body) = anonymous.get(&format!("/api/v1/advisors?page={page}")).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_page")),
                "page {page}"
            );
        }
        let (status, body) = anonymous.get("/api/v1/advisors/margaret").await;
        assert_eq!((status, body["links"][0].as_str()), (StatusCode::OK, Some("https://margaret.example.org/")));
        let (status, body) = anonymous.get("/api/v1/advisors/nobody").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

        let unverified = server
            .store
            .create_user(
                &officehours::storage::NewUser {
                    username: "newbie".into(),
                    email: "newbie@example.org".into(),
                    email_verified: false,
                    password_hash: "x".into(),
                    display_name: String::new(),
                    timezone: "UTC".into(),
                    is_advisor: false,
                    is_pro: false,
                    is_admin: false,
                },
                server.clock.now_ms(),
            )
            .await
            .unwrap();
        let mut newbie = Api::new(&server);
        newbie.token = Some(server.app.create_api_token(&unverified, "t").await.unwrap());
        let (status, body) =
            newbie.call(reqwest::Method::PUT, "/api/v1/me/advisor", Some(json!({"enabled": true}))).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("email_unverified")));
    }
}

#[tokio::test]
async fn categories_are_admin_managed() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let admin = server.create_user("root_admin", true).await;
        let learner = server.create_user("learner", false).await;
        let mut api = Api::new(&server);
        let (status, body) = api.get("/api/v1/categories").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.as_array().unwrap().iter().any(|c| c["slug"] == "design"));

        api.token = Some(server.app.create_api_token(&learner, "t").await.unwrap());
        let (status, body) = api.post("/api/v1/categories", json!({"name": "Gardening"})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("admin_only")));

        api.token = Some(server.app.create_api_token(&admin, "t").await.unwrap());
        let (status, body) = api.post("/api/v1/categories", json!({"name": "Gardening"})).await;
        assert_eq!((status, body["slug"].as_str()), (StatusCode::CREATED, Some("gardening")), "[{}]", db.backend);
        let (status, body) = api.post("/api/v1/categories", json!({"name": "gardening"})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("category_taken")));
        let (status, _) = api.call(reqwest::Method::DELETE, "/api/v1/categories/gardening", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = api.call(reqwest::Method::DELETE, "/api/v1/categories/gardening", None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let api = Api::new(&server);
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/accounts", "post"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/me", "get"),
        ("/api/v1/me", "patch"),
        ("/api/v1/me/advisor", "put"),
        ("/api/v1/advisors", "get"),
        ("/api/v1/advisors/{username}", "get"),
        ("/api/v1/categories", "get"),
        ("/api/v1/categories", "post"),
        ("/api/v1/categories/{slug}", "delete"),
        ("/api/v1/blocks", "post"),
        ("/api/v1/advisors/{username}/slots", "get"),
        ("/api/v1/slots/{id}/requests", "post"),
        ("/api/v1/requests/{id}/approve", "post"),
        ("/api/v1/requests/{id}/decline", "post"),
        ("/api/v1/requests/{id}/cancel", "post"),
        ("/api/v1/me/sessions", "get"),
        ("/api/v1/me/offerings", "get"),
        ("/api/v1/advisors/{username}/questions", "get"),
        ("/api/v1/me/questions", "put"),
        ("/api/v1/slots/{id}/questions", "get"),
        ("/api/v1/blocks/{id}/questions", "put"),
        ("/api/v1/me/calendar-feed", "get"),
        ("/api/v1/me/calendar-feed", "delete"),
        ("/api/v1/me/calendar-feed/rotate", "post"),
        ("/api/v1/me/notifications", "get"),
        ("/api/v1/me/notifications/read", "post"),
        ("/api/v1/me/notification-settings", "get"),
        ("/api/v1/me/notification-settings", "put"),
        ("/api/v1/me/conversations", "get"),
        ("/api/v1/conversations/{username}", "get"),
        ("/api/v1/conversations/{username}/messages", "post"),
        ("/api/v1/me/karma", "get"),
        ("/api/v1/requests/{id}/no-show", "post"),
        ("/api/v1/requests/{id}/forgive", "post"),
        ("/api/v1/follows", "post"),
        ("/api/v1/follows/{handle}", "delete"),
        ("/api/v1/me/follows", "get"),
        ("/api/v1/blocks/{id}/remove", "post"),
        ("/api/v1/blocks/{id}/slots", "get"),
        ("/api/v1/admin/federation", "get"),
        ("/api/v1/admin/write-lock", "get"),
    ];
    for (path, method) in expected {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is documented");
    }
    let documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, expected.len(), "every documented operation is listed here (and so exists)");
    assert!(doc["components"]["schemas"]["Account"].is_object());
    let block_codes = doc["paths"]["/api/v1/blocks"]["post"]["responses"]["422"]["description"].as_str().unwrap();
    for code in ["invalid_time", "time_has_offset", "unknown_timezone", "out_of_range", "too_many_slots"] {
        assert!(block_codes.contains(code), "POST /api/v1/blocks documents {code}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["token"]["scheme"], "bearer");

    let (status, body) = api.get("/api/v1/nothing-here").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}
