package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultPath is the database file that Open uses when given none.
const DefaultPath = "flagon.db"

// DefaultBusyTimeout is how long a write waits for another connection's
// write to finish before failing.
const DefaultBusyTimeout = 5 * time.Second

// DefaultPollInterval is how often a watched store checks the file for
// writes made by other processes.
const DefaultPollInterval = 250 * time.Millisecond

// Connection pool sizes. Writers take turns whatever the pool size; the
// open connections let readers run beside them.
const (
	maxOpenConns = 8
	maxIdleConns = 2
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configures a Store. The zero value is a valid configuration.
type Options struct {
	// BusyTimeout is how long a write waits for a lock; zero means
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// PollInterval is how often Watch checks for other processes' writes;
	// zero means DefaultPollInterval, negative turns the check off.
	PollInterval time.Duration
}

// Store is a flagon.Store in an SQLite file. It is safe for concurrent
// use, also by several processes on one file.
//
// Its methods are those of the embedded sqlstore.Store (go doc
// sqlstore.Store): it is a flagon.Store, a flagon.AuditLog, a
// flagonhttp.UserOverrideStore and a flagonhttp.ShareTokenStore. Errors
// start with the package name and the operation, and wrap
// flagon.ErrConflict, flagon.ErrNotFound or flagon.FieldErrors where
// those apply.
type Store struct {
	*sqlstore.Store
	hub  *flagon.Notifier
	path string
	poll time.Duration

	startPoll sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ flagon.Store = (*Store)(nil)

var dialect = sqlstore.Dialect{
	Name: "sqlite",
	Time: func(t time.Time) any { return t.UTC().Format(sqlstore.SQLiteTimeLayout) },
	MigrationsTable: `CREATE TABLE IF NOT EXISTS flagon_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`,
	// Write transactions begin IMMEDIATE (see dsn), which holds off other
	// migrators without a lock of our own.
}

// Open opens (creating if needed) the SQLite database at path, a file
// name or a URL such as "sqlite://flagon.db" or "file:flagon.db"; empty
// means DefaultPath. It applies the embedded migrations. A file that is
// not an SQLite database, or is corrupt, gives an error that says so.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "sqlite://"), "sqlite:")
	if path == "" {
		path = DefaultPath
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	file := path
	if strings.HasPrefix(file, "file:") {
		u, err := url.Parse(file)
		if err == nil {
			file = u.Opaque
			if file == "" {
				file = u.Path
			}
		}
	}
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("sqlite: open %s: is a directory", path)
	}
	if err := createPrivate(file); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: cannot open the file (does its directory exist, and may we write there?): %w", path, err)
	}

	db, err := sql.Open("sqlite", dsn(path, opts))
	if err != nil {
		return nil, openError(path, err)
	}
	memory := file == ":memory:" || strings.Contains(path, "mode=memory")
	if memory {
		// Each connection to :memory: is a database of its own.
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(maxOpenConns)
		db.SetMaxIdleConns(maxIdleConns)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, openError(path, err)
	}
	ms, err := sqlstore.ReadMigrations(migrationFiles, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if _, err := sqlstore.Migrate(ctx, db, dialect, ms); err != nil {
		db.Close()
		return nil, openError(path, fmt.Errorf("migrate: %w", err))
	}
	hub := new(flagon.Notifier)
	s := &Store{
		hub:   hub,
		Store: sqlstore.New(db, dialect, hub, maxIdleConns),
		path:  path,
		poll:  opts.PollInterval,
		stop:  make(chan struct{}),
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		s.Store.Close()
		return nil, err
	}
	s.hub.Seen(rev)
	return s, nil
}

// createPrivate creates the database file, readable and writable by its
// owner only (0600), if it does not exist: it holds signing keys and the
// audit log. SQLite gives the WAL and shared-memory files it creates
// beside it the same permissions.
func createPrivate(file string) error {
	if file == "" || file == ":memory:" || strings.Contains(file, "mode=memory") {
		return nil
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn returns the driver's name for path: WAL, the busy timeout, and
// IMMEDIATE write transactions, which take the write lock at BEGIN and so
// wait their turn under the busy timeout instead of failing to upgrade.
func dsn(path string, opts Options) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Set("_txlock", "immediate")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + q.Encode()
}

// openError explains the errors a bad file gives.
func openError(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("sqlite: open %s: not an SQLite database (another kind of file, or corrupt or encrypted): %w", path, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("sqlite: open %s: the database is corrupt: %w", path, err)
		case sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("sqlite: open %s: cannot open the file (does its directory exist, and may we write there?): %w", path, err)
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return fmt.Errorf("sqlite: open %s: the file is read-only or not accessible: %w", path, err)
		}
	}
	return fmt.Errorf("sqlite: open %s: %w", path, err)
}

// Path returns the database's path.
func (s *Store) Path() string { return s.path }

// Watch implements flagon.Store. Writes through this Store are told as
// they commit; writes by other processes within the poll interval.
func (s *Store) Watch(ctx context.Context, fn func(revision int64)) error {
	if err := s.Store.Watch(ctx, fn); err != nil {
		return err
	}
	if s.poll > 0 {
		s.startPoll.Do(func() {
			s.wg.Add(1)
			go s.pollRevision()
		})
	}
	return nil
}

// pollRevision tells the watchers of revisions that other processes
// wrote, until Close.
func (s *Store) pollRevision() {
	defer s.wg.Done()
	t := time.NewTicker(s.poll)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if !s.hub.Watching() {
			continue
		}
		if rev, err := s.Revision(ctx); err == nil {
			s.hub.Notify(rev)
		}
	}
}

// Close stops the watchers and closes the database. Later calls return
// nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.closeErr = s.Store.Close()
	})
	return s.closeErr
}
