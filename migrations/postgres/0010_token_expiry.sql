-- Personal API tokens may expire (ms; NULL = never). The owner lookup
-- ignores expired tokens; a person's tokens are listed by user_id.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);
