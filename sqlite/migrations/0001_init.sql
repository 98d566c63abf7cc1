-- The first Flagon schema. Times are UTC text in the fixed-width form
-- 2006-01-02T15:04:05.000000Z, so that text order is time order; JSON
-- columns hold the encoding/json form of the flagon types.

-- The one row holds the store's revision, which every write increments
-- first: that row's lock serializes writers.
CREATE TABLE flagon_state (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	revision INTEGER NOT NULL
);
INSERT INTO flagon_state (id, revision) VALUES (1, 0);

CREATE TABLE flagon_flags (
	key        TEXT PRIMARY KEY,
	version    INTEGER NOT NULL,           -- 1 at creation, +1 per change
	archived   INTEGER NOT NULL DEFAULT 0,
	data       TEXT NOT NULL,              -- the flagon.Flag, as JSON
	updated_at TEXT NOT NULL,
	updated_by TEXT NOT NULL DEFAULT '',
	revision   INTEGER NOT NULL            -- the store revision of the last change
);

CREATE TABLE flagon_audiences (
	name       TEXT PRIMARY KEY,
	version    INTEGER NOT NULL,
	data       TEXT NOT NULL,              -- the flagon.Audience, as JSON
	updated_at TEXT NOT NULL,
	updated_by TEXT NOT NULL DEFAULT '',
	revision   INTEGER NOT NULL
);

CREATE TABLE flagon_user_overrides (
	user_name  TEXT NOT NULL,
	flag       TEXT NOT NULL,
	value_type TEXT NOT NULL,              -- bool, string, int, float or object
	value      TEXT NOT NULL,              -- JSON
	source     TEXT NOT NULL,
	set_at     TEXT NOT NULL,
	expires_at TEXT,                       -- NULL for never
	revision   INTEGER NOT NULL,
	PRIMARY KEY (user_name, flag)
);

CREATE TABLE flagon_share_tokens (
	id          TEXT PRIMARY KEY,
	flag        TEXT NOT NULL,
	value_type  TEXT NOT NULL,
	value       TEXT NOT NULL,
	duration_ns INTEGER NOT NULL,
	expires_at  TEXT,
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	revoked     INTEGER NOT NULL DEFAULT 0,
	revision    INTEGER NOT NULL
);

CREATE TABLE flagon_audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	created_at  TEXT NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target      TEXT NOT NULL,
	environment TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	before_json TEXT,                      -- the record before the write; NULL for a create
	after_json  TEXT,                      -- the record after the write; NULL for a delete
	revision    INTEGER NOT NULL
);
CREATE INDEX flagon_audit_target ON flagon_audit (target, id);
CREATE INDEX flagon_audit_actor ON flagon_audit (actor, id);
CREATE INDEX flagon_audit_created_at ON flagon_audit (created_at);
