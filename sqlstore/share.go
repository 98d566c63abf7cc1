package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// checkShareToken validates a share token and fills in its defaults:
// CreatedAt (now) and CreatedBy (the actor). It returns the token with
// times rounded as the store keeps them, and its value's type and JSON.
func checkShareToken(t flagonhttp.ShareToken, c flagon.Change, now time.Time) (flagonhttp.ShareToken, flagon.Type, []byte, error) {
	if err := t.Validate(); err != nil {
		return t, "", nil, err
	}
	typ, data, err := flagon.MarshalValue(t.Value)
	if err != nil {
		return t, "", nil, err
	}
	t.Value, _ = flagon.UnmarshalValue(typ, data)
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.CreatedBy == "" {
		t.CreatedBy = c.Actor
	}
	t.CreatedAt, t.ExpiresAt = Round(t.CreatedAt), Round(t.ExpiresAt)
	return t, typ, data, nil
}

const shareColumns = `id, flag, value_type, value, duration_ns, expires_at, created_at, created_by, revoked`

func scanShareToken(row scanner) (flagonhttp.ShareToken, error) {
	var (
		t    flagonhttp.ShareToken
		typ  string
		data []byte
		dur  int64
	)
	if err := row.Scan(&t.ID, &t.Flag, &typ, &data, &dur, scanTime{&t.ExpiresAt}, scanTime{&t.CreatedAt}, &t.CreatedBy, &t.Revoked); err != nil {
		return t, err
	}
	t.Duration = time.Duration(dur)
	v, err := flagon.UnmarshalValue(flagon.Type(typ), data)
	if err != nil {
		return t, fmt.Errorf("share token %q: %w", t.ID, err)
	}
	t.Value = v
	return t, nil
}

func (s *Store) shareToken(ctx context.Context, q querier, id string) (flagonhttp.ShareToken, error) {
	return queryOne(ctx, q, s.q(`SELECT `+shareColumns+` FROM flagon_share_tokens WHERE id = ?`), []any{id}, scanShareToken)
}

// CreateShareToken implements flagonhttp.ShareTokenStore. A zero CreatedAt becomes the
// time of the write, and an empty CreatedBy the change's actor. A token
// whose ID exists gives flagon.ErrConflict.
func (s *Store) CreateShareToken(ctx context.Context, t flagonhttp.ShareToken, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		t, typ, data, err := checkShareToken(t, c, now)
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

// ShareToken implements flagonhttp.ShareTokenStore.
func (s *Store) ShareToken(ctx context.Context, id string) (flagonhttp.ShareToken, error) {
	return retried(ctx, s, "share token", func() (flagonhttp.ShareToken, error) {
		return s.shareToken(ctx, s.db, id)
	})
}

// ShareTokens implements flagonhttp.ShareTokenStore.
func (s *Store) ShareTokens(ctx context.Context) ([]flagonhttp.ShareToken, error) {
	var out []flagonhttp.ShareToken
	err := s.retry(ctx, func() error {
		var err error
		out, err = queryAll(ctx, s.db, s.q(`SELECT `+shareColumns+` FROM flagon_share_tokens`), nil, scanShareToken)
		return err
	})
	if err != nil {
		return nil, s.errf("list share tokens", err)
	}
	sortShareTokens(out)
	return out, nil
}

// sortShareTokens sorts tokens newest first, then by ID.
func sortShareTokens(ts []flagonhttp.ShareToken) {
	slices.SortFunc(ts, func(a, b flagonhttp.ShareToken) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// RevokeShareToken implements flagonhttp.ShareTokenStore. Revoking a revoked token
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
