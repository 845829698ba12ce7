//! The harness itself: two instances side by side, each with its own host
//! name and database, surviving a crash; and a broken one reporting its log.

use std::time::Instant;

use federation_tests::{Backend, Cluster, Instance, InstanceSpec};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

/// `GET /api/v1/advisors[?q=…]` on `instance`.
async fn advisors(instance: &Instance, query: Option<&str>) -> Value {
    let path = match query {
        Some(q) => format!("/api/v1/advisors?q={q}"),
        None => "/api/v1/advisors".to_string(),
    };
    instance.get_json(&path).await
}

fn handles(page: &Value) -> Vec<String> {
    page["advisors"]
        .as_array()
        .expect("an advisors array")
        .iter()
        .map(|a| a["handle"].as_str().expect("a handle").to_string())
        .collect()
}

fn create_advisor(instance: &Instance, username: &str) {
    let out = instance
        .cli(
            &["user", "create", "--username", username, "--email", &format!("{username}@example.org"), "--advisor"],
            Some(&format!("{PASSWORD}\n")),
        )
        .expect("user create");
    assert!(out.contains(&format!("created @{username}")), "{out}");
}

#[tokio::test]
async fn two_instances_have_their_own_names_and_databases_and_survive_a_crash() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let started = Instant::now();
    let mut cluster = Cluster::start([InstanceSpec::new("alpha").demo(), InstanceSpec::new("beta").postgres().demo()])
        .await
        .expect("both instances start");
    eprintln!("two instances ready in {:?}", started.elapsed());

    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    assert_eq!(alpha.backend(), Backend::Sqlite);
    assert_eq!(beta.backend(), Backend::Postgres);
    assert!(beta.database_url().starts_with("postgres://") && beta.database_url().contains("/oh_fed_"));
    assert_ne!(alpha.addr().ip(), beta.addr().ip(), "each instance has its own loopback address");
    assert_eq!(alpha.base_url(), format!("http://alpha.test:{}", alpha.port()));

    for instance in cluster.instances() {
        // Through the real host name, which the client resolves to the instance.
        let ready = instance.get("/readyz").send().await.expect("readyz");
        assert_eq!(ready.status(), 200);
        assert_eq!(ready.text().await.unwrap(), "ready");

        let page = advisors(instance, None).await;
        assert_eq!(page["total"], 8, "{}: {page}", instance.name());
        let handles = handles(&page);
        assert_eq!(handles.len(), 8, "{handles:?}");
        let suffix = format!("@{}", instance.domain());
        assert!(handles.iter().all(|h| h.ends_with(&suffix)), "{}: {handles:?}", instance.name());
        let url = page["advisors"][0]["url"].as_str().unwrap();
        assert!(url.starts_with(&instance.public_url()), "links use the public URL: {url}");
    }

    // A CLI user in beta's database shows up on beta only.
    create_advisor(beta, "fedsmoke");
    assert_eq!(handles(&advisors(beta, Some("fedsmoke")).await), [format!("@fedsmoke@{}", beta.domain())]);
    assert_eq!(advisors(alpha, Some("fedsmoke")).await["total"], 0);

    // Alpha's data outlives a crash.
    create_advisor(alpha, "survivor");
    let survivor = format!("@survivor@{}", alpha.domain());
    assert_eq!(handles(&advisors(alpha, Some("survivor")).await), std::slice::from_ref(&survivor));
    let alpha = &mut cluster["alpha"];
    let old_pid = alpha.pid();
    alpha.kill();
    assert!(!alpha.is_running());
    assert!(alpha.get("/healthz").send().await.is_err(), "a killed instance does not answer");
    let restarted = Instant::now();
    alpha.restart().await.expect("alpha comes back");
    eprintln!("alpha restarted in {:?}", restarted.elapsed());
    assert_ne!(alpha.pid(), old_pid);
    assert_eq!(alpha.get("/healthz").send().await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(handles(&advisors(alpha, Some("survivor")).await), [survivor]);
    assert_eq!(advisors(alpha, None).await["total"], 9, "the 8 demo advisors and the survivor");
    let log = alpha.log_text();
    assert_eq!(log.matches("===== federation-tests: start #").count(), 2, "{log}");
    assert!(log.contains("killed with SIGKILL by the test"), "{log}");

    // Beta was untouched, apart from the CLI's advisor, which its directory
    // shows once its short-lived directory cache (10 s) has expired.
    let deadline = Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let total = cluster["beta"].get_json("/api/v1/advisors").await["total"].clone();
        if total == 9 {
            break;
        }
        assert!(Instant::now() < deadline, "beta still lists {total} advisors");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    eprintln!("smoke test done in {:?}", started.elapsed());
}

#[tokio::test]
async fn an_instance_that_cannot_start_reports_its_log() {
    let started = Instant::now();
    let err = match Cluster::start([InstanceSpec::new("broken").database_url("mysql://x")]).await {
        Ok(_) => panic!("an instance on mysql://x must not start"),
        Err(err) => err,
    };
    let message = err.to_string();
    assert!(message.contains("instance `broken`"), "{message}");
    assert!(message.contains("exited"), "{message}");
    assert!(message.contains("unsupported database URL"), "the log is in the error: {message}");
    let kept = err.log_path().expect("the log is kept");
    let text = std::fs::read_to_string(kept).expect("the kept log");
    assert!(text.contains("unsupported database URL"), "{text}");
    assert!(started.elapsed().as_secs() < 10, "a dead instance fails fast, not at the timeout");
}
