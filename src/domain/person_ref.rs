//! Whom a path, a form or a search names: someone on this instance by
//! username, or someone elsewhere by handle (`name@host`, with or without a
//! leading `@`). Pages, the API, messages and federation read names through
//! [`PersonRef::parse`], so "local name or remote handle" is decided here
//! only.

use std::fmt;

/// Someone named by the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonRef {
    /// A username here (`ada`, `@ada`, or `ada@` this instance's domain).
    Local(String),
    /// A handle on another server.
    Remote(Handle),
}

/// `name@host` on another server (the host may carry a port in test mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    pub name: String,
    pub host: String,
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.host)
    }
}

impl PersonRef {
    /// Reads a name as written: trimmed, a leading `@` dropped; a handle
    /// whose host is `own_domain` names a local person.
    pub fn parse(text: &str, own_domain: &str) -> PersonRef {
        let text = text.trim().trim_start_matches('@');
        match text.split_once('@') {
            Some((name, host)) if host.eq_ignore_ascii_case(own_domain) => PersonRef::Local(name.to_string()),
            Some((name, host)) => PersonRef::Remote(Handle { name: name.to_string(), host: host.to_string() }),
            None => PersonRef::Local(text.to_string()),
        }
    }
}

impl PersonRef {
    /// Reads a name as written, without resolving this instance's own
    /// domain: `name@host` is a handle whatever the host (the API's remote
    /// lookups then refuse our own domain with a clear error).
    pub fn as_written(text: &str) -> PersonRef {
        let text = text.trim().trim_start_matches('@');
        match text.split_once('@') {
            Some((name, host)) => PersonRef::Remote(Handle { name: name.to_string(), host: host.to_string() }),
            None => PersonRef::Local(text.to_string()),
        }
    }
}

impl PersonRef {
    /// Whether a directory search names someone here by handle, in any of
    /// the forms a profile shows or people type: `@ada`, `@ada@host`,
    /// `ada@host` (`host` being this instance's domain, in any case). A
    /// bare word (`ada`) is a search, not a handle.
    pub fn local_search(query: &str, own_domain: &str) -> Option<String> {
        let text = query.trim();
        // One leading `@` at most: `@@here.org` names nobody.
        let unprefixed = text.strip_prefix('@').unwrap_or(text);
        if unprefixed.is_empty()
            || unprefixed.starts_with('@')
            || text.contains(char::is_whitespace)
            || !text.contains('@')
        {
            return None;
        }
        match PersonRef::parse(text, own_domain) {
            PersonRef::Local(name)
                if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "_.-".contains(c)) =>
            {
                Some(name.to_lowercase())
            }
            _ => None,
        }
    }
}

impl Handle {
    /// A handle that can be looked up: a name of letters, digits and
    /// `_.-`, and a host name (with an optional port), within length limits.
    pub fn parse(text: &str) -> Result<Handle, String> {
        let text = text.trim().trim_start_matches('@');
        let refused = || format!("`{text}` is not a handle like name@example.org.");
        let (name, host) = text.split_once('@').ok_or_else(refused)?;
        let valid_name =
            !name.is_empty() && name.len() <= 100 && name.chars().all(|c| c.is_alphanumeric() || "_.-".contains(c));
        let valid_host = !host.is_empty()
            && host.len() <= 253
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':');
        if !valid_name || !valid_host {
            return Err(refused());
        }
        Ok(Handle { name: name.to_string(), host: host.to_string() })
    }

    /// Whether a directory search is someone's handle elsewhere: a plain
    /// name and a host name with a dot (`ada@localhost` stays a search).
    pub fn from_search(query: &str) -> Option<Handle> {
        let text = query.trim().trim_start_matches('@');
        let (name, host) = text.split_once('@')?;
        let plain = |s: &str| !s.is_empty() && !s.contains(['@', ' ', '/', '?', '#']);
        (plain(name) && plain(host) && host.contains('.'))
            .then(|| Handle { name: name.to_string(), host: host.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(name: &str, host: &str) -> PersonRef {
        PersonRef::Remote(Handle { name: name.into(), host: host.into() })
    }

    #[test]
    fn names_are_local_unless_they_name_another_host() {
        assert_eq!(PersonRef::parse(" ada ", "here.org"), PersonRef::Local("ada".into()));
        assert_eq!(PersonRef::parse("@ada", "here.org"), PersonRef::Local("ada".into()));
        assert_eq!(PersonRef::parse("ada@HERE.org", "here.org"), PersonRef::Local("ada".into()));
        assert_eq!(PersonRef::parse("@ada@alpha.test", "here.org"), remote("ada", "alpha.test"));
        assert_eq!(PersonRef::parse("ada@alpha.test:8443", "here.org"), remote("ada", "alpha.test:8443"));
    }

    #[test]
    fn as_written_keeps_our_own_domain_a_handle() {
        assert_eq!(PersonRef::as_written("@ada"), PersonRef::Local("ada".into()));
        assert_eq!(PersonRef::as_written("ada@here.org"), remote("ada", "here.org"));
    }

    #[test]
    fn handles_are_checked_before_any_lookup() {
        assert_eq!(Handle::parse("@ada@alpha.test").unwrap().to_string(), "ada@alpha.test");
        assert!(Handle::parse("ada").is_err());
        assert!(Handle::parse("@alpha.test").is_err());
        assert!(Handle::parse("a b@alpha.test").is_err());
        assert!(Handle::parse("ada@alpha.test/x").is_err());
        assert!(Handle::parse(&format!("{}@alpha.test", "a".repeat(101))).is_err());
    }

    #[test]
    fn a_search_names_someone_here_in_every_handle_form() {
        for written in ["@amara", "@amara@here.org", "amara@here.org", " @Amara@HERE.org ", "AMARA@here.org"] {
            assert_eq!(PersonRef::local_search(written, "here.org").as_deref(), Some("amara"), "{written:?}");
        }
        assert_eq!(PersonRef::local_search("@amara@localhost:8080", "localhost:8080").as_deref(), Some("amara"));
        for search in ["amara", "rust tips", "@amara@elsewhere.org", "@", "@@here.org", "@a b", "@ama/ra"] {
            assert_eq!(PersonRef::local_search(search, "here.org"), None, "{search:?}");
        }
    }

    #[test]
    fn a_search_is_a_handle_only_with_a_server_name() {
        assert_eq!(Handle::from_search(" @ada@alpha.test ").unwrap().to_string(), "ada@alpha.test");
        assert_eq!(Handle::from_search("ada@alpha.test:8443").unwrap().to_string(), "ada@alpha.test:8443");
        assert_eq!(Handle::from_search("rust"), None);
        assert_eq!(Handle::from_search("ada@localhost"), None, "no dot: not a server name");
        assert_eq!(Handle::from_search("a b@c.d"), None);
        assert_eq!(Handle::from_search("@@x.y"), None);
    }
}
