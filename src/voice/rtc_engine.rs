//! [`MediaEngine`] on webrtc-rs's sans-IO core `rtc`: one
//! `RTCPeerConnection` per participant, all behind one UDP port.
//!
//! Per datagram: [`Demux`] finds the connection (no allocation), the
//! connection decrypts it, and each RTP packet that comes out is given the
//! SSRC and payload type of the other participants' outgoing track and
//! handed to their connection, which encrypts it; what they write is queued
//! for the socket task. Header extensions are dropped on the way (each leg
//! negotiates its own ids). Picture-loss requests from a viewer go to the
//! sharer as a PLI on the sharer's incoming video. Timers: each connection's
//! next deadline sits in a heap, so a tick touches only the connections that
//! are due.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::Rng;
use rand::distr::Alphanumeric;
use rtc::interceptor::{Registry, Slot, TwccReceiverBuilder};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports, configure_simulcast_extension_headers, register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine as RtcMediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind, TYPE_RTCP_FB_TRANSPORT_CC,
};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::sdp::extmap::TRANSPORT_CC_URI;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use super::FastMap;
use super::continuity::Continuity;
use super::demux::{Demux, is_rtp_media};
use super::engine::{
    EngineTotals, LeftReason, MediaEngine, MediaEvent, MediaKind, ParticipantId, RoomId, RoomStats, Transmit,
    VoiceError,
};
use super::sfu::{JoinRefused, RoomMedia};

/// The engine's handle on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerKey(u64);

/// How long a stopped room's connections are remembered (their datagrams
/// are dropped and counted) and the room refuses admission, after the stop.
const STOPPED_ROOM_MEMORY: Duration = Duration::from_secs(600);

/// The largest offer accepted (a browser's offer with audio and video is
/// a few kilobytes).
pub const MAX_OFFER_BYTES: usize = 64 * 1024;

/// The most connection timers one `handle_timeout` serves (about a
/// batch of datagrams' worth of work).
pub const TIMERS_PER_TURN: usize = 32;

/// Choices of the engine that the benchmark compares; the defaults are what
/// the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// The most connection timers served per `handle_timeout`
    /// ([`TIMERS_PER_TURN`]; `usize::MAX`: every due one at once, as before).
    pub timers_per_turn: usize,
    /// Audio-only legs get the reports alone, TWCC is for video only, and
    /// a connection's pipeline is polled no more than needed (see
    /// `build_connection` and `handle_datagram`); `false`: `rtc`'s default
    /// interceptors on every leg and every poll, as before.
    pub lean: bool,
    /// The media fast path: once a connection's track is known, an
    /// incoming RTP packet costs one walk of its pipeline (the read) and a
    /// forwarded one one walk of the target's (the write), with no polls of
    /// events, reads or timers in between (see `media_fast_path`); `false`:
    /// every packet goes through `service`, as before.
    pub fast_media: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { timers_per_turn: TIMERS_PER_TURN, lean: true, fast_media: true }
    }
}

const OPUS_PAYLOAD_TYPE: u8 = 111;
const VP8_PAYLOAD_TYPE: u8 = 96;
/// Received datagrams are copied into slices of one buffer of this size,
/// so there is one allocation per few hundred packets, not one each.
const RECEIVE_POOL_BYTES: usize = 256 * 1024;
const MAX_DATAGRAM: usize = 2048;

/// One of a participant's outgoing tracks: what the others' media is
/// rewritten to.
#[derive(Debug, Clone, Copy)]
struct Outgoing {
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    /// One unbroken numbering whoever the source is (a rejoin changes it).
    continuity: Continuity,
    /// The connection's timer was read after a packet of this track was
    /// written (the interceptors arm their timers on the first one).
    armed: bool,
}

#[derive(Debug)]
struct Incoming {
    track_id: String,
    kind: MediaKind,
    receiver: RTCRtpReceiverId,
    ssrc: u32,
}

struct Peer {
    room: RoomId,
    participant: ParticipantId,
    pc: RTCPeerConnection,
    audio_out: Outgoing,
    video_out: Option<Outgoing>,
    incoming: Vec<Incoming>,
    joined: bool,
    /// The connection's timer was read after an RTP packet of each kind
    /// (audio, video) arrived: the interceptors arm their timers on the
    /// first one, and later packets do not move them.
    armed_in: [bool; 2],
    /// The deadline last pushed to the timer heap.
    deadline: Option<Instant>,
}

impl Peer {
    /// The outgoing track of `kind`, once the connection is up.
    fn outgoing(&mut self, kind: MediaKind) -> Option<&mut Outgoing> {
        if !self.joined {
            return None;
        }
        match kind {
            MediaKind::Audio => Some(&mut self.audio_out),
            MediaKind::Video => self.video_out.as_mut(),
        }
    }

    fn kind_of(&self, track_id: &str) -> Option<MediaKind> {
        self.incoming.iter().find(|t| t.track_id == track_id).map(|t| t.kind)
    }
}

/// A room's media and counters.
#[derive(Default)]
struct Room {
    media: RoomMedia<PeerKey>,
    stats: RoomStats,
}

/// The `rtc`-based engine.
pub struct RtcEngine {
    /// The host candidate's address (the advertised IP and the port), also
    /// the local address every connection is told datagrams arrive on.
    local_addr: SocketAddr,
    peers: FastMap<PeerKey, Peer>,
    by_participant: FastMap<(RoomId, ParticipantId), PeerKey>,
    rooms: FastMap<RoomId, Room>,
    demux: Demux<PeerKey>,
    /// Connections of stopped rooms: still routed, so their datagrams are
    /// counted and dropped instead of looking like strangers'.
    tombstones: FastMap<PeerKey, RoomId>,
    /// When stopped rooms and their tombstones are forgotten (in order).
    forget: VecDeque<(Instant, RoomId)>,
    timers: BinaryHeap<Reverse<(Instant, PeerKey)>>,
    /// Reused by `handle_timeout`: the connections whose timer is due.
    due: Vec<PeerKey>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    /// Reused per datagram: the RTP packets one connection produced.
    scratch: Vec<(MediaKind, rtp::Packet)>,
    /// Reused per datagram: what the fast path read and left to `service`.
    pending: Vec<RTCMessage>,
    receive_pool: BytesMut,
    next_key: u64,
    totals: EngineTotals,
    options: EngineOptions,
}

impl RtcEngine {
    /// `local_addr`: the advertised IP and the shared port.
    pub fn new(local_addr: SocketAddr) -> RtcEngine {
        RtcEngine::with_options(local_addr, EngineOptions::default())
    }

    pub fn with_options(local_addr: SocketAddr, options: EngineOptions) -> RtcEngine {
        RtcEngine {
            local_addr,
            peers: FastMap::default(),
            by_participant: FastMap::default(),
            rooms: FastMap::default(),
            demux: Demux::default(),
            tombstones: FastMap::default(),
            forget: VecDeque::new(),
            timers: BinaryHeap::new(),
            due: Vec::new(),
            transmits: VecDeque::with_capacity(256),
            events: VecDeque::new(),
            scratch: Vec::with_capacity(16),
            pending: Vec::new(),
            receive_pool: BytesMut::with_capacity(RECEIVE_POOL_BYTES),
            next_key: 1,
            totals: EngineTotals::default(),
            options,
        }
    }

    pub fn connections(&self) -> usize {
        self.peers.len()
    }

    /// A connection with the interceptors its media needs. Audio-only legs
    /// (no video line in the offer) get the RTCP sender and receiver reports
    /// alone: NACK is negotiated for video only, and the server does no
    /// congestion control of its own, so each of those stages would only
    /// queue and move every packet once more (and TWCC would add a feedback
    /// packet per connection every 100 ms). Legs with video (browsers offer
    /// a video line from the start, for a screen share) keep NACK, TWCC and
    /// the keyframe requests, with TWCC negotiated for video only: the
    /// sharer's bandwidth estimate is what it is for, and audio then costs
    /// the TWCC stage a lookup, not a record and a share of the feedback.
    fn build_connection(&self, ufrag: &str, password: &str, video: bool) -> Result<RTCPeerConnection, VoiceError> {
        let mut media = RtcMediaEngine::default();
        media.register_codec(opus(), RtpCodecKind::Audio).map_err(engine_error)?;
        media.register_codec(vp8(), RtpCodecKind::Video).map_err(engine_error)?;
        if !self.options.lean {
            let registry = register_default_interceptors(Registry::new(), &mut media)
                .map_err(engine_error)?
                .with(super::keyframes::SLOT, super::keyframes::KeyframeRequests::default());
            return Self::connection(ufrag, password, media, registry);
        }
        let mut registry = configure_rtcp_reports(Registry::new());
        if video {
            registry = configure_nack(registry, &mut media);
            configure_simulcast_extension_headers(&mut media).map_err(engine_error)?;
            media.register_feedback(
                RTCPFeedback { typ: TYPE_RTCP_FB_TRANSPORT_CC.to_owned(), parameter: String::new() },
                RtpCodecKind::Video,
            );
            media
                .register_header_extension(
                    RTCRtpHeaderExtensionCapability { uri: TRANSPORT_CC_URI.to_owned() },
                    RtpCodecKind::Video,
                    None,
                )
                .map_err(engine_error)?;
            registry = registry
                .with(Slot::TwccReceiver, TwccReceiverBuilder::new().build())
                .with(super::keyframes::SLOT, super::keyframes::KeyframeRequests::default());
        }
        Self::connection(ufrag, password, media, registry)
    }

    fn connection(
        ufrag: &str,
        password: &str,
        media: RtcMediaEngine,
        registry: Registry,
    ) -> Result<RTCPeerConnection, VoiceError> {
        let settings = SettingEngineBuilder::new().with_ice_credentials(ufrag.to_owned(), password.to_owned()).build();
        RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(Instant::now())
            .map_err(engine_error)
    }

    fn add_outgoing(
        pc: &mut RTCPeerConnection,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
    ) -> Result<Outgoing, VoiceError> {
        let ssrc = rand::rng().random::<u32>();
        let track = MediaStreamTrack::new(
            "officehours".to_owned(),
            format!("officehours-{kind}"),
            format!("officehours-{kind}"),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec,
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).map_err(engine_error)?;
        Ok(Outgoing { sender, ssrc, payload_type: 0, continuity: Continuity::default(), armed: false })
    }

    /// The payload type the answer settled on for a sender.
    fn negotiated_payload_type(pc: &mut RTCPeerConnection, out: &mut Outgoing, fallback: u8) {
        out.payload_type = pc
            .rtp_sender(out.sender)
            .and_then(|mut s| s.get_parameters().rtp_parameters.codecs.first().map(|c| c.payload_type))
            .unwrap_or(fallback);
    }

    fn collect_writes(transmits: &mut VecDeque<Transmit>, pc: &mut RTCPeerConnection) {
        while let Some(out) = pc.poll_write() {
            transmits.push_back(Transmit { to: out.transport.peer_addr, data: out.message });
        }
    }

    fn rearm(timers: &mut BinaryHeap<Reverse<(Instant, PeerKey)>>, key: PeerKey, peer: &mut Peer) {
        let next = peer.pc.poll_timeout();
        if next != peer.deadline {
            peer.deadline = next;
            if let Some(at) = next {
                timers.push(Reverse((at, key)));
            }
        }
    }

    /// Everything a connection has to say after it was fed: its events,
    /// its decrypted packets (forwarded), its datagrams (unless `writes` is
    /// false: see `handle_datagram`) and its next timer.
    fn service(&mut self, key: PeerKey, now: Instant, writes: bool) {
        let lean = self.options.lean;
        let Some(peer) = self.peers.get_mut(&key) else { return };
        let mut ended = None;
        let mut keyframe_wanted = false;
        let mut video_started = false;
        // Events before reads (a track's `OnOpen` comes before its first
        // packet is read); another pass only when there were events, since
        // reading what is already decrypted raises none. Each poll walks the
        // connection's whole pipeline, so the passes are what cost here.
        loop {
            let mut progressed = false;
            while let Some(event) = peer.pc.poll_event() {
                progressed = true;
                match event {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                        RTCPeerConnectionState::Connected if !peer.joined => {
                            peer.joined = true;
                            // Someone arriving during a share needs a keyframe to see it.
                            keyframe_wanted = true;
                            self.events
                                .push_back(MediaEvent::Joined { room: peer.room, participant: peer.participant });
                        }
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                            ended = Some(LeftReason::Failed);
                        }
                        _ => {}
                    },
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                        let kind = match peer.pc.rtp_receiver(init.receiver_id).map(|r| r.track().kind()) {
                            Some(RtpCodecKind::Video) => MediaKind::Video,
                            _ => MediaKind::Audio,
                        };
                        if peer.kind_of(&init.track_id).is_none() {
                            peer.incoming.push(Incoming {
                                track_id: init.track_id,
                                kind,
                                receiver: init.receiver_id,
                                ssrc: init.ssrc,
                            });
                            video_started |= kind == MediaKind::Video;
                            self.events.push_back(MediaEvent::TrackStarted {
                                room: peer.room,
                                participant: peer.participant,
                                kind,
                            });
                        }
                    }
                    _ => {}
                }
            }
            // What the fast path took but could not place (a track not yet
            // announced), now that the events are in.
            for message in self.pending.drain(..) {
                keyframe_wanted |= Self::take_read(peer, message, &mut self.scratch);
            }
            while let Some(read) = peer.pc.poll_read() {
                progressed |= !lean;
                keyframe_wanted |= Self::take_read(peer, read.message, &mut self.scratch);
            }
            if !progressed {
                break;
            }
        }
        if writes || !lean {
            Self::collect_writes(&mut self.transmits, &mut peer.pc);
        }
        Self::rearm(&mut self.timers, key, peer);
        let room_id = peer.room;

        if video_started && let Some(room) = self.rooms.get_mut(&room_id) {
            room.media.video_started(key);
        }
        if !self.scratch.is_empty() {
            self.forward(key, room_id, now);
        }
        if keyframe_wanted {
            self.request_keyframe(key, room_id, now);
        }
        if let Some(reason) = ended {
            self.remove_peer(key, reason);
        }
    }

    /// A message the connection read: an RTP packet of a known track goes to
    /// `scratch` (to be forwarded); returns whether it asks for a keyframe.
    fn take_read(peer: &Peer, message: RTCMessage, scratch: &mut Vec<(MediaKind, rtp::Packet)>) -> bool {
        match message {
            RTCMessage::RtpPacket(track_id, packet) => {
                if let Some(kind) = peer.kind_of(&track_id) {
                    scratch.push((kind, packet));
                }
                false
            }
            RTCMessage::RtcpPacket(_, packets) => super::keyframes::asks_for_keyframe(&packets),
            _ => false,
        }
    }

    /// An RTP packet was read by `key`'s connection: forwards it with no
    /// other walk of the connection's pipeline. `handle_read` has already
    /// run every stage, so the decrypted packets wait in the connection's
    /// media queue (`poll_media_read` takes them without the walk that
    /// `poll_read` starts with). Events are not polled: an RTP packet of a
    /// track already announced raises none (the first packet of a track,
    /// which raises `OnTrack`, goes to `service`, as does anything but RTP
    /// of a known track). Writes are not polled (see `handle_datagram`),
    /// nor the connection's timer once a packet of that kind has armed it:
    /// the interceptors arm their timers on a stream's first packet, and
    /// later packets leave them where they are.
    fn media_fast_path(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else { return };
        let mut slow = false;
        let mut kinds = [false; 2];
        while let Some(read) = peer.pc.poll_media_read() {
            match read.message {
                RTCMessage::RtpPacket(track_id, packet) => match peer.kind_of(&track_id) {
                    Some(kind) => {
                        kinds[kind.index()] = true;
                        self.scratch.push((kind, packet));
                    }
                    None => {
                        slow = true;
                        self.pending.push(RTCMessage::RtpPacket(track_id, packet));
                    }
                },
                other => {
                    slow = true;
                    self.pending.push(other);
                }
            }
        }
        if slow || (kinds[0] && !peer.armed_in[0]) || (kinds[1] && !peer.armed_in[1]) {
            for (armed, seen) in peer.armed_in.iter_mut().zip(kinds) {
                *armed |= seen;
            }
            self.service(key, now, false);
            return;
        }
        let room_id = peer.room;
        if !self.scratch.is_empty() {
            self.forward(key, room_id, now);
        }
    }

    /// Sends what `from` produced (in `scratch`) to the others in the room.
    fn forward(&mut self, from: PeerKey, room_id: RoomId, now: Instant) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            self.scratch.clear();
            return;
        };
        let targets = room.media.targets(from);
        let fast = self.options.fast_media;
        for (kind, mut packet) in self.scratch.drain(..) {
            // Each leg negotiated its own extension ids: none are forwarded.
            packet.header.extension = false;
            packet.header.extension_profile = 0;
            packet.header.extensions.clear();
            packet.header.extensions_padding = 0;
            for target in targets.iter() {
                let Some(peer) = self.peers.get_mut(&target) else { continue };
                let Some(out) = peer.outgoing(kind) else { continue };
                let mut copy = packet.clone();
                let header = &packet.header;
                (copy.header.sequence_number, copy.header.timestamp) = out.continuity.rewrite(
                    header.ssrc,
                    header.sequence_number,
                    header.timestamp,
                    now,
                    kind.clock_rate(),
                );
                copy.header.ssrc = out.ssrc;
                copy.header.payload_type = out.payload_type;
                let armed = std::mem::replace(&mut out.armed, true);
                // Straight into the connection's pipeline: `RTCRtpSender::write_rtp`
                // would rebuild the sender's parameters (strings and vectors) per
                // packet to check what is set here: our own SSRC, the payload
                // type the answer settled on, no header extensions. The track id
                // is not read on the way out (an empty one allocates nothing).
                let message = RTCMessage::RtpPacket(String::new(), copy);
                if peer.pc.handle_write(TaggedRTCMessage { now, message }).is_ok() {
                    room.stats.forwarded += 1;
                    self.totals.forwarded += 1;
                }
                if fast {
                    // One packet in, one datagram out: a second `poll_write`
                    // would walk the pipeline again to find nothing. Anything
                    // more goes out with the connection's next timer.
                    if let Some(datagram) = peer.pc.poll_write() {
                        self.transmits.push_back(Transmit { to: datagram.transport.peer_addr, data: datagram.message });
                    }
                    if !armed {
                        Self::rearm(&mut self.timers, target, peer);
                    }
                } else {
                    Self::collect_writes(&mut self.transmits, &mut peer.pc);
                    Self::rearm(&mut self.timers, target, peer);
                }
            }
        }
    }

    /// A viewer lost picture (or just arrived): ask the sharer for a keyframe.
    fn request_keyframe(&mut self, from: PeerKey, room_id: RoomId, now: Instant) {
        let Some(sharer) = self.rooms.get(&room_id).and_then(|r| r.media.keyframe_source(from)) else { return };
        let Some(peer) = self.peers.get_mut(&sharer) else { return };
        let Some((receiver, ssrc)) =
            peer.incoming.iter().find(|t| t.kind == MediaKind::Video).map(|t| (t.receiver, t.ssrc))
        else {
            return;
        };
        if let Some(mut receiver) = peer.pc.rtp_receiver(receiver) {
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
            if let Err(e) = receiver.write_rtcp(now, vec![Box::new(pli)]) {
                tracing::debug!("voice: PLI to the sharer failed: {e}");
            }
        }
        Self::collect_writes(&mut self.transmits, &mut peer.pc);
        Self::rearm(&mut self.timers, sharer, peer);
    }

    /// Closes a connection (flushing its goodbye) and forgets it.
    fn remove_peer(&mut self, key: PeerKey, reason: LeftReason) {
        let Some(mut peer) = self.peers.remove(&key) else { return };
        if let Err(e) = peer.pc.close() {
            tracing::debug!("voice: closing a connection: {e}");
        }
        Self::collect_writes(&mut self.transmits, &mut peer.pc);
        if self.by_participant.get(&(peer.room, peer.participant)) == Some(&key) {
            self.by_participant.remove(&(peer.room, peer.participant));
        }
        let room_id = peer.room;
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.media.leave(key);
            if room.media.is_stopped() {
                self.tombstones.insert(key, room_id);
            } else {
                self.demux.remove(key);
                if room.media.is_empty() {
                    self.rooms.remove(&room_id);
                }
            }
        } else {
            self.demux.remove(key);
        }
        self.events.push_back(MediaEvent::Left { room: room_id, participant: peer.participant, reason });
    }

    fn forget_stopped(&mut self, now: Instant) {
        while let Some(&(at, room_id)) = self.forget.front() {
            if at > now {
                break;
            }
            self.forget.pop_front();
            self.rooms.remove(&room_id);
            let gone: Vec<PeerKey> = self.tombstones.iter().filter(|(_, r)| **r == room_id).map(|(k, _)| *k).collect();
            for key in gone {
                self.tombstones.remove(&key);
                self.demux.remove(key);
            }
        }
    }
}

impl MediaEngine for RtcEngine {
    fn admit(
        &mut self,
        now: Instant,
        room_id: RoomId,
        participant: ParticipantId,
        offer_sdp: &str,
    ) -> Result<String, VoiceError> {
        if offer_sdp.len() > MAX_OFFER_BYTES {
            return Err(VoiceError::InvalidOffer("too large".to_owned()));
        }
        let media_lines = |kind: &str| offer_sdp.lines().any(|l| l.trim_start().starts_with(kind));
        if !media_lines("m=audio") {
            return Err(VoiceError::NoAudio);
        }
        let wants_video = media_lines("m=video");
        if self.rooms.get(&room_id).is_some_and(|r| r.media.is_stopped()) {
            return Err(VoiceError::RoomStopped);
        }
        let offer =
            RTCSessionDescription::offer(offer_sdp.to_owned()).map_err(|e| VoiceError::InvalidOffer(e.to_string()))?;

        let ufrag = random_text(16);
        let password = random_text(32);
        let mut pc = self.build_connection(&ufrag, &password, wants_video)?;
        let mut audio_out = Self::add_outgoing(&mut pc, RtpCodecKind::Audio, opus().rtp_codec)?;
        let mut video_out =
            if wants_video { Some(Self::add_outgoing(&mut pc, RtpCodecKind::Video, vp8().rtp_codec)?) } else { None };
        pc.set_remote_description(now, offer).map_err(|e| VoiceError::InvalidOffer(e.to_string()))?;
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: self.local_addr.ip().to_string(),
                port: self.local_addr.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(engine_error)?;
        pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().map_err(engine_error)?)
            .map_err(engine_error)?;
        let answer = pc.create_answer(None).map_err(|e| VoiceError::InvalidOffer(e.to_string()))?;
        pc.set_local_description(now, answer).map_err(|e| VoiceError::InvalidOffer(e.to_string()))?;
        let answer_sdp = pc.local_description().map(|d| d.sdp).ok_or_else(|| engine_error("no local description"))?;
        if !answer_sdp.lines().any(|l| l.starts_with("a=rtpmap:") && l.to_ascii_lowercase().contains("opus/48000")) {
            return Err(VoiceError::NoAudio);
        }
        Self::negotiated_payload_type(&mut pc, &mut audio_out, OPUS_PAYLOAD_TYPE);
        if let Some(video) = video_out.as_mut() {
            Self::negotiated_payload_type(&mut pc, video, VP8_PAYLOAD_TYPE);
        }

        // A second connection of the same person replaces the first.
        if let Some(&old) = self.by_participant.get(&(room_id, participant)) {
            self.remove_peer(old, LeftReason::Closed);
        }
        let key = PeerKey(self.next_key);
        let room = self.rooms.entry(room_id).or_default();
        match room.media.join(key) {
            Ok(()) => {}
            Err(JoinRefused::Full) => return Err(VoiceError::RoomFull),
            Err(JoinRefused::Stopped) => return Err(VoiceError::RoomStopped),
        }
        self.next_key += 1;
        self.demux.insert_ufrag(&ufrag, key);
        self.by_participant.insert((room_id, participant), key);
        let mut peer = Peer {
            room: room_id,
            participant,
            pc,
            audio_out,
            video_out,
            incoming: Vec::with_capacity(2),
            joined: false,
            armed_in: [false; 2],
            deadline: None,
        };
        Self::collect_writes(&mut self.transmits, &mut peer.pc);
        Self::rearm(&mut self.timers, key, &mut peer);
        self.peers.insert(key, peer);
        Ok(answer_sdp)
    }

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if data.is_empty() || data.len() > MAX_DATAGRAM {
            return;
        }
        let Some(key) = self.demux.route(from, data) else { return };
        if let Some(room_id) = self.tombstones.get(&key) {
            if let Some(room) = self.rooms.get_mut(room_id) {
                room.stats.dropped_after_stop += 1;
                if is_rtp_media(data) {
                    room.stats.media_dropped_after_stop += 1;
                }
            }
            return;
        }
        let Some(peer) = self.peers.get_mut(&key) else { return };
        if self.receive_pool.capacity() < MAX_DATAGRAM {
            self.receive_pool = BytesMut::with_capacity(RECEIVE_POOL_BYTES);
        }
        self.receive_pool.extend_from_slice(data);
        let message = self.receive_pool.split();
        let transport = TransportContext {
            local_addr: self.local_addr,
            peer_addr: from,
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        };
        if let Err(e) = peer.pc.handle_read(TaggedBytesMut { now, transport, message }) {
            tracing::trace!("voice: a datagram from {from} was refused: {e}");
        }
        // An arriving RTP packet makes its own connection write nothing
        // (reports and feedback are timed), so its writes are not polled:
        // asking walks the whole pipeline. Whatever it might have queued
        // goes out with the connection's next timer or forwarded packet.
        let media = is_rtp_media(data);
        if media && self.options.fast_media {
            self.media_fast_path(key, now);
        } else {
            self.service(key, now, !media);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            match self.peers.get(&key) {
                Some(peer) if peer.deadline == Some(at) => {
                    return Some(self.forget.front().map_or(at, |(f, _)| at.min(*f)));
                }
                _ => {
                    self.timers.pop();
                }
            }
        }
        self.forget.front().map(|(at, _)| *at)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.forget_stopped(now);
        // Take what is due first: a connection that asks again for a time
        // already past is served on the next call, not in a loop here. At
        // most `TIMERS_PER_TURN` at a time: the rest stay due, and the media
        // task serves them on its next turns, between batches of datagrams,
        // so a crowd of timers coming due together cannot hold the media up.
        let mut due = std::mem::take(&mut self.due);
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if at > now || due.len() >= self.options.timers_per_turn {
                break;
            }
            self.timers.pop();
            if self.peers.get(&key).is_some_and(|peer| peer.deadline == Some(at)) {
                due.push(key);
            }
        }
        self.totals.timers_fired += due.len() as u64;
        for key in due.drain(..) {
            let Some(peer) = self.peers.get_mut(&key) else { continue };
            peer.deadline = None;
            if let Err(e) = peer.pc.handle_timeout(now) {
                tracing::debug!("voice: a connection's timer failed: {e}");
            }
            self.service(key, now, true);
        }
        self.due = due;
    }

    fn close(&mut self, _now: Instant, room: RoomId, participant: ParticipantId) {
        if let Some(&key) = self.by_participant.get(&(room, participant)) {
            self.remove_peer(key, LeftReason::Closed);
        }
    }

    fn stop_room(&mut self, now: Instant, room_id: RoomId) {
        let room = self.rooms.entry(room_id).or_default();
        if room.media.is_stopped() {
            return;
        }
        room.media.stop();
        room.stats.stopped = true;
        let members: Vec<PeerKey> = room.media.members().to_vec();
        for key in members {
            self.remove_peer(key, LeftReason::Stopped);
        }
        self.forget.push_back((now + STOPPED_ROOM_MEMORY, room_id));
    }

    fn room_stats(&self, room: RoomId) -> Option<RoomStats> {
        self.rooms.get(&room).map(|r| r.stats)
    }

    fn totals(&self) -> EngineTotals {
        self.totals
    }
}

fn opus() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: OPUS_PAYLOAD_TYPE,
    }
}

fn vp8() -> RTCRtpCodecParameters {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![feedback("nack", ""), feedback("nack", "pli"), feedback("ccm", "fir")],
        },
        payload_type: VP8_PAYLOAD_TYPE,
    }
}

fn random_text(len: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

fn engine_error(e: impl std::fmt::Display) -> VoiceError {
    VoiceError::Engine(e.to_string())
}
