//! How block times are written and how much availability one advisor may
//! publish, through the API and the web form, on SQLite and PostgreSQL:
//! one time format (local, to the minute, zone apart), canonical zones only,
//! a bounded date range, capped series and open slots, and a paged answer.

use crate::support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::PASSWORD;
use support::{TestServer, test_databases};

fn block(start: &str, end: &str, zone: &str) -> Value {
    json!({"start": start, "end": end, "timezone": zone})
}

/// Every slot the advisor has, whenever it is.
async fn all_slots(server: &TestServer, advisor: &officehours::storage::User) -> usize {
    server.store.advisor_slots(advisor.id, i64::MIN, i64::MAX).await.unwrap().len()
}

#[tokio::test]
async fn bad_block_times_get_their_codes_and_create_nothing() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("timely").await;
        let ada = server.api_as(&advisor).await;
        let d = server.day(5);
        let cases = [
            (block(&format!("{d}T10:00:30.5"), &format!("{d}T11:00"), "UTC"), "invalid_time"),
            (block(&format!("{d}T10:00:30"), &format!("{d}T11:00"), "UTC"), "invalid_time"),
            (block(&format!("{d}T10:00"), &format!("{d}T11:00:00"), "UTC"), "invalid_time"),
            (block(&format!("{d}T10:00+05:00"), &format!("{d}T11:00+05:00"), "UTC"), "time_has_offset"),
            (block(&format!("{d}T10:00Z"), &format!("{d}T11:00Z"), "UTC"), "time_has_offset"),
            (block(&format!("{d}T10:00"), &format!("{d}T11:00Z"), "UTC"), "time_has_offset"),
            (block(&format!("{d} 10:00"), &format!("{d} 11:00"), "UTC"), "invalid_datetime"),
            (block("9999-12-31T22:00", "9999-12-31T23:00", "UTC"), "out_of_range"),
            (block("9999-06-01T10:00", "9999-06-01T11:00", "Europe/Berlin"), "out_of_range"),
            (block(&format!("{}T10:00", server.day(91)), &format!("{}T11:00", server.day(91)), "UTC"), "out_of_range"),
            (block("0001-01-01T10:00", "0001-01-01T11:00", "UTC"), "block_in_past"),
            (block(&format!("{d}T10:00"), &format!("{d}T11:00"), "localtime"), "unknown_timezone"),
            (block(&format!("{d}T10:00"), &format!("{d}T11:00"), "posixrules"), "unknown_timezone"),
            (block(&format!("{d}T10:00"), &format!("{d}T11:00"), "Factory"), "unknown_timezone"),
            (block(&format!("{d}T10:00"), &format!("{d}T11:00"), "posix/Europe/Berlin"), "unknown_timezone"),
            (block(&format!("{d}T10:00"), &format!("{d}T11:00"), "EST"), "unknown_timezone"),
        ];
        for (body, code) in cases {
            let (status, reply) = ada.post("/api/v1/blocks", body.clone()).await;
            assert_eq!(
                (status, reply["error"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
                "[{}] {body} → {reply}",
                db.backend
            );
        }
        let (_, reply) = ada.post("/api/v1/blocks", block(&format!("{d}T10:00Z"), &format!("{d}T11:00"), "UTC")).await;
        assert!(reply["message"].as_str().unwrap().contains("local time and the zone separately"), "{reply}");
        let (_, reply) =
            ada.post("/api/v1/blocks", block(&format!("{d}T10:00:30"), &format!("{d}T11:00"), "UTC")).await;
        assert!(reply["message"].as_str().unwrap().contains("to the minute"), "{reply}");
        assert_eq!(all_slots(&server, &advisor).await, 0, "[{}] nothing was created", db.backend);

        // The same rules on the web form.
        let mut web = server.browser();
        web.log_in("timely", PASSWORD).await;
        web.page("/calendar").await;
        let reply = web
            .post("/calendar/blocks", &[("date", &d), ("start", "10:00:30"), ("end", "11:00"), ("timezone", "UTC")])
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        assert!(reply.body.contains("“10:00:30” is not a time like 14:30."), "{}", reply.body);
        let reply = web
            .post("/calendar/blocks", &[("date", &d), ("start", "10:00"), ("end", "11:00"), ("timezone", "localtime")])
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        let reply = web
            .post(
                "/calendar/blocks",
                &[("date", "9999-12-31"), ("start", "22:00"), ("end", "23:00"), ("timezone", "UTC")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        assert_eq!(all_slots(&server, &advisor).await, 0, "[{}] nothing was created from the form", db.backend);

        // The good form, at the edge of the range, still works; a backward name is accepted.
        let edge = server.day(89);
        let (status, reply) =
            ada.post("/api/v1/blocks", block(&format!("{edge}T10:00"), &format!("{edge}T10:30"), "UTC")).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {reply}", db.backend);
        let (status, reply) =
            ada.post("/api/v1/blocks", block(&format!("{d}T10:00"), &format!("{d}T10:30"), "Asia/Calcutta")).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {reply}", db.backend);
        assert_eq!(reply["start_time"], "10:00");

        // A person's own zone setting follows the same check.
        for zone in ["localtime", "posixrules", "Factory"] {
            let (status, reply) = ada.call(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"timezone": zone}))).await;
            assert_eq!(
                (status, reply["error"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_timezone")),
                "[{}] {zone}",
                db.backend
            );
        }
    }
}

#[tokio::test]
async fn series_and_open_slots_are_capped_and_refusals_create_nothing() {
    for db in test_databases().await {
        let server = TestServer::start_with(&db, |config| {
            config.max_open_slots_per_advisor = 30;
            config.max_series_occurrences = 5;
        })
        .await;
        let advisor = server.create_advisor("capped").await;
        let ada = server.api_as(&advisor).await;

        // Every day for a week: 7 occurrences, more than 5.
        let daily = json!({"start": format!("{}T09:00", server.day(2)), "end": format!("{}T09:10", server.day(2)), "timezone": "UTC",
            "repeat_weekly_until": server.day(8), "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]});
        let (status, reply) = ada.post("/api/v1/blocks", daily).await;
        assert_eq!((status, reply["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("series_too_long")));
        assert!(reply["message"].as_str().unwrap().contains("7 occurrences"), "{reply}");
        assert!(reply["message"].as_str().unwrap().contains("at most 5"), "{reply}");

        // One block bigger than the cap on its own: 36 sessions.
        let d = server.day(3);
        let (status, reply) =
            ada.post("/api/v1/blocks", block(&format!("{d}T08:00"), &format!("{d}T14:00"), "UTC")).await;
        assert_eq!((status, reply["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("too_many_slots")));
        assert!(reply["message"].as_str().unwrap().contains("add 36 sessions"), "{reply}");
        assert_eq!(all_slots(&server, &advisor).await, 0, "[{}]", db.backend);

        // 24 + 6 fit exactly; one more does not.
        let (status, _) = ada.post("/api/v1/blocks", block(&format!("{d}T08:00"), &format!("{d}T12:00"), "UTC")).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = ada.post("/api/v1/blocks", block(&format!("{d}T13:00"), &format!("{d}T14:00"), "UTC")).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, reply) =
            ada.post("/api/v1/blocks", block(&format!("{d}T15:00"), &format!("{d}T15:10"), "UTC")).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("too_many_slots")),
            "[{}] {reply}",
            db.backend
        );
        let message = reply["message"].as_str().unwrap();
        assert!(message.contains("add 1 session to your 30 upcoming") && message.contains("at most 30"), "{message}");
        assert_eq!(all_slots(&server, &advisor).await, 30, "[{}] the refused block left nothing", db.backend);

        // The cap is per advisor.
        let other = server.create_advisor("other").await;
        let (status, _) = server
            .api_as(&other)
            .await
            .post("/api/v1/blocks", block(&format!("{d}T15:00"), &format!("{d}T15:10"), "UTC"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "[{}]", db.backend);
    }
}

#[tokio::test]
async fn the_created_slots_come_in_pages() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("pager").await;
        let ada = server.api_as(&advisor).await;
        // 09:00–17:00 on three days: 3 × 48 = 144 sessions.
        let first = server.day(2);
        let body = json!({"start": format!("{first}T09:00"), "end": format!("{first}T17:00"), "timezone": "UTC",
            "repeat_weekly_until": server.day(4), "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "buffer_minutes": 0});
        let (status, created) = ada.post("/api/v1/blocks", body).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {created}", db.backend);
        let id = created["id"].as_i64().unwrap();
        assert_eq!(created["slot_count"], 144);
        assert_eq!(created["slots"].as_array().unwrap().len(), 100);
        assert_eq!(created["next"], format!("/api/v1/blocks/{id}/slots?page=2"));

        let (status, page1) = ada.get(&format!("/api/v1/blocks/{id}/slots")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page1["slots"], created["slots"], "[{}] page 1 is the answer's page", db.backend);
        let (status, page2) = ada.get(created["next"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{page2}");
        assert_eq!((page2["page"].as_i64(), page2["slot_count"].as_i64()), (Some(2), Some(144)));
        assert_eq!(page2["slots"].as_array().unwrap().len(), 44);
        assert!(page2["next"].is_null());
        let last_of_first = page1["slots"][99]["start"].as_str().unwrap().to_string();
        assert!(page2["slots"][0]["start"].as_str().unwrap() > last_of_first.as_str(), "in time order");
        let (_, page3) = ada.get(&format!("/api/v1/blocks/{id}/slots?page=3")).await;
        assert_eq!(page3["slots"].as_array().unwrap().len(), 0);

        // A small block has no next page; others' blocks are not listed.
        let (_, small) = ada
            .post(
                "/api/v1/blocks",
                block(&format!("{}T10:00", server.day(6)), &format!("{}T10:30", server.day(6)), "UTC"),
            )
            .await;
        assert_eq!((small["slot_count"].as_i64(), small["next"].is_null()), (Some(3), true), "{small}");
        let learner = server.create_user("peeker", false).await;
        let (status, reply) = server.api_as(&learner).await.get(&format!("/api/v1/blocks/{id}/slots")).await;
        assert_eq!((status, reply["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let (status, reply) = ada.get(&format!("/api/v1/blocks/{id}/slots?page=x")).await;
        assert_eq!((status, reply["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocks_created_at_once_cannot_together_pass_the_cap() {
    for db in test_databases().await {
        let server = TestServer::start_with(&db, |config| config.max_open_slots_per_advisor = 30).await;
        let advisor = server.create_advisor("racer").await;
        for round in 0..2i64 {
            // Eight blocks of 20 sessions on different days at once: one fits
            // in the first round (none in the second), never two.
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (app, advisor) = (server.app.clone(), advisor.clone());
                let date = server.day(2 + round * 8 + i);
                tasks.push(tokio::spawn(async move {
                    let input = officehours::service::booking::BlockInput {
                        start: format!("{date}T08:00"),
                        end: format!("{date}T11:20"),
                        timezone: "UTC".into(),
                        ..Default::default()
                    };
                    app.create_block(&advisor, &input).await.map(|_| ()).map_err(|e| e.code())
                }));
            }
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            let created = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(created, usize::from(round == 0), "[{}] round {round}: {results:?}", db.backend);
            assert!(results.iter().all(|r| matches!(r, Ok(()) | Err("too_many_slots"))), "{results:?}");
            assert_eq!(all_slots(&server, &advisor).await, 20, "[{}] round {round}", db.backend);
        }
    }
}
