-- Queues are claimed in due order (next_attempt_at, then id): with the id
-- in the index, a claim reads its rows from the index and stops at the
-- limit, however many rows are pending or already done (it used to scan
-- every pending row, or every row kept, to sort them by id).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE delivered_at IS NULL AND failed_at IS NULL;
DROP INDEX mail_outbox_due;
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
