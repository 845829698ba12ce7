-- Availability, slots, requests and their event log (issue 3).
-- Civil dates and times of local rules are TEXT ('2026-12-01', '14:00'),
-- kept with their IANA zone; instants are BIGINT milliseconds UTC.

-- An advisor's booking rules; every block inherits them unless it overrides.
CREATE TABLE advisor_policies (
    user_id               BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    buffer_minutes        BIGINT  NOT NULL DEFAULT 0,
    min_notice_minutes    BIGINT  NOT NULL DEFAULT 120,
    horizon_days          BIGINT  NOT NULL DEFAULT 60,
    max_per_learner_week  BIGINT  NOT NULL DEFAULT 2,
    approval_required     INTEGER NOT NULL DEFAULT 1,
    unlisted              INTEGER NOT NULL DEFAULT 0,
    -- The secret of the private booking link (S4), as a SHA-256 hash.
    private_link_hash     TEXT,
    busy_ics_url          TEXT,
    busy_checked_at       BIGINT,
    busy_error            TEXT,
    updated_at            BIGINT  NOT NULL
);

CREATE TABLE blocks (
    id                    INTEGER PRIMARY KEY,
    advisor_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    timezone              TEXT    NOT NULL,
    start_date            TEXT    NOT NULL,
    start_time            TEXT    NOT NULL,
    end_time              TEXT    NOT NULL,
    -- Weekly series: weekdays as a bit set (Monday = 1) and the last day; NULL for a single block.
    weekdays              BIGINT,
    until_date            TEXT,
    session_minutes       BIGINT  NOT NULL,
    -- Per-block overrides of the advisor's policy; NULL = inherit.
    buffer_minutes        BIGINT,
    min_notice_minutes    BIGINT,
    horizon_days          BIGINT,
    max_per_learner_week  BIGINT,
    approval_required     INTEGER,
    unlisted              INTEGER,
    created_at            BIGINT  NOT NULL,
    deleted_at            BIGINT
);
CREATE INDEX blocks_advisor ON blocks (advisor_id);

CREATE TABLE slots (
    id                    INTEGER PRIMARY KEY,
    block_id              BIGINT  NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    advisor_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    occurrence_date       TEXT    NOT NULL,
    starts_at             BIGINT  NOT NULL,
    ends_at               BIGINT  NOT NULL,
    cancelled_at          BIGINT,
    CHECK (ends_at > starts_at)
);
CREATE INDEX slots_advisor_time ON slots (advisor_id, starts_at);
CREATE INDEX slots_block ON slots (block_id, occurrence_date);

CREATE TABLE booking_questions (
    id                    INTEGER PRIMARY KEY,
    advisor_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position              BIGINT  NOT NULL,
    label                 TEXT    NOT NULL,
    kind                  TEXT    NOT NULL CHECK (kind IN ('text', 'choice')),
    -- Choices, one per line, for kind = 'choice'.
    choices               TEXT    NOT NULL DEFAULT '',
    required              INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX booking_questions_advisor ON booking_questions (advisor_id, position);

CREATE TABLE requests (
    id                    INTEGER PRIMARY KEY,
    slot_id               BIGINT  NOT NULL REFERENCES slots (id) ON DELETE CASCADE,
    advisor_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    learner_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status                TEXT    NOT NULL CHECK (status IN ('requested', 'approved', 'declined', 'cancelled')),
    note                  TEXT    NOT NULL DEFAULT '',
    -- The learner's answers to the booking questions, as a JSON object.
    answers               TEXT    NOT NULL DEFAULT '{}',
    decision_note         TEXT    NOT NULL DEFAULT '',
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);
-- No double booking (S5), enforced by the database whatever the application does.
CREATE UNIQUE INDEX requests_one_approved_per_slot ON requests (slot_id) WHERE status = 'approved';
CREATE UNIQUE INDEX requests_one_live_per_learner ON requests (slot_id, learner_id) WHERE status IN ('requested', 'approved');
CREATE INDEX requests_learner ON requests (learner_id, status);
CREATE INDEX requests_advisor ON requests (advisor_id, status);

-- Who did what to a request, and when (later: notifications, feeds, karma).
CREATE TABLE booking_events (
    id                    INTEGER PRIMARY KEY,
    request_id            BIGINT  REFERENCES requests (id) ON DELETE CASCADE,
    slot_id               BIGINT  REFERENCES slots (id) ON DELETE CASCADE,
    actor_id              BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    kind                  TEXT    NOT NULL,
    note                  TEXT    NOT NULL DEFAULT '',
    created_at            BIGINT  NOT NULL
);
CREATE INDEX booking_events_request ON booking_events (request_id);

-- Busy times imported from the advisor's own calendar (S6).
CREATE TABLE busy_intervals (
    advisor_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at             BIGINT  NOT NULL,
    ends_at               BIGINT  NOT NULL
);
CREATE INDEX busy_intervals_advisor ON busy_intervals (advisor_id, starts_at);
