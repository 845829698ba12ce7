//! A WebRTC peer on webrtc-rs's sans-IO `rtc`, the same stack as the
//! server's media engine: one Opus track, a host candidate on its own UDP
//! socket, an offer to give the server. Used by the voice benchmark's load
//! generator and by the voice media tests (`tests/it/voice_media.rs`), which
//! include this file.

use std::net::SocketAddr;
use std::time::Instant;

use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MediaEngine};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

/// Opus as browsers offer it (Chrome's and Firefox's `fmtp` line). Kept
/// apart from the server's own codec table on purpose: this is the other
/// side of the negotiation.
pub fn opus() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: 111,
    }
}

/// A local track of `kind` sending with `ssrc`.
pub fn track(kind: RtpCodecKind, ssrc: u32, codec: RTCRtpCodec) -> MediaStreamTrack {
    MediaStreamTrack::new(
        "client".to_owned(),
        format!("client-{kind}"),
        format!("client-{kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec,
            ..Default::default()
        }],
    )
}

/// A peer connection on `local` built with `media` (codecs registered by
/// the caller) and the default interceptors plus `extra` ones.
pub fn peer(local: SocketAddr, mut media: MediaEngine, extra: impl FnOnce(Registry) -> Registry) -> RTCPeerConnection {
    let registry = extra(register_default_interceptors(Registry::new(), &mut media).unwrap());
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(Instant::now())
        .unwrap();
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: local.ip().to_string(),
            port: local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .unwrap();
    pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().unwrap()).unwrap();
    pc
}

/// Sets the local offer and returns its SDP.
pub fn offer(pc: &mut RTCPeerConnection) -> String {
    let offer = pc.create_offer(None).unwrap();
    pc.set_local_description(Instant::now(), offer).unwrap();
    pc.local_description().unwrap().sdp
}

/// Applies the server's answer; returns the payload type `sender` sends with.
pub fn accept(pc: &mut RTCPeerConnection, answer: String, sender: RTCRtpSenderId) -> Option<u8> {
    let answer = RTCSessionDescription::answer(answer).unwrap();
    pc.set_remote_description(Instant::now(), answer).unwrap();
    pc.rtp_sender(sender).and_then(|mut s| s.get_parameters().rtp_parameters.codecs.first().map(|c| c.payload_type))
}

/// The `sequence`-th Opus packet of a stream (20 ms of audio each, so the
/// timestamp moves 960 ticks of 48 kHz per packet) carrying `payload`.
pub fn opus_packet(payload_type: u8, ssrc: u32, sequence: u16, payload: Vec<u8>) -> rtc::rtp::packet::Packet {
    rtc::rtp::packet::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            payload_type,
            sequence_number: sequence,
            timestamp: u32::from(sequence) * 960,
            ssrc,
            ..Default::default()
        },
        payload: bytes::Bytes::from(payload),
    }
}

/// Hands a datagram that arrived on `local` from `from` to the peer.
#[allow(dead_code)] // the in-process cost bench feeds its peers at its own clock
pub fn feed(pc: &mut RTCPeerConnection, local: SocketAddr, from: SocketAddr, data: &[u8]) {
    let transport =
        TransportContext { local_addr: local, peer_addr: from, ecn: None, transport_protocol: TransportProtocol::UDP };
    let message = bytes::BytesMut::from(data);
    let _ = pc.handle_read(TaggedBytesMut { now: Instant::now(), transport, message });
}
