-- Evaluation counts, aggregated per hour, flag, variant, environment and
-- application. Usage is not part of the definitions: writing it bumps no
-- revision and writes no audit entry.
CREATE TABLE flagon_usage (
	hour        TIMESTAMPTZ NOT NULL,
	flag        TEXT NOT NULL,
	variant     TEXT NOT NULL,
	environment TEXT NOT NULL,
	app         TEXT NOT NULL,
	count       BIGINT NOT NULL,
	PRIMARY KEY (hour, flag, variant, environment, app)
);
CREATE INDEX flagon_usage_flag ON flagon_usage (flag, hour);
