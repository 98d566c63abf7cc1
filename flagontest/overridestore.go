package flagontest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// TestUserOverrideStore checks that a flagonhttp.UserOverrideStore keeps
// the interface's promises: values come back in their canonical types,
// exactly; expired overrides are left out; defaults are filled; deleting
// a missing override writes nothing; invalid overrides are refused with
// field errors. For a store that is also a flagon.Store it checks that
// each write moves the revision and is told to watchers, and for a
// flagon.AuditLog that each write appends its entry. newStore must return
// a new, empty store each time.
func TestUserOverrideStore(t *testing.T, newStore func(t *testing.T) flagonhttp.UserOverrideStore) {
	t.Run("Overrides", func(t *testing.T) { testUserOverrides(t, openStore(t, newStore)) })
	t.Run("Writes", func(t *testing.T) {
		s := openStore(t, newStore)
		ctx := t.Context()
		o := flagonhttp.UserOverride{User: "carol", Flag: "a", Override: flagon.Override{Value: true}}
		checkWrites(t, s, []recordWrite{
			{"set override", func() error { return s.SetUserOverride(ctx, o, changeBy("ann")) }, "override.set", "carol", false, true, true},
			{"replace override", func() error {
				o.Value = false
				return s.SetUserOverride(ctx, o, changeBy("ann"))
			}, "override.set", "carol", true, true, true},
			{"delete override", func() error { return s.DeleteUserOverride(ctx, "carol", "a", changeBy("ann")) }, "override.delete", "carol", true, false, true},
			{"delete missing override", func() error { return s.DeleteUserOverride(ctx, "carol", "a", changeBy("ann")) }, "", "", false, false, false},
		})
	})
}

func testUserOverrides(t *testing.T, s flagonhttp.UserOverrideStore) {
	ctx := t.Context()
	m, err := s.UserOverrides(ctx, "ann")
	mustStore(t, err)
	if len(m) != 0 {
		t.Errorf("UserOverrides of a new store = %v", m)
	}
	now := time.Now().UTC()
	later := time.Date(now.Year()+1, 1, 2, 3, 4, 5, 123456000, time.UTC)
	set := []flagonhttp.UserOverride{
		{User: "ann", Flag: "new-home", Override: flagon.Override{Value: true}},
		{User: "ann", Flag: "color", Override: flagon.Override{Value: "red", Source: "admin", ExpiresAt: later}},
		{User: "ann", Flag: "limit", Override: flagon.Override{Value: int64(1<<60 + 1)}},
		{User: "ann", Flag: "ratio", Override: flagon.Override{Value: 0.25}},
		{User: "ann", Flag: "theme", Override: flagon.Override{Value: map[string]any{"dark": true, "size": float64(2)}}},
		{User: "bob", Flag: "new-home", Override: flagon.Override{Value: false, ExpiresAt: now.Add(-time.Minute)}},
		{User: "bob", Flag: "limit", Override: flagon.Override{Value: 7}}, // a Go int becomes int64
	}
	for _, uo := range set {
		mustStore(t, s.SetUserOverride(ctx, uo, changeBy("admin")))
	}
	m, err = s.UserOverrides(ctx, "ann")
	mustStore(t, err)
	if len(m) != 5 {
		t.Fatalf("UserOverrides(ann) = %d overrides, want 5: %v", len(m), m)
	}
	for _, uo := range set[:5] {
		got := m[uo.Flag]
		if !reflect.DeepEqual(got.Value, uo.Value) {
			t.Errorf("override of %s: value %#v (%T), want %#v (%T)", uo.Flag, got.Value, got.Value, uo.Value, uo.Value)
		}
		wantSource := uo.Source
		if wantSource == "" {
			wantSource = "user"
		}
		if got.Source != wantSource {
			t.Errorf("override of %s: source %q, want %q", uo.Flag, got.Source, wantSource)
		}
		if got.SetAt.IsZero() || got.SetAt.Location() != time.UTC {
			t.Errorf("override of %s: SetAt %v, want the time of the write, in UTC", uo.Flag, got.SetAt)
		}
		if !got.ExpiresAt.Equal(uo.ExpiresAt) {
			t.Errorf("override of %s: ExpiresAt %v, want %v", uo.Flag, got.ExpiresAt, uo.ExpiresAt)
		}
	}
	// Bob's expired override is left out; his int one is an int64.
	m, err = s.UserOverrides(ctx, "bob")
	mustStore(t, err)
	if len(m) != 1 || m["limit"].Value != int64(7) {
		t.Errorf("UserOverrides(bob) = %v, want only limit = int64 7", m)
	}
	all, err := s.AllUserOverrides(ctx)
	mustStore(t, err)
	var got []string
	for _, uo := range all {
		got = append(got, uo.User+"/"+uo.Flag)
	}
	want := []string{"ann/color", "ann/limit", "ann/new-home", "ann/ratio", "ann/theme", "bob/limit"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AllUserOverrides = %v, want %v", got, want)
	}

	// Replace, then delete; deleting again is no error and writes nothing.
	mustStore(t, s.SetUserOverride(ctx, flagonhttp.UserOverride{User: "ann", Flag: "color", Override: flagon.Override{Value: "blue"}}, changeBy("admin")))
	m, err = s.UserOverrides(ctx, "ann")
	mustStore(t, err)
	if o := m["color"]; o.Value != "blue" || !o.ExpiresAt.IsZero() || o.Source != "user" {
		t.Errorf("replaced override = %+v, want blue, no expiry, source user", o)
	}
	mustStore(t, s.DeleteUserOverride(ctx, "ann", "color", changeBy("admin")))
	m, err = s.UserOverrides(ctx, "ann")
	mustStore(t, err)
	if _, ok := m["color"]; ok || len(m) != 4 {
		t.Errorf("after delete, UserOverrides(ann) = %v", m)
	}
	rev, n := storeRevision(t, s), storeAuditCount(t, s)
	mustStore(t, s.DeleteUserOverride(ctx, "ann", "color", changeBy("admin")))
	mustStore(t, s.DeleteUserOverride(ctx, "nobody", "nothing", changeBy("admin")))
	if storeRevision(t, s) != rev || storeAuditCount(t, s) != n {
		t.Error("deleting a missing override wrote something")
	}

	for _, tt := range []struct {
		name, user, flag string
		value            any
	}{
		{"no user", "", "new-home", true},
		{"bad flag key", "ann", "Bad Key", true},
		{"no value", "ann", "new-home", nil},
		{"unsupported value", "ann", "new-home", struct{}{}},
		{"user too long", strings.Repeat("u", flagonhttp.MaxUserLen+1), "new-home", true},
	} {
		err := s.SetUserOverride(ctx, flagonhttp.UserOverride{User: tt.user, Flag: tt.flag, Override: flagon.Override{Value: tt.value}}, changeBy("admin"))
		wantFieldErrors(t, tt.name, err)
	}
	if storeRevision(t, s) != rev {
		t.Error("invalid overrides moved the revision")
	}
}
