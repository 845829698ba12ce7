//! One UDP port for every participant: which connection a datagram belongs
//! to. A STUN binding request names its target in `USERNAME` as
//! `<our ufrag>:<their ufrag>`, and every participant gets its own random
//! ufrag, so STUN is routed by ufrag (and teaches us the sender's address);
//! everything else (DTLS, SRTP, SRTCP) is routed by the remote address that
//! STUN taught. Pure and allocation-free per packet.

use std::net::SocketAddr;

use super::FastMap;

/// The kinds of packet that share a WebRTC port, told apart by their first
/// byte (RFC 7983).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketClass {
    Stun,
    Dtls,
    Rtp,
    Other,
}

pub fn classify(data: &[u8]) -> PacketClass {
    match data.first() {
        Some(0..=3) => PacketClass::Stun,
        Some(20..=63) => PacketClass::Dtls,
        Some(128..=191) => PacketClass::Rtp,
        _ => PacketClass::Other,
    }
}

/// An RTP (not RTCP) packet: RTP's version bits, and a second byte that is
/// not one of RTCP's packet types 192–223 (RFC 5761).
pub fn is_rtp_media(data: &[u8]) -> bool {
    matches!(data, [128..=191, second, ..] if !(192..=223).contains(second))
}

const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const STUN_HEADER: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;

/// Our ufrag from a STUN message's `USERNAME` (the part before `:`), if the
/// datagram is a well-formed STUN message that carries one.
pub fn stun_local_ufrag(data: &[u8]) -> Option<&str> {
    if data.len() < STUN_HEADER || data[0] & 0xC0 != 0 || data[4..8] != STUN_MAGIC_COOKIE {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let body = data.get(STUN_HEADER..STUN_HEADER + length)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body.get(at + 4..at + 4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            let (ours, _theirs) = username.split_once(':')?;
            return (!ours.is_empty()).then_some(ours);
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// The routing table of the shared port.
#[derive(Debug)]
pub struct Demux<K> {
    by_ufrag: FastMap<Box<str>, K>,
    by_addr: FastMap<SocketAddr, K>,
}

impl<K> Default for Demux<K> {
    fn default() -> Self {
        Demux { by_ufrag: FastMap::default(), by_addr: FastMap::default() }
    }
}

impl<K: Copy + Eq> Demux<K> {
    /// A new connection: STUN naming this ufrag is its.
    pub fn insert_ufrag(&mut self, ufrag: &str, key: K) {
        self.by_ufrag.insert(ufrag.into(), key);
    }

    /// Whose datagram this is. A STUN message naming a known ufrag also
    /// (re)binds the sender's address to that connection, which is how a
    /// participant whose network changed is found again; its integrity is
    /// then checked by the connection's ICE agent, which knows the password.
    pub fn route(&mut self, from: SocketAddr, data: &[u8]) -> Option<K> {
        if classify(data) == PacketClass::Stun
            && let Some(ufrag) = stun_local_ufrag(data)
            && let Some(&key) = self.by_ufrag.get(ufrag)
        {
            if self.by_addr.get(&from) != Some(&key) {
                self.by_addr.insert(from, key);
            }
            return Some(key);
        }
        self.by_addr.get(&from).copied()
    }

    /// Forgets a connection: its ufrag and every address it used.
    pub fn remove(&mut self, key: K) {
        self.by_ufrag.retain(|_, k| *k != key);
        self.by_addr.retain(|_, k| *k != key);
    }

    pub fn addresses(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STUN binding request with a USERNAME attribute (and a trailing
    /// attribute after it, as browsers send).
    fn binding_request(username: &str) -> Vec<u8> {
        let mut attrs = Vec::new();
        // PRIORITY first, to check that attributes before USERNAME are skipped.
        attrs.extend_from_slice(&0x0024u16.to_be_bytes());
        attrs.extend_from_slice(&4u16.to_be_bytes());
        attrs.extend_from_slice(&[0x6e, 0x7f, 0x1e, 0xff]);
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        attrs.extend_from_slice(&0x8028u16.to_be_bytes()); // FINGERPRINT
        attrs.extend_from_slice(&4u16.to_be_bytes());
        attrs.extend_from_slice(&[1, 2, 3, 4]);
        let mut packet = vec![0x00, 0x01];
        packet.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        packet.extend_from_slice(&STUN_MAGIC_COOKIE);
        packet.extend_from_slice(&[7; 12]);
        packet.extend_from_slice(&attrs);
        packet
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn packets_are_classified_by_their_first_byte() {
        assert_eq!(classify(&binding_request("a:b")), PacketClass::Stun);
        assert_eq!(classify(&[22, 254, 253]), PacketClass::Dtls);
        assert_eq!(classify(&[0x80, 111]), PacketClass::Rtp);
        assert_eq!(classify(&[0x90, 200]), PacketClass::Rtp);
        assert_eq!(classify(&[70]), PacketClass::Other);
        assert_eq!(classify(&[]), PacketClass::Other);
    }

    #[test]
    fn rtp_media_is_told_from_rtcp() {
        assert!(is_rtp_media(&[0x80, 111, 0, 1]));
        assert!(is_rtp_media(&[0x80, 0x80 | 111, 0, 1]), "the marker bit set");
        assert!(!is_rtp_media(&[0x80, 200, 0, 6]), "a sender report");
        assert!(!is_rtp_media(&[0x81, 206, 0, 2]), "a PLI");
        assert!(!is_rtp_media(&binding_request("a:b")));
        assert!(!is_rtp_media(&[0x80]));
    }

    #[test]
    fn the_local_ufrag_is_read_from_username() {
        assert_eq!(stun_local_ufrag(&binding_request("srvUfrag1:cli")), Some("srvUfrag1"));
        // Odd length: padding is skipped correctly.
        assert_eq!(stun_local_ufrag(&binding_request("abcde:xy")), Some("abcde"));
        assert_eq!(stun_local_ufrag(&binding_request("nocolon")), None);
        assert_eq!(stun_local_ufrag(&binding_request(":theirs")), None);
    }

    #[test]
    fn malformed_stun_is_not_read() {
        let good = binding_request("a:b");
        assert_eq!(stun_local_ufrag(&good[..19]), None);
        let mut no_cookie = good.clone();
        no_cookie[4] = 0;
        assert_eq!(stun_local_ufrag(&no_cookie), None);
        // A length that runs past the datagram.
        let mut long = good.clone();
        long[2] = 0xff;
        assert_eq!(stun_local_ufrag(&long), None);
        // An attribute whose length runs past the message.
        let mut attr = good;
        attr[STUN_HEADER + 2] = 0xff;
        assert_eq!(stun_local_ufrag(&attr), None);
    }

    #[test]
    fn stun_routes_by_ufrag_then_media_by_the_address_it_taught() {
        let mut demux = Demux::default();
        demux.insert_ufrag("alice", 1u32);
        demux.insert_ufrag("bob", 2u32);
        let (a, b) = (addr("192.0.2.1:5000"), addr("198.51.100.2:6000"));
        let rtp = [0x80, 111, 0, 1];
        // Media from an address nobody has vouched for goes nowhere.
        assert_eq!(demux.route(a, &rtp), None);
        assert_eq!(demux.route(a, &binding_request("alice:x")), Some(1));
        assert_eq!(demux.route(b, &binding_request("bob:y")), Some(2));
        assert_eq!(demux.route(a, &rtp), Some(1));
        assert_eq!(demux.route(b, &[22, 254, 253]), Some(2));
        // An unknown ufrag teaches nothing.
        let c = addr("203.0.113.3:7000");
        assert_eq!(demux.route(c, &binding_request("mallory:z")), None);
        assert_eq!(demux.route(c, &rtp), None);
    }

    #[test]
    fn a_new_address_is_learned_after_a_network_change_and_removal_forgets_all() {
        let mut demux = Demux::default();
        demux.insert_ufrag("alice", 1u32);
        let (wifi, mobile) = (addr("192.0.2.1:5000"), addr("[2001:db8::1]:5001"));
        demux.route(wifi, &binding_request("alice:x"));
        demux.route(mobile, &binding_request("alice:x"));
        assert_eq!(demux.route(mobile, &[0x80, 0]), Some(1));
        assert_eq!(demux.addresses(), 2);
        demux.remove(1);
        assert_eq!(demux.route(wifi, &[0x80, 0]), None);
        assert_eq!(demux.route(mobile, &binding_request("alice:x")), None);
        assert_eq!(demux.addresses(), 0);
    }
}
