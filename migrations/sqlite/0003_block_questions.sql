-- Booking questions of one block, replacing the advisor's for its slots.
ALTER TABLE booking_questions ADD COLUMN block_id BIGINT REFERENCES blocks (id) ON DELETE CASCADE;
CREATE INDEX booking_questions_block ON booking_questions (block_id, position);
