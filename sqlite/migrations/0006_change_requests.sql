-- Flag changes proposed in a protected environment, waiting for a second
-- person's review (flagon.ChangeRequest). Approval settles a pending row
-- by an UPDATE … WHERE state = 'pending' in the write transaction that
-- applies it, after checking the flag's version (docs/decisions/0173).
CREATE TABLE flagon_change_requests (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	flag         TEXT NOT NULL,
	environment  TEXT NOT NULL,
	author       TEXT NOT NULL,
	reason       TEXT NOT NULL DEFAULT '',
	base_version INTEGER NOT NULL DEFAULT 0,
	proposed     TEXT NOT NULL,
	schedule     TEXT NOT NULL DEFAULT '',
	emergency    INTEGER NOT NULL DEFAULT 0,
	state        TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	reviewer     TEXT NOT NULL DEFAULT '',
	comment      TEXT NOT NULL DEFAULT '',
	reviewed_at  TEXT,
	error        TEXT NOT NULL DEFAULT '',
	revision     INTEGER NOT NULL
);
CREATE INDEX flagon_change_requests_state ON flagon_change_requests (state, id);
CREATE INDEX flagon_change_requests_flag ON flagon_change_requests (flag, id);
