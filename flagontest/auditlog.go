package flagontest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// TestAuditLog checks that a flagon.AuditLog keeps the interface's
// promises: AppendAudit validates, fills the ID, time and revision and
// keeps everything else as given; Audit filters by target, actor and time
// (Since inclusive, Until exclusive), newest first, at most
// flagon.DefaultAuditLimit by default; PruneAudit deletes by age only.
// A log that is also a flagon.Store is checked to interleave with the
// store's writes. newLog must return a new, empty log each time.
func TestAuditLog(t *testing.T, newLog func(t *testing.T) flagon.AuditLog) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s flagon.AuditLog)
	}{
		{"Append", testAuditAppend},
		{"Filters", testAuditFilters},
		{"Prune", testAuditPrune},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, openStore(t, newLog)) })
	}
}

func testAuditAppend(t *testing.T, s flagon.AuditLog) {
	ctx := t.Context()
	// A store's write comes first, where the log is also a store.
	st, isStore := s.(flagon.Store)
	if isStore {
		_, err := st.PutFlag(ctx, flagon.Flag{Key: "a"}, 0, changeBy("setup"))
		mustStore(t, err)
	} else {
		mustStore(t, s.AppendAudit(ctx, flagon.AuditEntry{Actor: "setup", Action: "flag.create", Target: "a"}))
	}
	rev := storeRevision(t, s)
	written, err := s.Audit(ctx, flagon.AuditQuery{})
	mustStore(t, err)
	if len(written) != 1 {
		t.Fatalf("after one write: %d audit entries, want 1", len(written))
	}
	past := time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	appends := []flagon.AuditEntry{
		{Actor: "browser v1", Action: "override.browser.set", Target: "a", Environment: "production", Reason: "via link", After: json.RawMessage(`true`)},
		{Actor: "ann", Action: "override.browser.remove", Target: "a", Before: json.RawMessage(`{"v": [1, 2]}`), Time: past},
		// ID and Revision are the store's to fill.
		{Actor: "ann", Action: "override.browser.set", Target: "b", After: json.RawMessage(`"blue"`), ID: 999, Revision: 999},
	}
	start := time.Now()
	for _, e := range appends {
		mustStore(t, s.AppendAudit(ctx, e))
	}
	end := time.Now()
	if got := storeRevision(t, s); got != rev {
		t.Errorf("AppendAudit changed the revision from %d to %d", rev, got)
	}

	all, err := s.Audit(ctx, flagon.AuditQuery{})
	mustStore(t, err)
	if len(all) != 4 {
		t.Fatalf("Audit = %d entries, want 4", len(all))
	}
	for i, want := range appends {
		got := all[len(appends)-1-i] // newest first
		if got.Actor != want.Actor || got.Action != want.Action || got.Target != want.Target ||
			got.Environment != want.Environment || got.Reason != want.Reason ||
			string(got.Before) != string(want.Before) || string(got.After) != string(want.After) {
			t.Errorf("entry %d: got %+v, want %+v", i, got, want)
		}
		if got.Revision != rev {
			t.Errorf("entry %d: revision %d, want the current %d", i, got.Revision, rev)
		}
		if prev := all[len(appends)-i]; got.ID <= prev.ID {
			t.Errorf("entry %d: ID %d not after the previous entry's %d", i, got.ID, prev.ID)
		}
		if got.Time.Location() != time.UTC {
			t.Errorf("entry %d: time %v, want UTC", i, got.Time)
		}
	}
	if got := all[1].Time; !got.Equal(past.Round(time.Microsecond)) {
		t.Errorf("entry with a time: time %v, want %v", got, past.Round(time.Microsecond))
	}
	for _, e := range []flagon.AuditEntry{all[0], all[2]} {
		if e.Time.Before(start.Add(-time.Microsecond)) || e.Time.After(end.Add(time.Microsecond)) {
			t.Errorf("entry %d with no time: time %v, want the time of the call (%v to %v)", e.ID, e.Time, start.UTC(), end.UTC())
		}
	}

	count := func(q flagon.AuditQuery) int {
		t.Helper()
		es, err := s.Audit(ctx, q)
		mustStore(t, err)
		return len(es)
	}
	for _, tt := range []struct {
		name string
		q    flagon.AuditQuery
		want int
	}{
		{"target a", flagon.AuditQuery{Target: "a"}, 3},
		{"target b", flagon.AuditQuery{Target: "b"}, 1},
		{"actor ann", flagon.AuditQuery{Actor: "ann"}, 2},
		{"actor ann, target a", flagon.AuditQuery{Actor: "ann", Target: "a"}, 1},
		{"actor browser v1", flagon.AuditQuery{Actor: "browser v1"}, 1},
		{"until 2021", flagon.AuditQuery{Until: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, 1},
		{"since the past entry", flagon.AuditQuery{Since: past}, 4},
		{"since just after the past entry", flagon.AuditQuery{Since: past.Add(time.Microsecond)}, 3},
		{"since the past entry, until 2021, actor ann", flagon.AuditQuery{Since: past, Until: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "ann"}, 1},
	} {
		if got := count(tt.q); got != tt.want {
			t.Errorf("%s: %d entries, want %d", tt.name, got, tt.want)
		}
	}

	// Bad entries are refused and append nothing.
	for _, e := range []flagon.AuditEntry{
		{Actor: "ann", Target: "a"},
		{Actor: "ann", Action: "override.browser.set", Target: "a", Before: json.RawMessage(`{`)},
		{Actor: "ann", Action: "override.browser.set", Target: "a", After: json.RawMessage(`nope`)},
		{Actor: strings.Repeat("x", flagon.MaxAuditActorLen+1), Action: "override.browser.set", Target: "a"},
		{Actor: "ann", Action: "override.browser.set", Target: "a", Reason: strings.Repeat("x", flagon.MaxAuditReasonLen+1)},
		{Actor: "ann", Action: "override.browser.set", Target: "a", After: json.RawMessage(`"` + strings.Repeat("x", flagon.MaxAuditValueLen) + `"`)},
	} {
		wantFieldErrors(t, fmt.Sprintf("AppendAudit(%+v)", e), s.AppendAudit(ctx, e))
	}
	if got := storeAuditCount(t, s); got != 4 {
		t.Errorf("refused entries: %d audit entries, want 4", got)
	}

	// The next write takes the next revision, and its entry comes last.
	if !isStore {
		return
	}
	_, err = st.PutFlag(ctx, flagon.Flag{Key: "b"}, 0, changeBy("setup"))
	mustStore(t, err)
	if got := storeRevision(t, s); got != rev+1 {
		t.Errorf("after a write: revision %d, want %d", got, rev+1)
	}
	es, err := s.Audit(ctx, flagon.AuditQuery{Limit: 1})
	mustStore(t, err)
	if len(es) != 1 || es[0].Action != "flag.create" || es[0].Revision != rev+1 || es[0].ID <= all[0].ID {
		t.Errorf("after a write: newest entry %+v, want flag.create at revision %d after ID %d", es, rev+1, all[0].ID)
	}
}

func testAuditFilters(t *testing.T, s flagon.AuditLog) {
	ctx := t.Context()
	// Ann acts on a three times, Bob on b twice, interleaved.
	put := func(key, actor string) {
		t.Helper()
		mustStore(t, s.AppendAudit(ctx, flagon.AuditEntry{Actor: actor, Action: "test.act", Target: key}))
	}
	put("a", "ann")
	put("b", "bob")
	put("a", "ann")
	put("b", "bob")
	put("a", "ann")
	all, err := s.Audit(ctx, flagon.AuditQuery{})
	mustStore(t, err)
	if len(all) != 5 {
		t.Fatalf("Audit = %d entries, want 5", len(all))
	}
	count := func(q flagon.AuditQuery) []flagon.AuditEntry {
		t.Helper()
		es, err := s.Audit(ctx, q)
		mustStore(t, err)
		return es
	}
	for _, tt := range []struct {
		name string
		q    flagon.AuditQuery
		want int
	}{
		{"target a", flagon.AuditQuery{Target: "a"}, 3},
		{"target b", flagon.AuditQuery{Target: "b"}, 2},
		{"actor bob", flagon.AuditQuery{Actor: "bob"}, 2},
		{"actor ann and target b", flagon.AuditQuery{Actor: "ann", Target: "b"}, 0},
		{"unknown target", flagon.AuditQuery{Target: "zzz"}, 0},
		{"limit 2", flagon.AuditQuery{Limit: 2}, 2},
		{"target a, limit 1", flagon.AuditQuery{Target: "a", Limit: 1}, 1},
	} {
		es := count(tt.q)
		if len(es) != tt.want {
			t.Errorf("%s: %d entries, want %d", tt.name, len(es), tt.want)
		}
		for _, e := range es {
			if tt.q.Target != "" && e.Target != tt.q.Target || tt.q.Actor != "" && e.Actor != tt.q.Actor {
				t.Errorf("%s: entry %+v does not match", tt.name, e)
			}
		}
	}
	if es := count(flagon.AuditQuery{Limit: 2}); len(es) == 2 && (es[0].ID != all[0].ID || es[1].ID != all[1].ID) {
		t.Errorf("limit 2 gave entries %d, %d; want the newest, %d and %d", es[0].ID, es[1].ID, all[0].ID, all[1].ID)
	}
	// Since is inclusive, Until exclusive, whatever times the store gave.
	mid := all[2].Time
	var wantSince, wantUntil int
	for _, e := range all {
		if !e.Time.Before(mid) {
			wantSince++
		} else {
			wantUntil++
		}
	}
	if es := count(flagon.AuditQuery{Since: mid}); len(es) != wantSince {
		t.Errorf("since %v: %d entries, want %d", mid, len(es), wantSince)
	}
	if es := count(flagon.AuditQuery{Until: mid}); len(es) != wantUntil {
		t.Errorf("until %v: %d entries, want %d", mid, len(es), wantUntil)
	}
	if es := count(flagon.AuditQuery{Since: all[4].Time, Until: all[0].Time.Add(time.Microsecond)}); len(es) != 5 {
		t.Errorf("since the first until after the last: %d entries, want 5", len(es))
	}
	if es := count(flagon.AuditQuery{Since: all[0].Time.Add(time.Hour)}); len(es) != 0 {
		t.Errorf("since the future: %d entries, want 0", len(es))
	}
	// With no limit, at most 100.
	for i := 0; i < 100; i++ {
		mustStore(t, s.AppendAudit(ctx, flagon.AuditEntry{Actor: "ann", Action: "test.act", Target: "a"}))
	}
	if es := count(flagon.AuditQuery{}); len(es) != 100 {
		t.Errorf("Audit with no limit: %d entries, want 100", len(es))
	}
}

func testAuditPrune(t *testing.T, s flagon.AuditLog) {
	ctx := t.Context()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 7 {
		e := flagon.AuditEntry{Actor: "ann", Action: "test.old", Target: "a", Time: old.Add(time.Duration(i) * time.Hour)}
		mustStore(t, s.AppendAudit(ctx, e))
	}
	for range 3 {
		mustStore(t, s.AppendAudit(ctx, flagon.AuditEntry{Actor: "ann", Action: "test.new", Target: "a"}))
	}
	// Entries strictly before the cut go: the first five hours.
	n, err := s.PruneAudit(ctx, old.Add(5*time.Hour))
	mustStore(t, err)
	if n != 5 {
		t.Errorf("PruneAudit deleted %d entries, want 5", n)
	}
	es, err := s.Audit(ctx, flagon.AuditQuery{Limit: 100})
	mustStore(t, err)
	if len(es) != 5 {
		t.Fatalf("after pruning: %d entries, want 5", len(es))
	}
	for _, e := range es {
		if e.Time.Before(old.Add(5 * time.Hour)) {
			t.Errorf("entry %d at %v survived the prune", e.ID, e.Time)
		}
	}
	// Nothing to prune is no error; a later entry still gets a larger ID.
	n, err = s.PruneAudit(ctx, old)
	mustStore(t, err)
	if n != 0 {
		t.Errorf("second PruneAudit deleted %d entries, want 0", n)
	}
	mustStore(t, s.AppendAudit(ctx, flagon.AuditEntry{Actor: "ann", Action: "test.later", Target: "a"}))
	latest, err := s.Audit(ctx, flagon.AuditQuery{Limit: 1})
	mustStore(t, err)
	if len(latest) != 1 || latest[0].Action != "test.later" || latest[0].ID <= es[0].ID {
		t.Errorf("after pruning, a new entry = %+v, want test.later with an ID above %d", latest, es[0].ID)
	}
}
