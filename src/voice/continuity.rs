//! One unbroken RTP numbering per outgoing track (pure).
//!
//! A participant's outgoing track carries whoever else is speaking, and
//! that source changes when the other person rejoins (a network change, a
//! reload): the new connection starts its sequence numbers and timestamps
//! anywhere. Forwarded as they are, the receiving browser sees its one SSRC
//! jump, and its SRTP replay check drops every packet that looks older than
//! what it had, so the voice would not come back. [`Continuity`] shifts each
//! source's numbers so that the track goes on where it was: the next
//! sequence number, and the timestamp moved on by the time that passed.

use std::time::Instant;

/// The rewriting state of one outgoing track.
#[derive(Debug, Clone, Copy, Default)]
pub struct Continuity {
    state: Option<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// The SSRC of the source being forwarded.
    source: u32,
    seq_offset: u16,
    ts_offset: u32,
    /// The newest packet sent on the track, and when.
    last_seq: u16,
    last_ts: u32,
    last_at: Instant,
}

/// Whether sequence number `a` comes after `b` (RFC 3550 serial order).
fn is_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

impl Continuity {
    /// The outgoing sequence number and timestamp of a packet of `source`
    /// (`seq`, `ts`) forwarded at `now`, on a track whose media clock runs
    /// at `clock_rate` Hz. The first source passes unchanged.
    pub fn rewrite(&mut self, source: u32, seq: u16, ts: u32, now: Instant, clock_rate: u32) -> (u16, u32) {
        let state = match self.state {
            Some(state) if state.source == source => state,
            Some(previous) => {
                let elapsed = now.saturating_duration_since(previous.last_at);
                let ticks = (elapsed.as_micros() * u128::from(clock_rate) / 1_000_000).max(1);
                let next_seq = previous.last_seq.wrapping_add(1);
                let next_ts = previous.last_ts.wrapping_add(ticks as u32);
                State {
                    source,
                    seq_offset: next_seq.wrapping_sub(seq),
                    ts_offset: next_ts.wrapping_sub(ts),
                    last_seq: next_seq.wrapping_sub(1),
                    last_ts: next_ts,
                    last_at: now,
                }
            }
            None => {
                State { source, seq_offset: 0, ts_offset: 0, last_seq: seq.wrapping_sub(1), last_ts: ts, last_at: now }
            }
        };
        let out = (seq.wrapping_add(state.seq_offset), ts.wrapping_add(state.ts_offset));
        let mut state = state;
        if is_after(out.0, state.last_seq) {
            state.last_seq = out.0;
            state.last_ts = out.1;
            state.last_at = now;
        }
        self.state = Some(state);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const OPUS: u32 = 48_000;

    #[test]
    fn the_first_source_passes_unchanged() {
        let mut track = Continuity::default();
        let t0 = Instant::now();
        assert_eq!(track.rewrite(7, 100, 5_000, t0, OPUS), (100, 5_000));
        assert_eq!(track.rewrite(7, 101, 5_960, t0 + Duration::from_millis(20), OPUS), (101, 5_960));
        // Late and wrapping packets keep their place.
        assert_eq!(track.rewrite(7, 99, 4_040, t0, OPUS), (99, 4_040));
        let mut wrapping = Continuity::default();
        assert_eq!(wrapping.rewrite(1, u16::MAX, u32::MAX - 959, t0, OPUS), (u16::MAX, u32::MAX - 959));
        assert_eq!(wrapping.rewrite(1, 0, 0, t0 + Duration::from_millis(20), OPUS), (0, 0));
    }

    #[test]
    fn a_new_source_goes_on_where_the_track_was() {
        let mut track = Continuity::default();
        let t0 = Instant::now();
        for i in 0..10u16 {
            track.rewrite(
                7,
                40_000 + i,
                90_000 + u32::from(i) * 960,
                t0 + Duration::from_millis(20 * u64::from(i)),
                OPUS,
            );
        }
        // The other person rejoins 2 s after the last packet (at 180 ms): a
        // new SSRC with numbers from anywhere, older-looking ones included.
        let rejoin = t0 + Duration::from_millis(2_180);
        let (seq, ts) = track.rewrite(9, 12, 3_000_000_000, rejoin, OPUS);
        assert_eq!(seq, 40_010, "the next sequence number");
        assert_eq!(ts, 90_000 + 9 * 960 + 2 * OPUS, "the timestamp moved on by the 2 s that passed");
        let (seq, ts) = track.rewrite(9, 13, 3_000_000_960, rejoin + Duration::from_millis(20), OPUS);
        assert_eq!((seq, ts), (40_011, 90_000 + 9 * 960 + 2 * OPUS + 960));
        // A reordered packet of the new source stays before the one it preceded.
        assert_eq!(track.rewrite(9, 11, 2_999_999_040, rejoin, OPUS).0, 40_009);
    }

    #[test]
    fn switching_back_and_forth_never_repeats_a_number() {
        let mut track = Continuity::default();
        let t0 = Instant::now();
        let mut seen = std::collections::HashSet::new();
        for round in 0..6u16 {
            let source = u32::from(round % 2) + 1;
            for i in 0..5u16 {
                let at = t0 + Duration::from_millis(u64::from(round * 5 + i) * 20);
                let (seq, _) = track.rewrite(source, round.wrapping_mul(9_000).wrapping_add(i), 0, at, OPUS);
                assert!(seen.insert(seq), "sequence number {seq} sent twice");
            }
        }
        assert_eq!(seen.len(), 30);
    }
}
