package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// SigningKeys implements flagonhttp.KeyStore.
func (s *Store) SigningKeys(ctx context.Context) ([]flagonhttp.StoredKey, error) {
	var out []flagonhttp.StoredKey
	err := s.retry(ctx, func() error {
		var err error
		out, err = queryAll(ctx, s.db, s.q(`SELECT id, secret, active_from, created_at FROM flagon_signing_keys
			WHERE retired = ? ORDER BY created_at, id`), []any{false}, scanKey)
		return err
	})
	if err != nil {
		return nil, s.errf("signing keys", err)
	}
	return out, nil
}

func scanKey(row scanner) (flagonhttp.StoredKey, error) {
	var (
		k      flagonhttp.StoredKey
		secret string
	)
	if err := row.Scan(&k.ID, &secret, scanTime{&k.ActiveFrom}, scanTime{&k.CreatedAt}); err != nil {
		return k, err
	}
	b, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return k, fmt.Errorf("signing key %q: %w", k.ID, err)
	}
	k.Secret = b
	return k, nil
}

// AddSigningKey implements flagonhttp.KeyStore. A zero CreatedAt becomes
// the time of the write, as does a zero ActiveFrom.
func (s *Store) AddSigningKey(ctx context.Context, k flagonhttp.StoredKey, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		if err := k.Validate(); err != nil {
			return record{}, err
		}
		if k.CreatedAt.IsZero() {
			k.CreatedAt = now
		}
		if k.ActiveFrom.IsZero() {
			k.ActiveFrom = now
		}
		k.CreatedAt, k.ActiveFrom = Round(k.CreatedAt), Round(k.ActiveFrom)
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM flagon_signing_keys WHERE id = ?`), k.ID).Scan(&n); err != nil {
			return record{}, err
		}
		if n > 0 {
			return record{}, fmt.Errorf("%w: signing key %q exists", flagon.ErrConflict, k.ID)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO flagon_signing_keys (id, secret, active_from, created_at, retired, revision)
			VALUES (?, ?, ?, ?, ?, ?)`), k.ID, base64.StdEncoding.EncodeToString(k.Secret), s.d.Time(k.ActiveFrom), s.d.Time(k.CreatedAt), false, rev)
		return record{action: "key.add", target: k.ID, after: k}, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("add signing key %q", k.ID), err)
	}
	return nil
}

// RetireSigningKey implements flagonhttp.KeyStore.
func (s *Store) RetireSigningKey(ctx context.Context, id string, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		k, err := queryOne(ctx, tx, s.q(`SELECT id, secret, active_from, created_at FROM flagon_signing_keys
			WHERE id = ? AND retired = ?`), []any{id, false}, scanKey)
		if errors.Is(err, flagon.ErrNotFound) {
			return record{}, fmt.Errorf("signing key %q: %w", id, flagon.ErrNotFound)
		}
		if err != nil {
			return record{}, err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE flagon_signing_keys SET retired = ?, revision = ? WHERE id = ?`), true, rev, id)
		return record{action: "key.retire", target: id, before: k}, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("retire signing key %q", id), err)
	}
	return nil
}
