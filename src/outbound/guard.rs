//! The one SSRF guard of every outbound request: which addresses this
//! server may connect to when the address comes from someone else (a remote
//! actor's inbox, a WebFinger host, an advisor's calendar URL).
//!
//! - A host name is resolved by [`Guard`] itself (it is the client's DNS
//!   resolver), and **every** address of the answer must be public; the
//!   connection then goes to one of exactly those addresses, so a second DNS
//!   answer (rebinding) cannot swap in another one.
//! - An IP literal in a URL is never resolved, so [`Guard::check_url`] holds
//!   it to the same rule before each request and each redirect hop.
//! - Public means global unicast, outside every special-purpose range
//!   ([`is_public`]): no loopback, private, link-local, unique-local,
//!   shared (CGNAT), multicast, documentation or reserved addresses, also
//!   when hidden in IPv4-mapped, NAT64 or 6to4 IPv6 addresses.
//!
//! The test-mode exceptions are the guard's two settings:
//! [`Guard::allowing_private`] (the `allow_private_fetches` setting for
//! calendars, federation test mode) and [`Guard::pin`] (federation test
//! mode's `*.test` names, answered with fixed loopback addresses).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::OutboundError;

/// How long one DNS lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What may be connected to; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow_private: bool,
    pinned: Arc<HashMap<String, IpAddr>>,
}

impl Guard {
    /// Public addresses only: production.
    pub fn public_only() -> Guard {
        Guard::default()
    }

    /// Any address (tests, local setups, federation test mode).
    pub fn allowing_private() -> Guard {
        Guard { allow_private: true, ..Guard::default() }
    }

    /// Answers `host` with `ip` instead of asking DNS (federation test
    /// mode: `<name>.test` on a loopback address). The address is still
    /// checked like any other, so pin only on a guard allowing private ones.
    pub fn pin(mut self, host: &str, ip: IpAddr) -> Guard {
        Arc::make_mut(&mut self.pinned).insert(normalize(host), ip);
        self
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Checks a URL before it is requested (the first one and every redirect
    /// hop): http or https, with a host; an IP literal must be public. Host
    /// names are checked when they are resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::InvalidUrl(format!(
                "only http and https addresses are fetched, not {}:",
                url.scheme()
            )));
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(&format!("[{ip}]"), IpAddr::V6(ip)),
            Some(Host::Domain(_)) => Ok(()),
            None => Err(OutboundError::InvalidUrl("it has no host".into())),
        }
    }

    /// One address of `host` (a name's DNS answer or a literal).
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), OutboundError> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(OutboundError::Refused { host: host.to_string() })
        }
    }

    /// Resolves a host name as the client's resolver: the pinned address,
    /// or every address DNS gives, each checked.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, OutboundError> {
        let name = normalize(host);
        if let Some(ip) = self.pinned.get(&name) {
            self.check_ip(&name, *ip)?;
            return Ok(vec![SocketAddr::new(*ip, 0)]);
        }
        // The port is filled in by the client from the URL.
        let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name.as_str(), 0)))
            .await
            .map_err(|_| OutboundError::Unreachable(format!("looking up {name} took too long")))?;
        let addrs: Vec<SocketAddr> =
            lookup.map_err(|_| OutboundError::Unreachable(format!("{name} was not found")))?.collect();
        if addrs.is_empty() {
            return Err(OutboundError::Unreachable(format!("{name} has no address")));
        }
        for addr in &addrs {
            self.check_ip(&name, addr.ip())?;
        }
        Ok(addrs)
    }
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs = Guard::resolve(&guard, &name).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Lower case, without a trailing dot.
fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether an address is on the public internet: global unicast, not a
/// special-purpose range (RFC 6890 and successors).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach an IPv4 address.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_v4(embedded(s[1], s[2]));
            }
            // Only global unicast (2000::/3) is public; within it, not
            // documentation (2001:db8::/32), Teredo (2001::/32) or the
            // other IETF assignments under 2001::/23.
            let global_unicast = s[0] & 0xe000 == 0x2000;
            let special = (s[0] == 0x2001 && (s[1] == 0xdb8 || s[1] < 0x200)) || s[0] == 0x3fff;
            global_unicast && !special
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network"
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn only_public_addresses_pass() {
        for ok in ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2a00:1450:4001:81c::200e", "2606:4700::1111"] {
            assert!(public(ok), "{ok} is public");
        }
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2001:db8::1",
            "2001::1",
            "::127.0.0.1",
        ] {
            assert!(!public(bad), "{bad} is not public");
        }
        assert!(public("::ffff:8.8.8.8"), "IPv4-mapped public addresses are public");
        assert!(public("64:ff9b::808:808"), "NAT64 of a public address is public");
    }

    #[test]
    fn urls_are_checked_before_any_request() {
        let guard = Guard::public_only();
        let check = |url: &str| guard.check_url(&Url::parse(url).unwrap());
        for ok in ["https://example.org/inbox", "http://93.184.216.34/cal.ics", "https://[2606:4700::1111]/x"] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for literal in ["http://127.0.0.1:9/x", "http://[::1]/x", "http://169.254.169.254/latest", "http://10.0.0.1/"] {
            assert!(matches!(check(literal), Err(OutboundError::Refused { .. })), "{literal}");
        }
        assert_eq!(check("http://[::1]:9/").unwrap_err().to_string(), "[::1] is not a public address");
        for scheme in ["ftp://example.org/a", "file:///etc/passwd"] {
            assert!(matches!(check(scheme), Err(OutboundError::InvalidUrl(_))), "{scheme}");
        }
        assert_eq!(Guard::allowing_private().check_url(&Url::parse("http://127.0.0.1:9/x").unwrap()), Ok(()));
    }

    #[tokio::test]
    async fn names_are_checked_when_resolved() {
        let refused = Guard::public_only().resolve("localhost").await.unwrap_err();
        assert_eq!(refused, OutboundError::Refused { host: "localhost".into() });
        let allowed = Guard::allowing_private().resolve("localhost").await.unwrap();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()), "{allowed:?}");

        // Test mode answers its `*.test` names itself; a pin is still checked.
        let loopback: IpAddr = "127.0.0.7".parse().unwrap();
        let pinned = Guard::allowing_private().pin("Alpha.test.", loopback);
        assert_eq!(pinned.resolve("alpha.test").await.unwrap(), [SocketAddr::new(loopback, 0)]);
        let strict = Guard::public_only().pin("alpha.test", loopback);
        assert!(matches!(strict.resolve("alpha.test").await, Err(OutboundError::Refused { .. })));
    }
}
