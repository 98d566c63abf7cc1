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

// DefaultOverrideSource is the Source of a stored override that names
// none.
const DefaultOverrideSource = "user"

// checkOverride validates a user override and fills in its defaults:
// SetAt (now) and Source ("user"). It returns the override with times
// rounded as the store keeps them, and its value's type and JSON.
func checkOverride(o flagonhttp.UserOverride, now time.Time) (flagonhttp.UserOverride, flagon.Type, []byte, error) {
	if err := o.Validate(); err != nil {
		return o, "", nil, err
	}
	t, data, err := flagon.MarshalValue(o.Value)
	if err != nil {
		return o, "", nil, err
	}
	o.Value, _ = flagon.UnmarshalValue(t, data)
	if o.SetAt.IsZero() {
		o.SetAt = now
	}
	if o.Source == "" {
		o.Source = DefaultOverrideSource
	}
	o.SetAt, o.ExpiresAt = Round(o.SetAt), Round(o.ExpiresAt)
	return o, t, data, nil
}

// UserOverrides implements flagonhttp.UserOverrideStore.
func (s *Store) UserOverrides(ctx context.Context, user string) (flagon.OverrideMap, error) {
	var list []flagonhttp.UserOverride
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

// AllUserOverrides implements flagonhttp.UserOverrideStore. The list is sorted by user,
// then flag.
func (s *Store) AllUserOverrides(ctx context.Context) ([]flagonhttp.UserOverride, error) {
	return retried(ctx, s, "list overrides", func() ([]flagonhttp.UserOverride, error) {
		return s.overrides(ctx, s.db, ``)
	})
}

const overrideColumns = `user_name, flag, value_type, value, source, set_at, expires_at`

// overrides returns the live overrides that match where, a condition
// ending in AND.
func (s *Store) overrides(ctx context.Context, q querier, where string, args ...any) ([]flagonhttp.UserOverride, error) {
	args = append(args, s.d.Time(Now()))
	out, err := queryAll(ctx, q, s.q(`SELECT `+overrideColumns+` FROM flagon_user_overrides
		WHERE `+where+`(expires_at IS NULL OR expires_at > ?)`), args, scanOverride)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b flagonhttp.UserOverride) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Flag, b.Flag)
	})
	return out, nil
}

func scanOverride(row scanner) (flagonhttp.UserOverride, error) {
	var (
		uo   flagonhttp.UserOverride
		typ  string
		data []byte
	)
	if err := row.Scan(&uo.User, &uo.Flag, &typ, &data, &uo.Source, scanTime{&uo.SetAt}, scanTime{&uo.ExpiresAt}); err != nil {
		return uo, err
	}
	v, err := flagon.UnmarshalValue(flagon.Type(typ), data)
	if err != nil {
		return uo, fmt.Errorf("override of %q for %q: %w", uo.Flag, uo.User, err)
	}
	uo.Value = v
	return uo, nil
}

// userOverride returns one override, expired or not, or flagon.ErrNotFound.
func (s *Store) userOverride(ctx context.Context, q querier, user, flag string) (flagonhttp.UserOverride, error) {
	return queryOne(ctx, q, s.q(`SELECT `+overrideColumns+` FROM flagon_user_overrides
		WHERE user_name = ? AND flag = ?`), []any{user, flag}, scanOverride)
}

// SetUserOverride implements flagonhttp.UserOverrideStore. An empty Source becomes
// "user", and a zero SetAt the time of the write.
func (s *Store) SetUserOverride(ctx context.Context, uo flagonhttp.UserOverride, c flagon.Change) error {
	user, flag := uo.User, uo.Flag
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		uo, typ, data, err := checkOverride(uo, now)
		if err != nil {
			return record{}, err
		}
		o := uo.Override
		r := record{action: "override.set", target: user, after: uo}
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

// DeleteUserOverride implements flagonhttp.UserOverrideStore. Deleting an override that
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
