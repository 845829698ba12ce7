-- Remote actors (issue 5, F1): people and instances elsewhere in the
-- fediverse, as last fetched. `summary` is sanitised HTML.
CREATE TABLE remote_actors (
    id              INTEGER PRIMARY KEY,
    ap_id           TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    username        TEXT    NOT NULL,
    domain          TEXT    NOT NULL,
    name            TEXT    NOT NULL DEFAULT '',
    summary         TEXT    NOT NULL DEFAULT '',
    url             TEXT,
    inbox           TEXT    NOT NULL,
    shared_inbox    TEXT,
    public_key_pem  TEXT    NOT NULL,
    fetched_at      BIGINT  NOT NULL
);
CREATE INDEX remote_actors_handle ON remote_actors (username, domain);
