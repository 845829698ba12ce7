//! The double-knock's memory: how each instance takes our signatures.
//!
//! A request to an instance is signed with RFC 9421 unless the instance is
//! known to take only draft-cavage; an RFC 9421 request answered 401 or
//! 403 is sent again at once with draft-cavage. What worked is remembered
//! per instance (`instances.http_signatures`), for deliveries (POSTs,
//! [`super::delivery`]) and fetches (GETs, [`super::fetch`]) alike, and
//! cached here so that neither asks the database each time.

use std::time::Duration;

use reqwest::StatusCode;

use crate::domain::federation::SignatureStyle;
use crate::service::{App, AppError};

/// How each instance (by domain, `host[:port]`) takes our signatures, as
/// last read or learned; `None`: not known yet.
pub type Styles = moka::sync::Cache<String, Option<SignatureStyle>>;

/// An empty memory (shared by the delivery queue and the fetcher), large
/// enough for a fan-out to every instance of a big following (an entry is a
/// domain name: 100,000 of them are a few MB).
pub fn styles() -> Styles {
    moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(3600)).build()
}

/// How `domain` takes our signatures, when known: from the cache, else
/// from storage (and then cached).
pub async fn known(app: &App, styles: &Styles, domain: &str) -> Result<Option<SignatureStyle>, AppError> {
    if let Some(known) = styles.get(domain) {
        return Ok(known);
    }
    let known = app.instance_signatures(domain).await?;
    styles.insert(domain.to_string(), known);
    Ok(known)
}

/// The signature to try first: RFC 9421 unless draft-cavage is known.
pub fn first(known: Option<SignatureStyle>) -> SignatureStyle {
    known.unwrap_or(SignatureStyle::Rfc9421)
}

/// Whether an answer to `used` calls for the second knock (draft-cavage).
pub fn knock_again(used: SignatureStyle, status: StatusCode) -> bool {
    used == SignatureStyle::Rfc9421 && matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
}

/// `used` worked with `domain`: cached, and returned when it is news (to
/// be stored by the caller).
pub fn worked(
    styles: &Styles,
    domain: &str,
    known: Option<SignatureStyle>,
    used: SignatureStyle,
) -> Option<SignatureStyle> {
    if known == Some(used) {
        return None;
    }
    styles.insert(domain.to_string(), Some(used));
    Some(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9421_first_then_draft_cavage_after_a_refusal_and_news_only_once() {
        assert_eq!(first(None), SignatureStyle::Rfc9421);
        assert_eq!(first(Some(SignatureStyle::Cavage)), SignatureStyle::Cavage);
        assert!(knock_again(SignatureStyle::Rfc9421, StatusCode::UNAUTHORIZED));
        assert!(knock_again(SignatureStyle::Rfc9421, StatusCode::FORBIDDEN));
        assert!(!knock_again(SignatureStyle::Rfc9421, StatusCode::NOT_FOUND));
        assert!(!knock_again(SignatureStyle::Cavage, StatusCode::UNAUTHORIZED));
        let styles = styles();
        assert_eq!(worked(&styles, "a.example", None, SignatureStyle::Cavage), Some(SignatureStyle::Cavage));
        assert_eq!(styles.get("a.example"), Some(Some(SignatureStyle::Cavage)));
        assert_eq!(worked(&styles, "a.example", Some(SignatureStyle::Cavage), SignatureStyle::Cavage), None);
    }
}
