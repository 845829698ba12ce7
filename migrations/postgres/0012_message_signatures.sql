-- RFC 9421 HTTP Message Signatures (issue 15).
-- Every local account gets an Ed25519 key (PKCS#8 PEM, made on first use)
-- published as a FEP-521a Multikey next to its RSA key.
ALTER TABLE users ADD COLUMN ed25519_private_pem TEXT;
-- A remote actor's RSA key id (`publicKey.id`; '' for rows stored before),
-- and its Ed25519 Multikey (id and `publicKeyMultibase`), if it has one.
ALTER TABLE remote_actors ADD COLUMN public_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE remote_actors ADD COLUMN ed25519_key_id TEXT;
ALTER TABLE remote_actors ADD COLUMN ed25519_key TEXT;
-- How an instance takes our signatures: 'rfc9421' or 'cavage' (the
-- fallback of the double-knock); NULL while we do not know.
ALTER TABLE instances ADD COLUMN http_signatures TEXT;
