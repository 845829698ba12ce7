//! Time zones named in calendar feeds: IANA ids, Outlook's Windows names,
//! VTIMEZONE hints and Mozilla-style ids.

use std::collections::HashMap;

use jiff::tz::TimeZone;

use super::busy::Stats;
use super::ics::*;

/// Windows zone names (as Outlook and Exchange write them) of common zones,
/// after CLDR's windowsZones table.
pub(crate) const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Central Asia Standard Time", "Asia/Almaty"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("Eastern Standard Time", "America/New_York"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
];

pub(crate) struct Zones {
    /// For floating times, all-day events and unknown TZIDs.
    pub(crate) fallback: TimeZone,
    /// TZIDs of the calendar's VTIMEZONEs that name their IANA zone in
    /// `X-LIC-LOCATION` (Google, Thunderbird).
    pub(crate) defined: HashMap<String, TimeZone>,
}

impl Zones {
    pub(crate) fn new(calendars: &[Component], fallback: &TimeZone) -> Zones {
        let mut defined = HashMap::new();
        for vtimezone in calendars.iter().flat_map(|c| &c.children).filter(|c| c.name == "VTIMEZONE") {
            if let (Some(tzid), Some(location)) = (vtimezone.value("TZID"), vtimezone.value("X-LIC-LOCATION"))
                && let Some(zone) = known_zone(location)
            {
                defined.insert(tzid.to_string(), zone);
            }
        }
        Zones { fallback: fallback.clone(), defined }
    }

    pub(crate) fn get(&self, tzid: &str, stats: &mut Stats) -> TimeZone {
        let id = tzid.trim();
        if let Some(zone) = known_zone(id) {
            return zone;
        }
        if let Some(zone) = self.defined.get(id) {
            return zone.clone();
        }
        stats.unknown_zones += 1;
        self.fallback.clone()
    }
}

/// An IANA name, a Windows name, or a path ending in an IANA name.
pub(crate) fn known_zone(id: &str) -> Option<TimeZone> {
    if let Ok(zone) = TimeZone::get(id) {
        return Some(zone);
    }
    if let Some((_, iana)) = WINDOWS_ZONES.iter().find(|(windows, _)| windows.eq_ignore_ascii_case(id)) {
        return TimeZone::get(iana).ok();
    }
    let mut rest = id;
    while let Some(slash) = rest.find('/') {
        rest = &rest[slash + 1..];
        if let Ok(zone) = TimeZone::get(rest) {
            return Some(zone);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Values
