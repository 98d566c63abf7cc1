// Package sqlstore is the SQL core that the sqlite and postgres stores
// share, and the place to read what their methods do (the dialect
// packages embed its Store): the queries, the write transactions that append their audit entry
// and bump the global revision, optimistic concurrency on per-record
// versions, migrations and in-process change notification. A Dialect
// supplies the few differences: placeholders, time columns, the migration
// lock, cross-instance notification and which errors are worth a retry.
//
// Every write runs in one transaction that first increments the single
// revision row. That row lock serializes writers, so versions are checked
// against committed state, revisions follow commit order and audit IDs
// grow with revisions.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// A Dialect describes one database's SQL.
type Dialect struct {
	// Name prefixes every error: "sqlite", "postgres".
	Name string
	// NumberedParams rewrites the core's ? placeholders as $1, $2, ….
	NumberedParams bool
	// Time converts a UTC time into a query argument for a time column.
	Time func(time.Time) any
	// MigrationsTable creates the table of applied migrations if missing.
	MigrationsTable string
	// LockMigrations, if set, runs first in the migration transaction and
	// holds off other migrators until it ends.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// Notify, if set, runs last in every write transaction, so that other
	// instances learn of the new revision when it commits.
	Notify func(ctx context.Context, tx *sql.Tx, revision int64) error
	// Retry, if set, reports whether err means the connection failed, so
	// that an operation that has not committed may run again on another
	// connection.
	Retry func(err error) bool
}

// maxAttempts bounds how often one operation runs when its connection
// fails before it commits.
const maxAttempts = 3

// Store keeps Flagon's records in an SQL database: it is a flagon.Store
// (flags and audiences), a flagon.AuditLog, a flagonhttp.UserOverrideStore
// and a flagonhttp.ShareTokenStore. Open one with sqlite.Open or
// postgres.Open.
type Store struct {
	db  *sql.DB
	d   Dialect
	hub *flagon.Notifier

	maxIdle int // the pool's idle connections, restored after dropIdle

	mu      sync.Mutex
	queries map[string]string // ? form to dialect form
}

// New returns a store over db, whose schema Migrate has brought up to
// date, and whose pool keeps maxIdleConns idle connections. The store
// tells hub of its own writes; the dialect tells it of other instances'.
// The store owns db and hub: Close closes them.
//
// Dialect packages call it from their Open and embed the result.
func New(db *sql.DB, d Dialect, hub *flagon.Notifier, maxIdleConns int) *Store {
	return &Store{db: db, d: d, hub: hub, maxIdle: maxIdleConns, queries: make(map[string]string)}
}

// Close stops the watchers and closes the database.
func (s *Store) Close() error {
	s.hub.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", s.d.Name, err)
	}
	return nil
}

// Watch implements flagon.Store for changes made through this store; the
// dialect adds changes made by other instances through Hub.
func (s *Store) Watch(ctx context.Context, fn func(revision int64)) error {
	if err := s.hub.Add(ctx, fn); err != nil {
		return fmt.Errorf("%s: watch: %w", s.d.Name, err)
	}
	return nil
}

// q returns query in the dialect's placeholder form.
func (s *Store) q(query string) string {
	if !s.d.NumberedParams {
		return query
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.queries[query]; ok {
		return r
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	r := b.String()
	s.queries[query] = r
	return r
}

// errf adds the dialect name and the operation to err.
func (s *Store) errf(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

// retry runs fn, again (up to maxAttempts in all) while it fails because
// its connection failed. Between attempts it drops idle connections, which
// after a database restart or a killed backend are likely dead as well.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		if err == nil || attempt == maxAttempts || s.d.Retry == nil || !s.d.Retry(err) || ctx.Err() != nil {
			return err
		}
		s.dropIdle()
	}
}

// retried runs the read fn as retry does and returns its result, its
// error described as op's.
func retried[T any](ctx context.Context, s *Store, op string, fn func() (T, error)) (T, error) {
	var out T
	err := s.retry(ctx, func() error {
		var err error
		out, err = fn()
		return err
	})
	if err != nil {
		var zero T
		return zero, s.errf(op, err)
	}
	return out, nil
}

// dropIdle closes the pool's idle connections.
func (s *Store) dropIdle() {
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(s.maxIdle)
}

// A record is what one write changed, for its audit entry.
type record struct {
	action string
	target string
	before any // nil for a create
	after  any // nil for a delete
}

// errNoChange ends a write that turned out to change nothing: it rolls
// back, and the caller reports success.
var errNoChange = errors.New("no change")

// write runs fn in a write transaction at a new revision and appends the
// audit entry for the record fn returns. It returns the new revision, or
// zero when fn returned errNoChange. A write whose connection fails before
// it commits runs again; one whose commit fails does not, since it may
// have committed.
func (s *Store) write(ctx context.Context, c flagon.Change, fn func(tx *sql.Tx, rev int64, now time.Time) (record, error)) (int64, error) {
	for attempt := 1; ; attempt++ {
		rev, committing, err := s.writeOnce(ctx, c, fn)
		switch {
		case err == nil:
			return rev, nil
		case errors.Is(err, errNoChange):
			return 0, nil
		case committing || attempt == maxAttempts || s.d.Retry == nil || !s.d.Retry(err) || ctx.Err() != nil:
			return 0, err
		}
		s.dropIdle()
	}
}

func (s *Store) writeOnce(ctx context.Context, c flagon.Change, fn func(tx *sql.Tx, rev int64, now time.Time) (record, error)) (rev int64, committing bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, s.q(`UPDATE flagon_state SET revision = revision + 1 WHERE id = 1 RETURNING revision`)).Scan(&rev); err != nil {
		return 0, false, err
	}
	now := Now()
	r, err := fn(tx, rev, now)
	if err != nil {
		return 0, false, err
	}
	before, err := jsonOrNil(r.before)
	if err != nil {
		return 0, false, err
	}
	after, err := jsonOrNil(r.after)
	if err != nil {
		return 0, false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO flagon_audit
		(created_at, actor, action, target, environment, reason, before_json, after_json, revision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		s.d.Time(now), c.Actor, r.action, r.target, c.Environment, c.Reason, before, after, rev); err != nil {
		return 0, false, err
	}
	if s.d.Notify != nil {
		if err := s.d.Notify(ctx, tx, rev); err != nil {
			return 0, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, true, err
	}
	s.hub.Notify(rev)
	return rev, false, nil
}

// jsonOrNil returns the JSON text of v, or nil (SQL NULL) for nil.
func jsonOrNil(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	return string(b), nil
}

// readTx runs fn in a read-only transaction that sees one snapshot of the
// database.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// Revision implements flagon.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, s.q(`SELECT revision FROM flagon_state WHERE id = 1`)).Scan(&rev)
	})
	if err != nil {
		return 0, s.errf("revision", err)
	}
	return rev, nil
}

// What a Store is.
var (
	_ flagon.Store                 = (*Store)(nil)
	_ flagon.AuditLog              = (*Store)(nil)
	_ flagonhttp.UserOverrideStore = (*Store)(nil)
	_ flagonhttp.ShareTokenStore   = (*Store)(nil)
	_ flagonhttp.KeyStore          = (*Store)(nil)
)
