package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// DefaultMaxConns is the size of a Store's connection pool, besides the
// one connection that listens for notifications.
const DefaultMaxConns = 10

// DefaultApplicationName is the application_name of a Store's connections
// when the DSN sets none, as pg_stat_activity shows them.
const DefaultApplicationName = "flagon"

// ListenSuffix ends the application_name of the connection that listens
// for notifications, so that pg_stat_activity tells it apart.
const ListenSuffix = ":listen"

// DefaultListenPing is how long the listening connection may stay silent
// before the Store pings it, to find a connection that died quietly.
const DefaultListenPing = 30 * time.Second

// Reconnection waits of the listening connection: the first, doubling to
// the last.
const (
	minReconnectWait = 50 * time.Millisecond
	maxReconnectWait = 5 * time.Second
)

// connectTimeout bounds each connection attempt of the listener.
const connectTimeout = 10 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configures a Store. The zero value is a valid configuration.
type Options struct {
	// MaxConns is the size of the connection pool; zero means
	// DefaultMaxConns.
	MaxConns int
	// Channel is the notification channel; empty means "flagon_" and
	// the schema's name, so that stores in different schemas of one
	// database do not hear each other.
	Channel string
	// Logger receives the listening connection's losses and recoveries;
	// nil means slog.Default().
	Logger *slog.Logger
}

// Store is a flagon.Store in a PostgreSQL database. It is safe for
// concurrent use, and any number of Stores, in any number of processes,
// may share one database.
//
// Its methods are those of the embedded sqlstore.Store (go doc
// sqlstore.Store): it is a flagon.Store, a flagon.AuditLog, a
// flagonhttp.UserOverrideStore and a flagonhttp.ShareTokenStore. Errors
// start with the package name and the operation, and wrap
// flagon.ErrConflict, flagon.ErrNotFound or flagon.FieldErrors where
// those apply.
type Store struct {
	*sqlstore.Store
	hub     *flagon.Notifier
	cfg     *pgx.ConnConfig
	schema  string
	channel string
	log     *slog.Logger

	startListen sync.Once
	stop        chan struct{}
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

var _ flagon.Store = (*Store)(nil)

// Open connects to the database that dsn names, a URL
// (postgres://user:password@host:5432/db?sslmode=disable&search_path=flagon)
// or key=value pairs, and applies the migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = DefaultApplicationName
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	maxIdle := min(opts.MaxConns, 4)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(maxIdle)
	db.SetConnMaxIdleTime(5 * time.Minute)

	fail := func(format string, err error) (*Store, error) {
		db.Close()
		return nil, fmt.Errorf("postgres: "+format, err)
	}
	if err := db.PingContext(ctx); err != nil {
		return fail("connect: %w", err)
	}
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fail("%w", err)
	}
	if !schema.Valid {
		var path string
		db.QueryRowContext(ctx, `SHOW search_path`).Scan(&path)
		return fail("%w", fmt.Errorf("no schema: search_path %q names none that exists (create it first)", path))
	}
	s := &Store{
		cfg:     cfg,
		schema:  schema.String,
		channel: opts.Channel,
		log:     opts.Logger,
		stop:    make(chan struct{}),
	}
	if s.channel == "" {
		s.channel = channelFor(s.schema)
	}
	d := s.dialect()
	ms, err := sqlstore.ReadMigrations(migrationFiles, "migrations")
	if err != nil {
		return fail("%w", err)
	}
	if _, err := sqlstore.Migrate(ctx, db, d, ms); err != nil {
		return fail("migrate schema "+strconv.Quote(s.schema)+": %w", err)
	}
	s.hub = new(flagon.Notifier)
	s.Store = sqlstore.New(db, d, s.hub, maxIdle)
	rev, err := s.Revision(ctx)
	if err != nil {
		s.Store.Close()
		return nil, err
	}
	s.hub.Seen(rev)
	return s, nil
}

// channelFor returns the notification channel of a schema: an identifier
// of at most 63 bytes.
func channelFor(schema string) string {
	c := "flagon_" + schema
	if len(c) > 63 {
		sum := sha256.Sum256([]byte(schema))
		c = "flagon_" + hex.EncodeToString(sum[:8])
	}
	return c
}

func (s *Store) dialect() sqlstore.Dialect {
	lockKey := func() int64 {
		h := fnv.New64a()
		h.Write([]byte("flagon:migrate:" + s.schema))
		return int64(h.Sum64())
	}()
	return sqlstore.Dialect{
		Name:           "postgres",
		NumberedParams: true,
		Time:           func(t time.Time) any { return t.UTC() },
		MigrationsTable: `CREATE TABLE IF NOT EXISTS flagon_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL
		)`,
		LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey)
			return err
		},
		Notify: func(ctx context.Context, tx *sql.Tx, rev int64) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.channel, strconv.FormatInt(rev, 10))
			return err
		},
		Retry: connectionFailed,
	}
}

// connectionFailed reports whether err means the connection failed (or
// the server refused the transaction for a reason that passes), so that
// work that has not committed may run again.
func connectionFailed(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
			"40001", "40P01", // serialization_failure, deadlock_detected
			"08000", "08003", "08006": // connection_exception, connection_does_not_exist, connection_failure
			return true
		}
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) ||
		errors.As(err, &netErr) || errors.As(err, &connectErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// Channel returns the store's notification channel.
func (s *Store) Channel() string { return s.channel }

// Watch implements flagon.Store. The first call starts the listening
// connection; until it is up (and whenever it is down) writes through
// this Store are still told as they commit, and on each (re)connection
// the watchers are told the current revision, so no write is missed.
func (s *Store) Watch(ctx context.Context, fn func(revision int64)) error {
	if err := s.Store.Watch(ctx, fn); err != nil {
		return err
	}
	s.startListen.Do(func() {
		s.wg.Add(1)
		go s.listen()
	})
	return nil
}

// listen keeps a connection listening on the store's channel until
// Close, reconnecting with backoff.
func (s *Store) listen() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := minReconnectWait
	for {
		connected, err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			wait = minReconnectWait
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "postgres: notification connection lost; reconnecting",
			slog.Any("error", err), slog.Duration("wait", wait), slog.String("channel", s.channel))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, maxReconnectWait)
	}
}

// listenOnce connects, listens, tells the watchers the current revision
// and then each notified one, until the connection fails or ctx is done.
// It reports whether it got as far as listening.
func (s *Store) listenOnce(ctx context.Context) (connected bool, err error) {
	cfg := s.cfg.Copy()
	cfg.RuntimeParams["application_name"] += ListenSuffix
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, err
	}
	// Writes committed before the LISTEN were not heard: catch up. (The
	// LISTEN must commit first, so this is a second statement.)
	var rev int64
	if err := conn.QueryRow(ctx, `SELECT revision FROM flagon_state WHERE id = 1`).Scan(&rev); err != nil {
		return false, err
	}
	s.hub.Notify(rev)
	for {
		wctx, cancel := context.WithTimeout(ctx, DefaultListenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if rev, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				s.hub.Notify(rev)
			}
		case ctx.Err() != nil:
			return true, ctx.Err()
		case pgconn.Timeout(err):
			pctx, cancel := context.WithTimeout(ctx, connectTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}

// Close stops listening and closes the pool. Later calls return nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.closeErr = s.Store.Close()
	})
	return s.closeErr
}
