//! Karma (K1): scores, the admin's rules, recording and forgiving no-shows,
//! and attendance points once a session's no-show window has closed.
//!
//! Until the voice room exists, a no-show is recorded by the other party
//! (from the session's start until 24 hours after its end). Attendance
//! (+1 each by default) is given when that window closes without one.

use jiff::Timestamp;

use crate::domain::booking::EventKind;
use crate::domain::karma::{self, KarmaKind, Rules};
use crate::service::App;
use crate::storage::{Effects, KarmaEvent, NewKarma, StorageError, User};

use super::AppError;

const SETTINGS_PREFIX: &str = "karma.";

/// A person's karma: score, what it allows, and the history behind it.
#[derive(Debug, Clone)]
pub struct KarmaReport {
    pub score: i64,
    pub rules: Rules,
    pub can_request: Result<(), String>,
    pub history: Vec<KarmaEvent>,
}

impl App {
    /// The instance's rules (admin settings over the defaults).
    pub async fn karma_rules(&self) -> Result<Rules, AppError> {
        let stored = self.store.instance_settings(SETTINGS_PREFIX).await?;
        Ok(Rules::from_settings(stored.iter().map(|(n, v)| (n.as_str(), v.as_str()))))
    }

    /// The rules as the directory reads them: cached for a minute, dropped
    /// on this node when an admin changes them.
    pub async fn cached_karma_rules(&self) -> Result<Rules, AppError> {
        if let Some((stamp, rules)) = self.karma_rules_cache.get(&())
            && self.changes.fresh_for_everyone(stamp)
        {
            return Ok(rules);
        }
        let stamp = self.changes.stamp();
        let rules = self.karma_rules().await?;
        self.karma_rules_cache.insert((), (stamp, rules));
        Ok(rules)
    }

    /// Changes some rules (admins only); every value is checked first and
    /// nothing is saved when one is wrong.
    pub async fn save_karma_rules(&self, admin: &User, changes: &[(String, String)]) -> Result<Rules, AppError> {
        if !admin.is_admin {
            return Err(AppError::Forbidden("admin_only", "Only admins can change the karma rules.".into()));
        }
        let current = self.karma_rules().await?;
        let rules = current.with_changes(changes.iter().map(|(n, v)| (n.as_str(), v.as_str())))?;
        let values: Vec<(&str, String)> =
            karma::SETTINGS.iter().map(|(name, ..)| (*name, rules.get(name).unwrap_or_default().to_string())).collect();
        self.store.save_instance_settings(SETTINGS_PREFIX, &values, self.clock.now_ms()).await?;
        // The directory's threshold (and so who it lists) may have changed.
        self.changes.everyone();
        self.karma_rules_cache.invalidate_all();
        self.directory_changed();
        Ok(rules)
    }

    pub async fn karma_score(&self, user: &User) -> Result<i64, AppError> {
        Ok(self.store.karma_score(user.id).await?)
    }

    pub async fn karma_report(&self, user: &User) -> Result<KarmaReport, AppError> {
        self.settle_effects().await;
        let score = self.store.karma_score(user.id).await?;
        let rules = self.karma_rules().await?;
        Ok(KarmaReport {
            score,
            rules,
            can_request: karma::can_request(score, &rules),
            history: self.store.karma_history(user.id, 200).await?,
        })
    }

    /// Refuses a request when the learner's karma is below the threshold,
    /// saying why and how to recover.
    pub async fn check_karma_allows_requests(&self, learner: &User) -> Result<(), AppError> {
        self.settle_karma().await;
        let score = self.store.karma_score(learner.id).await?;
        karma::can_request(score, &self.karma_rules().await?).map_err(|why| AppError::Forbidden("karma_too_low", why))
    }

    /// Records that the other party did not come to an approved session.
    pub async fn mark_no_show(&self, user: &User, request_id: i64, note: &str) -> Result<(), AppError> {
        let note = crate::domain::validation_text("note", "A note", note, super::booking::NOTE_MAX)?;
        let now = self.clock.now();
        let me = user.id;
        let outcome = self
            .store
            .add_request_event(
                request_id,
                user.id,
                EventKind::NoShow,
                &note,
                |h| {
                    let absent = if h.request.advisor_id == me {
                        h.request.learner_id
                    } else if h.request.learner_id == me {
                        h.request.advisor_id
                    } else {
                        return Err("not_yours");
                    };
                    if h.request.status != crate::domain::booking::RequestStatus::Approved {
                        return Err("not_approved");
                    }
                    if h.events.iter().any(|(kind, ..)| *kind == EventKind::NoShow) {
                        return Err("no_show_recorded");
                    }
                    karma::no_show_open(now, ms(h.starts_at), ms(h.ends_at))?;
                    Ok(Some(absent))
                },
                now.as_millisecond(),
            )
            .await;
        self.refusal(outcome)?;
        self.after_booking_change(&[request_id], true);
        // Karma shows on profiles and in the directory: answered once written.
        self.settle_karma().await;
        Ok(())
    }

    /// Forgives a no-show the user recorded, within 7 days: the absent
    /// person gets their points back.
    pub async fn forgive_no_show(&self, user: &User, request_id: i64, note: &str) -> Result<(), AppError> {
        let note = crate::domain::validation_text("note", "A note", note, super::booking::NOTE_MAX)?;
        let now = self.clock.now();
        let me = user.id;
        let outcome = self
            .store
            .add_request_event(
                request_id,
                user.id,
                EventKind::Forgiven,
                &note,
                |h| {
                    if h.request.advisor_id != me && h.request.learner_id != me {
                        return Err("not_yours");
                    }
                    let recorded = h
                        .events
                        .iter()
                        .rev()
                        .find(|(kind, actor, ..)| *kind == EventKind::NoShow && *actor == Some(me));
                    let Some((_, _, subject, at)) = recorded else { return Err("no_no_show") };
                    if h.events.iter().any(|(kind, ..)| *kind == EventKind::Forgiven) {
                        return Err("already_forgiven");
                    }
                    karma::forgive_open(now, ms(*at))?;
                    Ok(*subject)
                },
                now.as_millisecond(),
            )
            .await;
        self.refusal(outcome)?;
        self.after_booking_change(&[request_id], true);
        // Karma shows on profiles and in the directory: answered once written.
        self.settle_karma().await;
        Ok(())
    }

    /// After karma points were given or taken: the profiles showing them
    /// and the directory (whose threshold may now hide or show someone).
    pub(crate) fn karma_changed(&self, people: impl IntoIterator<Item = i64>) {
        let mut any = false;
        for person in people {
            self.person_changed(person);
            any = true;
        }
        if any {
            self.directory_changed();
        }
    }

    fn refusal(&self, outcome: Result<Result<(), &'static str>, StorageError>) -> Result<(), AppError> {
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err("not_yours")) | Err(StorageError::NotFound) => Err(AppError::NotFound("request")),
            Ok(Err(code)) => Err(AppError::Conflict(code, karma_message(code).into())),
            Err(other) => Err(other.into()),
        }
    }

    /// Gives attendance points for approved sessions whose no-show window
    /// has closed; people recorded absent get none (forgiven or not).
    pub async fn settle_attendance(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let cutoff = now.checked_sub(karma::NO_SHOW_WINDOW).unwrap_or(Timestamp::MIN);
        let rules = self.karma_rules().await?;
        let mut settled = 0;
        loop {
            let batch = self.store.settle_candidates(cutoff.as_millisecond(), 100).await?;
            if batch.is_empty() {
                break;
            }
            for candidate in batch {
                let absent = self.store.absentees(candidate.request_id).await?;
                let mut effects = Effects::default();
                for person in [candidate.advisor_id, candidate.learner_id] {
                    if !absent.contains(&person) && rules.attended != 0 {
                        effects.karma.push(NewKarma {
                            user_id: person,
                            kind: KarmaKind::Attended,
                            points: rules.attended,
                            request_id: Some(candidate.request_id),
                            actor_id: None,
                            note: "Attended a session".into(),
                        });
                    }
                }
                if self.store.settle_request(candidate.request_id, &effects, now.as_millisecond()).await? {
                    settled += 1;
                    self.karma_changed(effects.karma.iter().map(|k| k.user_id));
                }
            }
        }
        Ok(settled)
    }
}

fn karma_message(code: &str) -> &'static str {
    match code {
        "not_approved" => "Only a confirmed session can have a no-show.",
        "no_show_recorded" => "A no-show is already recorded for this session.",
        "session_not_started" => "The session has not started yet.",
        "no_show_window_closed" => "No-shows can be recorded until 24 hours after the session.",
        "no_no_show" => "You have not recorded a no-show for this session.",
        "already_forgiven" => "This no-show is already forgiven.",
        "forgive_window_closed" => "A no-show can be forgiven within 7 days of recording it.",
        _ => "This is not possible for this session.",
    }
}

fn ms(at: i64) -> Timestamp {
    Timestamp::from_millisecond(at).unwrap_or(Timestamp::MIN)
}
