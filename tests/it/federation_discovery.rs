//! Federation discovery (F1) on SQLite and PostgreSQL: WebFinger, NodeInfo
//! 2.1, actors as ActivityStreams JSON at the profile URL (content
//! negotiation by containment), keys made once, and our wire types reading
//! what Mastodon sends.

use crate::support;

use activitypub_federation::fetch::webfinger::Webfinger;
use officehours::federation::wire::Actor;
use reqwest::StatusCode;
use serde_json::Value;
use support::{TestServer, test_databases};

const MASTODON_ACCEPT: &str = "application/activity+json, application/ld+json";

async fn get(url: &str, accept: &str) -> (StatusCode, String, String) {
    officehours::install_crypto();
    let response = reqwest::Client::new().get(url).header("Accept", accept).send().await.unwrap();
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn webfinger_finds_local_people_and_nothing_else() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_advisor("ada").await;
        let domain = server.app.config.domain.clone();
        let actor = server.url("/users/ada");

        let (status, kind, body) =
            get(&server.url(&format!("/.well-known/webfinger?resource=acct:ada@{domain}")), "*/*").await;
        assert_eq!(status, StatusCode::OK, "[{}] {body}", db.backend);
        assert!(kind.starts_with("application/jrd+json"), "{kind}");
        let finger: Webfinger = serde_json::from_str(&body).unwrap();
        assert_eq!(finger.subject, format!("acct:ada@{domain}"));
        let link = |rel: &str| finger.links.iter().find(|l| l.rel.as_deref() == Some(rel)).unwrap();
        assert_eq!(link("self").kind.as_deref(), Some("application/activity+json"));
        assert_eq!(link("self").href.as_ref().unwrap().as_str(), actor);
        assert_eq!(link("http://webfinger.net/rel/profile-page").href.as_ref().unwrap().as_str(), actor);
        assert_eq!(finger.aliases[0].as_str(), actor);

        // By actor URL, in any case, with a leading @.
        let (status, _, _) = get(&server.url(&format!("/.well-known/webfinger?resource={actor}")), "*/*").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) =
            get(&server.url(&format!("/.well-known/webfinger?resource=acct:@ADA@{domain}")), "*/*").await;
        assert_eq!(status, StatusCode::OK);
        // Unknown people, other domains and nonsense.
        for (resource, expected) in [
            (format!("acct:nobody@{domain}"), StatusCode::NOT_FOUND),
            ("acct:ada@elsewhere.example".to_string(), StatusCode::BAD_REQUEST),
            ("ada".to_string(), StatusCode::BAD_REQUEST),
            (String::new(), StatusCode::BAD_REQUEST),
        ] {
            let (status, _, body) =
                get(&server.url(&format!("/.well-known/webfinger?resource={resource}")), "*/*").await;
            assert_eq!(status, expected, "{resource}: {body}");
            assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
        }
        let (status, _, _) = get(&server.url("/.well-known/webfinger"), "*/*").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn profiles_are_persons_for_activitypub_clients_and_pages_for_browsers() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("ada").await;
        server
            .app
            .update_profile(&advisor, "Ada <Lovelace>", "Analytical engines.\n\nAnd more.", "Europe/London")
            .await
            .unwrap();
        server.create_user("bob", false).await;
        let url = server.url("/users/ada");

        for accept in [
            MASTODON_ACCEPT,
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            "application/activity+json",
        ] {
            let (status, kind, body) = get(&url, accept).await;
            assert_eq!(status, StatusCode::OK, "[{}] {accept}: {body}", db.backend);
            assert!(kind.starts_with("application/activity+json"), "{kind}");
            let person: Actor = serde_json::from_str(&body).unwrap();
            assert_eq!(person.kind, "Person");
            assert_eq!(person.id.as_str(), url);
            assert_eq!(person.preferred_username, "ada");
            assert_eq!(person.name.as_deref(), Some("Ada <Lovelace>"));
            assert_eq!(person.summary.as_deref(), Some("<p>Analytical engines.</p><p>And more.</p>"));
            assert_eq!(person.inbox.as_str(), format!("{url}/inbox"));
            assert_eq!(person.endpoints.unwrap().shared_inbox.unwrap().as_str(), server.url("/inbox"));
            assert_eq!(person.public_key.id, format!("{url}#main-key"));
            assert_eq!(person.public_key.owner.as_str(), url);
            assert!(person.public_key.public_key_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
            assert_eq!(person.upcoming_events.unwrap().as_str(), format!("{url}/events"), "advisors list events");
            assert!(!person.manually_approves_followers);
            let raw: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(raw["@context"][0], "https://www.w3.org/ns/activitystreams");
        }
        // The key is made once and kept.
        let key = |body: String| serde_json::from_str::<Actor>(&body).unwrap().public_key.public_key_pem;
        assert_eq!(key(get(&url, MASTODON_ACCEPT).await.2), key(get(&url, MASTODON_ACCEPT).await.2));
        let (_, _, bob) = get(&server.url("/users/bob"), MASTODON_ACCEPT).await;
        assert_ne!(key(bob.clone()), key(get(&url, MASTODON_ACCEPT).await.2), "everyone has their own key");
        assert!(serde_json::from_str::<Actor>(&bob).unwrap().upcoming_events.is_none());

        // Browsers get the page.
        let (status, kind, body) = get(&url, "text/html,application/xhtml+xml,*/*;q=0.8").await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("text/html") && body.contains("<!doctype html>"), "{kind}");
        // Unknown and suspended people are not there for the fediverse.
        assert_eq!(get(&server.url("/users/nobody"), MASTODON_ACCEPT).await.0, StatusCode::NOT_FOUND);
        let admin = server.create_user("boss", true).await;
        server.app.set_suspended(&admin, "bob", true).await.unwrap();
        assert_eq!(get(&server.url("/users/bob"), MASTODON_ACCEPT).await.0, StatusCode::NOT_FOUND);
        let domain = &server.app.config.domain;
        let (status, _, _) =
            get(&server.url(&format!("/.well-known/webfinger?resource=acct:bob@{domain}")), "*/*").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Collections exist (empty until follows and publishing arrive).
        let (status, _, body) = get(&server.url("/users/ada/followers"), MASTODON_ACCEPT).await;
        assert_eq!(status, StatusCode::OK);
        let followers: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (followers["type"].as_str(), followers["totalItems"].as_i64()),
            (Some("OrderedCollection"), Some(0))
        );
        assert_eq!(get(&server.url("/users/ada/likes"), MASTODON_ACCEPT).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn nodeinfo_and_the_instance_actor() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_advisor("ada").await;
        server.create_user("bob", false).await;
        let (status, _, body) = get(&server.url("/.well-known/nodeinfo"), "*/*").await;
        assert_eq!(status, StatusCode::OK);
        let links: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(links["links"][0]["rel"], "http://nodeinfo.diaspora.software/ns/schema/2.1");
        let href = links["links"][0]["href"].as_str().unwrap();
        assert_eq!(href, server.url("/nodeinfo/2.1"));
        let (status, kind, body) = get(href, "*/*").await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.contains("nodeinfo.diaspora.software/ns/schema/2.1"), "{kind}");
        let info: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(info["version"], "2.1");
        assert_eq!(info["software"]["name"], "officehours");
        assert_eq!(info["protocols"], serde_json::json!(["activitypub"]));
        assert_eq!(info["usage"]["users"]["total"], 2, "[{}] {info}", db.backend);
        assert_eq!(info["openRegistrations"], true);

        let (status, kind, body) = get(&server.url("/actor"), MASTODON_ACCEPT).await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("application/activity+json"));
        let actor: Actor = serde_json::from_str(&body).unwrap();
        assert_eq!(actor.kind, "Application");
        assert_eq!(actor.public_key.owner.as_str(), server.url("/actor"));
        let again: Actor = serde_json::from_str(&get(&server.url("/actor"), MASTODON_ACCEPT).await.2).unwrap();
        assert_eq!(again.public_key, actor.public_key, "one instance key, kept");
    }
}

#[test]
fn our_wire_types_read_what_mastodon_sends() {
    let person: Actor = serde_json::from_str(&fixture("mastodon/person.json")).unwrap();
    assert_eq!(person.kind, "Person");
    assert_eq!(person.preferred_username, "lin");
    assert_eq!(person.inbox.as_str(), "https://mastodon.example/users/lin/inbox");
    assert_eq!(
        person.endpoints.and_then(|e| e.shared_inbox).map(|u| u.to_string()).as_deref(),
        Some("https://mastodon.example/inbox")
    );
    assert_eq!(person.public_key.owner.as_str(), "https://mastodon.example/users/lin");
    assert!(person.public_key.public_key_pem.contains("BEGIN PUBLIC KEY"));
    let finger: Webfinger = serde_json::from_str(&fixture("mastodon/webfinger.json")).unwrap();
    let own = finger.links.iter().find(|l| l.rel.as_deref() == Some("self")).unwrap();
    assert_eq!(own.href.as_ref().unwrap().as_str(), "https://mastodon.example/users/lin");
}

#[tokio::test]
async fn lookups_refuse_private_loopback_and_malformed_addresses() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let user = server.create_user("ida", false).await;
    let api = server.api_as(&user).await;
    let port = server.addr.port();
    // Each refusal names its own cause.
    for (handle, cause) in [
        (format!("ida@127.0.0.1:{port}"), "invalid characters in domain"),
        ("root@10.0.0.1".to_string(), "a domain name is needed"),
        ("root@[::1]".to_string(), "is not a handle"),
        (format!("ida@localhost:{port}"), "invalid characters in domain"),
        ("a@b@c".to_string(), "is not a handle"),
        ("nobody@no-such-host.invalid".to_string(), "does not resolve"),
    ] {
        let (status, body) = api.get(&format!("/api/v1/advisors/{handle}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_handle")),
            "{handle}: {body}"
        );
        assert!(body["message"].as_str().unwrap().contains(cause), "{handle}: {body}");
    }
}

/// A host name (not an address) that this machine's resolver maps only to
/// private or loopback addresses, as an attacker's DNS would: the machine's
/// own name, or another name in `/etc/hosts`.
async fn private_host_name() -> Option<(String, Vec<std::net::IpAddr>)> {
    let own = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let listed = hosts.lines().filter(|l| !l.trim_start().starts_with('#')).flat_map(|l| l.split_whitespace().skip(1));
    let candidates = std::iter::once(own.trim()).chain(listed).map(str::to_string).collect::<Vec<_>>();
    for name in candidates {
        let plausible = !name.is_empty()
            && name != "localhost"
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !plausible {
            continue;
        }
        let Ok(found) = tokio::net::lookup_host((name.as_str(), 443)).await else { continue };
        let ips: Vec<std::net::IpAddr> = found.map(|a| a.ip().to_canonical()).collect();
        let private = |ip: &std::net::IpAddr| match ip {
            std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
            std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
        };
        if !ips.is_empty() && ips.iter().all(private) {
            return Some((name, ips));
        }
    }
    None
}

/// SSRF through DNS: outside test mode, a name that resolves to a private
/// address is refused before anything connects to it, whether someone here
/// looks up `someone@that-name` or an activity names an actor there.
#[tokio::test]
async fn names_that_resolve_to_private_addresses_are_never_contacted() {
    let Some((name, ips)) = private_host_name().await else {
        support::require("a host name that resolves to a private address (the machine's own name)", false);
        return;
    };
    // Anything that does connect to that address on the HTTPS port is counted.
    let contacted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    if let Ok(listener) = tokio::net::TcpListener::bind((ips[0], 443)).await {
        let contacted = contacted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                contacted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        assert!(!server.app.config.federation_test_mode);
        let user = server.create_user("ida", false).await;
        let api = server.api_as(&user).await;

        let (status, body) = api.get(&format!("/api/v1/advisors/root@{name}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_handle")),
            "[{}] {name}: {body}",
            db.backend
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("resolves to") && message.contains("not allowed"), "{body}");

        let peer = support::peer::start_peer().await;
        let actor = format!("https://{name}/users/root");
        let follow = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("https://{name}/follows/1"), "type": "Follow", "actor": actor, "object": server.url("/users/ida"),
        });
        // Signed with a key named on the actor's own server, so the inbox
        // gets as far as fetching the actor: that fetch is what is refused.
        let (inbox, body) = (server.url("/inbox"), follow.to_string());
        let headers = peer.sign_as(&actor, &inbox, &body, "application/activity+json");
        let (status, _) = peer.post(&inbox, &body, headers).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] an actor at {name}", db.backend);
        assert!(server.store.remote_actor(&actor).await.unwrap().is_none(), "nothing stored");
    }
    assert_eq!(contacted.load(std::sync::atomic::Ordering::SeqCst), 0, "{name} ({ips:?}) was contacted");
}

/// A hostile fediverse server: WebFinger for everyone, and actors that are
/// too big, too slow, or claim an inbox and key on another server.
async fn start_hostile_server() -> String {
    use axum::extract::{Path, Query};
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://hostile.test:{}", listener.local_addr().unwrap().port());
    let key = activitypub_federation::http_signatures::generate_actor_keypair().unwrap().public_key;
    let (finger_base, actor_base) = (base.clone(), base.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/webfinger",
            get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
                let base = finger_base.clone();
                async move {
                    let resource = q.get("resource").cloned().unwrap_or_default();
                    let name = resource.trim_start_matches("acct:").split('@').next().unwrap_or_default().to_string();
                    let body = serde_json::json!({"subject": resource, "links": [
                        {"rel": "self", "type": "application/activity+json", "href": format!("{base}/users/{name}")}]});
                    ([("content-type", "application/jrd+json")], body.to_string())
                }
            }),
        )
        .route(
            "/users/{name}",
            get(move |Path(name): Path<String>| {
                let (base, key) = (actor_base.clone(), key.clone());
                async move {
                    let id = format!("{base}/users/{name}");
                    let (inbox, summary) = match name.as_str() {
                        "liar" => ("https://elsewhere.example/inbox".to_string(), String::new()),
                        "big" => (format!("{id}/inbox"), "x".repeat(2 * 1024 * 1024)),
                        _ => {
                            tokio::time::sleep(std::time::Duration::from_secs(15)).await;
                            (format!("{id}/inbox"), String::new())
                        }
                    };
                    let body = serde_json::json!({
                        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                        "id": id, "type": "Person", "preferredUsername": name, "summary": summary, "inbox": inbox,
                        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": key},
                    });
                    ([("content-type", "application/activity+json")], body.to_string())
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn oversized_slow_and_lying_actors_are_refused_and_nothing_is_stored() {
    let db = support::TestDatabase::sqlite().await;
    let server = TestServer::start_with(&db, |c| {
        c.federation_test_mode = true;
        c.federation_test_hosts = vec![("hostile.test".into(), std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))];
    })
    .await;
    let base = start_hostile_server().await;
    let host = base.trim_start_matches("http://").to_string();
    let api = server.api_as(&server.create_user("ida", false).await).await;
    for (name, what) in [("big", "a 2 MiB actor"), ("liar", "an inbox on another server"), ("slow", "15 s to answer")] {
        let started = std::time::Instant::now();
        let (status, body) = api.get(&format!("/api/v1/advisors/{name}@{host}")).await;
        assert!(status.is_client_error() || status.is_server_error(), "{what}: {status} {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a clear error: {body}");
        assert!(started.elapsed() < std::time::Duration::from_secs(14), "{what}: gave up in time");
        assert_eq!(server.store.remote_actor_by_handle(name, &host).await.unwrap(), None, "{what}: stored");
    }
}
