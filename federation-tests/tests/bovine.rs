//! Officehours against an independent ActivityPub implementation: a peer
//! built on `bovine` (PyPI) follows an advisor; alpha verifies bovine's
//! signature and answers with a signed `Accept`, which bovine verifies with
//! its own code. A request signed with the wrong key is refused and changes
//! nothing.

use std::time::{Duration, Instant};

use federation_tests::{Cluster, Instance, InstanceSpec};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn create_advisor(instance: &Instance, username: &str) {
    instance
        .cli(
            &["user", "create", "--username", username, "--email", &format!("{username}@example.org"), "--advisor"],
            Some(&format!("{PASSWORD}\n")),
        )
        .expect("user create");
}

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

/// Waits (up to 30 s) until `user` on `alpha` has `count` followers.
async fn until_followers(alpha: &Instance, user: &str, count: i64) {
    let started = Instant::now();
    loop {
        let now = followers(alpha, user).await;
        if now == count {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{user} has {now} followers, not {count}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The id of an activity's object, embedded or not.
fn object_id(activity: &Value) -> &Value {
    match &activity["object"] {
        Value::Object(object) => &object["id"],
        other => other,
    }
}

#[tokio::test]
async fn a_bovine_peer_follows_an_advisor_and_verifies_the_accept() {
    if federation_tests::skip_without_python_module("bovine") {
        return;
    }
    let cluster =
        Cluster::builder().instance(InstanceSpec::new("alpha")).python_peer("bovine").start().await.expect("cluster");
    let (alpha, peer) = (&cluster["alpha"], cluster.peer("bovine"));
    create_advisor(alpha, "ada");
    let ada = alpha.url("/users/ada");

    // bovine follows Ada: alpha verifies bovine's signature (rsa-sha256,
    // Mastodon's headers) and records the follower.
    let follow = peer.follow(&ada).await;
    assert_eq!(follow["status"], 202, "alpha refused bovine's Follow: {follow:#}");
    assert_eq!(follow["inbox"], alpha.url("/users/ada/inbox"));
    until_followers(alpha, "ada", 1).await;

    // alpha's signed Accept reaches bovine, and bovine's own checker
    // verifies its digest and signature (and that Ada signed it).
    let accept = peer.wait_for_activity("Accept").await;
    assert_eq!(accept["verified"], true, "bovine could not verify alpha's Accept: {accept:#}");
    assert_eq!(accept["signer"], ada.as_str());
    assert_eq!(accept["activity"]["actor"], ada.as_str());
    assert_eq!(object_id(&accept["activity"]), &follow["id"], "the Accept names bovine's Follow: {accept:#}");

    // A forged Undo of that Follow — bovine's keyId, another key — is
    // refused with 401, and Ada keeps her follower.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": peer.url("/objects/forged-undo"),
        "type": "Undo",
        "actor": peer.actor_id(),
        "object": follow["activity"],
    });
    let forged = peer.send_with_wrong_key(&alpha.url("/inbox"), &undo).await;
    assert_eq!(forged["status"], 401, "{forged:#}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(followers(alpha, "ada").await, 1, "the forged Undo changed nothing");

    // The same Undo, signed with the right key, is taken: the forgery was
    // refused for its signature alone.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": peer.url("/objects/real-undo"),
        "type": "Undo",
        "actor": peer.actor_id(),
        "object": follow["activity"],
    });
    let real = peer.send(&alpha.url("/inbox"), &undo).await;
    assert_eq!(real["status"], 202, "{real:#}");
    until_followers(alpha, "ada", 0).await;

    // Everything alpha sent verified.
    for entry in peer.received().await {
        assert_eq!(entry["verified"], true, "bovine could not verify: {entry:#}");
    }
}
