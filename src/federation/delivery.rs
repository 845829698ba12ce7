//! Delivering stored activities: each row of `deliveries` is signed with its
//! sender's key (`signatures::SigningKey`, parsed once per sender; the RSA
//! work on [`super::signer`]'s low-priority threads, so a busy queue does not
//! starve the inbox) and POSTed
//! to its inbox through the federation HTTP client. The signature is RFC
//! 9421 (`rsa-v1_5-sha256`) unless the instance is known to take only
//! draft-cavage; an RFC 9421 POST answered 401 or 403 is sent again at once
//! with draft-cavage (the double-knock, [`super::knock`]), and what worked
//! is remembered per instance (`instances.http_signatures`, cached and
//! written only when it changes, with the group of successes it came with: a fan-out adds no
//! query for instances already known, and no commit at all).
//! Failures are retried with growing delays (1, 2, 4 … minutes by default,
//! `federation_retry_base_secs`) for about three days, then given up. An
//! inbox that refuses an activity (a 4xx other than 408 and 429) is not
//! asked again. Rows are claimed with a 30-second lease, so a crash
//! mid-send only delays them. The queue is `storage::DELIVERIES` with the
//! policy of `domain::retry`, as for mail.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::task::JoinSet;
use url::Url;

use crate::domain::federation::SignatureStyle;
use crate::domain::retry::RetryPolicy;
use crate::service::App;

use super::context::FedData;
use crate::service::AppError;
use crate::storage::{Delivery, Sent};

use super::actors;
use super::error::FederationError;
use super::knock::{self, Styles};
use super::signatures::SigningKey;
use super::signer::Signer;

/// Attempts before a delivery is given up (1, 2, 4 … minutes, at most 8
/// hours apart: about three days).
const ATTEMPTS: i64 = 16;
/// A claimed delivery is retried by anyone after this long: the send itself
/// times out after 10 s, so a worker that crashed mid-send delays it 30 s.
const LEASE_MS: i64 = 30_000;

/// The deliveries' retries: [`ATTEMPTS`] attempts, the first retry after
/// `federation_retry_base_secs` (a minute by default), then doubling.
fn retry_policy(app: &App) -> RetryPolicy {
    let base_secs = i64::try_from(app.config.federation_retry_base_secs).unwrap_or(i64::MAX / 1000);
    RetryPolicy::doubling(ATTEMPTS, LEASE_MS, base_secs.saturating_mul(1000))
}

/// Deliveries in flight at once (each to its own inbox; a fan-out of one
/// event to a thousand instances is a thousand rows).
const CONCURRENCY: usize = 32;
/// Rows claimed per query.
const CLAIM: i64 = 64;
/// Successful sends are recorded in groups of this many (one commit each).
const RECORD_EVERY: usize = 32;

/// What delivery keeps between passes: the federation HTTP client (see
/// `context::http_client`), each sender's parsed key, how each instance
/// takes our signatures (shared with the fetcher), and the low-priority
/// threads that sign ([`Signer`]).
pub struct Sender {
    client: reqwest::Client,
    keys: moka::sync::Cache<i64, Arc<SigningKey>>,
    pub(super) styles: Styles,
    signer: Signer,
}

impl Sender {
    pub fn new(client: reqwest::Client, styles: Styles) -> Sender {
        let keys = moka::sync::Cache::builder().max_capacity(10_000).time_to_idle(Duration::from_secs(3600)).build();
        Sender { client, keys, styles, signer: Signer::new() }
    }
}

/// Sends what is due, [`CONCURRENCY`] at a time, as a pipeline: a slow or
/// timing-out inbox holds one of the 32 places, not the whole batch. Returns
/// how many were delivered.
///
/// Successes are recorded in groups; a crash between a POST and its record
/// means that activity is POSTed again after its lease, which receivers
/// ignore (they deduplicate by activity id).
pub async fn deliver_due(data: &FedData) -> Result<usize, AppError> {
    let (app, sender) = (data.app(), &data.sender);
    let mut queue: VecDeque<Delivery> = VecDeque::new();
    let mut sending = JoinSet::new();
    let mut sent: Vec<Sent> = Vec::new();
    let mut delivered = 0;
    let mut drained = false;
    loop {
        if queue.is_empty() && !drained {
            let claimed = app.claim_deliveries(CLAIM, LEASE_MS).await?;
            drained = claimed.len() < CLAIM as usize;
            queue.extend(claimed);
        }
        while sending.len() < CONCURRENCY {
            let Some(row) = queue.pop_front() else { break };
            let key = match signing_key(app, sender, row.sender_id).await {
                Ok(key) => key,
                Err(err) => {
                    record_failure(app, &row, err).await?;
                    continue;
                }
            };
            let (app, client, styles, signer) =
                (app.clone(), sender.client.clone(), sender.styles.clone(), sender.signer.clone());
            sending.spawn(async move {
                let outcome = send(&app, &client, &styles, &signer, key, &row).await;
                (row, outcome)
            });
        }
        let Some(done) = sending.join_next().await else { break };
        match done {
            Ok((row, Ok(learned))) => {
                sent.push(Sent { id: row.id, domain: row.domain, learned });
                if sent.len() >= RECORD_EVERY {
                    delivered += sent.len();
                    app.deliveries_sent(&sent).await?;
                    sent.clear();
                }
            }
            Ok((row, Err(err))) => record_failure(app, &row, err).await?,
            Err(err) => tracing::error!(error = %err, "a delivery task panicked"),
        }
    }
    delivered += sent.len();
    app.deliveries_sent(&sent).await?;
    Ok(delivered)
}

/// A failed send: retried later, or given up (refused inboxes at once);
/// the instance's health records it.
async fn record_failure(app: &App, row: &Delivery, err: FederationError) -> Result<(), AppError> {
    // 1, 2, 4 … minutes by default; `federation_retry_base_secs` scales them.
    let refused = matches!(err, FederationError::Invalid(_));
    let now = app.clock.now_ms();
    let next = retry_policy(app).after_failure(row.attempts, now, refused);
    let gave_up = next.retry_at().is_none();
    tracing::warn!(activity = %row.activity_id, inbox = %row.inbox, attempt = row.attempts, error = %err, gave_up, "delivery failed");
    app.delivery_failed(row.id, &err.to_string(), next, now).await?;
    if !refused && app.instance_failed(&row.domain).await? {
        tracing::warn!(instance = %row.domain, "marked dead: its deliveries wait until it answers again");
    }
    Ok(())
}

/// A local person's signing key (parsed once, then cached).
async fn signing_key(app: &App, sender: &Sender, user_id: i64) -> Result<Arc<SigningKey>, FederationError> {
    if let Some(key) = sender.keys.get(&user_id) {
        return Ok(key);
    }
    let user = app.user_by_id(user_id).await?;
    let keys = app.actor_keys(&user).await?;
    let id = actors::person_id(app, &user.username)?;
    let key = Arc::new(SigningKey::from_pem(&id, &keys.private_pem)?);
    sender.keys.insert(user_id, key.clone());
    Ok(key)
}

/// Whether we send to this inbox at all: never to ourselves nor to an
/// address without a host name; outside test mode only `https` on the
/// default port (the HTTP client refuses names that resolve to private
/// addresses when it connects).
fn allowed_inbox(app: &App, inbox: &Url) -> bool {
    let ours = app.config.is_own_url(inbox);
    let named = inbox.domain().is_some();
    let test_mode = app.config.federation_test_mode;
    let scheme = inbox.scheme() == "https" || (test_mode && inbox.scheme() == "http");
    !ours && named && scheme && (test_mode || inbox.port().is_none())
}

/// POSTs one stored activity, exactly as stored, signed by its sender (on
/// the [`Signer`]'s threads): with RFC 9421 unless the instance takes only
/// draft-cavage, and with draft-cavage at once when RFC 9421 is refused
/// (401, 403). Returns how the instance took it when that is news (to be
/// recorded with the success, in the same commit).
async fn send(
    app: &App,
    client: &reqwest::Client,
    styles: &Styles,
    signer: &Signer,
    key: Arc<SigningKey>,
    row: &Delivery,
) -> Result<Option<SignatureStyle>, FederationError> {
    let inbox = Url::parse(&row.inbox).map_err(|_| FederationError::Invalid("bad stored inbox".into()))?;
    if !allowed_inbox(app, &inbox) {
        // Local, private or malformed addresses: a refusal, not a delivery.
        return Err(FederationError::Invalid(format!("the inbox {} is not allowed", row.inbox)));
    }
    let known = knock::known(app, styles, &row.domain).await?;
    // One copy of the body, shared by the signer and each POST.
    let body = bytes::Bytes::from(row.body.clone());
    let sign = |style: SignatureStyle| {
        let (key, inbox, body) = (key.clone(), inbox.clone(), body.clone());
        let now_secs = app.clock.now_ms().div_euclid(1000);
        signer.run(move || match style {
            SignatureStyle::Rfc9421 => key.sign_post_rfc9421(&inbox, &body, now_secs),
            SignatureStyle::Cavage => key.sign_post(&inbox, &body),
        })
    };
    let post = |headers: Vec<(&'static str, String)>| {
        let mut request = client.post(inbox.clone()).body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let unreachable = |err: String| FederationError::Remote(activitypub_federation::error::Error::Other(err));
    let limits = crate::outbound::federation_limits(&app.config);
    let failed = |err: reqwest::Error| unreachable(format!("{inbox}: {}", crate::outbound::failure(&err, &limits)));
    let mut used = knock::first(known);
    let mut response = post(sign(used).await?).await.map_err(failed)?;
    if knock::knock_again(used, response.status()) {
        tracing::debug!(%inbox, status = %response.status(), "RFC 9421 refused: knocking again with draft-cavage");
        used = SignatureStyle::Cavage;
        response = post(sign(used).await?).await.map_err(failed)?;
    }
    let status = response.status();
    if status.is_success() {
        return Ok(knock::worked(styles, &row.domain, known, used));
    }
    let why = format!("{inbox} answered {status}: {}", start_of(response).await);
    if status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT && status != StatusCode::TOO_MANY_REQUESTS {
        // Refused (a bad signature, an unknown actor, gone): asking again will not help.
        return Err(FederationError::Invalid(why));
    }
    Err(unreachable(why))
}

/// The first words of an answer (for the log and the admin page), reading
/// no more than a kilobyte of it.
async fn start_of(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < 1024 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(1024);
    first_words(&bytes)
}

/// Up to 200 characters of a body that is text, on one line; a body that
/// is not (bytes that are not UTF-8, control characters such as NUL, which
/// PostgreSQL would refuse to store) is named, not copied.
fn first_words(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // A character cut at the kilobyte's end is fine.
        Err(err) if err.error_len().is_none() => std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or_default(),
        Err(_) => return format!("({} bytes that are not text)", bytes.len()),
    };
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return format!("({} bytes that are not text)", bytes.len());
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::{ATTEMPTS, LEASE_MS, first_words};

    #[test]
    fn only_text_from_an_answer_is_kept() {
        assert_eq!(first_words(b"  Service\n  Unavailable "), "Service Unavailable");
        assert_eq!(first_words(&[0x5a, 0, 0x5a]), "(3 bytes that are not text)");
        assert_eq!(first_words(&[0xff, 0xfe, 0x41]), "(3 bytes that are not text)");
        assert_eq!(first_words(&"hé".as_bytes()[..2]), "h", "a character cut at the end");
        assert_eq!(first_words(&[b'x'; 1024]).len(), 200);
    }
    use crate::domain::retry::RetryPolicy;

    #[test]
    fn a_delivery_is_retried_for_more_than_two_days_before_it_is_given_up() {
        // Attempt n waits delay_ms(n) before the next; the last one gives up.
        let total = RetryPolicy::doubling(ATTEMPTS, LEASE_MS, 60_000).retry_span_ms();
        assert!(total >= 2 * 24 * 60 * 60_000, "only {} hours", total / 3_600_000);
        assert!(total <= 4 * 24 * 60 * 60_000, "{} hours is more than the documented three days", total / 3_600_000);
    }
}
