//! The voice room across browsers: the learner in headless Firefox ESR
//! (through geckodriver), the advisor in Chromium, on one room of the
//! server; each hears the other's tone through the server's SFU, and each
//! sees the other's shared screen.

use crate::support;

use fantoccini::Locator;
use officehours::domain::booking::RequestStatus;
use support::firefox::Gecko;
use support::room_voice::{
    MEDIA_SWITCHES, assert_audio_rate, assert_hears, join, share_canvas, until_screen_shown, use_tone,
};
use support::webdriver::{Driver, fill, log_in, page_text, screenshot_dir, until_true};
use support::{TestDatabase, TestServer};

const LEARNER_TONE: u32 = 440;
const ADVISOR_TONE: u32 = 660;

#[tokio::test]
async fn firefox_and_chromium_hear_each_other_share_screens_chat_and_end_on_time() {
    let Some(gecko) = Gecko::start("Europe/Berlin") else { return };
    let Some(chromium) = Driver::start("Europe/Berlin") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let ada = server.create_advisor("ada").await;
    let lea = server.create_user("lea", false).await;
    let start = server.now() + jiff::SignedDuration::from_mins(2);
    let id = server.session_at(&ada, &lea, start, RequestStatus::Approved).await;

    // Lea in Firefox from the link in her mail (no log-in); Ada logged in,
    // in Chromium. Each page's microphone is a synthesised tone.
    let learner = gecko.browser(1280, 900).await;
    learner.goto(&server.app.room_link(id, lea.id)).await.unwrap();
    let advisor = chromium.browser_with(1280, 900, &MEDIA_SWITCHES).await;
    log_in(&advisor, &server, "ada").await;
    advisor.goto(&server.url(&format!("/rooms/{id}"))).await.unwrap();
    for (browser, hz) in [(&learner, LEARNER_TONE), (&advisor, ADVISOR_TONE)] {
        use_tone(browser, hz).await;
        join(browser).await;
    }
    until_true(
        &learner,
        "Ada's arrival",
        "return document.getElementById('room-status').textContent.includes('is here');",
    )
    .await;

    // Voice both ways through the server, at about 50 packets a second
    // (Opus in 20 ms frames), each side hearing the other's tone.
    for (browser, who) in [(&learner, "Lea in Firefox"), (&advisor, "Ada in Chromium")] {
        assert_audio_rate(browser, who).await;
    }
    assert_hears(&learner, "Lea in Firefox", ADVISOR_TONE).await;
    assert_hears(&advisor, "Ada in Chromium", LEARNER_TONE).await;

    // Screen sharing both ways: Firefox encodes its screen (VP8) through
    // the server to Chromium, and decodes Chromium's.
    share_canvas(&learner).await;
    until_screen_shown(&advisor, "Ada in Chromium").await;
    share_canvas(&advisor).await;
    until_screen_shown(&learner, "Lea in Firefox").await;

    // Chat from Firefox to Chromium, and back.
    fill(&learner, "room-chat-text", "Hello from Firefox, notes at https://example.org/a?b=1").await;
    learner.find(Locator::Css("#room-chat button[type=submit]")).await.unwrap().click().await.unwrap();
    until_true(&advisor, "Lea's line", "return document.getElementById('room-chat-log').children.length === 1;").await;
    let line = "const li = document.querySelector('#room-chat-log li'); \
                return [li.textContent, li.querySelector('a') && li.querySelector('a').href];";
    assert_eq!(
        advisor.execute(line, vec![]).await.unwrap(),
        serde_json::json!(["lea: Hello from Firefox, notes at https://example.org/a?b=1", "https://example.org/a?b=1"])
    );
    fill(&advisor, "room-chat-text", "Welcome, Lea").await;
    advisor.find(Locator::Css("#room-chat button[type=submit]")).await.unwrap().click().await.unwrap();
    until_true(&learner, "Ada's line", "return document.getElementById('room-chat-log').children.length === 2;").await;
    assert_eq!(
        learner
            .execute("return document.querySelector('#room-chat-log li:last-child').textContent;", vec![])
            .await
            .unwrap(),
        serde_json::json!("ada: Welcome, Lea")
    );
    std::fs::write(screenshot_dir().join("room-firefox.png"), learner.screenshot().await.unwrap()).unwrap();

    // The hard stop: both see the end screen.
    server.clock.set(start + jiff::SignedDuration::from_mins(10));
    for browser in [&learner, &advisor] {
        until_true(browser, "the end screen", "return !document.getElementById('room-ended').hidden;").await;
        let why = browser.find(Locator::Id("room-ended-why")).await.unwrap().text().await.unwrap();
        assert!(why.contains("Time is up"), "{why}");
    }
    assert!(page_text(&learner).await.contains("Ask ada for another session"));
    learner.close().await.unwrap();
    advisor.close().await.unwrap();
}
