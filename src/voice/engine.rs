//! The media engine's interface: everything the socket task needs from a
//! WebRTC stack, sans-IO (the caller owns the socket and the clock), so the
//! stack behind it (`rtc` today, str0m perhaps tomorrow) can be swapped.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;

/// A room: the session it belongs to (its id in storage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub i64);

/// A participant of a room, as the room's rules know them (an account id
/// for local people, a remote actor's id for remote learners: the caller
/// chooses, the engine only compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    /// A screen share.
    Video,
}

impl MediaKind {
    /// 0 for audio, 1 for video (per-kind arrays).
    pub fn index(self) -> usize {
        match self {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
        }
    }

    /// The RTP clock rate of the codec carried (Opus 48 kHz, VP8 90 kHz).
    pub fn clock_rate(self) -> u32 {
        match self {
            MediaKind::Audio => 48_000,
            MediaKind::Video => 90_000,
        }
    }
}

/// Why a participant's media connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftReason {
    /// The server closed it (leave, or a second connection replaced it).
    Closed,
    /// The room was stopped (the hard stop).
    Stopped,
    /// The connection failed or timed out (network gone).
    Failed,
}

/// What happened to a participant's media (presence comes from these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// ICE and DTLS are up: media can flow.
    Joined { room: RoomId, participant: ParticipantId },
    /// The first packet of a track arrived from the participant.
    TrackStarted { room: RoomId, participant: ParticipantId, kind: MediaKind },
    /// The participant's connection is gone.
    Left { room: RoomId, participant: ParticipantId, reason: LeftReason },
}

/// One datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub to: SocketAddr,
    pub data: BytesMut,
}

/// Counters of one room, for tests and (later) metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomStats {
    /// RTP packets forwarded to another participant.
    pub forwarded: u64,
    /// Datagrams from the room's participants that arrived after the
    /// stop and were dropped unread.
    pub dropped_after_stop: u64,
    /// Of those, the ones that were media (SRTP RTP, not RTCP or STUN).
    pub media_dropped_after_stop: u64,
    pub stopped: bool,
}

/// The engine's running totals, every room together (the media task
/// publishes them in its counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineTotals {
    /// RTP packets forwarded to another participant.
    pub forwarded: u64,
    /// Connection timers served.
    pub timers_fired: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoiceError {
    #[error("the offer is not a valid session description: {0}")]
    InvalidOffer(String),
    #[error("the offer has no audio")]
    NoAudio,
    #[error("the room is full")]
    RoomFull,
    #[error("the room has ended")]
    RoomStopped,
    #[error("the media engine failed: {0}")]
    Engine(String),
    #[error("the media service is not running")]
    Unavailable,
}

/// A sans-IO SFU: many participants in many rooms behind one UDP port.
pub trait MediaEngine: Send + 'static {
    /// Admits `participant` to `room` with their SDP offer (Opus audio
    /// required; an optional video track for a screen share) and returns
    /// the SDP answer, whose one host candidate is the shared port. A
    /// participant already in the room is replaced (a second tab).
    fn admit(
        &mut self,
        now: Instant,
        room: RoomId,
        participant: ParticipantId,
        offer_sdp: &str,
    ) -> Result<String, VoiceError>;

    /// A datagram that arrived on the shared port.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]);

    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next event, if any.
    fn poll_event(&mut self) -> Option<MediaEvent>;

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called next.
    fn poll_timeout(&mut self) -> Option<Instant>;

    fn handle_timeout(&mut self, now: Instant);

    /// Closes one participant's connection (leaving, removed).
    fn close(&mut self, now: Instant, room: RoomId, participant: ParticipantId);

    /// The hard stop: nothing more of the room is forwarded (checked for
    /// every packet), its connections are closed and nobody is admitted
    /// again.
    fn stop_room(&mut self, now: Instant, room: RoomId);

    fn room_stats(&self, room: RoomId) -> Option<RoomStats>;

    /// Totals since the engine started.
    fn totals(&self) -> EngineTotals;
}
