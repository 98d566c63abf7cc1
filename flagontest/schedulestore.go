package flagontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
