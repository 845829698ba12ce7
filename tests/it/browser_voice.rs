//! The room's voice in Chromium beyond the plain call (which is in
//! `browser.rs`): forced through a real TURN server (coturn on loopback),
//! and a page whose connection is cut coming back by itself.

use crate::support;

use fantoccini::Client;
use officehours::domain::booking::RequestStatus;
use support::coturn::Coturn;
use support::room_voice::{AUDIO_COUNT, MEDIA_SWITCHES, assert_audio_rate, assert_hears, audio_count, join, use_tone};
use support::webdriver::{Driver, log_in, until_true};
use support::{TestDatabase, TestServer};

const LEA_HZ: u32 = 440;
const ADA_HZ: u32 = 660;

/// Lea (from her room link) and Ada (logged in) in a session that started
/// a minute ago, each page's microphone a tone; `before_join` runs in both
/// pages before Join is pressed. Returns (Lea's page, Ada's page).
async fn in_a_room(driver: &Driver, server: &TestServer, before_join: &str) -> (Client, Client) {
    let ada = server.create_advisor("ada").await;
    let lea = server.create_user("lea", false).await;
    let start = server.now() - jiff::SignedDuration::from_mins(1);
    let id = server.session_at(&ada, &lea, start, RequestStatus::Approved).await;
    let learner = driver.browser_with(1000, 800, &MEDIA_SWITCHES).await;
    learner.goto(&server.app.room_link(id, lea.id)).await.unwrap();
    use_tone(&learner, LEA_HZ).await;
    let advisor = driver.browser_with(1000, 800, &MEDIA_SWITCHES).await;
    log_in(&advisor, server, "ada").await;
    advisor.goto(&server.url(&format!("/rooms/{id}"))).await.unwrap();
    use_tone(&advisor, ADA_HZ).await;
    for browser in [&learner, &advisor] {
        browser.execute(before_join, vec![]).await.unwrap();
        join(browser).await;
    }
    (learner, advisor)
}

/// Both hear each other: ~50 packets/s each way and the other's tone.
async fn both_hear_each_other(learner: &Client, advisor: &Client) {
    tokio::join!(assert_audio_rate(learner, "Lea"), assert_audio_rate(advisor, "Ada"));
    assert_hears(learner, "Lea", ADA_HZ).await;
    assert_hears(advisor, "Ada", LEA_HZ).await;
}

/// The types of the local and remote candidates of the page's selected
/// ICE candidate pair, once there is one.
const SELECTED_PAIR: &str = "(async () => { const pc = window.__ohPeer; if (!pc) return null; \
    const stats = await pc.getStats(); let pair = null; \
    stats.forEach(r => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); }); \
    if (!pair || pair.state !== 'succeeded') return null; \
    const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId); \
    return { local: local.candidateType, relay_protocol: local.relayProtocol || null, remote: remote.candidateType }; })()";

#[tokio::test]
async fn voice_goes_through_coturn_when_the_browsers_must_relay() {
    let Some(turn) = Coturn::start() else { return };
    let Some(driver) = Driver::start("Europe/Berlin") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start_with(&db, |config| {
        config.turn_urls = vec![turn.url()];
        config.turn_secret = Some(turn.secret.clone());
    })
    .await;

    // Both pages may only use relay candidates: every packet goes browser →
    // coturn → the server's media port and back.
    let (learner, advisor) = in_a_room(&driver, &server, "window.__ohIceTransportPolicy = 'relay';").await;
    for (browser, who) in [(&learner, "Lea"), (&advisor, "Ada")] {
        let connected = format!("return {SELECTED_PAIR}.then(pair => pair !== null);");
        until_true(browser, &format!("{who}'s selected candidate pair"), &connected).await;
        let pair = browser.execute(&format!("return {SELECTED_PAIR};"), vec![]).await.unwrap();
        assert_eq!(pair["local"], "relay", "{who} relays through coturn: {pair}\n{}", turn.log());
        assert_eq!(pair["relay_protocol"], "udp", "{who}: {pair}");
        assert_eq!(pair["remote"], "host", "{who} reaches the server's one media port: {pair}");
    }
    both_hear_each_other(&learner, &advisor).await;

    // coturn took the credentials the server made for each of them.
    let log = turn.log();
    for person in ["ada", "lea"] {
        let user = server.store.user_by_username(person).await.unwrap();
        assert!(log.contains(&format!("-{}>", user.id)), "coturn saw no allocation for {person}:\n{log}");
    }
    learner.close().await.unwrap();
    advisor.close().await.unwrap();
}

#[tokio::test]
async fn a_page_whose_connection_is_cut_rejoins_by_itself_and_both_hear_again() {
    let Some(driver) = Driver::start("Europe/Berlin") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let (learner, advisor) = in_a_room(&driver, &server, "").await;
    both_hear_each_other(&learner, &advisor).await;

    // Lea's network goes: her media connection and her signalling socket
    // are cut at once, as a network change would leave them.
    advisor
        .execute("window.__ohKept = window.__ohPeer; document.getElementById('room-status').textContent = '';", vec![])
        .await
        .unwrap();
    learner
        .execute("window.__ohCut = window.__ohPeer; window.__ohPeer.close(); window.__ohSocket.close();", vec![])
        .await
        .unwrap();

    // Her page comes back by itself, on a new connection, and Ada is told
    // she is here again.
    until_true(
        &learner,
        "Lea's new connection",
        "const pc = window.__ohPeer; return !!pc && pc !== window.__ohCut && pc.connectionState === 'connected';",
    )
    .await;
    until_true(
        &learner,
        "Lea back in",
        "return document.getElementById('room-status').textContent.includes('is here');",
    )
    .await;
    until_true(
        &advisor,
        "Lea's return",
        "return document.getElementById('room-status').textContent.includes('is here');",
    )
    .await;
    let kept = advisor.execute("return window.__ohPeer === window.__ohKept;", vec![]).await.unwrap();
    assert_eq!(kept, serde_json::json!(true), "Ada's connection carried on");

    // Audio flows again both ways: Ada's counter moves on after the gap, and
    // both hear the other's tone at the full rate.
    let before = audio_count(&advisor).await;
    let rising = format!("return {AUDIO_COUNT}.then(c => c.received > {});", before.received + 25);
    until_true(&advisor, "Lea's voice again", &rising).await;
    both_hear_each_other(&learner, &advisor).await;
    learner.close().await.unwrap();
    advisor.close().await.unwrap();
}
