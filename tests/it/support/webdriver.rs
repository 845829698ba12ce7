//! Real browsers for the UI tests: Debian's Chromium through ChromeDriver,
//! and the small page helpers every browser test uses (fill a field, submit
//! a form and wait for the next page, poll a condition).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use super::TestServer;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Driver {
    child: Child,
    port: u16,
    /// Browser profiles, removed when the driver goes.
    profiles: Mutex<Vec<tempfile::TempDir>>,
}

impl Driver {
    /// ChromeDriver with the browser's clock in `zone`, so that time-zone
    /// detection has something to detect.
    pub fn start(zone: &str) -> Option<Driver> {
        let available = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
        if !super::require("Chromium and ChromeDriver (apt-get install chromium chromium-driver)", available) {
            return None;
        }
        let port = super::free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("TZ", zone)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Chromium goes with it.
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        // Owned at once, so that a failed start still kills the process.
        let driver = Driver { child, port, profiles: Mutex::new(Vec::new()) };
        super::wait_for_port(port, "chromedriver");
        Some(driver)
    }

    pub async fn browser(&self, width: u32, height: u32) -> Client {
        self.browser_with(width, height, &[]).await
    }

    /// A browser with more command-line switches (fake media devices, say).
    pub async fn browser_with(&self, width: u32, height: u32, extra: &[&str]) -> Client {
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-quic".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let caps = serde_json::json!({ "goog:chromeOptions": { "binary": CHROMIUM, "args": args } });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session");
        self.profiles.lock().unwrap().push(profile);
        client
    }
}

impl Drop for Driver {
    /// ChromeDriver and every Chromium it started, even when the test
    /// failed before closing its sessions (they would live on otherwise).
    fn drop(&mut self) {
        // SAFETY: a plain signal to the process group this driver created.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

pub fn screenshot_dir() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR")));
    let dir = std::path::Path::new(&target).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn fill(browser: &Client, id: &str, value: &str) {
    let field = browser.find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("field #{id}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

pub async fn submit(browser: &Client, form_action: &str) {
    let selector = format!("form[action='{form_action}'] button[type=submit]");
    let button = browser.find(Locator::Css(&selector)).await.unwrap_or_else(|_| panic!("{selector}"));
    click_and_wait(browser, button).await;
}

/// Clicks something that loads a new page and waits until it has loaded.
pub async fn click_and_wait(browser: &Client, element: fantoccini::elements::Element) {
    browser.execute("window.__oh_old_page = true;", vec![]).await.unwrap();
    element.click().await.unwrap();
    for _ in 0..200 {
        let loaded = browser
            .execute("return window.__oh_old_page === undefined && document.readyState === 'complete';", vec![])
            .await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no new page after the click");
}

pub async fn page_text(browser: &Client) -> String {
    browser.find(Locator::Css("main")).await.unwrap().text().await.unwrap()
}

/// Every visible form control has a label (the pages are screen-reader friendly).
pub async fn assert_labelled(browser: &Client) {
    let unlabelled = browser
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]\
             .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, serde_json::json!([]), "unlabelled controls on {}", browser.current_url().await.unwrap());
}

/// Sets an input's value through the DOM (date and time inputs take typed
/// text in the browser's locale format, which differs between machines).
pub async fn set_value(browser: &Client, id: &str, value: &str) {
    browser
        .execute("document.getElementById(arguments[0]).value = arguments[1];", vec![id.into(), value.into()])
        .await
        .unwrap();
}

pub async fn log_in(browser: &Client, server: &TestServer, username: &str) {
    browser.goto(&server.url("/login")).await.unwrap();
    fill(browser, "f-login", username).await;
    fill(browser, "f-password", super::server::PASSWORD).await;
    submit(browser, "/login").await;
}

pub async fn entry_states(browser: &Client) -> Vec<String> {
    let states = browser
        .execute("return [...document.querySelectorAll('.entry')].map(e => e.className + ': ' + e.textContent.trim().replace(/\\s+/g, ' '));", vec![])
        .await
        .unwrap();
    serde_json::from_value(states).unwrap()
}

pub async fn until_true(browser: &Client, what: &str, script: &str) {
    for _ in 0..400 {
        if matches!(browser.execute(script, vec![]).await, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let text = page_text(browser).await;
    panic!("never saw {what}: {text}");
}

/// The test tone harness (`window.__ohTestTone(hz)`,
/// `window.__ohHeardFrequency()`), run in a page with `execute`.
pub const TONE_JS: &str = include_str!("tone.js");
