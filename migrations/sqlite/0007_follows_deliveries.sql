-- Follows and durable delivery (issue 5).

-- Remote actors following local people.
CREATE TABLE followers (
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id        TEXT    NOT NULL,
    -- Where to deliver: the follower's shared inbox, else its inbox.
    inbox           TEXT    NOT NULL,
    follow_id       TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (user_id, actor_id)
);

-- Local people following remote actors.
CREATE TABLE follows (
    id              INTEGER PRIMARY KEY,
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id        TEXT    NOT NULL,
    follow_id       TEXT    NOT NULL UNIQUE,
    accepted_at     BIGINT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (user_id, actor_id)
);

-- Activities received, by id: a replay changes nothing.
CREATE TABLE inbox_seen (
    activity_id     TEXT    PRIMARY KEY,
    received_at     BIGINT  NOT NULL
);

-- Outgoing activities, stored before they are sent and retried until delivered.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    activity_id     TEXT    NOT NULL,
    sender_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    inbox           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
