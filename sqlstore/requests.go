package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flagon/flagon"
)

var _ flagon.ChangeRequestStore = (*Store)(nil)

const requestColumns = `id, flag, environment, author, reason, base_version, proposed, schedule, emergency, state, created_at, reviewer, comment, reviewed_at, error`

// A storedStep is one scheduled change of a request, as the schedule
// column keeps it: the definition stays raw until UnmarshalFlag reads it,
// which gives variant values their flag's type.
type storedStep struct {
	At         time.Time       `json:"at"`
	Reason     string          `json:"reason,omitempty"`
	Definition json.RawMessage `json:"definition"`
}

func encodeSchedule(scs []flagon.ScheduledChange) (string, error) {
	if len(scs) == 0 {
		return "", nil
	}
	steps := make([]storedStep, len(scs))
	for i, sc := range scs {
		def, err := json.Marshal(sc.Definition)
		if err != nil {
			return "", fmt.Errorf("encode scheduled step %d: %w", i, err)
		}
		steps[i] = storedStep{At: Round(sc.At), Reason: sc.Reason, Definition: def}
	}
	b, err := json.Marshal(steps)
	return string(b), err
}

func scanRequest(row scanner) (flagon.ChangeRequest, error) {
	var (
		cr             flagon.ChangeRequest
		proposed, plan string
		emergency      int64
		state          string
	)
	if err := row.Scan(&cr.ID, &cr.Flag, &cr.Environment, &cr.Author, &cr.Reason, &cr.BaseVersion, &proposed, &plan, &emergency,
		&state, scanTime{&cr.CreatedAt}, &cr.Reviewer, &cr.Comment, scanTime{&cr.ReviewedAt}, &cr.Error); err != nil {
		return cr, err
	}
	cr.State, cr.Emergency = flagon.RequestState(state), emergency != 0
	if err := flagon.UnmarshalFlag([]byte(proposed), &cr.Proposed); err != nil {
		return cr, fmt.Errorf("decode change request %d: %w", cr.ID, err)
	}
	if plan == "" {
		return cr, nil
	}
	var steps []storedStep
	if err := json.Unmarshal([]byte(plan), &steps); err != nil {
		return cr, fmt.Errorf("decode change request %d: %w", cr.ID, err)
	}
	for _, st := range steps {
		sc := flagon.ScheduledChange{Flag: cr.Flag, Environment: cr.Environment, Author: cr.Author, Reason: st.Reason, At: st.At, BaseVersion: cr.BaseVersion}
		if err := flagon.UnmarshalFlag(st.Definition, &sc.Definition); err != nil {
			return cr, fmt.Errorf("decode change request %d: %w", cr.ID, err)
		}
		cr.Schedule = append(cr.Schedule, sc)
	}
	return cr, nil
}

// AddChangeRequest implements flagon.ChangeRequestStore.
func (s *Store) AddChangeRequest(ctx context.Context, cr flagon.ChangeRequest, c flagon.Change) (int64, error) {
	op := fmt.Sprintf("add change request for %q", cr.Flag)
	cr.Author, cr.Reason, cr.Environment = c.Actor, c.Reason, c.Environment
	if len(cr.Schedule) > 0 {
		cr.Proposed = flagon.Flag{Key: cr.Flag}
	}
	if err := cr.Validate(); err != nil {
		return 0, s.errf(op, err)
	}
	proposed, err := encode("flag", cr.Flag, cr.Proposed)
	if err != nil {
		return 0, s.errf(op, err)
	}
	plan, err := encodeSchedule(cr.Schedule)
	if err != nil {
		return 0, s.errf(op, err)
	}
	_, err = s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		cr.State, cr.CreatedAt = flagon.RequestPending, now
		cr.Reviewer, cr.Comment, cr.ReviewedAt, cr.Error = "", "", time.Time{}, ""
		emergency := 0
		if cr.Emergency {
			cr.State, emergency = flagon.RequestApplied, 1
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO flagon_change_requests
			(flag, environment, author, reason, base_version, proposed, schedule, emergency, state, created_at, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			cr.Flag, cr.Environment, cr.Author, cr.Reason, cr.BaseVersion, string(proposed), plan, emergency,
			string(cr.State), s.d.Time(now), rev).Scan(&cr.ID)
		return record{action: "request.add", target: cr.Flag, after: cr}, err
	})
	if err != nil {
		return 0, s.errf(op, err)
	}
	return cr.ID, nil
}

// ChangeRequests implements flagon.ChangeRequestStore.
func (s *Store) ChangeRequests(ctx context.Context, q flagon.ChangeRequestQuery) ([]flagon.ChangeRequest, error) {
	query := `SELECT ` + requestColumns + ` FROM flagon_change_requests WHERE 1 = 1`
	var args []any
	for _, f := range []struct{ col, v string }{{"flag", q.Flag}, {"environment", q.Environment}, {"state", string(q.State)}} {
		if f.v != "" {
			query += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = flagon.DefaultAuditLimit
	}
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit)
	return retried(ctx, s, "change requests", func() ([]flagon.ChangeRequest, error) {
		return queryAll(ctx, s.db, s.q(query), args, scanRequest)
	})
}

// ChangeRequest implements flagon.ChangeRequestStore.
func (s *Store) ChangeRequest(ctx context.Context, id int64) (flagon.ChangeRequest, error) {
	return retried(ctx, s, fmt.Sprintf("change request %d", id), func() (flagon.ChangeRequest, error) {
		return s.changeRequest(ctx, s.db, id)
	})
}

func (s *Store) changeRequest(ctx context.Context, q querier, id int64) (flagon.ChangeRequest, error) {
	cr, err := queryOne(ctx, q, s.q(`SELECT `+requestColumns+` FROM flagon_change_requests WHERE id = ?`), []any{id}, scanRequest)
	if errors.Is(err, flagon.ErrNotFound) {
		return cr, fmt.Errorf("change request %d: %w", id, flagon.ErrNotFound)
	}
	return cr, err
}

// decide records cr's new state and review in tx, only if it is still in
// state from: of two transactions that both read it so, the second's
// update finds no row to change. It reports whether it changed the row.
func (s *Store) decide(ctx context.Context, tx querier, cr flagon.ChangeRequest, from flagon.RequestState, rev int64) (bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE flagon_change_requests
		SET state = ?, reviewer = ?, comment = ?, reviewed_at = ?, error = ?, revision = ?
		WHERE id = ? AND state = ? AND reviewer = ''`),
		string(cr.State), cr.Reviewer, cr.Comment, s.d.Time(cr.ReviewedAt), cr.Error, rev, cr.ID, string(from))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReviewChangeRequest implements flagon.ChangeRequestStore. The decision
// runs in one write transaction, which (like every write) first locks the
// revision row: the version check, the put and the new state commit
// together or not at all.
func (s *Store) ReviewChangeRequest(ctx context.Context, id int64, approve bool, comment string, c flagon.Change) (flagon.ChangeRequest, error) {
	op := fmt.Sprintf("review change request %d", id)
	if err := flagon.CheckReviewComment(comment); err != nil {
		return flagon.ChangeRequest{}, s.errf(op, err)
	}
	// The audit entry of the write names the author too: read them first
	// (an author never changes) to say so.
	pre, err := s.ChangeRequest(ctx, id)
	if err != nil {
		return pre, err
	}
	pre, c = flagon.Review(pre, approve, comment, c)
	var out flagon.ChangeRequest
	_, err = s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		cr, err := s.changeRequest(ctx, tx, id)
		if err != nil {
			return record{}, err
		}
		old, from := cr, cr.State
		if err := cr.CheckReview(approve, c.Actor); err != nil {
			return record{}, err
		}
		cr.Reviewer, cr.Comment, cr.ReviewedAt = c.Actor, comment, now
		r, err := s.applyDecision(ctx, tx, rev, now, &cr, approve)
		if err != nil {
			return record{}, err
		}
		ok, err := s.decide(ctx, tx, cr, from, rev)
		if err != nil {
			return record{}, err
		}
		if !ok {
			return record{}, fmt.Errorf("%w: change request %d was decided meanwhile", flagon.ErrConflict, id)
		}
		out = cr
		if r.action == "" {
			r = record{action: "request." + map[bool]string{true: "approve", false: "reject"}[approve], target: cr.Flag, before: old, after: cr}
		}
		return r, nil
	})
	if err != nil {
		return out, s.errf(op, err)
	}
	if out.State == flagon.RequestConflict {
		return out, s.errf(op, fmt.Errorf("%w: %s", flagon.ErrConflict, out.Error))
	}
	return out, nil
}

// applyDecision sets cr's new state and, for an approval, applies it in
// tx. It returns the audit record of the write when it is not the plain
// request.approve or request.reject.
func (s *Store) applyDecision(ctx context.Context, tx *sql.Tx, rev int64, now time.Time, cr *flagon.ChangeRequest, approve bool) (record, error) {
	switch {
	case cr.Emergency:
		return record{action: "request.review", target: cr.Flag, after: *cr}, nil
	case !approve:
		cr.State = flagon.RequestRejected
		return record{}, nil
	}
	var version int64
	cur, err := s.flag(ctx, tx, cr.Flag)
	switch {
	case err == nil:
		version = cur.Version
	case !errors.Is(err, flagon.ErrNotFound):
		return record{}, err
	}
	if version != cr.BaseVersion {
		cr.State = flagon.RequestConflict
		cr.Error = fmt.Sprintf("flag %q is at version %d, not the version %d the request was made against", cr.Flag, version, cr.BaseVersion)
		if version > 0 && cur.UpdatedBy != "" {
			cr.Error += " (last changed by " + cur.UpdatedBy + ")"
		}
		return record{action: "request.conflict", target: cr.Flag, after: *cr}, nil
	}
	if len(cr.Schedule) > 0 {
		for i := range cr.Schedule {
			sc := &cr.Schedule[i]
			sc.Author, sc.Environment, sc.BaseVersion = cr.Author, cr.Environment, cr.BaseVersion
			if sc.ID, err = s.insertScheduled(ctx, tx, rev, now, *sc); err != nil {
				return record{}, err
			}
		}
		cr.State = flagon.RequestApproved
		return record{}, nil
	}
	r, _, err := s.putFlag(ctx, tx, rev, now, cr.Proposed, cr.BaseVersion, cr.Reviewer)
	cr.State = flagon.RequestApplied
	return r, err
}
