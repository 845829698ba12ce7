//! Account use cases: sign-up, e-mail verification, log-in and log-out,
//! password reset and change, settings, suspension. API tokens:
//! `api_tokens.rs`.

use std::net::IpAddr;

use crate::domain::{FieldErrors, account, time_zone};
use crate::mail::messages;
use crate::service::App;
use crate::storage::{EmailTokenPurpose, NewUser, ProfileUpdate, User};

use super::AppError;
use super::secrets::{hash_password, hash_secret, new_secret, verify_password};

pub const SESSION_DAYS: i64 = 30;
const VERIFY_HOURS: i64 = 48;
const RESET_HOURS: i64 = 1;
const HOUR_MS: i64 = 3_600_000;

/// What someone typed into the sign-up form (or sent to the API).
#[derive(Debug, Clone, Default)]
pub struct SignUp {
    pub username: String,
    pub email: String,
    pub password: String,
    pub display_name: String,
    pub timezone: String,
}

/// How many accounts the admins' list shows at once.
pub const PEOPLE_SHOWN: i64 = 100;
/// The roles the admins' list filters by, with their labels.
pub const PEOPLE_ROLES: [(&str, &str); 4] =
    [("any", "Any role"), ("learner", "Learners only"), ("advisor", "Advisors"), ("admin", "Admins")];
/// The account states the admins' list filters by, with their labels.
pub const PEOPLE_STATES: [(&str, &str); 4] =
    [("any", "Any state"), ("active", "Active"), ("unconfirmed", "E-mail not confirmed"), ("suspended", "Suspended")];

/// Roles an admin gives at creation (CLI); sign-up gives none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles {
    pub advisor: bool,
    pub pro: bool,
    pub admin: bool,
    /// Accounts made by an admin need no e-mail confirmation.
    pub verified: bool,
}

/// What a visitor's sign-up did (see [`App::sign_up_visitor`]).
pub enum SignUpOutcome {
    Created(Box<User>),
    /// The address has an account; its owner was told by mail.
    AddressInUse {
        email: String,
    },
}

/// After a password change: the new session's secret, and how many API
/// tokens were revoked.
pub struct PasswordChanged {
    pub session_secret: String,
    pub tokens_revoked: u64,
}

/// A fresh log-in session: the cookie secret and who it belongs to.
pub struct LoggedIn {
    pub user: User,
    pub session_secret: String,
}

impl App {
    /// Validates every field, reports all problems at once, then creates the
    /// account and sends the confirmation mail.
    pub async fn sign_up(&self, input: &SignUp, roles: Roles) -> Result<User, AppError> {
        self.sign_up_then(input, roles, "").await
    }

    /// [`App::sign_up`] whose confirmation link leads on to `next` (a local
    /// path the web layer has checked; empty for none).
    async fn sign_up_then(&self, input: &SignUp, roles: Roles, next: &str) -> Result<User, AppError> {
        let mut errors = FieldErrors::new();
        let username = errors.check(account::username(&input.username));
        let email = errors.check(account::email(&input.email));
        let display_name = errors.check(account::display_name(&input.display_name));
        let timezone = errors.check(time_zone::parse("timezone", &input.timezone));
        let hints: Vec<&str> = [input.username.as_str(), input.email.as_str(), input.display_name.as_str()]
            .into_iter()
            .filter(|h| !h.is_empty())
            .collect();
        errors.check(account::password(&input.password, &hints));
        if let Some(name) = &username
            && self.store.username_taken(name).await?
        {
            errors.add("username", "username_taken", "That username is taken; pick another.");
        }
        if let Some(address) = &email
            && self.store.email_taken(address).await?
        {
            errors.add("email", "email_taken", "An account with that e-mail address already exists.");
        }
        errors.clone().into_result()?;
        let (Some(username), Some(email), Some(display_name), Some(timezone)) =
            (username, email, display_name, timezone)
        else {
            return Err(AppError::Invalid(errors));
        };
        let new = NewUser {
            username,
            email,
            email_verified: roles.verified,
            password_hash: hash_password(input.password.clone()).await?,
            display_name,
            timezone,
            is_advisor: roles.advisor,
            is_pro: roles.pro,
            is_admin: roles.admin,
        };
        let user = self.store.create_user(&new, self.clock.now_ms()).await?;
        tracing::info!(username = %user.username, "account created");
        if !user.email_verified {
            self.send_verification_then(&user, next).await?;
        }
        Ok(user)
    }

    /// A sign-up by a visitor (the web form, the API). Every attempt counts
    /// against the client address, successful or not. An address that
    /// already has an account is never named as such: the owner gets a mail
    /// (log in, or reset the password) and the caller the same answer as for
    /// a new account ([`SignUpOutcome::AddressInUse`], answered like
    /// `Created` by the API), as the reset form does. `next` is where the
    /// confirmation link leads after confirming (a local path the web layer
    /// has checked; empty for none).
    pub async fn sign_up_visitor(
        &self,
        input: &SignUp,
        client: Option<IpAddr>,
        next: &str,
    ) -> Result<SignUpOutcome, AppError> {
        if let Some(ip) = client {
            let key = format!("signup:{ip}");
            self.action_limiter.check(&key)?;
            self.action_limiter.record_failure(&key);
        }
        let errors = match self.sign_up_then(input, Roles::default(), next).await {
            Ok(user) => return Ok(SignUpOutcome::Created(Box::new(user))),
            Err(AppError::Invalid(errors)) => errors,
            Err(other) => return Err(other),
        };
        let (taken, others): (Vec<_>, Vec<_>) = errors.0.into_iter().partition(|e| e.code == "email_taken");
        if !others.is_empty() || taken.is_empty() {
            return Err(AppError::Invalid(FieldErrors(others)));
        }
        // As long as a new account takes: the password is hashed either way.
        let _ = hash_password(input.password.clone()).await?;
        let owner = self.store.user_by_email(&account::email(&input.email)?).await?;
        let mail = messages::sign_up_with_your_address(
            &self.config.instance_name,
            &owner.email,
            owner.name(),
            &self.config.link("/login"),
            &self.config.link("/password/forgot"),
        );
        self.queue_mail(mail).await?;
        Ok(SignUpOutcome::AddressInUse { email: owner.email })
    }

    pub async fn send_verification(&self, user: &User) -> Result<(), AppError> {
        self.send_verification_then(user, "").await
    }

    /// The confirmation mail, whose link carries `next` (where the person
    /// was going when they signed up) so that confirming leads back there.
    async fn send_verification_then(&self, user: &User, next: &str) -> Result<(), AppError> {
        let mut link = self.new_mail_link(user, EmailTokenPurpose::Verify, VERIFY_HOURS, "/verify-email").await?;
        if !next.is_empty() {
            link.push_str("&next=");
            link.extend(url::form_urlencoded::byte_serialize(next.as_bytes()));
        }
        self.queue_mail(messages::verify_email(&self.config.instance_name, &user.email, user.name(), &link)).await?;
        Ok(())
    }

    /// Stores a one-use link for `user` and returns its absolute URL.
    async fn new_mail_link(
        &self,
        user: &User,
        purpose: EmailTokenPurpose,
        valid_hours: i64,
        path: &str,
    ) -> Result<String, AppError> {
        let secret = new_secret();
        let now = self.clock.now_ms();
        let expires = now + valid_hours * HOUR_MS;
        self.store.create_email_token(user.id, purpose, &hash_secret(&secret), &user.email, expires, now).await?;
        Ok(self.config.link(&format!("{path}?token={secret}")))
    }

    pub async fn verify_email(&self, secret: &str) -> Result<User, AppError> {
        let now = self.clock.now_ms();
        let found = self.store.consume_email_token(EmailTokenPurpose::Verify, &hash_secret(secret), now).await?;
        let Some((user_id, email)) = found else {
            return Err(AppError::Forbidden(
                "link_expired",
                "This confirmation link has expired or was already used. Log in to get a new one.".into(),
            ));
        };
        let verified = self.store.mark_email_verified(user_id, &email, now).await?;
        self.person_changed(user_id);
        if !verified {
            return Err(AppError::Forbidden(
                "link_expired",
                "This link was for an address you have since changed. Log in to get a new one.".into(),
            ));
        }
        Ok(self.store.user_by_id(user_id).await?)
    }

    /// Checks the password, counting failures per account and per address,
    /// and opens a new session (a new secret every time: sessions are rotated
    /// at log-in, so a planted cookie is worthless).
    pub async fn log_in(&self, login: &str, password: &str, client: Option<IpAddr>) -> Result<LoggedIn, AppError> {
        let login = login.trim().to_lowercase();
        let client_key = client.map(|ip| format!("ip:{ip}"));
        if let Some(key) = &client_key {
            self.client_limiter.check(key)?;
        }
        let user = if login.contains('@') {
            self.store.user_by_email(&login).await
        } else {
            self.store.user_by_username(&login).await
        };
        let user = match user {
            Ok(user) => Some(user),
            Err(crate::storage::StorageError::NotFound) => None,
            Err(other) => return Err(other.into()),
        };
        // Failures count against the account, whichever of its names was
        // typed (username or e-mail address); unknown names count by name.
        let account_key = match &user {
            Some(user) => format!("account:{}", user.id),
            None => format!("login:{login}"),
        };
        self.login_limiter.check(&account_key)?;
        // Verify against a dummy hash for unknown accounts too, so timing
        // does not tell which usernames exist.
        let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = verify_password(password.to_string(), hash).await && user.is_some();
        let Some(user) = user.filter(|_| ok) else {
            self.login_limiter.record_failure(&account_key);
            if let Some(key) = &client_key {
                self.client_limiter.record_failure(key);
            }
            return Err(AppError::WrongCredentials);
        };
        self.login_limiter.clear(&account_key);
        if user.suspended_at.is_some() {
            return Err(AppError::Forbidden(
                "account_suspended",
                "This account is suspended. Write to the instance's admins if you think that is a mistake.".into(),
            ));
        }
        let session_secret = self.start_session(user.id).await?;
        Ok(LoggedIn { user, session_secret })
    }

    pub async fn start_session(&self, user_id: i64) -> Result<String, AppError> {
        let secret = new_secret();
        let now = self.clock.now_ms();
        let expires = now + SESSION_DAYS * 24 * HOUR_MS;
        self.store.create_login_session(&hash_secret(&secret), user_id, expires, now).await?;
        Ok(secret)
    }

    pub async fn session_user(&self, secret: &str) -> Result<Option<User>, AppError> {
        Ok(self.store.login_session_user(&hash_secret(secret), self.clock.now_ms()).await?)
    }

    pub async fn log_out(&self, secret: &str) -> Result<(), AppError> {
        Ok(self.store.delete_login_session(&hash_secret(secret)).await?)
    }

    /// Always succeeds from the outside, so the form does not reveal which
    /// addresses have accounts; a mail goes out only for a real one.
    pub async fn request_password_reset(&self, email: &str, client: Option<IpAddr>) -> Result<(), AppError> {
        let email = account::email(email)?;
        if let Some(ip) = client {
            let key = format!("reset:{ip}");
            self.action_limiter.check(&key)?;
            self.action_limiter.record_failure(&key);
        }
        let user = match self.store.user_by_email(&email).await {
            Ok(user) => user,
            Err(crate::storage::StorageError::NotFound) => return Ok(()),
            Err(other) => return Err(other.into()),
        };
        let link = self.new_mail_link(&user, EmailTokenPurpose::Reset, RESET_HOURS, "/password/reset").await?;
        self.queue_mail(messages::password_reset(&self.config.instance_name, &user.email, user.name(), &link)).await?;
        Ok(())
    }

    /// Who a reset link belongs to, if it is still valid.
    pub async fn reset_link_user(&self, secret: &str) -> Result<User, AppError> {
        self.store
            .peek_email_token(EmailTokenPurpose::Reset, &hash_secret(secret), self.clock.now_ms())
            .await?
            .ok_or_else(reset_link_dead)
    }

    pub async fn reset_password(&self, secret: &str, new_password: &str) -> Result<User, AppError> {
        let user = self.reset_link_user(secret).await?;
        account::password(new_password, &[&user.username, &user.email, &user.display_name])?;
        let hash = hash_password(new_password.to_string()).await?;
        match self.store.reset_password(&hash_secret(secret), &hash, self.clock.now_ms()).await? {
            Some(_) => Ok(user),
            None => Err(reset_link_dead()),
        }
    }

    pub async fn update_profile(
        &self,
        user: &User,
        display_name: &str,
        bio: &str,
        timezone: &str,
    ) -> Result<User, AppError> {
        let mut errors = FieldErrors::new();
        let display_name = errors.check(account::display_name(display_name));
        let bio = errors.check(account::bio(bio));
        let timezone = errors.check(time_zone::parse("timezone", timezone));
        match (display_name, bio, timezone) {
            (Some(display_name), Some(bio), Some(timezone)) => {
                let update = ProfileUpdate { display_name, bio, timezone };
                let updated = self.store.update_profile(user.id, &update, self.clock.now_ms()).await?;
                self.person_changed(user.id);
                Ok(updated)
            }
            _ => Err(AppError::Invalid(errors)),
        }
    }

    /// A new address needs the current password and a fresh confirmation.
    pub async fn change_email(&self, user: &User, new_email: &str, password: &str) -> Result<User, AppError> {
        let email = account::email(new_email)?;
        self.require_password(user, password).await?;
        if email == user.email {
            return Ok(user.clone());
        }
        if self.store.email_taken(&email).await? {
            return Err(AppError::invalid(
                "email",
                "email_taken",
                "An account with that e-mail address already exists.",
            ));
        }
        let updated = self.store.change_email(user.id, &email, self.clock.now_ms()).await?;
        self.person_changed(user.id);
        self.send_verification(&updated).await?;
        Ok(updated)
    }

    /// Changes the password, ends every session, revokes every API token
    /// unless `keep_tokens`, and opens a new session for the person who
    /// changed it.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        keep_tokens: bool,
    ) -> Result<PasswordChanged, AppError> {
        self.require_password(user, current).await?;
        account::password(new, &[&user.username, &user.email, &user.display_name])?;
        self.store.set_password(user.id, &hash_password(new.to_string()).await?, self.clock.now_ms()).await?;
        self.store.delete_user_login_sessions(user.id).await?;
        let tokens_revoked = if keep_tokens { 0 } else { self.revoke_all_api_tokens(user.id).await? };
        let session_secret = self.start_session(user.id).await?;
        Ok(PasswordChanged { session_secret, tokens_revoked })
    }

    async fn require_password(&self, user: &User, password: &str) -> Result<(), AppError> {
        if verify_password(password.to_string(), user.password_hash.clone()).await {
            Ok(())
        } else {
            Err(AppError::invalid("current_password", "wrong_password", "Your current password is not right."))
        }
    }

    /// Suspends a person or lifts the suspension (admins only). Suspended
    /// people cannot log in, request sessions or receive messages, and
    /// their calendar feed stops answering. A suspended advisor's profile
    /// and availability are hidden, new requests are refused with the
    /// reason, their pending and upcoming sessions are declined or
    /// cancelled (the learners are told), and their published events are
    /// deleted for their followers (published again if it is lifted).
    /// The admins' list of people (local accounts, newest first, at most
    /// [`PEOPLE_SHOWN`]): `q` searched in names and addresses, `role` one of
    /// [`PEOPLE_ROLES`], `state` one of [`PEOPLE_STATES`] (empty: any).
    pub async fn people(&self, admin: &User, q: &str, role: &str, state: &str) -> Result<Vec<User>, AppError> {
        if !admin.is_admin {
            return Err(AppError::Forbidden("admin_only", "Only admins can list accounts.".into()));
        }
        let mut errors = FieldErrors::new();
        let role = if role.is_empty() { "any" } else { role };
        let state = if state.is_empty() { "any" } else { state };
        if !PEOPLE_ROLES.iter().any(|(value, _)| *value == role) {
            errors.add("role", "unknown_role", format!("“{role}” is not a role here; choose one from the list."));
        }
        if !PEOPLE_STATES.iter().any(|(value, _)| *value == state) {
            errors.add(
                "state",
                "unknown_state",
                format!("“{state}” is not an account state; choose one from the list."),
            );
        }
        errors.into_result()?;
        let pattern = crate::storage::like_pattern(q.trim().trim_start_matches('@'));
        Ok(self.store.list_users(&pattern, role, state, PEOPLE_SHOWN).await?)
    }

    pub async fn set_suspended(&self, admin: &User, username: &str, suspended: bool) -> Result<User, AppError> {
        if !admin.is_admin {
            return Err(AppError::Forbidden("admin_only", "Only admins can suspend accounts.".into()));
        }
        let user = match self.store.user_by_username(username).await {
            Ok(user) => user,
            Err(crate::storage::StorageError::NotFound) => return Err(AppError::NotFound("person")),
            Err(other) => return Err(other.into()),
        };
        if user.id == admin.id {
            return Err(AppError::invalid("username", "cannot_suspend_self", "You cannot suspend yourself."));
        }
        let now = self.clock.now_ms();
        self.store.set_suspended(user.id, suspended.then_some(now), now).await?;
        self.person_changed(user.id);
        if suspended {
            self.revoke_all_api_tokens(user.id).await?;
        }
        self.directory_changed();
        tracing::info!(username = %user.username, suspended, by = %admin.username, "suspension changed");
        let user = self.store.user_by_id(user.id).await?;
        if suspended {
            self.call_off_sessions_of(&user).await?;
        }
        if user.is_advisor && !user.is_remote() {
            // Followers drop the events now (or get them back), not at the next pass.
            if let Err(err) = self.ports.publisher.publish_for(self, &user).await {
                tracing::warn!(error = %err, "publishing after a suspension change failed; retried next pass");
            }
        }
        Ok(user)
    }

    /// Declines the pending requests and cancels the upcoming sessions a
    /// suspended advisor was to hold, with a note the learners receive.
    async fn call_off_sessions_of(&self, advisor: &User) -> Result<(), AppError> {
        const NOTE: &str =
            "The advisor's account was suspended by this instance's admins, so this session cannot take place.";
        let now = self.clock.now_ms();
        let sessions = self.store.sessions_between(advisor.id, now, i64::MAX).await?;
        for entry in sessions.iter().filter(|e| e.advisor_username == advisor.username) {
            let action = match entry.status {
                crate::domain::booking::RequestStatus::Requested => crate::domain::booking::Action::Decline,
                crate::domain::booking::RequestStatus::Approved => crate::domain::booking::Action::Cancel,
                _ => continue,
            };
            self.decide(advisor, entry.request_id, action, NOTE).await?;
        }
        Ok(())
    }
}

fn reset_link_dead() -> AppError {
    AppError::Forbidden(
        "link_expired",
        "This reset link has expired or was already used. Ask for a new one below.".into(),
    )
}

/// An argon2id hash of a random string, verified against for unknown logins.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Hh0Mn3OQFeM6F5j3lEhmMuIbC8LoxYJ9rTr6E2dPfc";

#[cfg(test)]
mod tests {
    use super::DUMMY_HASH;

    /// Unknown log-ins must cost a real argon2id verification, or timing
    /// would tell which usernames exist: the dummy hash has to parse.
    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_hash() {
        let parsed = argon2::password_hash::PasswordHash::new(DUMMY_HASH).expect("parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.params.get_decimal("m"), Some(19456), "same cost as real hashes");
    }
}
