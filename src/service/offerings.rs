//! Named offerings (issue 17, item 13): what an advisor offers, with a
//! title, a description, a session length among the instance's, and its
//! own rules, questions and private link. The default offering reads the
//! advisor's booking rules, questions and private link, so an advisor who
//! names nothing keeps today's behaviour.

use crate::domain::FieldErrors;
use crate::domain::offering::{self, OfferingText};
use crate::domain::questions::{self, Question, QuestionInput};
use crate::storage::{AdvisorPolicy, Block, Offering, StorageError, User};

use super::{App, AppError};

/// An offering's rules as a form or the API sends them: `None` keeps the
/// advisor's booking rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferingRules {
    pub buffer_minutes: Option<i64>,
    pub min_notice_minutes: Option<i64>,
    pub horizon_days: Option<i64>,
    pub max_per_learner_week: Option<i64>,
    pub approval_required: Option<bool>,
    pub unlisted: Option<bool>,
    pub note_optional: Option<bool>,
}

/// An offering as the advisor describes it.
#[derive(Debug, Clone, Default)]
pub struct OfferingInput {
    pub title: String,
    pub description: String,
    /// Minutes, as typed (one of `session_lengths`).
    pub session_minutes: String,
    /// Ignored for the default offering (it reads the booking rules).
    pub rules: OfferingRules,
    /// Its own questions (none: it asks the advisor's); ignored for the
    /// default offering, whose questions are the booking rules page's.
    pub questions: Vec<QuestionInput>,
}

/// Questions checked and ready to store: (label, kind, required).
type ParsedQuestions = Vec<(String, questions::Kind, bool)>;

/// What people see of an offering beside a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferingLabel {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub minutes: i64,
    /// Named by its advisor (not the untouched default "Office hours").
    pub named: bool,
}

impl App {
    /// An advisor's offerings, the default one first (made when missing;
    /// someone who never was an advisor has none).
    pub async fn offerings(&self, advisor: &User) -> Result<Vec<Offering>, AppError> {
        let found = self.store.offerings(advisor.id).await?;
        if advisor.is_advisor && !advisor.is_remote() && !found.iter().any(|o| o.is_default) {
            // Made on first use ("Office hours"), then listed first.
            self.store.default_offering(advisor.id, self.clock.now_ms()).await?;
            return Ok(self.store.offerings(advisor.id).await?);
        }
        Ok(found)
    }

    /// One of `advisor`'s offerings; anyone else's answers as not found.
    pub async fn offering_of(&self, advisor: &User, id: i64) -> Result<Offering, AppError> {
        match self.store.offering(id).await {
            Ok(found) if found.advisor_id == advisor.id => Ok(found),
            Ok(_) | Err(StorageError::NotFound) => Err(AppError::NotFound("offering")),
            Err(other) => Err(other.into()),
        }
    }

    /// The session length of an offering.
    pub fn offering_minutes(&self, offering: &Offering) -> i64 {
        offering.session_minutes.unwrap_or(self.config.session_minutes)
    }

    /// What people see of an offering.
    pub fn offering_label(&self, offering: &Offering) -> OfferingLabel {
        OfferingLabel {
            id: offering.id,
            title: offering.title.clone(),
            description: offering.description.clone(),
            minutes: self.offering_minutes(offering),
            named: offering::is_named(&offering.title, &offering.description),
        }
    }

    /// The offering a block belongs to (`None` for a remote advisor's).
    pub async fn offering_for_block(&self, block: &Block) -> Result<Option<Offering>, AppError> {
        match block.offering_id {
            Some(id) => match self.store.offering(id).await {
                Ok(found) => Ok(Some(found)),
                Err(StorageError::NotFound) => Ok(None),
                Err(other) => Err(other.into()),
            },
            None => {
                let advisor = self.store.user_by_id(block.advisor_id).await?;
                if advisor.is_remote() {
                    return Ok(None);
                }
                Ok(Some(self.store.default_offering(advisor.id, self.clock.now_ms()).await?))
            }
        }
    }

    /// What people see of the offering of a slot's block, when its advisor
    /// named it.
    pub async fn named_offering_of_slot(&self, slot: &crate::storage::Slot) -> Result<Option<OfferingLabel>, AppError> {
        if slot.ap_id.is_some() {
            return Ok(None);
        }
        let Ok(block) = self.store.block(slot.block_id).await else { return Ok(None) };
        let offering = self.offering_for_block(&block).await?;
        Ok(offering.map(|o| self.offering_label(&o)).filter(|o| o.named))
    }

    /// The advisor's booking rules as they apply to one offering: its own
    /// rules over the advisor's.
    pub(crate) async fn policy_with_offering(
        &self,
        advisor_id: i64,
        offering: Option<&Offering>,
    ) -> Result<AdvisorPolicy, AppError> {
        let policy = self.store.advisor_policy(advisor_id).await?;
        Ok(match offering {
            Some(o) => with_offering(policy, o),
            None => policy,
        })
    }

    /// The rules a block's requests follow before the block's own
    /// overrides: its offering's over the advisor's.
    pub(crate) async fn policy_for_block(&self, block: &Block) -> Result<AdvisorPolicy, AppError> {
        let offering = self.offering_for_block(block).await?;
        self.policy_with_offering(block.advisor_id, offering.as_ref()).await
    }

    /// Adds a named offering.
    pub async fn create_offering(&self, advisor: &User, input: &OfferingInput) -> Result<Offering, AppError> {
        if !advisor.is_advisor {
            return Err(AppError::Forbidden(
                "not_an_advisor",
                "Switch on your advisor profile before you set up offerings.".into(),
            ));
        }
        let (text, rules, parsed) = self.check_offering(input, false)?;
        self.store.default_offering(advisor.id, self.clock.now_ms()).await?;
        let made =
            self.store.create_offering(&offering_of(advisor.id, 0, &text, &rules, false), self.clock.now_ms()).await?;
        self.availability_changed(advisor.id);
        if !parsed.is_empty() {
            self.store.save_offering_questions(advisor.id, made.id, &parsed).await?;
        }
        Ok(made)
    }

    /// Changes an offering. Slots already made keep their length; blocks
    /// added later follow the new one.
    pub async fn update_offering(&self, advisor: &User, id: i64, input: &OfferingInput) -> Result<Offering, AppError> {
        let current = self.offering_of(advisor, id).await?;
        let (text, rules, parsed) = self.check_offering(input, current.is_default)?;
        let mut changed = offering_of(advisor.id, current.id, &text, &rules, current.is_default);
        changed.private_link_hash = current.private_link_hash.clone();
        changed.created_at = current.created_at;
        self.store.update_offering(&changed).await?;
        self.availability_changed(advisor.id);
        if !current.is_default {
            self.store.save_offering_questions(advisor.id, current.id, &parsed).await?;
        }
        Ok(self.store.offering(current.id).await?)
    }

    /// Removes an offering and its availability ahead — never the default
    /// or last one, nor one with sessions ahead booked or asked for (those
    /// are kept, and the advisor is told what to do).
    pub async fn remove_offering(&self, advisor: &User, id: i64) -> Result<(), AppError> {
        let offering = self.offering_of(advisor, id).await?;
        let count = self.store.offerings(advisor.id).await?.len();
        let refuse = |r: offering::RemovalRefusal| AppError::Conflict(r.code(), r.message());
        offering::check_removal(offering.is_default, count, 0).map_err(refuse)?;
        let removed = self.store.remove_offering(offering.id, self.clock.now_ms()).await?;
        self.availability_changed(advisor.id);
        match removed {
            Ok(()) => Ok(()),
            Err(live) => Err(refuse(offering::RemovalRefusal::Booked(live))),
        }
    }

    /// The questions asked for an offering's times: its own, else the
    /// advisor's.
    pub async fn offering_questions(&self, offering: &Offering) -> Result<Vec<Question>, AppError> {
        if offering.is_default {
            return Ok(self.store.booking_questions(offering.advisor_id, None).await?);
        }
        Ok(self.store.offering_questions(offering.id).await?)
    }

    /// A new private link for one offering (the default offering's link is
    /// the advisor's, on the booking rules page); the previous one stops
    /// working. Only its hash is kept, so the link is shown once.
    pub async fn new_offering_link(&self, advisor: &User, id: i64) -> Result<String, AppError> {
        let mut offering = self.offering_of(advisor, id).await?;
        if offering.is_default {
            return self.new_private_link(advisor).await;
        }
        let secret = crate::service::secrets::new_secret();
        offering.private_link_hash = Some(crate::service::secrets::hash_secret(&secret));
        self.store.update_offering(&offering).await?;
        self.availability_changed(advisor.id);
        Ok(self.config.link(&format!("/book/{secret}")))
    }

    /// Checks an offering form: title, description, length, rules and
    /// questions, every mistake at once.
    fn check_offering(
        &self,
        input: &OfferingInput,
        is_default: bool,
    ) -> Result<(OfferingText, OfferingRules, ParsedQuestions), AppError> {
        let mut errors = FieldErrors::new();
        let text = match offering::check(
            &input.title,
            &input.description,
            &input.session_minutes,
            &self.config.session_lengths,
        ) {
            Ok(text) => Some(text),
            Err(found) => {
                errors.0.extend(found.0);
                None
            }
        };
        let rules = if is_default { OfferingRules::default() } else { input.rules.clone() };
        if let Err(AppError::Invalid(found)) = super::booking::validate_overrides(&crate::storage::BlockOverrides {
            buffer_minutes: rules.buffer_minutes,
            min_notice_minutes: rules.min_notice_minutes,
            horizon_days: rules.horizon_days,
            max_per_learner_week: rules.max_per_learner_week,
            approval_required: None,
            unlisted: None,
        }) {
            errors.0.extend(found.0);
        }
        let parsed = if is_default { Some(Vec::new()) } else { errors.check(questions::questions(&input.questions)) };
        match (text, parsed) {
            (Some(text), Some(parsed)) if errors.is_empty() => Ok((text, rules, parsed)),
            _ => Err(AppError::Invalid(errors)),
        }
    }
}

/// An offering's rules over the advisor's.
pub(crate) fn with_offering(policy: AdvisorPolicy, o: &Offering) -> AdvisorPolicy {
    AdvisorPolicy {
        buffer_minutes: o.buffer_minutes.unwrap_or(policy.buffer_minutes),
        min_notice_minutes: o.min_notice_minutes.unwrap_or(policy.min_notice_minutes),
        horizon_days: o.horizon_days.unwrap_or(policy.horizon_days),
        max_per_learner_week: o.max_per_learner_week.unwrap_or(policy.max_per_learner_week),
        approval_required: o.approval_required.unwrap_or(policy.approval_required),
        unlisted: o.unlisted.unwrap_or(policy.unlisted),
        note_optional: o.note_optional.unwrap_or(policy.note_optional),
        ..policy
    }
}

fn offering_of(advisor_id: i64, id: i64, text: &OfferingText, rules: &OfferingRules, is_default: bool) -> Offering {
    Offering {
        id,
        advisor_id,
        title: text.title.clone(),
        description: text.description.clone(),
        session_minutes: Some(text.session_minutes),
        is_default,
        buffer_minutes: rules.buffer_minutes,
        min_notice_minutes: rules.min_notice_minutes,
        horizon_days: rules.horizon_days,
        max_per_learner_week: rules.max_per_learner_week,
        approval_required: rules.approval_required,
        unlisted: rules.unlisted,
        note_optional: rules.note_optional,
        private_link_hash: None,
        created_at: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offerings_rules_come_before_the_advisors() {
        let advisor = AdvisorPolicy::defaults(1);
        let mut offering = offering_of(
            1,
            2,
            &OfferingText { title: "Reviews".into(), description: String::new(), session_minutes: 30 },
            &OfferingRules { min_notice_minutes: Some(0), note_optional: Some(true), ..Default::default() },
            false,
        );
        let policy = with_offering(advisor.clone(), &offering);
        assert_eq!((policy.min_notice_minutes, policy.note_optional), (0, true), "its own");
        assert_eq!(
            (policy.max_per_learner_week, policy.horizon_days, policy.approval_required),
            (advisor.max_per_learner_week, advisor.horizon_days, advisor.approval_required),
            "the rest is the advisor's"
        );
        offering.unlisted = Some(false);
        let unlisted_advisor = AdvisorPolicy { unlisted: true, ..advisor };
        assert!(!with_offering(unlisted_advisor, &offering).unlisted, "a listed offering of an unlisted advisor");
    }
}
