-- The people who sign in to the admin console (flagon.User). The password
-- hash is bcrypt; roles are the default role and a JSON object of
-- per-environment roles. Writes bump the revision and append an audit
-- entry that holds no hash.
CREATE TABLE flagon_users (
	name          TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,
	env_roles     TEXT NOT NULL DEFAULT '{}',
	disabled      INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	revision      INTEGER NOT NULL
);
