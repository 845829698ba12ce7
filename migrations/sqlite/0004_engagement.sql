-- Calendar feeds, notifications, the mail outbox, messages and karma (issue 4).

-- Suspended people cannot log in, request sessions or receive messages.
ALTER TABLE users ADD COLUMN suspended_at BIGINT;
-- Minutes before a session the reminder goes out; NULL = the instance default, 0 = none.
ALTER TABLE users ADD COLUMN reminder_minutes BIGINT;

-- A person's calendar subscription (C1). The token is derived from the
-- instance secret, the person and the generation; only its hash is kept.
-- Rotating bumps the generation; revoking clears the hash.
CREATE TABLE calendar_feeds (
    user_id         BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    generation      BIGINT  NOT NULL,
    token_hash      TEXT    UNIQUE,
    include_blocks  INTEGER NOT NULL DEFAULT 0,
    updated_at      BIGINT  NOT NULL
);

-- Booking events are turned into notifications, mails and karma once each.
ALTER TABLE booking_events ADD COLUMN processed_at BIGINT;
-- The person an event is about when it is not the actor (a no-show).
ALTER TABLE booking_events ADD COLUMN subject_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX booking_events_unprocessed ON booking_events (id) WHERE processed_at IS NULL;
CREATE INDEX booking_events_kind ON booking_events (kind, created_at);
-- When attendance karma was given for an approved session (after the
-- no-show window closed); NULL until then.
ALTER TABLE requests ADD COLUMN settled_at BIGINT;
CREATE INDEX requests_unsettled ON requests (status) WHERE settled_at IS NULL;

-- The activity feed (N1).
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    actor_id        BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    request_id      BIGINT  REFERENCES requests (id) ON DELETE CASCADE,
    conversation_id BIGINT,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    read_at         BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

-- Which notification types a person does NOT want by e-mail (default: all on).
CREATE TABLE notification_mail_off (
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Reminders already sent, one per person and session.
CREATE TABLE reminders_sent (
    request_id      BIGINT  NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sent_at         BIGINT  NOT NULL,
    PRIMARY KEY (request_id, user_id)
);

-- Mail waiting to be sent: written in the transaction that caused it, sent
-- and retried by the mail worker, so a crash loses nothing.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Conversations between two people (N2). A participant is a local user or,
-- once federation arrives, a remote actor (by its ActivityPub id).
CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY,
    -- The two participants, sorted: 'u:12|u:40' or 'u:12|a:https://…'.
    pair_key        TEXT    NOT NULL UNIQUE,
    created_at      BIGINT  NOT NULL,
    last_message_at BIGINT  NOT NULL
);

CREATE TABLE conversation_participants (
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    remote_actor    TEXT,
    last_read_at    BIGINT  NOT NULL DEFAULT 0,
    CHECK ((user_id IS NULL) <> (remote_actor IS NULL))
);
CREATE UNIQUE INDEX conversation_participants_local ON conversation_participants (conversation_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX conversation_participants_user ON conversation_participants (user_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id       BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    sender_actor    TEXT,
    body            TEXT    NOT NULL,
    -- The ActivityPub id of a federated message (to deduplicate).
    ap_id           TEXT    UNIQUE,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

-- Karma (K1): every change to a person's score, with why.
CREATE TABLE karma_events (
    id              INTEGER PRIMARY KEY,
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    points          BIGINT  NOT NULL,
    request_id      BIGINT  REFERENCES requests (id) ON DELETE SET NULL,
    actor_id        BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    note            TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL
);
CREATE INDEX karma_events_user ON karma_events (user_id, id);
-- One attendance, no-show or late cancellation per person and session.
CREATE UNIQUE INDEX karma_events_once ON karma_events (request_id, user_id, kind) WHERE kind IN ('attended', 'no_show', 'late_cancel', 'forgiven');

-- Instance-wide settings the admin can change (karma rules); absent = default.
CREATE TABLE instance_settings (
    name            TEXT    PRIMARY KEY,
    value           TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL
);
