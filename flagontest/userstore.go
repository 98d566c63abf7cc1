package flagontest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// copyUser returns u with its own EnvRoles map.
func copyUser(u flagon.User) flagon.User {
	if len(u.EnvRoles) == 0 {
		u.EnvRoles = nil
	} else {
		u.EnvRoles = maps.Clone(u.EnvRoles)
	}
	return u
}

// Users implements flagon.UserStore.
func (m *MemoryStore) Users(ctx context.Context) ([]flagon.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("users"); err != nil {
		return nil, err
	}
	var out []flagon.User
	for _, name := range slices.Sorted(maps.Keys(m.users)) {
		out = append(out, copyUser(m.users[name]))
	}
	return out, nil
}

// User implements flagon.UserStore.
func (m *MemoryStore) User(ctx context.Context, name string) (flagon.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("user"); err != nil {
		return flagon.User{}, err
	}
	u, ok := m.users[name]
	if !ok {
		return flagon.User{}, fmt.Errorf("memory store: user %q: %w", name, flagon.ErrNotFound)
	}
	return copyUser(u), nil
}

// PutUser implements flagon.UserStore.
func (m *MemoryStore) PutUser(ctx context.Context, u flagon.User, c flagon.Change) error {
	return m.write(fmt.Sprintf("put user %q", u.Name), c, func(rev int64, now time.Time) (memRecord, error) {
		if err := u.Validate(); err != nil {
			return memRecord{}, err
		}
		u = copyUser(u)
		old, ok := m.users[u.Name]
		u.UpdatedAt = storeTime(now)
		if !ok {
			u.CreatedAt = u.UpdatedAt
			m.users[u.Name] = u
			return memRecord{action: "user.add", target: u.Name, after: u}, nil
		}
		u.CreatedAt = old.CreatedAt
		m.users[u.Name] = u
		return memRecord{action: "user.update", target: u.Name, before: old, after: u}, nil
	})
}

// DeleteUser implements flagon.UserStore.
func (m *MemoryStore) DeleteUser(ctx context.Context, name string, c flagon.Change) error {
	return m.write(fmt.Sprintf("remove user %q", name), c, func(rev int64, now time.Time) (memRecord, error) {
		old, ok := m.users[name]
		if !ok {
			return memRecord{}, fmt.Errorf("user %q: %w", name, flagon.ErrNotFound)
		}
		delete(m.users, name)
		return memRecord{action: "user.remove", target: name, before: old}, nil
	})
}

// TestUserStore checks that a flagon.UserStore keeps the interface's
// promises: users come back as put (hash, roles, disabled flag), sorted by
// name, with CreatedAt set on create and kept on replace and UpdatedAt
// moved by every write; unknown names are flagon.ErrNotFound; invalid
// users are refused with field errors; every write is audited as
// user.add, user.update or user.remove; and no audit entry holds a
// password hash. newStore must return a new, empty store each time.
func TestUserStore(t *testing.T, newStore func(t *testing.T) flagon.UserStore) {
	s := openStore(t, newStore)
	ctx := t.Context()
	users, err := s.Users(ctx)
	mustStore(t, err)
	if len(users) != 0 {
		t.Fatalf("a new store has %d users", len(users))
	}
	wantStoreErr(t, "User of an unknown name", errOnly(s.User(ctx, "ann")), flagon.ErrNotFound)
	wantStoreErr(t, "DeleteUser of an unknown name", s.DeleteUser(ctx, "ann", changeBy("ann")), flagon.ErrNotFound)

	const hashA, hashB = "$2a$10$hashOfAnnsFirstPassword", "$2a$10$hashOfAnnsSecondPasswordX"
	ann := flagon.User{Name: "ann", PasswordHash: hashA, Role: "editor", EnvRoles: map[string]string{"production": "viewer", "sandbox": "none"}}
	bob := flagon.User{Name: "bob.b@example.com", PasswordHash: hashB, Role: "admin"}
	before := time.Now().Add(-time.Second)
	checkWrites(t, s, []recordWrite{
		{"add bob", func() error { return s.PutUser(ctx, bob, changeBy("ann")) }, "user.add", bob.Name, false, true, true},
		{"add ann", func() error { return s.PutUser(ctx, ann, changeBy("ann")) }, "user.add", "ann", false, true, true},
	})
	users, err = s.Users(ctx)
	mustStore(t, err)
	if len(users) != 2 || users[0].Name != "ann" || users[1].Name != bob.Name {
		t.Fatalf("Users = %v, want ann then %s (by name)", users, bob.Name)
	}
	got, err := s.User(ctx, "ann")
	mustStore(t, err)
	if got.PasswordHash != hashA || got.Role != "editor" || len(got.EnvRoles) != 2 || got.EnvRoles["production"] != "viewer" || got.EnvRoles["sandbox"] != "none" || got.Disabled {
		t.Errorf("User(ann) = %+v, want %+v", got, ann)
	}
	if got.RoleIn("production") != "viewer" || got.RoleIn("staging") != "editor" {
		t.Errorf("ann's roles: production %q, staging %q; want viewer, editor", got.RoleIn("production"), got.RoleIn("staging"))
	}
	if got.CreatedAt.Before(before) || !got.UpdatedAt.Equal(got.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("ann's times: created %v, updated %v; want the time of the write, in UTC, both", got.CreatedAt, got.UpdatedAt)
	}
	if b, _ := s.User(ctx, bob.Name); b.EnvRoles != nil {
		t.Errorf("bob's EnvRoles = %#v, want nil", b.EnvRoles)
	}
	created := got.CreatedAt

	// What the caller holds is not the store's.
	got.EnvRoles["production"] = "admin"
	if again, _ := s.User(ctx, "ann"); again.EnvRoles["production"] != "viewer" {
		t.Errorf("changing a returned user's roles changed the store's")
	}

	ann2 := ann
	ann2.PasswordHash, ann2.Role, ann2.EnvRoles, ann2.Disabled = hashB, "viewer", nil, true
	ann2.CreatedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // ignored
	checkWrites(t, s, []recordWrite{
		{"replace ann", func() error { return s.PutUser(ctx, ann2, changeBy("ann")) }, "user.update", "ann", true, true, true},
	})
	got, err = s.User(ctx, "ann")
	mustStore(t, err)
	if got.PasswordHash != hashB || got.Role != "viewer" || got.EnvRoles != nil || !got.Disabled {
		t.Errorf("after replace: %+v, want hash B, viewer everywhere, disabled", got)
	}
	if !got.CreatedAt.Equal(created) || got.UpdatedAt.Before(created) {
		t.Errorf("after replace: created %v (want %v kept), updated %v (want no earlier)", got.CreatedAt, created, got.UpdatedAt)
	}

	for _, bad := range []flagon.User{
		{Name: "", PasswordHash: hashA, Role: "viewer"},
		{Name: "has space", PasswordHash: hashA, Role: "viewer"},
		{Name: strings.Repeat("x", flagon.MaxUserNameLen+1), PasswordHash: hashA, Role: "viewer"},
		{Name: "cy", Role: "viewer"},
		{Name: "cy", PasswordHash: hashA, Role: "owner"},
		{Name: "cy", PasswordHash: hashA, Role: "none"},
		{Name: "cy", PasswordHash: hashA, Role: "viewer", EnvRoles: map[string]string{"production": "root"}},
		{Name: "cy", PasswordHash: hashA, Role: "viewer", EnvRoles: map[string]string{"": "viewer"}},
	} {
		wantFieldErrors(t, fmt.Sprintf("PutUser(%+v)", bad), s.PutUser(ctx, bad, changeBy("ann")))
	}
	if _, err := s.User(ctx, "cy"); err == nil {
		t.Errorf("an invalid user was stored")
	}

	checkWrites(t, s, []recordWrite{
		{"remove ann", func() error { return s.DeleteUser(ctx, "ann", changeBy("ann")) }, "user.remove", "ann", true, false, true},
	})
	wantStoreErr(t, "User after DeleteUser", errOnly(s.User(ctx, "ann")), flagon.ErrNotFound)
	users, err = s.Users(ctx)
	mustStore(t, err)
	if len(users) != 1 || users[0].Name != bob.Name {
		t.Errorf("after removing ann: %v, want only %s", users, bob.Name)
	}

	if log, ok := s.(flagon.AuditLog); ok {
		es, err := log.Audit(ctx, flagon.AuditQuery{Limit: 100})
		mustStore(t, err)
		n := 0
		for _, e := range es {
			if !strings.HasPrefix(e.Action, "user.") {
				continue
			}
			n++
			if e.Actor != "ann" {
				t.Errorf("audit entry %s %s: actor %q, want ann", e.Action, e.Target, e.Actor)
			}
			for _, raw := range []json.RawMessage{e.Before, e.After} {
				if strings.Contains(string(raw), "hashOf") || strings.Contains(string(raw), "$2a$") || strings.Contains(string(raw), "password") {
					t.Errorf("audit entry %s %s holds the password hash: %s", e.Action, e.Target, raw)
				}
			}
		}
		if n != 4 {
			t.Errorf("%d user audit entries, want 4 (two adds, a replace, a remove)", n)
		}
	}
}

// errOnly returns the error of a call that also returns a value.
func errOnly[T any](_ T, err error) error { return err }
