//! What one forwarded voice packet costs the media engine, in-process and
//! deterministic enough for `valgrind --tool=callgrind`: N rooms × 2 `rtc`
//! peers connect to an [`RtcEngine`] through memory (no sockets, a
//! virtual clock), each peer's Opus-sized stream (80 B payload, 50 packets
//! a second) is encrypted beforehand, and then the engine is fed the
//! streams in batches of up to 64 datagrams, as the media task reads them,
//! its output drained after each batch and its timers served as they come
//! due. The peers answer what the engine sends them except the forwarded
//! media (their STUN and RTCP keep the connections alive); their own work
//! is not the engine's and is not counted.
//!
//! Only two functions are the engine's work: [`engine_batch`] (datagrams
//! in, datagrams out) and [`engine_timers`]. Natively it prints the time
//! spent in them per forwarded packet; under callgrind, count just them:
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no \
//!   --toggle-collect='voice_cost::engine_*' target/release/deps/voice_cost-* 50 2
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | head -60
//! ```
//!
//! and divide the total by the forwarded packets it prints. System calls
//! (`recvmmsg`/`sendmmsg`) are not part of this: `cargo bench --bench
//! voice` measures the whole server. Arguments: rooms (default 50),
//! measured seconds of media (default 2); `--default-chains` for `rtc`'s
//! default interceptors on every leg (`EngineOptions { lean: false }`),
//! `--no-fast-path` for every packet through the full service
//! (`fast_media: false`), to compare; `--floor` for the same number of
//! packets through `rtc_srtp`'s public contexts alone (decrypt, rewrite,
//! encrypt: what the engine could do if `rtc` exported the DTLS-SRTP keys).

#[path = "support/rtc_peer.rs"]
mod rtc_peer;
mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use officehours::voice::demux::is_rtp_media;
use officehours::voice::engine::Transmit;
use officehours::voice::rtc_engine::RtcEngine;
use officehours::voice::{EngineOptions, MediaEngine, MediaEvent, ParticipantId, RoomId};
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::configuration::media_engine::MediaEngine as RtcMediaEngine;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

const PAYLOAD: usize = 80;
const INTERVAL: Duration = Duration::from_millis(20);
const BATCH: usize = 64;
/// Packets each peer sends before the measurement (tracks open, the
/// first reports go out).
const WARM_UP: usize = 50;

struct Client {
    addr: SocketAddr,
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    connected: bool,
    stream: Vec<BytesMut>,
}

/// The engine's side of a batch: the datagrams in, what they produced out.
#[inline(always)]
fn batch(engine: &mut RtcEngine, now: Instant, batch: &[(SocketAddr, BytesMut)], out: &mut Vec<Transmit>) {
    for (from, data) in batch {
        engine.handle_datagram(now, *from, data);
    }
    out.extend(std::iter::from_fn(|| engine.poll_transmit()));
}

/// The engine's due timers, and what they produced.
#[inline(always)]
fn timers(engine: &mut RtcEngine, now: Instant, out: &mut Vec<Transmit>) {
    while engine.poll_timeout().is_some_and(|at| at <= now) {
        engine.handle_timeout(now);
    }
    out.extend(std::iter::from_fn(|| engine.poll_transmit()));
}

/// [`batch`] while measuring (callgrind counts this function; the call
/// count keeps the compiler from folding it into `setup_batch`).
#[inline(never)]
fn engine_batch(
    engine: &mut RtcEngine,
    now: Instant,
    datagrams: &[(SocketAddr, BytesMut)],
    out: &mut Vec<Transmit>,
    calls: &mut u64,
) {
    *calls += 1;
    batch(engine, now, datagrams, out)
}

/// [`timers`] while measuring (callgrind counts this function).
#[inline(never)]
fn engine_timers(engine: &mut RtcEngine, now: Instant, out: &mut Vec<Transmit>, calls: &mut u64) {
    *calls += 1;
    timers(engine, now, out)
}

/// The same outside the measurement (joining, warming up).
#[inline(never)]
fn setup_batch(engine: &mut RtcEngine, now: Instant, datagrams: &[(SocketAddr, BytesMut)], out: &mut Vec<Transmit>) {
    batch(engine, now, datagrams, out)
}

#[inline(never)]
fn setup_timers(engine: &mut RtcEngine, now: Instant, out: &mut Vec<Transmit>) {
    timers(engine, now, out)
}

struct World {
    engine: RtcEngine,
    server: SocketAddr,
    clients: Vec<Client>,
    now: Instant,
    /// Datagrams from the clients waiting for the engine.
    inbox: Vec<(SocketAddr, BytesMut)>,
    out: Vec<Transmit>,
    /// Time spent in the engine's functions while measuring (natively).
    engine_time: Duration,
    measuring: bool,
    /// Calls of the measured functions.
    calls: u64,
}

impl World {
    fn client_index(&self, addr: SocketAddr) -> Option<usize> {
        match addr.ip() {
            IpAddr::V4(ip) => {
                let [_, _, hi, lo] = ip.octets();
                Some(usize::from(hi) * 256 + usize::from(lo))
            }
            IpAddr::V6(_) => None,
        }
        .filter(|i| *i < self.clients.len())
    }

    /// Hands the engine's output to the clients (forwarded media only if
    /// `media`); collects what the clients send back.
    fn deliver(&mut self, media: bool) {
        let out = std::mem::take(&mut self.out);
        for t in &out {
            if !media && is_rtp_media(&t.data) {
                continue;
            }
            let Some(i) = self.client_index(t.to) else { continue };
            let c = &mut self.clients[i];
            let transport = TransportContext {
                local_addr: c.addr,
                peer_addr: self.server,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            };
            let _ = c.pc.handle_read(TaggedBytesMut { now: self.now, transport, message: t.data.clone() });
            while c.pc.poll_read().is_some() {}
        }
        self.out = out;
        self.out.clear();
        self.service_clients();
    }

    /// The clients' timers, events and writes.
    fn service_clients(&mut self) {
        for c in &mut self.clients {
            if c.pc.poll_timeout().is_some_and(|at| at <= self.now) {
                let _ = c.pc.handle_timeout(self.now);
            }
            while let Some(event) = c.pc.poll_event() {
                if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(RTCPeerConnectionState::Connected) = event {
                    c.connected = true;
                }
            }
            while let Some(w) = c.pc.poll_write() {
                self.inbox.push((c.addr, w.message));
            }
        }
    }

    /// The engine reads what is waiting, a batch at a time.
    fn feed_engine(&mut self) {
        let inbox = std::mem::take(&mut self.inbox);
        for datagrams in inbox.chunks(BATCH) {
            if self.measuring {
                let started = Instant::now();
                engine_batch(&mut self.engine, self.now, datagrams, &mut self.out, &mut self.calls);
                self.engine_time += started.elapsed();
            } else {
                setup_batch(&mut self.engine, self.now, datagrams, &mut self.out);
            }
        }
        self.inbox = inbox;
        self.inbox.clear();
    }

    fn timers(&mut self) {
        if self.measuring {
            let started = Instant::now();
            engine_timers(&mut self.engine, self.now, &mut self.out, &mut self.calls);
            self.engine_time += started.elapsed();
        } else {
            setup_timers(&mut self.engine, self.now, &mut self.out);
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let flag = |name: &str| std::env::args().any(|a| a == name);
    let rooms: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(50);
    let seconds: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2);
    anyhow::ensure!(rooms * 2 <= 65_536, "at most 32,768 rooms");
    let packets = (seconds * 50) as usize;
    println!("{}", support::machine());
    println!(
        "commit: {}, {}",
        command("git", &["rev-parse", "--short", "HEAD"]),
        command("date", &["-u", "+%F %R UTC"])
    );
    if flag("--floor") {
        return floor(rooms * 2 * packets);
    }
    let options = EngineOptions {
        lean: !flag("--default-chains"),
        fast_media: !flag("--no-fast-path"),
        ..EngineOptions::default()
    };
    println!("voice cost: {rooms} rooms × 2 peers, {seconds} s of media measured, engine {options:?}");

    let server: SocketAddr = "10.0.0.1:3479".parse()?;
    let mut world = World {
        engine: RtcEngine::with_options(server, options),
        server,
        clients: Vec::with_capacity(rooms * 2),
        now: Instant::now(),
        inbox: Vec::new(),
        out: Vec::new(),
        engine_time: Duration::ZERO,
        measuring: false,
        calls: 0,
    };

    // Join: offers, answers, then ICE and DTLS through memory.
    for i in 0..rooms * 2 {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, (i / 256) as u8, (i % 256) as u8)), 40_000);
        let mut media = RtcMediaEngine::default();
        media.register_codec(rtc_peer::opus(), RtpCodecKind::Audio).unwrap();
        let mut pc = rtc_peer::peer(addr, media, |r| r);
        let ssrc = 0x1000_0000 + i as u32;
        let sender = pc.add_track(rtc_peer::track(RtpCodecKind::Audio, ssrc, rtc_peer::opus().rtp_codec)).unwrap();
        let offer = rtc_peer::offer(&mut pc);
        let answer = world
            .engine
            .admit(world.now, RoomId((i / 2) as i64), ParticipantId(i as i64), &offer)
            .map_err(|e| anyhow::anyhow!("admit: {e}"))?;
        let payload_type = rtc_peer::accept(&mut pc, answer, sender).unwrap_or(111);
        world.clients.push(Client { addr, pc, sender, ssrc, payload_type, connected: false, stream: Vec::new() });
    }
    let joining = Instant::now();
    let joining_virtual = world.now;
    let mut joined = 0;
    while joined < rooms * 2 || world.clients.iter().any(|c| !c.connected) {
        world.now += Duration::from_millis(1);
        world.service_clients();
        world.feed_engine();
        world.timers();
        while let Some(event) = world.engine.poll_event() {
            joined += usize::from(matches!(event, MediaEvent::Joined { .. }));
        }
        world.deliver(true);
        anyhow::ensure!(joining.elapsed() < Duration::from_secs(600), "the peers did not all connect");
    }
    println!(
        "joined in {:.1} s ({:.1} s of virtual time)",
        joining.elapsed().as_secs_f64(),
        (world.now - joining_virtual).as_secs_f64()
    );

    // Each stream encrypted beforehand.
    for c in &mut world.clients {
        for k in 0..WARM_UP + packets {
            let mut payload = vec![0xAB; PAYLOAD];
            payload[..4].copy_from_slice(&(k as u32).to_be_bytes());
            let packet = rtc_peer::opus_packet(c.payload_type, c.ssrc, k as u16, payload);
            if let Some(mut sender) = c.pc.rtp_sender(c.sender) {
                let _ = sender.write_rtp(world.now, packet);
            }
            while let Some(w) = c.pc.poll_write() {
                if is_rtp_media(&w.message) {
                    c.stream.push(w.message);
                } else {
                    world.inbox.push((c.addr, w.message));
                }
            }
        }
    }

    // Media: every 20 ms each peer sends its next packet, spread over the
    // period (each 1 ms tick, the peers whose turn it is).
    let mut measured = (0, 0, 0);
    for k in 0..WARM_UP + packets {
        if k == WARM_UP {
            measured = (world.engine.totals().forwarded, world.engine.totals().timers_fired, 0);
            world.measuring = true;
        }
        let ticks = INTERVAL.as_millis() as usize;
        for tick in 0..ticks {
            world.now += Duration::from_millis(1);
            for i in (tick..world.clients.len()).step_by(ticks) {
                let c = &world.clients[i];
                if let Some(data) = c.stream.get(k) {
                    world.inbox.push((c.addr, data.clone()));
                }
            }
            if k >= WARM_UP {
                measured.2 += world.inbox.len();
            }
            world.timers();
            world.feed_engine();
            world.deliver(false);
        }
    }
    let totals = world.engine.totals();
    let forwarded = totals.forwarded - measured.0;
    let time = world.engine_time;
    println!(
        "measured: {forwarded} forwarded packets, {} datagrams in, {} connection timers; \
         {} measured calls; engine time {:.2} µs per forwarded packet (native, wall clock)",
        measured.2,
        totals.timers_fired - measured.1,
        world.calls,
        time.as_secs_f64() * 1e6 / forwarded.max(1) as f64
    );
    Ok(())
}

/// The floor of issue 16 in this stack: what forwarding a packet costs with
/// `rtc_srtp`'s public contexts alone, as the engine could do it if `rtc`
/// exported the DTLS-SRTP keys (docs/benchmarks.md, "What upstream would
/// need"): decrypt, parse the header, rewrite it, marshal, encrypt. No
/// routing or room lookups (the engine's own share is measured above).
fn floor(packets: usize) -> anyhow::Result<()> {
    use rtc::shared::marshal::Marshal;
    use rtc::srtp::context::Context;
    use rtc::srtp::protection_profile::ProtectionProfile;

    let crypto = rtc::crypto::providers::RingCrypto;
    let profile = ProtectionProfile::AeadAes128Gcm;
    let context = |key: u8| Context::new(&[key; 16], &[key; 12], profile, None, None, &crypto);
    let (mut client, mut server_in, mut server_out) = (context(1)?, context(1)?, context(2)?);
    let streams = 100u32;
    let mut datagrams = Vec::with_capacity(packets);
    for k in 0..packets {
        let mut payload = vec![0xAB; PAYLOAD];
        payload[..4].copy_from_slice(&(k as u32).to_be_bytes());
        let ssrc = 0x1000_0000 + k as u32 % streams;
        let packet = rtc_peer::opus_packet(111, ssrc, (k as u32 / streams) as u16, payload);
        datagrams.push(client.encrypt_rtp(&packet.marshal()?)?);
    }
    let mut out = Vec::with_capacity(packets);
    for batch in datagrams.chunks(BATCH) {
        engine_floor(batch, &mut server_in, &mut server_out, &mut out)?;
    }
    println!("floor: {} packets decrypted, rewritten and encrypted with rtc_srtp's contexts", out.len());
    Ok(())
}

/// One batch through the floor (callgrind counts this function too).
#[inline(never)]
fn engine_floor(
    batch: &[BytesMut],
    decrypt: &mut rtc::srtp::context::Context,
    encrypt: &mut rtc::srtp::context::Context,
    out: &mut Vec<BytesMut>,
) -> anyhow::Result<()> {
    use rtc::rtp::packet::Packet;
    use rtc::shared::marshal::{Marshal, Unmarshal};
    for datagram in batch {
        let mut plain = decrypt.decrypt_rtp(datagram)?;
        let mut packet = Packet::unmarshal(&mut plain)?;
        packet.header.ssrc ^= 0x5555_5555;
        packet.header.sequence_number = packet.header.sequence_number.wrapping_add(7);
        packet.header.timestamp = packet.header.timestamp.wrapping_add(960);
        packet.header.extension = false;
        packet.header.extensions.clear();
        out.push(encrypt.encrypt_rtp(&packet.marshal()?)?);
    }
    Ok(())
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
