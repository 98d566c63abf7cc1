package flagontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// storeWait bounds every wait in TestStore for something a store does in
// the background, such as calling a watcher.
const storeWait = 10 * time.Second

// TestStore checks that a flagon.Store keeps the interface's promises:
// versions and conflicts, validation, live flags in Load, the revision,
// Watch and concurrent writers; and, for a store that is also a
// flagon.AuditLog, one audit entry per write, and for one that is an
// io.Closer, Close. Every store implementation runs it:
//
//	func TestStore(t *testing.T) {
//		flagontest.TestStore(t, func(t *testing.T) flagon.Store { return open(t) })
//	}
//
// newStore must return a new, empty store each time; TestStore closes it
// if it is an io.Closer (so Close must tolerate a second call if newStore
// also arranges one). The store's other interfaces have suites of their
// own: TestAuditLog, TestUserOverrideStore and TestShareTokenStore.
func TestStore(t *testing.T, newStore func(t *testing.T) flagon.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s flagon.Store)
	}{
		{"Empty", testStoreEmpty},
		{"FlagVersions", testStoreFlagVersions},
		{"RoundTrip", testStoreRoundTrip},
		{"InvalidFlags", testStoreInvalidFlags},
		{"Audiences", testStoreAudiences},
		{"Revision", testStoreRevision},
		{"AuditEntries", testStoreAuditEntries},
		{"Watch", testStoreWatch},
		{"ConcurrentWriters", testStoreConcurrentWriters},
		{"Close", testStoreClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, openStore(t, newStore)) })
	}
}

// openStore calls newStore and arranges for the store to be closed, if
// it can be, when the test ends.
func openStore[S any](t *testing.T, newStore func(t *testing.T) S) S {
	t.Helper()
	s := newStore(t)
	if c, ok := any(s).(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	return s
}

// changeBy returns a change made by actor.
func changeBy(actor string) flagon.Change {
	return flagon.Change{Actor: actor, Reason: "test " + actor, Environment: "production"}
}

// mustStore fails the test if err is not nil.
func mustStore(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantStoreErr fails the test unless err is (or wraps) target.
func wantStoreErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// wantFieldErrors fails the test unless err is a validation error that
// carries field errors.
func wantFieldErrors(t *testing.T, what string, err error) {
	t.Helper()
	var fes flagon.FieldErrors
	if !errors.Is(err, flagon.ErrInvalid) || !errors.As(err, &fes) || len(fes) == 0 {
		t.Fatalf("%s: got error %v, want field errors (flagon.ErrInvalid)", what, err)
	}
}

// storeRevision returns s's revision, or 0 if s is not a flagon.Store.
func storeRevision(t *testing.T, s any) int64 {
	t.Helper()
	st, ok := s.(flagon.Store)
	if !ok {
		return 0
	}
	rev, err := st.Revision(t.Context())
	mustStore(t, err)
	return rev
}

// storeAuditCount returns the number of s's audit entries, or 0 if s is
// not a flagon.AuditLog.
func storeAuditCount(t *testing.T, s any) int {
	t.Helper()
	log, ok := s.(flagon.AuditLog)
	if !ok {
		return 0
	}
	es, err := log.Audit(t.Context(), flagon.AuditQuery{Limit: 1 << 20})
	mustStore(t, err)
	return len(es)
}

func sameStoredFlag(a, b flagon.Flag) bool { return reflect.DeepEqual(a.Normalize(), b.Normalize()) }

// staffAudience is the audience the tests refer to.
var staffAudience = flagon.Audience{
	Name:    "staff",
	Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
}

func testStoreEmpty(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	defs, rev, err := s.Load(ctx)
	mustStore(t, err)
	if len(defs.Flags) != 0 || len(defs.Audiences) != 0 || rev != 0 {
		t.Errorf("Load of a new store = %+v at revision %d, want nothing at 0", defs, rev)
	}
	if got := storeRevision(t, s); got != 0 {
		t.Errorf("Revision = %d, want 0", got)
	}
	flags, err := s.Flags(ctx)
	mustStore(t, err)
	auds, err := s.Audiences(ctx)
	mustStore(t, err)
	if len(flags)+len(auds) != 0 {
		t.Errorf("new store has %d flags, %d audiences; want none", len(flags), len(auds))
	}
	if n := storeAuditCount(t, s); n != 0 {
		t.Errorf("new store has %d audit entries", n)
	}
	_, err = s.Flag(ctx, "missing")
	wantStoreErr(t, "Flag(missing)", err, flagon.ErrNotFound)
}

func testStoreFlagVersions(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	f := flagon.Flag{Key: "new-home", Description: "first"}
	v, err := s.PutFlag(ctx, f, 0, changeBy("ann"))
	mustStore(t, err)
	if v != 1 {
		t.Fatalf("create: version %d, want 1", v)
	}
	got, err := s.Flag(ctx, "new-home")
	mustStore(t, err)
	if got.Version != 1 || got.Archived || got.UpdatedBy != "ann" || !sameStoredFlag(got.Flag, f) {
		t.Errorf("after create, Flag = %+v", got)
	}
	if got.UpdatedAt.IsZero() || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt = %v, want a UTC time", got.UpdatedAt)
	}

	_, err = s.PutFlag(ctx, flagon.Flag{Key: "new-home", Description: "again"}, 0, changeBy("bob"))
	wantStoreErr(t, "create of an existing flag", err, flagon.ErrConflict)

	f.Description = "second"
	v, err = s.PutFlag(ctx, f, 1, changeBy("ann"))
	mustStore(t, err)
	if v != 2 {
		t.Fatalf("replace: version %d, want 2", v)
	}
	// Bob read version 1 too; his write must fail and lose nothing.
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "new-home", Description: "bob's"}, 1, changeBy("bob"))
	wantStoreErr(t, "replace at a stale version", err, flagon.ErrConflict)
	got, err = s.Flag(ctx, "new-home")
	mustStore(t, err)
	if got.Version != 2 || got.Description != "second" || got.UpdatedBy != "ann" {
		t.Errorf("after a conflict, Flag = version %d %q by %q; want version 2 %q by ann", got.Version, got.Description, got.UpdatedBy, "second")
	}
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "never-made"}, 3, changeBy("ann"))
	wantStoreErr(t, "replace of a missing flag", err, flagon.ErrNotFound)

	// Archive: only at the current version; Load leaves it out.
	_, err = s.ArchiveFlag(ctx, "new-home", true, 1, changeBy("ann"))
	wantStoreErr(t, "archive at a stale version", err, flagon.ErrConflict)
	_, err = s.ArchiveFlag(ctx, "missing", true, 1, changeBy("ann"))
	wantStoreErr(t, "archive of a missing flag", err, flagon.ErrNotFound)
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "other"}, 0, changeBy("ann"))
	mustStore(t, err)
	v, err = s.ArchiveFlag(ctx, "new-home", true, 2, changeBy("ann"))
	mustStore(t, err)
	if v != 3 {
		t.Fatalf("archive: version %d, want 3", v)
	}
	defs, _, err := s.Load(ctx)
	mustStore(t, err)
	if len(defs.Flags) != 1 || defs.Flags[0].Key != "other" {
		t.Errorf("Load after archive = %v, want only the live flag", flagKeys(defs.Flags))
	}
	all, err := s.Flags(ctx)
	mustStore(t, err)
	if len(all) != 2 || all[0].Key != "new-home" || !all[0].Archived || all[1].Key != "other" || all[1].Archived {
		t.Errorf("Flags after archive = %+v, want new-home (archived) and other, by key", all)
	}
	// Archiving an archived flag changes nothing.
	rev := storeRevision(t, s)
	v, err = s.ArchiveFlag(ctx, "new-home", true, 3, changeBy("ann"))
	mustStore(t, err)
	if v != 3 || storeRevision(t, s) != rev {
		t.Errorf("archiving an archived flag gave version %d and moved the revision", v)
	}
	// A creation over an archived flag conflicts; replacing it keeps it
	// archived.
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "new-home"}, 0, changeBy("ann"))
	wantStoreErr(t, "create over an archived flag", err, flagon.ErrConflict)
	f.Description = "third"
	v, err = s.PutFlag(ctx, f, 3, changeBy("ann"))
	mustStore(t, err)
	got, err = s.Flag(ctx, "new-home")
	mustStore(t, err)
	if v != 4 || !got.Archived || got.Description != "third" {
		t.Errorf("replace of an archived flag: version %d, %+v; want version 4, still archived", v, got)
	}
	v, err = s.ArchiveFlag(ctx, "new-home", false, 4, changeBy("ann"))
	mustStore(t, err)
	defs, _, err = s.Load(ctx)
	mustStore(t, err)
	if v != 5 || len(defs.Flags) != 2 {
		t.Errorf("restore: version %d, Load has %v; want 5 and both flags", v, flagKeys(defs.Flags))
	}
}

func flagKeys(fs []flagon.Flag) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
	}
	return out
}

func storePtr[T any](v T) *T { return &v }

// roundTripFlags covers every field of the core types, each value in the
// type encoding/json gives back (clause numbers as float64).
func roundTripFlags() []flagon.Flag {
	return []flagon.Flag{
		{Key: "plain"},
		{
			Key:         "checkout",
			Description: "The new checkout",
			Owner:       "team-payments",
			Tags:        []string{"payments", "q3"},
			Expires:     time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
			Type:        flagon.TypeString,
			Variants:    []flagon.Variant{{Name: "old", Value: "v1"}, {Name: "new", Value: "v2"}, {Name: "NewBeta", Value: ""}},
			Default:     "old",
			Rules: []flagon.Rule{
				{ID: "staff", Description: "staff first", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "new"}},
				{
					Clauses: []flagon.Clause{
						{Attribute: "country", Op: flagon.OpIn, Values: []any{"NL", "BE"}},
						{Attribute: "age", Op: flagon.OpGTE, Values: []any{float64(18)}},
						{Attribute: "beta", Op: flagon.OpEquals, Values: []any{true}},
						{Attribute: "email", Op: flagon.OpExists},
					},
					Serve: flagon.Serve{Split: []flagon.Split{{Variant: "old", Percent: 33.333}, {Variant: "new", Percent: 66.667}}, By: "account"},
				},
			},
			Fallthrough: flagon.Serve{Variant: "old"},
			Salt:        "checkout-2024",
			Override:    flagon.OverridePolicy{Who: flagon.WhoStaff, Audience: "staff", Variants: []string{"old", "new"}, MaxDuration: 72 * time.Hour},
			Metadata:    map[string]string{"jira": "PAY-1"},
			Environments: map[string]flagon.EnvSettings{
				"production": {
					Default:     storePtr("new"),
					Disabled:    storePtr(true),
					Rules:       &[]flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "NewBeta"}}},
					Fallthrough: &flagon.Serve{Variant: "new"},
				},
				"staging": {Disabled: storePtr(false)},
			},
		},
		{
			Key:      "limits",
			Type:     flagon.TypeInt,
			Variants: []flagon.Variant{{Name: "small", Value: int64(10)}, {Name: "huge", Value: int64(1<<60 + 1)}, {Name: "negative", Value: int64(-3)}},
			Override: flagon.OverridePolicy{Who: flagon.WhoNone},
		},
		{
			Key:      "ratio",
			Type:     flagon.TypeFloat,
			Variants: []flagon.Variant{{Name: "low", Value: 0.1}, {Name: "high", Value: 2.5e10}},
			Default:  "high",
			Disabled: true,
		},
		{
			Key:  "theme",
			Type: flagon.TypeObject,
			Variants: []flagon.Variant{
				{Name: "light", Value: map[string]any{"color": "white", "size": float64(3), "nested": map[string]any{"ok": true, "list": []any{"a", float64(1)}}}},
				{Name: "dark", Value: map[string]any{}},
			},
			Override: flagon.OverridePolicy{Who: flagon.WhoAnyone},
		},
	}
}

func testStoreRoundTrip(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	_, err := s.PutAudience(ctx, staffAudience, 0, changeBy("ann"))
	mustStore(t, err)
	want := roundTripFlags()
	for _, f := range want {
		_, err := s.PutFlag(ctx, f, 0, changeBy("ann"))
		mustStore(t, err)
	}
	for _, f := range want {
		got, err := s.Flag(ctx, f.Key)
		mustStore(t, err)
		if !sameStoredFlag(got.Flag, f) {
			t.Errorf("Flag(%q) round trip:\n got %#v\nwant %#v", f.Key, got.Flag.Normalize(), f.Normalize())
		}
	}
	defs, _, err := s.Load(ctx)
	mustStore(t, err)
	if len(defs.Flags) != len(want) {
		t.Fatalf("Load has %d flags, want %d", len(defs.Flags), len(want))
	}
	byKey := make(map[string]flagon.Flag)
	for _, f := range defs.Flags {
		byKey[f.Key] = f
	}
	for _, f := range want {
		if !sameStoredFlag(byKey[f.Key], f) {
			t.Errorf("Load round trip of %q:\n got %#v\nwant %#v", f.Key, byKey[f.Key].Normalize(), f.Normalize())
		}
	}
	if len(defs.Audiences) != 1 || !reflect.DeepEqual(defs.Audiences[0], staffAudience) {
		t.Errorf("Load audiences = %#v, want %#v", defs.Audiences, staffAudience)
	}
	if _, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{Environment: "production"}); err != nil {
		t.Errorf("Load gave definitions that do not compile: %v", err)
	}
	// The values of int flags come back as int64, exactly.
	got, err := s.Flag(ctx, "limits")
	mustStore(t, err)
	if v := got.Variants[1].Value; v != int64(1<<60+1) {
		t.Errorf("int variant came back as %#v (%T), want int64 %d", v, v, int64(1<<60+1))
	}
}

func testStoreInvalidFlags(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	_, err := s.PutAudience(ctx, staffAudience, 0, changeBy("ann"))
	mustStore(t, err)
	rev, entries := storeRevision(t, s), storeAuditCount(t, s)
	invalid := []flagon.Flag{
		{Key: "Bad Key"},
		{Key: "bad-type", Type: "color"},
		{Key: "bad-default", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "a", Value: "a"}}, Default: "b"},
		{Key: "bad-value", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "a", Value: "ten"}}},
		{Key: "bad-split", Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 50}, {Variant: "off", Percent: 40}}}},
		{Key: "unknown-audience", Rules: []flagon.Rule{{Audiences: []string{"ghosts"}, Serve: flagon.Serve{Variant: "on"}}}},
		{Key: "unknown-policy-audience", Override: flagon.OverridePolicy{Audience: "ghosts"}},
		{Key: "unknown-env-audience", Environments: map[string]flagon.EnvSettings{
			"production": {Rules: &[]flagon.Rule{{Audiences: []string{"ghosts"}, Serve: flagon.Serve{Variant: "on"}}}},
		}},
		{Key: "bad-clause", Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "age", Op: "about"}}, Serve: flagon.Serve{Variant: "on"}}}},
	}
	for _, f := range invalid {
		_, err := s.PutFlag(ctx, f, 0, changeBy("ann"))
		wantFieldErrors(t, fmt.Sprintf("PutFlag(%q)", f.Key), err)
	}
	// An invalid replacement leaves the flag as it was.
	good := flagon.Flag{Key: "good", Description: "kept"}
	_, err = s.PutFlag(ctx, good, 0, changeBy("ann"))
	mustStore(t, err)
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "good", Default: "maybe"}, 1, changeBy("ann"))
	wantFieldErrors(t, "invalid replacement", err)
	got, err := s.Flag(ctx, "good")
	mustStore(t, err)
	if got.Version != 1 || !sameStoredFlag(got.Flag, good) {
		t.Errorf("after an invalid replacement, Flag = %+v, want version 1 unchanged", got)
	}
	if got, want := storeRevision(t, s), rev+1; got != want {
		t.Errorf("revision after invalid writes = %d, want %d (only the valid write counts)", got, want)
	}
	if got, want := storeAuditCount(t, s), entries+1; got != want {
		t.Errorf("audit entries after invalid writes = %d, want %d", got, want)
	}
	flags, err := s.Flags(ctx)
	mustStore(t, err)
	if len(flags) != 1 {
		t.Errorf("store holds %d flags after invalid writes, want 1", len(flags))
	}
}

func testStoreAudiences(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	v, err := s.PutAudience(ctx, staffAudience, 0, changeBy("ann"))
	mustStore(t, err)
	if v != 1 {
		t.Fatalf("create audience: version %d, want 1", v)
	}
	_, err = s.PutAudience(ctx, staffAudience, 0, changeBy("ann"))
	wantStoreErr(t, "create of an existing audience", err, flagon.ErrConflict)
	wider := staffAudience
	wider.Description = "staff and contractors"
	wider.Clauses = []flagon.Clause{{Attribute: "role", Op: flagon.OpIn, Values: []any{"staff", "contractor"}}}
	v, err = s.PutAudience(ctx, wider, 1, changeBy("ann"))
	mustStore(t, err)
	if v != 2 {
		t.Fatalf("replace audience: version %d, want 2", v)
	}
	_, err = s.PutAudience(ctx, staffAudience, 1, changeBy("bob"))
	wantStoreErr(t, "replace audience at a stale version", err, flagon.ErrConflict)
	_, err = s.PutAudience(ctx, flagon.Audience{Name: "never", Clauses: staffAudience.Clauses}, 4, changeBy("ann"))
	wantStoreErr(t, "replace of a missing audience", err, flagon.ErrNotFound)
	_, err = s.PutAudience(ctx, flagon.Audience{Name: "empty"}, 0, changeBy("ann"))
	wantFieldErrors(t, "audience without clauses", err)
	_, err = s.PutAudience(ctx, flagon.Audience{Name: "Bad Name", Clauses: staffAudience.Clauses}, 0, changeBy("ann"))
	wantFieldErrors(t, "audience with a bad name", err)
	_, err = s.PutAudience(ctx, flagon.Audience{Name: "beta", Clauses: []flagon.Clause{{Attribute: "beta", Op: flagon.OpEquals, Values: []any{true}}}}, 0, changeBy("ann"))
	mustStore(t, err)

	auds, err := s.Audiences(ctx)
	mustStore(t, err)
	if len(auds) != 2 || auds[0].Name != "beta" || auds[1].Name != "staff" || auds[1].Version != 2 || !reflect.DeepEqual(auds[1].Audience, wider) {
		t.Errorf("Audiences = %+v, want beta then staff (version 2, as replaced)", auds)
	}
	if auds[0].UpdatedAt.IsZero() || auds[0].UpdatedAt.Location() != time.UTC {
		t.Errorf("audience UpdatedAt = %v, want a UTC time", auds[0].UpdatedAt)
	}

	// A live flag that uses the audience keeps it from being deleted.
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "staff-only", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}}, 0, changeBy("ann"))
	mustStore(t, err)
	err = s.DeleteAudience(ctx, "staff", 1, changeBy("ann"))
	wantStoreErr(t, "delete at a stale version", err, flagon.ErrConflict)
	err = s.DeleteAudience(ctx, "staff", 2, changeBy("ann"))
	wantFieldErrors(t, "delete of an audience in use", err)
	if _, err := s.Flag(ctx, "staff-only"); err != nil {
		t.Fatal(err)
	}
	auds, err = s.Audiences(ctx)
	mustStore(t, err)
	if len(auds) != 2 {
		t.Fatalf("refused delete removed an audience: %+v", auds)
	}
	err = s.DeleteAudience(ctx, "missing", 1, changeBy("ann"))
	wantStoreErr(t, "delete of a missing audience", err, flagon.ErrNotFound)

	// Once the flag is archived, the audience may go; the flag then
	// cannot be restored.
	_, err = s.ArchiveFlag(ctx, "staff-only", true, 1, changeBy("ann"))
	mustStore(t, err)
	mustStore(t, s.DeleteAudience(ctx, "staff", 2, changeBy("ann")))
	auds, err = s.Audiences(ctx)
	mustStore(t, err)
	if len(auds) != 1 || auds[0].Name != "beta" {
		t.Errorf("Audiences after delete = %+v, want only beta", auds)
	}
	_, err = s.ArchiveFlag(ctx, "staff-only", false, 2, changeBy("ann"))
	wantFieldErrors(t, "restore of a flag whose audience is gone", err)
	f, err := s.Flag(ctx, "staff-only")
	mustStore(t, err)
	if !f.Archived || f.Version != 2 {
		t.Errorf("refused restore changed the flag: %+v", f)
	}
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "uses-deleted", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}}, 0, changeBy("ann"))
	wantFieldErrors(t, "flag that uses a deleted audience", err)
}

func testStoreRevision(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	last := storeRevision(t, s)
	step := func(what string, moves bool, err error) {
		t.Helper()
		rev := storeRevision(t, s)
		_, loadRev, lerr := s.Load(ctx)
		mustStore(t, lerr)
		if loadRev != rev {
			t.Errorf("after %s: Load revision %d, Revision %d", what, loadRev, rev)
		}
		switch {
		case moves && err != nil:
			t.Fatalf("%s: %v", what, err)
		case moves && rev <= last:
			t.Errorf("after %s: revision %d, want more than %d", what, rev, last)
		case !moves && rev != last:
			t.Errorf("after %s (which writes nothing): revision %d, want %d", what, rev, last)
		}
		last = rev
	}
	_, err := s.PutAudience(ctx, staffAudience, 0, changeBy("ann"))
	step("PutAudience", true, err)
	_, err = s.PutAudience(ctx, staffAudience, 1, changeBy("ann"))
	step("PutAudience (replace)", true, err)
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "a"}, 0, changeBy("ann"))
	step("PutFlag", true, err)
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "a"}, 1, changeBy("ann"))
	step("PutFlag (replace)", true, err)
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "a"}, 1, changeBy("ann"))
	wantStoreErr(t, "PutFlag at a stale version", err, flagon.ErrConflict)
	step("PutFlag (conflict)", false, nil)
	_, err = s.ArchiveFlag(ctx, "a", true, 2, changeBy("ann"))
	step("ArchiveFlag", true, err)
	_, err = s.ArchiveFlag(ctx, "a", true, 3, changeBy("ann"))
	step("ArchiveFlag (already archived)", false, err)
	_, err = s.ArchiveFlag(ctx, "a", false, 3, changeBy("ann"))
	step("ArchiveFlag (restore)", true, err)
	err = s.DeleteAudience(ctx, "staff", 2, changeBy("ann"))
	step("DeleteAudience", true, err)
}

func testStoreAuditEntries(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	log, ok := s.(flagon.AuditLog)
	if !ok {
		t.Skip("not a flagon.AuditLog")
	}
	type step struct {
		name           string
		do             func() error
		action, target string
		before, after  bool
	}
	steps := []step{
		{"create audience", func() error { _, err := s.PutAudience(ctx, staffAudience, 0, changeBy("ann")); return err }, "audience.create", "staff", false, true},
		{"update audience", func() error { _, err := s.PutAudience(ctx, staffAudience, 1, changeBy("bob")); return err }, "audience.update", "staff", true, true},
		{"create flag", func() error {
			_, err := s.PutFlag(ctx, flagon.Flag{Key: "a", Description: "one"}, 0, changeBy("ann"))
			return err
		}, "flag.create", "a", false, true},
		{"update flag", func() error {
			_, err := s.PutFlag(ctx, flagon.Flag{Key: "a", Description: "two"}, 1, changeBy("bob"))
			return err
		}, "flag.update", "a", true, true},
		{"archive flag", func() error { _, err := s.ArchiveFlag(ctx, "a", true, 2, changeBy("ann")); return err }, "flag.archive", "a", true, true},
		{"restore flag", func() error { _, err := s.ArchiveFlag(ctx, "a", false, 3, changeBy("ann")); return err }, "flag.restore", "a", true, true},
		{"delete audience", func() error { return s.DeleteAudience(ctx, "staff", 2, changeBy("ann")) }, "audience.delete", "staff", true, false},
	}
	for i, st := range steps {
		start := time.Now()
		mustStore(t, st.do())
		end := time.Now()
		es, err := log.Audit(ctx, flagon.AuditQuery{Limit: 1000})
		mustStore(t, err)
		if len(es) != i+1 {
			t.Fatalf("after %s: %d audit entries, want %d", st.name, len(es), i+1)
		}
		e := es[0]
		c := changeBy(e.Actor)
		if e.Action != st.action || e.Target != st.target || e.Reason != c.Reason || e.Environment != "production" {
			t.Errorf("after %s: entry %+v, want action %s, target %s, reason and environment of the change", st.name, e, st.action, st.target)
		}
		if e.Revision != storeRevision(t, s) {
			t.Errorf("after %s: entry revision %d, store revision %d", st.name, e.Revision, storeRevision(t, s))
		}
		if e.Time.Location() != time.UTC || e.Time.Before(start.Add(-time.Microsecond)) || e.Time.After(end.Add(time.Microsecond)) {
			t.Errorf("after %s: entry time %v, want a UTC time within the write (%v to %v)", st.name, e.Time, start.UTC(), end.UTC())
		}
		if (len(e.Before) > 0) != st.before || (len(e.After) > 0) != st.after {
			t.Errorf("after %s: before %s, after %s; want before %v, after %v", st.name, e.Before, e.After, st.before, st.after)
		}
		for _, raw := range []json.RawMessage{e.Before, e.After} {
			if len(raw) > 0 && !json.Valid(raw) {
				t.Errorf("after %s: invalid JSON %s", st.name, raw)
			}
		}
		if i > 0 && es[1].ID >= e.ID {
			t.Errorf("after %s: entries not newest first (IDs %d, %d)", st.name, e.ID, es[1].ID)
		}
	}
	// The JSON holds the records: the flag update goes from version 1
	// ("one") to version 2 ("two").
	es, err := log.Audit(ctx, flagon.AuditQuery{Target: "a", Limit: 1000})
	mustStore(t, err)
	var update *flagon.AuditEntry
	for i := range es {
		if es[i].Action == "flag.update" {
			update = &es[i]
		}
	}
	if update == nil {
		t.Fatal("no flag.update entry")
	}
	var before, after flagon.StoredFlag
	mustStore(t, json.Unmarshal(update.Before, &before))
	mustStore(t, json.Unmarshal(update.After, &after))
	if before.Version != 1 || before.Description != "one" || after.Version != 2 || after.Description != "two" || after.UpdatedBy != "bob" {
		t.Errorf("flag.update entry: before %+v, after %+v", before, after)
	}
	// Failed writes leave no entry.
	n := storeAuditCount(t, s)
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "a"}, 1, changeBy("ann"))
	wantStoreErr(t, "stale write", err, flagon.ErrConflict)
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "Bad"}, 0, changeBy("ann"))
	wantFieldErrors(t, "invalid write", err)
	if got := storeAuditCount(t, s); got != n {
		t.Errorf("failed writes added %d audit entries", got-n)
	}
}

func testStoreWatch(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	type seen struct {
		mu  sync.Mutex
		rev int64
		ch  chan struct{}
	}
	watch := func(ctx context.Context) *seen {
		w := &seen{ch: make(chan struct{}, 1)}
		mustStore(t, s.Watch(ctx, func(rev int64) {
			w.mu.Lock()
			w.rev = max(w.rev, rev)
			w.mu.Unlock()
			select {
			case w.ch <- struct{}{}:
			default:
			}
		}))
		return w
	}
	waitFor := func(w *seen, rev int64) {
		t.Helper()
		timeout := time.After(storeWait)
		for {
			w.mu.Lock()
			got := w.rev
			w.mu.Unlock()
			if got >= rev {
				return
			}
			select {
			case <-w.ch:
			case <-timeout:
				t.Fatalf("watcher saw revision %d within %v, want %d", got, storeWait, rev)
			}
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	w1 := watch(wctx)
	w2 := watch(ctx)
	_, err := s.PutFlag(ctx, flagon.Flag{Key: "a"}, 0, changeBy("ann"))
	mustStore(t, err)
	rev := storeRevision(t, s)
	waitFor(w1, rev)
	waitFor(w2, rev)
	// Every kind of write is told.
	_, err = s.PutAudience(ctx, staffAudience, 0, changeBy("ann"))
	mustStore(t, err)
	waitFor(w2, storeRevision(t, s))
	// A burst of writes ends with the last revision told.
	for i := 1; i <= 20; i++ {
		_, err := s.PutFlag(ctx, flagon.Flag{Key: "a"}, int64(i), changeBy("ann"))
		mustStore(t, err)
	}
	waitFor(w1, storeRevision(t, s))
	waitFor(w2, storeRevision(t, s))
	// A watcher whose context is done is left alone; the others go on.
	cancel()
	_, err = s.PutFlag(ctx, flagon.Flag{Key: "b"}, 0, changeBy("ann"))
	mustStore(t, err)
	waitFor(w2, storeRevision(t, s))
}

func testStoreConcurrentWriters(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	const writers, rounds = 8, 3
	_, err := s.PutFlag(ctx, flagon.Flag{Key: "contended"}, 0, changeBy("setup"))
	mustStore(t, err)
	for round := int64(1); round <= rounds; round++ {
		start := make(chan struct{})
		errs := make([]error, writers)
		versions := make([]int64, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f := flagon.Flag{Key: "contended", Description: fmt.Sprintf("writer %d", i)}
				versions[i], errs[i] = s.PutFlag(ctx, f, round, changeBy(fmt.Sprintf("writer-%d", i)))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both won", round, winner, i)
			case err == nil:
				winner = i
				if versions[i] != round+1 {
					t.Errorf("round %d: winner got version %d, want %d", round, versions[i], round+1)
				}
			case !errors.Is(err, flagon.ErrConflict):
				t.Errorf("round %d: writer %d: %v, want a conflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won", round)
		}
		got, err := s.Flag(ctx, "contended")
		mustStore(t, err)
		if want := fmt.Sprintf("writer %d", winner); got.Description != want || got.Version != round+1 {
			t.Errorf("round %d: stored %q at version %d, want the winner's %q at %d", round, got.Description, got.Version, want, round+1)
		}
	}
	log, isLog := s.(flagon.AuditLog)
	if isLog {
		es, err := log.Audit(ctx, flagon.AuditQuery{Target: "contended", Limit: 1000})
		mustStore(t, err)
		if len(es) != rounds+1 {
			t.Errorf("%d audit entries for the contended flag, want %d (one per win)", len(es), rounds+1)
		}
	}

	// Writers of different records all succeed, each with its revision.
	rev := storeRevision(t, s)
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.PutFlag(ctx, flagon.Flag{Key: fmt.Sprintf("flag-%d", i)}, 0, changeBy("ann"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if got := storeRevision(t, s); got != rev+writers {
		t.Errorf("revision after %d concurrent writes = %d, want %d", writers, got, rev+writers)
	}
	if !isLog {
		return
	}
	seen := make(map[int64]bool)
	es, err := log.Audit(ctx, flagon.AuditQuery{Since: time.Time{}, Limit: writers})
	mustStore(t, err)
	for _, e := range es {
		if seen[e.Revision] || e.Revision <= rev {
			t.Errorf("audit entry %+v: revision repeated or too old", e)
		}
		seen[e.Revision] = true
	}
}

func testStoreClose(t *testing.T, s flagon.Store) {
	ctx := t.Context()
	c, ok := s.(io.Closer)
	if !ok {
		t.Skip("not an io.Closer")
	}
	_, err := s.PutFlag(ctx, flagon.Flag{Key: "a"}, 0, changeBy("ann"))
	mustStore(t, err)
	mustStore(t, c.Close())
	if _, err := s.Revision(ctx); err == nil {
		t.Error("Revision after Close succeeded")
	}
	if _, err := s.PutFlag(ctx, flagon.Flag{Key: "b"}, 0, changeBy("ann")); err == nil {
		t.Error("PutFlag after Close succeeded")
	}
	if err := s.Watch(ctx, func(int64) {}); err == nil {
		t.Error("Watch after Close succeeded")
	}
}

// A recordWrite is one write of a record kept beside the flags (an
// override, a share token), with what it must leave in the audit log.
type recordWrite struct {
	name           string
	do             func() error
	action, target string // the audit entry's
	before, after  bool   // whether the entry has them
	writes         bool   // false: the write changes nothing
}

// checkWrites runs the writes in order and checks that each that writes
// moves the revision and is told to a watcher, if s is a flagon.Store,
// and appends its audit entry, if s is a flagon.AuditLog; and that the
// others do neither.
func checkWrites(t *testing.T, s any, writes []recordWrite) {
	t.Helper()
	ctx := t.Context()
	st, isStore := s.(flagon.Store)
	log, isLog := s.(flagon.AuditLog)
	told := make(chan int64, 100)
	if isStore {
		mustStore(t, st.Watch(ctx, func(rev int64) { told <- rev }))
	}
	for _, w := range writes {
		rev, n := storeRevision(t, s), storeAuditCount(t, s)
		mustStore(t, w.do())
		newRev, newN := storeRevision(t, s), storeAuditCount(t, s)
		if !w.writes {
			if newRev != rev || newN != n {
				t.Errorf("%s (which changes nothing): revision %d → %d, audit entries %d → %d", w.name, rev, newRev, n, newN)
			}
			continue
		}
		if isStore {
			if newRev <= rev {
				t.Errorf("%s: revision %d → %d, want it to grow", w.name, rev, newRev)
			}
			timeout := time.After(storeWait)
		wait:
			for {
				select {
				case r := <-told:
					if r >= newRev {
						break wait
					}
				case <-timeout:
					t.Fatalf("%s: watcher not told of revision %d within %v", w.name, newRev, storeWait)
				}
			}
		}
		if !isLog {
			continue
		}
		if newN != n+1 {
			t.Fatalf("%s: %d audit entries, want %d", w.name, newN, n+1)
		}
		es, err := log.Audit(ctx, flagon.AuditQuery{Limit: 1})
		mustStore(t, err)
		e := es[0]
		if e.Action != w.action || e.Target != w.target || e.Actor != "ann" || e.Environment != "production" {
			t.Errorf("%s: entry %+v, want action %s, target %s by ann in production", w.name, e, w.action, w.target)
		}
		if (len(e.Before) > 0) != w.before || (len(e.After) > 0) != w.after {
			t.Errorf("%s: before %s, after %s; want before %v, after %v", w.name, e.Before, e.After, w.before, w.after)
		}
		if isStore && e.Revision != newRev {
			t.Errorf("%s: entry revision %d, store revision %d", w.name, e.Revision, newRev)
		}
	}
}
