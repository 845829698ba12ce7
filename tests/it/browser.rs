//! The web UI in a real browser (Debian's Chromium through ChromeDriver):
//! sign up → confirm → log in → become an advisor → found by directory search.

use crate::support;

use fantoccini::Locator;
use officehours::domain::booking::RequestStatus;
use support::room_voice::{
    MEDIA_SWITCHES, assert_audio_rate, assert_hears, assert_nothing_after_the_end, join, share_canvas,
    until_screen_shown, use_tone,
};
use support::webdriver::{
    Driver, assert_labelled, click_and_wait, entry_states, fill, log_in, page_text, screenshot_dir, set_value, submit,
    until_true,
};
use support::{TestDatabase, TestServer};

#[tokio::test]
async fn sign_up_become_an_advisor_and_be_found() {
    let Some(driver) = Driver::start("America/New_York") else {
        return;
    };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let browser = driver.browser(1280, 900).await;

    browser.goto(&server.url("/")).await.unwrap();
    click_and_wait(&browser, browser.find(Locator::LinkText("Sign up")).await.unwrap()).await;
    assert_labelled(&browser).await;
    let detected = browser.find(Locator::Css("[data-timezone-label]")).await.unwrap().text().await.unwrap();
    assert_eq!(detected, "America/New_York", "the browser's zone is detected");
    fill(&browser, "f-username", "dorothy").await;
    fill(&browser, "f-email", "dorothy@example.org").await;
    fill(&browser, "f-password", "short").await;
    submit(&browser, "/signup").await;
    assert!(page_text(&browser).await.contains("Use at least 10 characters"));
    assert_eq!(
        browser.find(Locator::Id("f-username")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("dorothy")
    );
    fill(&browser, "f-password", "protein crystals by x-ray").await;
    submit(&browser, "/signup").await;
    assert!(page_text(&browser).await.contains("Welcome, dorothy"), "{}", page_text(&browser).await);
    assert_eq!(server.store.user_by_username("dorothy").await.unwrap().timezone, "America/New_York");

    click_and_wait(&browser, browser.find(Locator::Css("form[action='/logout'] button")).await.unwrap()).await;
    assert!(page_text(&browser).await.contains("You are logged out"));

    let link = server.wait_for_link("dorothy@example.org", "Confirm").await;
    browser.goto(&link).await.unwrap();
    // The link confirmed the address and sent us to log in; becoming an
    // advisor is a choice made in settings (issue 17), not where it leads.
    assert!(browser.current_url().await.unwrap().path().starts_with("/login"));
    assert_labelled(&browser).await;
    fill(&browser, "f-login", "dorothy").await;
    fill(&browser, "f-password", "protein crystals by x-ray").await;
    submit(&browser, "/login").await;
    browser.goto(&server.url("/settings/advisor")).await.unwrap();
    assert_labelled(&browser).await;

    browser.find(Locator::Id("f-enabled")).await.unwrap().click().await.unwrap();
    fill(&browser, "f-headline", "Protein crystallography").await;
    fill(&browser, "f-topics", "X-ray, insulin, penicillin").await;
    browser.find(Locator::Css("input[name=categories][value=data-science]")).await.unwrap().click().await.unwrap();
    submit(&browser, "/settings/advisor").await;
    assert!(page_text(&browser).await.contains("You are listed in the directory"));

    click_and_wait(&browser, browser.find(Locator::LinkText("Advisors")).await.unwrap()).await;
    fill(&browser, "q", "insulin").await;
    submit(&browser, "/advisors").await;
    let card = browser.find(Locator::Css(".card .name")).await.unwrap().text().await.unwrap();
    assert_eq!(card, "dorothy");
    assert!(browser.current_url().await.unwrap().query().unwrap().contains("q=insulin"));
    std::fs::write(screenshot_dir().join("directory-search.png"), browser.screenshot().await.unwrap()).unwrap();

    click_and_wait(&browser, browser.find(Locator::Css(".card-link")).await.unwrap()).await;
    assert!(page_text(&browser).await.contains("Protein crystallography"));
    browser.close().await.unwrap();

    // The same pages on a phone-sized screen: nothing wider than the viewport.
    let phone = driver.browser(390, 844).await;
    phone.goto(&server.url("/advisors?q=insulin")).await.unwrap();
    let overflow =
        phone.execute("return document.documentElement.scrollWidth > window.innerWidth;", vec![]).await.unwrap();
    assert_eq!(overflow, serde_json::json!(false), "no horizontal scrolling on a phone");
    std::fs::write(screenshot_dir().join("directory-phone.png"), phone.screenshot().await.unwrap()).unwrap();
    phone.close().await.unwrap();
}

#[tokio::test]
async fn weekly_block_request_approve_and_both_calendars_turn_green() {
    let Some(driver) = Driver::start("Europe/Berlin") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    server.create_advisor("mentor").await;
    server.create_user("student", false).await;
    let date = server
        .now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .date()
        .checked_add(jiff::ToSpan::days(3))
        .unwrap();
    let until = date.checked_add(jiff::ToSpan::days(14)).unwrap();

    // The advisor adds a weekly block from the calendar.
    let advisor = driver.browser(1280, 1000).await;
    log_in(&advisor, &server, "mentor").await;
    advisor.goto(&server.url("/calendar")).await.unwrap();
    assert_labelled(&advisor).await;
    set_value(&advisor, "f-date", &date.to_string()).await;
    set_value(&advisor, "f-start", "10:00").await;
    set_value(&advisor, "f-end", "11:00").await;
    set_value(&advisor, "f-until", &until.to_string()).await;
    submit(&advisor, "/calendar/blocks").await;
    assert!(page_text(&advisor).await.contains("Added 18 sessions"), "{}", page_text(&advisor).await);
    let states = entry_states(&advisor).await;
    assert_eq!(states.iter().filter(|s| s.contains("open") && s.contains("Open")).count(), 6, "{states:?}");

    // The learner picks the first slot on the advisor's profile and asks for it.
    let learner = driver.browser(1280, 1000).await;
    log_in(&learner, &server, "student").await;
    learner.goto(&server.url("/users/mentor")).await.unwrap();
    let first = learner.find(Locator::Css("a.slot")).await.unwrap();
    assert!(first.text().await.unwrap().starts_with("10:00"), "times in the learner's zone");
    click_and_wait(&learner, first).await;
    assert_labelled(&learner).await;
    fill(&learner, "f-note", "Career change into databases").await;
    let button = learner.find(Locator::Css("form[action$='/request'] button[type=submit]")).await.unwrap();
    click_and_wait(&learner, button).await;
    assert!(page_text(&learner).await.contains("Request sent"));
    let states = entry_states(&learner).await;
    assert!(
        states.iter().any(|s| s.contains("requested") && s.contains("With mentor")),
        "blue on the learner's side: {states:?}"
    );

    // The advisor sees it in blue, opens it and approves.
    advisor.goto(&server.url(&format!("/calendar?week={date}"))).await.unwrap();
    let states = entry_states(&advisor).await;
    assert!(states.iter().any(|s| s.contains("requested") && s.contains("Requested by @student")), "{states:?}");
    click_and_wait(&advisor, advisor.find(Locator::XPath("//a[contains(., 'Requested by @student')]")).await.unwrap())
        .await;
    assert!(page_text(&advisor).await.contains("Career change into databases"));
    let approve = format!("{}/approve", advisor.current_url().await.unwrap().path());
    submit(&advisor, &approve).await;
    assert!(page_text(&advisor).await.contains("Approved"));

    // Both calendars show it green.
    advisor.goto(&server.url(&format!("/calendar?week={date}"))).await.unwrap();
    let states = entry_states(&advisor).await;
    assert!(states.iter().any(|s| s.contains("approved") && s.contains("Booked: @student")), "{states:?}");
    std::fs::write(screenshot_dir().join("calendar-advisor.png"), advisor.screenshot().await.unwrap()).unwrap();
    learner.goto(&server.url(&format!("/calendar?week={date}"))).await.unwrap();
    let states = entry_states(&learner).await;
    assert!(states.iter().any(|s| s.contains("approved") && s.contains("With mentor")), "{states:?}");
    std::fs::write(screenshot_dir().join("calendar-learner.png"), learner.screenshot().await.unwrap()).unwrap();
    advisor.close().await.unwrap();
    learner.close().await.unwrap();
}

#[tokio::test]
async fn activity_messages_karma_and_calendar_link_on_a_phone() {
    let Some(driver) = Driver::start("America/New_York") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let mentor = server.create_advisor("mentor").await;
    let student = server.create_user("student", false).await;
    let student = server.app.update_profile(&student, "Student", "", "America/New_York").await.unwrap();
    let start = server.now() + jiff::SignedDuration::from_hours(50);
    let request = server.session_at(&mentor, &student, start, RequestStatus::Requested).await;
    server.app.decide(&mentor, request, officehours::domain::booking::Action::Approve, "Welcome!").await.unwrap();
    server.app.send_message(&mentor, "student", "Bring your schema, please.").await.unwrap();

    let phone = driver.browser(390, 844).await;
    log_in(&phone, &server, "student").await;
    // At phone width the header is a menu whose button counts everything unread.
    let menu = phone.find(Locator::Css(".nav-menu summary")).await.unwrap();
    assert_eq!(menu.find(Locator::Css(".badge")).await.unwrap().text().await.unwrap(), "3");
    menu.click().await.unwrap();
    let badge = |href: &'static str| {
        let phone = phone.clone();
        async move {
            let css = format!(".nav-menu a[href='{href}'] .badge");
            phone.find(Locator::Css(&css)).await.unwrap().text().await.unwrap()
        }
    };
    assert_eq!(badge("/notifications").await, "2", "two unread: the confirmation and the message");
    assert_eq!(badge("/messages").await, "1", "one unread message");
    phone.goto(&server.url("/notifications")).await.unwrap();
    let text = page_text(&phone).await;
    assert!(text.contains("is confirmed") && text.contains("Bring your schema"), "{text}");
    let no_overflow = "return document.documentElement.scrollWidth <= window.innerWidth;";
    let check = |name: &'static str| {
        let phone = phone.clone();
        async move {
            assert_labelled(&phone).await;
            let fits = phone.execute(no_overflow, vec![]).await.unwrap();
            assert_eq!(fits, serde_json::json!(true), "{name}: no horizontal scrolling on a phone");
            std::fs::write(screenshot_dir().join(format!("{name}-phone.png")), phone.screenshot().await.unwrap())
                .unwrap();
        }
    };
    check("activity").await;

    // From the activity feed to the thread, and an answer.
    click_and_wait(&phone, phone.find(Locator::XPath("//a[contains(., 'Bring your schema')]")).await.unwrap()).await;
    fill(&phone, "f-body", "Will do, thanks!").await;
    submit(&phone, "/messages/mentor").await;
    assert!(page_text(&phone).await.contains("Will do, thanks!"));
    check("thread").await;
    let (_, thread) = server.api_as(&mentor).await.get("/api/v1/conversations/student").await;
    assert_eq!(thread[1]["body"], "Will do, thanks!");

    // The session page: times in New York with the abbreviation, calendar links.
    phone.goto(&server.url(&format!("/requests/{request}"))).await.unwrap();
    let text = page_text(&phone).await;
    let local = officehours::domain::time_zone::format_range(
        start.as_millisecond(),
        (start + jiff::SignedDuration::from_mins(10)).as_millisecond(),
        "America/New_York",
    );
    assert!(text.contains(&local), "{local} in {text}");
    assert!(text.contains("Add to Google Calendar") && text.contains("Download .ics"));
    check("session").await;

    // The calendar link, made in settings.
    phone.goto(&server.url("/settings/calendar")).await.unwrap();
    submit(&phone, "/settings/calendar").await;
    let url = phone.find(Locator::Id("f-feed-url")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(url.contains("/feeds/") && url.ends_with(".ics"), "{url}");
    check("calendar-feed").await;
    let feed = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(feed.contains(&format!("UID:request-{request}@")), "{feed}");

    phone.goto(&server.url("/karma")).await.unwrap();
    assert!(page_text(&phone).await.contains("Your karma: 0"));
    check("karma").await;
    phone.goto(&server.url("/settings/notifications")).await.unwrap();
    check("notification-settings").await;

    // API tokens in settings: a long unbroken name still fits.
    server.app.issue_api_token(&student, &"n".repeat(60), Some(30)).await.unwrap();
    phone.goto(&server.url("/settings")).await.unwrap();
    fill(&phone, "f-token-name", "phone script").await;
    fill(&phone, "f-token-days", "7").await;
    submit(&phone, "/settings/tokens").await;
    let text = page_text(&phone).await;
    assert!(text.contains("shown only now") && text.contains("phone script"), "{text}");
    phone.execute("document.getElementById('tokens').scrollIntoView();", vec![]).await.unwrap();
    check("api-tokens").await;
    phone.close().await.unwrap();
}

#[tokio::test]
async fn two_people_join_a_room_chat_and_see_the_end_screen_at_the_hard_stop() {
    let Some(driver) = Driver::start("Europe/Berlin") else { return };
    let db = TestDatabase::sqlite().await;
    let server = TestServer::start(&db).await;
    let ada = server.create_advisor("ada").await;
    let lea = server.create_user("lea", false).await;
    let start = server.now() + jiff::SignedDuration::from_mins(2);
    let id = server.session_at(&ada, &lea, start, RequestStatus::Approved).await;

    // Lea from the link in her mail (no log-in), Ada logged in, on a phone;
    // each page's microphone is a tone (Lea 440 Hz, Ada 660 Hz), voice over
    // loopback.
    let learner = driver.browser_with(1280, 900, &MEDIA_SWITCHES).await;
    learner.goto(&server.app.room_link(id, lea.id)).await.unwrap();
    use_tone(&learner, 440).await;
    let advisor = driver.browser_with(390, 844, &MEDIA_SWITCHES).await;
    log_in(&advisor, &server, "ada").await;
    advisor.goto(&server.url(&format!("/rooms/{id}"))).await.unwrap();
    use_tone(&advisor, 660).await;
    for browser in [&learner, &advisor] {
        assert_labelled(browser).await;
        join(browser).await;
    }
    until_true(
        &learner,
        "Ada's arrival",
        "return document.getElementById('room-status').textContent.includes('is here');",
    )
    .await;
    // In the room: no Join button any more, and only the advisor may extend.
    let visible = "const v = id => { const e = document.getElementById(id); return e.offsetParent !== null; }; \
                   return [v('room-join'), v('room-extend')];";
    assert_eq!(learner.execute(visible, vec![]).await.unwrap(), serde_json::json!([false, false]));
    assert_eq!(advisor.execute(visible, vec![]).await.unwrap(), serde_json::json!([false, true]));

    // Voice: each side receives the other's audio through the server, at
    // about 50 packets a second, and hears the other's tone.
    tokio::join!(assert_audio_rate(&learner, "Lea"), assert_audio_rate(&advisor, "Ada"));
    assert_hears(&learner, "Lea", 660).await;
    assert_hears(&advisor, "Ada", 440).await;
    for browser in [&learner, &advisor] {
        // The other person's voice lights their speaking indicator.
        until_true(
            browser,
            "the other person speaking",
            "return document.getElementById('room-speaking-other').classList.contains('speaking');",
        )
        .await;
    }

    // Screen sharing: Ada shares a synthetic screen (a canvas stream in
    // place of the screen picker); Lea's page shows it, with frames coming.
    share_canvas(&advisor).await;
    until_screen_shown(&learner, "Lea").await;

    // Chat: shown as text, links clickable.
    fill(&advisor, "room-chat-text", "<b>Welcome</b> see https://example.org/notes").await;
    advisor.find(Locator::Css("#room-chat button[type=submit]")).await.unwrap().click().await.unwrap();
    until_true(&learner, "the chat line", "return document.getElementById('room-chat-log').children.length === 1;")
        .await;
    let line = learner
        .execute(
            "const li = document.querySelector('#room-chat-log li'); \
             return [li.textContent, li.querySelectorAll('b').length, li.querySelector('a') && li.querySelector('a').href];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        line,
        serde_json::json!(["ada: <b>Welcome</b> see https://example.org/notes", 0, "https://example.org/notes"])
    );
    let shot = learner.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("room-learner.png"), shot).unwrap();

    // The hard stop: both see the end screen with what to do next.
    server.clock.set(start + jiff::SignedDuration::from_mins(10));
    for browser in [&learner, &advisor] {
        until_true(browser, "the end screen", "return !document.getElementById('room-ended').hidden;").await;
        let why = browser.find(Locator::Id("room-ended-why")).await.unwrap().text().await.unwrap();
        assert!(why.contains("Time is up"), "{why}");
    }
    // The counters stopped with the server's hard stop: nothing arrived in
    // the second after it, though both pages kept sending.
    tokio::join!(assert_nothing_after_the_end(&learner, "Lea"), assert_nothing_after_the_end(&advisor, "Ada"));
    let text = page_text(&advisor).await;
    assert!(text.contains("Message lea") && !text.contains("is open"), "{text}");
    let text = page_text(&learner).await;
    assert!(text.contains("Ask ada for another session") && !text.contains("is here"), "{text}");
    let shot = advisor.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("room-ended-phone.png"), shot).unwrap();
}
