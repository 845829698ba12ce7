//! Follows between real processes: a learner on beta follows an advisor on
//! alpha; alpha verifies the signed `Follow`, records the follower and sends
//! a signed `Accept` from its durable queue; beta marks the follow accepted.
//! Unsigned and badly signed posts are refused with 401 and change nothing.

use std::time::{Duration, Instant};

use federation_tests::{Cluster, Instance, InstanceSpec};
use serde_json::{Value, json};

async fn followers(alpha: &Instance, user: &str) -> i64 {
    let response = alpha
        .client()
        .get(alpha.url(&format!("/users/{user}/followers")))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .expect("followers");
    response.json::<Value>().await.unwrap()["totalItems"].as_i64().unwrap()
}

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

/// Fails once 45 s have passed since `started` (a delivery claimed by a
/// killed process waits out its 30-second lease).
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
    beta.create_advisor("bea");
    let bea = beta.api_token("bea");
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

    // Following again changes nothing.
    let again = follow(beta, &bea, &handle).await;
    assert_eq!(again.status().as_u16(), 202);
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    assert_eq!(my_follows(beta, &bea).await, json!([]));
}

#[tokio::test]
async fn a_follow_survives_the_other_side_down_and_its_own_kill_9() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let mut cluster =
        Cluster::start([InstanceSpec::new("alpha").postgres(), InstanceSpec::new("beta")]).await.expect("cluster");
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(cluster["beta"].log_text().contains("delivery failed"), "beta tried and failed");
    // Beta is killed too, then both come back: nothing was lost.
    cluster["beta"].kill();
    cluster["alpha"].restart().await.expect("alpha back");
    cluster["beta"].restart().await.expect("beta back");
    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    until_accepted(beta, &bea, "the follow goes through after the restarts").await;
    assert_eq!(followers(alpha, "ada").await, 1, "delivered once");
}
