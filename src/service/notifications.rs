//! Notifications (N1): the activity feed, mail preferences, and turning
//! booking events and upcoming sessions into notifications and mail.
//!
//! Booking changes write an event in their own transaction
//! (`booking_events`). Its effects — notifications, queued mail, karma —
//! are written in one more transaction that also marks the event
//! processed, so a crash between the two loses nothing and nothing is
//! applied twice: right after the answer by the node's effects task
//! (`service::after_answer`, several events per transaction), and by
//! [`App::process_booking_events`] in the background jobs, as a safety net.

use jiff::{SignedDuration, Timestamp};

use crate::domain::booking::{EventKind, Role};
use crate::domain::karma::{self, KarmaKind};
use crate::domain::notification::{self, EventPeople, Kind};
use crate::domain::time_zone;
use crate::service::App;
use crate::storage::{DueReminder, Effects, NewKarma, NewNotification, Notification, OutgoingMail, PendingEvent, User};

use super::AppError;

/// Notifications shown on one page of the activity feed.
pub const FEED_PAGE: i64 = 50;

/// A person's notification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    /// Kinds sent by e-mail (the rest only appear in the activity feed).
    pub mail: Vec<Kind>,
    /// Minutes before a session the reminder goes out (0 = none).
    pub reminder_minutes: i64,
    /// Whether `reminder_minutes` is the instance's default.
    pub reminder_is_default: bool,
}

/// How a confirmed session's room is named in mail and messages.
const ROOM_LINE: &str = "Room (opens 5 minutes before the start): ";

impl App {
    /// The lines that give a person their room link for a session: their
    /// own link, which opens without logging in.
    fn room_lines(&self, request_id: i64, user_id: i64) -> String {
        format!("{ROOM_LINE}{}", self.room_link(request_id, user_id))
    }

    pub async fn notifications(&self, user: &User, before: Option<i64>) -> Result<Vec<Notification>, AppError> {
        self.settle_effects().await;
        Ok(self.store.notifications(user.id, before, FEED_PAGE).await?)
    }

    /// The activity feed: a page of notifications, each with where it
    /// leads, the note of the request it is about and whether the reader
    /// can approve or decline it from there (names, notes and states read
    /// in the same query).
    pub async fn notification_feed(&self, user: &User, before: Option<i64>) -> Result<Vec<FeedItem>, AppError> {
        self.settle_effects().await;
        let rows = self.store.notification_feed(user.id, before, FEED_PAGE).await?;
        let now = self.clock.now_ms();
        Ok(rows
            .into_iter()
            .map(|row| {
                let n = row.notification;
                let link = notification::link(n.kind, n.request_id, row.actor_username.as_deref());
                let decide =
                    match (row.request_status, row.request_advisor_id, row.request_starts_at, row.request_ends_at) {
                        (Some(status), Some(advisor), Some(start), Some(end)) => {
                            let role = if advisor == user.id { Role::Advisor } else { Role::Learner };
                            crate::domain::agenda::actions(status, role, start, end, now).decide
                        }
                        _ => false,
                    };
                let note = row.request_note.filter(|note| !note.is_empty() && n.kind == Kind::RequestReceived);
                FeedItem { notification: n, link, note, decide }
            })
            .collect())
    }

    /// Messages from others `user` has not read yet.
    pub async fn unread_messages(&self, user: &User) -> Result<i64, AppError> {
        Ok(self.store.unread_messages(user.id).await?)
    }

    pub async fn unread_count(&self, user: &User) -> Result<i64, AppError> {
        self.settle_effects().await;
        Ok(self.store.unread_notifications(user.id).await?)
    }

    /// Marks notifications up to `through` (default: all) as read.
    pub async fn mark_read(&self, user: &User, through: Option<i64>) -> Result<u64, AppError> {
        Ok(self.store.mark_notifications_read(user.id, through.unwrap_or(i64::MAX), self.clock.now_ms()).await?)
    }

    pub async fn notification_settings(&self, user: &User) -> Result<NotificationSettings, AppError> {
        let off = self.store.mail_off(user.id).await?;
        Ok(NotificationSettings {
            mail: Kind::ALL.into_iter().filter(|k| !off.contains(k)).collect(),
            reminder_minutes: user.reminder_minutes.unwrap_or(self.config.reminder_minutes),
            reminder_is_default: user.reminder_minutes.is_none(),
        })
    }

    /// Saves which kinds go out by mail (by name; unknown names are refused)
    /// and the reminder time (`None`: the instance default).
    pub async fn save_notification_settings(
        &self,
        user: &User,
        mail: &[String],
        reminder_minutes: Option<i64>,
    ) -> Result<NotificationSettings, AppError> {
        let mut wanted = Vec::new();
        for name in mail {
            match Kind::parse(name.trim()) {
                Some(kind) => wanted.push(kind),
                None => {
                    return Err(AppError::invalid(
                        "mail",
                        "unknown_notification_type",
                        format!(
                            "There is no notification type `{name}`. Known types: {}.",
                            Kind::ALL.map(Kind::as_str).join(", ")
                        ),
                    ));
                }
            }
        }
        if let Some(m) = reminder_minutes
            && !(0..=crate::config::MAX_REMINDER_MINUTES).contains(&m)
        {
            return Err(AppError::invalid(
                "reminder_minutes",
                "out_of_range",
                format!(
                    "Reminders go out between 0 (none) and {} minutes before.",
                    crate::config::MAX_REMINDER_MINUTES
                ),
            ));
        }
        let off: Vec<Kind> = Kind::ALL.into_iter().filter(|k| !wanted.contains(k)).collect();
        self.store.save_notification_settings(user.id, &off, reminder_minutes, self.clock.now_ms()).await?;
        let user = self.store.user_by_id(user.id).await?;
        self.notification_settings(&user).await
    }

    /// A notification for `user`, with its mail when they want one.
    pub(crate) async fn notify(
        &self,
        effects: &mut Effects,
        user: &User,
        kind: Kind,
        text: Notice,
    ) -> Result<(), AppError> {
        if user.is_remote() {
            // Remote people get a direct message from the other person.
            return self.direct_message(effects, user, &text).await;
        }
        effects.notifications.push(NewNotification {
            user_id: user.id,
            kind,
            actor_id: text.actor_id,
            request_id: text.request_id,
            conversation_id: None,
            body: text.line.clone(),
        });
        if user.suspended_at.is_none() && user.email_verified {
            let off = self.store.mail_off(user.id).await?;
            if !off.contains(&kind) {
                // A message's details hold its whole text: the line (its
                // preview) would say it twice.
                let lead = if text.dm.is_some() { String::new() } else { format!("{}\n\n", text.line) };
                effects.mails.push(OutgoingMail {
                    recipient: user.email.clone(),
                    subject: text.subject,
                    body: format!(
                        "Hello {},\n\n{lead}{}\n\n-- \n{} · choose which mails you get: {}\n",
                        user.name(),
                        text.details,
                        self.config.instance_name,
                        self.config.link("/settings/notifications")
                    ),
                });
            }
        }
        Ok(())
    }

    /// A notice as a direct message to a remote person, sent by the local
    /// person it is from (nobody local: nothing is sent).
    async fn direct_message(&self, effects: &mut Effects, user: &User, text: &Notice) -> Result<(), AppError> {
        let Some(from_id) = text.from_id else { return Ok(()) };
        let sender = self.store.user_by_id(from_id).await?;
        let Some(actor) = self.store.remote_actor_of(user).await? else { return Ok(()) };
        if sender.is_remote() {
            return Ok(());
        }
        if let Some(request_id) = text.request_id
            && self.store.user_by_id(self.store.request(request_id).await?.advisor_id).await?.is_remote()
        {
            // A session on a remote advisor's slot: their instance tells them.
            return Ok(());
        }
        let body = match &text.dm {
            Some(body) => body.clone(),
            None => {
                let mut details = text.details.clone();
                if let Some(request_id) = text.request_id {
                    // The session page needs an account here; the room link
                    // does not. Where the room is already named, the page
                    // line goes; elsewhere the room link takes its place.
                    let page = self.config.link(&format!("/requests/{request_id}"));
                    details = if details.contains(ROOM_LINE) {
                        details.lines().filter(|l| !l.contains(&page)).collect::<Vec<_>>().join("\n").trim().to_string()
                    } else {
                        details.replace(&page, &self.room_link(request_id, user.id))
                    };
                }
                format!("{}\n\n{details}", text.line)
            }
        };
        let delivery = self.ports.messages.direct_message(self, &sender, &actor, &body)?;
        effects.deliveries.push(delivery);
        Ok(())
    }

    /// Turns every unprocessed booking event into its effects. Returns how
    /// many events it processed. An event that fails is logged and left for
    /// the next run; the others go on.
    pub async fn process_booking_events(&self) -> Result<usize, AppError> {
        let mut done = 0;
        let mut after = 0;
        loop {
            let batch = self.store.pending_events_after(after, 100).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            done += self.apply_events(&batch).await;
        }
        Ok(done)
    }

    /// Applies events in order, writing the effects of several in one
    /// transaction (a group commit). A batch holds one event per request:
    /// a request's later event may read what its earlier one wrote (a
    /// forgiveness reads the no-show's karma), so it waits for the next
    /// batch. A batch that fails is applied again one event at a time, so
    /// one bad event does not hold back the others.
    pub(super) async fn apply_events(&self, events: &[PendingEvent]) -> usize {
        let mut done = 0;
        let mut batch: Vec<(i64, Effects)> = Vec::new();
        let mut requests: Vec<Option<i64>> = Vec::new();
        for event in events {
            if event.request_id.is_some() && requests.contains(&event.request_id) {
                done += self.apply_batch(std::mem::take(&mut batch)).await;
                requests.clear();
            }
            match self.event_effects(event).await {
                Ok(effects) => {
                    batch.push((event.id, effects));
                    requests.push(event.request_id);
                }
                Err(err) => {
                    tracing::warn!(event = event.id, error = %err, "processing a booking event failed; will retry")
                }
            }
        }
        done += self.apply_batch(batch).await;
        if done > 0 {
            self.jobs.notify_one();
        }
        done
    }

    /// Writes a batch of events' effects in one transaction; how many were
    /// applied (an event another worker applied first is skipped).
    async fn apply_batch(&self, batch: Vec<(i64, Effects)>) -> usize {
        match batch.len() {
            0 => return 0,
            1 => {}
            _ => match self.store.apply_effects_batch(&batch, self.clock.now_ms()).await {
                Ok(done) => {
                    // Whoever's karma the batch may have changed is read again.
                    self.karma_changed(batch.iter().flat_map(|(_, effects)| effects.karma.iter().map(|k| k.user_id)));
                    return done;
                }
                Err(err) => {
                    tracing::warn!(error = %err, events = batch.len(), "a batch of booking events failed; one by one")
                }
            },
        }
        let mut done = 0;
        for (event, effects) in &batch {
            match self.store.apply_event_effects(*event, effects, self.clock.now_ms()).await {
                Ok(true) => {
                    done += 1;
                    self.karma_changed(effects.karma.iter().map(|k| k.user_id));
                }
                Ok(false) => {}
                Err(err) => tracing::warn!(event, error = %err, "processing a booking event failed; will retry"),
            }
        }
        done
    }

    async fn event_effects(&self, event: &PendingEvent) -> Result<Effects, AppError> {
        let mut effects = Effects::default();
        let Some(request_id) = event.request_id else { return Ok(effects) };
        let request = self.store.request(request_id).await?;
        let entry = self.store.session_entry(request_id).await?;
        let advisor = self.store.user_by_id(request.advisor_id).await?;
        let learner = self.store.user_by_id(request.learner_id).await?;
        let people =
            EventPeople { advisor: advisor.id, learner: learner.id, actor: event.actor_id, subject: event.subject_id };
        let rules = self.karma_rules().await?;
        for (recipient, kind) in notification::recipients(event.kind, people) {
            if recipient == advisor.id && advisor.is_remote() {
                // A remote advisor's slot: their own instance tells them.
                continue;
            }
            let (reader, other) = if recipient == advisor.id { (&advisor, &learner) } else { (&learner, &advisor) };
            let when = time_zone::format_range(entry.starts_at, entry.ends_at, &reader.timezone);
            let link = self.config.link(&format!("/requests/{request_id}"));
            let who = format!("{} (@{})", other.name(), other.username);
            let (subject, line) = match (kind, event.kind) {
                (Kind::RequestReceived, EventKind::Approved) => {
                    (format!("New session booked: {when}"), format!("{who} booked a session with you on {when}."))
                }
                (Kind::RequestReceived, _) => {
                    (format!("New session request: {when}"), format!("{who} asks for a session on {when}."))
                }
                (Kind::RequestApproved, _) => {
                    (format!("Session confirmed: {when}"), format!("Your session with {who} on {when} is confirmed."))
                }
                (Kind::RequestDeclined, _) => {
                    (format!("Request declined: {when}"), format!("{who} declined your request for {when}."))
                }
                (Kind::RequestCancelled, _) => {
                    let by =
                        if event.actor_id.is_some() { who.clone() } else { "The advisor's availability change".into() };
                    (format!("Session cancelled: {when}"), format!("{by} cancelled the session on {when}."))
                }
                (Kind::NoShow, EventKind::Forgiven) => (
                    format!("No-show forgiven: {when}"),
                    format!("{who} forgave your missed session on {when}; the karma points are back."),
                ),
                (Kind::NoShow, _) => (
                    format!("No-show recorded: {when}"),
                    format!(
                        "{who} recorded that you missed the session on {when} ({} karma). If that is wrong or \
                         something came up, write to them: they can forgive it within 7 days.",
                        rules.no_show
                    ),
                ),
                _ => continue,
            };
            let confirmed =
                matches!((kind, event.kind), (Kind::RequestApproved, _) | (Kind::RequestReceived, EventKind::Approved));
            let mut details = if confirmed {
                format!("{}\n\nSession page: {link}", self.room_lines(request_id, reader.id))
            } else {
                format!("Session page: {link}")
            };
            if !event.note.is_empty() {
                details = format!("Note: {}\n\n{details}", event.note);
            }
            // The offering the session is in, when its advisor named it.
            let about = crate::domain::offering::headline(
                entry.offering_title.as_deref().unwrap_or(crate::domain::offering::DEFAULT_TITLE),
                entry.offering_description.as_deref().unwrap_or_default(),
            );
            if !about.is_empty() {
                details = format!("About: {about}\n\n{details}");
            }
            if kind == Kind::RequestApproved {
                details = format!("{details}\n\n{}", crate::domain::preparation::as_text());
            }
            let from_id = Some(other.id);
            let reader = reader.clone();
            let notice = Notice {
                subject,
                line,
                details,
                actor_id: event.actor_id,
                request_id: Some(request_id),
                from_id,
                dm: None,
            };
            self.notify(&mut effects, &reader, kind, notice).await?;
        }
        effects.karma.extend(self.event_karma(event, &request, entry.starts_at, &rules).await?);
        // What other servers must hear: Join, Accept, Reject, Undo, acknowledgements.
        let (advisor_actor, learner_actor) =
            (self.store.remote_actor_of(&advisor).await?, self.store.remote_actor_of(&learner).await?);
        let people = super::ports::People {
            advisor: &advisor,
            learner: &learner,
            advisor_actor: advisor_actor.as_ref(),
            learner_actor: learner_actor.as_ref(),
        };
        let outgoing = self.ports.booking.booking_effects(self, event, &request, &entry, people).await?;
        effects.deliveries.extend(outgoing);
        Ok(effects)
    }

    /// Karma an event causes: a no-show, its forgiveness, a late cancellation.
    async fn event_karma(
        &self,
        event: &PendingEvent,
        request: &crate::storage::Request,
        starts_at: i64,
        rules: &karma::Rules,
    ) -> Result<Vec<NewKarma>, AppError> {
        let karma = |user_id: i64, kind: KarmaKind, points: i64, note: String| NewKarma {
            user_id,
            kind,
            points,
            request_id: Some(request.id),
            actor_id: event.actor_id,
            note,
        };
        let when = |zone: &str| time_zone::format_instant(starts_at, zone);
        Ok(match event.kind {
            EventKind::NoShow => match event.subject_id {
                Some(subject) => {
                    let user = self.store.user_by_id(subject).await?;
                    vec![karma(
                        subject,
                        KarmaKind::NoShow,
                        rules.no_show,
                        format!("Missed the session on {}", when(&user.timezone)),
                    )]
                }
                None => Vec::new(),
            },
            EventKind::Forgiven => match event.subject_id {
                Some(subject) => {
                    let lost = self.store.karma_points_for(request.id, subject, KarmaKind::NoShow).await?.unwrap_or(0);
                    let user = self.store.user_by_id(subject).await?;
                    vec![karma(
                        subject,
                        KarmaKind::Forgiven,
                        -lost,
                        format!("No-show on {} forgiven", when(&user.timezone)),
                    )]
                }
                None => Vec::new(),
            },
            EventKind::Cancelled => {
                let at = Timestamp::from_millisecond(event.created_at).unwrap_or(Timestamp::MIN);
                let start = Timestamp::from_millisecond(starts_at).unwrap_or(Timestamp::MIN);
                let events = self.store.request_events(request.id).await?;
                let was_approved = events.iter().any(|(kind, ..)| *kind == EventKind::Approved);
                match event.actor_id {
                    Some(actor)
                        if was_approved
                            && (actor == request.advisor_id || actor == request.learner_id)
                            && karma::is_late_cancellation(at, start, rules)
                            && rules.late_cancel != 0 =>
                    {
                        let user = self.store.user_by_id(actor).await?;
                        let note = format!("Cancelled the session on {} shortly before it", when(&user.timezone));
                        vec![karma(actor, KarmaKind::LateCancel, rules.late_cancel, note)]
                    }
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        })
    }

    /// Sends the reminders that are due now: for each approved session
    /// starting within a day, each person whose reminder time has come.
    pub async fn send_due_reminders(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let horizon = now.checked_add(SignedDuration::from_mins(crate::config::MAX_REMINDER_MINUTES)).unwrap_or(now);
        let candidates = self.store.reminder_candidates(now.as_millisecond(), horizon.as_millisecond()).await?;
        let mut sent = 0;
        for DueReminder { request_id, user_id, starts_at, reminder_minutes } in candidates {
            let minutes = reminder_minutes.unwrap_or(self.config.reminder_minutes);
            if minutes <= 0 || starts_at - minutes * 60_000 > now.as_millisecond() {
                continue;
            }
            let user = self.store.user_by_id(user_id).await?;
            let entry = self.store.session_entry(request_id).await?;
            let other = if entry.advisor_username == user.username {
                format!(
                    "{} (@{})",
                    crate::domain::account::shown_name(&entry.learner_name, &entry.learner_username),
                    entry.learner_username
                )
            } else {
                format!(
                    "{} (@{})",
                    crate::domain::account::shown_name(&entry.advisor_name, &entry.advisor_username),
                    entry.advisor_username
                )
            };
            let when = time_zone::format_range(entry.starts_at, entry.ends_at, &user.timezone);
            let in_minutes = ((starts_at - now.as_millisecond()) / 60_000).max(0);
            let link = self.config.link(&format!("/requests/{request_id}"));
            let request = self.store.request(request_id).await?;
            let from_id = Some(if request.learner_id == user.id { request.advisor_id } else { request.learner_id });
            let notice = Notice {
                from_id,
                dm: None,
                subject: format!("Reminder: session with {other} in {in_minutes} minutes"),
                line: format!("Your session with {other} starts in {in_minutes} minutes ({when})."),
                details: format!("{}\n\nSession page: {link}", self.room_lines(request_id, user.id)),
                actor_id: None,
                request_id: Some(request_id),
            };
            let mut effects = Effects::default();
            self.notify(&mut effects, &user, Kind::Reminder, notice).await?;
            if self.store.send_reminder(request_id, user_id, &effects, now.as_millisecond()).await? {
                sent += 1;
            }
        }
        if sent > 0 {
            self.jobs.notify_one();
        }
        Ok(sent)
    }
}

/// The texts of one notification: its mail subject, the one-line feed
/// entry (also the mail's first paragraph), and the mail's details.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub subject: String,
    pub line: String,
    pub details: String,
    pub actor_id: Option<i64>,
    pub request_id: Option<i64>,
    /// The local person a remote recipient's direct message comes from.
    pub from_id: Option<i64>,
    /// What a remote recipient reads instead of `line` and `details` (a
    /// message's own text); `None`: `line` and `details`, with the session
    /// link made their room link. Mail to local people then holds only
    /// `details` (which carry the whole text), not the `line` previewing it.
    pub dm: Option<String>,
}

/// One item of the activity feed.
pub struct FeedItem {
    pub notification: Notification,
    pub link: String,
    /// The note of a request someone sent the reader.
    pub note: Option<String>,
    /// The reader can approve or decline that request from the feed.
    pub decide: bool,
}
