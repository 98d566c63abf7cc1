package flagon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// A User is a person who signs in to the admin console by name and
// password: not a user of the application whose flags are evaluated. A
// user has a default role and may have another in some environments, so
// that one account can edit flags in staging and only view them in
// production (docs/decisions/0170).
type User struct {
	// Name is what the user signs in with and what the audit log records:
	// 1 to MaxUserNameLen letters, digits and . _ - @ characters.
	Name string `json:"name"`
	// PasswordHash is the password's bcrypt hash. It is never written as
	// JSON, so never into an audit entry.
	PasswordHash string `json:"-"`
	// Role is the role in environments EnvRoles does not name: viewer,
	// editor or admin.
	Role string `json:"role"`
	// EnvRoles maps an environment to the role there, which may also be
	// "none" to keep the user out of that environment's console.
	EnvRoles map[string]string `json:"env_roles,omitempty"`
	// Disabled users cannot sign in, and their sessions end.
	Disabled bool `json:"disabled,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MaxUserNameLen bounds User.Name.
const MaxUserNameLen = 64

// userRoles are the roles a User may name; "none" only per environment.
var userRoles = []string{"viewer", "editor", "admin"}

// RoleIn returns the user's role in environment env: its EnvRoles entry,
// else Role.
func (u *User) RoleIn(env string) string {
	if r, ok := u.EnvRoles[env]; ok {
		return r
	}
	return u.Role
}

// Validate reports what makes u unfit for a UserStore, as FieldErrors: a
// name as MaxUserNameLen describes, a password hash, a role of viewer,
// editor or admin, and per-environment roles that also allow none.
func (u *User) Validate() error {
	var errs FieldErrors
	if err := ValidUserName(u.Name); err != nil {
		errs = append(errs, &FieldError{Field: "name", Msg: err.Error()})
	}
	if u.PasswordHash == "" || len(u.PasswordHash) > 200 {
		errs = append(errs, &FieldError{Field: "password_hash", Msg: "want a password hash of up to 200 bytes"})
	}
	if !slices.Contains(userRoles, u.Role) {
		errs = append(errs, &FieldError{Field: "role", Msg: fmt.Sprintf("unknown role %q (want viewer, editor or admin)", u.Role)})
	}
	for env, r := range u.EnvRoles {
		if env == "" || len(env) > 100 || !printable(env) || strings.ContainsAny(env, "=, ") {
			errs = append(errs, &FieldError{Field: "env_roles", Msg: fmt.Sprintf("bad environment name %q", env)})
		}
		if r != "none" && !slices.Contains(userRoles, r) {
			errs = append(errs, &FieldError{Field: "env_roles", Msg: fmt.Sprintf("unknown role %q in %q (want none, viewer, editor or admin)", r, env)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// ValidUserName returns an error unless name is fit for User.Name.
func ValidUserName(name string) error {
	if name == "" || len(name) > MaxUserNameLen {
		return fmt.Errorf("want 1 to %d characters", MaxUserNameLen)
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-' || r == '@') {
			return fmt.Errorf("%q: use letters, digits and . _ - @ only", name)
		}
	}
	return nil
}

// A UserStore keeps the users who sign in to the admin console. Every
// write appends its audit entry (user.add, user.update, user.remove),
// never with the password hash, in a store that is also an AuditLog.
// flagontest.TestUserStore checks any implementation.
//
// The admin package is its consumer; it is declared here, beside User,
// because the in-memory store in flagontest implements it and the admin
// package's tests use flagontest (docs/decisions/0170).
type UserStore interface {
	// Users returns every user, disabled ones included, sorted by name.
	Users(ctx context.Context) ([]User, error)
	// User returns one user, or ErrNotFound.
	User(ctx context.Context, name string) (User, error)
	// PutUser creates or replaces a user, after u.Validate. The store
	// sets UpdatedAt to the time of the write, and CreatedAt too on
	// create; a replace keeps the stored CreatedAt.
	PutUser(ctx context.Context, u User, c Change) error
	// DeleteUser removes a user; an unknown name is ErrNotFound.
	DeleteUser(ctx context.Context, name string, c Change) error
}
