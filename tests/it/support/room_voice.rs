//! Voice checks on a room page (Chromium or Firefox): a synthesised tone for the
//! microphone (`tone.js`), the rate of audio packets the page receives
//! (`getStats()`), the frequency it hears, and the end-of-session counts.

use std::time::Duration;

use fantoccini::{Client, Locator};

use super::webdriver::{TONE_JS, page_text, until_true};

/// Chromium switches for a room test: no permission prompt, loopback ICE
/// candidates (the server's media port is on 127.0.0.1), sound without a
/// click.
pub const MEDIA_SWITCHES: [&str; 4] = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
];

/// How close the heard frequency must be to the other side's tone.
pub const TONE_TOLERANCE_HZ: f64 = 30.0;

/// From now on the page's microphone is a sine tone of `hz`.
pub async fn use_tone(browser: &Client, hz: u32) {
    browser.execute(TONE_JS, vec![]).await.expect("load tone.js");
    browser.execute("window.__ohTestTone(arguments[0]);", vec![hz.into()]).await.expect("the tone");
}

/// Presses Join and waits until the page is in the room.
pub async fn join(browser: &Client) {
    browser.find(Locator::Id("room-join")).await.unwrap().click().await.unwrap();
    until_true(browser, "the room", "return !document.getElementById('room-live').hidden;").await;
}

/// The page's audio counters at one `getStats()` report.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
pub struct AudioCount {
    /// Audio packets received (`inbound-rtp` `packetsReceived`).
    pub received: i64,
    /// Audio packets sent (`outbound-rtp` `packetsSent`).
    pub sent: i64,
    /// The report's time, in milliseconds.
    pub timestamp: f64,
}

/// A promise of the page's audio counters (an [`AudioCount`]).
pub const AUDIO_COUNT: &str = "(async () => { const pc = window.__ohPeer; \
    const c = { received: 0, sent: 0, timestamp: 0 }; if (!pc) return c; \
    (await pc.getStats()).forEach(r => { c.timestamp = Math.max(c.timestamp, r.timestamp || 0); \
      if ((r.kind || r.mediaType) !== 'audio') return; \
      if (r.type === 'inbound-rtp') c.received += r.packetsReceived || 0; \
      if (r.type === 'outbound-rtp') c.sent += r.packetsSent || 0; }); \
    return c; })()";

/// The audio counters of the page's current peer connection.
pub async fn audio_count(browser: &Client) -> AudioCount {
    let value = browser.execute(&format!("return {AUDIO_COUNT};"), vec![]).await.expect("getStats");
    serde_json::from_value(value).expect("an audio count")
}

/// Waits until audio arrives, then measures the receive rate over four
/// seconds of the page's own report times: Opus at 20 ms is 50 packets a
/// second. (Four, not two: on a loaded machine a browser that is starved of
/// CPU for a moment sends a burst late, and a short window can end between
/// the gap and the burst.) Returns the rate.
pub async fn assert_audio_rate(browser: &Client, who: &str) -> f64 {
    until_true(
        browser,
        &format!("audio arriving at {who}"),
        &format!("return (async () => (await {AUDIO_COUNT}).received > 0)();"),
    )
    .await;
    let first = audio_count(browser).await;
    let mut last = first;
    for _ in 0..400 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        last = audio_count(browser).await;
        if last.timestamp - first.timestamp >= 4000.0 {
            break;
        }
    }
    let seconds = (last.timestamp - first.timestamp) / 1000.0;
    assert!(seconds >= 4.0, "{who}: the stats reports did not move on ({first:?} → {last:?})");
    let rate = (last.received - first.received) as f64 / seconds;
    if !(40.0..=60.0).contains(&rate) {
        panic!(
            "{who} receives {rate:.1} audio packets/s ({first:?} → {last:?}): {}\n{}",
            page_text(browser).await,
            peer_state(browser).await
        );
    }
    rate
}

/// The page's connection as the browser sees it: states, descriptions and
/// candidate pairs (for failure messages).
pub async fn peer_state(browser: &Client) -> String {
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

/// Waits (10 s at most) until the dominant frequency the page hears is
/// `hz`, and returns it.
pub async fn assert_hears(browser: &Client, who: &str, hz: u32) -> f64 {
    let mut heard = 0.0;
    for _ in 0..400 {
        let value = browser.execute("return window.__ohHeardFrequency();", vec![]).await.expect("the analyser");
        heard = value.as_f64().unwrap_or(0.0);
        if (heard - f64::from(hz)).abs() <= TONE_TOLERANCE_HZ {
            return heard;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{who} hears {heard:.0} Hz, not the other side's {hz} Hz: {}", page_text(browser).await);
}

/// After the end screen: the page's counts when the session ended and at
/// least a second later (`window.__ohEndStats`, kept by room.js before it
/// closes its connection). Not one audio packet arrived in between, while
/// the page kept sending (so a server that forwarded after its hard stop
/// would have been caught).
pub async fn assert_nothing_after_the_end(browser: &Client, who: &str) {
    until_true(
        browser,
        &format!("{who}'s last counts"),
        "return !!(window.__ohEndStats && window.__ohEndStats.later);",
    )
    .await;
    let value = browser.execute("return window.__ohEndStats;", vec![]).await.unwrap();
    let at_end: AudioCount = serde_json::from_value(value["atEnd"].clone()).unwrap();
    let later: AudioCount = serde_json::from_value(value["later"].clone()).unwrap();
    assert!(at_end.received > 0, "{who} received audio before the end: {at_end:?}");
    assert!(later.timestamp - at_end.timestamp >= 1000.0, "{who}: {at_end:?} → {later:?}");
    assert!(later.sent > at_end.sent, "{who} kept sending after the end: {at_end:?} → {later:?}");
    assert_eq!(later.received, at_end.received, "{who} received audio after the hard stop: {at_end:?} → {later:?}");
}

/// Shares a synthetic screen from the page: a canvas stream (alternating
/// colours, 20 frames a second) handed to the room's share function in place
/// of the browser's screen picker, which a headless browser cannot show.
pub async fn share_canvas(browser: &Client) {
    browser
        .execute(
            "const c = document.createElement('canvas'); c.width = 320; c.height = 180; \
             const g = c.getContext('2d'); let n = 0; \
             setInterval(() => { g.fillStyle = n++ % 2 ? '#2e8b57' : '#dcdcd4'; g.fillRect(0, 0, 320, 180); }, 50); \
             return window.__ohShare(c.captureStream(20)).then(() => true);",
            vec![],
        )
        .await
        .expect("sharing a canvas stream");
}

/// Waits until the page shows the other person's shared screen with frames
/// decoded (the video has a size only once a frame arrived).
pub async fn until_screen_shown(browser: &Client, who: &str) {
    until_true(
        browser,
        &format!("{who} sees the shared screen"),
        "const v = document.getElementById('room-screen'); \
         return !document.getElementById('room-screen-box').hidden && v.videoWidth > 0;",
    )
    .await;
}
