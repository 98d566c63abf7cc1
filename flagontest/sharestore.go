package flagontest

import (
	"reflect"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// TestShareTokenStore checks that a flagonhttp.ShareTokenStore keeps the
// interface's promises: records come back as given (times to the
// microsecond, in UTC), newest first; IDs are unique; defaults are
// filled; revoking is idempotent; invalid tokens are refused with field
// errors. For a store that is also a flagon.Store or a flagon.AuditLog it
// checks each write's revision and audit entry. newStore must return a
// new, empty store each time.
func TestShareTokenStore(t *testing.T, newStore func(t *testing.T) flagonhttp.ShareTokenStore) {
	t.Run("Tokens", func(t *testing.T) { testShareTokens(t, openStore(t, newStore)) })
	t.Run("Writes", func(t *testing.T) {
		s := openStore(t, newStore)
		ctx := t.Context()
		tok := flagonhttp.ShareToken{ID: "tok", Flag: "a", Value: true, Duration: time.Hour}
		checkWrites(t, s, []recordWrite{
			{"create share token", func() error { return s.CreateShareToken(ctx, tok, changeBy("ann")) }, "share.create", "tok", false, true, true},
			{"revoke share token", func() error { return s.RevokeShareToken(ctx, "tok", changeBy("ann")) }, "share.revoke", "tok", true, true, true},
			{"revoke revoked token", func() error { return s.RevokeShareToken(ctx, "tok", changeBy("ann")) }, "", "", false, false, false},
		})
		_, err := s.ShareToken(ctx, "missing")
		wantStoreErr(t, "ShareToken(missing)", err, flagon.ErrNotFound)
	})
}

func testShareTokens(t *testing.T, s flagonhttp.ShareTokenStore) {
	ctx := t.Context()
	base := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	t1 := flagonhttp.ShareToken{ID: "tok-1", Flag: "new-home", Value: true, Duration: time.Hour, ExpiresAt: base.Add(24 * time.Hour), CreatedAt: base, CreatedBy: "ann"}
	t2 := flagonhttp.ShareToken{ID: "tok-2", Flag: "limit", Value: int64(3), Duration: 2 * time.Hour, ExpiresAt: base.Add(48 * time.Hour), CreatedAt: base.Add(time.Minute)}
	mustStore(t, s.CreateShareToken(ctx, t1, changeBy("ann")))
	mustStore(t, s.CreateShareToken(ctx, t2, changeBy("bob")))
	t2.CreatedBy = "bob" // from the change

	got, err := s.ShareToken(ctx, "tok-1")
	mustStore(t, err)
	if !reflect.DeepEqual(got, t1) {
		t.Errorf("ShareToken(tok-1) = %#v, want %#v", got, t1)
	}
	list, err := s.ShareTokens(ctx)
	mustStore(t, err)
	if !reflect.DeepEqual(list, []flagonhttp.ShareToken{t2, t1}) {
		t.Errorf("ShareTokens = %#v, want tok-2 then tok-1 (newest first)", list)
	}
	err = s.CreateShareToken(ctx, flagonhttp.ShareToken{ID: "tok-1", Flag: "other", Value: false}, changeBy("ann"))
	wantStoreErr(t, "duplicate token ID", err, flagon.ErrConflict)
	for _, tt := range []struct {
		name string
		tok  flagonhttp.ShareToken
	}{
		{"no ID", flagonhttp.ShareToken{Flag: "new-home", Value: true}},
		{"bad flag key", flagonhttp.ShareToken{ID: "x", Flag: "Bad Key", Value: true}},
		{"no value", flagonhttp.ShareToken{ID: "x", Flag: "new-home"}},
		{"negative duration", flagonhttp.ShareToken{ID: "x", Flag: "new-home", Value: true, Duration: -time.Second}},
	} {
		wantFieldErrors(t, tt.name, s.CreateShareToken(ctx, tt.tok, changeBy("ann")))
	}

	// A token with no creation time gets the time of the write.
	before := time.Now()
	mustStore(t, s.CreateShareToken(ctx, flagonhttp.ShareToken{ID: "tok-3", Flag: "new-home", Value: false}, changeBy("carol")))
	got, err = s.ShareToken(ctx, "tok-3")
	mustStore(t, err)
	if got.CreatedAt.Before(before.Add(-time.Microsecond)) || got.CreatedAt.Location() != time.UTC || got.CreatedBy != "carol" {
		t.Errorf("tok-3 = %+v, want CreatedAt now (UTC) and CreatedBy carol", got)
	}

	mustStore(t, s.RevokeShareToken(ctx, "tok-1", changeBy("ann")))
	got, err = s.ShareToken(ctx, "tok-1")
	mustStore(t, err)
	if !got.Revoked {
		t.Error("revoked token is not marked revoked")
	}
	rev := storeRevision(t, s)
	mustStore(t, s.RevokeShareToken(ctx, "tok-1", changeBy("ann")))
	if storeRevision(t, s) != rev {
		t.Error("revoking a revoked token wrote something")
	}
	wantStoreErr(t, "revoke of a missing token", s.RevokeShareToken(ctx, "missing", changeBy("ann")), flagon.ErrNotFound)
}
