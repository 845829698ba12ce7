//! The booking pages of issue 17 over HTTP, on every database: the time
//! picker and the next free time, where a learner stands (their pending
//! times, the weekly limit before the form, a link to an existing
//! request), the required note, the Upcoming agenda and the calendar's
//! jump, the decision page's context, decisions from the agenda and the
//! activity feed, and the booking rules page as one form.

use crate::support;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, ToSpan};
use reqwest::StatusCode;
use support::{TestServer, test_databases};

use officehours::service::booking::BlockInput;
use officehours::storage::{Slot, User};

/// The first Monday at least three days after the server's today (UTC).
fn next_monday(server: &TestServer) -> Date {
    let mut date = server.now().to_zoned(TimeZone::UTC).date().checked_add(3.days()).unwrap();
    while date.weekday() != Weekday::Monday {
        date = date.checked_add(1.day()).unwrap();
    }
    date
}

/// A block of `advisor` on `date` (UTC), its slots.
async fn block(server: &TestServer, advisor: &User, date: Date, from: &str, to: &str) -> Vec<Slot> {
    let input = BlockInput {
        start: format!("{date}T{from}"),
        end: format!("{date}T{to}"),
        timezone: "UTC".into(),
        ..Default::default()
    };
    server.app.create_block(advisor, &input).await.expect("block").1
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[tokio::test]
async fn the_picker_lists_free_times_by_day_and_cards_show_the_next_one() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let monday = next_monday(&server);
        let tuesday = monday.checked_add(1.day()).unwrap();
        let first = block(&server, &ada, monday, "09:00", "09:30").await;
        let second = block(&server, &ada, tuesday, "09:00", "09:20").await;
        // The advisor removes Tuesday: its times are gone for learners.
        let blocks: Vec<i64> = vec![second[0].block_id];
        server.app.remove_block(&ada, blocks[0], Some(&tuesday.to_string()), "").await.unwrap();

        let learner = server.create_user("lea", false).await;
        let mut web = server.browser();
        web.log_in("lea", support::server::PASSWORD).await;
        let page = web.page("/users/ada").await;
        assert!(page.contains("data-picker"), "[{}] {page}", db.backend);
        assert!(page.contains(&format!("data-date=\"{monday}\"")), "Monday is a day with times");
        assert!(!page.contains(&format!("data-date=\"{tuesday}\"")), "[{}] the removed day is not shown", db.backend);
        assert_eq!(count(&page, "class=\"slot\""), 3, "three free times on Monday");
        assert!(!page.contains("Removed"));
        // Times in the learner's zone (Berlin, UTC+1 in winter, +2 in summer), the advisor's beside them.
        assert!(page.contains("Times in <span data-local-zone>Europe/Berlin</span>"), "{page}");
        let monday_label = monday.strftime("%A %-d %B %Y").to_string();
        assert!(page.contains(&monday_label), "days are named in words");
        assert!(page.contains("Next free time:"));

        // The directory card says the same next free time (from the
        // availability cache, and the grouped query agrees).
        let directory = web.page("/advisors").await;
        let next = server.app.next_free_times(&[&ada]).await.unwrap();
        assert_eq!(next.get(&ada.id), Some(&first[0].starts_at), "[{}]", db.backend);
        let grouped = server.store.next_free_times(&[ada.id], server.clock.now_ms()).await.unwrap();
        assert_eq!(grouped, vec![(ada.id, first[0].starts_at)], "[{}]", db.backend);
        assert!(directory.contains("Next free:"), "{directory}");
        let home = web.page("/").await;
        assert!(home.contains("Next free:"));

        // The learner asks for the first time: it is marked and leads to the request.
        web.page(&format!("/slots/{}/request", first[0].id)).await;
        let reply = web.post(&format!("/slots/{}/request", first[0].id), &[("note", "Ownership")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let request = server.app.my_sessions(&learner).await.unwrap()[0].request_id;
        let page = web.page("/users/ada").await;
        assert!(page.contains(&format!("class=\"slot mine\" href=\"/requests/{request}\"")), "{page}");
        assert!(page.contains("you asked"));

        // An unlisted advisor: nothing on the profile or the cards, the picker behind the private link.
        let mut own = server.browser();
        own.log_in("ada", support::server::PASSWORD).await;
        own.page("/settings/booking").await;
        let rules = [
            ("buffer_minutes", "0"),
            ("min_notice_minutes", "120"),
            ("horizon_days", "60"),
            ("max_per_learner_week", "2"),
            ("approval_required", "on"),
            ("unlisted", "on"),
        ];
        assert_eq!(own.post("/settings/booking", &rules).await.status, StatusCode::SEE_OTHER);
        let link = server.app.new_private_link(&ada).await.unwrap();
        assert!(server.app.next_free_times(&[&ada]).await.unwrap().is_empty(), "unlisted: no next free time");
        assert!(server.store.next_free_times(&[ada.id], server.clock.now_ms()).await.unwrap().is_empty());
        let page = web.page("/users/ada").await;
        assert_eq!(count(&page, "class=\"slot\""), 0);
        let secret = link.rsplit('/').next().unwrap();
        let private = web.page(&format!("/book/{secret}")).await;
        assert!(private.contains("data-picker"));
        assert!(private.contains(&format!("/slots/{}/request?link={secret}", first[1].id)), "{private}");
    }
}

#[tokio::test]
async fn a_note_is_required_unless_the_advisor_makes_it_optional() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let learner = server.create_user("lea", false).await;
        let slots = block(&server, &ada, next_monday(&server), "09:00", "09:30").await;
        let questions = [officehours::domain::questions::QuestionInput {
            label: "Your level?".into(),
            kind: "text".into(),
            choices: String::new(),
            required: false,
        }];
        let saved = server.app.save_booking_questions(&ada, None, &questions).await.unwrap();
        let answer = format!("answer_{}", saved[0].id);

        let mut web = server.browser();
        web.log_in("lea", support::server::PASSWORD).await;
        let form = web.page(&format!("/slots/{}/request", slots[0].id)).await;
        assert!(form.contains("(required)") && form.contains("aria-required=\"true\""), "{form}");
        assert!(form.contains("data-counter=\"2000\""), "a counter near the limit");
        let path = format!("/slots/{}/request", slots[0].id);
        let reply = web.post(&path, &[("note", "  \n "), (&answer, "Beginner")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        assert!(reply.body.contains("id=\"e-note\""), "the error is beside the note: {}", reply.body);
        assert!(reply.body.contains("Say in a few words what you would like to talk about"));
        assert!(reply.body.contains("value=\"Beginner\""), "the answers are kept");
        assert!(server.app.my_sessions(&learner).await.unwrap().is_empty(), "nothing was asked");
        // The API keeps its contract: an empty note is accepted there.
        // (The rule is the web form's; see docs/booking.md.)

        // The advisor makes the note optional: the same empty note goes through.
        let mut own = server.browser();
        own.log_in("ada", support::server::PASSWORD).await;
        own.page("/settings/booking").await;
        let rules = [
            ("buffer_minutes", "0"),
            ("min_notice_minutes", "120"),
            ("horizon_days", "60"),
            ("max_per_learner_week", "2"),
            ("approval_required", "on"),
            ("note_optional", "on"),
        ];
        assert_eq!(own.post("/settings/booking", &rules).await.status, StatusCode::SEE_OTHER);
        assert!(server.app.booking_settings(&ada).await.unwrap().note_optional, "[{}]", db.backend);
        let form = web.page(&path).await;
        assert!(form.contains("(optional)"));
        let reply = web.post(&path, &[("note", ""), (&answer, "Beginner")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        assert_eq!(server.app.my_sessions(&learner).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn the_learner_sees_the_weekly_limit_and_their_existing_request_before_the_form() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        server.create_user("lea", false).await;
        let slots = block(&server, &ada, next_monday(&server), "09:00", "09:40").await;
        let mut web = server.browser();
        web.log_in("lea", support::server::PASSWORD).await;
        let form = |i: usize| format!("/slots/{}/request", slots[i].id);

        let page = web.page(&form(0)).await;
        assert!(
            page.contains("ada takes at most 2 sessions a week with each person: you can ask for 2 more"),
            "{page}"
        );
        assert_eq!(web.post(&form(0), &[("note", "First")]).await.status, StatusCode::SEE_OTHER);
        let page = web.page(&form(1)).await;
        assert!(page.contains("you can ask for 1 more"), "[{}] {page}", db.backend);

        // Asking again for the same time: a link to the request, no form.
        let page = web.page(&form(0)).await;
        assert!(page.contains("You have already asked for this time"), "{page}");
        assert!(page.contains("See your request"));
        assert!(!page.contains("action=\"/slots/"), "no form for a time already asked for");
        let reply = web.post(&form(0), &[("note", "Again")]).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert!(
            reply.body.contains("See your request") && !reply.body.contains("You have already asked for this slot")
        );

        // The second request reaches the limit, told before the third form.
        assert_eq!(web.post(&form(1), &[("note", "Second")]).await.status, StatusCode::SEE_OTHER);
        let page = web.page(&form(2)).await;
        assert!(page.contains("you already have 2 in the week of"), "[{}] {page}", db.backend);
    }
}

#[tokio::test]
async fn upcoming_is_the_landing_page_with_both_sides_and_their_actions() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let lea = server.create_user("lea", false).await;
        let bob = server.create_advisor("bob").await;
        // Nothing this week for ada, sessions three weeks ahead.
        let later = next_monday(&server).checked_add(14.days()).unwrap();
        let slots = block(&server, &ada, later, "09:00", "09:30").await;
        server.app.request_slot(&lea, slots[0].id, "Lifetimes, please", &serde_json::Value::Null, None).await.unwrap();
        // Ada asks bob for a session too: she is a learner there.
        let bobs = block(&server, &bob, later, "11:00", "11:10").await;
        server.app.request_slot(&ada, bobs[0].id, "Your review", &serde_json::Value::Null, None).await.unwrap();

        let mut web = server.browser();
        let reply = web.log_in("ada", support::server::PASSWORD).await;
        assert_eq!(reply.location(), Some("/upcoming"), "[{}] the agenda is the landing page", db.backend);
        let page = web.page("/upcoming").await;
        assert!(page.contains("Needs your answer") && page.contains("Waiting for an answer"), "{page}");
        assert!(page.contains("Lifetimes, please") && page.contains("Your review"), "the notes are shown");
        assert!(page.contains("@lea") && page.contains("@bob"));
        let request = server.app.my_sessions(&lea).await.unwrap()[0].request_id;
        assert!(page.contains(&format!("action=\"/requests/{request}/approve\"")));

        // Approved from the agenda, back on the agenda.
        let reply = web.post(&format!("/requests/{request}/approve"), &[("note", ""), ("back", "/upcoming")]).await;
        assert_eq!(reply.location(), Some("/upcoming"), "[{}] {}", db.backend, reply.body);
        let page = web.page("/upcoming").await;
        assert!(page.contains("Next sessions") && page.contains("The room opens at"), "{page}");
        assert!(!page.contains("Join the room"), "not before 5 minutes ahead");

        // The calendar opens on the first week with something in it.
        let calendar = web.page("/calendar").await;
        assert!(!calendar.contains("add your first block"), "{calendar}");
        assert!(calendar.contains("here is the first week with something in it"), "[{}] {calendar}", db.backend);
        assert!(calendar.contains("Booked: @lea"));
        let this_week = server.now().to_zoned(TimeZone::get("Europe/Berlin").unwrap()).date();
        let asked = web.page(&format!("/calendar?week={this_week}")).await;
        assert!(asked.contains("Nothing this week. Next:"), "{asked}");

        // From 5 minutes before the start, the learner joins from the agenda.
        let mut learner = server.browser();
        learner.log_in("lea", support::server::PASSWORD).await;
        let until = server.now().duration_until(jiff::Timestamp::from_millisecond(slots[0].starts_at).unwrap());
        server.advance(until - SignedDuration::from_mins(5));
        let page = learner.page("/upcoming").await;
        assert!(page.contains(&format!("href=\"/rooms/{request}\"")), "[{}] {page}", db.backend);
    }
}

#[tokio::test]
async fn the_decision_page_shows_who_asks_and_decisions_work_from_the_feed() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let lea = server.create_user("lea", false).await;
        let lea = server.app.update_profile(&lea, "Lea Park", "", "America/New_York").await.unwrap();
        let slots = block(&server, &ada, next_monday(&server), "09:00", "09:20").await;
        server
            .app
            .request_slot(&lea, slots[0].id, "Career change\ninto databases", &serde_json::Value::Null, None)
            .await
            .unwrap();
        server.app.process_booking_events().await.unwrap();
        let request = server.app.my_sessions(&lea).await.unwrap()[0].request_id;

        let mut web = server.browser();
        web.log_in("ada", support::server::PASSWORD).await;
        let page = web.page(&format!("/requests/{request}")).await;
        assert!(page.contains("Who is asking") && page.contains("Lea Park"), "{page}");
        assert!(page.contains("<dt>Karma</dt>"));
        assert!(page.contains("None yet: a first session"));
        assert!(page.contains("(America/New_York)"), "their local time");
        assert!(page.contains("<blockquote class=\"note-text\"><p>Career change</p><p>into databases</p>"), "{page}");
        assert_eq!(count(&page, "<textarea"), 1, "one decision area: {page}");
        assert!(page.contains("Message to @lea (optional)"));
        assert!(page.contains(&format!("formaction=\"/requests/{request}/decline\"")));

        // The activity feed shows the note and declines with a reason.
        let feed = web.page("/notifications").await;
        assert!(feed.contains("Career change"), "[{}] {feed}", db.backend);
        assert!(feed.contains(&format!("action=\"/requests/{request}/approve\"")), "{feed}");
        let reply =
            web.post(&format!("/requests/{request}/decline"), &[("note", "Full"), ("back", "/notifications")]).await;
        assert_eq!(reply.location(), Some("/notifications"));
        let feed = web.page("/notifications").await;
        assert!(!feed.contains(&format!("action=\"/requests/{request}/approve\"")), "decided: no buttons");
        // A `back` elsewhere goes to the request.
        let second = server.app.request_slot(&lea, slots[1].id, "Again", &serde_json::Value::Null, None).await.unwrap();
        let reply = web.post(&format!("/requests/{}/approve", second.id), &[("back", "https://evil.example")]).await;
        assert_eq!(reply.location(), Some(format!("/requests/{}", second.id).as_str()));
    }
}

#[tokio::test]
async fn booking_rules_are_one_form_with_questions_added_one_at_a_time() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let mut web = server.browser();
        web.log_in("ada", support::server::PASSWORD).await;
        let page = web.page("/settings/booking").await;
        assert_eq!(count(&page, "Save booking rules"), 1, "one Save");
        assert!(!page.contains(">Save questions<") && !page.contains(">Save rules<"));
        assert_eq!(count(&page, "data-new-question>"), 1, "one blank question shown: {page}");
        assert_eq!(count(&page, "data-new-question hidden"), 4, "the others wait");

        let base = [
            ("questions_shown", "yes"),
            ("buffer_minutes", "0"),
            ("min_notice_minutes", "60"),
            ("horizon_days", "30"),
            ("max_per_learner_week", "3"),
            ("approval_required", "on"),
        ];
        // A bad question refuses the whole form: the rules are not saved either, the typing is kept.
        let mut bad = base.to_vec();
        bad.extend([("q0_label", "Pick one"), ("q0_kind", "choice"), ("q0_required", "yes"), ("q0_choices", "Only")]);
        let reply = web.post("/settings/booking", &bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}]", db.backend);
        assert!(reply.body.contains("value=\"Pick one\"") && reply.body.contains("value=\"30\""), "{}", reply.body);
        assert_eq!(server.app.booking_settings(&ada).await.unwrap().horizon_days, 60, "nothing saved");

        let mut good = base.to_vec();
        good.extend([
            ("q0_label", "Your level?"),
            ("q0_kind", "choice"),
            ("q0_required", "yes"),
            ("q0_choices", "Beginner\nExpert"),
            ("q1_label", "Link to your code"),
            ("q1_kind", "text"),
            ("q1_required", "no"),
            ("q1_choices", "left over"),
            ("q2_label", ""),
            ("q2_kind", "text"),
            ("q2_required", "no"),
        ]);
        let reply = web.post("/settings/booking", &good).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        let saved = server.app.booking_questions(ada.id, None).await.unwrap();
        assert_eq!(saved.len(), 2);
        assert_eq!(server.app.booking_settings(&ada).await.unwrap().horizon_days, 30);
        let page = web.page("/settings/booking").await;
        // The choices box only for the choice question (and the blank one, for people without JavaScript).
        assert_eq!(count(&page, "data-choices hidden"), 1, "{page}");
        assert!(!page.contains("left over"), "a short-text question keeps no choices");
        assert_eq!(count(&page, "data-new-question>"), 1);
    }
}
