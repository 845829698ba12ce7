//! The web UI across instances: a learner on beta finds an advisor on alpha
//! (PostgreSQL) by handle in the directory search, follows her from the
//! page, sees her published availability there and requests a session with
//! the ordinary form; the request is pending on alpha. Visitors who are not
//! logged in are told to log in, and unknown people get a clear 404.

use federation_tests::api::{get, post, until};
use federation_tests::web::WebSession;
use federation_tests::{Cluster, InstanceSpec};
use serde_json::{Value, json};

#[tokio::test]
async fn a_learner_finds_follows_and_books_a_remote_advisor_in_the_web_ui() {
    if federation_tests::skip_without_postgres() {
        return;
    }
    let cluster =
        Cluster::start([InstanceSpec::new("alpha").postgres(), InstanceSpec::new("beta")]).await.expect("cluster");
    let (alpha, beta) = (&cluster["alpha"], &cluster["beta"]);
    alpha.create_advisor("ada");
    let ada = alpha.api_token("ada");
    beta.create_advisor("lia");
    let day = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48)).to_zoned(jiff::tz::TimeZone::UTC).date();
    let block = json!({"start": format!("{day}T10:00"), "end": format!("{day}T10:30"), "timezone": "UTC",
                       "min_notice_minutes": 0, "approval_required": true});
    assert_eq!(post(alpha, &ada, "/api/v1/blocks", block).await.0, 201);
    let handle = format!("ada@{}", alpha.domain());

    // Not logged in: the search says what to do.
    let visitor = WebSession::anonymous(beta);
    let (status, _, page) = visitor.get(&format!("/advisors?q=%40{handle}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("log in to look them up"), "{page}");

    // Lia searches @ada@alpha… and lands on Ada's page here, with a Follow button.
    let lia = WebSession::login(beta, "lia").await;
    let (status, at, page) = lia.get(&format!("/advisors?q=%40{handle}")).await;
    assert_eq!((status, at.as_str()), (200, format!("/remote/{handle}").as_str()), "{page}");
    assert!(page.contains(&format!("@{handle}")) && page.contains(">Follow</button>"), "{page}");
    let remote_page = format!("/remote/{handle}");
    let (status, page) = lia.post_form(&format!("{remote_page}/follow"), &[], &remote_page).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Follow request sent"), "{page}");

    // Alpha accepts and sends her live events: the page says so and lists
    // the three slots, each a link to the request form.
    let page = until("the follow accepted and the slots on Ada's page", || async {
        let (_, _, page) = lia.get(&remote_page).await;
        (page.contains("You follow") && page.matches("/request\"").count() == 3).then_some(Value::String(page))
    })
    .await;
    let page = page.as_str().unwrap();
    assert!(page.contains("10:00") && page.contains("10:20"), "times in Lia's zone (UTC here): {page}");
    let form = page.split("href=\"").find(|s| s.starts_with("/slots/")).unwrap().split('"').next().unwrap().to_string();

    // The ordinary request form: the request goes to alpha as a Join.
    let (status, _, form_page) = lia.get(&form).await;
    assert_eq!(status, 200);
    assert!(form_page.contains("Request a session with"), "{form_page}");
    assert!(form_page.contains(&format!("href=\"/users/{handle}\"")), "the advisor's link: {form_page}");
    let (status, page) = lia.post_form(&form, &[("note", "From the web, about Postgres")], &form).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Request sent"), "{page}");
    let learner = format!("lia@{}", beta.domain());
    let pending = until("the web request on alpha", || async {
        let sessions = get(alpha, &ada, "/api/v1/me/sessions").await;
        sessions.as_array().unwrap().iter().find(|s| s["learner"] == learner.as_str()).cloned()
    })
    .await;
    assert_eq!(
        (pending["status"].as_str(), pending["note"].as_str()),
        (Some("requested"), Some("From the web, about Postgres"))
    );

    // The advisor link on the form leads back to her page here.
    let (status, at, _) = lia.get(&format!("/users/{handle}")).await;
    assert_eq!((status, at), (200, remote_page.clone()));

    // Unfollowing from the page.
    let (status, page) = lia.post_form(&format!("{remote_page}/unfollow"), &[], &remote_page).await;
    assert_eq!(status, 200);
    assert!(page.contains("You no longer follow") && page.contains(">Follow</button>"), "{page}");

    // Someone who does not exist there: a clear 404 page.
    let (status, _, page) = lia.get(&format!("/remote/nobody@{}", alpha.domain())).await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("Nobody called @nobody@"), "{page}");
}
