package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flagon/flagon"
)

var _ flagon.ScheduleStore = (*Store)(nil)

const scheduleColumns = `id, flag, environment, author, reason, at, definition, base_version, status, created_at, done_at, done_by, error`

func scanSchedule(row scanner) (flagon.ScheduledChange, error) {
	var (
		sc   flagon.ScheduledChange
		def  []byte
		stat string
	)
	if err := row.Scan(&sc.ID, &sc.Flag, &sc.Environment, &sc.Author, &sc.Reason, scanTime{&sc.At}, &def, &sc.BaseVersion,
		&stat, scanTime{&sc.CreatedAt}, scanTime{&sc.DoneAt}, &sc.DoneBy, &sc.Error); err != nil {
		return sc, err
	}
	sc.Status = flagon.ScheduleStatus(stat)
	if err := flagon.UnmarshalFlag(def, &sc.Definition); err != nil {
		return sc, fmt.Errorf("decode scheduled change %d: %w", sc.ID, err)
	}
	return sc, nil
}

// AddScheduled implements flagon.ScheduleStore.
func (s *Store) AddScheduled(ctx context.Context, sc flagon.ScheduledChange, c flagon.Change) (int64, error) {
	sc.Author, sc.Environment = c.Actor, c.Environment
	if err := sc.Validate(); err != nil {
		return 0, s.errf(fmt.Sprintf("schedule change of %q", sc.Flag), err)
	}
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		sc.Status, sc.CreatedAt, sc.At = flagon.SchedulePending, now, Round(sc.At)
		sc.DoneAt, sc.DoneBy, sc.Error = time.Time{}, "", ""
		var err error
		sc.ID, err = s.insertScheduled(ctx, tx, rev, now, sc)
		return record{action: "schedule.add", target: sc.Flag, after: sc}, err
	})
	if err != nil {
		return 0, s.errf(fmt.Sprintf("schedule change of %q", sc.Flag), err)
	}
	return sc.ID, nil
}

// insertScheduled adds sc as a pending change in the write transaction
// tx, and returns its ID.
func (s *Store) insertScheduled(ctx context.Context, tx *sql.Tx, rev int64, now time.Time, sc flagon.ScheduledChange) (int64, error) {
	def, err := encode("flag", sc.Flag, sc.Definition)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO flagon_schedules
		(flag, environment, author, reason, at, definition, base_version, status, created_at, revision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		sc.Flag, sc.Environment, sc.Author, sc.Reason, s.d.Time(Round(sc.At)), string(def), sc.BaseVersion,
		string(flagon.SchedulePending), s.d.Time(now), rev).Scan(&id)
	return id, err
}

// Scheduled implements flagon.ScheduleStore.
func (s *Store) Scheduled(ctx context.Context, q flagon.ScheduleQuery) ([]flagon.ScheduledChange, error) {
	query := `SELECT ` + scheduleColumns + ` FROM flagon_schedules WHERE 1 = 1`
	var args []any
	if q.Flag != "" {
		query += ` AND flag = ?`
		args = append(args, q.Flag)
	}
	if q.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(q.Status))
	}
	query += ` ORDER BY at, id`
	if q.Limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	return retried(ctx, s, "scheduled changes", func() ([]flagon.ScheduledChange, error) {
		return queryAll(ctx, s.db, s.q(query), args, scanSchedule)
	})
}

func (s *Store) scheduled(ctx context.Context, q querier, id int64) (flagon.ScheduledChange, error) {
	sc, err := queryOne(ctx, q, s.q(`SELECT `+scheduleColumns+` FROM flagon_schedules WHERE id = ?`), []any{id}, scanSchedule)
	if errors.Is(err, flagon.ErrNotFound) {
		return sc, fmt.Errorf("scheduled change %d: %w", id, flagon.ErrNotFound)
	}
	return sc, err
}

// settle moves pending change id to status, in tx, reporting false when
// it was no longer pending. The condition is what makes a change settle
// once: of two transactions that both read it pending, the second's
// update finds no pending row (PostgreSQL re-checks the condition on the
// row the first committed).
func (s *Store) settle(ctx context.Context, tx querier, id int64, status flagon.ScheduleStatus, now time.Time, by, msg string, rev int64) (bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE flagon_schedules
		SET status = ?, done_at = ?, done_by = ?, error = ?, revision = ?
		WHERE id = ? AND status = ?`),
		string(status), s.d.Time(now), by, msg, rev, id, string(flagon.SchedulePending))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CancelScheduled implements flagon.ScheduleStore.
func (s *Store) CancelScheduled(ctx context.Context, id int64, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		old, err := s.scheduled(ctx, tx, id)
		if err != nil {
			return record{}, err
		}
		ok, err := s.settle(ctx, tx, id, flagon.ScheduleCancelled, now, c.Actor, "", rev)
		if err != nil {
			return record{}, err
		}
		if !ok {
			return record{}, fmt.Errorf("%w: scheduled change %d is %s", flagon.ErrConflict, id, old.Status)
		}
		nsc := old
		nsc.Status, nsc.DoneAt, nsc.DoneBy = flagon.ScheduleCancelled, now, c.Actor
		return record{action: "schedule.cancel", target: old.Flag, before: old, after: nsc}, nil
	})
	if err != nil {
		return s.errf(fmt.Sprintf("cancel scheduled change %d", id), err)
	}
	return nil
}

// ApplyDue implements flagon.ScheduleStore. Each change is applied in its
// own write transaction, which (like every write) first locks the
// revision row, then settles the change and puts its definition: another
// instance applying the same change waits for the lock, then finds it
// settled and does nothing.
func (s *Store) ApplyDue(ctx context.Context, now time.Time) ([]flagon.ScheduledChange, error) {
	var due []flagon.ScheduledChange
	err := s.retry(ctx, func() error {
		var err error
		due, err = queryAll(ctx, s.db, s.q(`SELECT `+scheduleColumns+` FROM flagon_schedules
			WHERE status = ? AND at <= ? ORDER BY at, id`),
			[]any{string(flagon.SchedulePending), s.d.Time(Round(now))}, scanSchedule)
		return err
	})
	if err != nil {
		return nil, s.errf("apply scheduled changes", err)
	}
	var done []flagon.ScheduledChange
	for _, sc := range due {
		got, ok, err := s.applyOne(ctx, sc)
		if err != nil {
			return done, s.errf(fmt.Sprintf("apply scheduled change %d", sc.ID), err)
		}
		if ok {
			done = append(done, got)
		}
	}
	return done, nil
}

// applyOne applies sc, or marks it failed if the store refuses its
// definition. It reports false if another caller settled sc first.
func (s *Store) applyOne(ctx context.Context, sc flagon.ScheduledChange) (flagon.ScheduledChange, bool, error) {
	c := flagon.Change{Actor: flagon.ScheduleActor, Reason: flagon.ScheduleReason(sc), Environment: sc.Environment}
	applied := false
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		ok, err := s.settle(ctx, tx, sc.ID, flagon.ScheduleApplied, now, flagon.ScheduleActor, "", rev)
		if err != nil {
			return record{}, err
		}
		if !ok {
			return record{}, errNoChange
		}
		var version int64
		if cur, err := s.flag(ctx, tx, sc.Flag); err == nil {
			version = cur.Version
		} else if !errors.Is(err, flagon.ErrNotFound) {
			return record{}, err
		}
		r, _, err := s.putFlag(ctx, tx, rev, now, sc.Definition, version, flagon.ScheduleActor)
		if err != nil {
			return record{}, err
		}
		applied = true
		sc.Status, sc.DoneAt, sc.DoneBy = flagon.ScheduleApplied, now, flagon.ScheduleActor
		return r, nil
	})
	var fe flagon.FieldErrors
	switch {
	case errors.As(err, &fe):
		// Refused: the change cannot apply, now or later.
		now := Now()
		var ok bool
		err = s.retry(ctx, func() error {
			rev, err := s.Revision(ctx)
			if err != nil {
				return err
			}
			ok, err = s.settle(ctx, s.db, sc.ID, flagon.ScheduleFailed, now, flagon.ScheduleActor, fe.Error(), rev)
			return err
		})
		sc.Status, sc.DoneAt, sc.DoneBy, sc.Error = flagon.ScheduleFailed, now, flagon.ScheduleActor, fe.Error()
		return sc, ok, err
	case err != nil:
		return sc, false, err
	}
	return sc, applied, nil
}
