package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/sqlite"
)

func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "flagon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
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

func TestOpenBadFile(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path, want string
	}{
		{"garbage", garbage, "not an SQLite database"},
		{"directory", dir, "is a directory"},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "flagon.db"), "cannot open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", tt.path)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Open(%s) = %v, want an error naming the file and saying %q", tt.path, err, tt.want)
			}
		})
	}
}

// TestOpenCorruptPages damages a real database past its header: the store
// must report it, at open or at the first read, and never crash.
func TestOpenCorruptPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagon.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		f := flagon.Flag{Key: fmt.Sprintf("flag-%d", i), Description: strings.Repeat("text ", 20)}
		if _, err := s.PutFlag(t.Context(), f, 0, flagon.Change{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 3*4096)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(junk, 4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, err = sqlite.Open(t.Context(), path)
	if err == nil {
		defer s.Close()
		_, _, err = s.Load(t.Context())
	}
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("open and load of a corrupt database: %v, want an error saying it is malformed", err)
	}
	t.Log(err)
}

// TestWatchAcrossProcesses opens one file twice, as two processes would:
// a write through one is told to the other's watchers by its poll.
func TestWatchAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagon.db")
	var stores [2]*sqlite.Store
	for i := range stores {
		s, err := sqlite.OpenWith(t.Context(), path, sqlite.Options{PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	seen := make(chan int64, 100)
	if err := stores[1].Watch(t.Context(), func(rev int64) { seen <- rev }); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[0].PutFlag(t.Context(), flagon.Flag{Key: "a"}, 0, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case rev := <-seen:
			if rev == 1 {
				return
			}
		case <-timeout:
			t.Fatal("the other store's watcher never heard of the write")
		}
	}
}

func TestOpenMemory(t *testing.T) {
	s, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PutFlag(t.Context(), flagon.Flag{Key: "a"}, 0, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, rev, err := s.Load(t.Context()); err != nil || rev != 1 {
		t.Errorf("Load = revision %d, %v; want 1", rev, err)
	}
}

func TestNewFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagon.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PutFlag(t.Context(), flagon.Flag{Key: "a"}, 0, flagon.Change{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(p), mode)
		}
	}
}
