-- Lookups on every request and decision: a slot's requests by status (the
-- booking transaction, the calendar) and a slot's booking events.
CREATE INDEX requests_slot_status ON requests (slot_id, status);
CREATE INDEX booking_events_slot ON booking_events (slot_id);
