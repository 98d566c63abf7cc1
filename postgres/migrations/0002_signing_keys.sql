-- Signing keys shared by every instance: override cookies, headers,
-- share links and console sessions stay valid across restarts and
-- between instances. The secret is base64 of what the server stored,
-- which may be encrypted.
CREATE TABLE flagon_signing_keys (
	id          TEXT PRIMARY KEY,
	secret      TEXT NOT NULL,
	active_from TIMESTAMPTZ NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	retired     BOOLEAN NOT NULL DEFAULT FALSE,
	revision    BIGINT NOT NULL
);
