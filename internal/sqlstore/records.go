package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// DefaultOverrideSource is the Source of a stored override that names
// none.
const DefaultOverrideSource = "user"

// DefaultAuditLimit is how many audit entries a query with no limit
// returns.
const DefaultAuditLimit = 100

// MaxShareTokenIDLen is the longest share token ID a store accepts.
const MaxShareTokenIDLen = 256

// CheckOverride validates a user override, returning field errors, and
// fills in its defaults: SetAt (now) and Source ("user"). It returns the
// override with times rounded as stores keep them, and its value's type
// and JSON.
func CheckOverride(user, flag string, o flagon.Override, now time.Time) (flagon.Override, flagon.Type, []byte, error) {
	var errs flagon.FieldErrors
	if user == "" {
		errs = append(errs, &flagon.FieldError{Flag: flag, Field: "user", Msg: "no user given"})
	}
	if !flagon.ValidKey(flag) {
		errs = append(errs, &flagon.FieldError{Flag: flag, Field: "flag", Msg: fmt.Sprintf("invalid flag key %q", flag)})
	}
	t, data, err := EncodeValue(o.Value)
	if err != nil {
		errs = append(errs, &flagon.FieldError{Flag: flag, Field: "value", Msg: err.Error()})
	}
	if len(errs) > 0 {
		return o, "", nil, errs
	}
	o.Value, _ = DecodeValue(t, data)
	if o.SetAt.IsZero() {
		o.SetAt = now
	}
	if o.Source == "" {
		o.Source = DefaultOverrideSource
	}
	o.SetAt, o.ExpiresAt = Round(o.SetAt), Round(o.ExpiresAt)
	return o, t, data, nil
}

// CheckShareToken validates a share token, returning field errors, and
// fills in its defaults: CreatedAt (now) and CreatedBy (the actor). It
// returns the token with times rounded as stores keep them, and its
// value's type and JSON.
func CheckShareToken(t flagon.ShareToken, c flagon.Change, now time.Time) (flagon.ShareToken, flagon.Type, []byte, error) {
	var errs flagon.FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &flagon.FieldError{Flag: t.Flag, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if t.ID == "" || len(t.ID) > MaxShareTokenIDLen {
		add("id", "a share token needs an ID of 1 to %d bytes", MaxShareTokenIDLen)
	}
	if !flagon.ValidKey(t.Flag) {
		add("flag", "invalid flag key %q", t.Flag)
	}
	typ, data, err := EncodeValue(t.Value)
	if err != nil {
		add("value", "%v", err)
	}
	if t.Duration < 0 {
		add("duration", "negative duration %v", t.Duration)
	}
	if len(errs) > 0 {
		return t, "", nil, errs
	}
	t.Value, _ = DecodeValue(typ, data)
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.CreatedBy == "" {
		t.CreatedBy = c.Actor
	}
	t.CreatedAt, t.ExpiresAt = Round(t.CreatedAt), Round(t.ExpiresAt)
	return t, typ, data, nil
}

// UserOverrides implements flagon.Store.
func (s *Store) UserOverrides(ctx context.Context, user string) (flagon.OverrideMap, error) {
	var list []flagon.UserOverride
	err := s.retry(ctx, func() error {
		var err error
		list, err = s.overrides(ctx, s.db, `user_name = ? AND `, user)
		return err
	})
	if err != nil {
		return nil, s.errf(fmt.Sprintf("overrides of %q", user), err)
	}
	m := make(flagon.OverrideMap, len(list))
	for _, uo := range list {
		m[uo.Flag] = uo.Override
	}
	return m, nil
}

// AllUserOverrides implements flagon.Store. The list is sorted by user,
// then flag.
func (s *Store) AllUserOverrides(ctx context.Context) ([]flagon.UserOverride, error) {
	var list []flagon.UserOverride
	err := s.retry(ctx, func() error {
		var err error
		list, err = s.overrides(ctx, s.db, ``)
		return err
	})
	if err != nil {
		return nil, s.errf("list overrides", err)
	}
	return list, nil
}

const overrideColumns = `user_name, flag, value_type, value, source, set_at, expires_at`

// overrides returns the live overrides that match where, a condition
// ending in AND.
func (s *Store) overrides(ctx context.Context, q querier, where string, args ...any) ([]flagon.UserOverride, error) {
	args = append(args, s.d.Time(Now()))
	out, err := queryAll(ctx, q, s.q(`SELECT `+overrideColumns+` FROM flagon_user_overrides
		WHERE `+where+`(expires_at IS NULL OR expires_at > ?)`), args, scanOverride)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b flagon.UserOverride) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Flag, b.Flag)
	})
	return out, nil
}

func scanOverride(row scanner) (flagon.UserOverride, error) {
	var (
		uo   flagon.UserOverride
		typ  string
		data []byte
	)
	if err := row.Scan(&uo.User, &uo.Flag, &typ, &data, &uo.Source, scanTime{&uo.SetAt}, scanTime{&uo.ExpiresAt}); err != nil {
		return uo, err
	}
	v, err := DecodeValue(flagon.Type(typ), data)
	if err != nil {
		return uo, fmt.Errorf("override of %q for %q: %w", uo.Flag, uo.User, err)
	}
	uo.Value = v
	return uo, nil
}

// userOverride returns one override, expired or not, or flagon.ErrNotFound.
func (s *Store) userOverride(ctx context.Context, q querier, user, flag string) (flagon.UserOverride, error) {
	return queryOne(ctx, q, s.q(`SELECT `+overrideColumns+` FROM flagon_user_overrides
		WHERE user_name = ? AND flag = ?`), []any{user, flag}, scanOverride)
}

// SetUserOverride implements flagon.Store. An empty Source becomes
// "user", and a zero SetAt the time of the write.
func (s *Store) SetUserOverride(ctx context.Context, user, flag string, o flagon.Override, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		o, typ, data, err := CheckOverride(user, flag, o, now)
		if err != nil {
			return record{}, err
		}
		r := record{action: "override.set", target: user, after: flagon.UserOverride{User: user, Flag: flag, Override: o}}
		old, err := s.userOverride(ctx, tx, user, flag)
		switch {
		case err == nil:
			r.before = old
		case !errors.Is(err, flagon.ErrNotFound):
			return record{}, err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO flagon_user_overrides
			(`+overrideColumns+`, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (user_name, flag) DO UPDATE SET
				value_type = excluded.value_type, value = excluded.value, source = excluded.source,
				set_at = excluded.set_at, expires_at = excluded.expires_at, revision = excluded.revision`),
			user, flag, string(typ), string(data), o.Source, s.d.Time(o.SetAt), s.timeArg(o.ExpiresAt), rev)
		return r, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("set override of %q for %q", flag, user), err)
	}
	return nil
}

// DeleteUserOverride implements flagon.Store. Deleting an override that
// does not exist changes nothing and writes no audit entry.
func (s *Store) DeleteUserOverride(ctx context.Context, user, flag string, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		old, err := s.userOverride(ctx, tx, user, flag)
		if errors.Is(err, flagon.ErrNotFound) {
			return record{}, errNoChange
		}
		if err != nil {
			return record{}, err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM flagon_user_overrides WHERE user_name = ? AND flag = ?`), user, flag)
		return record{action: "override.delete", target: user, before: old}, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("delete override of %q for %q", flag, user), err)
	}
	return nil
}

const shareColumns = `id, flag, value_type, value, duration_ns, expires_at, created_at, created_by, revoked`

func scanShareToken(row scanner) (flagon.ShareToken, error) {
	var (
		t    flagon.ShareToken
		typ  string
		data []byte
		dur  int64
	)
	if err := row.Scan(&t.ID, &t.Flag, &typ, &data, &dur, scanTime{&t.ExpiresAt}, scanTime{&t.CreatedAt}, &t.CreatedBy, &t.Revoked); err != nil {
		return t, err
	}
	t.Duration = time.Duration(dur)
	v, err := DecodeValue(flagon.Type(typ), data)
	if err != nil {
		return t, fmt.Errorf("share token %q: %w", t.ID, err)
	}
	t.Value = v
	return t, nil
}

func (s *Store) shareToken(ctx context.Context, q querier, id string) (flagon.ShareToken, error) {
	return queryOne(ctx, q, s.q(`SELECT `+shareColumns+` FROM flagon_share_tokens WHERE id = ?`), []any{id}, scanShareToken)
}

// CreateShareToken implements flagon.Store. A zero CreatedAt becomes the
// time of the write, and an empty CreatedBy the change's actor. A token
// whose ID exists gives flagon.ErrConflict.
func (s *Store) CreateShareToken(ctx context.Context, t flagon.ShareToken, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		t, typ, data, err := CheckShareToken(t, c, now)
		if err != nil {
			return record{}, err
		}
		if _, err := s.shareToken(ctx, tx, t.ID); err == nil {
			return record{}, fmt.Errorf("%w: share token exists", flagon.ErrConflict)
		} else if !errors.Is(err, flagon.ErrNotFound) {
			return record{}, err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO flagon_share_tokens
			(`+shareColumns+`, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			t.ID, t.Flag, string(typ), string(data), int64(t.Duration), s.timeArg(t.ExpiresAt),
			s.d.Time(t.CreatedAt), t.CreatedBy, t.Revoked, rev)
		return record{action: "share.create", target: t.ID, after: t}, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("create share token for %q", t.Flag), err)
	}
	return nil
}

// ShareToken implements flagon.Store.
func (s *Store) ShareToken(ctx context.Context, id string) (flagon.ShareToken, error) {
	var t flagon.ShareToken
	err := s.retry(ctx, func() error {
		var err error
		t, err = s.shareToken(ctx, s.db, id)
		return err
	})
	if err != nil {
		return flagon.ShareToken{}, s.errf("share token", err)
	}
	return t, nil
}

// ShareTokens implements flagon.Store.
func (s *Store) ShareTokens(ctx context.Context) ([]flagon.ShareToken, error) {
	var out []flagon.ShareToken
	err := s.retry(ctx, func() error {
		var err error
		out, err = queryAll(ctx, s.db, s.q(`SELECT `+shareColumns+` FROM flagon_share_tokens`), nil, scanShareToken)
		return err
	})
	if err != nil {
		return nil, s.errf("list share tokens", err)
	}
	SortShareTokens(out)
	return out, nil
}

// SortShareTokens sorts tokens newest first, then by ID.
func SortShareTokens(ts []flagon.ShareToken) {
	slices.SortFunc(ts, func(a, b flagon.ShareToken) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// RevokeShareToken implements flagon.Store. Revoking a revoked token
// changes nothing and writes no audit entry.
func (s *Store) RevokeShareToken(ctx context.Context, id string, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		old, err := s.shareToken(ctx, tx, id)
		if err != nil {
			return record{}, err
		}
		if old.Revoked {
			return record{}, errNoChange
		}
		nt := old
		nt.Revoked = true
		_, err = tx.ExecContext(ctx, s.q(`UPDATE flagon_share_tokens SET revoked = ?, revision = ? WHERE id = ?`), true, rev, id)
		return record{action: "share.revoke", target: id, before: old, after: nt}, err
	})
	if err != nil {
		return s.errf("revoke share token", err)
	}
	return nil
}

// Audit implements flagon.Store. Since is inclusive and Until exclusive; a
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
		limit = DefaultAuditLimit
	}
	query := `SELECT id, created_at, actor, action, target, environment, reason, before_json, after_json, revision FROM flagon_audit`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	var out []flagon.AuditEntry
	err := s.retry(ctx, func() error {
		var err error
		out, err = queryAll(ctx, s.db, s.q(query), args, scanAudit)
		return err
	})
	if err != nil {
		return nil, s.errf("audit", err)
	}
	return out, nil
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

// CheckAuditEntry validates an entry for AppendAudit, returning field
// errors, and returns it with its time set (now, if zero) and rounded as
// stores keep times, and an empty Before or After made nil.
func CheckAuditEntry(e flagon.AuditEntry, now time.Time) (flagon.AuditEntry, error) {
	var errs flagon.FieldErrors
	if e.Action == "" {
		errs = append(errs, &flagon.FieldError{Field: "action", Msg: "an audit entry needs an action"})
	}
	if len(e.Before) > 0 && !json.Valid(e.Before) {
		errs = append(errs, &flagon.FieldError{Field: "before", Msg: "not valid JSON"})
	}
	if len(e.After) > 0 && !json.Valid(e.After) {
		errs = append(errs, &flagon.FieldError{Field: "after", Msg: "not valid JSON"})
	}
	if len(errs) > 0 {
		return flagon.AuditEntry{}, errs
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

// AppendAudit implements flagon.Store. It appends the entry in a short
// transaction of its own at the current revision, without bumping the
// revision or telling watchers. The transaction takes the revision row's
// lock (with an update that changes nothing), so that audit IDs still grow
// with revisions.
func (s *Store) AppendAudit(ctx context.Context, e flagon.AuditEntry) error {
	e, err := CheckAuditEntry(e, Now())
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
