//! Follows between real processes: a learner on beta follows an advisor on
//! alpha; alpha verifies the signed `Follow`, records the follower and sends
//! a signed `Accept` from its durable queue; beta marks the follow accepted.
//! Unsigned and badly signed posts are refused with 401 and change nothing.

use std::time::{Duration, Instant};

use federation_tests::api::followers;
use federation_tests::api::{follow_accepted, instance_health, until};
use federation_tests::{Cluster, Instance, InstanceSpec};
use serde_json::{Value, json};

/// `POST /api/v1/follows {"handle"}` on `instance` as the token's owner.
async fn follow(instance: &Instance, token: &str, handle: &str) -> reqwest::Response {
    instance
        .client()
        .post(instance.url("/api/v1/follows"))
        .bearer_auth(token)
        .json(&json!({"handle": handle}))
        .send()
        .await
        .unwrap()
}

/// `GET /api/v1/me/follows` on `instance`.
async fn my_follows(instance: &Instance, token: &str) -> Value {
    instance
        .client()
        .get(instance.url("/api/v1/me/follows"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the newest follow of the token's owner is accepted.
async fn until_accepted(instance: &Instance, token: &str, what: &str) {
    let started = Instant::now();
    loop {
        let list = my_follows(instance, token).await;
        if list[0]["state"] == "accepted" {
            return;
        }
        still_waiting(started, &format!("{what}: {list}"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fails once 45 s have passed since `started`.
fn still_waiting(started: Instant, what: &str) -> bool {
    assert!(started.elapsed() < Duration::from_secs(45), "timed out waiting for: {what}");
    true
}

#[tokio::test]
async fn a_learner_follows_an_advisor_on_another_instance() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let cluster =
        Cluster::start([InstanceSpec::new("alpha"), InstanceSpec::new("beta").postgres()]).await.expect("cluster");
    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    alpha.create_advisor("ada");
    alpha.create_advisor("abe");
    alpha.create_admin("boss");
    beta.create_advisor("bea");
    beta.create_admin("boss");
    let bea = beta.api_token("bea");
    let (alpha_root, beta_root) = (alpha.api_token("boss"), beta.api_token("boss"));
    let handle = format!("ada@{}", alpha.domain());

    let response = follow(beta, &bea, &handle).await;
    assert_eq!(response.status().as_u16(), 202);
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["actor"], alpha.url("/users/ada"));

    let started = Instant::now();
    while followers(alpha, "ada").await != 1 && still_waiting(started, "alpha records the follower") {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    until_accepted(beta, &bea, "beta sees the Accept").await;

    // Following again changes nothing: no second Follow, so no second
    // Accept. The marker that everything before it went through: Bea then
    // follows Abe, and that Accept comes back.
    let again = follow(beta, &bea, &handle).await;
    assert_eq!(again.status().as_u16(), 202);
    follow_accepted(beta, &bea, &format!("abe@{}", alpha.domain())).await;
    // Beta queues what it sends in the request that causes it, and alpha
    // its Accept in the request that takes the Follow: once beta's two
    // Follows are recorded delivered, both queues are final.
    let queued = |health: &Value| ["pending", "delivered", "given_up"].map(|k| health[k].as_i64().unwrap_or(0));
    let to_alpha = until("beta's Follows recorded delivered", || async {
        let health = instance_health(beta, &beta_root, &alpha.domain()).await;
        (health["pending"] == 0).then_some(health)
    })
    .await;
    assert_eq!(queued(&to_alpha), [0, 2, 0], "one Follow for Ada, one for Abe: {to_alpha}");
    let to_beta = instance_health(alpha, &alpha_root, &beta.domain()).await;
    assert_eq!(queued(&to_beta).iter().sum::<i64>(), 2, "one Accept each: {to_beta}");
    // Between two of ours, deliveries go with RFC 9421, remembered.
    assert_eq!(to_alpha["signatures"], "rfc9421", "{to_alpha}");
    assert_eq!(to_beta["signatures"], "rfc9421", "{to_beta}");
    assert_eq!(followers(alpha, "ada").await, 1);

    // Unsigned, and signed by nobody: 401, nothing changes.
    let forged = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": beta.url("/activities/follow/forged"),
        "type": "Follow",
        "actor": beta.url("/users/bea"),
        "object": alpha.url("/users/ada"),
    });
    for signature in
        [None, Some("keyId=\"x\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date\",signature=\"AAAA\"")]
    {
        let mut request = alpha
            .client()
            .post(alpha.url("/inbox"))
            .header("Content-Type", "application/activity+json")
            .body(forged.to_string());
        if let Some(signature) = signature {
            request = request.header("Signature", signature);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{:?}", response.text().await);
    }
    assert_eq!(followers(alpha, "ada").await, 1);

    // Unfollowing sends an Undo; alpha forgets the follower.
    let response =
        beta.client().delete(beta.url(&format!("/api/v1/follows/{handle}"))).bearer_auth(&bea).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let started = Instant::now();
    while followers(alpha, "ada").await != 0 && still_waiting(started, "alpha drops the follower") {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = my_follows(beta, &bea).await;
    let actors: Vec<&str> = left.as_array().unwrap().iter().filter_map(|f| f["actor"].as_str()).collect();
    assert_eq!(actors, [alpha.url("/users/abe")], "only Abe is still followed: {left}");
}

#[tokio::test]
async fn a_follow_survives_the_other_side_down_and_its_own_kill_9() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let mut cluster = Cluster::start([InstanceSpec::new("alpha").postgres(), InstanceSpec::new("beta").manual_clock()])
        .await
        .expect("cluster");
    cluster["alpha"].create_advisor("ada");
    cluster["beta"].create_advisor("bea");
    let bea = cluster["beta"].api_token("bea");
    let handle = format!("ada@{}", cluster["alpha"].domain());
    // Beta learns of Ada while alpha is up…
    let beta = &cluster["beta"];
    let known = beta.client().get(beta.url(&format!("/api/v1/advisors/{handle}"))).send().await.unwrap();
    assert_eq!(known.status().as_u16(), 200);
    // …then alpha dies, and Bea follows: stored, attempted, failing.
    cluster["alpha"].kill();
    let beta = &cluster["beta"];
    let response = follow(beta, &bea, &handle).await;
    assert_eq!(response.status().as_u16(), 202, "{:?}", response.text().await);
    let started = Instant::now();
    while !cluster["beta"].log_text().contains("delivery failed") && still_waiting(started, "beta tries and fails") {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Beta is killed too, then both come back: nothing was lost.
    cluster["beta"].kill();
    cluster["alpha"].restart().await.expect("alpha back");
    cluster["beta"].restart().await.expect("beta back");
    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    // Beta's clock lets the retry delay (and the lease of an attempt the
    // kill cut short) pass, and the pass it runs sends the Follow.
    beta.advance_clock(Duration::from_secs(31)).await;
    until_accepted(beta, &bea, "the follow goes through after the restarts").await;
    assert_eq!(followers(alpha, "ada").await, 1, "delivered once");
}
