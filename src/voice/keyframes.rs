//! Lets keyframe requests out of `rtc`'s interceptor chain. Since
//! `rtc-interceptor` 0.21 the chain ends in a terminus that drops every
//! inbound RTCP packet unless an interceptor marked it
//! `DeliverToApplication`; an SFU has to see a viewer's PLI or FIR to relay
//! it to the sharer, so this one marks those (and nothing else: receiver
//! reports stay with the interceptors that act on them).

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Its place: application-most, after every built-in interceptor.
pub const SLOT: Slot = Slot::Custom(20_000);

#[derive(Default)]
pub struct KeyframeRequests {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

/// Whether an RTCP compound packet asks for a keyframe.
pub fn asks_for_keyframe(packets: &[Box<dyn rtc::rtcp::packet::Packet>]) -> bool {
    packets.iter().any(|p| p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>())
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && asks_for_keyframe(packets)
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::receiver_report::ReceiverReport;

    #[test]
    fn only_keyframe_requests_are_recognised() {
        let pli: Vec<Box<dyn rtc::rtcp::packet::Packet>> =
            vec![Box::new(PictureLossIndication { sender_ssrc: 1, media_ssrc: 2 })];
        assert!(asks_for_keyframe(&pli));
        let fir: Vec<Box<dyn rtc::rtcp::packet::Packet>> = vec![Box::new(FullIntraRequest::default())];
        assert!(asks_for_keyframe(&fir));
        let report: Vec<Box<dyn rtc::rtcp::packet::Packet>> = vec![Box::new(ReceiverReport::default())];
        assert!(!asks_for_keyframe(&report));
    }
}
