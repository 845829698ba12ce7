-- The `updated` (else `published`) time of the last version of a remote
-- event mirrored into a block, in ms: an older version arriving later (a
-- retried delivery overtaken by a newer one) is ignored.
ALTER TABLE blocks ADD COLUMN remote_version BIGINT;
