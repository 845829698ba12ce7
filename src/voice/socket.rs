//! The media task: one tokio task owns the UDP socket and the engine (every
//! room's media), so the media path takes no lock and makes no task hop per
//! packet. The rest of the server talks to it through [`VoiceHandle`]
//! (commands over a channel, each answered once done) and hears about
//! presence through [`VoiceEvents`].
//!
//! Why one task for every room rather than one per room: there is one
//! socket, so one reader anyway; handing each datagram to a room task would
//! cost a channel send and a wake-up per packet. A room's rules and deadline
//! live in the room's own task (the signalling side), which calls
//! [`VoiceHandle::stop_room`] at the deadline.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::VoiceConfig;
use super::batch::{self, Received};
use super::counters::{MediaCounters, Work};
use super::engine::{MediaEngine, MediaEvent, ParticipantId, RoomId, RoomStats, Transmit, VoiceError};
use super::rtc_engine::{EngineOptions, RtcEngine};

/// The media socket's kernel buffers: at a thousand rooms about 100,000
/// datagrams a second arrive, and the system's default receive buffer
/// (about 200 KiB, some 270 datagrams) overflows in a pause of a few
/// milliseconds. The kernel caps this at `net.core.rmem_max` /
/// `net.core.wmem_max` (docs/voice.md says how to raise them).
const SOCKET_BUFFER: usize = 4 << 20;

/// How long the loop sleeps when no connection has a timer.
const IDLE: Duration = Duration::from_secs(3600);

enum Command {
    Admit {
        room: RoomId,
        participant: ParticipantId,
        offer: String,
        reply: oneshot::Sender<Result<String, VoiceError>>,
    },
    Close {
        room: RoomId,
        participant: ParticipantId,
        reply: oneshot::Sender<()>,
    },
    StopRoom {
        room: RoomId,
        reply: oneshot::Sender<()>,
    },
    Stats {
        room: RoomId,
        reply: oneshot::Sender<Option<RoomStats>>,
    },
}

/// The server's handle on the media task; cheap to clone. When every handle
/// is dropped, the task ends.
#[derive(Clone)]
pub struct VoiceHandle {
    commands: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    counters: Arc<MediaCounters>,
}

/// Joins and leaves of participants, for presence.
pub type VoiceEvents = mpsc::UnboundedReceiver<MediaEvent>;

/// Binds the media port and starts the media task on the `rtc` engine.
pub async fn start(config: &VoiceConfig) -> io::Result<(VoiceHandle, VoiceEvents)> {
    start_with_options(config, EngineOptions::default()).await
}

/// [`start`] with other engine choices than the server's (the benchmark
/// compares them).
pub async fn start_with_options(
    config: &VoiceConfig,
    options: EngineOptions,
) -> io::Result<(VoiceHandle, VoiceEvents)> {
    let socket = UdpSocket::bind(config.bind).await?;
    enlarge_buffers(&socket);
    let bound = socket.local_addr()?;
    let advertised = SocketAddr::new(config.advertised_ip(), bound.port());
    Ok(start_with(socket, RtcEngine::with_options(advertised, options), advertised))
}

/// Asks for [`SOCKET_BUFFER`] each way and says so when the system gives less.
fn enlarge_buffers(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    // Linux reports twice what it grants (the other half is its bookkeeping).
    let received = socket.recv_buffer_size().unwrap_or(0);
    if received < SOCKET_BUFFER {
        tracing::warn!(
            "voice: the media socket's receive buffer is {} KiB, not the {} KiB asked for; \
             raise net.core.rmem_max and net.core.wmem_max (docs/voice.md) before hosting many rooms",
            received / 1024,
            SOCKET_BUFFER / 1024
        );
    }
}

/// Starts the media task on an already-bound socket with any engine.
pub fn start_with(socket: UdpSocket, engine: impl MediaEngine, advertised: SocketAddr) -> (VoiceHandle, VoiceEvents) {
    let (commands, command_rx) = mpsc::channel(256);
    let (events_tx, events) = mpsc::unbounded_channel();
    let counters = Arc::new(MediaCounters::default());
    tokio::spawn(run(socket, engine, command_rx, events_tx, counters.clone()));
    (VoiceHandle { commands, local_addr: advertised, counters }, events)
}

impl VoiceHandle {
    /// The address in every answer's host candidate.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Admits a participant's offer to a room and returns the answer.
    pub async fn admit(&self, room: RoomId, participant: ParticipantId, offer: String) -> Result<String, VoiceError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Admit { room, participant, offer, reply }).await?;
        answer.await.map_err(|_| VoiceError::Unavailable)?
    }

    /// Closes one participant's connection; returns once it is closed.
    pub async fn close(&self, room: RoomId, participant: ParticipantId) -> Result<(), VoiceError> {
        let (reply, done) = oneshot::channel();
        self.send(Command::Close { room, participant, reply }).await?;
        done.await.map_err(|_| VoiceError::Unavailable)
    }

    /// The hard stop; returns once the room forwards nothing more (any
    /// datagram read after this returns is dropped).
    pub async fn stop_room(&self, room: RoomId) -> Result<(), VoiceError> {
        let (reply, done) = oneshot::channel();
        self.send(Command::StopRoom { room, reply }).await?;
        done.await.map_err(|_| VoiceError::Unavailable)
    }

    /// The media task's counters (packets forwarded, how long its turns
    /// take), read without a round trip through the task.
    pub fn counters(&self) -> &MediaCounters {
        &self.counters
    }

    pub async fn stats(&self, room: RoomId) -> Result<Option<RoomStats>, VoiceError> {
        let (reply, stats) = oneshot::channel();
        self.send(Command::Stats { room, reply }).await?;
        stats.await.map_err(|_| VoiceError::Unavailable)
    }

    async fn send(&self, command: Command) -> Result<(), VoiceError> {
        self.commands.send(command).await.map_err(|_| VoiceError::Unavailable)
    }
}

async fn run(
    socket: UdpSocket,
    mut engine: impl MediaEngine,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
    counters: Arc<MediaCounters>,
) {
    let mut received = Received::default();
    let mut outgoing: Vec<Transmit> = Vec::with_capacity(batch::BATCH);
    let sleep = tokio::time::sleep(IDLE);
    tokio::pin!(sleep);
    let mut turn_started = Instant::now();
    loop {
        // Timers first on every turn, so a busy socket cannot starve them
        // (the select below prefers commands and datagrams).
        let now = Instant::now();
        if engine.poll_timeout().is_some_and(|at| at <= now) {
            engine.handle_timeout(now);
            counters.record(Work::Timers, now.elapsed());
        }
        let flushing = Instant::now();
        if flush(&socket, &mut engine, &mut outgoing).await > 0 {
            counters.record(Work::Flush, flushing.elapsed());
        }
        while let Some(event) = engine.poll_event() {
            // Nobody listening is fine: presence is optional for the media.
            let _ = events.send(event);
        }
        counters.set_engine_totals(engine.totals());
        counters.record(Work::Turn, turn_started.elapsed());
        // A deadline already past fires at once below; going through the
        // select keeps the task yielding to the runtime (tokio's budget).
        let deadline = engine.poll_timeout().unwrap_or_else(|| Instant::now() + IDLE);
        sleep.as_mut().reset(tokio::time::Instant::from_std(deadline));
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                None => break,
                Some(command) => {
                    turn_started = Instant::now();
                    execute(&mut engine, command);
                    counters.record(Work::Command, turn_started.elapsed());
                }
            },
            read = batch::receive(&socket, &mut received) => {
                turn_started = Instant::now();
                match read {
                    // One batch of datagrams, then what they produced goes out
                    // (keeps latency bounded under load).
                    Ok(n) => {
                        counters.add_batch(n);
                        for (from, data) in received.iter() {
                            engine.handle_datagram(turn_started, from, data);
                        }
                        counters.record(Work::Datagrams, turn_started.elapsed());
                    }
                    // ICMP errors (a peer gone) surface here on some systems.
                    Err(e) => tracing::trace!("voice: receive error: {e}"),
                }
            }
            () = &mut sleep => {
                turn_started = Instant::now();
                engine.handle_timeout(turn_started);
                counters.record(Work::Timers, turn_started.elapsed());
            }
        }
    }
    // Every handle is gone: the server is shutting down.
    flush(&socket, &mut engine, &mut outgoing).await;
}

fn execute(engine: &mut impl MediaEngine, command: Command) {
    let now = Instant::now();
    match command {
        Command::Admit { room, participant, offer, reply } => {
            let _ = reply.send(engine.admit(now, room, participant, &offer));
        }
        Command::Close { room, participant, reply } => {
            engine.close(now, room, participant);
            let _ = reply.send(());
        }
        Command::StopRoom { room, reply } => {
            engine.stop_room(now, room);
            let _ = reply.send(());
        }
        Command::Stats { room, reply } => {
            let _ = reply.send(engine.room_stats(room));
        }
    }
}

/// Sends what the engine has queued, a batch per system call; returns how
/// many datagrams went out.
async fn flush(socket: &UdpSocket, engine: &mut impl MediaEngine, outgoing: &mut Vec<Transmit>) -> usize {
    let mut sent = 0;
    loop {
        outgoing.extend(std::iter::from_fn(|| engine.poll_transmit()).take(batch::BATCH));
        if outgoing.is_empty() {
            return sent;
        }
        batch::send(socket, outgoing).await;
        sent += outgoing.len();
        outgoing.clear();
    }
}
