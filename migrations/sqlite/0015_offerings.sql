-- Named offerings, like the event types of scheduling tools (issue 17,
-- item 13): a title, a description, a session length, their own rules,
-- questions and private link. Every advisor has a default offering, which
-- reads the advisor's booking rules, questions and private link; a block
-- belongs to an offering (NULL: the default one).
CREATE TABLE offerings (
    id                    INTEGER PRIMARY KEY,
    advisor_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                 TEXT    NOT NULL,
    description           TEXT    NOT NULL DEFAULT '',
    -- NULL: the instance's session length (`session_minutes`).
    session_minutes       BIGINT,
    is_default            INTEGER NOT NULL DEFAULT 0,
    -- Rules of this offering over the advisor's; NULL = the advisor's.
    buffer_minutes        BIGINT,
    min_notice_minutes    BIGINT,
    horizon_days          BIGINT,
    max_per_learner_week  BIGINT,
    approval_required     INTEGER,
    unlisted              INTEGER,
    note_optional         INTEGER,
    -- Its own private link (S4), as a SHA-256 hash.
    private_link_hash     TEXT,
    created_at            BIGINT  NOT NULL,
    deleted_at            BIGINT
);
CREATE INDEX offerings_advisor ON offerings (advisor_id, created_at);
CREATE UNIQUE INDEX offerings_one_default ON offerings (advisor_id) WHERE is_default = 1 AND deleted_at IS NULL;
CREATE INDEX offerings_private_link ON offerings (private_link_hash);

ALTER TABLE blocks ADD COLUMN offering_id BIGINT REFERENCES offerings (id);
-- Questions of one offering, replacing the advisor's for its blocks.
ALTER TABLE booking_questions ADD COLUMN offering_id BIGINT REFERENCES offerings (id) ON DELETE CASCADE;

-- The default offering of every local advisor keeps today's behaviour.
INSERT INTO offerings (advisor_id, title, description, is_default, created_at)
    SELECT id, 'Office hours', '', 1, created_at FROM users WHERE is_advisor = 1 AND remote_actor_id IS NULL;
UPDATE blocks SET offering_id = (SELECT o.id FROM offerings o WHERE o.advisor_id = blocks.advisor_id AND o.is_default = 1)
    WHERE deleted_at IS NULL;
