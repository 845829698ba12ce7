-- ActivityPub actor keys (issue 5, F1). Every local account is a Person with
-- an RSA key pair for HTTP signatures, made the first time it is needed.
-- The instance actor's key pair lives in instance_settings.
ALTER TABLE users ADD COLUMN public_key_pem TEXT;
ALTER TABLE users ADD COLUMN private_key_pem TEXT;
