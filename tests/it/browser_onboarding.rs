//! Issue 17, part B in a real browser (Debian's Chromium): a logged-out
//! visitor clicks a time, signs up, confirms and lands on that time's
//! request form; the first page shows times in the browser's zone before
//! any navigation; the phone header folds into a menu; no page scrolls
//! sideways at 390 px with long names in the data. Screenshots go to
//! `target/screenshots/`.

use crate::support;

use fantoccini::{Client, Locator};
use support::server::PASSWORD;
use support::webdriver::{Driver, assert_labelled, click_and_wait, fill, log_in, page_text, screenshot_dir, submit};
use support::{TestDatabase, TestServer};

async fn shot(browser: &Client, name: &str) {
    std::fs::write(screenshot_dir().join(format!("onboarding-{name}.png")), browser.screenshot().await.unwrap())
        .unwrap();
}

async fn path(browser: &Client) -> String {
    let url = browser.current_url().await.unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// An open slot of `advisor` in two days at 03:00 UTC: 22:00 or 23:00 the
/// evening before in New York, so the first paint must move it to another
/// day; returns its id and start.
async fn open_slot(server: &TestServer, advisor: &officehours::storage::User) -> (i64, jiff::Timestamp) {
    let day = server.now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::ToSpan::days(2)).unwrap();
    let input = officehours::service::booking::BlockInput {
        start: format!("{day}T03:00"),
        end: format!("{day}T03:10"),
        timezone: "UTC".into(),
        ..Default::default()
    };
    let (_, slots) = server.app.create_block(advisor, &input).await.expect("block");
    (slots[0].id, jiff::Timestamp::from_millisecond(slots[0].starts_at).unwrap())
}

#[tokio::test]
async fn a_click_on_a_time_survives_sign_up_and_confirmation_and_the_first_paint_is_local() {
    let Some(driver) = Driver::start("America/New_York") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let advisor = server.create_advisor("amara").await;
    let (slot, starts) = open_slot(&server, &advisor).await;
    let new_york = starts.to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap());
    let expected = format!("{} {}", new_york.strftime("%H:%M"), new_york.strftime("%Z"));
    let browser = driver.browser(1280, 900).await;

    // The very first page, before any navigation (no zone cookie yet).
    browser.goto(&server.url("/users/amara")).await.unwrap();
    let first = browser.find(Locator::Css("a.slot time")).await.unwrap();
    assert_eq!(first.text().await.unwrap(), expected, "the first paint shows New York time");
    let zone = browser.find(Locator::Css("[data-local-zone]")).await.unwrap().text().await.unwrap();
    assert_eq!(zone, "America/New_York", "the zone is named");
    let heading = browser.find(Locator::Css(".picker-day h3")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, new_york.strftime("%A %-d %B %Y").to_string(), "the day in New York");
    // The month view is built from the regrouped days: its chosen day is New York's.
    let chosen = browser.find(Locator::Css(".picker-grid button[aria-pressed=true]")).await.unwrap();
    assert_eq!(chosen.attr("data-date").await.unwrap(), Some(new_york.date().to_string()));
    shot(&browser, "1-profile-first-paint").await;

    // A logged-out click on the time: why an account is needed, and a way to make one.
    click_and_wait(&browser, first).await;
    assert_eq!(path(&browser).await, format!("/login?next=%2Fslots%2F{slot}%2Frequest"));
    assert!(page_text(&browser).await.contains("To ask for this time"), "{}", page_text(&browser).await);
    shot(&browser, "2-why-log-in").await;
    click_and_wait(&browser, browser.find(Locator::Css("#why-login a.button")).await.unwrap()).await;
    assert_labelled(&browser).await;
    fill(&browser, "f-username", "noah").await;
    fill(&browser, "f-email", "noah@example.org").await;
    fill(&browser, "f-password", PASSWORD).await;
    shot(&browser, "3-sign-up").await;
    submit(&browser, "/signup").await;
    assert_eq!(path(&browser).await, format!("/slots/{slot}/request"), "after sign-up: the time's request form");
    assert!(page_text(&browser).await.contains("Welcome, noah!"));
    assert!(page_text(&browser).await.contains("How to prepare"));
    shot(&browser, "4-request-form-after-sign-up").await;
    browser.close().await.unwrap();

    // The confirmation link opened in another browser: confirmed, log in, and on to the time.
    let link = server.wait_for_link("noah@example.org", "Confirm").await;
    let other = driver.browser(1280, 900).await;
    other.goto(&link).await.unwrap();
    assert!(path(&other).await.starts_with("/login?next="), "{}", path(&other).await);
    assert!(page_text(&other).await.contains("noah@example.org is confirmed"), "{}", page_text(&other).await);
    shot(&other, "5-confirmed-elsewhere").await;
    fill(&other, "f-login", "noah").await;
    fill(&other, "f-password", PASSWORD).await;
    submit(&other, "/login").await;
    assert_eq!(path(&other).await, format!("/slots/{slot}/request"));
    shot(&other, "6-request-form-after-confirming").await;
    other.close().await.unwrap();
}

#[tokio::test]
async fn the_phone_header_is_a_menu_and_no_page_scrolls_sideways() {
    let Some(driver) = Driver::start("Europe/Berlin") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let long = "x".repeat(30);
    let admin = server.create_user("chief", true).await;
    server.app.add_category(&admin, "Supercalifragilisticexpialidociousnesses").await.expect("category");
    let advisor = server.create_advisor(&long).await;
    let profile = officehours::service::advisors::AdvisorForm {
        enabled: true,
        headline: "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(2),
        bio: "Antidisestablishmentarianism".repeat(4),
        topics: vec!["Floccinaucinihilipilification".to_string()],
        categories: vec![],
        links: vec![format!("https://example.org/{}", "a".repeat(80))],
    };
    server.app.save_advisor_profile(&advisor, &profile).await.expect("profile");
    let (slot, _) = open_slot(&server, &advisor).await;
    server
        .app
        .send_message(&advisor, "chief", &"Hippopotomonstrosesquippedaliophobia".repeat(3))
        .await
        .expect("message");

    // A request of chief's to the advisor (Upcoming, the request's page)
    // and the advisor's private link.
    let note = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch".repeat(2);
    let request = server.app.request_slot(&admin, slot, &note, &serde_json::json!({}), None).await.expect("request");
    let link = server.app.new_private_link(&advisor).await.expect("private link");
    let secret = link.rsplit('/').next().unwrap().to_string();

    let phone = driver.browser(390, 844).await;
    log_in(&phone, &server, "chief").await;
    // The header: one row with a menu button; the links behind it.
    let wide_shown = phone
        .execute("return getComputedStyle(document.querySelector('.nav-wide')).display !== 'none';", vec![])
        .await
        .unwrap();
    assert_eq!(wide_shown, serde_json::json!(false), "the row of links is folded away");
    let header_height =
        phone.execute("return document.querySelector('header.site').offsetHeight;", vec![]).await.unwrap();
    assert!(header_height.as_f64().unwrap() < 80.0, "a compact header: {header_height}");
    let menu = phone.find(Locator::Css("details.nav-menu summary")).await.unwrap();
    assert!(menu.text().await.unwrap().contains("Menu"));
    let messages = phone.find(Locator::Css("details.nav-menu a[href='/messages']")).await.unwrap();
    assert!(!messages.is_displayed().await.unwrap(), "closed at first");
    shot(&phone, "phone-menu-closed").await;
    menu.click().await.unwrap();
    assert!(messages.is_displayed().await.unwrap(), "the menu opens");
    assert!(messages.text().await.unwrap().contains('1'), "the unread count beside Messages");
    shot(&phone, "phone-menu-open").await;
    click_and_wait(&phone, messages).await;
    assert_eq!(path(&phone).await, "/messages");

    let pages = [
        "/".to_string(),
        "/advisors".into(),
        format!("/users/{long}"),
        "/help".into(),
        "/help/calendar".into(),
        format!("/slots/{slot}/request"),
        "/upcoming".into(),
        format!("/requests/{}", request.id),
        format!("/book/{secret}"),
        "/calendar".into(),
        "/messages".into(),
        format!("/messages/{long}"),
        "/notifications".into(),
        "/karma".into(),
        "/settings".into(),
        "/settings/notifications".into(),
        "/settings/calendar".into(),
        "/settings/advisor".into(),
        "/settings/booking".into(),
        "/admin/users".into(),
        "/admin/categories".into(),
        "/admin/karma".into(),
        "/admin/federation".into(),
    ];
    walk(&phone, &server, "phone", &pages).await;
    phone.close().await.unwrap();

    // The same pages on a desktop, and the advisor's own pages at both
    // widths (their offerings, the decision on chief's request).
    let desktop = driver.browser(1280, 900).await;
    log_in(&desktop, &server, "chief").await;
    walk(&desktop, &server, "desktop", &pages).await;
    desktop.close().await.unwrap();
    let own = [
        "/upcoming".to_string(),
        format!("/requests/{}", request.id),
        "/settings/offerings".into(),
        "/settings/booking".into(),
        "/calendar".into(),
    ];
    for (label, width, height) in [("advisor-phone", 390, 844), ("advisor-desktop", 1280, 900)] {
        let browser = driver.browser(width, height).await;
        log_in(&browser, &server, &long).await;
        walk(&browser, &server, label, &own).await;
        browser.goto(&server.url(&format!("/requests/{}", request.id))).await.unwrap();
        assert!(page_text(&browser).await.contains("Your decision"), "{label}: the advisor decides here");
        browser.close().await.unwrap();
    }
}

/// Opens each page (a screenshot of each) and checks that none is wider
/// than the window.
async fn walk(browser: &Client, server: &TestServer, label: &str, pages: &[String]) {
    for (i, page) in pages.iter().enumerate() {
        browser.goto(&server.url(page)).await.unwrap();
        assert!(!page_text(browser).await.contains("Not found"), "{label}: {page} is a page");
        let overflow =
            browser.execute("return document.documentElement.scrollWidth - window.innerWidth;", vec![]).await.unwrap();
        let name = page.trim_matches('/').replace('/', "-");
        shot(browser, &format!("{label}-{i:02}-{}", if name.is_empty() { "home" } else { &name })).await;
        assert!(overflow.as_f64().unwrap() <= 0.0, "{label}: {page} scrolls sideways by {overflow} px");
    }
}
