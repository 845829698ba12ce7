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
//! and after the rooms joined), the time to join (offer → connected) and how
//! late the generator sent (p99); then how long the media thread waited
//! for the CPU and how long the media task's turns took, by what they did.
//! The server's figures are read from the media task's shared counters,
//! not through its command queue, so they are there at saturation too.
//! `OH_VOICE_BENCH_TIMERS`, `OH_VOICE_BENCH_LEAN` and `OH_VOICE_BENCH_FAST`
//! switch the engine to earlier choices, to compare (see `options`). It also
//! prints the server's CPU per packet split into user space and kernel.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use officehours::voice::counters::{BUCKETS, HistogramSnapshot, WORKS, bucket_limit};
use officehours::voice::demux::is_rtp_media;
use officehours::voice::{self, CountersSnapshot, EngineOptions, ParticipantId, RoomId, VoiceConfig, Work};
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
use tokio::net::{TcpStream, UdpSocket};

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
    println!("engine: {:?}", options());
    println!(
        "{:>6} {:>12} {:>10} {:>9} {:>9} {:>9} {:>11} {:>10} {:>10} {:>9} {:>9}",
        "rooms",
        "fwd pkt/s",
        "µs/pkt",
        "loss %",
        "p50 ms",
        "p99 ms",
        "KiB/room",
        "join p50 ms",
        "join p99 ms",
        "gen CPU%",
        "gen late p99 ms"
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
    let (user, system) = cpu_times();
    user + system
}

/// This process's CPU time in user space and in the kernel.
fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    (micros(usage.ru_utime), micros(usage.ru_stime))
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

// ---- the server role -------------------------------------------------------

/// The SFU on one core, driven over a line-based JSON control connection:
/// `{"admit":[room, participant, offer]}` → `{"answer": sdp}`;
/// `{"stats":true}` → the media task's counters, CPU time, resident memory.
/// The control connection has its own thread (on the same core): on the
/// runtime's one thread it would wait behind the media task, which under
/// saturation answered the window's first question only after its end.
fn serve() -> anyhow::Result<()> {
    pin_to_cpu(0);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let config = VoiceConfig::new("127.0.0.1:0".parse()?, None);
    let (media, _events) = runtime.block_on(voice::start_with_options(&config, options()))?;
    let control = std::net::TcpListener::bind("127.0.0.1:0")?;
    println!("{}", control.local_addr()?);
    let runtime_handle = runtime.handle().clone();
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let controller = std::thread::spawn(move || -> anyhow::Result<()> {
        let (stream, _) = control.accept()?;
        let mut write = stream.try_clone()?;
        for line in std::io::BufRead::lines(std::io::BufReader::new(stream)) {
            let request: Value = serde_json::from_str(&line?)?;
            let reply = if let Some(admit) = request.get("admit") {
                let (room, who) = (admit[0].as_i64().unwrap_or(0), admit[1].as_i64().unwrap_or(0));
                let offer = admit[2].as_str().unwrap_or_default().to_owned();
                // Only a reply channel is awaited: no driver needed here.
                match runtime_handle.block_on(media.admit(RoomId(room), ParticipantId(who), offer)) {
                    Ok(answer) => json!({ "answer": answer }),
                    Err(e) => json!({ "error": e.to_string() }),
                }
            } else {
                // Read from the media task's shared counters, not through its
                // command queue: at saturation a command waits behind the media.
                let now = media.counters().snapshot();
                let works: Vec<Value> = now
                    .histograms
                    .iter()
                    .map(|h| json!({ "buckets": h.buckets.to_vec(), "total": h.total_micros, "longest": h.longest_micros }))
                    .collect();
                json!({
                    "forwarded": now.forwarded,
                    "datagrams": now.datagrams,
                    "batches": now.batches,
                    "timers": now.timers_fired,
                    "works": works,
                    "cpu_us": cpu_time().as_micros() as u64,
                    "sys_us": cpu_times().1.as_micros() as u64,
                    "run_delay_us": run_delay().as_micros() as u64,
                    "rss": resident_bytes(),
                })
            };
            std::io::Write::write_all(&mut write, format!("{reply}\n").as_bytes())?;
        }
        let _ = done.send(());
        Ok(())
    });
    runtime.block_on(async {
        let _ = finished.await;
    });
    controller.join().map_err(|_| anyhow::anyhow!("the control thread panicked"))?
}

/// How long the process's main thread (the media task's) was ready to run
/// but waited for the CPU (`/proc/self/schedstat`: other processes on its
/// core, including the control thread).
fn run_delay() -> Duration {
    let schedstat = std::fs::read_to_string("/proc/self/schedstat").unwrap_or_default();
    let nanos: u64 = schedstat.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// The engine's choices: the server's own unless `OH_VOICE_BENCH_TIMERS`
/// (timers served per turn; `all`: every due one at once) or
/// `OH_VOICE_BENCH_LEAN=0` (`rtc`'s default interceptors on every leg, every
/// poll) or `OH_VOICE_BENCH_FAST=0` (no media fast path) ask for the earlier
/// ones, to compare.
fn options() -> EngineOptions {
    let mut options = EngineOptions::default();
    match std::env::var("OH_VOICE_BENCH_TIMERS").as_deref() {
        Ok("all") => options.timers_per_turn = usize::MAX,
        Ok(n) => options.timers_per_turn = n.parse().unwrap_or(options.timers_per_turn),
        Err(_) => {}
    }
    if std::env::var("OH_VOICE_BENCH_LEAN").as_deref() == Ok("0") {
        options.lean = false;
    }
    if std::env::var("OH_VOICE_BENCH_FAST").as_deref() == Ok("0") {
        options.fast_media = false;
    }
    options
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

    async fn stats(&mut self) -> anyhow::Result<Stats> {
        let reply = self.call(json!({ "stats": true })).await?;
        let number = |v: &Value| v.as_u64().unwrap_or(0);
        let mut counters = CountersSnapshot {
            forwarded: number(&reply["forwarded"]),
            datagrams: number(&reply["datagrams"]),
            batches: number(&reply["batches"]),
            timers_fired: number(&reply["timers"]),
            ..Default::default()
        };
        for (i, work) in reply["works"].as_array().into_iter().flatten().enumerate().take(WORKS.len()) {
            let histogram = &mut counters.histograms[i];
            for (b, n) in work["buckets"].as_array().into_iter().flatten().enumerate().take(BUCKETS) {
                histogram.buckets[b] = number(n);
            }
            histogram.total_micros = number(&work["total"]);
            histogram.longest_micros = number(&work["longest"]);
        }
        Ok(Stats {
            counters,
            cpu: Duration::from_micros(number(&reply["cpu_us"])),
            sys: Duration::from_micros(number(&reply["sys_us"])),
            run_delay: Duration::from_micros(number(&reply["run_delay_us"])),
            rss: number(&reply["rss"]),
        })
    }
}

/// The server's counters, CPU time and resident memory at one moment.
struct Stats {
    counters: CountersSnapshot,
    cpu: Duration,
    /// Of `cpu`, the time in the kernel (system calls, the UDP stack).
    sys: Duration,
    /// Ready to run but waiting for the CPU.
    run_delay: Duration,
    rss: u64,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the load generator ----------------------------------------------------
//
// The generator must stay cheaper than what it measures, or at a thousand
// rooms it would measure itself. So each peer encrypts its whole stream
// (SRTP, through its own `rtc` connection) before the clock starts and then
// only sends, each packet at its scheduled instant; the receiving peer
// decrypts the first few packets to learn how the server renumbered the
// stream and then reads only the RTP header (sequence numbers are not
// encrypted), so the one-way delay of packet k is its arrival minus its
// scheduled send time (a late generator counts against the result, not for
// it). Everything else (ICE, DTLS, RTCP) goes through the connection as
// usual. One task per room drives both of its peers.

/// Packets decrypted in full before a receiver counts by header alone.
const DECRYPTED: usize = 3;
/// From the start to the window, and from its end until everything stops.
const DRAIN: Duration = Duration::from_millis(500);
const LEAD: Duration = Duration::from_millis(100);

/// The step's timeline, the same for every room.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    /// Sending starts (each peer at its own phase after it).
    start: Instant,
    /// The measured window.
    open: Instant,
    close: Instant,
    /// Everything stops.
    end: Instant,
}

impl Timeline {
    fn new(start: Instant, measured: Duration) -> Timeline {
        let open = start + WARM_UP;
        Timeline { start, open, close: open + measured, end: open + measured + DRAIN }
    }

    /// How many packets a stream needs to last until the end.
    fn packets(measured: Duration) -> usize {
        ((WARM_UP + measured + DRAIN + INTERVAL).as_millis() / INTERVAL.as_millis()) as usize + 1
    }

    fn in_window(&self, at: Instant) -> bool {
        at >= self.open && at < self.close
    }
}

/// What every room adds to, read by the step.
#[derive(Default)]
struct Shared {
    /// Peers connected, and rooms whose streams are encrypted.
    connected: AtomicU64,
    ready: AtomicU64,
    /// Packets scheduled inside the window and sent; received of those.
    sent: AtomicU64,
    received: AtomicU64,
}

struct Peer {
    socket: UdpSocket,
    local: SocketAddr,
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    asked: Instant,
    connected_at: Option<Instant>,
    /// Where in the 20 ms period this peer sends.
    phase: Duration,
    /// The encrypted stream: packet k is due at `first + k × 20 ms`.
    stream: Vec<bytes::BytesMut>,
    first: Instant,
    next: usize,
    /// The server's sequence numbers minus ours, once learnt.
    offset: Option<u16>,
    decrypted: usize,
    buf: Vec<u8>,
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
            asked,
            connected_at: None,
            phase: Duration::from_micros(rand::random::<u64>() % 20_000),
            stream: Vec::new(),
            first: asked,
            next: 0,
            offset: None,
            decrypted: 0,
            buf: vec![0; 2048],
        };
        Ok((peer, offer))
    }

    /// Timers, events and whatever the connection has to send.
    async fn service(&mut self, shared: &Shared) {
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
        while let Some(out) = self.pc.poll_write() {
            let _ = self.socket.send_to(&out.message, out.transport.peer_addr).await;
        }
    }

    /// Encrypts the whole stream: `count` packets, each carrying its
    /// number. Whatever else the connection writes meanwhile goes out.
    async fn encrypt_stream(&mut self, count: usize) {
        self.stream.reserve_exact(count);
        for k in 0..count {
            let mut payload = vec![0xAB; PAYLOAD];
            payload[..4].copy_from_slice(&(k as u32).to_be_bytes());
            let packet = rtc_peer::opus_packet(self.payload_type, self.ssrc, k as u16, payload);
            if let Some(mut sender) = self.pc.rtp_sender(self.sender) {
                let _ = sender.write_rtp(Instant::now(), packet);
            }
            while let Some(out) = self.pc.poll_write() {
                if is_rtp_media(&out.message) {
                    self.stream.push(out.message);
                } else {
                    let _ = self.socket.send_to(&out.message, out.transport.peer_addr).await;
                }
            }
        }
    }

    /// Sends every packet that is due (more than one if the generator is
    /// late; how late each in the window went out goes to `late`, in µs).
    async fn send_due(&mut self, timeline: &Timeline, shared: &Shared, server: SocketAddr, late: &mut Vec<u32>) {
        let now = Instant::now();
        while let Some(at) = self.next_send().filter(|at| *at <= now && *at < timeline.end) {
            let _ = self.socket.send_to(&self.stream[self.next], server).await;
            if timeline.in_window(at) {
                shared.sent.fetch_add(1, Ordering::Relaxed);
                late.push(Instant::now().saturating_duration_since(at).as_micros().min(u128::from(u32::MAX)) as u32);
            }
            self.next += 1;
        }
    }

    fn next_send(&self) -> Option<Instant> {
        (self.next < self.stream.len()).then(|| self.first + INTERVAL * self.next as u32)
    }

    /// A datagram from the server: media from the other peer (whose stream
    /// started at `partner_first`) is timed against its schedule.
    fn receive(
        &mut self,
        n: usize,
        from: SocketAddr,
        partner_first: Instant,
        timeline: Option<&Timeline>,
        shared: &Shared,
        delays: &mut Vec<u32>,
    ) {
        let now = Instant::now();
        let data = &self.buf[..n];
        if let (Some(offset), Some(t)) = (self.offset, timeline)
            && is_rtp_media(data)
            && self.decrypted >= DECRYPTED
        {
            let k = u32::from(u16::from_be_bytes([data[2], data[3]]).wrapping_sub(offset));
            record(k, now, partner_first, t, shared, delays);
            return;
        }
        rtc_peer::feed(&mut self.pc, self.local, from, data);
        while let Some(read) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = read.message
                && let Some(number) = packet.payload.get(..4)
            {
                let k = u32::from_be_bytes(number.try_into().unwrap());
                self.offset = Some(packet.header.sequence_number.wrapping_sub(k as u16));
                self.decrypted += 1;
                if let Some(t) = timeline {
                    record(k, now, partner_first, t, shared, delays);
                }
            }
        }
    }
}

/// Packet `k` of a stream whose first packet was due at `first` arrived `now`.
fn record(k: u32, now: Instant, first: Instant, timeline: &Timeline, shared: &Shared, delays: &mut Vec<u32>) {
    let scheduled = first + INTERVAL * k;
    if timeline.in_window(scheduled) {
        shared.received.fetch_add(1, Ordering::Relaxed);
        delays.push(now.saturating_duration_since(scheduled).as_micros().min(u128::from(u32::MAX)) as u32);
    }
}

/// One room: both peers, from connecting to the end of the step. Returns
/// their times to join (µs) and the delays they measured.
struct Room {
    a: Peer,
    b: Peer,
    server: SocketAddr,
    shared: Arc<Shared>,
    delays: Vec<u32>,
    /// How late the generator sent each packet (µs).
    late: Vec<u32>,
}

impl Room {
    async fn run(
        mut self,
        count: usize,
        mut plan: tokio::sync::watch::Receiver<Option<Timeline>>,
    ) -> ([u32; 2], Vec<u32>, Vec<u32>) {
        while self.a.connected_at.is_none() || self.b.connected_at.is_none() {
            self.turn(None, Some(&mut plan)).await;
        }
        self.a.encrypt_stream(count).await;
        self.b.encrypt_stream(count).await;
        self.shared.ready.fetch_add(1, Ordering::Relaxed);
        let timeline = loop {
            if let Some(t) = *plan.borrow_and_update() {
                break t;
            }
            self.turn(None, Some(&mut plan)).await;
        };
        self.a.first = timeline.start + self.a.phase;
        self.b.first = timeline.start + self.b.phase;
        while Instant::now() < timeline.end {
            self.turn(Some(&timeline), None).await;
        }
        let joined = |p: &Peer| p.connected_at.map_or(u32::MAX, |at| (at - p.asked).as_micros() as u32);
        ([joined(&self.a), joined(&self.b)], self.delays, self.late)
    }

    /// One turn of the room's loop: what is due, then wait for a datagram,
    /// the next due time or (before the start) news of the plan.
    async fn turn(
        &mut self,
        timeline: Option<&Timeline>,
        plan: Option<&mut tokio::sync::watch::Receiver<Option<Timeline>>>,
    ) {
        let Room { a, b, server, shared, delays, late } = self;
        a.service(shared).await;
        b.service(shared).await;
        let mut wake = Instant::now() + Duration::from_millis(50);
        if let Some(t) = timeline {
            a.send_due(t, shared, *server, late).await;
            b.send_due(t, shared, *server, late).await;
            wake = [a.next_send(), b.next_send(), Some(t.end)].into_iter().flatten().min().unwrap_or(t.end);
        }
        if let Some(at) = [a.pc.poll_timeout(), b.pc.poll_timeout()].into_iter().flatten().min() {
            wake = wake.min(at);
        }
        let (a_first, b_first) = (a.first, b.first);
        let changed = async {
            match plan {
                Some(plan) => {
                    let _ = plan.changed().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = a.socket.recv_from(&mut a.buf) => if let Ok((n, from)) = r {
                a.receive(n, from, b_first, timeline, shared, delays);
            },
            r = b.socket.recv_from(&mut b.buf) => if let Ok((n, from)) = r {
                b.receive(n, from, a_first, timeline, shared, delays);
            },
            () = changed => {}
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
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
    let rss_before = server.stats().await?.rss;
    let shared = Arc::new(Shared::default());
    let (plan_tx, plan) = tokio::sync::watch::channel(None);
    let count = Timeline::packets(measured);
    let mut tasks = tokio::task::JoinSet::new();
    for room in 1..=rooms as i64 {
        let mut peers = Vec::with_capacity(2);
        let mut media_address = None;
        for who in 1..=2 {
            let (mut peer, offer) = Peer::new().await?;
            let reply = server.call(json!({ "admit": [room, who, offer] })).await?;
            let Some(answer) = reply["answer"].as_str() else {
                anyhow::bail!("room {room} refused a peer: {reply}");
            };
            media_address = media_address.or_else(|| host_candidate(answer));
            if let Some(pt) = rtc_peer::accept(&mut peer.pc, answer.to_owned(), peer.sender) {
                peer.payload_type = pt;
            }
            peers.push(peer);
        }
        let server_media = media_address.ok_or_else(|| anyhow::anyhow!("no host candidate in the answer"))?;
        let (b, a) = (peers.pop().unwrap(), peers.pop().unwrap());
        let room = Room { a, b, server: server_media, shared: shared.clone(), delays: Vec::new(), late: Vec::new() };
        tasks.spawn(room.run(count, plan.clone()));
    }
    // Every room connected (ICE + DTLS) and its streams encrypted.
    let deadline = Instant::now() + Duration::from_secs(60 + rooms as u64 / 10);
    while shared.ready.load(Ordering::Relaxed) < rooms as u64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} peers connected, {} of {rooms} rooms ready",
            shared.connected.load(Ordering::Relaxed),
            rooms * 2,
            shared.ready.load(Ordering::Relaxed),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_joined = server.stats().await?.rss;
    let timeline = Timeline::new(Instant::now() + LEAD, measured);
    plan_tx.send(Some(timeline))?;

    tokio::time::sleep_until(timeline.open.into()).await;
    let before = server.stats().await?;
    let (generator_0, window_0) = (cpu_time(), Instant::now());
    tokio::time::sleep_until(timeline.close.into()).await;
    let after = server.stats().await?;
    let (generator_cpu, elapsed) = (cpu_time() - generator_0, window_0.elapsed());
    let mut delays = Vec::new();
    let mut late = Vec::new();
    let mut joins = Vec::with_capacity(rooms * 2);
    while let Some(done) = tasks.join_next().await {
        let (joined, mut d, mut l) = done?;
        joins.extend(joined);
        delays.append(&mut d);
        late.append(&mut l);
    }
    delays.sort_unstable();
    late.sort_unstable();
    joins.sort_unstable();

    let window = after.counters.since(&before.counters);
    let forwarded = window.forwarded;
    let rate = forwarded as f64 / elapsed.as_secs_f64();
    let per_packet = (after.cpu - before.cpu).as_secs_f64() * 1e6 / forwarded.max(1) as f64;
    let (sent, received) = (shared.sent.load(Ordering::Relaxed), shared.received.load(Ordering::Relaxed));
    let loss = 100.0 * (1.0 - received as f64 / sent.max(1) as f64);
    let per_room = (rss_joined.saturating_sub(rss_before)) as f64 / 1024.0 / rooms as f64;
    println!(
        "{rooms:>6} {rate:>12.0} {per_packet:>10.2} {loss:>9.3} {:>9.2} {:>9.2} {per_room:>11.1} {:>10.1} {:>10.1} {:>9.0} {:>9.2}",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        percentile(&joins, 0.5),
        percentile(&joins, 0.99),
        100.0 * generator_cpu.as_secs_f64() / elapsed.as_secs_f64(),
        percentile(&late, 0.99),
    );
    println!(
        "        server CPU per forwarded packet: {:.2} µs in user space, {:.2} µs in the kernel",
        per_packet - (after.sys - before.sys).as_secs_f64() * 1e6 / forwarded.max(1) as f64,
        (after.sys - before.sys).as_secs_f64() * 1e6 / forwarded.max(1) as f64,
    );
    print_turns(&window, elapsed, after.run_delay - before.run_delay);
    Ok(())
}

/// The server's media task in the window: how long its turns took and
/// what they did (the buckets are powers of two, so "≤" is a bucket's
/// upper bound).
fn print_turns(window: &CountersSnapshot, elapsed: Duration, run_delay: Duration) {
    let describe = |h: &HistogramSnapshot| {
        // The longest of the window, to its bucket (the exact longest is
        // kept since the start, joins included).
        let longest = h.buckets.iter().rposition(|n| *n > 0).map_or(0, bucket_limit);
        format!(
            "{} × mean {:.0} µs, p50 ≤ {} p99 ≤ {} p99.9 ≤ {} longest ≤ {} µs, ≥ 1 ms: {}, ≥ 8 ms: {}",
            h.count(),
            h.total_micros as f64 / h.count().max(1) as f64,
            h.quantile_limit(0.5),
            h.quantile_limit(0.99),
            h.quantile_limit(0.999),
            longest,
            h.at_least(1000),
            h.at_least(8000),
        )
    };
    println!(
        "        the media thread waited {:.0} ms for the CPU ({:.1} % of the window)",
        run_delay.as_secs_f64() * 1e3,
        100.0 * run_delay.as_secs_f64() / elapsed.as_secs_f64()
    );
    let busy = window.histogram(Work::Turn).total_micros as f64 / elapsed.as_secs_f64() / 1e4;
    println!(
        "        turns (busy {busy:.0} %): {}\n        datagram batches (avg {:.1} datagrams): {}\n        \
         timers ({} connection timers): {}\n        flushes: {}\n        commands: {}",
        describe(window.histogram(Work::Turn)),
        window.datagrams as f64 / window.batches.max(1) as f64,
        describe(window.histogram(Work::Datagrams)),
        window.timers_fired,
        describe(window.histogram(Work::Timers)),
        describe(window.histogram(Work::Flush)),
        describe(window.histogram(Work::Command)),
    );
}

/// The server's media address from the host candidate of its answer.
fn host_candidate(answer: &str) -> Option<SocketAddr> {
    answer.lines().find_map(|line| {
        let fields: Vec<&str> = line.strip_prefix("a=candidate:")?.split_whitespace().collect();
        (fields.get(7) == Some(&"host")).then(|| format!("{}:{}", fields[4], fields[5]).parse().ok())?
    })
}
