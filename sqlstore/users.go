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

var _ flagon.UserStore = (*Store)(nil)

const userColumns = `name, password_hash, role, env_roles, disabled, created_at, updated_at`

// Users implements flagon.UserStore.
func (s *Store) Users(ctx context.Context) ([]flagon.User, error) {
	return retried(ctx, s, "users", func() ([]flagon.User, error) {
		return queryAll(ctx, s.db, `SELECT `+userColumns+` FROM flagon_users ORDER BY name`, nil, scanUser)
	})
}

// User implements flagon.UserStore.
func (s *Store) User(ctx context.Context, name string) (flagon.User, error) {
	var u flagon.User
	err := s.retry(ctx, func() error {
		var err error
		u, err = queryOne(ctx, s.db, s.q(`SELECT `+userColumns+` FROM flagon_users WHERE name = ?`), []any{name}, scanUser)
		return err
	})
	if errors.Is(err, flagon.ErrNotFound) {
		return flagon.User{}, fmt.Errorf("user %q: %w", name, flagon.ErrNotFound)
	}
	if err != nil {
		return flagon.User{}, s.errf(fmt.Sprintf("user %q", name), err)
	}
	return u, nil
}

func scanUser(row scanner) (flagon.User, error) {
	var (
		u        flagon.User
		envRoles string
	)
	if err := row.Scan(&u.Name, &u.PasswordHash, &u.Role, &envRoles, &u.Disabled, scanTime{&u.CreatedAt}, scanTime{&u.UpdatedAt}); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(envRoles), &u.EnvRoles); err != nil {
		return u, fmt.Errorf("user %q: roles: %w", u.Name, err)
	}
	if len(u.EnvRoles) == 0 {
		u.EnvRoles = nil
	}
	return u, nil
}

// PutUser implements flagon.UserStore.
func (s *Store) PutUser(ctx context.Context, u flagon.User, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		if err := u.Validate(); err != nil {
			return record{}, err
		}
		envRoles, err := json.Marshal(u.EnvRoles)
		if err != nil {
			return record{}, err
		}
		if len(u.EnvRoles) == 0 {
			envRoles = []byte("{}")
		}
		old, err := queryOne(ctx, tx, s.q(`SELECT `+userColumns+` FROM flagon_users WHERE name = ?`), []any{u.Name}, scanUser)
		switch {
		case errors.Is(err, flagon.ErrNotFound):
			u.CreatedAt, u.UpdatedAt = Round(now), Round(now)
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO flagon_users (`+userColumns+`, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
				u.Name, u.PasswordHash, u.Role, string(envRoles), u.Disabled, s.d.Time(u.CreatedAt), s.d.Time(u.UpdatedAt), rev)
			return record{action: "user.add", target: u.Name, after: u}, err
		case err != nil:
			return record{}, err
		}
		u.CreatedAt, u.UpdatedAt = old.CreatedAt, Round(now)
		_, err = tx.ExecContext(ctx, s.q(`UPDATE flagon_users SET password_hash = ?, role = ?, env_roles = ?, disabled = ?, updated_at = ?, revision = ?
			WHERE name = ?`), u.PasswordHash, u.Role, string(envRoles), u.Disabled, s.d.Time(u.UpdatedAt), rev, u.Name)
		return record{action: "user.update", target: u.Name, before: old, after: u}, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("put user %q", u.Name), err)
	}
	return nil
}

// DeleteUser implements flagon.UserStore.
func (s *Store) DeleteUser(ctx context.Context, name string, c flagon.Change) error {
	_, err := s.write(ctx, c, func(tx *sql.Tx, rev int64, now time.Time) (record, error) {
		old, err := queryOne(ctx, tx, s.q(`SELECT `+userColumns+` FROM flagon_users WHERE name = ?`), []any{name}, scanUser)
		if errors.Is(err, flagon.ErrNotFound) {
			return record{}, fmt.Errorf("user %q: %w", name, flagon.ErrNotFound)
		}
		if err != nil {
			return record{}, err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM flagon_users WHERE name = ?`), name)
		return record{action: "user.remove", target: name, before: old}, err
	})
	if err != nil {
		return s.errf(fmt.Sprintf("remove user %q", name), err)
	}
	return nil
}
