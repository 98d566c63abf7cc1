package admin

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/flagon/flagon"
)

// ParseEnvRoles reads per-environment roles written as
// "production=viewer,staging=editor", for flagon.User.EnvRoles. Empty is
// none. Roles may be none, viewer, editor or admin.
func ParseEnvRoles(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	out := make(map[string]string)
	for part := range strings.SplitSeq(s, ",") {
		env, role, ok := strings.Cut(strings.TrimSpace(part), "=")
		env, role = strings.TrimSpace(env), strings.TrimSpace(role)
		if !ok || env == "" {
			return nil, fmt.Errorf("%q: want ENV=ROLE, as in production=viewer", part)
		}
		if _, dup := out[env]; dup {
			return nil, fmt.Errorf("environment %q named twice", env)
		}
		if _, known := ParseRole(role); !known && role != "none" {
			return nil, fmt.Errorf("%q: unknown role %q (want none, viewer, editor or admin)", part, role)
		}
		out[env] = role
	}
	return out, nil
}

// FormatEnvRoles writes per-environment roles as ParseEnvRoles reads
// them, sorted by environment.
func FormatEnvRoles(m map[string]string) string {
	var parts []string
	for _, env := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, env+"="+m[env])
	}
	return strings.Join(parts, ",")
}

type accountRow struct {
	flagon.User
	EnvRolesText string
	Here         string // the role in this console's environment
	Self         bool
}

type accountsData struct {
	Rows     []accountRow
	Name     string
	Role     string
	EnvRoles string
	Roles    []string
	Errors   map[string]string
}

// accountsPage lists the users who sign in to the console, for admins,
// with forms to add one, change roles, disable and remove.
func (c *Console) accountsPage(w http.ResponseWriter, r *http.Request, q *request) {
	c.renderAccounts(w, r, q, http.StatusOK, &accountsData{Role: "viewer"})
}

func (c *Console) renderAccounts(w http.ResponseWriter, r *http.Request, q *request, status int, d *accountsData) {
	d.Roles = []string{"viewer", "editor", "admin"}
	if c.opts.Users != nil {
		all, err := c.opts.Users.Users(r.Context())
		if err != nil {
			c.serverError(w, r, "read the users", err)
			return
		}
		for _, u := range all {
			d.Rows = append(d.Rows, accountRow{User: u, EnvRolesText: FormatEnvRoles(u.EnvRoles), Here: u.RoleIn(c.opts.Environment), Self: u.Name == q.principal.Name && !q.principal.Bootstrap})
		}
	}
	p := c.newPage(r, "Accounts", "accounts", d)
	if len(d.Errors) > 0 {
		p.Error = "Nothing was saved: fix the marked fields."
	}
	c.render(w, status, "accounts", p)
}

// noUsers refuses a change when the console has no user store.
func (c *Console) noUsers(w http.ResponseWriter, r *http.Request) bool {
	if c.opts.Users != nil {
		return false
	}
	c.failSay(w, r, flagon.ErrReadOnly, "This console keeps no users: they need a store.", "")
	return true
}

// addAccount creates a user. The bootstrap admin who creates the first
// user is sent to sign in as a user: the shared password ends there.
func (c *Console) addAccount(w http.ResponseWriter, r *http.Request, q *request) {
	if c.noUsers(w, r) {
		return
	}
	f := r.PostForm
	d := &accountsData{Name: strings.TrimSpace(f.Get("name")), Role: f.Get("role"), EnvRoles: f.Get("env_roles"), Errors: map[string]string{}}
	if err := flagon.ValidUserName(d.Name); err != nil {
		d.Errors["name"] = "A name has 1 to 64 letters, digits and . _ - @ characters."
	} else if _, err := c.opts.Users.User(r.Context(), d.Name); err == nil {
		d.Errors["name"] = "There is a user of that name already."
	} else if !errors.Is(err, flagon.ErrNotFound) {
		c.serverError(w, r, "read the users", err)
		return
	}
	if _, ok := ParseRole(d.Role); !ok {
		d.Errors["role"] = "Choose a role."
	}
	envRoles, err := ParseEnvRoles(d.EnvRoles)
	if err != nil {
		d.Errors["env_roles"] = "Write roles per environment as production=viewer,staging=editor (roles: none, viewer, editor, admin)."
	}
	hash, err := HashPassword(f.Get("password"))
	if err != nil {
		d.Errors["password"] = fmt.Sprintf("A password has %d to %d characters.", MinPasswordLen, MaxPasswordLen)
	}
	if len(d.Errors) > 0 {
		c.renderAccounts(w, r, q, statusOf(flagon.ErrInvalid), d)
		return
	}
	u := flagon.User{Name: d.Name, PasswordHash: hash, Role: d.Role, EnvRoles: envRoles}
	if err := c.opts.Users.PutUser(r.Context(), u, c.change(q, "added in the console")); err != nil {
		c.failSay(w, r, err, "The user could not be saved: "+err.Error(), "save the user")
		return
	}
	c.log.Info("admin: user added", "by", q.principal.Name, "user", u.Name, "role", u.Role)
	if q.principal.Bootstrap {
		c.redirect(w, r, q, "signin?next=accounts", "first-user")
		return
	}
	c.redirect(w, r, q, "accounts", "account-added")
}

// changeAccount changes a user's roles, or disables or enables them. No
// one changes their own account here, so that no admin locks themself out.
func (c *Console) changeAccount(w http.ResponseWriter, r *http.Request, q *request) {
	if c.noUsers(w, r) {
		return
	}
	name := r.PathValue("name")
	if name == q.principal.Name && !q.principal.Bootstrap {
		c.failSay(w, r, flagon.ErrInvalid, "You cannot change your own account here: ask another admin (or use flagon users).", "")
		return
	}
	u, err := c.opts.Users.User(r.Context(), name)
	if err != nil {
		c.failSay(w, r, err, "There is no user "+name+".", "read the user")
		return
	}
	f := r.PostForm
	done := "account-saved"
	switch f.Get("action") {
	case "roles":
		role, ok := ParseRole(f.Get("role"))
		envRoles, err := ParseEnvRoles(f.Get("env_roles"))
		if !ok || err != nil {
			d := &accountsData{Role: "viewer", Errors: map[string]string{"row": "Choose a role, and write roles per environment as production=viewer,staging=editor."}}
			c.renderAccounts(w, r, q, statusOf(flagon.ErrInvalid), d)
			return
		}
		u.Role, u.EnvRoles = role.String(), envRoles
	case "disable":
		u.Disabled, done = true, "account-disabled"
	case "enable":
		u.Disabled, done = false, "account-enabled"
	default:
		c.failSay(w, r, flagon.ErrInvalid, "Unknown change.", "")
		return
	}
	if err := c.opts.Users.PutUser(r.Context(), u, c.change(q, "changed in the console")); err != nil {
		c.failSay(w, r, err, "The user could not be saved: "+err.Error(), "save the user")
		return
	}
	c.log.Info("admin: user changed", "by", q.principal.Name, "user", u.Name, "role", u.Role, "disabled", u.Disabled)
	c.redirect(w, r, q, "accounts", done)
}

// removeAccount removes a user, not oneself.
func (c *Console) removeAccount(w http.ResponseWriter, r *http.Request, q *request) {
	if c.noUsers(w, r) {
		return
	}
	name := r.PathValue("name")
	if name == q.principal.Name && !q.principal.Bootstrap {
		c.failSay(w, r, flagon.ErrInvalid, "You cannot remove your own account: ask another admin.", "")
		return
	}
	if err := c.opts.Users.DeleteUser(r.Context(), name, c.change(q, "removed in the console")); err != nil {
		c.failSay(w, r, err, "There is no user "+name+".", "remove the user")
		return
	}
	c.log.Info("admin: user removed", "by", q.principal.Name, "user", name)
	c.redirect(w, r, q, "accounts", "account-removed")
}
