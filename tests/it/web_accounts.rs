//! Accounts through the web pages, on SQLite and PostgreSQL: sign-up, e-mail
//! confirmation, log-in/out, password reset, settings, CSRF, rate limiting.

use crate::support;

use reqwest::StatusCode;
use support::server::PASSWORD;
use support::{TestServer, input_value, test_databases};

#[tokio::test]
async fn sign_up_confirm_log_out_and_back_in() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let mut browser = server.browser();
        let signup = browser.page("/signup").await;
        assert!(signup.contains("name=\"timezone\""), "the form carries the detected time zone");

        let reply = browser.sign_up("ada", "Ada@Example.org", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        assert_eq!(reply.location(), Some("/"), "after sign-up: home, not settings");
        let first_session = reply.cookie("oh_session").expect("signed in after sign-up");
        let cookie = reply.set_cookies().into_iter().find(|c| c.starts_with("oh_session=")).unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http test server: {cookie}");

        let settings = browser.page("/settings").await;
        assert!(settings.contains("Welcome"), "flash shown once");
        assert!(settings.contains("Please confirm your e-mail address"));
        assert!(!browser.page("/settings").await.contains("Welcome"), "flash is shown only once");
        let user = server.store.user_by_username("ada").await.unwrap();
        assert_eq!(user.email, "ada@example.org");
        assert_eq!(user.timezone, "Europe/Berlin");
        assert!(!user.email_verified);
        assert!(user.password_hash.starts_with("$argon2id$"));

        let link = server.wait_for_link("ada@example.org", "Confirm your e-mail").await;
        let reply = browser.get(&link).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert!(server.store.user_by_username("ada").await.unwrap().email_verified);
        let again = browser.get(&link).await;
        assert_eq!(again.status, StatusCode::FORBIDDEN, "a link works once");
        assert!(again.body.contains("expired or was already used"));

        let reply = browser.post("/logout", &[]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let reply = browser.get("/settings").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), Some("/login?next=%2Fsettings"));

        let wrong = browser.log_in("ada", "not the password at all").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("do not match"));
        assert_eq!(input_value(&wrong.body, "login").as_deref(), Some("ada"), "input kept");

        let ok = browser.log_in("ADA@example.org", PASSWORD).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let second_session = ok.cookie("oh_session").unwrap();
        assert_ne!(first_session, second_session, "a new session secret at every log-in");
        assert!(browser.page("/settings").await.contains("@ada"));
    }
}

/// Form fields, the field that is wrong, and what the page must say.
type SignUpCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[tokio::test]
async fn bad_sign_ups_keep_input_show_messages_and_write_nothing() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("taken", false).await;
        let before = server.store.count_users().await.unwrap();
        let long_name = "n".repeat(65);
        let cases: &[SignUpCase] = &[
            (
                &[("username", "taken"), ("email", "new@example.org"), ("password", PASSWORD)],
                "username",
                "That username is taken",
            ),
            (
                &[("username", "fresh"), ("email", "not-an-email"), ("password", PASSWORD)],
                "email",
                "does not look like an e-mail",
            ),
            (
                &[("username", "fresh"), ("email", "f@example.org"), ("password", "short")],
                "password",
                "at least 10 characters",
            ),
            (
                &[("username", "fresh"), ("email", "f@example.org"), ("password", "password123")],
                "password",
                "too easy to guess",
            ),
            (
                &[("username", "no spaces"), ("email", "f@example.org"), ("password", PASSWORD)],
                "username",
                "Use only letters",
            ),
            (
                &[
                    ("username", "fresh"),
                    ("email", "f@example.org"),
                    ("password", PASSWORD),
                    ("display_name", &long_name),
                ],
                "display_name",
                "at most 64 characters",
            ),
            (
                &[("username", "fresh"), ("email", "f@example.org"), ("password", PASSWORD), ("timezone", "Mars/Base")],
                "timezone",
                "not a time zone we know",
            ),
        ];
        for (fields, field, message) in cases {
            let mut browser = server.browser();
            browser.page("/signup").await;
            let reply = browser.post("/signup", fields).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {field}: {}", db.backend, reply.body);
            assert!(reply.body.contains(message), "[{}] expected {message:?} for {field}", db.backend);
            assert!(reply.body.contains(&format!("id=\"e-{field}\"")), "message next to the {field} field");
            let typed = fields.iter().find(|(k, _)| *k == "username").unwrap().1;
            assert_eq!(input_value(&reply.body, "username").as_deref(), Some(typed), "input kept");
            assert!(!reply.body.contains(PASSWORD), "passwords are never echoed");
            assert!(reply.cookie("oh_session").is_none());
        }
        assert_eq!(server.store.count_users().await.unwrap(), before, "[{}] nothing written", db.backend);
    }
}

#[tokio::test]
async fn racing_sign_ups_for_one_name_create_one_account() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let base = server.base.clone();
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let body = serde_json::json!({"username": "racer", "email": format!("racer{i}@example.org"), "password": PASSWORD});
                client.post(format!("{base}/api/v1/accounts")).json(&body).send().await.unwrap().status()
            }));
        }
        let mut created = 0;
        for task in tasks {
            match task.await.unwrap() {
                StatusCode::ACCEPTED => created += 1,
                StatusCode::CONFLICT => {}
                other => panic!("[{}] unexpected {other}", db.backend),
            }
        }
        assert_eq!(created, 1, "[{}]", db.backend);
        assert_eq!(server.store.count_users().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_or_from_other_sites_change_nothing() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("grace", false).await;
        let mut browser = server.browser();
        let logged_in = browser.log_in("grace", PASSWORD).await;
        assert_eq!(logged_in.status, StatusCode::SEE_OTHER);
        let session = logged_in.cookie("oh_session").expect("a session cookie");

        let missing = browser.post_raw("/settings", &[("display_name", "Mallory"), ("timezone", "UTC")]).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        assert!(missing.body.contains("This form had expired"));
        let wrong = browser
            .post_raw("/settings", &[("csrf", "forged"), ("display_name", "Mallory"), ("timezone", "UTC")])
            .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);

        let page = browser.page("/settings").await;
        let token = input_value(&page, "csrf").unwrap();
        let cross_site = browser
            .http
            .post(server.url("/settings"))
            .header("Origin", "https://evil.example")
            .form(&[("csrf", token.as_str()), ("display_name", "Mallory"), ("timezone", "UTC")])
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

        let stranger = server.browser();
        let mut stranger = stranger;
        let foreign =
            stranger.post_raw("/login", &[("csrf", token.as_str()), ("login", "grace"), ("password", PASSWORD)]).await;
        assert_eq!(foreign.status, StatusCode::FORBIDDEN, "a token from another browser does not work");

        // Signed in, the token is bound to the session: neither the token of
        // another session of the same person nor the CSRF cookie's value
        // (which a sibling domain could plant) passes.
        let mut other_session = server.browser();
        other_session.log_in("grace", PASSWORD).await;
        let other_token = input_value(&other_session.page("/settings").await, "csrf").unwrap();
        assert_ne!(other_token, token, "each session has its own token");
        let borrowed = browser
            .post_raw("/settings", &[("csrf", other_token.as_str()), ("display_name", "Mallory"), ("timezone", "UTC")])
            .await;
        assert_eq!(borrowed.status, StatusCode::FORBIDDEN, "[{}] another session's token", db.backend);
        let stranger_cookie =
            server.browser().get("/login").await.cookie("oh_csrf").expect("a fresh visitor gets a cookie");
        let planted = reqwest::Client::new()
            .post(server.url("/settings"))
            .header("Cookie", format!("oh_session={session}; oh_csrf={stranger_cookie}"))
            .form(&[("csrf", stranger_cookie.as_str()), ("display_name", "Mallory"), ("timezone", "UTC")])
            .send()
            .await
            .unwrap();
        assert_eq!(planted.status(), StatusCode::FORBIDDEN, "[{}] a planted cookie and its value", db.backend);
        // The Origin's scheme counts too: an http page cannot post to an https site, nor the reverse.
        let other_scheme = server.base.replacen("http://", "https://", 1);
        let cross_scheme = browser
            .http
            .post(server.url("/settings"))
            .header("Origin", other_scheme)
            .form(&[("csrf", token.as_str()), ("display_name", "Mallory"), ("timezone", "UTC")])
            .send()
            .await
            .unwrap();
        assert_eq!(cross_scheme.status(), StatusCode::FORBIDDEN, "[{}] same host, other scheme", db.backend);

        let user = server.store.user_by_username("grace").await.unwrap();
        assert_eq!(user.display_name, "", "[{}] nothing changed", db.backend);
        assert_eq!(user.timezone, "Europe/Berlin");

        let ok = browser.post("/settings", &[("display_name", "Grace H."), ("bio", ""), ("timezone", "UTC")]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        assert_eq!(server.store.user_by_username("grace").await.unwrap().display_name, "Grace H.");
    }
}

#[tokio::test]
async fn log_in_is_rate_limited_per_account() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    server.create_user("hopper", false).await;
    let mut browser = server.browser();
    for attempt in 0..10 {
        let reply = browser.log_in("hopper", &format!("wrong password {attempt}")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = browser.log_in("hopper", PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(blocked.body.contains("Too many attempts"));
    // Another account from the same address is not locked out by that...
    server.create_user("lovelace", false).await;
    let mut other = server.browser();
    assert_eq!(other.log_in("lovelace", PASSWORD).await.status, StatusCode::SEE_OTHER);
    // ...but an address guessing across many accounts is.
    let mut guesser = server.browser();
    for attempt in 0..40 {
        let reply = guesser.log_in(&format!("user{attempt}"), "some wrong password").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let blocked = guesser.log_in("lovelace", PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "the address is limited after 50 failures");
}

#[tokio::test]
async fn the_lockout_counts_per_account_whichever_name_is_typed() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("aisha", false).await;
        let mut browser = server.browser();
        // Half the tries by username, half by e-mail address: one account.
        for attempt in 0..10 {
            let login = if attempt % 2 == 0 { "aisha" } else { "Aisha@Example.org" };
            let reply = browser.log_in(login, &format!("wrong password {attempt}")).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "[{}] attempt {attempt}", db.backend);
        }
        for login in ["aisha", "aisha@example.org", " AISHA "] {
            let blocked = browser.log_in(login, PASSWORD).await;
            assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS, "[{}] {login:?} is the same account", db.backend);
        }
    }
}

#[tokio::test]
async fn next_is_followed_only_to_this_site_as_a_browser_reads_it() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("ada", false).await;
        let mut browser = server.browser();
        assert_eq!(browser.log_in("ada", PASSWORD).await.status, StatusCode::SEE_OTHER);
        // Browsers drop tabs and newlines and read `\` as `/`: each of these
        // is `//evil.example` to them.
        for next in
            ["%2F%09%2Fevil.example", "%2F%0A%2Fevil.example", "%2F%5C%2Fevil.example", "%2F.%2F%2Fevil.example"]
        {
            let reply = browser.get(&format!("/login?next={next}")).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {next}", db.backend);
            assert_eq!(reply.location(), Some("/"), "[{}] {next}", db.backend);
        }
        let reply = browser.get("/login?next=%2Fsettings%3Ftab%3Dtokens").await;
        assert_eq!(reply.location(), Some("/settings?tab=tokens"), "a local path is followed");
    }
}

#[tokio::test]
async fn password_reset_by_mail() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("turing", false).await;
        let mut old_device = server.browser();
        assert_eq!(old_device.log_in("turing", PASSWORD).await.status, StatusCode::SEE_OTHER);

        let mut browser = server.browser();
        browser.page("/password/forgot").await;
        let unknown = browser.post("/password/forgot", &[("email", "nobody@example.org")]).await;
        assert_eq!(unknown.status, StatusCode::OK, "no hint whether the address exists");
        let bad = browser.post("/password/forgot", &[("email", "nonsense")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = browser.post("/password/forgot", &[("email", "turing@example.org")]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.contains("Check your inbox"));

        let link = server.wait_for_link("turing@example.org", "reset your password").await;
        let form = browser.page(&link).await;
        assert!(form.contains("@turing"));
        let token = input_value(&form, "token").unwrap();
        let weak = browser.post("/password/reset", &[("token", &token), ("password", "turing123")]).await;
        assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
        let new_password = "enigma rotor plugboard morning";
        let done = browser.post("/password/reset", &[("token", &token), ("password", new_password)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, done.body);

        let reused =
            browser.post("/password/reset", &[("token", &token), ("password", "another fine long phrase")]).await;
        assert_eq!(reused.status, StatusCode::FORBIDDEN, "the link works once");
        assert_eq!(old_device.get("/settings").await.status, StatusCode::SEE_OTHER, "other sessions ended");
        assert_eq!(browser.log_in("turing", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(browser.log_in("turing", new_password).await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn settings_change_profile_email_and_password() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("emmy", false).await;
        server.create_user("noether", false).await;
        let mut browser = server.browser();
        browser.log_in("emmy", PASSWORD).await;
        browser.page("/settings").await;

        let bad = browser
            .post("/settings", &[("display_name", "Emmy"), ("bio", "Algebra"), ("timezone", "Nowhere/City")])
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("not a time zone we know"));
        assert!(bad.body.contains("Algebra"), "bio kept");
        let ok = browser
            .post("/settings", &[("display_name", "Emmy N."), ("bio", "Algebra"), ("timezone", "America/New_York")])
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        let user = server.store.user_by_username("emmy").await.unwrap();
        assert_eq!((user.display_name.as_str(), user.timezone.as_str()), ("Emmy N.", "America/New_York"));

        let taken =
            browser.post("/settings/email", &[("email", "noether@example.org"), ("current_password", PASSWORD)]).await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(taken.body.contains("already exists"));
        let wrong = browser
            .post("/settings/email", &[("email", "emmy2@example.org"), ("current_password", "nope nope nope")])
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.body.contains("current password is not right"));
        let moved =
            browser.post("/settings/email", &[("email", "emmy2@example.org"), ("current_password", PASSWORD)]).await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER);
        let user = server.store.user_by_username("emmy").await.unwrap();
        assert_eq!(user.email, "emmy2@example.org");
        assert!(!user.email_verified, "a new address must be confirmed again");
        server.wait_for_link("emmy2@example.org", "Confirm").await;

        let new_password = "ring theory invariant cellar";
        let changed =
            browser.post("/settings/password", &[("current_password", PASSWORD), ("password", new_password)]).await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        assert!(browser.page("/settings").await.contains("Password changed"), "this device stays logged in");
        let mut other = server.browser();
        assert_eq!(other.log_in("emmy", new_password).await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let db = support::TestDatabase::sqlite().await;
    let server =
        TestServer::start_with(&db, |c| c.public_url = url::Url::parse("https://hours.example.org/").unwrap()).await;
    let mut browser = server.browser();
    let reply = browser.get("/login").await;
    let csrf = reply.set_cookies().into_iter().find(|c| c.starts_with("oh_csrf=")).expect("csrf cookie");
    assert!(csrf.contains("; Secure") && csrf.contains("HttpOnly") && csrf.contains("SameSite=Lax"), "{csrf}");
}

#[tokio::test]
async fn health_checks_report_the_database() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let client = reqwest::Client::new();
        assert_eq!(client.get(server.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
        assert_eq!(client.get(server.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
        server.app.close().await;
        let down = client.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE, "[{}]", db.backend);
        assert_eq!(client.get(server.url("/healthz")).send().await.unwrap().status(), StatusCode::OK, "still alive");
    }
    // A data disk with less room than the instance needs is reported (here:
    // asking for more than any disk has, so the real free space is short).
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start_with(&db, |config| config.min_free_disk_mb = u64::MAX / (2 << 20)).await;
    let full = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = full.text().await.unwrap();
    assert!(text.starts_with("data disk full:") && text.contains("MB free in"), "{text}");
}

#[tokio::test]
async fn unknown_pages_are_friendly_404s() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let mut browser = server.browser();
    let reply = browser.get("/no/such/page").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("No such page") && reply.body.contains("href=\"/advisors\""));
    let reply = browser.get("/users/nobody").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// Issue 13, item 11: `X-Forwarded-For` names the client only when the peer
/// is a configured proxy — otherwise a client could dodge every per-address
/// limit by writing a new address into each request.
#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    async fn sign_ups(server: &TestServer, forwarded: impl Fn(usize) -> String) -> Vec<u16> {
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for i in 0..21 {
            let body = serde_json::json!({
                "username": format!("probe{i}"), "email": format!("probe{i}@example.org"),
                "password": PASSWORD, "timezone": "UTC",
            });
            let response = http
                .post(server.url("/api/v1/accounts"))
                .header("X-Forwarded-For", forwarded(i))
                .json(&body)
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    }
    // No proxy configured: the header is ignored, the 21st attempt from this
    // address is refused whatever address each request claims.
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let statuses = sign_ups(&server, |i| format!("203.0.113.{i}")).await;
    assert!(statuses[..20].iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");

    // This machine configured as the proxy: each forwarded address has its
    // own count, and one address still runs out.
    let db = support::TestDatabase::sqlite().await;
    let server =
        TestServer::start_with(&db, |config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let statuses = sign_ups(&server, |i| format!("198.51.100.7, 203.0.113.{i}")).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    let db = support::TestDatabase::sqlite().await;
    let server =
        TestServer::start_with(&db, |config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let statuses = sign_ups(&server, |_| "203.0.113.50".to_string()).await;
    assert_eq!(statuses[20], 429, "{statuses:?}");
}

/// Issue 13, item 11: a signed-in page is never kept by a shared or
/// back-button cache; public pages may be.
#[tokio::test]
async fn signed_in_pages_are_not_stored_by_caches() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    server.create_user("cache", false).await;
    let mut browser = server.browser();
    let anonymous = browser.get("/advisors").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(anonymous.headers.get("cache-control").is_none_or(|v| v != "no-store"), "{:?}", anonymous.headers);
    let login = browser.log_in("cache", PASSWORD).await;
    assert_eq!(login.headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
    for path in ["/settings", "/advisors", "/calendar"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    }
}
