//! Named offerings (issue 17, item 13) on every database: made, changed
//! and removed through the settings forms; a block in an offering gets
//! its session length; the title and description on the profile, the
//! request form, the mail, the `.ics`, the week calendar and the federated
//! `Event`; an unlisted offering behind its own private link; and every
//! refused form changes nothing.

use crate::support;

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, test_databases};

use officehours::service::offerings::OfferingInput;
use officehours::storage::{Offering, Slot, User};

const TITLE: &str = "Career advice for new engineers";
const ABOUT: &str = "For people in their first engineering job.";

/// A server whose offerings may last 10 or 30 minutes.
async fn start(db: &support::TestDatabase) -> TestServer {
    TestServer::start_with(db, |config| config.session_lengths = vec![10, 30]).await
}

/// The first Monday at least three days after the server's today (UTC).
fn next_monday(server: &TestServer) -> Date {
    let mut date = server.now().to_zoned(TimeZone::UTC).date().checked_add(3.days()).unwrap();
    while date.weekday() != Weekday::Monday {
        date = date.checked_add(1.day()).unwrap();
    }
    date
}

async fn offerings(server: &TestServer, advisor: &User) -> Vec<Offering> {
    server.store.offerings(advisor.id).await.unwrap()
}

async fn slots_of(server: &TestServer, advisor: &User) -> Vec<Slot> {
    server.store.advisor_slots(advisor.id, 0, i64::MAX).await.unwrap()
}

fn minutes(slot: &Slot) -> i64 {
    (slot.ends_at - slot.starts_at) / 60_000
}

#[tokio::test]
async fn offerings_are_made_changed_and_removed_through_the_forms_and_mistakes_change_nothing() {
    for db in test_databases().await {
        let server = start(&db).await;
        let ada = server.create_advisor("ada").await;
        let mut web = server.browser();
        web.log_in("ada", support::server::PASSWORD).await;
        let page = web.page("/settings/offerings").await;
        assert!(page.contains("Office hours") && page.contains("10-minute sessions"), "[{}] {page}", db.backend);
        assert_eq!(offerings(&server, &ada).await.len(), 1, "[{}] the default offering", db.backend);

        // Made.
        let reply = web
            .post(
                "/settings/offerings",
                &[
                    ("title", TITLE),
                    ("description", ABOUT),
                    ("session_minutes", "30"),
                    ("min_notice_minutes", "0"),
                    ("q0_label", "Where do you work?"),
                    ("q0_kind", "text"),
                    ("q0_required", "yes"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let all = offerings(&server, &ada).await;
        assert_eq!(all.len(), 2);
        let named = all.iter().find(|o| !o.is_default).unwrap().clone();
        assert_eq!(
            (named.title.as_str(), named.description.as_str(), named.session_minutes, named.min_notice_minutes),
            (TITLE, ABOUT, Some(30), Some(0))
        );
        assert_eq!(server.app.offering_questions(&named).await.unwrap().len(), 1, "its own question");
        let page = web.page("/settings/offerings").await;
        assert!(page.contains(TITLE) && page.contains("30-minute sessions"), "[{}] {page}", db.backend);

        // Changed.
        let path = format!("/settings/offerings/{}", named.id);
        assert!(web.page(&path).await.contains(&format!("value=\"{TITLE}\"")));
        let reply =
            web.post(&path, &[("title", "Career advice"), ("description", ABOUT), ("session_minutes", "10")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let changed = server.store.offering(named.id).await.unwrap();
        assert_eq!((changed.title.as_str(), changed.session_minutes), ("Career advice", Some(10)));
        assert!(server.app.offering_questions(&changed).await.unwrap().is_empty(), "questions emptied");

        // Mistakes: a clear error beside the field, the values kept, nothing changed.
        let before = offerings(&server, &ada).await;
        let long = "x".repeat(81);
        for (fields, field_error) in [
            (vec![("title", "   "), ("session_minutes", "10")], "Give the offering a title"),
            (vec![("title", long.as_str()), ("session_minutes", "10")], "80 characters or fewer"),
            (vec![("title", "Fine"), ("session_minutes", "15")], "10, 30 minutes"),
            (vec![("title", "Fine"), ("session_minutes", "10"), ("min_notice_minutes", "soon")], "not a whole number"),
            (vec![("title", "Fine"), ("session_minutes", "10"), ("visibility", "secret")], "not one of the choices"),
        ] {
            for target in ["/settings/offerings", path.as_str()] {
                let reply = web.post(target, &fields).await;
                assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {target} {fields:?}", db.backend);
                assert!(reply.body.contains(field_error), "[{}] {field_error}: {}", db.backend, reply.body);
                assert!(reply.body.contains("aria-invalid=\"true\""), "the field is marked");
            }
        }
        assert_eq!(offerings(&server, &ada).await, before, "[{}] nothing changed", db.backend);

        // Another advisor's offering is not found, and stays as it was.
        let _bob = server.create_advisor("bob").await;
        let mut bob_web = server.browser();
        bob_web.log_in("bob", support::server::PASSWORD).await;
        bob_web.page("/settings/offerings").await;
        for target in [path.clone(), format!("{path}/remove"), format!("{path}/link")] {
            let reply = bob_web.post(&target, &[("title", "Mine now"), ("session_minutes", "10")]).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "[{}] {target}", db.backend);
        }
        assert_eq!(bob_web.get(&path).await.status, StatusCode::NOT_FOUND);
        let reply = bob_web
            .post(
                "/calendar/blocks",
                &[
                    ("date", &next_monday(&server).to_string()),
                    ("start", "09:00"),
                    ("end", "10:00"),
                    ("timezone", "UTC"),
                    ("offering", &named.id.to_string()),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {}", db.backend, reply.body);
        assert!(reply.body.contains("Choose one of your own offerings"), "{}", reply.body);
        assert_eq!(offerings(&server, &ada).await, before, "[{}] nothing changed", db.backend);
        let bob_user = server.store.user_by_username("bob").await.unwrap();
        assert!(slots_of(&server, &bob_user).await.is_empty(), "[{}] no block was made", db.backend);

        // The default offering stays; one with a booked session too.
        let default = before.iter().find(|o| o.is_default).unwrap();
        let reply = web.post(&format!("/settings/offerings/{}/remove", default.id), &[]).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "[{}]", db.backend);
        assert!(reply.body.contains("default offering stays"), "{}", reply.body);
        let monday = next_monday(&server);
        let reply = web
            .post(
                "/calendar/blocks",
                &[
                    ("date", &monday.to_string()),
                    ("start", "09:00"),
                    ("end", "09:20"),
                    ("timezone", "UTC"),
                    ("offering", &named.id.to_string()),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let slots = slots_of(&server, &ada).await;
        let lea = server.create_user("lea", false).await;
        let request =
            server.app.request_slot(&lea, slots[0].id, "About my first job", &Value::Null, None).await.unwrap();
        let reply = web.post(&format!("{path}/remove"), &[]).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "[{}]", db.backend);
        assert!(reply.body.contains("1 session ahead is booked or asked for"), "{}", reply.body);
        assert_eq!(offerings(&server, &ada).await.len(), 2, "[{}] kept", db.backend);
        assert!(slots_of(&server, &ada).await.iter().all(|s| s.status.takes_requests()), "its times are kept");

        // Once the request is withdrawn, it goes with its times.
        server.app.decide(&lea, request.id, officehours::domain::booking::Action::Cancel, "").await.unwrap();
        let reply = web.post(&format!("{path}/remove"), &[]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let left = offerings(&server, &ada).await;
        assert_eq!(left.len(), 1, "[{}]", db.backend);
        assert!(left[0].is_default);
        assert!(
            slots_of(&server, &ada)
                .await
                .iter()
                .all(|s| s.status == officehours::domain::booking::SlotState::Cancelled),
            "[{}] its times are removed",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_named_offering_gives_its_length_and_its_name_shows_everywhere() {
    for db in test_databases().await {
        let server = start(&db).await;
        let ada = server.create_advisor("ada").await;
        let input = OfferingInput {
            title: TITLE.into(),
            description: ABOUT.into(),
            session_minutes: "30".into(),
            ..Default::default()
        };
        let named = server.app.create_offering(&ada, &input).await.unwrap();
        let monday = next_monday(&server);
        let tuesday = monday.checked_add(1.day()).unwrap();

        // The add form offers the offerings, the default one preselected.
        let mut web = server.browser();
        web.log_in("ada", support::server::PASSWORD).await;
        let calendar = web.page("/calendar").await;
        assert!(calendar.contains(&format!("{TITLE} — 30 min")), "[{}] {calendar}", db.backend);
        let default = offerings(&server, &ada).await.into_iter().find(|o| o.is_default).unwrap();
        assert!(calendar.contains(&format!("<option value=\"{}\" selected>", default.id)), "{calendar}");

        // A block in the named offering: 30-minute sessions; in the default one: 10.
        for (date, offering) in [(monday, named.id), (tuesday, default.id)] {
            let reply = web
                .post(
                    "/calendar/blocks",
                    &[
                        ("date", &date.to_string()),
                        ("start", "09:00"),
                        ("end", "10:00"),
                        ("timezone", "UTC"),
                        ("offering", &offering.to_string()),
                    ],
                )
                .await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        }
        let slots = slots_of(&server, &ada).await;
        let (named_slots, default_slots): (Vec<&Slot>, Vec<&Slot>) =
            slots.iter().partition(|s| s.offering_id == Some(named.id));
        assert_eq!(named_slots.iter().map(|s| minutes(s)).collect::<Vec<_>>(), vec![30, 30], "[{}]", db.backend);
        assert_eq!(default_slots.len(), 6, "[{}] six 10-minute sessions", db.backend);
        assert!(default_slots.iter().all(|s| minutes(s) == 10));

        // The API takes the offering too, and refuses anyone else's.
        let api = server.api_as(&ada).await;
        let wednesday = monday.checked_add(2.days()).unwrap();
        let body = |offering: i64| {
            json!({"start": format!("{wednesday}T09:00"), "end": format!("{wednesday}T10:00"), "timezone": "UTC",
                   "offering_id": offering})
        };
        let bob = server.create_advisor("bob").await;
        let bobs = server.app.offerings(&bob).await.unwrap()[0].id;
        let (status, refused) = api.post("/api/v1/blocks", body(bobs)).await;
        assert_eq!((status, refused["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_offering")));
        assert_eq!(slots_of(&server, &ada).await.len(), slots.len(), "[{}] nothing added", db.backend);
        let (status, created) = api.post("/api/v1/blocks", body(named.id)).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {created}", db.backend);
        assert_eq!(created["slot_count"], 2, "[{}] {created}", db.backend);
        let (status, listed) = api.get("/api/v1/me/offerings").await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        let listed: Vec<(Value, Value, Value)> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["title"].clone(), o["session_minutes"].clone(), o["is_default"].clone()))
            .collect();
        assert_eq!(
            listed,
            vec![(json!("Office hours"), json!(10), json!(true)), (json!(TITLE), json!(30), json!(false))],
            "[{}] the default one first",
            db.backend
        );

        // The profile groups the free times by offering.
        let mut lea_web = server.browser();
        let lea = server.create_user("lea", false).await;
        lea_web.log_in("lea", support::server::PASSWORD).await;
        let profile = lea_web.page("/users/ada").await;
        assert!(profile.contains(TITLE) && profile.contains(ABOUT), "[{}] {profile}", db.backend);
        assert!(profile.contains("30-minute sessions") && profile.contains("10-minute sessions"), "{profile}");
        assert!(profile.contains(&format!("id=\"o{}-day-{monday}\"", named.id)), "one picker per offering");
        assert!(profile.contains(&format!("id=\"o{}-day-{tuesday}\"", default.id)), "{profile}");

        // The request form.
        let slot = named_slots[0];
        let form = lea_web.page(&format!("/slots/{}/request", slot.id)).await;
        assert!(form.contains(TITLE) && form.contains(ABOUT), "[{}] {form}", db.backend);
        let plain = lea_web.page(&format!("/slots/{}/request", default_slots[0].id)).await;
        assert!(!plain.contains(TITLE), "a time of the default offering shows no other's name");
        let reply = lea_web.post(&format!("/slots/{}/request", slot.id), &[("note", "My first job")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);

        // The mail about the request.
        let mail = server.wait_for_mail("ada@example.org", "asks for a session").await;
        assert!(mail.contains(&format!("About: {TITLE}: {ABOUT}")), "[{}] {mail}", db.backend);

        // Both sides' Upcoming lists.
        for (who, page) in [("ada", web.page("/upcoming").await), ("lea", lea_web.page("/upcoming").await)] {
            assert!(
                page.contains(&format!("<span class=\"offering\">{TITLE}</span>")),
                "[{}] {who}: {page}",
                db.backend
            );
        }

        // The request's page, the .ics and the week calendar.
        let request = server.store.sessions_of(lea.id).await.unwrap()[0].clone();
        assert_eq!(request.offering_title.as_deref(), Some(TITLE));
        let page = lea_web.page(&format!("/requests/{}", request.request_id)).await;
        assert!(
            page.contains(&format!("<strong class=\"offering-title\">{TITLE}</strong>")),
            "[{}] {page}",
            db.backend
        );
        let ics = lea_web.page(&format!("/requests/{}/event.ics", request.request_id)).await;
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:Requested: {TITLE} with ada")), "[{}] {unfolded}", db.backend);
        assert!(unfolded.contains(&format!("DESCRIPTION:{TITLE}: {ABOUT}\\n")), "[{}] {unfolded}", db.backend);
        let week = web.page(&format!("/calendar?week={monday}")).await;
        assert!(week.contains(&format!("<span class=\"offering\">· {TITLE}</span>")), "[{}] {week}", db.backend);
        let learner_week = lea_web.page(&format!("/calendar?week={monday}")).await;
        assert!(learner_week.contains(&format!("· {TITLE}")), "[{}] {learner_week}", db.backend);

        // The federated Event: its name and summary, as other servers fetch it.
        officehours::federation::events::publish_for(&server.app, &ada).await.unwrap();
        let published = server.store.open_published_events(ada.id).await.unwrap();
        let fetch = |ap_id: String| async move {
            let reply =
                reqwest::Client::new().get(&ap_id).header("Accept", "application/activity+json").send().await.unwrap();
            assert_eq!(reply.status(), StatusCode::OK, "{ap_id}");
            reply.json::<Value>().await.unwrap()
        };
        let event_of = |block: i64| published.iter().find(|p| p.block_id == block).map(|p| p.ap_id.clone()).unwrap();
        let event = fetch(event_of(slot.block_id)).await;
        assert_eq!(event["type"], "Event");
        assert_eq!(event["name"], format!("{TITLE} — 30-minute calls"), "[{}] {event:#}", db.backend);
        let summary = event["summary"].as_str().unwrap();
        assert!(summary.starts_with(&format!("{TITLE}: {ABOUT}\n")), "[{}] {summary}", db.backend);
        assert!(summary.contains("offers 30-minute sessions"), "{summary}");
        assert!(event["content"].as_str().unwrap().contains(ABOUT));
        let plain = fetch(event_of(default_slots[0].block_id)).await;
        assert_eq!(plain["name"], "Office hours with ada", "[{}] the default keeps its line", db.backend);
        assert!(!plain["summary"].as_str().unwrap().contains(TITLE));
    }
}

#[tokio::test]
async fn an_unlisted_offering_is_reached_through_its_own_private_link() {
    for db in test_databases().await {
        let server = start(&db).await;
        let ada = server.create_advisor("ada").await;
        let input = OfferingInput {
            title: "Portfolio reviews".into(),
            session_minutes: "30".into(),
            rules: officehours::service::offerings::OfferingRules { unlisted: Some(true), ..Default::default() },
            ..Default::default()
        };
        let hidden = server.app.create_offering(&ada, &input).await.unwrap();
        let monday = next_monday(&server);
        let block = |date: Date, offering: Option<i64>| officehours::service::booking::BlockInput {
            start: format!("{date}T09:00"),
            end: format!("{date}T10:00"),
            timezone: "UTC".into(),
            offering,
            ..Default::default()
        };
        let (_, secret_slots) = server.app.create_block(&ada, &block(monday, Some(hidden.id))).await.unwrap();
        let tuesday = monday.checked_add(1.day()).unwrap();
        let (_, listed) = server.app.create_block(&ada, &block(tuesday, None)).await.unwrap();

        let lea = server.create_user("lea", false).await;
        let mut lea_web = server.browser();
        lea_web.log_in("lea", support::server::PASSWORD).await;
        let profile = lea_web.page("/users/ada").await;
        assert!(!profile.contains("Portfolio reviews"), "[{}] {profile}", db.backend);
        assert!(!profile.contains(&format!("/slots/{}/request", secret_slots[0].id)), "unlisted times are hidden");
        assert!(profile.contains(&format!("/slots/{}/request", listed[0].id)));
        let guessed = lea_web.get(&format!("/slots/{}/request", secret_slots[0].id)).await;
        assert_eq!(guessed.status, StatusCode::NOT_FOUND, "[{}] a guessed id", db.backend);

        // Its own link lists its times only, and opens the request form.
        let link = server.app.new_offering_link(&ada, hidden.id).await.unwrap();
        let path = link.strip_prefix(&server.base).unwrap().to_string();
        let page = lea_web.page(&path).await;
        assert!(page.contains(&format!("/slots/{}/request", secret_slots[0].id)), "[{}] {page}", db.backend);
        assert!(!page.contains(&format!("/slots/{}/request", listed[0].id)), "only this offering's times");
        assert!(page.contains("Portfolio reviews") && page.contains("30-minute session"), "named on the page");
        let secret = path.trim_start_matches("/book/");
        let request = server
            .app
            .request_slot(&lea, secret_slots[0].id, "A portfolio", &Value::Null, Some(secret))
            .await
            .expect("requested through the link");
        assert_eq!(request.slot_id, secret_slots[0].id);

        // Never published to followers.
        officehours::federation::events::publish_for(&server.app, &ada).await.unwrap();
        let published = server.store.open_published_events(ada.id).await.unwrap();
        assert!(published.iter().all(|p| p.block_id != secret_slots[0].block_id), "[{}]", db.backend);
        assert!(published.iter().any(|p| p.block_id == listed[0].block_id));
    }
}

#[tokio::test]
async fn an_offerings_own_rules_and_questions_apply_to_its_times() {
    for db in test_databases().await {
        let server = start(&db).await;
        let ada = server.create_advisor("ada").await;
        let mut web = server.browser();
        web.log_in("ada", support::server::PASSWORD).await;
        web.page("/settings/offerings").await;
        let reply = web
            .post(
                "/settings/offerings",
                &[
                    ("title", "Quick questions"),
                    ("session_minutes", "10"),
                    ("note", "optional"),
                    ("max_per_learner_week", "1"),
                    ("approval", "no"),
                    ("q0_label", "Which language?"),
                    ("q0_kind", "choice"),
                    ("q0_choices", "Rust\nGo"),
                    ("q0_required", "yes"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let quick = offerings(&server, &ada).await.into_iter().find(|o| !o.is_default).unwrap();
        let monday = next_monday(&server);
        let block = |date: Date, offering: Option<i64>| officehours::service::booking::BlockInput {
            start: format!("{date}T09:00"),
            end: format!("{date}T09:30"),
            timezone: "UTC".into(),
            offering,
            ..Default::default()
        };
        let (_, quick_slots) = server.app.create_block(&ada, &block(monday, Some(quick.id))).await.unwrap();
        let tuesday = monday.checked_add(1.day()).unwrap();
        let (_, plain_slots) = server.app.create_block(&ada, &block(tuesday, None)).await.unwrap();
        let question = server.app.offering_questions(&quick).await.unwrap()[0].id.to_string();

        server.create_user("lea", false).await;
        let mut lea = server.browser();
        lea.log_in("lea", support::server::PASSWORD).await;
        // The offering's question is asked for its times only.
        let form = lea.page(&format!("/slots/{}/request", quick_slots[0].id)).await;
        assert!(form.contains("Which language?") && form.contains("(optional)"), "[{}] {form}", db.backend);
        let plain = lea.page(&format!("/slots/{}/request", plain_slots[0].id)).await;
        assert!(!plain.contains("Which language?") && plain.contains("(required)"), "[{}] {plain}", db.backend);
        let answer = format!("answer_{question}");
        let path = format!("/slots/{}/request", quick_slots[0].id);
        let reply = lea.post(&path, &[("note", "")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] the question is required", db.backend);
        // No note needed, booked at once (no approval), and one a week.
        let reply = lea.post(&path, &[("note", ""), (&answer, "Rust")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let slot = server.store.slot(quick_slots[0].id).await.unwrap();
        assert_eq!(slot.status, officehours::domain::booking::SlotState::Booked, "[{}]", db.backend);
        let reply = lea.post(&format!("/slots/{}/request", quick_slots[1].id), &[("note", ""), (&answer, "Go")]).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "[{}] {}", db.backend, reply.body);
        assert!(reply.body.contains("1 session with this advisor that week"), "{}", reply.body);
        // The default offering keeps the advisor's rules: a note is required.
        let reply = lea.post(&format!("/slots/{}/request", plain_slots[0].id), &[("note", "")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {}", db.backend, reply.body);
    }
}
