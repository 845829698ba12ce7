//! The voice room's media: a selective forwarding unit (SFU) inside the
//! server. Every participant's WebRTC connection ends here; Opus audio (and
//! a VP8 screen share) arriving from one participant is forwarded, without
//! decoding, to the others in the same room. All media passes through the
//! server, so the hard stop is enforced here and nobody learns the other's
//! address.
//!
//! - [`engine`]: the small interface the rest of the server sees (admit an
//!   offer and answer it, feed a datagram, poll for output and events,
//!   timers, close, stop a room), so the WebRTC stack can be swapped.
//! - [`rtc_engine`]: that interface on webrtc-rs's sans-IO core `rtc`.
//! - [`batch`]: datagrams read and sent a batch per system call
//!   (`recvmmsg`/`sendmmsg` on Linux).
//! - [`continuity`]: one unbroken RTP numbering per outgoing track, whoever
//!   its source is (a rejoin starts a new one).
//! - [`counters`]: the media task's counters in shared atomics (packets
//!   forwarded, how long each turn of its loop takes), read without a
//!   command through its queue.
//! - [`demux`]: which participant a datagram on the one UDP port belongs to
//!   (STUN by ICE username fragment, then by remote address).
//! - [`keyframes`]: lets PLI and FIR out of `rtc`'s interceptor chain.
//! - [`sfu`]: a room's forwarding table and its stop switch (pure).
//! - [`socket`]: the one task that owns the UDP socket and the engine, and
//!   the channel handle ([`VoiceHandle`]) the server uses.
//!
//! How it fits together, the configuration and the firewall: `docs/voice.md`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub mod batch;
pub mod continuity;
pub mod counters;
pub mod demux;
pub mod engine;
pub mod keyframes;
pub mod rtc_engine;
pub mod sfu;
pub mod socket;

pub use counters::{CountersSnapshot, MediaCounters, Work};
pub use engine::{
    EngineTotals, LeftReason, MediaEngine, MediaEvent, MediaKind, ParticipantId, RoomId, RoomStats, VoiceError,
};
pub use rtc_engine::EngineOptions;
pub use socket::{VoiceEvents, VoiceHandle, start, start_with_options};

/// The media path's hash maps (connections by key, rooms, remote addresses):
/// looked up several times per packet, so with foldhash rather than the
/// standard SipHash (per-process random seed; the keys are our own numbers,
/// or addresses learnt from a STUN request that named a participant's ufrag).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Listen on every interface by default.
pub const DEFAULT_BIND_IP: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// The default media port (next to TURN's 3478, easy to remember in a
/// firewall rule).
pub const DEFAULT_UDP_PORT: u16 = 3479;

/// Where the media socket listens and what address clients are told to
/// send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceConfig {
    /// The UDP socket's address (`voice_udp_bind`:`voice_udp_port`).
    pub bind: SocketAddr,
    /// The address put in the host candidate of every answer
    /// (`voice_public_ip`): the server's public address when it is behind
    /// a 1:1 NAT or listens on every interface.
    pub public_ip: Option<IpAddr>,
}

impl VoiceConfig {
    pub fn new(bind: SocketAddr, public_ip: Option<IpAddr>) -> VoiceConfig {
        VoiceConfig { bind, public_ip }
    }

    /// The IP address clients are told to send media to: the configured
    /// public IP, else the bind address, else (bound to every interface
    /// with nothing configured) loopback, which only suits a local setup.
    pub fn advertised_ip(&self) -> IpAddr {
        match self.public_ip {
            Some(ip) => ip,
            None if !self.bind.ip().is_unspecified() => self.bind.ip(),
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig::new(SocketAddr::new(DEFAULT_BIND_IP, DEFAULT_UDP_PORT), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertised_address_is_the_public_ip_then_the_bind_address() {
        let any = SocketAddr::new(DEFAULT_BIND_IP, 3479);
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(VoiceConfig::new(any, Some(public)).advertised_ip(), public);
        let local: SocketAddr = "192.0.2.1:3479".parse().unwrap();
        assert_eq!(VoiceConfig::new(local, None).advertised_ip(), local.ip());
        assert_eq!(VoiceConfig::new(any, None).advertised_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
}
