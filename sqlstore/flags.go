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

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface{ Scan(...any) error }

// queryAll runs query on q and scans every row it returns with scan.
func queryAll[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryOne runs query on q and scans its one row with scan; no row is
// flagon.ErrNotFound.
func queryOne[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (T, error)) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return v, flagon.ErrNotFound
	}
	return v, err
}

// Load implements flagon.Store.
func (s *Store) Load(ctx context.Context) (flagon.Definitions, int64, error) {
	var (
		defs flagon.Definitions
		rev  int64
	)
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		defs, rev = flagon.Definitions{}, 0
		if err := tx.QueryRowContext(ctx, s.q(`SELECT revision FROM flagon_state WHERE id = 1`)).Scan(&rev); err != nil {
			return err
		}
		auds, err := s.audiences(ctx, tx)
		if err != nil {
			return err
		}
		for _, a := range auds {
			defs.Audiences = append(defs.Audiences, a.Audience)
		}
		flags, err := s.flags(ctx, tx, true)
		if err != nil {
			return err
		}
		defs.Flags = make([]flagon.Flag, 0, len(flags))
		for _, f := range flags {
			defs.Flags = append(defs.Flags, f.Flag)
		}
		return nil
	})
	if err != nil {
		return flagon.Definitions{}, 0, s.errf("load", err)
	}
	return defs, rev, nil
}

// Flags implements flagon.Store.
func (s *Store) Flags(ctx context.Context) ([]flagon.StoredFlag, error) {
	return retried(ctx, s, "list flags", func() ([]flagon.StoredFlag, error) {
		return s.flags(ctx, s.db, false)
	})
}

const flagColumns = `key, version, archived, data, updated_at, updated_by`

func (s *Store) flags(ctx context.Context, q querier, liveOnly bool) ([]flagon.StoredFlag, error) {
	query := `SELECT ` + flagColumns + ` FROM flagon_flags`
	var args []any
	if liveOnly {
		query += ` WHERE archived = ?`
		args = append(args, false)
	}
	out, err := queryAll(ctx, q, s.q(query), args, scanFlag)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b flagon.StoredFlag) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func scanFlag(row scanner) (flagon.StoredFlag, error) {
	var (
		f    flagon.StoredFlag
		key  string
		data []byte
	)
	if err := row.Scan(&key, &f.Version, &f.Archived, &data, scanTime{&f.UpdatedAt}, &f.UpdatedBy); err != nil {
		return f, err
	}
	if err := flagon.UnmarshalFlag(data, &f.Flag); err != nil {
		return f, fmt.Errorf("decode flag %q: %w", key, err)
	}
	return f, nil
}

// Flag implements flagon.Store.
func (s *Store) Flag(ctx context.Context, key string) (flagon.StoredFlag, error) {
	return retried(ctx, s, fmt.Sprintf("flag %q", key), func() (flagon.StoredFlag, error) {
		return s.flag(ctx, s.db, key)
	})
}

// flag returns the flag with the given key, or flagon.ErrNotFound.
func (s *Store) flag(ctx context.Context, q querier, key string) (flagon.StoredFlag, error) {
	return queryOne(ctx, q, s.q(`SELECT `+flagColumns+` FROM flagon_flags WHERE key = ?`), []any{key}, scanFlag)
}

// PutFlag implements flagon.Store.
func (s *Store) PutFlag(ctx context.Context, f flagon.Flag, version int64, c flagon.Change) (int64, error) {
	var newVersion int64
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		r, v, err := s.putFlag(ctx, tx, rev, now, f, version, c.Actor)
		newVersion = v
		return r, err
	})
	if err != nil {
		return 0, s.errf(fmt.Sprintf("put flag %q", f.Key), err)
	}
	return newVersion, nil
}

// putFlag is PutFlag in the write transaction tx: it creates (version 0)
// or replaces (the version given) f, and returns the write's record and
// the flag's new version.
func (s *Store) putFlag(ctx context.Context, tx *sql.Tx, rev int64, now time.Time, f flagon.Flag, version int64, actor string) (record, int64, error) {
	old, err := s.flag(ctx, tx, f.Key)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, flagon.ErrNotFound):
		return record{}, 0, err
	case version == 0 && exists:
		return record{}, 0, fmt.Errorf("%w: flag %q exists (version %d)", flagon.ErrConflict, f.Key, old.Version)
	case version != 0 && !exists:
		return record{}, 0, fmt.Errorf("version %d given: %w", version, flagon.ErrNotFound)
	case exists && old.Version != version:
		return record{}, 0, fmt.Errorf("%w: version %d given, flag %q is at version %d", flagon.ErrConflict, version, f.Key, old.Version)
	}
	auds, err := s.audiences(ctx, tx)
	if err != nil {
		return record{}, 0, err
	}
	if err := validateFlag(f, auds); err != nil {
		return record{}, 0, err
	}
	data, err := encode("flag", f.Key, f)
	if err != nil {
		return record{}, 0, err
	}
	nf := flagon.StoredFlag{Flag: f, Version: version + 1, Archived: old.Archived, UpdatedAt: now, UpdatedBy: actor}
	r := record{action: "flag.update", target: f.Key, after: nf}
	if exists {
		r.before = old
		_, err = tx.ExecContext(ctx, s.q(`UPDATE flagon_flags
			SET version = ?, data = ?, updated_at = ?, updated_by = ?, revision = ?
			WHERE key = ?`),
			nf.Version, string(data), s.d.Time(now), actor, rev, f.Key)
	} else {
		r.action = "flag.create"
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO flagon_flags
			(key, version, archived, data, updated_at, updated_by, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?)`),
			f.Key, nf.Version, false, string(data), s.d.Time(now), actor, rev)
	}
	return r, nf.Version, err
}

// validateFlag checks f as part of the store's would-be definitions: f
// itself, and the audiences it refers to.
func validateFlag(f flagon.Flag, auds []flagon.StoredAudience) error {
	defs := flagon.Definitions{Flags: []flagon.Flag{f}}
	for _, a := range auds {
		defs.Audiences = append(defs.Audiences, a.Audience)
	}
	return defs.Validate()
}

// ArchiveFlag implements flagon.Store. Archiving an archived flag (or
// restoring a live one) changes nothing and returns the same version.
func (s *Store) ArchiveFlag(ctx context.Context, key string, archived bool, version int64, c flagon.Change) (int64, error) {
	var newVersion int64
	op := "archive"
	if !archived {
		op = "restore"
	}
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		old, err := s.flag(ctx, tx, key)
		if err != nil {
			return record{}, err
		}
		if old.Version != version {
			return record{}, fmt.Errorf("%w: version %d given, flag %q is at version %d", flagon.ErrConflict, version, key, old.Version)
		}
		if old.Archived == archived {
			newVersion = old.Version
			return record{}, errNoChange
		}
		if !archived {
			auds, err := s.audiences(ctx, tx)
			if err != nil {
				return record{}, err
			}
			if err := validateFlag(old.Flag, auds); err != nil {
				return record{}, err
			}
		}
		nf := old
		nf.Archived, nf.Version, nf.UpdatedAt, nf.UpdatedBy = archived, old.Version+1, now, c.Actor
		_, err = tx.ExecContext(ctx, s.q(`UPDATE flagon_flags
			SET archived = ?, version = ?, updated_at = ?, updated_by = ?, revision = ?
			WHERE key = ?`),
			archived, nf.Version, s.d.Time(now), c.Actor, rev, key)
		newVersion = nf.Version
		return record{action: "flag." + op, target: key, before: old, after: nf}, err
	})
	if err != nil {
		return 0, s.errf(fmt.Sprintf("%s flag %q", op, key), err)
	}
	return newVersion, nil
}

// Audiences implements flagon.Store.
func (s *Store) Audiences(ctx context.Context) ([]flagon.StoredAudience, error) {
	return retried(ctx, s, "list audiences", func() ([]flagon.StoredAudience, error) {
		return s.audiences(ctx, s.db)
	})
}

const audienceColumns = `name, version, data, updated_at`

func (s *Store) audiences(ctx context.Context, q querier) ([]flagon.StoredAudience, error) {
	out, err := queryAll(ctx, q, s.q(`SELECT `+audienceColumns+` FROM flagon_audiences`), nil, scanAudience)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b flagon.StoredAudience) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func scanAudience(row scanner) (flagon.StoredAudience, error) {
	var (
		a    flagon.StoredAudience
		name string
		data []byte
	)
	if err := row.Scan(&name, &a.Version, &data, scanTime{&a.UpdatedAt}); err != nil {
		return a, err
	}
	if err := json.Unmarshal(data, &a.Audience); err != nil {
		return a, fmt.Errorf("decode audience %q: %w", name, err)
	}
	return a, nil
}

func (s *Store) audience(ctx context.Context, q querier, name string) (flagon.StoredAudience, error) {
	return queryOne(ctx, q, s.q(`SELECT `+audienceColumns+` FROM flagon_audiences WHERE name = ?`), []any{name}, scanAudience)
}

// PutAudience implements flagon.Store.
func (s *Store) PutAudience(ctx context.Context, a flagon.Audience, version int64, c flagon.Change) (int64, error) {
	var newVersion int64
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		old, err := s.audience(ctx, tx, a.Name)
		exists := err == nil
		switch {
		case err != nil && !errors.Is(err, flagon.ErrNotFound):
			return record{}, err
		case version == 0 && exists:
			return record{}, fmt.Errorf("%w: audience %q exists (version %d)", flagon.ErrConflict, a.Name, old.Version)
		case version != 0 && !exists:
			return record{}, fmt.Errorf("version %d given: %w", version, flagon.ErrNotFound)
		case exists && old.Version != version:
			return record{}, fmt.Errorf("%w: version %d given, audience %q is at version %d", flagon.ErrConflict, version, a.Name, old.Version)
		}
		// Audiences refer to no other audience, and a flag refers to one
		// by name, so the audience alone decides whether the would-be
		// definitions stay valid.
		defs := flagon.Definitions{Audiences: []flagon.Audience{a}}
		if err := defs.Validate(); err != nil {
			return record{}, err
		}
		data, err := encode("audience", a.Name, a)
		if err != nil {
			return record{}, err
		}
		na := flagon.StoredAudience{Audience: a, Version: version + 1, UpdatedAt: now}
		r := record{action: "audience.update", target: a.Name, after: na}
		if exists {
			r.before = old
			_, err = tx.ExecContext(ctx, s.q(`UPDATE flagon_audiences
				SET version = ?, data = ?, updated_at = ?, updated_by = ?, revision = ?
				WHERE name = ?`),
				na.Version, string(data), s.d.Time(now), c.Actor, rev, a.Name)
		} else {
			r.action = "audience.create"
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO flagon_audiences
				(name, version, data, updated_at, updated_by, revision)
				VALUES (?, ?, ?, ?, ?, ?)`),
				a.Name, na.Version, string(data), s.d.Time(now), c.Actor, rev)
		}
		newVersion = na.Version
		return r, err
	})
	if err != nil {
		return 0, s.errf(fmt.Sprintf("put audience %q", a.Name), err)
	}
	return newVersion, nil
}

// DeleteAudience implements flagon.Store. It refuses, with the field
// errors of the flags that would break, to delete an audience a live flag
// refers to.
func (s *Store) DeleteAudience(ctx context.Context, name string, version int64, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		old, err := s.audience(ctx, tx, name)
		if err != nil {
			return record{}, err
		}
		if old.Version != version {
			return record{}, fmt.Errorf("%w: version %d given, audience %q is at version %d", flagon.ErrConflict, version, name, old.Version)
		}
		if err := s.checkUnused(ctx, tx, name); err != nil {
			return record{}, err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM flagon_audiences WHERE name = ?`), name)
		return record{action: "audience.delete", target: name, before: old}, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("delete audience %q", name), err)
	}
	return nil
}

// checkUnused validates the live flags against the audiences without
// name, returning the field errors that deleting it would cause.
func (s *Store) checkUnused(ctx context.Context, tx *sql.Tx, name string) error {
	auds, err := s.audiences(ctx, tx)
	if err != nil {
		return err
	}
	flags, err := s.flags(ctx, tx, true)
	if err != nil {
		return err
	}
	defs := flagon.Definitions{}
	for _, a := range auds {
		defs.Audiences = append(defs.Audiences, a.Audience)
	}
	for _, f := range flags {
		defs.Flags = append(defs.Flags, f.Flag)
	}
	return defs.CheckAudienceDelete(name)
}
