-- Publishing availability, requests across instances, direct messages and
-- instance health (issue 5: F2–F5).

-- A remote person who takes part here (a learner asking for a session, an
-- advisor whose slots a local learner books) gets a shadow account: it
-- cannot log in, is never listed, and gets direct messages instead of mail.
-- It lets the booking rules, karma and notifications treat both alike.
ALTER TABLE users ADD COLUMN remote_actor_id BIGINT REFERENCES remote_actors (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX users_remote_actor ON users (remote_actor_id);

-- A remote advisor's Event mirrored here: one block (a single occurrence)
-- and its slots, known by their ActivityPub ids.
ALTER TABLE blocks ADD COLUMN ap_id TEXT;
CREATE UNIQUE INDEX blocks_ap_id ON blocks (ap_id);
ALTER TABLE slots ADD COLUMN ap_id TEXT;
CREATE UNIQUE INDEX slots_ap_id ON slots (ap_id);
-- For mirrored slots: whether the advisor's instance still offers it.
ALTER TABLE slots ADD COLUMN remote_open BIGINT;

-- The activity a request came in by or went out as: a Join (Officehours,
-- Mobilizon) or a Note (a Mastodon reply or mention).
ALTER TABLE requests ADD COLUMN ap_id TEXT;
ALTER TABLE requests ADD COLUMN ap_kind TEXT;
CREATE UNIQUE INDEX requests_ap_id ON requests (ap_id);

-- Events published to followers: one per block occurrence, with a digest
-- of what was sent, so a change goes out as an Update and only then.
CREATE TABLE published_events (
    block_id        BIGINT  NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    occurrence_date TEXT    NOT NULL,
    advisor_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ap_id           TEXT    NOT NULL UNIQUE,
    digest          TEXT    NOT NULL,
    -- 'live', 'cancelled' (Update with EventCancelled sent) or 'deleted'.
    status          TEXT    NOT NULL,
    ends_at         BIGINT  NOT NULL,
    body            TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (block_id, occurrence_date)
);
CREATE INDEX published_events_advisor ON published_events (advisor_id, status);

-- Remote instances we deliver to: a run of failures over a day marks one
-- dead (deliveries wait), anything it sends us revives it.
CREATE TABLE instances (
    domain          TEXT    PRIMARY KEY,
    failures        BIGINT  NOT NULL DEFAULT 0,
    first_failure_at BIGINT,
    dead_since      BIGINT,
    -- While dead, its deliveries wait; one try goes out at this time.
    next_probe_at   BIGINT,
    last_success_at BIGINT,
    last_seen_at    BIGINT
);
ALTER TABLE deliveries ADD COLUMN domain TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_domain ON deliveries (domain) WHERE delivered_at IS NULL AND failed_at IS NULL;
