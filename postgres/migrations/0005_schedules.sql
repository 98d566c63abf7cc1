-- Flag changes to apply at given times (flagon.ScheduledChange). The
-- scheduler applies a pending row in the write transaction that puts its
-- definition, by an UPDATE … WHERE status = 'pending' that only one
-- instance can win (docs/decisions/0171).
CREATE TABLE flagon_schedules (
	id           BIGSERIAL PRIMARY KEY,
	flag         TEXT NOT NULL,
	environment  TEXT NOT NULL DEFAULT '',
	author       TEXT NOT NULL,
	reason       TEXT NOT NULL DEFAULT '',
	at           TIMESTAMPTZ NOT NULL,
	definition   TEXT NOT NULL,
	base_version BIGINT NOT NULL DEFAULT 0,
	status       TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	done_at      TIMESTAMPTZ,
	done_by      TEXT NOT NULL DEFAULT '',
	error        TEXT NOT NULL DEFAULT '',
	revision     BIGINT NOT NULL
);
CREATE INDEX flagon_schedules_due ON flagon_schedules (status, at);
CREATE INDEX flagon_schedules_flag ON flagon_schedules (flag, at);
