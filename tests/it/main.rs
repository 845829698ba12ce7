//! The integration suite as one test binary (one link of the harness in
//! `support/`); each module is one area, as listed in docs/architecture.md.

mod support;

mod api;
mod api_fuzz;
mod block_times;
mod booking;
mod browser;
mod browser_booking;
mod browser_firefox;
mod browser_onboarding;
mod browser_voice;
mod busy_import;
mod calendar_feed;
mod cli;
mod faults;
mod federation_delivery;
mod federation_discovery;
mod federation_effects;
mod federation_fixtures;
mod federation_inbox;
mod federation_servers;
mod federation_signatures;
mod fuzz_booking;
mod fuzz_calendar;
mod fuzz_inbox;
mod fuzz_room;
mod fuzz_signatures;
mod karma;
mod live_rooms;
mod mail;
mod messages;
mod notifications;
mod offerings;
mod read_caches;
mod rooms;
mod statements;
mod storage;
mod tokens;
mod voice_media;
mod web_accounts;
mod web_advisors;
mod web_booking;
mod web_onboarding;
