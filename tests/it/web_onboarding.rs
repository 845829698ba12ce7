//! Issue 17, part B through the web pages on SQLite and PostgreSQL: `next`
//! kept through log-in, sign-up and the confirmation link; becoming an
//! advisor as a choice; handles in the directory search; `/help` from the
//! instance's settings; the admins' list of people; plain wording.

use crate::support;

use reqwest::StatusCode;
use support::server::PASSWORD;
use support::{TestServer, input_value, test_databases};

/// An open slot of `advisor` tomorrow at noon UTC; returns its id.
async fn open_slot(server: &TestServer, advisor: &officehours::storage::User) -> i64 {
    let tomorrow = server.now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::ToSpan::days(1)).unwrap();
    let input = officehours::service::booking::BlockInput {
        start: format!("{tomorrow}T12:00"),
        end: format!("{tomorrow}T12:10"),
        timezone: "UTC".into(),
        ..Default::default()
    };
    let (_, slots) = server.app.create_block(advisor, &input).await.expect("block");
    slots[0].id
}

#[tokio::test]
async fn next_is_kept_from_a_time_through_sign_up_and_confirmation() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("amara").await;
        let slot = open_slot(&server, &advisor).await;
        let form = format!("/slots/{slot}/request");
        let mut visitor = server.browser();

        // A logged-out click on a time: to log in, told why, with a sign-up choice keeping `next`.
        let reply = visitor.get(&form).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let login = reply.location().unwrap().to_string();
        assert_eq!(login, format!("/login?next=%2Fslots%2F{slot}%2Frequest"));
        let page = visitor.page(&login).await;
        assert!(page.contains("To ask for this time, log in or create an account"), "{page}");
        let signup_href = format!("/signup?next=%2Fslots%2F{slot}%2Frequest");
        assert!(page.contains(&format!("href=\"{signup_href}\"")), "the sign-up link keeps next: {page}");

        let page = visitor.page(&signup_href).await;
        assert_eq!(input_value(&page, "next").as_deref(), Some(form.as_str()));
        let reply = visitor
            .post(
                "/signup",
                &[
                    ("username", "noah"),
                    ("email", "noah@example.org"),
                    ("password", PASSWORD),
                    ("timezone", "Europe/Berlin"),
                    ("next", &form),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        assert_eq!(reply.location(), Some(form.as_str()), "after sign-up: the time's request form, not Settings");
        let page = visitor.page(&form).await;
        assert!(page.contains("Welcome, noah!"), "{page}");

        // The confirmation link carries next; opened in another browser it
        // keeps the "confirmed" message and leads on after log-in.
        let link = server.wait_for_link("noah@example.org", "Confirm").await;
        assert!(link.contains(&format!("next=%2Fslots%2F{slot}%2Frequest")), "{link}");
        let mut other = server.browser();
        let reply = other.get(&link).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), Some(login.as_str()));
        let page = other.page(&login).await;
        assert!(page.contains("noah@example.org is confirmed. Log in to go on."), "{page}");
        assert!(!page.contains("To ask for this time"), "the confirmation is what the page says");
        let reply = other.post("/login", &[("login", "noah"), ("password", PASSWORD), ("next", &form)]).await;
        assert_eq!(reply.location(), Some(form.as_str()));
        assert!(other.page(&form).await.contains("How to prepare"), "the request form, with its guide");
        let learner = server.store.user_by_username("noah").await.unwrap();
        assert!(learner.email_verified && !learner.is_advisor, "confirming made nobody an advisor");
    }
}

#[tokio::test]
async fn confirming_in_the_same_browser_leads_on_and_foreign_next_is_dropped() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let mut browser = server.browser();
        browser.page("/signup?next=https%3A%2F%2Fevil.example%2F").await;
        let reply = browser
            .post(
                "/signup",
                &[
                    ("username", "lena"),
                    ("email", "lena@example.org"),
                    ("password", PASSWORD),
                    ("timezone", "UTC"),
                    ("next", "//evil.example/"),
                ],
            )
            .await;
        assert_eq!(reply.location(), Some("/"), "[{}] a foreign next is not followed", db.backend);
        let link = server.wait_for_link("lena@example.org", "Confirm").await;
        assert!(!link.contains("next="), "{link}");
        let reply = browser.get(&link).await;
        assert_eq!(reply.location(), Some("/"), "signed in: on, not into the advisor form");
        assert!(browser.page("/").await.contains("lena@example.org is confirmed"));

        // Becoming an advisor: an explicit choice with its guide, then the first block.
        let page = browser.page("/settings/advisor").await;
        assert!(page.contains("Becoming an advisor") && page.contains("Add your first block"), "{page}");
        let reply = browser.post("/settings/advisor", &[("enabled", "on"), ("headline", "Typography")]).await;
        assert_eq!(reply.location(), Some("/calendar#add"));
        let page = browser.page("/calendar").await;
        assert!(page.contains("Next step: add your first block"), "{page}");
        assert!(!browser.page("/settings/advisor").await.contains("Becoming an advisor"), "no guide once listed");
    }
}

#[tokio::test]
async fn the_directory_finds_a_local_handle_in_every_form() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_advisor("amara").await;
        let domain = server.app.config.domain.clone();
        let mut visitor = server.browser();
        for written in ["@amara".to_string(), format!("@amara@{domain}"), format!("amara@{domain}"), "@AMARA".into()] {
            let query: String = url::form_urlencoded::byte_serialize(written.as_bytes()).collect();
            let reply = visitor.get(&format!("/advisors?q={query}")).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {written}: {}", db.backend, reply.body);
            assert_eq!(reply.location(), Some("/users/amara"), "{written}");
        }
        let page = visitor.page("/advisors?q=%40nobody").await;
        assert!(page.contains("No advisor matches"), "an unknown handle is a search that finds nothing");
    }
}

#[tokio::test]
async fn help_reads_this_instances_settings() {
    for db in test_databases().await {
        let server = TestServer::start_with(&db, |c| c.session_minutes = 15).await;
        let mut admin_browser = server.browser();
        server.create_user("chief", true).await;
        admin_browser.log_in("chief", PASSWORD).await;
        admin_browser.page("/admin/karma").await;
        let saved = admin_browser.post("/admin/karma", &[("no_show", "-7")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

        let mut visitor = server.browser();
        let page = visitor.page("/help").await;
        for expected in
            ["Why 15 minutes?", "costs the absent person -7 karma", "opens 5 minutes early", "/help/calendar"]
        {
            assert!(page.contains(expected), "[{}] help says {expected:?}", db.backend);
        }
        assert!(visitor.page("/").await.contains("href=\"/help\""), "linked from every page");
    }
}

#[tokio::test]
async fn admins_list_search_filter_and_suspend_people() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("chief", true).await;
        server.create_advisor("amara").await;
        server.create_user("noah", false).await;
        let mut admin = server.browser();
        admin.log_in("chief", PASSWORD).await;

        let names = |page: &str| -> Vec<String> {
            page.match_indices("<strong>")
                .map(|(at, _)| page[at + 8..].split('<').next().unwrap().to_string())
                .filter(|name| name != "suspended")
                .collect()
        };
        let all = admin.page("/admin/users").await;
        assert!(all.contains("3 accounts"), "{all}");
        assert_eq!(names(&admin.page("/admin/users?role=advisor").await), vec!["amara"]);
        assert_eq!(names(&admin.page("/admin/users?q=%40noa").await), vec!["noah"]);
        let bad = admin.get("/admin/users?state=sleeping").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("is not an account state"));

        admin.page("/admin/users?role=learner").await;
        let reply =
            admin.post("/users/noah/suspend", &[("suspend", "yes"), ("back", "/admin/users?role=learner")]).await;
        assert_eq!(reply.location(), Some("/admin/users?role=learner"), "[{}]", db.backend);
        assert!(server.store.user_by_username("noah").await.unwrap().suspended_at.is_some());
        let suspended = admin.page("/admin/users?state=suspended").await;
        assert_eq!(names(&suspended), vec!["noah"]);
        assert!(suspended.contains("Lift the suspension"));

        let mut learner = server.browser();
        learner.log_in("amara", PASSWORD).await;
        assert_eq!(learner.get("/admin/users").await.status, StatusCode::FORBIDDEN, "admins only");
    }
}

#[tokio::test]
async fn failed_forms_say_plain_words_beside_their_fields() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_advisor("amara").await;
        let mut browser = server.browser();
        browser.log_in("amara", PASSWORD).await;
        browser.page("/calendar").await;
        let reply = browser
            .post(
                "/calendar/blocks",
                &[("date", ""), ("start", ""), ("end", "25:99"), ("timezone", "UTC"), ("until", "")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        for expected in ["Choose the day.", "Give the time it starts.", "“25:99” is not a time like 14:30."] {
            assert!(reply.body.contains(expected), "{expected}: {}", reply.body);
        }
        assert!(!reply.body.contains("is not a local date and time"), "no joined T form in the page");
        assert!(reply.body.contains("id=\"e-date\"") && reply.body.contains("id=\"e-start\""), "beside each field");
        assert_eq!(input_value(&reply.body, "end").as_deref(), Some("25:99"), "values kept");
        assert!(reply.body.contains("data-page-address=\"/calendar\""));
        let reload = browser.get("/calendar/blocks").await;
        assert_eq!(reload.location(), Some("/calendar#add"), "reloading the form's address leads to its page");

        let day = server.now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::ToSpan::days(2)).unwrap();
        let day = day.to_string();
        let reply = browser
            .post("/calendar/blocks", &[("date", &day), ("start", "10:00"), ("end", "10:10"), ("timezone", "UTC")])
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let page = browser.page(reply.location().unwrap()).await;
        assert!(page.contains("Added 1 session."), "pluralised: {page}");

        let mut visitor = server.browser();
        let missing = visitor.get("/users/nobody-here").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.body.contains("Not found") && !missing.body.contains("Not Found"), "a plain title");
    }
}
