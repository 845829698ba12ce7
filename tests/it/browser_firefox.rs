//! The voice room across browsers: the learner in headless Firefox ESR
//! (through geckodriver), the advisor in Chromium, on one room of the
//! server; each hears the other's tone through the server's SFU.

use crate::support;

use std::time::Duration;

use fantoccini::{Client, Locator};
use officehours::domain::booking::RequestStatus;
use support::firefox::Gecko;
use support::webdriver::{Driver, TONE_JS, fill, log_in, page_text, screenshot_dir, until_true};
use support::{TestDatabase, TestServer};

const LEARNER_TONE: f64 = 440.0;
const ADVISOR_TONE: f64 = 660.0;

/// The audio packets received so far, and the stats' time (ms) of that count.
const RECEIVED: &str = "return (async () => { const pc = window.__ohPeer; if (!pc) return [0, 0]; \
    let seen = [0, 0]; (await pc.getStats()).forEach(r => { \
      if (r.type === 'inbound-rtp' && (r.kind || r.mediaType) === 'audio') seen = [r.packetsReceived, r.timestamp]; }); \
    return seen; })();";

async fn received(browser: &Client) -> (f64, f64) {
    let seen = browser.execute(RECEIVED, vec![]).await.unwrap();
    (seen[0].as_f64().unwrap_or(0.0), seen[1].as_f64().unwrap_or(0.0))
}

/// The page's connection as the browser sees it (for failure messages).
async fn peer_state(browser: &Client) -> String {
    let state = browser
        .execute(
            "return (async () => { const pc = window.__ohPeer; if (!pc) return 'no connection'; \
               const pairs = []; (await pc.getStats()).forEach(r => { \
                 if (r.type === 'candidate-pair' || r.type.endsWith('candidate')) pairs.push(JSON.stringify(r)); }); \
               return [pc.signalingState, pc.iceConnectionState, pc.connectionState, \
                 pc.localDescription && pc.localDescription.sdp, pc.remoteDescription && pc.remoteDescription.sdp, \
                 pairs.join('\\n')].join('\\n'); })();",
            vec![],
        )
        .await;
    match state {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// Waits until audio flows, then measures its rate (packets per second of
/// the browser's own stats clock) over about two seconds.
async fn audio_packet_rate(browser: &Client, who: &str) -> f64 {
    let mut first = (0.0, 0.0);
    for _ in 0..400 {
        first = received(browser).await;
        if first.0 >= 50.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        first.0 >= 50.0,
        "{who}: only {} audio packets arrived: {}\n{}",
        first.0,
        page_text(browser).await,
        peer_state(browser).await
    );
    let mut last = first;
    for _ in 0..400 {
        last = received(browser).await;
        if last.1 - first.1 >= 2000.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.1 - first.1 >= 2000.0, "{who}: the stats' clock did not move: {first:?} {last:?}");
    (last.0 - first.0) * 1000.0 / (last.1 - first.1)
}

/// Waits (10 s at most) until the dominant frequency `who` hears is
/// `expected` ± 30 Hz, and returns the last reading.
async fn hears(browser: &Client, who: &str, expected: f64) -> f64 {
    let mut heard = 0.0;
    for _ in 0..100 {
        heard = browser.execute("return window.__ohHeardFrequency();", vec![]).await.unwrap().as_f64().unwrap_or(0.0);
        if (heard - expected).abs() <= 30.0 {
            return heard;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{who} hears {heard} Hz, not {expected} Hz: {}", page_text(browser).await);
}

#[tokio::test]
async fn firefox_and_chromium_hear_each_others_tone_chat_and_end_on_time() {
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
    let media = [
        "--use-fake-ui-for-media-stream",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
    ];
    let advisor = chromium.browser_with(1280, 900, &media).await;
    log_in(&advisor, &server, "ada").await;
    advisor.goto(&server.url(&format!("/rooms/{id}"))).await.unwrap();
    for (browser, hz) in [(&learner, LEARNER_TONE), (&advisor, ADVISOR_TONE)] {
        browser.execute(TONE_JS, vec![]).await.unwrap();
        browser.execute("window.__ohTestTone(arguments[0]);", vec![hz.into()]).await.unwrap();
        browser.find(Locator::Id("room-join")).await.unwrap().click().await.unwrap();
        until_true(browser, "the room", "return !document.getElementById('room-live').hidden;").await;
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
        let rate = audio_packet_rate(browser, who).await;
        assert!((40.0..=60.0).contains(&rate), "{who} receives {rate:.1} audio packets a second");
    }
    hears(&learner, "Lea in Firefox", ADVISOR_TONE).await;
    hears(&advisor, "Ada in Chromium", LEARNER_TONE).await;

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
