//! A room's media: who is in it, where a packet from one of them goes, who
//! is sharing a screen (picture-loss requests go to them) and the stop
//! switch. Pure: the engine asks it for every packet, so after [`stop`] not
//! one more packet is forwarded.
//!
//! [`stop`]: RoomMedia::stop

/// The most connections one room forwards between: a one-to-one session
/// is two; a second tab replaces the first, so a few spare places are
/// plenty.
pub const MAX_MEMBERS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefused {
    Full,
    Stopped,
}

/// The members of one room, by the engine's connection key.
#[derive(Debug, Clone)]
pub struct RoomMedia<K> {
    members: Vec<K>,
    sharer: Option<K>,
    stopped: bool,
}

impl<K> Default for RoomMedia<K> {
    fn default() -> Self {
        RoomMedia { members: Vec::with_capacity(MAX_MEMBERS), sharer: None, stopped: false }
    }
}

/// Where one packet goes: up to [`MAX_MEMBERS`] − 1 keys, on the stack.
#[derive(Debug, Clone, Copy)]
pub struct Targets<K> {
    keys: [Option<K>; MAX_MEMBERS],
}

impl<K: Copy> Targets<K> {
    pub fn iter(&self) -> impl Iterator<Item = K> + '_ {
        self.keys.iter().map_while(|k| *k)
    }
}

impl<K: Copy + Eq> RoomMedia<K> {
    pub fn join(&mut self, key: K) -> Result<(), JoinRefused> {
        if self.stopped {
            return Err(JoinRefused::Stopped);
        }
        if self.members.contains(&key) {
            return Ok(());
        }
        if self.members.len() >= MAX_MEMBERS {
            return Err(JoinRefused::Full);
        }
        self.members.push(key);
        Ok(())
    }

    pub fn leave(&mut self, key: K) {
        self.members.retain(|k| *k != key);
        if self.sharer == Some(key) {
            self.sharer = None;
        }
    }

    pub fn members(&self) -> &[K] {
        &self.members
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Everyone a packet from `from` is forwarded to: the other members,
    /// and nobody once the room is stopped or if `from` is not a member.
    pub fn targets(&self, from: K) -> Targets<K> {
        let mut keys = [None; MAX_MEMBERS];
        if !self.stopped && self.members.contains(&from) {
            for (slot, key) in keys.iter_mut().zip(self.members.iter().filter(|k| **k != from)) {
                *slot = Some(*key);
            }
        }
        Targets { keys }
    }

    /// `key` started sending video (a screen share); the latest sharer is
    /// the one picture-loss requests go to.
    pub fn video_started(&mut self, key: K) {
        if self.members.contains(&key) {
            self.sharer = Some(key);
        }
    }

    /// Who a picture-loss request from `from` is relayed to: the sharer,
    /// unless that is `from` itself or the room is stopped.
    pub fn keyframe_source(&self, from: K) -> Option<K> {
        match self.sharer {
            Some(sharer) if !self.stopped && sharer != from && self.members.contains(&from) => Some(sharer),
            _ => None,
        }
    }

    /// The hard stop: from now on nothing is forwarded and nobody joins.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(room: &RoomMedia<u32>, from: u32) -> Vec<u32> {
        room.targets(from).iter().collect()
    }

    #[test]
    fn a_packet_goes_to_everyone_else_in_the_room() {
        let mut room = RoomMedia::default();
        room.join(1).unwrap();
        assert_eq!(targets(&room, 1), Vec::<u32>::new());
        room.join(2).unwrap();
        room.join(2).unwrap();
        assert_eq!(targets(&room, 1), vec![2]);
        assert_eq!(targets(&room, 2), vec![1]);
        room.join(3).unwrap();
        assert_eq!(targets(&room, 2), vec![1, 3]);
        // A stranger's packet goes nowhere.
        assert_eq!(targets(&room, 9), Vec::<u32>::new());
        room.leave(1);
        assert_eq!(targets(&room, 2), vec![3]);
    }

    #[test]
    fn a_full_room_refuses_one_more() {
        let mut room = RoomMedia::default();
        for key in 0..MAX_MEMBERS as u32 {
            room.join(key).unwrap();
        }
        assert_eq!(room.join(99), Err(JoinRefused::Full));
        assert_eq!(targets(&room, 0).len(), MAX_MEMBERS - 1);
    }

    #[test]
    fn after_the_stop_nothing_is_forwarded_and_nobody_joins() {
        let mut room = RoomMedia::default();
        room.join(1).unwrap();
        room.join(2).unwrap();
        room.video_started(1);
        assert_eq!(room.keyframe_source(2), Some(1));
        room.stop();
        assert!(room.is_stopped());
        assert_eq!(targets(&room, 1), Vec::<u32>::new());
        assert_eq!(targets(&room, 2), Vec::<u32>::new());
        assert_eq!(room.keyframe_source(2), None);
        assert_eq!(room.join(3), Err(JoinRefused::Stopped));
    }

    #[test]
    fn picture_loss_goes_to_the_sharer_only() {
        let mut room = RoomMedia::default();
        room.join(1).unwrap();
        room.join(2).unwrap();
        assert_eq!(room.keyframe_source(2), None);
        room.video_started(2);
        assert_eq!(room.keyframe_source(1), Some(2));
        // The sharer asking for its own keyframe goes nowhere.
        assert_eq!(room.keyframe_source(2), None);
        // A stranger cannot make the sharer send keyframes.
        assert_eq!(room.keyframe_source(7), None);
        room.leave(2);
        assert_eq!(room.keyframe_source(1), None);
        // Only members can become the sharer.
        room.video_started(5);
        assert_eq!(room.keyframe_source(1), None);
    }
}
