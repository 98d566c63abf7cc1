package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/postgres"
	"github.com/flagon/flagon/sqlite"
)

// Store is what flagon serve keeps in its database: flags and audiences,
// the audit log, per-login overrides, share links, signing keys, usage
// counts, the users who sign in to the console, scheduled changes and
// change requests.
// sqlite.Store and
// postgres.Store are each all of these; the interfaces are defined by the
// packages that use them.
type Store interface {
	flagon.Store
	flagon.AuditLog
	flagonhttp.UserOverrideStore
	flagonhttp.ShareTokenStore
	flagonhttp.KeyStore
	flagon.UsageStore
	flagon.UserStore
	flagon.ScheduleStore
	flagon.ChangeRequestStore
	io.Closer
}

// OpenStore opens the store a URL names: sqlite://PATH (or a bare path) for
// the embedded database, postgres://… or postgresql://… for PostgreSQL.
// Migrations are applied at open.
func OpenStore(ctx context.Context, rawURL string) (Store, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		st, err := postgres.Open(ctx, rawURL)
		if err != nil {
			return nil, err
		}
		return st, nil
	case strings.HasPrefix(rawURL, "sqlite://"):
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if path == "" {
			return nil, fmt.Errorf("store %q: name the database file, as in sqlite://flagon.db", rawURL)
		}
		return sqlite.Open(ctx, path)
	case strings.Contains(rawURL, "://"):
		scheme, _, _ := strings.Cut(rawURL, "://")
		return nil, fmt.Errorf("store %q: unknown scheme %q (want sqlite:// or postgres://)", Redact(rawURL), scheme)
	case rawURL == "":
		return nil, fmt.Errorf("no store named (want sqlite://PATH or postgres://…)")
	}
	return sqlite.Open(ctx, rawURL)
}

// Redact returns a store URL with any password replaced, for logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Import writes defs into st: audiences first, then flags, each created or
// replaced at its current version, and skipped when unchanged. It returns
// how many records changed. Nothing is deleted.
func Import(ctx context.Context, st flagon.Store, defs flagon.Definitions, c flagon.Change) (int, error) {
	if err := defs.Validate(); err != nil {
		return 0, err
	}
	changed := 0
	auds, err := st.Audiences(ctx)
	if err != nil {
		return 0, err
	}
	audVersion := map[string]flagon.StoredAudience{}
	for _, a := range auds {
		audVersion[a.Name] = a
	}
	for _, a := range defs.Audiences {
		old, ok := audVersion[a.Name]
		if ok && sameJSON(old.Audience, a) {
			continue
		}
		if _, err := st.PutAudience(ctx, a, old.Version, c); err != nil {
			return changed, fmt.Errorf("audience %q: %w", a.Name, err)
		}
		changed++
	}
	flags, err := st.Flags(ctx)
	if err != nil {
		return changed, err
	}
	flagVersion := map[string]flagon.StoredFlag{}
	for _, f := range flags {
		flagVersion[f.Key] = f
	}
	for _, f := range defs.Flags {
		old, ok := flagVersion[f.Key]
		if ok && !old.Archived && sameJSON(old.Flag.Normalize(), f.Normalize()) {
			continue
		}
		v := old.Version
		if ok && old.Archived {
			if v, err = st.ArchiveFlag(ctx, f.Key, false, v, c); err != nil {
				return changed, fmt.Errorf("flag %q: restore: %w", f.Key, err)
			}
		}
		if _, err := st.PutFlag(ctx, f, v, c); err != nil {
			return changed, fmt.Errorf("flag %q: %w", f.Key, err)
		}
		changed++
	}
	return changed, nil
}

// sameJSON reports whether a and b encode to the same JSON, which is how
// stores compare definitions.
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	return string(x) == string(y)
}
