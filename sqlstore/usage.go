package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// AddUsage implements flagon.UsageStore. Usage is not a change to the
// definitions: it neither bumps the revision nor writes an audit entry,
// and watchers are not called. A batch runs in one transaction; one whose
// commit fails is not retried, since it may have committed and counts
// must not be added twice.
func (s *Store) AddUsage(ctx context.Context, counts []flagon.UsageCount) error {
	if err := flagon.ValidateUsage(counts); err != nil {
		return s.errf("add usage", err)
	}
	if len(counts) == 0 {
		return nil
	}
	for attempt := 1; ; attempt++ {
		committing, err := s.addUsageOnce(ctx, counts)
		switch {
		case err == nil:
			return nil
		case committing || attempt == maxAttempts || s.d.Retry == nil || !s.d.Retry(err) || ctx.Err() != nil:
			return s.errf("add usage", err)
		}
		s.dropIdle()
	}
}

func (s *Store) addUsageOnce(ctx context.Context, counts []flagon.UsageCount) (committing bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO flagon_usage (hour, flag, variant, environment, app, count)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (hour, flag, variant, environment, app) DO UPDATE SET count = flagon_usage.count + excluded.count`))
	if err != nil {
		return false, err
	}
	defer stmt.Close()
	for _, c := range counts {
		if _, err := stmt.ExecContext(ctx, s.d.Time(Round(c.Hour)), c.Flag, c.Variant, c.Environment, c.App, c.Count); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return true, err
	}
	return false, nil
}

// Usage implements flagon.UsageStore.
func (s *Store) Usage(ctx context.Context, q flagon.UsageQuery) ([]flagon.UsageCount, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if q.Flag != "" {
		add("flag = ?", q.Flag)
	}
	if q.Environment != "" {
		add("environment = ?", q.Environment)
	}
	if q.App != "" {
		add("app = ?", q.App)
	}
	if !q.Since.IsZero() {
		add("hour >= ?", s.d.Time(Round(q.Since)))
	}
	if !q.Until.IsZero() {
		add("hour < ?", s.d.Time(Round(q.Until)))
	}
	query := `SELECT hour, flag, variant, environment, app, count FROM flagon_usage`
	if q.Sum {
		query = `SELECT MAX(hour), flag, variant, environment, app, CAST(SUM(count) AS BIGINT) FROM flagon_usage`
	}
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Sum {
		query += " GROUP BY flag, variant, environment, app ORDER BY MAX(hour), flag, variant, environment, app"
	} else {
		query += " ORDER BY hour, flag, variant, environment, app"
	}
	return retried(ctx, s, "read usage", func() ([]flagon.UsageCount, error) {
		return queryAll(ctx, s.db, s.q(query), args, scanUsage)
	})
}

func scanUsage(row scanner) (flagon.UsageCount, error) {
	var u flagon.UsageCount
	err := row.Scan(scanTime{&u.Hour}, &u.Flag, &u.Variant, &u.Environment, &u.App, &u.Count)
	return u, err
}

// PruneUsage implements flagon.UsageStore.
func (s *Store) PruneUsage(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.retry(ctx, func() error {
		res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM flagon_usage WHERE hour < ?`), s.d.Time(Round(before)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.errf("prune usage", err)
	}
	return n, nil
}

var _ flagon.UsageStore = (*Store)(nil)
