package flagontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// copySchedule returns sc with a definition of its own, copied through
// its JSON form as the SQL stores copy it.
func copySchedule(sc flagon.ScheduledChange) flagon.ScheduledChange {
	data, err := json.Marshal(sc.Definition)
	if err != nil {
		panic(err) // validated flags encode
	}
	sc.Definition = flagon.Flag{}
	if err := flagon.UnmarshalFlag(data, &sc.Definition); err != nil {
		panic(err)
	}
	return sc
}

// AddScheduled implements flagon.ScheduleStore.
func (m *MemoryStore) AddScheduled(ctx context.Context, sc flagon.ScheduledChange, c flagon.Change) (int64, error) {
	sc.Author, sc.Environment = c.Actor, c.Environment
	if err := sc.Validate(); err != nil {
		return 0, fmt.Errorf("memory store: schedule change of %q: %w", sc.Flag, err)
	}
	err := m.write(fmt.Sprintf("schedule change of %q", sc.Flag), c, func(rev int64, now time.Time) (memRecord, error) {
		sc = copySchedule(sc)
		sc.ID = int64(len(m.schedules) + 1)
		sc.Status, sc.CreatedAt, sc.At = flagon.SchedulePending, now, storeTime(sc.At)
		sc.DoneAt, sc.DoneBy, sc.Error = time.Time{}, "", ""
		m.schedules = append(m.schedules, sc)
		return memRecord{action: "schedule.add", target: sc.Flag, after: sc}, nil
	})
	return sc.ID, err
}

// Scheduled implements flagon.ScheduleStore.
func (m *MemoryStore) Scheduled(ctx context.Context, q flagon.ScheduleQuery) ([]flagon.ScheduledChange, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("scheduled changes"); err != nil {
		return nil, err
	}
	var out []flagon.ScheduledChange
	for _, sc := range m.sortedSchedules() {
		if (q.Flag == "" || sc.Flag == q.Flag) && (q.Status == "" || sc.Status == q.Status) {
			out = append(out, copySchedule(sc))
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// sortedSchedules returns the changes in order of At, then ID. m.mu is
// held.
func (m *MemoryStore) sortedSchedules() []flagon.ScheduledChange {
	out := slices.Clone(m.schedules)
	slices.SortStableFunc(out, func(a, b flagon.ScheduledChange) int { return a.At.Compare(b.At) })
	return out
}

// CancelScheduled implements flagon.ScheduleStore.
func (m *MemoryStore) CancelScheduled(ctx context.Context, id int64, c flagon.Change) error {
	return m.write(fmt.Sprintf("cancel scheduled change %d", id), c, func(rev int64, now time.Time) (memRecord, error) {
		if id < 1 || id > int64(len(m.schedules)) {
			return memRecord{}, fmt.Errorf("scheduled change %d: %w", id, flagon.ErrNotFound)
		}
		old := m.schedules[id-1]
		if old.Status != flagon.SchedulePending {
			return memRecord{}, fmt.Errorf("%w: scheduled change %d is %s", flagon.ErrConflict, id, old.Status)
		}
		sc := old
		sc.Status, sc.DoneAt, sc.DoneBy = flagon.ScheduleCancelled, now, c.Actor
		m.schedules[id-1] = sc
		return memRecord{action: "schedule.cancel", target: sc.Flag, before: old, after: sc}, nil
	})
}

// ApplyDue implements flagon.ScheduleStore.
func (m *MemoryStore) ApplyDue(ctx context.Context, now time.Time) ([]flagon.ScheduledChange, error) {
	m.mu.Lock()
	if err := m.check("apply scheduled changes"); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	now = storeTime(now)
	var due []flagon.ScheduledChange
	for _, sc := range m.sortedSchedules() {
		if sc.Status == flagon.SchedulePending && !sc.At.After(now) {
			due = append(due, sc)
		}
	}
	m.mu.Unlock()
	var done []flagon.ScheduledChange
	for _, sc := range due {
		c := flagon.Change{Actor: flagon.ScheduleActor, Reason: flagon.ScheduleReason(sc), Environment: sc.Environment}
		applied := false
		err := m.write(fmt.Sprintf("apply scheduled change %d", sc.ID), c, func(rev int64, now time.Time) (memRecord, error) {
			if m.schedules[sc.ID-1].Status != flagon.SchedulePending {
				return memRecord{}, errMemNoChange
			}
			var version int64
			if cur, ok := m.flag(sc.Flag); ok {
				version = cur.Version
			}
			r, _, err := m.putFlag(sc.Definition, version, now, flagon.ScheduleActor)
			if err != nil {
				return memRecord{}, err
			}
			sc.Status, sc.DoneAt, sc.DoneBy = flagon.ScheduleApplied, now, flagon.ScheduleActor
			m.schedules[sc.ID-1] = sc
			applied = true
			return r, nil
		})
		var fe flagon.FieldErrors
		switch {
		case errors.As(err, &fe):
			m.mu.Lock()
			if m.schedules[sc.ID-1].Status == flagon.SchedulePending {
				sc.Status, sc.DoneAt, sc.DoneBy, sc.Error = flagon.ScheduleFailed, storeTime(time.Now()), flagon.ScheduleActor, fe.Error()
				m.schedules[sc.ID-1] = sc
				done = append(done, copySchedule(sc))
			}
			m.mu.Unlock()
		case err != nil:
			return done, err
		case applied:
			done = append(done, copySchedule(sc))
		}
	}
	return done, nil
}

// TestScheduleStore checks that a flagon.ScheduleStore keeps the
// interface's promises: changes come back as added, pending and in order
// of time; invalid ones are refused with field errors; ApplyDue applies
// what is due at the time it is given, in order, late after an outage,
// and never twice, even when callers race; each put is audited with the
// actor flagon.ScheduleActor and a reason naming the author; a change
// the store refuses is marked failed; a cancelled change never applies.
// The store must also be a flagon.Store (and is checked as a
// flagon.AuditLog if it is one). newStore must return a new, empty store
// each time.
func TestScheduleStore(t *testing.T, newStore func(t *testing.T) flagon.ScheduleStore) {
	s := openStore(t, newStore)
	st, ok := s.(flagon.Store)
	if !ok {
		t.Fatalf("%T is not a flagon.Store", s)
	}
	ctx := t.Context()
	list := func(q flagon.ScheduleQuery) []flagon.ScheduledChange {
		t.Helper()
		out, err := s.Scheduled(ctx, q)
		mustStore(t, err)
		return out
	}
	if got := list(flagon.ScheduleQuery{}); len(got) != 0 {
		t.Fatalf("a new store has %d scheduled changes", len(got))
	}
	base := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	if done, err := s.ApplyDue(ctx, base); err != nil || len(done) != 0 {
		t.Fatalf("ApplyDue on an empty store = %v, %v; want nothing", done, err)
	}

	f := flagon.Flag{
		Key: "rollout", Type: flagon.TypeString, Default: "old",
		Variants:    []flagon.Variant{{Name: "old", Value: "v1"}, {Name: "new", Value: "v2"}},
		Fallthrough: flagon.Serve{Variant: "old"},
	}
	_, err := st.PutFlag(ctx, f, 0, changeBy("ann"))
	mustStore(t, err)
	stored, err := st.Flag(ctx, "rollout")
	mustStore(t, err)
	steps, err := flagon.RolloutSteps(stored, "", "new", []float64{10, 50, 100}, []time.Time{base.Add(time.Hour), base.Add(2 * time.Hour), base.Add(3 * time.Hour)})
	mustStore(t, err)
	var ids []int64
	for i, sc := range steps {
		sc.Reason = fmt.Sprintf("step %d", i+1)
		var id int64
		checkWrites(t, s, []recordWrite{{fmt.Sprintf("schedule step %d", i+1), func() (err error) {
			id, err = s.AddScheduled(ctx, sc, changeBy("ann"))
			return err
		}, "schedule.add", "rollout", false, true, true}})
		if slices.Contains(ids, id) || id <= 0 {
			t.Fatalf("AddScheduled returned ID %d after %v", id, ids)
		}
		ids = append(ids, id)
	}
	// One that names an audience the store lacks: valid alone, refused
	// when applied.
	ghost := steps[0]
	ghost.Definition.Rules = []flagon.Rule{{Audiences: []string{"ghosts"}, Serve: flagon.Serve{Variant: "new"}}}
	ghost.At = base.Add(90 * time.Minute)
	ghostID, err := s.AddScheduled(ctx, ghost, changeBy("bob"))
	mustStore(t, err)
	// One to cancel before it is due.
	cancel := steps[2]
	cancel.At = base.Add(150 * time.Minute)
	cancel.Definition.Fallthrough = flagon.Serve{Variant: "old"}
	cancelID, err := s.AddScheduled(ctx, cancel, changeBy("bob"))
	mustStore(t, err)

	for _, bad := range []flagon.ScheduledChange{
		{Flag: "rollout", At: base, Definition: flagon.Flag{Key: "other"}},
		{Flag: "rollout", Definition: f},
		{Flag: "Not A Key", At: base, Definition: f},
		{Flag: "rollout", At: base, Definition: flagon.Flag{Key: "rollout", Default: "missing", Variants: f.Variants, Type: f.Type}},
	} {
		_, err := s.AddScheduled(ctx, bad, changeBy("ann"))
		wantFieldErrors(t, fmt.Sprintf("AddScheduled(%s at %v)", bad.Definition.Key, bad.At), err)
	}

	all := list(flagon.ScheduleQuery{Flag: "rollout"})
	wantIDs := []int64{ids[0], ghostID, ids[1], cancelID, ids[2]}
	if got := scheduleIDs(all); !slices.Equal(got, wantIDs) {
		t.Fatalf("Scheduled(rollout) IDs = %v, want %v (by time)", got, wantIDs)
	}
	first := all[0]
	if first.Author != "ann" || first.Environment != "production" || first.Reason != "step 1" || first.Status != flagon.SchedulePending ||
		!first.At.Equal(base.Add(time.Hour)) || first.BaseVersion != 1 || first.CreatedAt.IsZero() || !first.DoneAt.IsZero() {
		t.Errorf("first step = %+v, want pending, by ann in production, at %v, planned on version 1", first, base.Add(time.Hour))
	}
	if sp := first.Definition.Fallthrough.Split; len(sp) != 2 || sp[0] != (flagon.Split{Variant: "new", Percent: 10}) || first.Definition.Key != "rollout" {
		t.Errorf("first step's definition serves %+v, want 10%% new", first.Definition.Fallthrough)
	}
	if got := list(flagon.ScheduleQuery{Flag: "other"}); len(got) != 0 {
		t.Errorf("Scheduled(other) = %d changes, want none", len(got))
	}
	if got := list(flagon.ScheduleQuery{Limit: 2}); len(got) != 2 {
		t.Errorf("Scheduled(limit 2) = %d changes", len(got))
	}

	apply := func(at time.Time, want ...int64) {
		t.Helper()
		done, err := s.ApplyDue(ctx, at)
		mustStore(t, err)
		if got := scheduleIDs(done); !slices.Equal(got, want) {
			t.Fatalf("ApplyDue(%v) settled %v, want %v", at.Sub(base), got, want)
		}
	}
	apply(base)
	apply(base.Add(time.Hour - time.Second))
	apply(base.Add(time.Hour), ids[0])
	apply(base.Add(time.Hour)) // never twice
	got, err := st.Flag(ctx, "rollout")
	mustStore(t, err)
	if got.Version != 2 || got.UpdatedBy != flagon.ScheduleActor || len(got.Fallthrough.Split) != 2 || got.Fallthrough.Split[0].Percent != 10 {
		t.Errorf("after step 1 the flag is %+v, want version 2 by the scheduler serving 10%% new", got)
	}

	wantStoreErr(t, "cancel an applied change", s.CancelScheduled(ctx, ids[0], changeBy("bob")), flagon.ErrConflict)
	wantStoreErr(t, "cancel an unknown change", s.CancelScheduled(ctx, 99999, changeBy("bob")), flagon.ErrNotFound)
	checkWrites(t, s, []recordWrite{{"cancel", func() error { return s.CancelScheduled(ctx, cancelID, changeBy("ann")) }, "schedule.cancel", "rollout", true, true, true}})
	wantStoreErr(t, "cancel twice", s.CancelScheduled(ctx, cancelID, changeBy("bob")), flagon.ErrConflict)

	// Someone edits the flag between steps; the next step is put over
	// the version it then has.
	edited := got.Flag
	edited.Description = "edited by hand"
	_, err = st.PutFlag(ctx, edited, got.Version, changeBy("dan"))
	mustStore(t, err)

	// An outage: everything left falls due at once, and applies in order.
	apply(base.Add(5*time.Hour), ghostID, ids[1], ids[2])
	apply(base.Add(6 * time.Hour))
	got, err = st.Flag(ctx, "rollout")
	mustStore(t, err)
	if got.Version != 5 || got.Fallthrough.Variant != "new" || len(got.Fallthrough.Split) != 0 || len(got.Rules) != 0 {
		t.Errorf("after the outage the flag is %+v, want version 5 serving new to all (the ghost step failed, the cancelled never applied)", got)
	}
	byID := map[int64]flagon.ScheduledChange{}
	for _, sc := range list(flagon.ScheduleQuery{}) {
		byID[sc.ID] = sc
	}
	for _, id := range ids {
		if sc := byID[id]; sc.Status != flagon.ScheduleApplied || sc.DoneAt.IsZero() || sc.DoneBy != flagon.ScheduleActor {
			t.Errorf("step %d after applying: %s at %v by %q, want applied by the scheduler", id, sc.Status, sc.DoneAt, sc.DoneBy)
		}
	}
	if sc := byID[ghostID]; sc.Status != flagon.ScheduleFailed || !strings.Contains(sc.Error, "ghosts") {
		t.Errorf("the change naming a missing audience: %s, error %q; want failed naming ghosts", sc.Status, sc.Error)
	}
	if sc := byID[cancelID]; sc.Status != flagon.ScheduleCancelled || sc.DoneBy != "ann" {
		t.Errorf("the cancelled change: %s by %q, want cancelled by ann", sc.Status, sc.DoneBy)
	}
	if got := list(flagon.ScheduleQuery{Status: flagon.SchedulePending}); len(got) != 0 {
		t.Errorf("%d changes still pending", len(got))
	}

	// Racing appliers: one change, applied once.
	race := steps[0]
	race.At = base.Add(7 * time.Hour)
	raceID, err := s.AddScheduled(ctx, race, changeBy("ann"))
	mustStore(t, err)
	const racers = 6
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		settled []int64
	)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := s.ApplyDue(ctx, base.Add(8*time.Hour))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			settled = append(settled, scheduleIDs(done)...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if !slices.Equal(settled, []int64{raceID}) {
		t.Errorf("%d racing ApplyDue calls settled %v, want %d once", racers, settled, raceID)
	}

	log, ok := s.(flagon.AuditLog)
	if !ok {
		return
	}
	es, err := log.Audit(ctx, flagon.AuditQuery{Limit: 1000})
	mustStore(t, err)
	var reasons []string
	for _, e := range slices.Backward(es) {
		if e.Actor != flagon.ScheduleActor {
			continue
		}
		if e.Action != "flag.update" || e.Target != "rollout" || e.Environment != "production" {
			t.Errorf("scheduler audit entry %s %s in %q, want flag.update rollout in production", e.Action, e.Target, e.Environment)
		}
		reasons = append(reasons, e.Reason)
	}
	want := []string{
		fmt.Sprintf("scheduled by ann (#%d): step 1", ids[0]),
		fmt.Sprintf("scheduled by ann (#%d): step 2", ids[1]),
		fmt.Sprintf("scheduled by ann (#%d): step 3", ids[2]),
		fmt.Sprintf("scheduled by ann (#%d)", raceID),
	}
	if !slices.Equal(reasons, want) {
		t.Errorf("scheduler audit reasons, oldest first:\n%q\nwant\n%q", reasons, want)
	}
}

// scheduleIDs returns the changes' IDs.
func scheduleIDs(scs []flagon.ScheduledChange) []int64 {
	var out []int64
	for _, sc := range scs {
		out = append(out, sc.ID)
	}
	return out
}
