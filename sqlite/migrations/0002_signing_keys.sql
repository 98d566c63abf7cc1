-- Signing keys shared by every instance: override cookies, headers,
-- share links and console sessions stay valid across restarts and
-- between instances. The secret is base64 of what the server stored,
-- which may be encrypted.
CREATE TABLE flagon_signing_keys (
	id          TEXT PRIMARY KEY,
	secret      TEXT NOT NULL,
	active_from TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	retired     INTEGER NOT NULL DEFAULT 0,
	revision    INTEGER NOT NULL
);
