package sqlite_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagon/flagon"
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
