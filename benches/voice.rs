//! The voice room's media under load: N rooms × 2 peers, each peer sending
//! Opus-sized RTP at 50 packets a second through the server's SFU, the
//! server in its own process pinned to CPU 0 and this load generator pinned
//! to CPU 1 (when the machine has two).
//!
//! Each packet carries its sequence number and its send time, so the
//! receiving peer measures the one-way delay through the server (the
//! generator's own send and receive work included) and nothing is counted
//! twice. Per step it prints: forwarded packets/s, the server's CPU µs per
//! forwarded packet (its process CPU time over the packets it forwarded),
//! loss, delay p50/p99, the server's memory per room (resident set before
//! and after the rooms joined) and the time to join (offer → connected).
//!
//! Run: `cargo bench --bench voice` (steps 50,100,250,500,1000,2000 rooms,
//! 10 s each), or `cargo bench --bench voice -- 50,100 5` for other steps
//! and seconds. The server role is this same binary started with
//! `OH_VOICE_BENCH_SERVER=1`.

#[path = "support/rtc_peer.rs"]
mod rtc_peer;
mod support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use officehours::voice::{self, ParticipantId, RoomId, VoiceConfig};
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// 20 ms of Opus at a typical voice bit rate.
const PAYLOAD: usize = 80;
const INTERVAL: Duration = Duration::from_millis(20);
const WARM_UP: Duration = Duration::from_secs(2);

fn main() -> anyhow::Result<()> {
    if std::env::var_os("OH_VOICE_BENCH_SERVER").is_some() {
        return serve();
    }
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let steps: Vec<usize> = args
        .first()
        .map(|s| s.split(',').map(|n| n.trim().parse()).collect::<Result<_, _>>())
        .transpose()?
        .unwrap_or_else(|| vec![50, 100, 250, 500, 1000, 2000]);
    let seconds: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    println!("{}", support::machine());
    pin_to_cpu(1);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    println!("voice: N rooms × 2 peers, Opus-sized RTP ({PAYLOAD} B) at 50/s each, {seconds} s measured per step");
    println!(
        "{:>6} {:>12} {:>10} {:>9} {:>9} {:>9} {:>11} {:>10} {:>10} {:>9}",
        "rooms",
        "fwd pkt/s",
        "µs/pkt",
        "loss %",
        "p50 ms",
        "p99 ms",
        "KiB/room",
        "join p50 ms",
        "join p99 ms",
        "gen CPU%"
    );
    for rooms in steps {
        runtime.block_on(step(rooms, Duration::from_secs(seconds)))?;
    }
    Ok(())
}

/// Pins the calling thread (and the threads it starts) to `cpu` when the
/// machine has it.
fn pin_to_cpu(cpu: usize) {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) <= cpu {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// This process's CPU time (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

// ---- the server role -------------------------------------------------------

/// The SFU on one core, driven over a line-based JSON control connection:
/// `{"admit":[room, participant, offer]}` → `{"answer": sdp}`;
/// `{"stats":[rooms…]}` → forwarded packets, CPU time, resident memory.
fn serve() -> anyhow::Result<()> {
    pin_to_cpu(0);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (media, _events) = voice::start(&VoiceConfig::new("127.0.0.1:0".parse()?, None)).await?;
        let control = TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", control.local_addr()?);
        let (stream, _) = control.accept().await?;
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        while let Some(line) = lines.next_line().await? {
            let request: Value = serde_json::from_str(&line)?;
            let reply = if let Some(admit) = request.get("admit") {
                let (room, who) = (admit[0].as_i64().unwrap_or(0), admit[1].as_i64().unwrap_or(0));
                let offer = admit[2].as_str().unwrap_or_default().to_owned();
                match media.admit(RoomId(room), ParticipantId(who), offer).await {
                    Ok(answer) => json!({ "answer": answer }),
                    Err(e) => json!({ "error": e.to_string() }),
                }
            } else {
                let mut forwarded = 0;
                for room in request["stats"].as_array().into_iter().flatten() {
                    let stats = media.stats(RoomId(room.as_i64().unwrap_or(0))).await?;
                    forwarded += stats.map_or(0, |s| s.forwarded);
                }
                json!({ "forwarded": forwarded, "cpu_us": cpu_time().as_micros() as u64, "rss": resident_bytes() })
            };
            write.write_all(format!("{reply}\n").as_bytes()).await?;
        }
        Ok(())
    })
}

struct Server {
    child: std::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Server {
    async fn start() -> anyhow::Result<Server> {
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .env("OH_VOICE_BENCH_SERVER", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first)?;
        let address: SocketAddr = first.trim().parse()?;
        let (read, write) = TcpStream::connect(address).await?.into_split();
        Ok(Server { child, lines: BufReader::new(read).lines(), write })
    }

    async fn call(&mut self, request: Value) -> anyhow::Result<Value> {
        self.write.write_all(format!("{request}\n").as_bytes()).await?;
        let line = self.lines.next_line().await?.ok_or_else(|| anyhow::anyhow!("the server process ended"))?;
        Ok(serde_json::from_str(&line)?)
    }

    async fn stats(&mut self, rooms: usize) -> anyhow::Result<(u64, Duration, u64)> {
        let reply = self.call(json!({ "stats": (1..=rooms as i64).collect::<Vec<_>>() })).await?;
        let number = |k: &str| reply[k].as_u64().unwrap_or(0);
        Ok((number("forwarded"), Duration::from_micros(number("cpu_us")), number("rss")))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the load generator ----------------------------------------------------

/// What every peer adds to, read by the step between phases.
#[derive(Default)]
struct Shared {
    /// Peers send while this holds.
    sending: AtomicBool,
    /// Packets sent inside the measured window, and received of those.
    window: (AtomicU64, AtomicU64),
    window_open: AtomicBool,
    /// Peers connected so far.
    connected: AtomicU64,
    stop: tokio::sync::Notify,
}

struct Peer {
    socket: UdpSocket,
    local: SocketAddr,
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    sequence: u16,
    /// When the offer was made, and when the connection was up.
    asked: Instant,
    connected_at: Option<Instant>,
    /// One-way delays (µs) of the packets received in the window.
    delays: Vec<u32>,
}

impl Peer {
    async fn new() -> anyhow::Result<(Peer, String)> {
        let asked = Instant::now();
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local = socket.local_addr()?;
        let mut media = MediaEngine::default();
        media.register_codec(rtc_peer::opus(), RtpCodecKind::Audio).unwrap();
        let mut pc = rtc_peer::peer(local, media, |r| r);
        let ssrc = rand::random::<u32>();
        let sender = pc.add_track(rtc_peer::track(RtpCodecKind::Audio, ssrc, rtc_peer::opus().rtp_codec)).unwrap();
        let offer = rtc_peer::offer(&mut pc);
        let peer = Peer {
            socket,
            local,
            pc,
            sender,
            ssrc,
            payload_type: 111,
            sequence: 0,
            asked,
            connected_at: None,
            delays: Vec::new(),
        };
        Ok((peer, offer))
    }

    async fn flush(&mut self) {
        while let Some(out) = self.pc.poll_write() {
            let _ = self.socket.send_to(&out.message, out.transport.peer_addr).await;
        }
    }

    fn process(&mut self, base: Instant, shared: &Shared) {
        let now = Instant::now();
        if self.pc.poll_timeout().is_some_and(|at| at <= now) {
            let _ = self.pc.handle_timeout(now);
        }
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(RTCPeerConnectionState::Connected) = event {
                self.connected_at = Some(Instant::now());
                shared.connected.fetch_add(1, Ordering::Relaxed);
            }
        }
        while let Some(read) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = read.message
                && let Some(stamp) = packet.payload.get(..9)
                && stamp[0] == 1
            {
                let sent = u64::from_be_bytes(stamp[1..9].try_into().unwrap());
                let delay = (base.elapsed().as_micros() as u64).saturating_sub(sent);
                shared.window.1.fetch_add(1, Ordering::Relaxed);
                self.delays.push(delay.min(u64::from(u32::MAX)) as u32);
            }
        }
    }

    /// One packet; its payload says whether it was sent inside the
    /// measured window and when.
    async fn send(&mut self, base: Instant, shared: &Shared) {
        self.sequence = self.sequence.wrapping_add(1);
        let mut payload = vec![0xAB; PAYLOAD];
        let in_window = shared.window_open.load(Ordering::Relaxed);
        payload[0] = u8::from(in_window);
        payload[1..9].copy_from_slice(&(base.elapsed().as_micros() as u64).to_be_bytes());
        if in_window {
            shared.window.0.fetch_add(1, Ordering::Relaxed);
        }
        let packet = rtc_peer::opus_packet(self.payload_type, self.ssrc, self.sequence, payload);
        if let Some(mut sender) = self.pc.rtp_sender(self.sender) {
            let _ = sender.write_rtp(Instant::now(), packet);
        }
        self.flush().await;
    }

    /// Runs the peer until the step ends; returns its time to join (µs)
    /// and its delays.
    async fn run(mut self, base: Instant, shared: Arc<Shared>, phase: Duration) -> (u32, Vec<u32>) {
        let mut buf = vec![0u8; 2048];
        let start = tokio::time::Instant::now() + phase;
        let mut tick = tokio::time::interval_at(start, INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let stop = shared.stop.notified();
        tokio::pin!(stop);
        loop {
            self.process(base, &shared);
            self.flush().await;
            let wake = self.pc.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                () = &mut stop => break,
                received = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = received {
                        rtc_peer::feed(&mut self.pc, self.local, from, &buf[..n]);
                    }
                }
                _ = tick.tick() => {
                    if shared.sending.load(Ordering::Relaxed) && self.connected_at.is_some() {
                        self.send(base, &shared).await;
                    }
                }
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
        let joined = self.connected_at.map_or(u32::MAX, |at| (at - self.asked).as_micros() as u32);
        (joined, self.delays)
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    f64::from(sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]) / 1000.0
}

async fn step(rooms: usize, measured: Duration) -> anyhow::Result<()> {
    let mut server = Server::start().await?;
    let (_, _, rss_before) = server.stats(0).await?;
    let base = Instant::now();
    let shared = Arc::new(Shared::default());
    let mut tasks = tokio::task::JoinSet::new();
    let mut joins = Vec::with_capacity(rooms * 2);
    for room in 1..=rooms as i64 {
        for who in 1..=2 {
            let (mut peer, offer) = Peer::new().await?;
            let reply = server.call(json!({ "admit": [room, who, offer] })).await?;
            let Some(answer) = reply["answer"].as_str() else {
                anyhow::bail!("room {room} refused a peer: {reply}");
            };
            if let Some(pt) = rtc_peer::accept(&mut peer.pc, answer.to_owned(), peer.sender) {
                peer.payload_type = pt;
            }
            // Each peer sends at its own phase of the 20 ms period.
            let (shared, phase) = (shared.clone(), Duration::from_micros(rand::random::<u64>() % 20_000));
            tasks.spawn(peer.run(base, shared, phase));
        }
    }
    // Everyone connected (ICE + DTLS), then the packets flow.
    let deadline = Instant::now() + Duration::from_secs(60 + rooms as u64 / 20);
    while shared.connected.load(Ordering::Relaxed) < (rooms * 2) as u64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} peers connected",
            shared.connected.load(Ordering::Relaxed),
            rooms * 2
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, _, rss_joined) = server.stats(0).await?;
    shared.sending.store(true, Ordering::Relaxed);
    tokio::time::sleep(WARM_UP).await;

    let (forwarded_0, cpu_0, _) = server.stats(rooms).await?;
    let generator_0 = cpu_time();
    let window_0 = Instant::now();
    shared.window_open.store(true, Ordering::Relaxed);
    tokio::time::sleep(measured).await;
    shared.window_open.store(false, Ordering::Relaxed);
    let elapsed = window_0.elapsed();
    let (forwarded_1, cpu_1, _) = server.stats(rooms).await?;
    let generator_cpu = cpu_time() - generator_0;
    // In-flight packets of the window arrive; then everything stops.
    tokio::time::sleep(Duration::from_millis(500)).await;
    shared.sending.store(false, Ordering::Relaxed);
    shared.stop.notify_waiters();
    let mut delays = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (joined, mut d) = done?;
        joins.push(joined);
        delays.append(&mut d);
    }
    delays.sort_unstable();
    joins.sort_unstable();

    let forwarded = forwarded_1 - forwarded_0;
    let rate = forwarded as f64 / elapsed.as_secs_f64();
    let per_packet = (cpu_1 - cpu_0).as_secs_f64() * 1e6 / forwarded.max(1) as f64;
    let (sent, received) = (shared.window.0.load(Ordering::Relaxed), shared.window.1.load(Ordering::Relaxed));
    let loss = 100.0 * (1.0 - received as f64 / sent.max(1) as f64);
    let per_room = (rss_joined.saturating_sub(rss_before)) as f64 / 1024.0 / rooms as f64;
    println!(
        "{rooms:>6} {rate:>12.0} {per_packet:>10.2} {loss:>9.3} {:>9.2} {:>9.2} {per_room:>11.1} {:>10.1} {:>10.1} {:>9.0}",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        percentile(&joins, 0.5),
        percentile(&joins, 0.99),
        100.0 * generator_cpu.as_secs_f64() / elapsed.as_secs_f64(),
    );
    Ok(())
}
