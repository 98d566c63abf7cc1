package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// Audit implements flagon.AuditLog. Since is inclusive and Until exclusive; a
// Limit of zero or less means DefaultAuditLimit.
func (s *Store) Audit(ctx context.Context, q flagon.AuditQuery) ([]flagon.AuditEntry, error) {
	var (
		conds []string
		args  []any
	)
	if q.Target != "" {
		conds, args = append(conds, `target = ?`), append(args, q.Target)
	}
	if q.Actor != "" {
		conds, args = append(conds, `actor = ?`), append(args, q.Actor)
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, `created_at >= ?`), append(args, s.d.Time(ceilMicro(q.Since)))
	}
	if !q.Until.IsZero() {
		conds, args = append(conds, `created_at < ?`), append(args, s.d.Time(ceilMicro(q.Until)))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = flagon.DefaultAuditLimit
	}
	query := `SELECT id, created_at, actor, action, target, environment, reason, before_json, after_json, revision FROM flagon_audit`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	return retried(ctx, s, "audit", func() ([]flagon.AuditEntry, error) {
		return queryAll(ctx, s.db, s.q(query), args, scanAudit)
	})
}

// ceilMicro returns t in UTC, rounded up to the microsecond. Stored times
// are whole microseconds, so comparing them with ceilMicro(t) gives the
// same answers as comparing them with t.
func ceilMicro(t time.Time) time.Time {
	t = t.UTC()
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		return r.Add(time.Microsecond)
	}
	return t
}

// checkAuditEntry validates an entry for AppendAudit and returns it with
// its time set (now, if zero) and rounded as the store keeps times, and
// an empty Before or After made nil.
func checkAuditEntry(e flagon.AuditEntry, now time.Time) (flagon.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return flagon.AuditEntry{}, err
	}
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Time = Round(e.Time)
	if len(e.Before) == 0 {
		e.Before = nil
	}
	if len(e.After) == 0 {
		e.After = nil
	}
	return e, nil
}

// AppendAudit implements flagon.AuditLog. It appends the entry in a short
// transaction of its own at the current revision, without bumping the
// revision or telling watchers. The transaction takes the revision row's
// lock (with an update that changes nothing), so that audit IDs still grow
// with revisions.
func (s *Store) AppendAudit(ctx context.Context, e flagon.AuditEntry) error {
	e, err := checkAuditEntry(e, Now())
	if err != nil {
		return s.errf("append audit", err)
	}
	nullable := func(raw json.RawMessage) any {
		if len(raw) == 0 {
			return nil
		}
		return string(raw)
	}
	// A failed commit may have committed: it is not tried again, lest
	// the entry be appended twice.
	var commitErr error
	err = s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var rev int64
		if err := tx.QueryRowContext(ctx, s.q(`UPDATE flagon_state SET revision = revision WHERE id = 1 RETURNING revision`)).Scan(&rev); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO flagon_audit
			(created_at, actor, action, target, environment, reason, before_json, after_json, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			s.d.Time(e.Time), e.Actor, e.Action, e.Target, e.Environment, e.Reason, nullable(e.Before), nullable(e.After), rev); err != nil {
			return err
		}
		commitErr = tx.Commit()
		return nil
	})
	if err == nil {
		err = commitErr
	}
	if err != nil {
		return s.errf("append audit", err)
	}
	return nil
}

// scanAudit reads one audit row.
func scanAudit(row scanner) (flagon.AuditEntry, error) {
	var (
		e             flagon.AuditEntry
		before, after sql.NullString
	)
	if err := row.Scan(&e.ID, scanTime{&e.Time}, &e.Actor, &e.Action, &e.Target, &e.Environment, &e.Reason, &before, &after, &e.Revision); err != nil {
		return e, err
	}
	if before.Valid {
		e.Before = []byte(before.String)
	}
	if after.Valid {
		e.After = []byte(after.String)
	}
	return e, nil
}

// PruneAudit implements flagon.AuditLog. It deletes in batches, so that a
// large backlog does not hold the write lock for long.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.retry(ctx, func() error {
			res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM flagon_audit WHERE id IN
				(SELECT id FROM flagon_audit WHERE created_at < ? ORDER BY id LIMIT ?)`), s.d.Time(ceilMicro(before)), pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, s.errf("prune audit", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// pruneBatch is how many audit entries one PruneAudit statement deletes.
const pruneBatch = 5000
