//! The booking core through the API, on SQLite and PostgreSQL: blocks,
//! slots, requests, decisions, the rules that refuse requests, and no
//! double booking under concurrency.

use crate::support;

use jiff::ToSpan;
use officehours::domain::federation::PublishedStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, test_databases};

fn block(date: &str, from: &str, to: &str) -> Value {
    json!({"start": format!("{date}T{from}"), "end": format!("{date}T{to}"), "timezone": "UTC"})
}

fn ids(slots: &Value) -> Vec<i64> {
    slots.as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn request_approve_and_both_sides_see_it() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("ada").await;
        let learner = server.create_user("bob", false).await;
        let ada = server.api_as(&advisor).await;
        let bob = server.api_as(&learner).await;

        let date = server.day(3);
        let (status, created) = ada.post("/api/v1/blocks", block(&date, "14:00", "15:00")).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {created}", db.backend);
        let slots = &created["slots"];
        assert_eq!(slots.as_array().unwrap().len(), 6, "one hour = six 10-minute sessions");
        assert_eq!(slots[0]["start"], format!("{date}T14:00:00Z"));
        assert_eq!(slots[5]["end"], format!("{date}T15:00:00Z"));
        assert!(slots.as_array().unwrap().iter().all(|s| s["status"] == "open"));
        let slot = slots[1]["id"].as_i64().unwrap();

        let (status, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&listed), ids(slots), "learners see the open slots");

        let (status, request) = bob
            .post(&format!("/api/v1/slots/{slot}/requests"), json!({"note": "Borrow checker help", "answers": {}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {request}", db.backend);
        assert_eq!(request["status"], "requested");
        let request_id = request["id"].as_i64().unwrap();
        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(listed[1]["status"], "requested");

        let (status, body) = bob.post(&format!("/api/v1/requests/{request_id}/approve"), json!({})).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::CONFLICT, Some("not_allowed")),
            "learners cannot approve"
        );
        let stranger = server.create_user("eve", false).await;
        let eve = server.api_as(&stranger).await;
        let (status, _) = eve.post(&format!("/api/v1/requests/{request_id}/cancel"), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "other people's requests do not exist for you");

        // No body at all is fine for a decision.
        let response = ada
            .http
            .post(format!("{}/api/v1/requests/{request_id}/approve", ada.base))
            .bearer_auth(ada.token.as_ref().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let approved: Value = response.json().await.unwrap();
        assert_eq!(approved["status"], "approved");

        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert!(!ids(&listed).contains(&slot), "a booked slot is no longer offered");
        let (_, own) = ada.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(own[1]["status"], "booked", "the advisor sees it booked");

        for (api, role) in [(&bob, "learner"), (&ada, "advisor")] {
            let (status, sessions) = api.get("/api/v1/me/sessions").await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(sessions.as_array().unwrap().len(), 1, "[{}] {sessions}", db.backend);
            assert_eq!((sessions[0]["status"].as_str(), sessions[0]["role"].as_str()), (Some("approved"), Some(role)));
            assert_eq!(sessions[0]["note"], "Borrow checker help");
        }

        let (status, cancelled) =
            bob.post(&format!("/api/v1/requests/{request_id}/cancel"), json!({"note": "Solved it myself"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (cancelled["status"].as_str(), cancelled["decision_note"].as_str()),
            (Some("cancelled"), Some("Solved it myself"))
        );
        let (status, body) = bob.post(&format!("/api/v1/requests/{request_id}/cancel"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("already_decided")));

        let events = server.store.request_events(request_id).await.unwrap();
        let kinds: Vec<(&str, Option<i64>)> = events.iter().map(|(k, actor, _, _)| (k.as_str(), *actor)).collect();
        assert_eq!(
            kinds,
            vec![("requested", Some(learner.id)), ("approved", Some(advisor.id)), ("cancelled", Some(learner.id))]
        );
        let (_, listed) = bob.get("/api/v1/advisors/ada/slots").await;
        assert!(ids(&listed).contains(&slot), "a cancelled booking frees the slot");
    }
}

#[tokio::test]
async fn approving_one_request_declines_the_others_in_the_same_transaction() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("grace").await;
        let ada = server.api_as(&advisor).await;
        let (_, created) = ada.post("/api/v1/blocks", block(&server.day(2), "09:00", "09:10")).await;
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        let mut requests = Vec::new();
        for name in ["l1", "l2", "l3"] {
            let learner = server.create_user(name, false).await;
            let api = server.api_as(&learner).await;
            let (status, body) = api.post(&format!("/api/v1/slots/{slot}/requests"), json!({"note": name})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            requests.push((api, body["id"].as_i64().unwrap()));
        }
        let (status, _) =
            ada.post(&format!("/api/v1/requests/{}/approve", requests[1].1), json!({"note": "See you"})).await;
        assert_eq!(status, StatusCode::OK);
        for (i, (api, id)) in requests.iter().enumerate() {
            let (_, sessions) = api.get("/api/v1/me/sessions").await;
            let mine = sessions.as_array().unwrap().iter().find(|s| s["request_id"] == *id).unwrap();
            if i == 1 {
                assert_eq!(mine["status"], "approved");
            } else {
                assert_eq!(mine["status"], "declined", "[{}]", db.backend);
                assert_eq!(mine["decision_note"], "Another request for this slot was approved.");
            }
        }
        let (status, body) = ada.post(&format!("/api/v1/requests/{}/approve", requests[0].1), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("already_decided")));
        let (status, body) = ada.post(&format!("/api/v1/requests/{}/decline", requests[1].1), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("already_decided")));
    }
}

#[tokio::test]
async fn bad_blocks_get_clear_errors_and_change_nothing() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("hedy").await;
        let ada = server.api_as(&advisor).await;
        let date = server.day(5);
        let (status, _) = ada.post("/api/v1/blocks", block(&date, "10:00", "11:00")).await;
        assert_eq!(status, StatusCode::CREATED);
        let cases = [
            (block(&date, "15:00", "14:00"), StatusCode::UNPROCESSABLE_ENTITY, "block_ends_before_start"),
            (block(&date, "10:30", "11:30"), StatusCode::CONFLICT, "block_overlap"),
            (block(&date, "16:00", "16:05"), StatusCode::UNPROCESSABLE_ENTITY, "block_holds_no_session"),
            (block(&server.day(-2), "10:00", "11:00"), StatusCode::UNPROCESSABLE_ENTITY, "block_in_past"),
            (
                json!({"start": format!("{date}T16:00"), "end": format!("{date}T17:00"), "timezone": "Mars/Olympus"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_timezone",
            ),
            (
                json!({"start": "tomorrow at four", "end": format!("{date}T17:00")}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_datetime",
            ),
            (
                json!({"start": format!("{date}T23:00"), "end": format!("{}T01:00", server.day(6))}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "block_spans_days",
            ),
            (
                json!({"start": format!("{date}T18:00"), "end": format!("{date}T19:00"), "repeat_weekly_until": server.day(1)}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "series_ends_before_start",
            ),
            (
                json!({"start": format!("{date}T18:00"), "end": format!("{date}T19:00"), "repeat_weekly_until": "soon"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_date",
            ),
            (
                json!({"start": format!("{date}T18:00"), "end": format!("{date}T19:00"), "buffer_minutes": -5}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "out_of_range",
            ),
        ];
        for (body, status, code) in cases {
            let (got, reply) = ada.post("/api/v1/blocks", body.clone()).await;
            assert_eq!((got, reply["error"].as_str()), (status, Some(code)), "[{}] {body} → {reply}", db.backend);
        }
        let (_, own) = ada.get("/api/v1/advisors/hedy/slots").await;
        assert_eq!(own.as_array().unwrap().len(), 6, "[{}] only the first block's slots exist", db.backend);

        let learner = server.create_user("nonadvisor", false).await;
        let (status, reply) =
            server.api_as(&learner).await.post("/api/v1/blocks", block(&date, "20:00", "21:00")).await;
        assert_eq!((status, reply["error"].as_str()), (StatusCode::FORBIDDEN, Some("not_an_advisor")));
    }
}

#[tokio::test]
async fn requests_are_refused_by_the_rules_with_codes() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("rules").await;
        let ada = server.api_as(&advisor).await;
        let learner = server.create_user("asker", false).await;
        let bob = server.api_as(&learner).await;

        // Inside the minimum notice: a block two days ahead that asks for 100 hours.
        let (status, created) = ada
            .post(
                "/api/v1/blocks",
                json!({"start": format!("{}T09:00", server.day(2)), "end": format!("{}T09:10", server.day(2)), "timezone": "UTC", "min_notice_minutes": 6000}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        let (status, body) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("inside_minimum_notice")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("6000 minutes"), "{body}");

        // A slot that has already started (written directly: the API refuses past blocks).
        let past = server.now().checked_sub(30.minutes()).unwrap().as_millisecond();
        let new = officehours::storage::NewBlock {
            advisor_id: advisor.id,
            timezone: "UTC".into(),
            start_date: "2000-01-01".into(),
            start_time: "00:00".into(),
            end_time: "00:10".into(),
            weekdays: None,
            until_date: None,
            session_minutes: 10,
            overrides: Default::default(),
            offering_id: None,
            occurrences: vec![officehours::storage::NewOccurrence {
                date: "2000-01-01".into(),
                start: past,
                end: past + 600_000,
                slots: vec![(past, past + 600_000)],
            }],
        };
        let (_, past_slots) = server.store.create_block(&new, server.clock.now_ms()).await.unwrap();
        let (status, body) = bob.post(&format!("/api/v1/slots/{}/requests", past_slots[0].id), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("slot_past")), "[{}]", db.backend);

        let (_, far) = ada.post("/api/v1/blocks", block(&server.day(70), "09:00", "09:10")).await;
        let far_slot = far["slots"][0]["id"].as_i64().unwrap();
        let (status, body) = bob.post(&format!("/api/v1/slots/{far_slot}/requests"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("beyond_horizon")));

        // Two per week by default; the third in the same week is refused.
        let (_, week) = ada.post("/api/v1/blocks", block(&server.day(8), "09:00", "09:30")).await;
        let slots = ids(&week["slots"]);
        for slot in &slots[..2] {
            let (status, body) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (status, body) = bob.post(&format!("/api/v1/slots/{}/requests", slots[0]), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("already_requested")));
        let (status, body) = bob.post(&format!("/api/v1/slots/{}/requests", slots[2]), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("weekly_limit")), "[{}]", db.backend);

        let (status, body) = ada.post(&format!("/api/v1/slots/{}/requests", slots[2]), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("own_slot")));
        let (status, body) = bob.post("/api/v1/slots/999999/requests", json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let (status, body) =
            bob.post(&format!("/api/v1/slots/{}/requests", slots[2]), json!({"note": "x".repeat(3000)})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("too_long")));
        let (status, body) =
            bob.post(&format!("/api/v1/slots/{}/requests", slots[2]), json!({"answers": [1, 2]})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_answers")));

        // Taken: another learner after an approval.
        let (_, sessions) = bob.get("/api/v1/me/sessions").await;
        let first = sessions[0]["request_id"].as_i64().unwrap();
        ada.post(&format!("/api/v1/requests/{first}/approve"), json!({})).await;
        let other = server.create_user("latecomer", false).await;
        let late = server.api_as(&other).await;
        let taken_slot = sessions[0]["slot_id"].as_i64().unwrap();
        let (status, body) = late.post(&format!("/api/v1/slots/{taken_slot}/requests"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("slot_taken")), "[{}]", db.backend);

        let (status, body) = bob.get("/api/v1/advisors/rules/slots?from=yesterday").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_instant")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_requests_and_approvals_book_one_slot_once() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("popular").await;
        let ada = server.api_as(&advisor).await;
        let (_, created) = ada.post("/api/v1/blocks", block(&server.day(4), "12:00", "12:20")).await;
        let slots = ids(&created["slots"]);
        let mut learners = Vec::new();
        for i in 0..200 {
            let new = officehours::storage::NewUser {
                username: format!("crowd{i}"),
                email: format!("crowd{i}@example.org"),
                email_verified: true,
                password_hash: "unused".into(),
                display_name: String::new(),
                timezone: "UTC".into(),
                is_advisor: false,
                is_pro: false,
                is_admin: false,
            };
            learners.push(server.store.create_user(&new, server.clock.now_ms()).await.unwrap());
        }

        // 200 requests for one slot at once, then 200 approvals at once.
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for learner in learners.clone() {
            let app = server.app.clone();
            let slot = slots[0];
            tasks.push(tokio::spawn(async move { app.request_slot(&learner, slot, "", &Value::Null, None).await }));
        }
        let mut request_ids = Vec::new();
        for task in tasks {
            request_ids.push(task.await.unwrap().expect("every request is accepted while the slot is open").id);
        }
        let requested = started.elapsed();
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for id in request_ids {
            let app = server.app.clone();
            let advisor = advisor.clone();
            tasks.push(tokio::spawn(async move {
                app.decide(&advisor, id, officehours::domain::booking::Action::Approve, "").await
            }));
        }
        let mut approved = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => approved += 1,
                Err(err) => assert_eq!(err.code(), "already_decided", "[{}] {err:?}", db.backend),
            }
        }
        let decided = started.elapsed();
        assert_eq!(approved, 1, "[{}]", db.backend);
        let (_, own) = ada.get("/api/v1/advisors/popular/slots").await;
        assert_eq!(own[0]["status"], "booked");

        // With automatic approval, 200 racing requests: one booking, 199 refusals.
        let (_, auto) = ada
            .post("/api/v1/blocks", json!({"start": format!("{}T12:00", server.day(5)), "end": format!("{}T12:10", server.day(5)), "timezone": "UTC", "approval_required": false}))
            .await;
        let slot = auto["slots"][0]["id"].as_i64().unwrap();
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for learner in learners {
            let app = server.app.clone();
            tasks.push(tokio::spawn(async move { app.request_slot(&learner, slot, "", &Value::Null, None).await }));
        }
        let mut booked = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(request) => {
                    assert_eq!(request.status, officehours::domain::booking::RequestStatus::Approved);
                    booked += 1;
                }
                Err(err) => assert_eq!(err.code(), "slot_taken", "[{}] {err:?}", db.backend),
            }
        }
        let raced = started.elapsed();
        assert_eq!(booked, 1, "[{}]", db.backend);
        eprintln!(
            "[{}] 200 concurrent requests: {requested:?}; 200 concurrent approvals: {decided:?}; 200 racing auto-approved requests: {raced:?}",
            db.backend
        );
    }
}

#[tokio::test]
async fn the_database_itself_refuses_a_second_approved_request() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("strict").await;
        let ada = server.api_as(&advisor).await;
        let (_, created) = ada.post("/api/v1/blocks", block(&server.day(3), "10:00", "10:10")).await;
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        let a = server.create_user("first", false).await;
        let b = server.create_user("second", false).await;
        let insert = |learner: i64| {
            format!(
                "INSERT INTO requests (slot_id, advisor_id, learner_id, status, created_at, updated_at) \
                 VALUES ({slot}, {}, {learner}, 'approved', 0, 0)",
                advisor.id
            )
        };
        server.store.execute_raw(&insert(a.id)).await.unwrap();
        let second = server.store.execute_raw(&insert(b.id)).await;
        assert!(
            matches!(
                second,
                Err(officehours::storage::StorageError::Duplicate(officehours::storage::Constraint::ApprovedRequest))
            ),
            "[{}] {second:?}",
            db.backend
        );
    }
}

/// Random sequences of requests, approvals, declines and cancellations by
/// random people never break the invariants, and every answer matches the
/// state machine.
#[tokio::test]
async fn random_booking_sequences_keep_the_invariants() {
    use officehours::domain::booking::{Action, RequestStatus, Role, transition};
    use rand::{Rng, SeedableRng};

    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let learners: Vec<_> = {
            let mut v = Vec::new();
            for i in 0..4 {
                v.push(server.create_user(&format!("prop{i}"), false).await);
            }
            v
        };
        let sequences = if db.backend == "sqlite" { 12 } else { 6 };
        for seq in 0..sequences {
            let seed = 7_000 + seq;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let advisor = server.create_advisor(&format!("propadv{seq}")).await;
            let ada = server.api_as(&advisor).await;
            let (_, created) = ada.post("/api/v1/blocks", block(&server.day(3 + seq as i64), "10:00", "10:30")).await;
            let slots = ids(&created["slots"]);
            // request id → (slot, learner index, status)
            let mut model: Vec<(i64, i64, usize, RequestStatus)> = Vec::new();
            for step in 0..30 {
                let context = format!("[{}] seed {seed} step {step}", db.backend);
                if model.is_empty() || rng.random_bool(0.4) {
                    let who = rng.random_range(0..learners.len());
                    let slot = slots[rng.random_range(0..slots.len())];
                    match server.app.request_slot(&learners[who], slot, "", &Value::Null, None).await {
                        Ok(r) => model.push((r.id, slot, who, r.status)),
                        Err(err) => assert!(
                            ["slot_taken", "already_requested", "weekly_limit"].contains(&err.code()),
                            "{context}: {err:?}"
                        ),
                    }
                } else {
                    let pick = rng.random_range(0..model.len());
                    let (id, _, who, status) = model[pick];
                    let action = [Action::Approve, Action::Decline, Action::Cancel][rng.random_range(0..3)];
                    let (actor, role) =
                        if rng.random_bool(0.5) { (&advisor, Role::Advisor) } else { (&learners[who], Role::Learner) };
                    let expected = transition(status, action, role);
                    match server.app.decide(actor, id, action, "").await {
                        Ok(decided) => {
                            let next = decided.request.status;
                            assert_eq!(Ok(next), expected, "{context}");
                            model[pick].3 = next;
                            for other in &decided.also_declined {
                                let entry = model.iter_mut().find(|m| m.0 == other.id).expect("known request");
                                assert_eq!(
                                    entry.3,
                                    RequestStatus::Requested,
                                    "{context}: only pending ones are declined"
                                );
                                entry.3 = RequestStatus::Declined;
                            }
                        }
                        Err(err) => assert!(
                            expected.is_err(),
                            "{context}: {action:?} by {role:?} on {status:?} failed: {err:?}"
                        ),
                    }
                }
                // Invariants, read back from the database.
                for &slot in &slots {
                    let live: Vec<_> = model.iter().filter(|m| m.1 == slot && m.3 == RequestStatus::Approved).collect();
                    assert!(live.len() <= 1, "{context}: two approved requests for slot {slot}");
                }
                let (_, sessions) = ada.get("/api/v1/me/sessions").await;
                for entry in sessions.as_array().unwrap() {
                    let id = entry["request_id"].as_i64().unwrap();
                    let expected = model.iter().find(|m| m.0 == id).expect("every stored request is known").3;
                    assert_eq!(entry["status"], expected.as_str(), "{context}: request {id}");
                }
                let (_, own) = ada.get("/api/v1/advisors/{}/slots".replace("{}", &advisor.username).as_str()).await;
                for slot in own.as_array().unwrap() {
                    let id = slot["id"].as_i64().unwrap();
                    let approved = model.iter().any(|m| m.1 == id && m.3 == RequestStatus::Approved);
                    let pending = model.iter().any(|m| m.1 == id && m.3 == RequestStatus::Requested);
                    let status = if approved {
                        "booked"
                    } else if pending {
                        "requested"
                    } else {
                        "open"
                    };
                    assert_eq!(slot["status"], status, "{context}: slot {id}");
                }
            }
        }
    }
}

#[tokio::test]
async fn unlisted_offerings_are_reachable_only_through_the_private_link() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("quiet").await;
        let ada = server.api_as(&advisor).await;
        let learner = server.create_user("insider", false).await;
        let bob = server.api_as(&learner).await;

        let (_, listed) = ada.post("/api/v1/blocks", block(&server.day(3), "09:00", "09:20")).await;
        let (status, hidden) = ada
            .post(
                "/api/v1/blocks",
                json!({"start": format!("{}T11:00", server.day(3)), "end": format!("{}T11:10", server.day(3)), "timezone": "UTC", "unlisted": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hidden}");
        let hidden_slot = hidden["slots"][0]["id"].as_i64().unwrap();
        let (_, public) = bob.get("/api/v1/advisors/quiet/slots").await;
        assert_eq!(ids(&public), ids(&listed["slots"]), "[{}] an unlisted block is not listed", db.backend);

        // Slot ids are sequential: a guessed id of an unlisted slot answers
        // as if there were no such slot, for the API and the web form alike.
        let link = server.app.new_private_link(&advisor).await.unwrap();
        let secret = link.rsplit('/').next().unwrap().to_string();
        for path in [
            format!("/api/v1/slots/{hidden_slot}/questions"),
            format!("/api/v1/slots/{hidden_slot}/questions?link=wrong"),
        ] {
            let (status, body) = bob.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "[{}] {path}: {body}", db.backend);
        }
        for body in [json!({}), json!({"link": "wrong"}), json!({"link": ""})] {
            let (status, answer) = bob.post(&format!("/api/v1/slots/{hidden_slot}/requests"), body.clone()).await;
            assert_eq!(
                (status, answer["error"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found")),
                "[{}] {body}",
                db.backend
            );
        }
        let mut insider = server.browser();
        insider.log_in("insider", support::server::PASSWORD).await;
        let guessed = insider.get(&format!("/slots/{hidden_slot}/request")).await;
        assert_eq!(guessed.status, StatusCode::NOT_FOUND, "[{}] the web form without the link", db.backend);
        let (_, mine) = bob.get("/api/v1/me/sessions").await;
        assert_eq!(mine, json!([]), "[{}] nothing was requested", db.backend);

        // The private link shows both, and the unlisted slot can be requested
        // through it: the link's secret travels to the form and with the request.
        let path = link.strip_prefix(&server.base).unwrap().to_string();
        let mut browser = server.browser();
        let page = browser.page(&path).await;
        let form_path = format!("/slots/{hidden_slot}/request?link={secret}");
        assert!(page.contains(&form_path), "the private page offers the unlisted slot: {page}");
        let form = insider.page(&form_path).await;
        assert!(form.contains(&format!("name=\"link\" value=\"{secret}\"")), "{form}");
        let sent = insider
            .post(&format!("/slots/{hidden_slot}/request"), &[("note", "Found you"), ("link", secret.as_str())])
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, sent.body);
        let (status, questions) = bob.get(&format!("/api/v1/slots/{hidden_slot}/questions?link={secret}")).await;
        assert_eq!(status, StatusCode::OK, "{questions}");
        let (_, mine) = bob.get("/api/v1/me/sessions").await;
        assert_eq!(mine.as_array().unwrap().len(), 1, "[{}] {mine}", db.backend);

        // An unlisted advisor shows nothing publicly; a new link kills the old one.
        let settings = officehours::service::booking::BookingSettings {
            buffer_minutes: 0,
            min_notice_minutes: 120,
            horizon_days: 60,
            max_per_learner_week: 2,
            approval_required: true,
            unlisted: true,
            note_optional: false,
        };
        server.app.save_booking_settings(&advisor, &settings).await.unwrap();
        let (_, public) = bob.get("/api/v1/advisors/quiet/slots").await;
        assert_eq!(public, json!([]), "[{}]", db.backend);
        server.app.new_private_link(&advisor).await.unwrap();
        assert_eq!(browser.get(&path).await.status, StatusCode::NOT_FOUND, "the old link is dead");
        assert_eq!(browser.get("/book/not-a-real-link").await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn removing_an_occurrence_or_the_whole_series_cancels_its_requests() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("series").await;
        let ada = server.api_as(&advisor).await;
        let learner = server.create_user("regular", false).await;
        let bob = server.api_as(&learner).await;
        let first = server.day(2);
        let (status, created) = ada
            .post(
                "/api/v1/blocks",
                json!({"start": format!("{first}T10:00"), "end": format!("{first}T10:20"), "timezone": "UTC", "repeat_weekly_until": server.day(16), "max_per_learner_week": 0}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let block_id = created["id"].as_i64().unwrap();
        let slots = ids(&created["slots"]);
        assert_eq!(slots.len(), 6, "three weeks of two sessions");
        for slot in [slots[0], slots[2], slots[4]] {
            let (status, body) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        // Remove the first day only, through the web page.
        let mut web = server.browser();
        web.log_in("series", support::server::PASSWORD).await;
        let form = web.page(&format!("/blocks/{block_id}/remove?date={first}")).await;
        assert!(form.contains("The whole series"));
        let reply = web
            .post(
                &format!("/blocks/{block_id}/remove"),
                &[("scope", "occurrence"), ("date", &first), ("note", "Ill that day")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let (_, sessions) = bob.get("/api/v1/me/sessions").await;
        let statuses: Vec<&str> = sessions.as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["cancelled", "requested", "requested"], "[{}]", db.backend);
        assert_eq!(sessions[0]["decision_note"], "Ill that day");
        let (_, own) = ada.get("/api/v1/advisors/series/slots").await;
        let own_statuses: Vec<&str> = own.as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(own_statuses, ["cancelled", "cancelled", "requested", "open", "requested", "open"]);
        let (status, body) = bob.post(&format!("/api/v1/slots/{}/requests", slots[1]), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("slot_cancelled")));

        // Then annihilate the series.
        let reply = web
            .post(&format!("/blocks/{block_id}/remove"), &[("scope", "series"), ("date", &first), ("note", "")])
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let (_, sessions) = bob.get("/api/v1/me/sessions").await;
        assert!(sessions.as_array().unwrap().iter().all(|s| s["status"] == "cancelled"), "[{}] {sessions}", db.backend);
        let (_, public) = bob.get("/api/v1/advisors/series/slots").await;
        assert_eq!(public, json!([]));
        let other = server.create_advisor("intruder").await;
        let result = server.app.remove_block(&other, block_id, None, "").await;
        assert_eq!(result.unwrap_err().status(), 404, "only the owner can remove a block");
    }
}

#[tokio::test]
async fn booking_rules_private_link_and_calendar_from_the_settings_page() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("tidy").await;
        let mut web = server.browser();
        web.log_in("tidy", support::server::PASSWORD).await;
        let page = web.page("/settings/booking").await;
        assert!(page.contains("value=\"120\""), "the default notice is shown");

        let rules = [
            ("buffer_minutes", "5"),
            ("min_notice_minutes", "60"),
            ("horizon_days", "30"),
            ("max_per_learner_week", "1"),
            ("unlisted", "on"),
        ];
        let mut bad = rules.to_vec();
        bad[0] = ("buffer_minutes", "five");
        let reply = web.post("/settings/booking", &bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("is not a whole number"));
        let mut bad = rules.to_vec();
        bad[2] = ("horizon_days", "9999");
        assert_eq!(web.post("/settings/booking", &bad).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(server.app.booking_settings(&advisor).await.unwrap().horizon_days, 60, "nothing saved");

        assert_eq!(web.post("/settings/booking", &rules).await.status, StatusCode::SEE_OTHER);
        let policy = server.app.booking_settings(&advisor).await.unwrap();
        assert_eq!(
            (policy.buffer_minutes, policy.min_notice_minutes, policy.horizon_days),
            (5, 60, 30),
            "[{}]",
            db.backend
        );
        assert!(!policy.approval_required && policy.unlisted, "unticked approval means automatic");

        // The buffer applies to new blocks: 10 minutes + 5 buffer in 40 minutes = 3 sessions.
        let ada = server.api_as(&advisor).await;
        let (_, created) = ada.post("/api/v1/blocks", block(&server.day(2), "09:00", "09:40")).await;
        let starts: Vec<&str> =
            created["slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
        assert_eq!(starts.len(), 3, "{created}");
        assert!(starts[1].ends_with("T09:15:00Z"));

        let reply = web.post("/settings/booking/link", &[]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.contains(&format!("{}/book/", server.base)), "the new link is shown once");

        let reply = web.post("/settings/booking/calendar", &[("url", "http://127.0.0.1:9/nothing.ics")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {}", db.backend, reply.body);
        assert!(server.app.booking_settings(&advisor).await.unwrap().busy_ics_url.is_none());
    }
}

#[tokio::test]
async fn booking_questions_are_asked_and_their_answers_checked() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("curious").await;
        let ada = server.api_as(&advisor).await;

        // Questions set through the settings page (repeated fields, blank rows dropped).
        let mut web = server.browser();
        web.log_in("curious", support::server::PASSWORD).await;
        web.page("/settings/booking").await;
        let fields = [
            ("label", "Your level?"),
            ("kind", "choice"),
            ("required", "yes"),
            ("choices", "Beginner\nIntermediate\nExpert"),
            ("label", "Link to your code"),
            ("kind", "text"),
            ("required", "no"),
            ("choices", ""),
            ("label", ""),
            ("kind", "text"),
            ("required", "no"),
            ("choices", ""),
        ];
        let reply = web.post("/settings/booking/questions", &fields).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let bad = [("label", "Pick one"), ("kind", "choice"), ("required", "yes"), ("choices", "Only one")];
        let reply = web.post("/settings/booking/questions", &bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("needs between 2 and 10 choices"));

        let (status, questions) = ada.get("/api/v1/advisors/curious/questions").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            questions.as_array().unwrap().len(),
            2,
            "[{}] the bad save changed nothing: {questions}",
            db.backend
        );
        assert_eq!(questions[0]["choices"], json!(["Beginner", "Intermediate", "Expert"]));
        let level = questions[0]["id"].as_i64().unwrap().to_string();
        let link = questions[1]["id"].as_i64().unwrap().to_string();

        let (_, created) = ada.post("/api/v1/blocks", block(&server.day(3), "09:00", "09:10")).await;
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        let learner = server.create_user("answerer", false).await;
        let bob = server.api_as(&learner).await;
        let path = format!("/api/v1/slots/{slot}/requests");
        let (status, body) =
            bob.post(&path, json!({"note": "hi", "answers": {link.clone(): "https://code.example"}})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("answer_required")));
        let (status, body) = bob.post(&path, json!({"answers": {level.clone(): "Wizard"}})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_choice")));
        let (status, body) = bob.post(&path, json!({"answers": {"424242": "?"}})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_question")));

        // Through the web form, with the answers shown on the request's page.
        let mut learner_web = server.browser();
        learner_web.log_in("answerer", support::server::PASSWORD).await;
        let form = learner_web.page(&format!("/slots/{slot}/request")).await;
        assert!(form.contains("Your level? (required)") && form.contains("<option value=\"Expert\""));
        let level_field = format!("answer_{level}");
        let reply =
            learner_web.post(&format!("/slots/{slot}/request"), &[("note", "Lifetimes"), (&level_field, "")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("Please answer “Your level?”") && reply.body.contains("Lifetimes"), "note kept");
        let reply = learner_web
            .post(&format!("/slots/{slot}/request"), &[("note", "Lifetimes"), (&level_field, "Intermediate")])
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let (_, sessions) = ada.get("/api/v1/me/sessions").await;
        let request_id = sessions[0]["request_id"].as_i64().unwrap();
        let page = web.page(&format!("/requests/{request_id}")).await;
        assert!(page.contains("Your level?") && page.contains("Intermediate"), "the advisor sees the answers");
        server.create_user("outsider", false).await;
        let mut outsider = server.browser();
        outsider.log_in("outsider", support::server::PASSWORD).await;
        assert_eq!(outsider.get(&format!("/requests/{request_id}")).await.status, StatusCode::NOT_FOUND, "not theirs");
    }
}

#[tokio::test]
async fn a_block_can_be_edited_to_change_its_own_rules() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("editor").await;
        let ada = server.api_as(&advisor).await;
        let (_, created) = ada.post("/api/v1/blocks", block(&server.day(3), "09:00", "09:20")).await;
        let block_id = created["id"].as_i64().unwrap();
        let mut web = server.browser();
        web.log_in("editor", support::server::PASSWORD).await;
        let form = web.page(&format!("/blocks/{block_id}/edit?date={}", server.day(3))).await;
        assert!(form.contains("As in my settings"));

        let bad = web
            .post(&format!("/blocks/{block_id}/edit"), &[("min_notice_minutes", "soon"), ("date", &server.day(3))])
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = web
            .post(
                &format!("/blocks/{block_id}/edit"),
                &[
                    ("approval", "automatic"),
                    ("visibility", "unlisted"),
                    ("max_per_learner_week", "5"),
                    ("date", &server.day(3)),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let learner = server.create_user("watcher", false).await;
        let bob = server.api_as(&learner).await;
        let (_, public) = bob.get("/api/v1/advisors/editor/slots").await;
        assert_eq!(public, json!([]), "[{}] now unlisted", db.backend);
        let slot = created["slots"][0]["id"].as_i64().unwrap();
        // Unlisted now: requested through the advisor's private link.
        let link = server.app.new_private_link(&advisor).await.unwrap();
        let secret = link.rsplit('/').next().unwrap().to_string();
        let (status, _) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "[{}] not without the link", db.backend);
        let (status, request) = bob.post(&format!("/api/v1/slots/{slot}/requests"), json!({"link": secret})).await;
        assert_eq!((status, request["status"].as_str()), (StatusCode::CREATED, Some("approved")), "booked at once");

        let page = web.page(&format!("/blocks/{block_id}/edit?date={}", server.day(3))).await;
        assert!(page.contains("Questions for this block"));
        let fields = [("label", "Bring a question list?"), ("kind", "text"), ("required", "yes"), ("choices", "")];
        let reply = web.post(&format!("/blocks/{block_id}/questions?date={}", server.day(3)), &fields).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let (_, asked) = bob.get(&format!("/api/v1/slots/{}/questions?link={secret}", created["slots"][1]["id"])).await;
        assert_eq!(asked[0]["label"], "Bring a question list?");

        let other = server.create_advisor("nosy").await;
        let result = server.app.update_block(&other, block_id, &Default::default()).await;
        assert_eq!(result.unwrap_err().status(), 404);
    }
}

#[tokio::test]
async fn a_block_can_ask_its_own_questions_instead_of_the_advisors() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("asker2").await;
        let ada = server.api_as(&advisor).await;
        let usual = json!([{"label": "What do you want to learn?", "required": true}]);
        let (status, _) = ada.call(reqwest::Method::PUT, "/api/v1/me/questions", Some(usual)).await;
        assert_eq!(status, StatusCode::OK);
        let (_, plain) = ada.post("/api/v1/blocks", block(&server.day(3), "09:00", "09:10")).await;
        let (_, special) = ada.post("/api/v1/blocks", block(&server.day(3), "10:00", "10:10")).await;
        let special_block = special["id"].as_i64().unwrap();
        let own = json!([{"label": "Which workshop chapter?", "kind": "choice", "choices": ["One", "Two"], "required": true}]);
        let (status, body) =
            ada.call(reqwest::Method::PUT, &format!("/api/v1/blocks/{special_block}/questions"), Some(own)).await;
        assert_eq!(status, StatusCode::OK, "[{}] {body}", db.backend);

        let plain_slot = plain["slots"][0]["id"].as_i64().unwrap();
        let special_slot = special["slots"][0]["id"].as_i64().unwrap();
        let (_, asked) = ada.get(&format!("/api/v1/slots/{plain_slot}/questions")).await;
        assert_eq!(asked[0]["label"], "What do you want to learn?");
        let (_, asked) = ada.get(&format!("/api/v1/slots/{special_slot}/questions")).await;
        assert_eq!(asked.as_array().unwrap().len(), 1);
        assert_eq!(asked[0]["label"], "Which workshop chapter?");
        let chapter = asked[0]["id"].as_i64().unwrap().to_string();

        let learner = server.create_user("chapter", false).await;
        let bob = server.api_as(&learner).await;
        let (status, body) = bob.post(&format!("/api/v1/slots/{special_slot}/requests"), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("answer_required")));
        let (status, body) =
            bob.post(&format!("/api/v1/slots/{special_slot}/requests"), json!({"answers": {chapter: "Two"}})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let stranger = server.create_advisor("meddler").await;
        let (status, _) = server
            .api_as(&stranger)
            .await
            .call(reqwest::Method::PUT, &format!("/api/v1/blocks/{special_block}/questions"), Some(json!([])))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "only the owner sets a block's questions");
        let (status, _) =
            ada.call(reqwest::Method::PUT, &format!("/api/v1/blocks/{special_block}/questions"), Some(json!([]))).await;
        assert_eq!(status, StatusCode::OK);
        let (_, asked) = ada.get(&format!("/api/v1/slots/{special_slot}/questions")).await;
        assert_eq!(asked[0]["label"], "What do you want to learn?", "[{}] back to the usual questions", db.backend);
    }
}

#[tokio::test]
async fn anonymous_visitors_see_slots_in_their_browsers_zone() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let advisor = server.create_advisor("zoned").await;
    let ada = server.api_as(&advisor).await;
    let (_, created) = ada.post("/api/v1/blocks", block(&server.day(3), "14:00", "14:10")).await;
    assert_eq!(created["slots"].as_array().unwrap().len(), 1);
    let page = |cookie: Option<&'static str>| {
        let url = server.url("/users/zoned");
        async move {
            let mut request = reqwest::Client::new().get(url);
            if let Some(cookie) = cookie {
                request = request.header("Cookie", cookie);
            }
            request.send().await.unwrap().text().await.unwrap()
        }
    };
    let utc = page(None).await;
    let zone = |name: &str| format!("Times in <span data-local-zone>{name}</span>");
    let time = |text: &str| format!("data-local=\"clock\">{text}</time>");
    assert!(utc.contains(&zone("UTC")) && utc.contains(&time("14:00 UTC")), "{utc}");
    let tokyo = page(Some("oh_tz=Asia%2FTokyo")).await;
    assert!(tokyo.contains(&zone("Asia/Tokyo")) && tokyo.contains(&time("23:00 JST")), "the browser's zone");
    let bogus = page(Some("oh_tz=Nowhere%2FLand")).await;
    assert!(bogus.contains(&zone("UTC")), "an unknown zone is ignored");
}

/// Issue 13, item 8: a suspended advisor is hidden everywhere, takes no
/// new requests (with the reason), their pending and upcoming sessions are
/// called off with a note the learners get, and their published events are
/// deleted; lifting the suspension shows them again.
#[tokio::test]
async fn a_suspended_advisor_is_hidden_takes_no_requests_and_their_sessions_are_called_off() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("boss", true).await;
        let advisor = server.create_advisor("gone").await;
        let ada = server.api_as(&advisor).await;
        let (bob_user, carl_user) = (server.create_user("bob", false).await, server.create_user("carl", false).await);
        let (bob, carl) = (server.api_as(&bob_user).await, server.api_as(&carl_user).await);
        let (status, created) = ada.post("/api/v1/blocks", block(&server.day(3), "10:00", "10:30")).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let slots = ids(&created["slots"]);
        let (_, pending) = bob.post(&format!("/api/v1/slots/{}/requests", slots[0]), json!({})).await;
        let (_, approved) = carl.post(&format!("/api/v1/slots/{}/requests", slots[1]), json!({})).await;
        let (status, _) = ada.post(&format!("/api/v1/requests/{}/approve", approved["id"]), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let link = server.app.new_private_link(&advisor).await.unwrap();
        let link_path = link.strip_prefix(&server.base).unwrap().to_string();
        officehours::federation::events::publish_for(&server.app, &advisor).await.unwrap();
        let events = server.store.open_published_events(advisor.id).await.unwrap();
        assert!(!events.is_empty(), "[{}] the block is published", db.backend);
        let mut visitor = server.browser();
        assert_eq!(visitor.get("/users/gone").await.status, StatusCode::OK);

        let mut root = server.browser();
        root.log_in("boss", support::server::PASSWORD).await;
        let reply = root.post("/users/gone/suspend", &[("suspend", "yes")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);

        // Hidden: profile, API profile, slots, directory, private link.
        assert_eq!(visitor.get("/users/gone").await.status, StatusCode::NOT_FOUND, "[{}]", db.backend);
        assert!(root.page("/users/gone").await.contains("This account is suspended"), "admins still see it");
        for path in ["/api/v1/advisors/gone", "/api/v1/advisors/gone/slots", "/api/v1/advisors/gone/questions"] {
            let (status, body) = bob.get(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "[{}] {path}: {body}", db.backend);
        }
        let (_, directory) = bob.get("/api/v1/advisors").await;
        assert!(!directory.to_string().contains("\"gone\""), "[{}] {directory}", db.backend);
        assert_eq!(visitor.get(&link_path).await.status, StatusCode::NOT_FOUND, "the private link");

        // Refused, with the reason.
        let (status, body) = carl.post(&format!("/api/v1/slots/{}/requests", slots[2]), json!({})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("advisor_suspended")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("suspended"), "{body}");

        // Called off, and the learners are told why.
        for (api, id, status, kind) in [
            (&bob, &pending["id"], "declined", "request_declined"),
            (&carl, &approved["id"], "cancelled", "request_cancelled"),
        ] {
            let (_, sessions) = api.get("/api/v1/me/sessions").await;
            let session = sessions.as_array().unwrap().iter().find(|s| s["request_id"] == *id).unwrap();
            assert_eq!(session["status"], status, "[{}] {session}", db.backend);
            assert!(session["decision_note"].as_str().unwrap().contains("suspended"), "{session}");
            let (_, feed) = api.get("/api/v1/me/notifications").await;
            assert_eq!(feed["notifications"][0]["kind"], kind, "[{}] {feed}", db.backend);
        }

        // Followers are told to drop the published events.
        for event in &events {
            let now = server.store.published_event(&event.ap_id).await.unwrap().unwrap();
            assert_eq!(now.status, PublishedStatus::Deleted, "[{}] {}", db.backend, event.ap_id);
        }

        // Lifting the suspension shows the advisor again.
        let reply = root.post("/users/gone/suspend", &[("suspend", "no")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(visitor.get("/users/gone").await.status, StatusCode::OK, "[{}]", db.backend);
        let (status, _) = carl.post(&format!("/api/v1/slots/{}/requests", slots[2]), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "[{}]", db.backend);
    }
}
