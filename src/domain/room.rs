//! The rules of a session's room, as pure functions over times in
//! milliseconds (the room task and the pages feed them the injected clock):
//! who may enter and when, the warnings before the end, the one extension
//! an advisor with the Pro role may take, and the hard stop.
//!
//! - The room opens [`EARLY_MS`] before the start; minutes used early do
//!   not move the end.
//! - At the deadline (the scheduled end, or the extended one) the session
//!   is over: forwarding stops, everyone is told, nobody gets back in.
//! - Warnings go out once each, one minute and ten seconds before the
//!   deadline (again after an extension moves it).
//! - In the last minute an advisor with the Pro role may extend once by
//!   [`EXTENSION_MS`], only when nothing of theirs is booked in those
//!   minutes. Learners never can.

use super::booking::RequestStatus;

/// How early the room opens.
pub const EARLY_MS: i64 = 5 * 60_000;

/// How much one extension adds.
pub const EXTENSION_MS: i64 = 4 * 60_000;

/// How long before the deadline an extension may be asked for.
pub const EXTEND_WINDOW_MS: i64 = 60_000;

/// Warnings before the deadline, latest last.
pub const WARNINGS: [Warning; 2] = [Warning::OneMinute, Warning::TenSeconds];

/// A warning that the session is about to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Warning {
    OneMinute,
    TenSeconds,
}

impl Warning {
    /// How long before the deadline it is given.
    pub const fn before_ms(self) -> i64 {
        match self {
            Warning::OneMinute => 60_000,
            Warning::TenSeconds => 10_000,
        }
    }

    /// What people are told.
    pub const fn text(self) -> &'static str {
        match self {
            Warning::OneMinute => "One minute left.",
            Warning::TenSeconds => "Ten seconds left.",
        }
    }
}

/// Where a room is in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not open yet; it opens at `opens_at`.
    NotYet { opens_at: i64 },
    /// Open before the start (the early minutes).
    Early,
    /// Between the start and the deadline.
    Running,
    /// Past the deadline.
    Over,
}

/// Which side of the session someone is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Advisor,
    Learner,
}

/// Why someone cannot enter a room, each with what they can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not one of the session's two people (or a link of another session).
    NotParticipant,
    /// The request still waits for the advisor.
    NotConfirmed,
    Declined,
    Cancelled,
    /// Too early: the room opens at `opens_at`.
    TooEarly {
        opens_at: i64,
    },
    /// The session has ended; rejoining is refused.
    Over,
}

impl Refusal {
    /// A sentence for the page and the signalling error.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotParticipant => {
                "This room is for the two people of this session. If it is yours, open the link from your own \
                 confirmation or log in with your account."
            }
            Refusal::NotConfirmed => {
                "The advisor has not confirmed this session yet. You will hear as soon as they do."
            }
            Refusal::Declined => {
                "This request was declined, so there is no session to join. You can ask for another time."
            }
            Refusal::Cancelled => "This session was cancelled. You can ask for another time.",
            Refusal::TooEarly { .. } => "The room is not open yet. It opens 5 minutes before the start.",
            Refusal::Over => "This session has ended. You can message the other person or ask for another session.",
        }
    }

    /// A stable code for clients.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotParticipant => "not_participant",
            Refusal::NotConfirmed => "not_confirmed",
            Refusal::Declined => "declined",
            Refusal::Cancelled => "cancelled",
            Refusal::TooEarly { .. } => "too_early",
            Refusal::Over => "over",
        }
    }
}

/// Why an extension was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendRefusal {
    NotAdvisor,
    NotPro,
    AlreadyExtended,
    NotLastMinute,
    Busy,
    Over,
}

impl ExtendRefusal {
    pub fn message(self) -> &'static str {
        match self {
            ExtendRefusal::NotAdvisor => "Only the advisor can extend a session.",
            ExtendRefusal::NotPro => "Extending a session needs the Pro role.",
            ExtendRefusal::AlreadyExtended => "This session was already extended once.",
            ExtendRefusal::NotLastMinute => "A session can be extended in its last minute only.",
            ExtendRefusal::Busy => "You have another session in the next 4 minutes, so this one cannot be extended.",
            ExtendRefusal::Over => "This session has ended.",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ExtendRefusal::NotAdvisor => "not_advisor",
            ExtendRefusal::NotPro => "not_pro",
            ExtendRefusal::AlreadyExtended => "already_extended",
            ExtendRefusal::NotLastMinute => "not_last_minute",
            ExtendRefusal::Busy => "busy",
            ExtendRefusal::Over => "over",
        }
    }
}

/// What the room must do at a moment: give warnings, or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Warn(Warning),
    Stop,
}

/// One session's room clock: the schedule, the deadline and what was
/// already said. Owned by the room's task; every method takes `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomClock {
    pub starts_at: i64,
    pub scheduled_end: i64,
    pub deadline: i64,
    pub extended: bool,
    /// Warnings already given for the current deadline.
    warned: Vec<Warning>,
    stopped: bool,
}

impl RoomClock {
    pub fn new(starts_at: i64, ends_at: i64) -> RoomClock {
        RoomClock {
            starts_at,
            scheduled_end: ends_at,
            deadline: ends_at,
            extended: false,
            warned: Vec::new(),
            stopped: false,
        }
    }

    pub fn opens_at(&self) -> i64 {
        self.starts_at - EARLY_MS
    }

    pub fn phase(&self, now: i64) -> Phase {
        phase(self.starts_at, self.deadline, now, self.stopped)
    }

    /// May a confirmed participant come in now?
    pub fn may_enter(&self, now: i64) -> Result<(), Refusal> {
        match self.phase(now) {
            Phase::NotYet { opens_at } => Err(Refusal::TooEarly { opens_at }),
            Phase::Over => Err(Refusal::Over),
            Phase::Early | Phase::Running => Ok(()),
        }
    }

    /// What is due at `now`, each warning once and the stop once; the
    /// room task calls this when it wakes.
    pub fn due(&mut self, now: i64) -> Vec<Due> {
        if self.stopped {
            return Vec::new();
        }
        if now >= self.deadline {
            self.stopped = true;
            return vec![Due::Stop];
        }
        let mut due = Vec::new();
        for warning in WARNINGS {
            if now >= self.deadline - warning.before_ms() && !self.warned.contains(&warning) {
                self.warned.push(warning);
                due.push(Due::Warn(warning));
            }
        }
        // Only the latest warning is worth saying when several fall due at
        // once (a room that wakes late).
        if due.len() > 1 {
            due.drain(..due.len() - 1);
        }
        due
    }

    /// When the room task should wake next: the next warning or the
    /// deadline; `None` once stopped.
    pub fn next_wake(&self) -> Option<i64> {
        if self.stopped {
            return None;
        }
        let warnings = WARNINGS.iter().filter(|w| !self.warned.contains(w)).map(|w| self.deadline - w.before_ms());
        warnings.chain([self.deadline]).min()
    }

    /// The advisor asks for more time. `pro` is their role; `busy` whether
    /// they have something booked in the extension. Returns the new
    /// deadline.
    pub fn extend(&mut self, now: i64, role: Role, pro: bool, busy: bool) -> Result<i64, ExtendRefusal> {
        if self.stopped || now >= self.deadline {
            return Err(ExtendRefusal::Over);
        }
        if role != Role::Advisor {
            return Err(ExtendRefusal::NotAdvisor);
        }
        if !pro {
            return Err(ExtendRefusal::NotPro);
        }
        if self.extended {
            return Err(ExtendRefusal::AlreadyExtended);
        }
        if now < self.deadline - EXTEND_WINDOW_MS {
            return Err(ExtendRefusal::NotLastMinute);
        }
        if busy {
            return Err(ExtendRefusal::Busy);
        }
        self.extended = true;
        self.deadline += EXTENSION_MS;
        self.warned.clear();
        Ok(self.deadline)
    }

    /// The span an extension would take, to check the advisor is free.
    pub fn extension_span(&self) -> (i64, i64) {
        (self.deadline, self.deadline + EXTENSION_MS)
    }
}

/// Where a room with this schedule is at `now`.
pub fn phase(starts_at: i64, deadline: i64, now: i64, stopped: bool) -> Phase {
    if stopped || now >= deadline {
        Phase::Over
    } else if now < starts_at - EARLY_MS {
        Phase::NotYet { opens_at: starts_at - EARLY_MS }
    } else if now < starts_at {
        Phase::Early
    } else {
        Phase::Running
    }
}

/// Whether someone may enter a session's room at `now`: they must be one
/// of its two people, the session confirmed, the room open.
pub fn admission(
    status: RequestStatus,
    participant: bool,
    starts_at: i64,
    ends_at: i64,
    now: i64,
) -> Result<(), Refusal> {
    if !participant {
        return Err(Refusal::NotParticipant);
    }
    match status {
        RequestStatus::Requested => return Err(Refusal::NotConfirmed),
        RequestStatus::Declined => return Err(Refusal::Declined),
        RequestStatus::Cancelled => return Err(Refusal::Cancelled),
        RequestStatus::Approved => {}
    }
    RoomClock::new(starts_at, ends_at).may_enter(now)
}

/// How long TURN credentials outlive the deadline (a late rejoin).
pub const TURN_GRACE_MS: i64 = 10 * 60_000;

/// coturn's shared-secret ("REST API") credentials for one person: the
/// user name is `<expiry in Unix seconds>:<who>`, the password the base64
/// HMAC-SHA-1 of that name under the shared secret. They expire with the
/// session (`expires_ms`).
pub fn turn_credentials(secret: &str, who: &str, expires_ms: i64) -> (String, String) {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let username = format!("{}:{who}", expires_ms / 1000);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    (username, base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const START: i64 = 1_000 * MIN;
    const END: i64 = START + 10 * MIN;

    #[test]
    fn the_room_opens_five_minutes_early_without_moving_the_end() {
        let room = RoomClock::new(START, END);
        assert_eq!(room.phase(START - 6 * MIN), Phase::NotYet { opens_at: START - 5 * MIN });
        assert_eq!(room.may_enter(START - 5 * MIN - 1), Err(Refusal::TooEarly { opens_at: START - 5 * MIN }));
        assert_eq!(room.phase(START - 5 * MIN), Phase::Early);
        assert_eq!(room.may_enter(START - 5 * MIN), Ok(()));
        assert_eq!(room.phase(START), Phase::Running);
        assert_eq!(room.deadline, END, "early minutes do not move the end");
        assert_eq!(room.phase(END - 1), Phase::Running);
        assert_eq!(room.phase(END), Phase::Over);
        assert_eq!(room.may_enter(END), Err(Refusal::Over));
    }

    #[test]
    fn warnings_come_once_each_then_the_stop_and_rejoining_is_refused() {
        let mut room = RoomClock::new(START, END);
        assert_eq!(room.next_wake(), Some(END - MIN));
        assert!(room.due(END - MIN - 1).is_empty());
        assert_eq!(room.due(END - MIN), vec![Due::Warn(Warning::OneMinute)]);
        assert!(room.due(END - MIN + 5).is_empty(), "said once");
        assert_eq!(room.next_wake(), Some(END - 10_000));
        assert_eq!(room.due(END - 10_000), vec![Due::Warn(Warning::TenSeconds)]);
        assert_eq!(room.next_wake(), Some(END));
        assert_eq!(room.due(END), vec![Due::Stop]);
        assert!(room.due(END + 1).is_empty(), "stopped once");
        assert_eq!(room.next_wake(), None);
        assert_eq!(room.may_enter(END + 1), Err(Refusal::Over));
    }

    #[test]
    fn a_room_that_wakes_late_gives_only_the_latest_warning() {
        let mut room = RoomClock::new(START, END);
        assert_eq!(room.due(END - 5_000), vec![Due::Warn(Warning::TenSeconds)]);
        assert_eq!(room.due(END - 4_000), Vec::<Due>::new());
    }

    #[test]
    fn only_a_pro_advisor_extends_once_in_the_last_minute_when_free() {
        let mut room = RoomClock::new(START, END);
        let last_minute = END - 30_000;
        assert_eq!(room.extend(END - 2 * MIN, Role::Advisor, true, false), Err(ExtendRefusal::NotLastMinute));
        assert_eq!(room.extend(last_minute, Role::Learner, true, false), Err(ExtendRefusal::NotAdvisor));
        assert_eq!(room.extend(last_minute, Role::Advisor, false, false), Err(ExtendRefusal::NotPro));
        assert_eq!(room.extend(last_minute, Role::Advisor, true, true), Err(ExtendRefusal::Busy));
        assert_eq!(room.extension_span(), (END, END + 4 * MIN));
        assert_eq!(room.extend(last_minute, Role::Advisor, true, false), Ok(END + 4 * MIN));
        assert_eq!(room.deadline, END + 4 * MIN);
        assert_eq!(room.phase(END + MIN), Phase::Running);
        let again = END + 4 * MIN - 30_000;
        assert_eq!(room.extend(again, Role::Advisor, true, false), Err(ExtendRefusal::AlreadyExtended));
        // The warnings come again for the new deadline.
        assert_eq!(room.due(END + 3 * MIN), vec![Due::Warn(Warning::OneMinute)]);
        assert_eq!(room.due(END + 4 * MIN), vec![Due::Stop]);
        assert_eq!(room.extend(END + 4 * MIN, Role::Advisor, true, false), Err(ExtendRefusal::Over));
    }

    #[test]
    fn only_the_two_people_of_a_confirmed_session_get_in_while_it_is_open() {
        let open = START - MIN;
        assert_eq!(admission(RequestStatus::Approved, true, START, END, open), Ok(()));
        assert_eq!(admission(RequestStatus::Approved, false, START, END, open), Err(Refusal::NotParticipant));
        assert_eq!(admission(RequestStatus::Requested, true, START, END, open), Err(Refusal::NotConfirmed));
        assert_eq!(admission(RequestStatus::Declined, true, START, END, open), Err(Refusal::Declined));
        assert_eq!(admission(RequestStatus::Cancelled, true, START, END, open), Err(Refusal::Cancelled));
        assert_eq!(
            admission(RequestStatus::Approved, true, START, END, START - 10 * MIN),
            Err(Refusal::TooEarly { opens_at: START - 5 * MIN })
        );
        assert_eq!(admission(RequestStatus::Approved, true, START, END, END), Err(Refusal::Over));
    }

    #[test]
    fn turn_credentials_follow_coturns_rest_scheme() {
        // HMAC-SHA1("secret", "1700000600:lea") computed independently
        // (Python: base64(hmac.new(b"secret", b"1700000600:lea", sha1))).
        let (user, password) = turn_credentials("secret", "lea", 1_700_000_600_000);
        assert_eq!(user, "1700000600:lea");
        assert_eq!(password, "DehUprKCjzrQRwMGfCt1wcNlHrY=");
    }
}
