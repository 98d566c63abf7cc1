package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/postgres"
	"github.com/jackc/pgx/v5"
)

// discard is the tests' logger.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// baseDSN returns the test server's DSN, or skips the test.
func baseDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("FLAGON_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("FLAGON_TEST_POSTGRES_DSN is not set")
	}
	return dsn
}

// withParams returns dsn with the given run-time parameters set; dsn is a
// URL or key=value pairs.
func withParams(t testing.TB, dsn string, params map[string]string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		dsn += " " + k + "=" + v
	}
	return dsn
}

// testDB is one test's own schema: a DSN whose search_path is the
// schema and whose application_name is its name too, so that a test can
// find (and kill) exactly its own connections. The schema is dropped at
// cleanup.
type testDB struct {
	base, name, dsn string
}

func newTestDB(t testing.TB) *testDB {
	t.Helper()
	base := baseDSN(t)
	b := make([]byte, 8)
	rand.Read(b)
	name := "flagon_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return &testDB{base: base, name: name, dsn: withParams(t, base, map[string]string{"search_path": name, "application_name": name})}
}

// open opens a Store (an instance) on the test's schema.
func (db *testDB) open(t testing.TB) *postgres.Store {
	t.Helper()
	return db.openDSN(t, db.dsn)
}

func (db *testDB) openDSN(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenWith(context.Background(), dsn, postgres.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reset empties the test's tables.
func (db *testDB) reset(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `TRUNCATE flagon_flags, flagon_audiences, flagon_user_overrides,
		flagon_share_tokens, flagon_audit, flagon_change_requests RESTART IDENTITY; UPDATE flagon_state SET revision = 0`); err != nil {
		t.Fatal(err)
	}
}

// admin runs sql on a connection of its own (not the test's application
// name) and returns the first column of the first row.
func (db *testDB) admin(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestStore(t *testing.T) {
	// One schema serves every subtest, emptied between them: creating a
	// schema and its tables costs far more than emptying them.
	db := newTestDB(t)
	used := false
	open := func(t *testing.T) *postgres.Store {
		if used {
			db.reset(t)
		}
		used = true
		return db.open(t)
	}
	flagontest.TestStore(t, func(t *testing.T) flagon.Store { return open(t) })
	flagontest.TestAuditLog(t, func(t *testing.T) flagon.AuditLog { return open(t) })
	flagontest.TestUserOverrideStore(t, func(t *testing.T) flagonhttp.UserOverrideStore { return open(t) })
	flagontest.TestShareTokenStore(t, func(t *testing.T) flagonhttp.ShareTokenStore { return open(t) })
	flagontest.TestKeyStore(t, func(t *testing.T) flagonhttp.KeyStore { return open(t) })
	flagontest.TestUsageStore(t, func(t *testing.T) flagon.UsageStore { return open(t) })
	flagontest.TestUserStore(t, func(t *testing.T) flagon.UserStore { return open(t) })
	flagontest.TestScheduleStore(t, func(t *testing.T) flagon.ScheduleStore { return open(t) })
	flagontest.TestChangeRequestStore(t, func(t *testing.T) flagon.ChangeRequestStore { return open(t) })
}

func TestOpenErrors(t *testing.T) {
	db := newTestDB(t)
	for _, tt := range []struct {
		name, dsn, want string
	}{
		{"malformed", "postgres://%zz", "postgres:"},
		{"unreachable", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", "postgres: connect"},
		{"missing schema", withParams(t, db.base, map[string]string{"search_path": db.name + "_missing"}), "no schema"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := postgres.Open(t.Context(), tt.dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	db := newTestDB(t)
	s := db.open(t)
	s.Close()
	db.admin(t, "INSERT INTO "+db.name+".flagon_migrations (version, name, applied_at) VALUES (999, '0999_future', now()) RETURNING version")
	_, err := postgres.Open(t.Context(), db.dsn)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v, want an error saying it is newer", err)
	}
}

func TestConcurrentMigrations(t *testing.T) {
	db := newTestDB(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(t.Context(), db.dsn)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	if got := db.admin(t, "SELECT count(*) FROM "+db.name+".flagon_migrations"); got != int64(len(files)) {
		t.Errorf("%d migrations recorded, want %d, each once", got, len(files))
	}
}

func TestSchemasAreIsolated(t *testing.T) {
	a, b := newTestDB(t).open(t), newTestDB(t).open(t)
	if a.Channel() == b.Channel() {
		t.Fatalf("two schemas share channel %q", a.Channel())
	}
	ctx := t.Context()
	if _, err := a.PutFlag(ctx, flagon.Flag{Key: "only-in-a"}, 0, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flag(ctx, "only-in-a"); err == nil {
		t.Error("a flag written in one schema shows in another")
	}
}
