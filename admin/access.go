package admin

import (
	"errors"
	"net/http"
)

// Role says what a principal may do in the console. Roles are ordered:
// each includes the ones before it.
type Role int

// The roles.
const (
	// RoleNone may do nothing; a principal with it is refused (403).
	RoleNone Role = iota
	// RoleViewer sees every page and overrides flags for itself, in its
	// browser and, with a store, for its login.
	RoleViewer
	// RoleEditor also creates, edits, archives and kills flags, and mints
	// share links.
	RoleEditor
	// RoleAdmin also lists, changes and revokes everyone's overrides and
	// share links.
	RoleAdmin
)

// String returns the role's name: none, viewer, editor or admin.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleEditor:
		return "editor"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole returns the role that s names (viewer, editor or admin).
func ParseRole(s string) (Role, bool) {
	switch s {
	case "viewer":
		return RoleViewer, true
	case "editor":
		return RoleEditor, true
	case "admin":
		return RoleAdmin, true
	}
	return RoleNone, false
}

// A Principal is who makes a request: the name the audit log records and
// per-login overrides are kept under, and a role.
type Principal struct {
	Name string
	Role Role
	// Bootstrap marks the first-run admin who signed in with the shared
	// password because the user store has no users: the console asks
	// them to create one (see PasswordOptions.Users).
	Bootstrap bool
}

// Errors that Options.Authorize returns to say why it refused a request.
var (
	// ErrUnauthenticated means the request carries no valid credentials:
	// the console sends browsers to the sign-in page (when there is one),
	// others get 401.
	ErrUnauthenticated = errors.New("admin: not signed in")
	// ErrForbidden means the request's principal may not use the console:
	// 403.
	ErrForbidden = errors.New("admin: forbidden")
)

// denyAll is the Authorize used when Options.Authorize is nil: it refuses
// every request, so that a console mounted without thought shows nothing.
func denyAll(*http.Request) (Principal, error) { return Principal{}, ErrUnauthenticated }
