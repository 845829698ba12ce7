//! Address ranges (`10.0.0.0/8`, `::1`, `fd00::/8`) and which client an
//! `X-Forwarded-For` chain names when only some hops are trusted proxies.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One address, or a CIDR range of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer may reach a dual-stack socket as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr =
            addr.parse().map_err(|_| format!("`{text}` is not an IP address or a range like 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("`{text}`: the prefix length must be a number from 0 to {max}")),
            },
        };
        Ok(IpRange { network, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The client of a request that reached us from `peer`: when `peer` is a
/// trusted proxy, the `X-Forwarded-For` chain is read from the right (each
/// proxy appends the address it saw) past every trusted hop; the first
/// address that is not a trusted proxy is the client. Anything a client
/// wrote itself sits to the left of that and is never believed.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpRange]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // A malformed entry: stop at the last address we could trust.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| r.parse().unwrap()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: IpRange = "10.1.0.0/16".parse().unwrap();
        assert!(r.contains(ip("10.1.200.3")) && !r.contains(ip("10.2.0.1")));
        assert!("172.16.0.0/12".parse::<IpRange>().unwrap().contains(ip("172.31.255.255")));
        assert!(!"172.16.0.0/12".parse::<IpRange>().unwrap().contains(ip("172.32.0.0")));
        assert!("::1".parse::<IpRange>().unwrap().contains(ip("::1")));
        assert!("fd00::/8".parse::<IpRange>().unwrap().contains(ip("fd12::5")));
        assert!("127.0.0.1".parse::<IpRange>().unwrap().contains(ip("::ffff:127.0.0.1")), "v4-mapped");
        assert!("0.0.0.0/0".parse::<IpRange>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["", "localhost", "10.0.0.0/33", "::/129", "10.0.0.0/x"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = ranges(&["127.0.0.1", "10.0.0.0/8"]);
        // No proxy configured: the header is ignored, even from loopback.
        assert_eq!(client_address(ip("127.0.0.1"), Some("203.0.113.9"), &[]), ip("127.0.0.1"));
        // An untrusted peer cannot claim another address.
        assert_eq!(client_address(ip("198.51.100.7"), Some("203.0.113.9"), &proxies), ip("198.51.100.7"));
        // One proxy: the address it appended.
        assert_eq!(client_address(ip("127.0.0.1"), Some("203.0.113.9"), &proxies), ip("203.0.113.9"));
        // What the client wrote itself (left) is skipped; trusted hops are walked past.
        let chain = "1.2.3.4, 203.0.113.9, 10.0.0.5";
        assert_eq!(client_address(ip("127.0.0.1"), Some(chain), &proxies), ip("203.0.113.9"));
        // No header, or garbage: the proxy itself.
        assert_eq!(client_address(ip("127.0.0.1"), None, &proxies), ip("127.0.0.1"));
        assert_eq!(client_address(ip("127.0.0.1"), Some("evil"), &proxies), ip("127.0.0.1"));
    }
}
