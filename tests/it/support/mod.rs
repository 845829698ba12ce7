//! Shared test harness: a fresh database per test on every backend, an
//! in-process server on a real socket, and an HTTP client that behaves like a
//! browser (cookies, CSRF tokens from forms).
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod client;
pub mod coturn;
pub mod databases;
pub mod firefox;
pub mod fuzz;
pub mod peer;
pub mod private_postgres;
pub mod room_voice;
pub mod serve;
pub mod server;
pub mod small_disk;
pub mod smtp;
pub mod webdriver;

pub use client::Browser;
pub use databases::{TestDatabase, test_databases};
pub use server::TestServer;

/// Tests that need an outside tool (PostgreSQL, Chromium, Python) skip with a
/// message on a developer machine that lacks it, but fail in CI, where
/// `.ci/run` installs everything.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required in CI but not available");
    }
    eprintln!("SKIPPED: {what} is not available on this machine");
    false
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits up to five seconds for a helper process to listen on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not start listening on port {port}");
}

/// The value of a hidden or text input named `name` in an HTML page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"")? + 7;
    let value_end = value_at + tag[value_at..].find('"')?;
    Some(unescape(&tag[value_at..value_end]))
}

/// Undoes askama's HTML escaping.
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Decodes a quoted-printable mail body (soft breaks and `=XX`).
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
