//! Calling an instance's JSON API as one of its people, and waiting for
//! something to happen between instances.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Instance;

/// `GET path` with `token`; panics unless it is a 2xx with JSON.
pub async fn get(instance: &Instance, token: &str, path: &str) -> Value {
    let response = instance.client().get(instance.url(path)).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "GET {path} on {}: {status} {body}", instance.name());
    serde_json::from_str(&body).unwrap()
}

/// `POST path` with `token` and a JSON `body`: the status and the JSON answer
/// (`null` when there is none).
pub async fn post(instance: &Instance, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = instance.client().post(instance.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `check` every 200 ms until it returns something; panics naming
/// `what` after `timeout`.
pub async fn until_within<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<Value>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// [`until_within`] 45 seconds.
pub async fn until<F, Fut>(what: &str, check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<Value>>,
{
    until_within(what, Duration::from_secs(45), check).await
}

/// Follows `handle` as the holder of `token` and waits until it is accepted.
pub async fn follow_accepted(instance: &Instance, token: &str, handle: &str) {
    let (status, body) = post(instance, token, "/api/v1/follows", serde_json::json!({"handle": handle})).await;
    assert_eq!(status, 202, "follow {handle} from {}: {body}", instance.name());
    until(&format!("{}'s follow of {handle} accepted", instance.name()), || async {
        let follows = get(instance, token, "/api/v1/me/follows").await;
        let accepted = follows.as_array().unwrap().iter().any(|f| {
            f["state"] == "accepted"
                && f["actor"].as_str().is_some_and(|a| a.ends_with(handle.split('@').next().unwrap()))
        });
        accepted.then_some(follows)
    })
    .await;
}

/// What the instance's admin page knows of `domain` (`null` if nothing).
pub async fn instance_health(instance: &Instance, admin_token: &str, domain: &str) -> Value {
    let all = get(instance, admin_token, "/api/v1/admin/federation").await;
    all.as_array().unwrap().iter().find(|i| i["domain"] == domain).cloned().unwrap_or(Value::Null)
}

/// How many followers `user` on `instance` has, as its ActivityPub
/// followers collection says.
pub async fn followers(instance: &Instance, user: &str) -> i64 {
    let response = instance
        .client()
        .get(instance.url(&format!("/users/{user}/followers")))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .expect("followers");
    response.json::<Value>().await.unwrap()["totalItems"].as_i64().unwrap()
}
