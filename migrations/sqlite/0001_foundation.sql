-- Accounts, sessions, tokens, categories and advisor profiles.
-- Instants are stored as BIGINT milliseconds since the Unix epoch (UTC) on both
-- backends, so one query text serves SQLite and PostgreSQL. Booleans are
-- BOOLEAN on PostgreSQL and INTEGER 0/1 on SQLite (see storage::DbBool).

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE,
    email           TEXT    NOT NULL UNIQUE,
    email_verified  INTEGER NOT NULL DEFAULT 0,
    password_hash   TEXT    NOT NULL,
    display_name    TEXT    NOT NULL DEFAULT '',
    bio             TEXT    NOT NULL DEFAULT '',
    timezone        TEXT    NOT NULL DEFAULT 'UTC',
    is_advisor      INTEGER NOT NULL DEFAULT 0,
    is_pro          INTEGER NOT NULL DEFAULT 0,
    is_admin        INTEGER NOT NULL DEFAULT 0,
    headline        TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX users_advisors ON users (is_advisor, created_at);

CREATE TABLE login_sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    label        TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT
);

CREATE TABLE email_tokens (
    token_hash   TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      TEXT    NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email        TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

CREATE TABLE categories (
    id           INTEGER PRIMARY KEY,
    slug         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL
);

CREATE TABLE advisor_categories (
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id  BIGINT  NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, category_id)
);
CREATE INDEX advisor_categories_category ON advisor_categories (category_id);

CREATE TABLE advisor_topics (
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position     BIGINT  NOT NULL,
    topic        TEXT    NOT NULL,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE advisor_links (
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position     BIGINT  NOT NULL,
    url          TEXT    NOT NULL,
    PRIMARY KEY (user_id, position)
);

INSERT INTO categories (slug, name, created_at) VALUES
    ('programming', 'Programming', 0),
    ('design', 'Design', 0),
    ('career', 'Career', 0),
    ('writing', 'Writing', 0),
    ('data-science', 'Data science', 0),
    ('business', 'Business', 0),
    ('languages', 'Languages', 0),
    ('music', 'Music', 0);
