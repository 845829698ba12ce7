use super::*;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// Busy times as `start/end` RFC 3339 strings, for readable assertions.
fn read(ics: &str, advisor_zone: &str, from: &str, to: &str) -> (Vec<String>, Stats) {
    let busy = busy_times(ics, &zone(advisor_zone), ts(from), ts(to)).unwrap();
    (busy.intervals.iter().map(|i| format!("{}/{}", i.start, i.end)).collect(), busy.stats)
}

/// Lines joined with CRLF, as calendar servers send them.
fn crlf(lines: &str) -> String {
    lines.lines().map(|l| format!("{l}\r\n")).collect()
}

fn calendar(events: &str) -> String {
    format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{events}END:VCALENDAR\n")
}

const GOOGLE_EXPORT: &str = "BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:ada@example.org
X-WR-TIMEZONE:Europe/Berlin
BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:20250318T100000
DTEND;TZID=Europe/Berlin:20250318T110000
RRULE:FREQ=WEEKLY;WKST=MO;UNTIL=20250415T075959Z;BYDAY=TU
EXDATE;TZID=Europe/Berlin:20250401T100000
DTSTAMP:20250301T120000Z
UID:7kukuqrfedlm2f9t0vkhq0ptda@google.com
CREATED:20250301T115500Z
DESCRIPTION:Weekly sync\\, room 4. Agenda: https://docs.example.org/d/1a2b3c4
 d5e6f7g8h9i0/edit
LAST-MODIFIED:20250301T115959Z
LOCATION:
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Team sync
TRANSP:OPAQUE
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:This is an event reminder
TRIGGER:-P0DT0H10M0S
DURATION:PT15M
REPEAT:2
END:VALARM
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:20250325T140000
DTEND;TZID=Europe/Berlin:20250325T150000
DTSTAMP:20250301T120000Z
UID:7kukuqrfedlm2f9t0vkhq0ptda@google.com
RECURRENCE-ID;TZID=Europe/Berlin:20250325T100000
SEQUENCE:1
STATUS:CONFIRMED
SUMMARY:Team sync (moved)
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20250321
DTEND;VALUE=DATE:20250322
DTSTAMP:20250301T120000Z
UID:0ld7s1v8q9mq4o6b0c4e3s5u2k@google.com
SUMMARY:Conference (busy all day)
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20250324
DTEND;VALUE=DATE:20250325
DTSTAMP:20250301T120000Z
UID:birthday@google.com
SUMMARY:Birthday (free)
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
DTSTART:20250319T130000Z
DTEND:20250319T133000Z
DTSTAMP:20250301T120000Z
UID:2r3c5j7h9k1m3n5p7q9s1t3v5x@google.com
SUMMARY:Dentist
END:VEVENT
BEGIN:VEVENT
DTSTART:20250320T090000Z
DTEND:20250320T100000Z
DTSTAMP:20250301T120000Z
UID:cancelled@google.com
STATUS:CANCELLED
SUMMARY:Cancelled call
END:VEVENT
END:VCALENDAR
";

#[test]
fn google_export_with_dst_exdate_override_and_all_day() {
    let (busy, stats) = read(&crlf(GOOGLE_EXPORT), "Europe/Berlin", "2025-03-17T00:00:00Z", "2025-04-30T00:00:00Z");
    assert_eq!(
        busy,
        [
            // 10:00 CET
            "2025-03-18T09:00:00Z/2025-03-18T10:00:00Z",
            "2025-03-19T13:00:00Z/2025-03-19T13:30:00Z",
            // All day on 21 March in Berlin.
            "2025-03-20T23:00:00Z/2025-03-21T23:00:00Z",
            // 25 March moved to 14:00 CET by the override.
            "2025-03-25T13:00:00Z/2025-03-25T14:00:00Z",
            // 1 April is an EXDATE; 8 April is 10:00 CEST, after the DST change.
            "2025-04-08T08:00:00Z/2025-04-08T09:00:00Z",
        ]
    );
    assert_eq!(stats.unknown_zones + stats.unsupported_rules + stats.skipped_events, 0);
}

const OUTLOOK_EXPORT: &str = "BEGIN:VCALENDAR
METHOD:PUBLISH
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
X-WR-CALNAME:Calendar
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
DESCRIPTION:\\n
RRULE:FREQ=WEEKLY;UNTIL=20251105T090000Z;INTERVAL=1;BYDAY=WE;WKST=SU
UID:040000008200E00074C5B7101A82E0080000000010B4D6A1E3B0DB01000000000000000
 010000000F3A0D4F0F6A2B14C9B0D4C5B1B3E7E6A
SUMMARY;LANGUAGE=en-US:Standup
DTSTART;TZID=W. Europe Standard Time:20251015T090000
DTEND;TZID=W. Europe Standard Time:20251015T093000
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20251001T080000Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:0
LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting
X-MICROSOFT-CDO-APPT-SEQUENCE:0
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:1
X-MICROSOFT-DONOTFORWARDMEETING:FALSE
X-MICROSOFT-DISALLOW-COUNTER:FALSE
END:VEVENT
BEGIN:VEVENT
RRULE:FREQ=MONTHLY;COUNT=3;BYDAY=TU;BYSETPOS=-1
UID:040000008200E00074C5B7101A82E00800000000B0E1D6A1E3B0DB01000000000000000
 01000000011AAB2C3D4E5F60718293A4B5C6D7E8F
SUMMARY:Board review
DTSTART;TZID=W. Europe Standard Time:20251028T160000
DTEND;TZID=W. Europe Standard Time:20251028T173000
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
END:VEVENT
BEGIN:VEVENT
UID:focus
SUMMARY:Focus time
DTSTART;TZID=W. Europe Standard Time:20251016T130000
DTEND;TZID=W. Europe Standard Time:20251016T150000
X-MICROSOFT-CDO-BUSYSTATUS:FREE
END:VEVENT
END:VCALENDAR
";

#[test]
fn outlook_export_with_windows_zone_and_fall_back_change() {
    let (busy, stats) = read(&crlf(OUTLOOK_EXPORT), "UTC", "2025-10-01T00:00:00Z", "2026-01-31T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-10-15T07:00:00Z/2025-10-15T07:30:00Z",
            "2025-10-22T07:00:00Z/2025-10-22T07:30:00Z",
            // Last Tuesday of the month, 16:00 CET.
            "2025-10-28T15:00:00Z/2025-10-28T16:30:00Z",
            // After 26 October 09:00 local is 08:00 UTC; UNTIL includes 5 November.
            "2025-10-29T08:00:00Z/2025-10-29T08:30:00Z",
            "2025-11-05T08:00:00Z/2025-11-05T08:30:00Z",
            "2025-11-25T15:00:00Z/2025-11-25T16:30:00Z",
            "2025-12-30T15:00:00Z/2025-12-30T16:30:00Z",
        ]
    );
    assert_eq!(stats.unknown_zones, 0);
    assert_eq!(stats.events, 2, "the free focus time is not busy");
}

#[test]
fn floating_times_and_all_day_events_are_in_the_advisors_zone() {
    let ics = calendar(
        "BEGIN:VEVENT\nUID:a\nDTSTART:20250110T090000\nDURATION:PT1H30M\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:b\nDTSTART;VALUE=DATE:20250111\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "America/New_York", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert_eq!(busy, ["2025-01-10T14:00:00Z/2025-01-10T15:30:00Z", "2025-01-11T05:00:00Z/2025-01-12T05:00:00Z"]);
    let (busy, _) = read(&ics, "UTC", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert_eq!(busy, ["2025-01-10T09:00:00Z/2025-01-10T10:30:00Z", "2025-01-11T00:00:00Z/2025-01-12T00:00:00Z"]);
}

#[test]
fn all_day_spans_and_nominal_days_follow_the_local_calendar_across_dst() {
    // 29 to 31 March 2025 in Berlin: two local days, 47 hours (DST starts on the 30th).
    let ics = calendar("BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20250329\nDTEND;VALUE=DATE:20250331\nEND:VEVENT\n");
    let (busy, _) = read(&ics, "Europe/Berlin", "2025-03-01T00:00:00Z", "2025-04-30T00:00:00Z");
    assert_eq!(busy, ["2025-03-28T23:00:00Z/2025-03-30T22:00:00Z"]);
    // DURATION:P1D is a calendar day (23 hours here), PT24H exactly 24 hours.
    let ics = calendar(
        "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Europe/Berlin:20250329T120000\nDURATION:P1D\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:b\nDTSTART;TZID=Europe/Berlin:20250301T000000\nDURATION:PT24H\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-03-01T00:00:00Z", "2025-04-30T00:00:00Z");
    assert_eq!(
        busy,
        // (The second event starts before the window and is clipped to it.)
        ["2025-03-01T00:00:00Z/2025-03-01T23:00:00Z", "2025-03-29T11:00:00Z/2025-03-30T10:00:00Z"]
    );
}

#[test]
fn weekly_rule_keeps_local_time_across_both_dst_changes() {
    // Every Monday 09:00 in Berlin, several days a week, with a DATE UNTIL.
    let ics = calendar(
        "BEGIN:VEVENT\nUID:w\nDTSTART;TZID=Europe/Berlin:20250317T090000\nDTEND;TZID=Europe/Berlin:20250317T100000\n\
         RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20250417\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-03-01T00:00:00Z", "2025-12-31T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-03-17T08:00:00Z/2025-03-17T09:00:00Z",
            "2025-03-20T08:00:00Z/2025-03-20T09:00:00Z",
            // Two weeks later, after the change to summer time.
            "2025-03-31T07:00:00Z/2025-03-31T08:00:00Z",
            "2025-04-03T07:00:00Z/2025-04-03T08:00:00Z",
            "2025-04-14T07:00:00Z/2025-04-14T08:00:00Z",
            "2025-04-17T07:00:00Z/2025-04-17T08:00:00Z",
        ]
    );
    // Weekly since 2020 in Berlin, no end: the October 2025 change.
    let ics = calendar(
        "BEGIN:VEVENT\nUID:w\nDTSTART;TZID=Europe/Berlin:20200106T090000\nDTEND;TZID=Europe/Berlin:20200106T093000\n\
         RRULE:FREQ=WEEKLY\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-10-18T00:00:00Z", "2025-11-04T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-10-20T07:00:00Z/2025-10-20T07:30:00Z",
            "2025-10-27T08:00:00Z/2025-10-27T08:30:00Z",
            "2025-11-03T08:00:00Z/2025-11-03T08:30:00Z",
        ]
    );
}

#[test]
fn daily_monthly_and_yearly_rules() {
    let ics = calendar(
        "BEGIN:VEVENT\nUID:d\nDTSTART:20250101T120000Z\nDTEND:20250101T130000Z\n\
         RRULE:FREQ=DAILY;INTERVAL=3;COUNT=4\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-01-01T12:00:00Z/2025-01-01T13:00:00Z",
            "2025-01-04T12:00:00Z/2025-01-04T13:00:00Z",
            "2025-01-07T12:00:00Z/2025-01-07T13:00:00Z",
            "2025-01-10T12:00:00Z/2025-01-10T13:00:00Z",
        ]
    );
    // Weekdays only.
    let ics = calendar(
        "BEGIN:VEVENT\nUID:d\nDTSTART:20250103T120000Z\nDURATION:PT15M\n\
         RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=3\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-01-03T12:00:00Z/2025-01-03T12:15:00Z",
            "2025-01-06T12:00:00Z/2025-01-06T12:15:00Z",
            "2025-01-07T12:00:00Z/2025-01-07T12:15:00Z",
        ]
    );
    // The 31st skips short months; the last day of the month; the second Tuesday.
    let ics = calendar(
        "BEGIN:VEVENT\nUID:m1\nDTSTART:20250131T080000Z\nDURATION:PT1H\nRRULE:FREQ=MONTHLY;COUNT=3\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:m2\nDTSTART:20250131T100000Z\nDURATION:PT1H\nRRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:m3\nDTSTART:20250114T140000Z\nDURATION:PT1H\nRRULE:FREQ=MONTHLY;BYDAY=2TU;UNTIL=20250331T000000Z\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-01-01T00:00:00Z", "2025-12-31T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-01-14T14:00:00Z/2025-01-14T15:00:00Z",
            "2025-01-31T08:00:00Z/2025-01-31T09:00:00Z",
            "2025-01-31T10:00:00Z/2025-01-31T11:00:00Z",
            "2025-02-11T14:00:00Z/2025-02-11T15:00:00Z",
            "2025-02-28T10:00:00Z/2025-02-28T11:00:00Z",
            "2025-03-11T14:00:00Z/2025-03-11T15:00:00Z",
            "2025-03-31T08:00:00Z/2025-03-31T09:00:00Z",
            "2025-03-31T10:00:00Z/2025-03-31T11:00:00Z",
            "2025-05-31T08:00:00Z/2025-05-31T09:00:00Z",
        ]
    );
    // Yearly on 29 February, and on the last Sunday of March.
    let ics = calendar(
        "BEGIN:VEVENT\nUID:y1\nDTSTART;VALUE=DATE:20240229\nRRULE:FREQ=YEARLY\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:y2\nDTSTART:20240331T100000Z\nDURATION:PT1H\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-01-01T00:00:00Z", "2028-12-31T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-03-30T10:00:00Z/2025-03-30T11:00:00Z",
            "2026-03-29T10:00:00Z/2026-03-29T11:00:00Z",
            "2027-03-28T10:00:00Z/2027-03-28T11:00:00Z",
            "2028-02-29T00:00:00Z/2028-03-01T00:00:00Z",
            "2028-03-26T10:00:00Z/2028-03-26T11:00:00Z",
        ]
    );
}

#[test]
fn rdate_exdate_dates_and_times_in_the_spring_gap() {
    let ics = calendar(
        "BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20250303\nRRULE:FREQ=DAILY;COUNT=4\nEXDATE;VALUE=DATE:20250304,20250305\n\
         RDATE;VALUE=DATE:20250310\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:gap\nDTSTART;TZID=Europe/Berlin:20250330T023000\nDURATION:PT30M\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-03-03T00:00:00Z/2025-03-04T00:00:00Z",
            "2025-03-06T00:00:00Z/2025-03-07T00:00:00Z",
            "2025-03-10T00:00:00Z/2025-03-11T00:00:00Z",
            // 02:30 does not exist that night; it moves forward to 03:30 CEST.
            "2025-03-30T01:30:00Z/2025-03-30T02:00:00Z",
        ]
    );
}

#[test]
fn cancelled_occurrence_overrides_remove_the_occurrence() {
    let ics = calendar(
        "BEGIN:VEVENT\nUID:s\nDTSTART:20250106T100000Z\nDTEND:20250106T110000Z\nRRULE:FREQ=WEEKLY;COUNT=3\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:s\nRECURRENCE-ID:20250113T100000Z\nDTSTART:20250113T100000Z\nDTEND:20250113T110000Z\n\
         STATUS:CANCELLED\nEND:VEVENT\n",
    );
    let (busy, _) = read(&ics, "UTC", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert_eq!(busy, ["2025-01-06T10:00:00Z/2025-01-06T11:00:00Z", "2025-01-20T10:00:00Z/2025-01-20T11:00:00Z"]);
}

#[test]
fn window_clips_merges_and_skips_old_periods_quickly() {
    let ics = calendar(
        "BEGIN:VEVENT\nUID:old\nDTSTART:19900101T080000Z\nDTEND:19900101T100000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:overlap\nDTSTART:20250102T093000Z\nDTEND:20250102T110000Z\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:past\nDTSTART:20241201T093000Z\nDTEND:20241201T110000Z\nEND:VEVENT\n",
    );
    let started = std::time::Instant::now();
    let (busy, _) = read(&ics, "UTC", "2025-01-01T09:00:00Z", "2025-01-03T09:00:00Z");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(
        busy,
        [
            "2025-01-01T09:00:00Z/2025-01-01T10:00:00Z",
            "2025-01-02T08:00:00Z/2025-01-02T11:00:00Z",
            "2025-01-03T08:00:00Z/2025-01-03T09:00:00Z",
        ]
    );
}

#[test]
fn unsupported_rules_keep_the_first_occurrence_and_unknown_zones_fall_back() {
    let ics = calendar(
        "BEGIN:VEVENT\nUID:h\nDTSTART:20250101T080000Z\nDURATION:PT10M\nRRULE:FREQ=HOURLY;COUNT=5\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:z\nDTSTART;TZID=Mars/Olympus_Mons:20250102T080000\nDURATION:PT10M\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:m\nDTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20250103T080000\nDURATION:PT10M\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:q\nDTSTART;TZID=\"Europe/Berlin\":20250104T080000\nDURATION:PT10M\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:broken\nDTSTART:yesterday\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:instant\nDTSTART:20250105T080000Z\nEND:VEVENT\n",
    );
    let (busy, stats) = read(&ics, "Asia/Tokyo", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-01-01T08:00:00Z/2025-01-01T08:10:00Z",
            "2025-01-01T23:00:00Z/2025-01-01T23:10:00Z",
            "2025-01-03T07:00:00Z/2025-01-03T07:10:00Z",
            "2025-01-04T07:00:00Z/2025-01-04T07:10:00Z",
        ]
    );
    assert_eq!(stats.unsupported_rules, 1);
    assert_eq!(stats.unknown_zones, 1);
    assert_eq!(stats.skipped_events, 1);
}

#[test]
fn free_busy_feeds() {
    let ics = crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Example Corp.//CalDAV Server//EN\nBEGIN:VFREEBUSY\n\
         DTSTART:20250101T000000Z\nDTEND:20250201T000000Z\n\
         FREEBUSY;FBTYPE=BUSY:20250107T090000Z/20250107T100000Z,20250108T090000Z/PT30M\n\
         FREEBUSY;FBTYPE=FREE:20250109T090000Z/20250109T100000Z\n\
         FREEBUSY:20250110T090000Z/20250110T093000Z\nEND:VFREEBUSY\nEND:VCALENDAR",
    );
    let (busy, _) = read(&ics, "UTC", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
    assert_eq!(
        busy,
        [
            "2025-01-07T09:00:00Z/2025-01-07T10:00:00Z",
            "2025-01-08T09:00:00Z/2025-01-08T09:30:00Z",
            "2025-01-10T09:00:00Z/2025-01-10T09:30:00Z",
        ]
    );
}

#[test]
fn not_a_calendar() {
    let window = (ts("2025-01-01T00:00:00Z"), ts("2025-02-01T00:00:00Z"));
    for text in [
        "",
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body></body></html>",
        "BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nEND:VCARD\n",
        "{\"error\": \"not found\"}",
        "PRODID:x\nBEGIN:VCALENDAR\nEND:VCALENDAR\n",
    ] {
        assert_eq!(busy_times(text, &TimeZone::UTC, window.0, window.1), Err(IcsError::NotACalendar), "{text}");
    }
    // An empty calendar is fine; so is a byte-order mark, bare LF and junk after the end.
    let busy =
        busy_times("\u{feff}BEGIN:VCALENDAR\nEND:VCALENDAR\n<trailing junk>", &TimeZone::UTC, window.0, window.1);
    assert_eq!(busy.unwrap().intervals, []);
}

#[test]
fn too_many_busy_times_are_refused() {
    let mut events = String::new();
    let start = ts("2025-01-01T00:00:00Z");
    for i in 0..(MAX_INTERVALS as i64 + 1) {
        let at = start.checked_add(SignedDuration::from_mins(10 * i)).unwrap();
        let at = at.strftime("%Y%m%dT%H%M%SZ");
        events.push_str(&format!("BEGIN:VEVENT\nUID:{i}\nDTSTART:{at}\nDURATION:PT5M\nEND:VEVENT\n"));
    }
    let result = busy_times(&calendar(&events), &TimeZone::UTC, start, ts("2026-01-01T00:00:00Z"));
    assert_eq!(result, Err(IcsError::TooComplex));
}

#[test]
fn content_lines_unfold_and_parameters_may_be_quoted() {
    let lines = content_lines("A:1\r\n  2\r\n\t3\nB;X=\"a;b:c\";Y=z:mailto:x@example.org\r\n");
    assert_eq!(lines, ["A:1 23", "B;X=\"a;b:c\";Y=z:mailto:x@example.org"]);
    let prop = parse_line(&lines[1]).unwrap();
    assert_eq!(prop.name, "B");
    assert_eq!(prop.param("X"), Some("a;b:c"));
    assert_eq!(prop.param("Y"), Some("z"));
    assert_eq!(prop.value, "mailto:x@example.org");
    assert!(parse_line("no colon here").is_none());
    assert!(parse_line("<html lang=\"en\">:").is_none());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("PT1H30M"), Some((0, SignedDuration::from_mins(90))));
    assert_eq!(parse_duration("P1W"), Some((7, SignedDuration::ZERO)));
    assert_eq!(parse_duration("P1DT12H"), Some((1, SignedDuration::from_hours(12))));
    assert_eq!(parse_duration("-PT15M"), Some((0, SignedDuration::from_mins(-15))));
    assert_eq!(parse_duration("P0DT0H10M0S"), Some((0, SignedDuration::from_mins(10))));
    for bad in ["", "P", "PT", "1H", "PT1D", "P1H", "P99999999999999999999D", "PT5"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn zone_names_resolve() {
    for (windows, iana) in WINDOWS_ZONES {
        assert!(TimeZone::get(iana).is_ok(), "{windows} maps to unknown {iana}");
    }
    assert!(known_zone("W. Europe Standard Time").is_some());
    assert!(known_zone("/mozilla.org/20050126_1/America/New_York").is_some());
    assert!(known_zone("(UTC+01:00) Amsterdam, Berlin").is_none());
}
