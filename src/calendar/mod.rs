//! Calendars: importing the advisor's own busy times from an ICS feed (S6),
//! and writing people's sessions as calendar feeds and downloads (C1).
//!
//! - [`feed`] is pure: sessions in plain values in, RFC 5545 text out
//!   (written with the `icalendar` crate), plus "add to calendar" links.
//! - [`busy`] is pure: ICS text in, busy intervals out (no I/O, unit-tested
//!   with realistic exports). It reads the text with `ics` (content lines,
//!   components, dates and durations), names zones with `zones` and expands
//!   recurrences with `rrule`.
//! - [`fetch`] fetches a feed over HTTP(S) with the safety rules a server
//!   needs when it fetches URLs that users type: timeouts, a size limit while
//!   streaming, one redirect at most, and no private or loopback addresses.
//!
//! The use case that ties them to storage is `service::busy`.

pub mod busy;
pub mod feed;
pub mod fetch;
mod ics;
mod rrule;
mod zones;

pub use busy::{BusyTimes, IcsError, Interval, busy_times};
pub use fetch::{FetchError, FetchOptions, fetch_calendar, parse_calendar_url};
