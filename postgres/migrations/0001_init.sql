-- The first Flagon schema. JSON columns are TEXT, not JSONB, so that
-- they hold exactly what encoding/json wrote (JSONB refuses \u0000 and
-- reorders keys); nothing queries inside them.

-- The one row holds the store's revision, which every write increments
-- first: that row's lock serializes writers.
CREATE TABLE flagon_state (
	id       SMALLINT PRIMARY KEY CHECK (id = 1),
	revision BIGINT NOT NULL
);
INSERT INTO flagon_state (id, revision) VALUES (1, 0);

CREATE TABLE flagon_flags (
	key        TEXT PRIMARY KEY,
	version    BIGINT NOT NULL,            -- 1 at creation, +1 per change
	archived   BOOLEAN NOT NULL DEFAULT FALSE,
	data       TEXT NOT NULL,              -- the flagon.Flag, as JSON
	updated_at TIMESTAMPTZ NOT NULL,
	updated_by TEXT NOT NULL DEFAULT '',
	revision   BIGINT NOT NULL             -- the store revision of the last change
);

CREATE TABLE flagon_audiences (
	name       TEXT PRIMARY KEY,
	version    BIGINT NOT NULL,
	data       TEXT NOT NULL,              -- the flagon.Audience, as JSON
	updated_at TIMESTAMPTZ NOT NULL,
	updated_by TEXT NOT NULL DEFAULT '',
	revision   BIGINT NOT NULL
);

CREATE TABLE flagon_user_overrides (
	user_name  TEXT NOT NULL,
	flag       TEXT NOT NULL,
	value_type TEXT NOT NULL,              -- bool, string, int, float or object
	value      TEXT NOT NULL,              -- JSON
	source     TEXT NOT NULL,
	set_at     TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ,                -- NULL for never
	revision   BIGINT NOT NULL,
	PRIMARY KEY (user_name, flag)
);

CREATE TABLE flagon_share_tokens (
	id          TEXT PRIMARY KEY,
	flag        TEXT NOT NULL,
	value_type  TEXT NOT NULL,
	value       TEXT NOT NULL,
	duration_ns BIGINT NOT NULL,
	expires_at  TIMESTAMPTZ,
	created_at  TIMESTAMPTZ NOT NULL,
	created_by  TEXT NOT NULL,
	revoked     BOOLEAN NOT NULL DEFAULT FALSE,
	revision    BIGINT NOT NULL
);

CREATE TABLE flagon_audit (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	created_at  TIMESTAMPTZ NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target      TEXT NOT NULL,
	environment TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	before_json TEXT,                      -- the record before the write; NULL for a create
	after_json  TEXT,                      -- the record after the write; NULL for a delete
	revision    BIGINT NOT NULL
);
CREATE INDEX flagon_audit_target ON flagon_audit (target, id);
CREATE INDEX flagon_audit_actor ON flagon_audit (actor, id);
CREATE INDEX flagon_audit_created_at ON flagon_audit (created_at);
