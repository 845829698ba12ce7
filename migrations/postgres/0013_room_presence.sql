-- Who came into a session's room, and when: the first join and the last
-- leave of each participant (the room task records them). The server's
-- no-show check and the request page read it.
CREATE TABLE room_presence (
    request_id      BIGINT  NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    first_joined_at BIGINT  NOT NULL,
    last_left_at    BIGINT,
    joins           BIGINT  NOT NULL DEFAULT 1,
    PRIMARY KEY (request_id, user_id)
);
-- Sessions whose room the server has checked for no-shows.
ALTER TABLE requests ADD COLUMN presence_checked_at BIGINT;
