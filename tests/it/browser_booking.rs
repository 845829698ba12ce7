//! Booking in a real browser (issue 17), at a desktop's 1280×900 and a
//! phone's 390×844: the picker (a day, then a time, then the request), a
//! required note, the Upcoming view after log-in, the decision page's
//! context, and no horizontal scrolling. Screenshots of each step go to
//! `target/screenshots/booking-*.png`.

use crate::support;

use fantoccini::{Client, Locator};
use jiff::ToSpan;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use support::webdriver::{
    Driver, assert_labelled, click_and_wait, fill, log_in, page_text, screenshot_dir, submit, until_true,
};
use support::{TestDatabase, TestServer};

use officehours::service::booking::BlockInput;

async fn shot(browser: &Client, name: &str, width: u32) {
    let path = screenshot_dir().join(format!("booking-{name}-{width}.png"));
    std::fs::write(path, browser.screenshot().await.unwrap()).unwrap();
}

/// Nothing wider than the window.
async fn fits(browser: &Client, what: &str) {
    let fits =
        browser.execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![]).await.unwrap();
    assert_eq!(fits, serde_json::json!(true), "{what}: no horizontal scrolling");
}

async fn visible_days(browser: &Client) -> Vec<String> {
    let days = browser
        .execute(
            "return [...document.querySelectorAll('.picker-day')].filter(d => !d.hidden).map(d => d.dataset.date);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(days).unwrap()
}

#[tokio::test]
async fn pick_a_day_then_a_time_request_and_decide_at_both_widths() {
    let Some(driver) = Driver::start("America/New_York") else { return };
    for (width, height) in [(1280, 900), (390, 844)] {
        let db = TestDatabase::sqlite().await;
        let server = TestServer::start(&db).await;
        let advisor = server.create_advisor("amara").await;
        let advisor = server
            .app
            .update_profile(&advisor, "Amara Okonkwo-Villanueva de la Fuente", "", "Europe/Berlin")
            .await
            .unwrap();
        let learner = server.create_user("lea", false).await;
        server.app.update_profile(&learner, "Lea Parkinson-Abernathy", "", "America/New_York").await.unwrap();
        let mut monday = server.now().to_zoned(TimeZone::UTC).date().checked_add(3.days()).unwrap();
        while monday.weekday() != Weekday::Monday {
            monday = monday.checked_add(1.day()).unwrap();
        }
        let wednesday = monday.checked_add(2.days()).unwrap();
        for (date, from, to) in [(monday, "15:00", "15:30"), (wednesday, "16:00", "16:20")] {
            let input = BlockInput {
                start: format!("{date}T{from}"),
                end: format!("{date}T{to}"),
                timezone: "Europe/Berlin".into(),
                ..Default::default()
            };
            server.app.create_block(&advisor, &input).await.unwrap();
        }

        // The learner logs in and lands on Upcoming.
        let browser = driver.browser(width, height).await;
        log_in(&browser, &server, "lea").await;
        assert_eq!(browser.current_url().await.unwrap().path(), "/upcoming");
        assert!(page_text(&browser).await.contains("Nothing coming up"));
        fits(&browser, "upcoming").await;
        shot(&browser, "upcoming-empty", width).await;

        // The profile: a month with Monday chosen, Wednesday one click away.
        browser.goto(&server.url("/users/amara")).await.unwrap();
        until_true(&browser, "the month view", "return !!document.querySelector('.picker-grid button');").await;
        assert_labelled(&browser).await;
        assert_eq!(visible_days(&browser).await, vec![monday.to_string()], "the first day with times is shown");
        let chosen = browser.find(Locator::Css(".picker-grid button[aria-pressed=true]")).await.unwrap();
        let label = chosen.attr("aria-label").await.unwrap().unwrap();
        assert!(label.contains(&monday.strftime("%A %-d %B").to_string()) && label.contains("3 free times"), "{label}");
        fits(&browser, "profile").await;
        shot(&browser, "picker-month", width).await;
        let selector = format!(".picker-grid button[data-date='{wednesday}']");
        browser.find(Locator::Css(&selector)).await.unwrap().click().await.unwrap();
        assert_eq!(visible_days(&browser).await, vec![wednesday.to_string()]);
        let pressed = browser.find(Locator::Css(&selector)).await.unwrap().attr("aria-pressed").await.unwrap();
        assert_eq!(pressed.as_deref(), Some("true"));
        // Times in New York (Berlin 16:00 is 10:00 there), Berlin's beside them.
        let first = browser.find(Locator::Css(&format!("#day-{wednesday} a.slot"))).await.unwrap();
        let text = first.text().await.unwrap();
        assert!(text.starts_with("10:00") && text.contains("16:00"), "{text}");
        shot(&browser, "picker-day", width).await;
        click_and_wait(&browser, first).await;

        // The request form: the weekly limit told first, the note required.
        assert_labelled(&browser).await;
        assert!(page_text(&browser).await.contains("you can ask for 2 more"));
        submit(&browser, browser.current_url().await.unwrap().path()).await;
        let text = page_text(&browser).await;
        assert!(text.contains("Say in a few words what you would like to talk about"), "{text}");
        let invalid = browser.find(Locator::Id("f-note")).await.unwrap().attr("aria-invalid").await.unwrap();
        assert_eq!(invalid.as_deref(), Some("true"));
        fits(&browser, "request form").await;
        shot(&browser, "note-required", width).await;
        fill(&browser, "f-note", "Moving from teaching into data engineering: where do I start?").await;
        submit(&browser, browser.current_url().await.unwrap().path()).await;
        assert!(page_text(&browser).await.contains("Request sent"), "{}", page_text(&browser).await);

        // Back on the profile, the time is marked as asked for.
        browser.goto(&server.url("/users/amara")).await.unwrap();
        until_true(&browser, "the month view", "return !!document.querySelector('.picker-grid button');").await;
        let selector = format!(".picker-grid button[data-date='{wednesday}']");
        browser.find(Locator::Css(&selector)).await.unwrap().click().await.unwrap();
        let mine = browser.find(Locator::Css(&format!("#day-{wednesday} a.slot.mine"))).await.unwrap();
        assert!(mine.attr("href").await.unwrap().unwrap().starts_with("/requests/"));
        browser.goto(&server.url("/upcoming")).await.unwrap();
        assert!(page_text(&browser).await.contains("Waiting for an answer"));
        browser.close().await.unwrap();

        // The advisor: Upcoming shows the request with its note; its page says who asks.
        let browser = driver.browser(width, height).await;
        log_in(&browser, &server, "amara").await;
        assert_eq!(browser.current_url().await.unwrap().path(), "/upcoming");
        let text = page_text(&browser).await;
        assert!(text.contains("Needs your answer") && text.contains("where do I start?"), "{text}");
        fits(&browser, "advisor's upcoming").await;
        shot(&browser, "upcoming-advisor", width).await;
        click_and_wait(&browser, browser.find(Locator::LinkText("Details")).await.unwrap()).await;
        let text = page_text(&browser).await;
        assert!(text.contains("Who is asking") && text.contains("Lea Parkinson-Abernathy"), "{text}");
        assert!(text.contains("None yet: a first session") && text.contains("America/New_York"), "{text}");
        assert!(browser.find(Locator::Css("blockquote.note-text")).await.is_ok(), "the note is text, not a box");
        assert_labelled(&browser).await;
        fits(&browser, "decision page").await;
        shot(&browser, "decision", width).await;
        let approve = format!("{}/approve", browser.current_url().await.unwrap().path());
        submit(&browser, &approve).await;
        assert!(page_text(&browser).await.contains("Approved"));

        // The booking rules page fits too.
        browser.goto(&server.url("/settings/booking")).await.unwrap();
        assert_labelled(&browser).await;
        fits(&browser, "booking rules").await;
        let add = browser.find(Locator::XPath("//button[contains(., 'Add another question')]")).await.unwrap();
        add.click().await.unwrap();
        let shown = browser
            .execute("return document.querySelectorAll('.question[data-new-question]:not([hidden])').length;", vec![])
            .await
            .unwrap();
        assert_eq!(shown, serde_json::json!(2), "one more blank question at a time");
        shot(&browser, "rules", width).await;
        browser.close().await.unwrap();
    }
}
