//! Discovery between real processes (F1): each instance answers WebFinger
//! for its own people and serves their `Person` at the profile URL, on
//! SQLite and PostgreSQL, in federation test mode.

use federation_tests::{Cluster, Instance, InstanceSpec};
use serde_json::Value;

const MASTODON_ACCEPT: &str = "application/activity+json, application/ld+json";

fn create_user(instance: &Instance, username: &str) {
    instance
        .cli(
            &["user", "create", "--username", username, "--email", &format!("{username}@example.org"), "--advisor"],
            Some("correct horse battery staple\n"),
        )
        .expect("user create");
}

async fn fetch(instance: &Instance, url: &str, accept: &str) -> (u16, Value) {
    let response = instance.client().get(url).header("Accept", accept).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_instance_answers_for_its_own_people() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let test_mode = ("OFFICEHOURS_FEDERATION_TEST_MODE", "1");
    let cluster = Cluster::start([
        InstanceSpec::new("alpha").env(test_mode.0, test_mode.1),
        InstanceSpec::new("beta").postgres().env(test_mode.0, test_mode.1),
    ])
    .await
    .expect("cluster");
    for (instance, person) in [(&cluster["alpha"], "ada"), (&cluster["beta"], "bea")] {
        create_user(instance, person);
        let domain = instance.domain().to_string();
        let (status, finger) =
            fetch(instance, &instance.url(&format!("/.well-known/webfinger?resource=acct:{person}@{domain}")), "*/*")
                .await;
        assert_eq!(status, 200, "{finger}");
        assert_eq!(finger["subject"], format!("acct:{person}@{domain}"));
        let actor_url = finger["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "self")
            .and_then(|l| l["href"].as_str())
            .expect("a self link")
            .to_string();
        assert_eq!(actor_url, instance.url(&format!("/users/{person}")));
        let (status, actor) = fetch(instance, &actor_url, MASTODON_ACCEPT).await;
        assert_eq!(status, 200, "{actor}");
        assert_eq!((actor["type"].as_str(), actor["id"].as_str()), (Some("Person"), Some(actor_url.as_str())));
        assert!(actor["publicKey"]["publicKeyPem"].as_str().unwrap().contains("BEGIN PUBLIC KEY"));
        // Each instance knows only its own people.
        let (status, _) = fetch(
            instance,
            &instance.url(&format!("/.well-known/webfinger?resource=acct:{person}@elsewhere.test")),
            "*/*",
        )
        .await;
        assert_eq!(status, 400);
        let (status, info) = fetch(instance, &instance.url("/nodeinfo/2.1"), "*/*").await;
        assert_eq!((status, info["usage"]["users"]["total"].as_i64()), (200, Some(1)));
    }
}
