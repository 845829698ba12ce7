//! The availability and profile caches (`service::availability`,
//! `service::people`) on every database: after each write returns, the
//! advisor's profile page, `/advisors` and the slots API show it at once
//! — a booking, a cancellation, a decline, a block added or removed, an
//! offering or booking rule changed, a profile edited, karma that hides an
//! advisor — and time passing on the injected clock hides what is no
//! longer free. Each check reads the page once before the write, so the
//! cache holds the old answer; the caches live for seconds, and every
//! check here runs well within that.

use crate::support;

use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::api::Api;
use support::{TestServer, test_databases};

use officehours::domain::booking::RequestStatus;
use officehours::service::booking::BookingSettings;
use officehours::service::offerings::{OfferingInput, OfferingRules};
use officehours::storage::User;

struct Scene {
    server: TestServer,
    ada: User,
    ada_api: Api,
    lea_api: Api,
    anyone: Api,
    /// Three days after the server's today (UTC).
    day: Date,
}

async fn scene(db: &support::TestDatabase) -> Scene {
    let server = TestServer::start(db).await;
    let ada = server.create_advisor("ada").await;
    let lea = server.create_user("lea", false).await;
    let ada_api = server.api_as(&ada).await;
    let lea_api = server.api_as(&lea).await;
    let anyone = Api::new(&server);
    let day = server.now().to_zoned(TimeZone::UTC).date().checked_add(3.days()).unwrap();
    Scene { server, ada, ada_api, lea_api, anyone, day }
}

impl Scene {
    /// Adds a block on `day` from `start` to `end` (UTC): its id and slot ids.
    async fn block(&self, day: Date, start: &str, end: &str) -> (i64, Vec<i64>) {
        let body = json!({"start": format!("{day}T{start}"), "end": format!("{day}T{end}"), "timezone": "UTC"});
        let (status, created) = self.ada_api.post("/api/v1/blocks", body).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {created}", self.server.backend);
        (created["id"].as_i64().unwrap(), created["slots"].as_array().unwrap().iter().map(id).collect())
    }

    /// The slots API as anyone sees it: (id, status).
    async fn listed(&self) -> Vec<(i64, String)> {
        let (status, slots) = self.anyone.get("/api/v1/advisors/ada/slots").await;
        assert_eq!(status, StatusCode::OK, "[{}] {slots}", self.server.backend);
        slots.as_array().unwrap().iter().map(|s| (id(s), s["status"].as_str().unwrap().to_string())).collect()
    }

    /// The ids of the slots listed by the API.
    async fn listed_ids(&self) -> Vec<i64> {
        self.listed().await.into_iter().map(|(id, _)| id).collect()
    }

    /// The profile page as a visitor sees it.
    async fn profile(&self) -> String {
        let reply = self.server.browser().get("/users/ada").await;
        assert_eq!(reply.status, StatusCode::OK, "[{}] {}", self.server.backend, reply.body);
        reply.body
    }

    /// Whether the profile offers a slot to ask for.
    async fn offers(&self, slot: i64) -> bool {
        self.profile().await.contains(&format!("/slots/{slot}/request"))
    }

    /// The directory's card of ada: `None` when she is not listed,
    /// otherwise whether it shows a next free time at `slot`'s start.
    async fn card(&self, slot_start: &str) -> Option<bool> {
        let page = self.server.browser().page("/advisors").await;
        let at = page.find("href=\"/users/ada\"")?;
        let rest = &page[at..];
        let card = &rest[..rest.find("</li>").unwrap_or(rest.len())];
        Some(card.contains(&format!("datetime=\"{slot_start}")))
    }

    async fn request(&self, slot: i64) -> i64 {
        let (status, made) = self.lea_api.post(&format!("/api/v1/slots/{slot}/requests"), json!({"note": "Hi"})).await;
        assert_eq!(status, StatusCode::CREATED, "[{}] {made}", self.server.backend);
        id(&made)
    }

    async fn decide(&self, api: &Api, request: i64, action: &str) {
        let (status, body) = api.post(&format!("/api/v1/requests/{request}/{action}"), json!({"note": ""})).await;
        assert_eq!(status, StatusCode::OK, "[{}] {action}: {body}", self.server.backend);
    }

    async fn slot_start(&self, slot: i64) -> String {
        let at = self.server.store.slot(slot).await.unwrap().starts_at;
        officehours::domain::time_zone::iso(at)
    }
}

fn id(value: &Value) -> i64 {
    value["id"].as_i64().unwrap()
}

fn status_of(listed: &[(i64, String)], slot: i64) -> Option<&str> {
    listed.iter().find(|(id, _)| *id == slot).map(|(_, s)| s.as_str())
}

#[tokio::test]
async fn requests_approvals_declines_and_cancellations_show_at_once() {
    for db in test_databases().await {
        let s = scene(&db).await;
        let backend = s.server.backend;
        let (_, slots) = s.block(s.day, "09:00", "09:30").await;
        let first = slots[0];
        let first_start = s.slot_start(first).await;
        assert_eq!(status_of(&s.listed().await, first), Some("open"), "[{backend}]");
        assert!(s.offers(first).await, "[{backend}]");
        assert_eq!(s.card(&first_start).await, Some(true), "[{backend}]");

        // Asked for: still free to ask (the advisor has chosen no one), but
        // the API says so at once.
        let request = s.request(first).await;
        assert_eq!(status_of(&s.listed().await, first), Some("requested"), "[{backend}] a request");

        // Approved: gone from the API, the profile and the card.
        s.decide(&s.ada_api, request, "approve").await;
        assert_eq!(status_of(&s.listed().await, first), None, "[{backend}] booked");
        assert!(!s.offers(first).await, "[{backend}] booked");
        assert_eq!(s.card(&first_start).await, Some(false), "[{backend}] booked");

        // Cancelled by the learner: free again everywhere.
        s.decide(&s.lea_api, request, "cancel").await;
        assert_eq!(status_of(&s.listed().await, first), Some("open"), "[{backend}] cancelled");
        assert!(s.offers(first).await, "[{backend}] cancelled");
        assert_eq!(s.card(&first_start).await, Some(true), "[{backend}] cancelled");

        // Asked for again and declined: open again.
        let again = s.request(first).await;
        assert_eq!(status_of(&s.listed().await, first), Some("requested"), "[{backend}]");
        s.decide(&s.ada_api, again, "decline").await;
        assert_eq!(status_of(&s.listed().await, first), Some("open"), "[{backend}] declined");
    }
}

#[tokio::test]
async fn blocks_added_changed_and_removed_show_at_once() {
    for db in test_databases().await {
        let s = scene(&db).await;
        let backend = s.server.backend;
        assert!(s.listed().await.is_empty(), "[{backend}]");
        assert!(!s.profile().await.contains("/request\""), "[{backend}] nothing to ask for yet");

        let (block, slots) = s.block(s.day, "09:00", "09:30").await;
        assert_eq!(s.listed_ids().await, slots, "[{backend}] added");
        assert!(s.offers(slots[0]).await, "[{backend}] added");

        let later = s.day.checked_add(1.day()).unwrap();
        let (_, more) = s.block(later, "10:00", "10:30").await;
        assert_eq!(s.listed_ids().await, [slots.clone(), more.clone()].concat(), "[{backend}] a second block");

        // The block's own rule: unlisted (reached by the private link only).
        let overrides = officehours::storage::BlockOverrides { unlisted: Some(true), ..Default::default() };
        s.server.app.update_block(&s.ada, block, &overrides).await.unwrap();
        assert_eq!(s.listed_ids().await, more, "[{backend}] the first block unlisted");
        assert!(!s.offers(slots[0]).await, "[{backend}] unlisted");
        s.server.app.update_block(&s.ada, block, &Default::default()).await.unwrap();
        assert_eq!(s.listed_ids().await, [slots.clone(), more.clone()].concat(), "[{backend}] listed again");

        let (status, removed) = s.ada_api.post(&format!("/api/v1/blocks/{block}/remove"), json!({})).await;
        assert!(status.is_success(), "[{backend}] {removed}");
        assert_eq!(s.listed_ids().await, more, "[{backend}] removed");
        assert!(!s.offers(slots[0]).await && s.offers(more[0]).await, "[{backend}] removed");
    }
}

#[tokio::test]
async fn offering_and_booking_rule_changes_show_at_once() {
    for db in test_databases().await {
        let s = scene(&db).await;
        let backend = s.server.backend;
        let (_, slots) = s.block(s.day, "09:00", "09:30").await;
        let start = s.slot_start(slots[0]).await;
        assert_eq!(s.listed_ids().await, slots, "[{backend}]");
        assert_eq!(s.card(&start).await, Some(true), "[{backend}]");

        // The booking rules: unlisted hides every time of the default
        // offering; a notice longer than the wait to the slot hides it
        // from the picker and the card.
        let rules = s.server.app.booking_settings(&s.ada).await.unwrap();
        let settings = BookingSettings {
            buffer_minutes: rules.buffer_minutes,
            min_notice_minutes: rules.min_notice_minutes,
            horizon_days: rules.horizon_days,
            max_per_learner_week: rules.max_per_learner_week,
            approval_required: rules.approval_required,
            unlisted: rules.unlisted,
            note_optional: rules.note_optional,
        };
        s.server.app.save_booking_settings(&s.ada, &BookingSettings { unlisted: true, ..settings }).await.unwrap();
        assert!(s.listed().await.is_empty(), "[{backend}] unlisted");
        assert!(!s.offers(slots[0]).await, "[{backend}] unlisted");
        s.server.app.save_booking_settings(&s.ada, &settings).await.unwrap();
        assert_eq!(s.listed_ids().await, slots, "[{backend}] listed again");
        assert!(s.offers(slots[0]).await, "[{backend}]");
        let week = 7 * 24 * 60;
        s.server
            .app
            .save_booking_settings(&s.ada, &BookingSettings { min_notice_minutes: week, ..settings })
            .await
            .unwrap();
        assert!(!s.offers(slots[0]).await, "[{backend}] within the new notice");
        assert_eq!(s.card(&start).await, Some(false), "[{backend}] within the new notice");
        s.server.app.save_booking_settings(&s.ada, &settings).await.unwrap();
        assert!(s.offers(slots[0]).await, "[{backend}]");

        // The default offering's own rule: unlisted.
        let default = s.server.app.offerings(&s.ada).await.unwrap()[0].clone();
        let input = |unlisted: Option<bool>| OfferingInput {
            title: default.title.clone(),
            description: default.description.clone(),
            session_minutes: s.server.app.offering_minutes(&default).to_string(),
            rules: OfferingRules { unlisted, ..Default::default() },
            questions: Vec::new(),
        };
        // (The default offering follows the booking rules: a named one
        // carries its own. Make one and move the times there.)
        let named = s
            .server
            .app
            .create_offering(&s.ada, &OfferingInput { title: "Reviews".into(), ..input(None) })
            .await
            .unwrap();
        let body = json!({"start": format!("{}T11:00", s.day), "end": format!("{}T11:30", s.day), "timezone": "UTC",
                          "offering_id": named.id});
        let (status, created) = s.ada_api.post("/api/v1/blocks", body).await;
        assert_eq!(status, StatusCode::CREATED, "[{backend}] {created}");
        let theirs: Vec<i64> = created["slots"].as_array().unwrap().iter().map(id).collect();
        assert!(s.offers(theirs[0]).await, "[{backend}] the named offering's time");
        let hidden = OfferingInput { title: "Reviews".into(), ..input(Some(true)) };
        s.server.app.update_offering(&s.ada, named.id, &hidden).await.unwrap();
        assert!(!s.offers(theirs[0]).await, "[{backend}] the offering made unlisted");
        assert_eq!(s.listed_ids().await, slots, "[{backend}] the offering made unlisted");
        s.server.app.remove_offering(&s.ada, named.id).await.unwrap();
        assert_eq!(s.listed_ids().await, slots, "[{backend}] removed with its times");
    }
}

#[tokio::test]
async fn profile_edits_and_karma_show_at_once() {
    for db in test_databases().await {
        let s = scene(&db).await;
        let backend = s.server.backend;
        s.block(s.day, "09:00", "09:30").await;
        let page = s.profile().await;
        assert!(!page.contains("Compilers and type systems"), "[{backend}]");

        let body = json!({"enabled": true, "headline": "Compilers and type systems", "bio": "Ask me",
                          "topics": ["rust"], "categories": [], "links": []});
        let (status, saved) = s.ada_api.call(reqwest::Method::PUT, "/api/v1/me/advisor", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "[{backend}] {saved}");
        assert!(s.profile().await.contains("Compilers and type systems"), "[{backend}] the new headline");
        let (_, advisor) = s.anyone.get("/api/v1/advisors/ada").await;
        assert_eq!(advisor["headline"], "Compilers and type systems", "[{backend}] {advisor}");

        let (status, me) =
            s.ada_api.call(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"display_name": "Ada Lovelace"}))).await;
        assert_eq!(status, StatusCode::OK, "[{backend}] {me}");
        assert!(s.profile().await.contains("Ada Lovelace"), "[{backend}] the new name");

        // A no-show recorded against her: her karma drops below the
        // directory's threshold, and she is hidden from it at once.
        let admin = s.server.create_user("grace", true).await;
        let threshold = [("directory_threshold".to_string(), "-3".to_string())];
        s.server.app.save_karma_rules(&admin, &threshold).await.unwrap();
        let lea = s.server.store.user_by_username("lea").await.unwrap();
        let started = s.server.now() - jiff::SignedDuration::from_mins(5);
        let session = s.server.session_at(&s.ada, &lea, started, RequestStatus::Approved).await;
        assert!(s.card("").await.is_some(), "[{backend}] listed");
        assert!(s.profile().await.contains("karma 0<"), "[{backend}] karma 0");
        let (status, body) = s.lea_api.post(&format!("/api/v1/requests/{session}/no-show"), json!({})).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "[{backend}] {body}");
        assert_eq!(s.card("").await, None, "[{backend}] hidden by karma");
        assert!(s.profile().await.contains("karma -5<"), "[{backend}] the karma the profile shows");

        // Suspended: no profile, no slots.
        s.server.app.set_suspended(&admin, "ada", true).await.unwrap();
        assert_eq!(s.server.browser().get("/users/ada").await.status, StatusCode::NOT_FOUND, "[{backend}]");
        assert_eq!(s.anyone.get("/api/v1/advisors/ada/slots").await.0, StatusCode::NOT_FOUND, "[{backend}]");
    }
}

#[tokio::test]
async fn time_passing_on_the_clock_hides_what_is_no_longer_free() {
    for db in test_databases().await {
        let s = scene(&db).await;
        let backend = s.server.backend;
        let (_, first) = s.block(s.day, "09:00", "09:30").await;
        let later = s.day.checked_add(1.day()).unwrap();
        let (_, second) = s.block(later, "09:00", "09:30").await;
        let first_start = s.slot_start(first[0]).await;
        let second_start = s.slot_start(second[0]).await;
        assert!(s.offers(first[0]).await, "[{backend}]");
        assert_eq!(s.card(&first_start).await, Some(true), "[{backend}]");
        assert_eq!(s.listed_ids().await, [first.clone(), second.clone()].concat(), "[{backend}]");

        // Within the two hours' notice of the first block's times: no
        // longer offered, and the card moves to the next day.
        let start = s.server.store.slot(first[0]).await.unwrap().starts_at;
        let wait = start - s.server.now().as_millisecond() - 60 * 60_000;
        s.server.advance(jiff::SignedDuration::from_millis(wait));
        assert!(!s.offers(first[0]).await, "[{backend}] within the notice");
        assert!(s.offers(second[0]).await, "[{backend}]");
        assert_eq!(s.card(&second_start).await, Some(true), "[{backend}] the next free time moved on");

        // Past its start: no longer listed by the API either.
        s.server.advance(jiff::SignedDuration::from_mins(61));
        let listed = s.listed_ids().await;
        assert!(!listed.contains(&first[0]), "[{backend}] started: {listed:?}");
        assert!(listed.contains(&second[0]), "[{backend}]");

        // Far ahead, past every horizon: nothing, and the cache reads the
        // days it did not hold.
        s.server.advance(jiff::SignedDuration::from_hours(24 * 30));
        assert!(s.listed().await.is_empty(), "[{backend}]");
        let farther = s.server.now().to_zoned(TimeZone::UTC).date().checked_add(3.days()).unwrap();
        let (_, new) = s.block(farther, "09:00", "09:30").await;
        assert_eq!(s.listed_ids().await, new, "[{backend}]");
    }
}
