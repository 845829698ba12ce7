//! The voice room's media task on loopback with two real WebRTC clients
//! (webrtc-rs's `rtc`, the same stack as the server, each on its own UDP
//! socket): both offer Opus, get the engine's answers, connect over ICE,
//! DTLS and SRTP to the one media port, and send RTP carrying a number.
//! Each side must receive the other's numbers in order; after the hard stop
//! not one more media packet reaches the other side. A screen share (VP8)
//! reaches the viewer the same way, and the viewer's picture-loss request
//! reaches the sharer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use officehours::voice::{self, LeftReason, MediaEvent, ParticipantId, RoomId, VoiceConfig, VoiceError, VoiceEvents};
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_VP8, MediaEngine};
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use tokio::net::UdpSocket;

#[path = "../../benches/support/rtc_peer.rs"]
mod rtc_peer;
use rtc_peer::{opus, track};

const PATIENCE: Duration = Duration::from_secs(15);
const PACKETS: u32 = 50;
const PROBE: u32 = 999_999;

/// A WebRTC client: one connection on its own loopback socket.
struct Client {
    socket: UdpSocket,
    local: SocketAddr,
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    sequence: u16,
    /// The screen-share track, when the client offers one.
    video: Option<VideoOut>,
    connected: bool,
    /// The numbers carried by the audio packets received, in arrival order.
    received: Vec<u32>,
    /// The same for video packets.
    received_video: Vec<u32>,
    /// The incoming video (receiver and SSRC), once it started.
    video_in: Option<(RTCRtpReceiverId, u32)>,
    /// The media SSRCs of the picture-loss requests received.
    plis: Vec<u32>,
}

struct VideoOut {
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    sequence: u16,
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
        payload_type: 96,
    }
}

impl Client {
    /// A client with one Opus track and its offer.
    async fn new() -> (Client, String) {
        Client::with_video(false).await
    }

    /// A client with one Opus track and, if `video`, a VP8 screen share.
    async fn with_video(video: bool) -> (Client, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut media = MediaEngine::default();
        media.register_codec(opus(), RtpCodecKind::Audio).unwrap();
        media.register_codec(vp8(), RtpCodecKind::Video).unwrap();
        // The same marker as the engine's, so the client sees the PLIs sent to it.
        let mut pc = rtc_peer::peer(local, media, |registry| {
            registry.with(voice::keyframes::SLOT, voice::keyframes::KeyframeRequests::default())
        });
        let ssrc = rand::random::<u32>();
        let sender = pc.add_track(track(RtpCodecKind::Audio, ssrc, opus().rtp_codec)).unwrap();
        let video = video.then(|| {
            let ssrc = rand::random::<u32>();
            let sender = pc.add_track(track(RtpCodecKind::Video, ssrc, vp8().rtp_codec)).unwrap();
            VideoOut { sender, ssrc, payload_type: 96, sequence: 0 }
        });
        let sdp = rtc_peer::offer(&mut pc);
        let client = Client {
            socket,
            local,
            pc,
            sender,
            ssrc,
            payload_type: 111,
            sequence: 0,
            video,
            connected: false,
            received: Vec::new(),
            received_video: Vec::new(),
            video_in: None,
            plis: Vec::new(),
        };
        (client, sdp)
    }

    fn accept(&mut self, answer: String) {
        if let Some(payload_type) = rtc_peer::accept(&mut self.pc, answer, self.sender) {
            self.payload_type = payload_type;
        }
        if let Some(video) = self.video.as_mut()
            && let Some(mut sender) = self.pc.rtp_sender(video.sender)
            && let Some(codec) = sender.get_parameters().rtp_parameters.codecs.first()
        {
            video.payload_type = codec.payload_type;
        }
    }

    fn feed(&mut self, from: SocketAddr, data: &[u8]) {
        rtc_peer::feed(&mut self.pc, self.local, from, data);
    }

    /// Timers, events and decrypted packets.
    fn process(&mut self) {
        let now = Instant::now();
        if self.pc.poll_timeout().is_some_and(|at| at <= now) {
            let _ = self.pc.handle_timeout(now);
        }
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                    RTCPeerConnectionState::Connected => self.connected = true,
                    RTCPeerConnectionState::Failed => panic!("a client's connection failed"),
                    _ => {}
                },
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let kind = self.pc.rtp_receiver(init.receiver_id).map(|r| r.track().kind());
                    if kind == Some(RtpCodecKind::Video) {
                        self.video_in = Some((init.receiver_id, init.ssrc));
                    }
                }
                _ => {}
            }
        }
        while let Some(read) = self.pc.poll_read() {
            match read.message {
                RTCMessage::RtpPacket(_, packet) => {
                    if let Some(number) = packet.payload.get(..4) {
                        let number = u32::from_be_bytes(number.try_into().unwrap());
                        if packet.header.payload_type == self.payload_type {
                            self.received.push(number);
                        } else {
                            self.received_video.push(number);
                        }
                    }
                }
                RTCMessage::RtcpPacket(_, packets) => {
                    for packet in packets {
                        if let Some(pli) = packet.as_any().downcast_ref::<PictureLossIndication>() {
                            self.plis.push(pli.media_ssrc);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    async fn flush(&mut self) {
        while let Some(out) = self.pc.poll_write() {
            self.socket.send_to(&out.message, out.transport.peer_addr).await.unwrap();
        }
    }

    /// Sends one Opus-sized RTP packet whose payload starts with `number`.
    async fn send(&mut self, number: u32) {
        self.sequence = self.sequence.wrapping_add(1);
        let mut payload = vec![0xAB; 80];
        payload[..4].copy_from_slice(&number.to_be_bytes());
        let packet = rtc_peer::opus_packet(self.payload_type, self.ssrc, self.sequence, payload);
        self.pc.rtp_sender(self.sender).unwrap().write_rtp(Instant::now(), packet).unwrap();
        self.flush().await;
    }

    /// Sends one VP8-sized RTP packet of the screen share.
    async fn send_video(&mut self, number: u32) {
        let video = self.video.as_mut().expect("a client with video");
        video.sequence = video.sequence.wrapping_add(1);
        let mut payload = vec![0x90; 1000];
        payload[..4].copy_from_slice(&number.to_be_bytes());
        let packet = rtp::packet::Packet {
            header: rtp::header::Header {
                version: 2,
                marker: true,
                payload_type: video.payload_type,
                sequence_number: video.sequence,
                timestamp: u32::from(video.sequence) * 3000,
                ssrc: video.ssrc,
                ..Default::default()
            },
            payload: bytes::Bytes::from(payload),
        };
        let sender = video.sender;
        self.pc.rtp_sender(sender).unwrap().write_rtp(Instant::now(), packet).unwrap();
        self.flush().await;
    }

    /// Asks for a keyframe of the incoming video.
    async fn picture_lost(&mut self) {
        let (receiver, ssrc) = self.video_in.expect("incoming video");
        let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
        self.pc.rtp_receiver(receiver).unwrap().write_rtcp(Instant::now(), vec![Box::new(pli)]).unwrap();
        self.flush().await;
    }

    fn next_timer(&mut self) -> Instant {
        let soon = Instant::now() + Duration::from_millis(20);
        self.pc.poll_timeout().map_or(soon, |at| at.min(soon))
    }
}

/// Drives both clients (their sockets and timers) until `done` holds.
async fn pump(a: &mut Client, b: &mut Client, what: &str, mut done: impl FnMut(&Client, &Client) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    let (mut buf_a, mut buf_b) = (vec![0u8; 2048], vec![0u8; 2048]);
    loop {
        for client in [&mut *a, &mut *b] {
            client.process();
            client.flush().await;
        }
        if done(a, b) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        let wake = tokio::time::Instant::from_std(a.next_timer().min(b.next_timer()));
        tokio::select! {
            received = a.socket.recv_from(&mut buf_a) => {
                let (n, from) = received.unwrap();
                a.feed(from, &buf_a[..n]);
            }
            received = b.socket.recv_from(&mut buf_b) => {
                let (n, from) = received.unwrap();
                b.feed(from, &buf_b[..n]);
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

async fn next_event(events: &mut VoiceEvents) -> MediaEvent {
    tokio::time::timeout(PATIENCE, events.recv()).await.expect("a media event in time").expect("the media task runs")
}

#[tokio::test]
async fn two_clients_hear_each_other_in_order_and_nothing_after_the_stop() {
    let config = VoiceConfig::new("127.0.0.1:0".parse().unwrap(), None);
    let (media, mut events) = voice::start(&config).await.unwrap();
    let port = media.local_addr();
    assert_eq!(port.ip().to_string(), "127.0.0.1");
    let room = RoomId(7);
    let (alice, bob) = (ParticipantId(1), ParticipantId(2));

    let (mut a, offer_a) = Client::new().await;
    let (mut b, offer_b) = Client::new().await;
    let answer_a = media.admit(room, alice, offer_a).await.unwrap();
    let answer_b = media.admit(room, bob, offer_b).await.unwrap();
    for answer in [&answer_a, &answer_b] {
        assert!(answer.to_ascii_lowercase().contains("opus/48000"), "{answer}");
        // The one host candidate is the media port.
        assert!(answer.contains(&format!("127.0.0.1 {} typ host", port.port())), "{answer}");
    }
    a.accept(answer_a);
    b.accept(answer_b);

    pump(&mut a, &mut b, "both clients are connected", |a, b| a.connected && b.connected).await;
    let mut joined = Vec::new();
    while joined.len() < 2 {
        if let MediaEvent::Joined { room: r, participant } = next_event(&mut events).await {
            assert_eq!(r, room);
            joined.push(participant);
        }
    }
    joined.sort();
    assert_eq!(joined, vec![alice, bob]);

    // Both talk at once, a few packets at a time.
    for n in 1..=PACKETS {
        a.send(n).await;
        b.send(1000 + n).await;
        if n % 10 == 0 {
            pump(&mut a, &mut b, "a batch arrives", |a, b| {
                a.received.len() >= n as usize && b.received.len() >= n as usize
            })
            .await;
        }
    }
    pump(&mut a, &mut b, "every packet arrives", |a, b| {
        a.received.len() >= PACKETS as usize && b.received.len() >= PACKETS as usize
    })
    .await;
    assert_eq!(b.received, (1..=PACKETS).collect::<Vec<_>>(), "Bob hears Alice in order");
    assert_eq!(a.received, (1001..=1000 + PACKETS).collect::<Vec<_>>(), "Alice hears Bob in order");
    let stats = media.stats(room).await.unwrap().unwrap();
    assert_eq!(stats.forwarded, 2 * u64::from(PACKETS));
    assert!(!stats.stopped);
    // The shared counters say the same without a command (the task
    // publishes them at the end of every turn, so before it answered).
    assert_eq!(media.counters().snapshot().forwarded, 2 * u64::from(PACKETS));

    // Bob's socket is empty of media now (everything sent to him was read).
    drain_media(&mut b).await;

    // The hard stop, acknowledged: from here on the room forwards nothing.
    media.stop_room(room).await.unwrap();
    // Alice, who has not yet heard of the stop, sends a probe.
    a.send(PROBE).await;
    // Wait until the media task has read the probe: it is the only media
    // packet of the room's after the stop (every earlier one was received
    // by the other side above).
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = media.stats(room).await.unwrap().expect("a stopped room is remembered");
        assert!(stats.stopped);
        if stats.media_dropped_after_stop >= 1 {
            assert_eq!(stats.media_dropped_after_stop, 1);
            assert_eq!(stats.forwarded, 2 * u64::from(PACKETS), "nothing forwarded after the stop");
            break;
        }
        assert!(Instant::now() < deadline, "the media task never read the probe");
        tokio::task::yield_now().await;
    }
    // Whatever the media task sent Bob after the stop has reached his
    // socket (loopback delivers at once): none of it is media.
    let after_stop = drain_media(&mut b).await;
    assert_eq!(after_stop, 0, "a media packet reached Bob after the stop");
    b.process();
    assert!(!b.received.contains(&PROBE));
    assert_eq!(b.received.len(), PACKETS as usize);

    // Both are told they left because of the stop, and nobody gets back in.
    let mut left = Vec::new();
    while left.len() < 2 {
        if let MediaEvent::Left { room: r, participant, reason } = next_event(&mut events).await {
            assert_eq!((r, reason), (room, LeftReason::Stopped));
            left.push(participant);
        }
    }
    left.sort();
    assert_eq!(left, vec![alice, bob]);
    let (_c, offer_c) = Client::new().await;
    assert_eq!(media.admit(room, alice, offer_c).await, Err(VoiceError::RoomStopped));
}

/// Reads every datagram waiting on a client's socket, feeds it to the
/// client and returns how many were RTP media (not RTCP, STUN or DTLS).
async fn drain_media(client: &mut Client) -> usize {
    let mut buf = vec![0u8; 2048];
    let mut media = 0;
    loop {
        match client.socket.try_recv_from(&mut buf) {
            Ok((n, from)) => {
                if voice::demux::is_rtp_media(&buf[..n]) {
                    media += 1;
                }
                client.feed(from, &buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return media,
            Err(e) => panic!("reading a client's socket: {e}"),
        }
    }
}

#[tokio::test]
async fn bad_offers_are_refused_and_a_second_tab_replaces_the_first() {
    let config = VoiceConfig::new("127.0.0.1:0".parse().unwrap(), None);
    let (media, mut events) = voice::start(&config).await.unwrap();
    let room = RoomId(8);
    let no_audio =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
    assert_eq!(media.admit(room, ParticipantId(1), no_audio.to_owned()).await, Err(VoiceError::NoAudio));
    let garbage = "m=audio but nothing else".to_owned();
    assert!(matches!(media.admit(room, ParticipantId(1), garbage).await, Err(VoiceError::InvalidOffer(_))));
    let huge = format!("m=audio {}", "x".repeat(100_000));
    assert!(matches!(media.admit(room, ParticipantId(1), huge).await, Err(VoiceError::InvalidOffer(_))));
    // A good offer is still answered.
    let (_a, offer) = Client::new().await;
    assert!(media.admit(room, ParticipantId(1), offer).await.is_ok());

    // A second tab of the same person replaces the first connection.
    let (_b, offer) = Client::new().await;
    assert!(media.admit(room, ParticipantId(1), offer).await.is_ok());
    let closed = MediaEvent::Left { room, participant: ParticipantId(1), reason: LeftReason::Closed };
    assert_eq!(next_event(&mut events).await, closed);
    // Closing the connection says so too; closing it again does nothing.
    media.close(room, ParticipantId(1)).await.unwrap();
    assert_eq!(next_event(&mut events).await, closed);
    media.close(room, ParticipantId(1)).await.unwrap();
    // The room is empty and forgotten.
    assert_eq!(media.stats(room).await.unwrap(), None);
    assert!(events.try_recv().is_err());
}

/// The `m=` sections of an SDP, each with its lines.
fn sections(sdp: &str) -> Vec<Vec<&str>> {
    let mut sections: Vec<Vec<&str>> = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("m=") {
            sections.push(Vec::new());
        }
        if let Some(section) = sections.last_mut() {
            section.push(line);
        }
    }
    sections
}

fn mentions_transport_cc(section: &[&str]) -> bool {
    section.iter().any(|l| l.contains("transport-cc") || l.contains("transport-wide-cc"))
}

#[tokio::test]
async fn transport_wide_feedback_is_negotiated_for_video_only() {
    let config = VoiceConfig::new("127.0.0.1:0".parse().unwrap(), None);
    let (media, _events) = voice::start(&config).await.unwrap();
    // Both clients offer TWCC on every line (rtc's default interceptors).
    let (_a, offer) = Client::new().await;
    assert!(sections(&offer).iter().all(|s| mentions_transport_cc(s)), "the offer asks for TWCC: {offer}");
    let answer = media.admit(RoomId(10), ParticipantId(1), offer).await.unwrap();
    let audio_only = sections(&answer);
    assert_eq!(audio_only.len(), 1, "{answer}");
    assert!(!mentions_transport_cc(&audio_only[0]), "an audio-only leg has no TWCC: {answer}");

    let (_b, offer) = Client::with_video(true).await;
    let answer = media.admit(RoomId(10), ParticipantId(2), offer).await.unwrap();
    let with_video = sections(&answer);
    let audio = with_video.iter().find(|s| s[0].starts_with("m=audio")).expect("an audio line");
    let video = with_video.iter().find(|s| s[0].starts_with("m=video")).expect("a video line");
    assert!(!mentions_transport_cc(audio), "no TWCC on audio: {answer}");
    assert!(mentions_transport_cc(video), "TWCC on video: {answer}");
    assert!(video.iter().any(|l| l.contains("nack")), "NACK on video: {answer}");
}

#[tokio::test]
async fn a_screen_share_is_forwarded_and_picture_loss_reaches_the_sharer() {
    let config = VoiceConfig::new("127.0.0.1:0".parse().unwrap(), None);
    let (media, mut events) = voice::start(&config).await.unwrap();
    let room = RoomId(9);
    let (sharer, viewer) = (ParticipantId(1), ParticipantId(2));
    let (mut a, offer_a) = Client::with_video(true).await;
    let (mut b, offer_b) = Client::with_video(true).await;
    let answer_a = media.admit(room, sharer, offer_a).await.unwrap();
    assert!(answer_a.contains("m=video") && answer_a.to_ascii_lowercase().contains("vp8/90000"), "{answer_a}");
    a.accept(answer_a);
    b.accept(media.admit(room, viewer, offer_b).await.unwrap());
    pump(&mut a, &mut b, "both clients are connected", |a, b| a.connected && b.connected).await;
    let mut joined = 0;
    while joined < 2 {
        if let MediaEvent::Joined { .. } = next_event(&mut events).await {
            joined += 1;
        }
    }

    // Alice shares her screen (and talks); Bob sees every frame in order.
    for n in 1..=20 {
        a.send_video(n).await;
        a.send(100 + n).await;
    }
    pump(&mut a, &mut b, "the share arrives", |_, b| b.received_video.len() >= 20 && b.received.len() >= 20).await;
    assert_eq!(b.received_video, (1..=20).collect::<Vec<_>>());
    assert_eq!(b.received, (101..=120).collect::<Vec<_>>());
    assert!(a.received_video.is_empty() && a.received.is_empty());
    let started = loop {
        if let MediaEvent::TrackStarted { participant, kind: voice::MediaKind::Video, .. } =
            next_event(&mut events).await
        {
            break participant;
        }
    };
    assert_eq!(started, sharer);

    // Bob lost a picture: Alice is asked for a keyframe of her own track.
    assert!(a.plis.is_empty());
    let video_ssrc = a.video.as_ref().unwrap().ssrc;
    b.picture_lost().await;
    pump(&mut a, &mut b, "the PLI reaches the sharer", |a, _| a.plis.contains(&video_ssrc)).await;
    assert!(b.plis.is_empty(), "nobody asked Bob, who shares nothing");
}
