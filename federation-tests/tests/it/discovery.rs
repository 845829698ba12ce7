//! Discovery between real processes (F1): each instance answers WebFinger
//! for its own people and serves their `Person` at the profile URL, on
//! SQLite and PostgreSQL, in federation test mode.

use federation_tests::{Cluster, Instance, InstanceSpec};
use serde_json::Value;

const MASTODON_ACCEPT: &str = "application/activity+json, application/ld+json";

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
    let cluster =
        Cluster::start([InstanceSpec::new("alpha"), InstanceSpec::new("beta").postgres()]).await.expect("cluster");
    for (instance, person) in [(&cluster["alpha"], "ada"), (&cluster["beta"], "bea")] {
        instance.create_advisor(person);
        let domain = instance.domain();
        assert!(domain.starts_with(&format!("{}:", instance.host())), "{domain}");
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

#[tokio::test]
async fn an_instance_looks_up_people_elsewhere_and_keeps_them() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let mut cluster =
        Cluster::start([InstanceSpec::new("alpha"), InstanceSpec::new("beta").postgres()]).await.expect("cluster");
    let alpha = &cluster["alpha"];
    alpha.create_advisor("ada");
    let handle = format!("ada@{}", alpha.domain());
    let ada_id = alpha.url("/users/ada");
    let beta = &cluster["beta"];
    let lookup = |instance: &Instance, handle: String| {
        let url = instance.url(&format!("/api/v1/advisors/{handle}"));
        let client = instance.client().clone();
        async move {
            let response = client.get(url).send().await.expect("request");
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, found) = lookup(beta, handle.clone()).await;
    assert_eq!(status, 200, "{found}\n{}", beta.log_text());
    assert_eq!(found["remote_id"], ada_id.as_str());
    assert_eq!(found["handle"], format!("@{handle}"));
    assert_eq!(found["username"], "ada");
    let (status, _) = lookup(beta, format!("@{handle}")).await;
    assert_eq!(status, 200, "a leading @ is fine");

    // Unknown people, our own domain, nonsense, and servers that do not answer.
    let (status, body) = lookup(beta, format!("nobody@{}", alpha.domain())).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = lookup(beta, format!("bea@{}", beta.domain())).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid_handle")), "{body}");
    let (status, _) = lookup(beta, "no%20spaces@x@y".into()).await;
    assert_eq!(status, 422);

    // Alpha goes away: beta still knows Ada (stored), without asking.
    cluster["alpha"].kill();
    let (status, again) = lookup(&cluster["beta"], handle.clone()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["remote_id"], ada_id.as_str());
    let (status, body) = lookup(&cluster["beta"], format!("zed@{}", cluster["alpha"].domain())).await;
    assert!(status == 502 || status == 404, "{status} {body}");
}
