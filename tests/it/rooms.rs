//! Session rooms, on SQLite and PostgreSQL, with the server's manual clock:
//! the room page says when the room opens and counts down, is open from 5
//! minutes before the start until the hard stop, then says the session is
//! over with a way to message the other person and to book again; anyone
//! who is not one of the two people (a stranger, someone logged out, the
//! other session's link) is told it is not their room; a session that was
//! not confirmed or was cancelled says so. Join tokens are bound to one
//! person and one session, expire, and are refused once the session ends.

use crate::support;

use jiff::SignedDuration;
use officehours::domain::booking::RequestStatus;
use officehours::service::rooms::{JOIN_TOKEN_TTL_MS, RoomVisitor};
use reqwest::StatusCode;
use support::client::Browser;
use support::server::PASSWORD;
use support::test_databases;

#[tokio::test]
async fn the_room_page_follows_the_session_through_time_and_keeps_strangers_out() {
    for db in test_databases().await {
        let server = support::TestServer::start(&db).await;
        let ada = server.create_advisor("ada").await;
        let lea = server.create_user("lea", false).await;
        let eve = server.create_user("eve", false).await;
        let start = server.now() + SignedDuration::from_hours(2);
        let id = server.session_at(&ada, &lea, start, RequestStatus::Approved).await;
        let other = server.session_at(&ada, &eve, start + SignedDuration::from_hours(1), RequestStatus::Approved).await;
        let room = format!("/rooms/{id}");

        // Every place that shows the confirmed session leads to its room:
        // the mail (Lea's own link, which opens without logging in) …
        let mail = server.wait_for_mail("lea@example.org", "/rooms/").await;
        let link = server.app.room_link(id, lea.id);
        assert!(mail.contains(&format!("Room (opens 5 minutes before the start): {link}")), "[{}] {mail}", db.backend);
        let mut learner = Browser::new(&server.url(""));
        let by_mail = learner.get(link.trim_start_matches(&server.url(""))).await;
        assert_eq!(by_mail.status, StatusCode::OK, "{}", by_mail.body);
        learner.log_in("lea", PASSWORD).await;
        // … the activity feed, the request page, the calendar and the .ics.
        let feed = learner.page("/notifications").await;
        assert!(feed.contains(&format!("href=\"/rooms/{id}\"")), "[{}] {feed}", db.backend);
        let request = learner.page(&format!("/requests/{id}")).await;
        assert!(request.contains(&format!("href=\"/rooms/{id}\"")) && request.contains("it opens at"), "{request}");
        let date = start.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap()).date();
        let calendar = learner.page(&format!("/calendar?week={date}")).await;
        assert!(calendar.contains(&format!("href=\"/rooms/{id}\"")), "[{}] {calendar}", db.backend);
        let ics = learner.page(&format!("/requests/{id}/event.ics")).await.replace("\r\n ", "");
        assert!(ics.contains(&format!("URL:{link}")) || ics.contains(&format!("URL;VALUE=URI:{link}")), "{ics}");

        // Two hours ahead: when it opens, counting down to the opening.
        let page = learner.page(&room).await;
        assert!(page.contains("data-state=\"soon\"") && page.contains("The room opens at"), "[{}] {page}", db.backend);
        let opens = (start - SignedDuration::from_mins(5)).to_string();
        assert!(page.contains(&format!("data-countdown-to=\"{opens}\"")), "[{}] {page}", db.backend);
        assert!(page.contains("Ada") || page.contains("ada"), "{page}");

        // Strangers: logged in, logged out, or with the other session's link.
        let mut stranger = Browser::new(&server.url(""));
        stranger.log_in("eve", PASSWORD).await;
        let refused = stranger.get(&room).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{}] {}", db.backend, refused.body);
        assert!(refused.body.contains("This room is not yours") && !refused.body.contains("lea"), "{}", refused.body);
        let anonymous = Browser::new(&server.url("")).get(&room).await;
        assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
        assert!(anonymous.body.contains(&format!("/login?next=/rooms/{id}")), "{}", anonymous.body);
        let eves_token = server.app.room_token(other, eve.id);
        let crossed = Browser::new(&server.url("")).get(&format!("{room}?token={eves_token}")).await;
        assert_eq!(crossed.status, StatusCode::FORBIDDEN, "another session's link opens nothing here");
        let missing = Browser::new(&server.url("")).get("/rooms/999999").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // Too early for a join token.
        let early = server.app.join_token(id, RoomVisitor::Person(&lea), None).await;
        assert_eq!(early.unwrap_err().code(), "too_early", "[{}]", db.backend);

        // Five minutes before the start the room is open, with its own link
        // too (no account needed), counting down to the hard stop.
        server.advance(SignedDuration::from_mins(115));
        let link = server.app.room_link(id, lea.id);
        let path = link.trim_start_matches(&server.url(""));
        let page = Browser::new(&server.url("")).page(path).await;
        assert!(page.contains("data-state=\"open\"") && page.contains("The room is open"), "[{}] {page}", db.backend);
        let end = (start + SignedDuration::from_mins(10)).to_string();
        assert!(page.contains(&format!("data-countdown-to=\"{end}\"")), "[{}] {page}", db.backend);

        // A join token for Lea, bound to her and this session.
        let token =
            server.app.join_token(id, RoomVisitor::Link(&server.app.room_token(id, lea.id)), None).await.unwrap();
        let (_, who, role) = server.app.redeem_join_token(id, &token, None).await.unwrap();
        assert_eq!((who.id, role), (lea.id, officehours::domain::room::Role::Learner));
        assert!(server.app.redeem_join_token(other, &token, None).await.is_err(), "not for another session");
        let forged = token.replacen(&lea.id.to_string(), &eve.id.to_string(), 1);
        assert_eq!(server.app.redeem_join_token(id, &forged, None).await.unwrap_err().code(), "join_token_invalid");
        let stranger_token = server.app.join_token(id, RoomVisitor::Person(&eve), None).await;
        assert_eq!(stranger_token.unwrap_err().code(), "not_participant");
        server.advance(SignedDuration::from_millis(JOIN_TOKEN_TTL_MS + 1));
        assert_eq!(server.app.redeem_join_token(id, &token, None).await.unwrap_err().code(), "join_token_expired");

        // At the end: over, with what to do next; no more join tokens.
        server.advance(SignedDuration::from_mins(15));
        let page = learner.page(&room).await;
        assert!(page.contains("data-state=\"over\"") && page.contains("This session has ended"), "{page}");
        assert!(page.contains("/messages/ada") && page.contains("/users/ada"), "[{}] {page}", db.backend);
        let late = server.app.join_token(id, RoomVisitor::Person(&lea), None).await;
        assert_eq!(late.unwrap_err().code(), "over");

        // A cancelled session says so, to its own people only.
        let cancelled =
            server.session_at(&ada, &lea, server.now() + SignedDuration::from_hours(1), RequestStatus::Cancelled).await;
        let page = learner.page(&format!("/rooms/{cancelled}")).await;
        assert!(page.contains("This session was cancelled") && page.contains("/users/ada"), "{page}");
        let waiting =
            server.session_at(&ada, &lea, server.now() + SignedDuration::from_hours(3), RequestStatus::Requested).await;
        let page = learner.page(&format!("/rooms/{waiting}")).await;
        assert!(page.contains("has not confirmed this session yet"), "[{}] {page}", db.backend);
    }
}
