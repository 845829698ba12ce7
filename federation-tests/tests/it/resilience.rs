//! Federation when things break, between real processes: the sender killed
//! with SIGKILL in the middle of a fan-out, a receiving instance down while
//! things happen, an instance marked dead and revived when it speaks, and
//! the advisor cancelling a whole series. What alpha has delivered is read
//! from its admin API (`/api/v1/admin/federation`), so a later fetch of the
//! advisor's `upcomingEvents` cannot hide a lost delivery.

use std::time::Duration;

use federation_tests::api::{follow_accepted, get, instance_health, post, until, until_within};
use federation_tests::{Cluster, Instance, InstanceSpec};
use serde_json::{Value, json};

/// `offset` days from now, as a UTC date.
fn day(offset: i64) -> jiff::civil::Date {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * offset)).to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// The remote advisor's open and booked slots as `instance` lists them.
async fn slots(instance: &Instance, token: &str, handle: &str) -> Vec<Value> {
    get(instance, token, &format!("/api/v1/advisors/{handle}/slots")).await.as_array().unwrap().clone()
}

/// Waits until `instance` (as the admin `root`) has delivered at least
/// `at_least` activities to `domain` and has nothing left for it, and
/// returns what it knows of it. (An empty queue alone is no proof: right
/// after a restart the publisher may not have queued anything yet.)
async fn all_delivered(instance: &Instance, root: &str, domain: &str, at_least: i64, within: Duration) -> Value {
    until_within(&format!("{} has delivered everything to {domain}", instance.name()), within, || async {
        let health = instance_health(instance, root, domain).await;
        let delivered = health["delivered"].as_i64().unwrap_or(0);
        (health["pending"] == 0 && health["state"] == "ok" && delivered >= at_least).then_some(health)
    })
    .await
}

/// Ada (`ada`, on `alpha`) opens 10:00–11:00 on each of the next four
/// days as one series (four `Event`s); the block as created.
async fn publish_four_days(alpha: &Instance, ada: &str) -> Value {
    let (first, last) = (day(1), day(4));
    let series = json!({
        "start": format!("{first}T10:00"), "end": format!("{first}T11:00"), "timezone": "UTC",
        "repeat_weekly_until": last.to_string(), "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "min_notice_minutes": 0, "approval_required": true,
    });
    let (status, block) = post(alpha, ada, "/api/v1/blocks", series).await;
    assert_eq!(status, 201, "{block}");
    block
}

/// Bea (`bea`, on `beta`) asks for `slot` of Ada's (`ada`, on `alpha`),
/// and the request as Ada sees it once the `Join` has arrived.
async fn book_and_find_the_join(
    beta: &Instance,
    bea: &str,
    slot: &Value,
    alpha: &Instance,
    ada: &str,
    beta_domain: &str,
) -> Value {
    let (status, request) =
        post(beta, bea, &format!("/api/v1/slots/{}/requests", slot["id"]), json!({"note": "Crash test"})).await;
    assert_eq!(status, 201, "{request}");
    let learner = format!("bea@{beta_domain}");
    until("the Join on alpha", || async {
        let sessions = get(alpha, ada, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["learner"] == learner.as_str()).cloned()
    })
    .await
}

/// Ada approves `pending` on alpha and alpha is killed with SIGKILL at once,
/// then restarted: the approval of Bea's request for `slot` reaches beta and
/// alpha has nothing left to deliver there.
async fn approve_then_kill_alpha(
    cluster: &mut Cluster,
    (ada, root): (&str, &str),
    pending: &Value,
    (bea, slot): (&str, &Value),
    beta_domain: &str,
) {
    let approve = format!("/api/v1/requests/{}/approve", pending["request_id"]);
    let (status, body) = post(&cluster["alpha"], ada, &approve, json!({"note": "See you"})).await;
    assert_eq!(status, 200, "{body}");
    cluster["alpha"].kill();
    cluster["alpha"].restart().await.expect("alpha back after the second kill -9");
    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    let slot = slot["id"].clone();
    until("the approval on beta", || async {
        let sessions = get(beta, bea, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["slot_id"] == slot && s["status"] == "approved").cloned()
    })
    .await;
    all_delivered(alpha, root, beta_domain, 0, Duration::from_secs(45)).await;
}

#[tokio::test]
async fn a_fan_out_survives_kill_9_and_reaches_an_instance_that_was_down() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let mut cluster =
        Cluster::start([InstanceSpec::new("alpha"), InstanceSpec::new("beta").postgres(), InstanceSpec::new("gamma")])
            .await
            .expect("cluster");
    let alpha = &cluster["alpha"];
    alpha.create_advisor("ada");
    alpha.create_admin("boss");
    let (ada, root) = (alpha.api_token("ada"), alpha.api_token("boss"));
    cluster["beta"].create_advisor("bea");
    let bea = cluster["beta"].api_token("bea");
    cluster["gamma"].create_advisor("gil");
    let gil = cluster["gamma"].api_token("gil");
    let handle = format!("ada@{}", cluster["alpha"].domain());
    let (beta_domain, gamma_domain) = (cluster["beta"].domain(), cluster["gamma"].domain());
    follow_accepted(&cluster["beta"], &bea, &handle).await;
    follow_accepted(&cluster["gamma"], &gil, &handle).await;

    // Gamma goes down. Ada publishes a series of four days — four Events,
    // eight deliveries — and alpha is killed with SIGKILL straight away.
    cluster["gamma"].kill();
    let block = publish_four_days(&cluster["alpha"], &ada).await;
    cluster["alpha"].kill();
    let before_restart = cluster["alpha"].log_text().matches("delivery failed").count();
    cluster["alpha"].restart().await.expect("alpha back after kill -9");

    // Nothing lost: everything for beta is delivered, nothing given up, and
    // gamma's copies wait for it.
    let alpha = &cluster["alpha"];
    // The Accept and four Creates.
    let to_beta = all_delivered(alpha, &root, &beta_domain, 5, Duration::from_secs(45)).await;
    assert_eq!(to_beta["given_up"], 0, "{to_beta}");
    let to_gamma = until("alpha keeps gamma's deliveries", || async {
        let health = instance_health(alpha, &root, &gamma_domain).await;
        (health["state"] == "failing" && health["pending"].as_i64() >= Some(4)).then_some(health)
    })
    .await;
    assert_eq!(to_gamma["given_up"], 0, "{to_gamma}");
    assert!(alpha.log_text().matches("delivery failed").count() > before_restart, "alpha kept trying gamma");

    // Nothing applied twice: the four days are on beta once each.
    let beta = &cluster["beta"];
    let on_beta = slots(beta, &bea, &handle).await;
    assert_eq!(on_beta.len(), 24, "four days of six slots: {on_beta:?}");
    let mut ids: Vec<i64> = on_beta.iter().map(|s| s["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24);

    // Bea books the first slot; Ada approves and alpha is killed again at
    // once. The approval reaches beta exactly once.
    let pending = book_and_find_the_join(beta, &bea, &on_beta[0], alpha, &ada, &beta_domain).await;
    approve_then_kill_alpha(&mut cluster, (&ada, &root), &pending, (&bea, &on_beta[0]), &beta_domain).await;
    let beta = &cluster["beta"];
    let notifications = get(beta, &bea, "/api/v1/me/notifications").await;
    let approvals =
        notifications["notifications"].as_array().unwrap().iter().filter(|n| n["kind"] == "request_approved").count();
    assert_eq!(approvals, 1, "approved once on beta: {notifications}");
    let sessions = get(beta, &bea, "/api/v1/me/sessions").await;
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");

    // Gamma comes back: what waited is delivered (retries, growing delays).
    cluster["gamma"].restart().await.expect("gamma back");
    let (alpha, gamma) = (&cluster["alpha"], &cluster["gamma"]);
    let to_gamma = all_delivered(alpha, &root, &gamma_domain, 4, Duration::from_secs(90)).await;
    assert_eq!(to_gamma["given_up"], 0, "{to_gamma}");
    let on_gamma = slots(gamma, &gil, &handle).await;
    assert_eq!(on_gamma.len(), 24, "{on_gamma:?}");
    assert_eq!(on_gamma.iter().filter(|s| s["status"] == "booked").count(), 1, "the booking shows: {on_gamma:?}");

    // Ada cancels the whole series: Bea's booking is cancelled with the note.
    let (status, removed) =
        post(alpha, &ada, &format!("/api/v1/blocks/{}/remove", block["id"]), json!({"note": "Moving house"})).await;
    assert_eq!((status, removed["cancelled"].as_i64()), (200, Some(1)), "{removed}");
    let beta = &cluster["beta"];
    let slot = on_beta[0]["id"].clone();
    let cancelled = until("the cancellation on beta", || async {
        let sessions = get(beta, &bea, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["slot_id"] == slot && s["status"] == "cancelled").cloned()
    })
    .await;
    assert_eq!(cancelled["decision_note"], "Moving house");
    // The series' events go out cancelled: its slots leave beta and gamma.
    for (instance, token) in [(&cluster["beta"], &bea), (&cluster["gamma"], &gil)] {
        until(&format!("the removed series gone from {}", instance.name()), || async {
            slots(instance, token, &handle).await.is_empty().then_some(Value::Null)
        })
        .await;
    }
    all_delivered(alpha, &root, &beta_domain, 0, Duration::from_secs(45)).await;
    all_delivered(alpha, &root, &gamma_domain, 0, Duration::from_secs(45)).await;
}

#[tokio::test]
async fn a_dead_instance_waits_and_is_revived_when_it_speaks() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let mut cluster = Cluster::start([
        InstanceSpec::new("alpha").postgres().manual_clock().env("OFFICEHOURS_FEDERATION_DEAD_AFTER_SECS", "2"),
        InstanceSpec::new("beta"),
    ])
    .await
    .expect("cluster");
    let alpha = &cluster["alpha"];
    alpha.create_advisor("ada");
    alpha.create_advisor("abe");
    alpha.create_admin("boss");
    let (ada, root) = (alpha.api_token("ada"), alpha.api_token("boss"));
    cluster["beta"].create_advisor("bea");
    let bea = cluster["beta"].api_token("bea");
    let handle = format!("ada@{}", cluster["alpha"].domain());
    let beta_domain = cluster["beta"].domain();
    follow_accepted(&cluster["beta"], &bea, &handle).await;

    // Beta goes down; Ada publishes. Failures for more than two seconds
    // (on alpha's clock, moved a second at a time) mark beta dead.
    cluster["beta"].kill();
    let alpha = &cluster["alpha"];
    let block = json!({"start": format!("{}T10:00", day(2)), "end": format!("{}T11:00", day(2)), "timezone": "UTC",
                       "min_notice_minutes": 0});
    assert_eq!(post(alpha, &ada, "/api/v1/blocks", block).await.0, 201);
    let dead = until("beta marked dead", || async {
        alpha.advance_clock(Duration::from_secs(1)).await;
        let health = instance_health(alpha, &root, &beta_domain).await;
        (health["state"] == "dead").then_some(health)
    })
    .await;
    assert!(dead["pending"].as_i64() >= Some(1), "{dead}");
    assert!(alpha.log_text().contains("marked dead"));

    // Beta is back but says nothing: its deliveries wait (next probe in an
    // hour). Alpha's clock moves 59 minutes, past every retry but not the
    // probe, and the pass of jobs that runs then sends nothing.
    cluster["beta"].restart().await.expect("beta back");
    let alpha = &cluster["alpha"];
    alpha.advance_clock(Duration::from_secs(59 * 60)).await;
    let waiting = instance_health(alpha, &root, &beta_domain).await;
    assert_eq!(waiting["state"], "dead", "{waiting}");
    assert_eq!(waiting["pending"], dead["pending"], "nothing sent to a dead instance: {waiting}");

    // Bea follows Abe: a verified activity from beta revives it, and what
    // waited goes out at once.
    let beta = &cluster["beta"];
    follow_accepted(beta, &bea, &format!("abe@{}", alpha.domain())).await;
    let revived = all_delivered(alpha, &root, &beta_domain, 1, Duration::from_secs(20)).await;
    assert_eq!(revived["given_up"], 0, "{revived}");
    assert!(revived["last_seen_at"].is_string(), "{revived}");
}

/// The rows of `sql` on `instance`'s database, sorted.
fn stored(instance: &Instance, sql: &str) -> Vec<String> {
    let mut rows = instance.query(sql).unwrap_or_else(|e| panic!("{e}"));
    rows.sort();
    rows
}

/// Each slot as `start end`, sorted (what two instances must agree on).
fn times(slots: &[Value]) -> Vec<String> {
    let mut times: Vec<String> = slots.iter().map(|s| format!("{} {}", s["start"], s["end"])).collect();
    times.sort();
    times
}

/// The sender on PostgreSQL: alpha publishes a series of four days and is
/// killed with SIGKILL straight away, then again right after approving a
/// request. After each restart, what beta (SQLite) stored is read from its
/// own database: exactly the events alpha's database says it published,
/// each once (by ActivityPub id), with the slots at the times alpha has;
/// and the approval reached beta once (one approved session, one
/// notification).
#[tokio::test]
async fn a_fan_out_from_postgres_survives_kill_9_and_is_stored_once() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let mut cluster =
        Cluster::start([InstanceSpec::new("alpha").postgres(), InstanceSpec::new("beta")]).await.expect("cluster");
    let alpha = &cluster["alpha"];
    alpha.create_advisor("ada");
    alpha.create_admin("boss");
    let (ada, root) = (alpha.api_token("ada"), alpha.api_token("boss"));
    cluster["beta"].create_advisor("bea");
    let bea = cluster["beta"].api_token("bea");
    let handle = format!("ada@{}", cluster["alpha"].domain());
    let beta_domain = cluster["beta"].domain();
    follow_accepted(&cluster["beta"], &bea, &handle).await;

    publish_four_days(&cluster["alpha"], &ada).await;
    cluster["alpha"].kill();
    cluster["alpha"].restart().await.expect("alpha back after kill -9");

    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    let to_beta = all_delivered(alpha, &root, &beta_domain, 5, Duration::from_secs(45)).await;
    assert_eq!(to_beta["given_up"], 0, "{to_beta}");
    // What beta stored, against what alpha published (both databases).
    let published = stored(alpha, "SELECT ap_id FROM published_events WHERE status = 'live'");
    assert_eq!(published.len(), 4, "four days published: {published:?}");
    let mirrored = stored(beta, "SELECT ap_id FROM blocks WHERE ap_id IS NOT NULL");
    assert_eq!(mirrored, published, "beta stored each event alpha published, once");
    let creates = stored(
        alpha,
        &format!(
            "SELECT activity_id FROM deliveries WHERE domain = '{beta_domain}' AND delivered_at IS NOT NULL \
             AND activity_id LIKE '%/activities/create/%'"
        ),
    );
    assert_eq!(creates.len(), 4, "one Create per day delivered to beta: {creates:?}");
    let seen = stored(beta, "SELECT activity_id FROM inbox_seen");
    for activity in &creates {
        assert_eq!(seen.iter().filter(|s| *s == activity).count(), 1, "beta applied {activity} once: {seen:?}");
    }
    let own = get(alpha, &ada, "/api/v1/advisors/ada/slots").await;
    let on_beta = slots(beta, &bea, &handle).await;
    assert_eq!(times(&on_beta), times(own.as_array().unwrap()), "the same slots at the same times on beta");
    assert_eq!(on_beta.len(), 24);

    // Bea books the first slot; Ada approves; alpha is killed at once.
    let pending = book_and_find_the_join(beta, &bea, &on_beta[0], alpha, &ada, &beta_domain).await;
    approve_then_kill_alpha(&mut cluster, (&ada, &root), &pending, (&bea, &on_beta[0]), &beta_domain).await;
    let beta = &cluster["beta"];
    let approved = stored(beta, "SELECT status FROM requests");
    assert_eq!(approved, ["approved"], "one request on beta, approved");
    let notices = stored(beta, "SELECT kind FROM notifications WHERE kind = 'request_approved'");
    assert_eq!(notices.len(), 1, "approved once on beta: {notices:?}");
}
