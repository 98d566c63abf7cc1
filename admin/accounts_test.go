package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagontest"
)

// usersHarness is a console whose sign-in checks the users of its store,
// in environment "development", with the shared password testPassword.
func usersHarness(t *testing.T) (*harness, *PasswordAuth) {
	t.Helper()
	st := flagontest.NewMemoryStore()
	auth, err := NewPasswordAuth(testPassword, &PasswordOptions{Users: st, Environment: "development"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{store: st, users: true, authorize: auth.Authorize, signIn: auth})
	return h, auth
}

// addUser puts a user with password straight into the store.
func addUser(t *testing.T, st flagon.UserStore, name, password, role string, envRoles map[string]string) {
	t.Helper()
	hash, err := HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutUser(context.Background(), flagon.User{Name: name, PasswordHash: hash, Role: role, EnvRoles: envRoles}, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// signIn signs b in with name and password and returns the response.
func signIn(t *testing.T, b *browser, name, password string) response {
	t.Helper()
	form := signInForm(t, b)
	form.Set("name", name)
	form.Set("password", password)
	return b.post("/admin/signin", form)
}

func TestBootstrapSignIn(t *testing.T) {
	h, _ := usersHarness(t)
	b := h.browser("")
	page := b.get("/admin/signin")
	mustContain(t, page.body, "No users exist yet")
	if r := signIn(t, b, "", "wrong password!"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong shared password: %d", r.status)
	}
	r := signIn(t, b, "whoever", testPassword)
	if r.status != http.StatusSeeOther {
		t.Fatalf("shared password with no users: %d: %s", r.status, snippet(r.body))
	}
	page = b.follow(r)
	mustContain(t, page.body, `id="bootstrap-banner"`, "admin <span class=\"role\">admin</span>", `href="/admin/accounts"`)

	// The bootstrap admin adds the first user, and is sent to sign in.
	page = b.get("/admin/accounts")
	mustContain(t, page.body, "No users yet.")
	form := formOf(t, page.body, "accounts/new")
	form.Set("name", "ann")
	form.Set("password", "anns password")
	form.Set("role", "admin")
	r = b.post("/admin/accounts/new", form)
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "signin") || !strings.Contains(r.location, "done=first-user") {
		t.Fatalf("first user: %d to %q: %s", r.status, r.location, snippet(r.body))
	}
	// The bootstrap session has ended, and the shared password no longer
	// signs in.
	if r := b.get("/admin/flags"); r.status != http.StatusSeeOther || !strings.Contains(r.location, "signin") {
		t.Errorf("bootstrap session after the first user: %d to %q", r.status, r.location)
	}
	b = h.browser("")
	page = b.get("/admin/signin")
	mustNotContain(t, page.body, "No users exist yet")
	for _, name := range []string{"", "admin", "ann"} {
		if r := signIn(t, b, name, testPassword); r.status != http.StatusUnauthorized {
			t.Errorf("shared password as %q once a user exists: %d", name, r.status)
		}
	}
	if r := signIn(t, b, "ann", "anns password"); r.status != http.StatusSeeOther {
		t.Fatalf("ann: %d: %s", r.status, snippet(r.body))
	}
	page = b.get("/admin/accounts")
	mustContain(t, page.body, "ann <span class=\"role\">admin</span>", `data-user="ann"`)
	mustNotContain(t, page.body, "bootstrap-banner")

	// The audit log names who added ann: the bootstrap admin.
	es, _ := h.store.Audit(context.Background(), flagon.AuditQuery{Limit: 10})
	if len(es) == 0 || es[0].Action != "user.add" || es[0].Actor != BootstrapName || strings.Contains(string(es[0].After), "$2") {
		t.Errorf("audit entry of the first user = %+v", es[0])
	}
}

func TestUserSignIn(t *testing.T) {
	h, auth := usersHarness(t)
	addUser(t, h.store, "ann", "anns password", "admin", nil)
	addUser(t, h.store, "ed", "eds password", "viewer", map[string]string{"development": "editor"})
	addUser(t, h.store, "vic", "vics password", "editor", map[string]string{"development": "viewer"})
	addUser(t, h.store, "nobody", "nobodys password", "admin", map[string]string{"development": "none"})
	now := time.Now()
	auth.now = func() time.Time { return now }

	b := h.browser("")
	wrong := signIn(t, b, "ann", "not anns password")
	unknown := signIn(t, b, "zed", "not anns password")
	if wrong.status != http.StatusUnauthorized || unknown.status != http.StatusUnauthorized {
		t.Fatalf("wrong password %d, unknown user %d; want 401 both", wrong.status, unknown.status)
	}
	mustContain(t, wrong.body, "That name and password do not match.")
	mustContain(t, unknown.body, "That name and password do not match.")
	if r := signIn(t, b, "nobody", "nobodys password"); r.status != http.StatusSeeOther {
		t.Fatalf("nobody signs in: %d", r.status)
	} else if r = b.follow(r); r.status != http.StatusForbidden {
		t.Errorf("a user with role none here: %d, want 403", r.status)
	}

	// Each role, signed in, has its rights here (its development role).
	tests := []struct {
		user, password string
		method, path   string
		want           int
	}{
		{"vic", "vics password", "GET", "/admin/flags/checkout", http.StatusOK},
		{"vic", "vics password", "POST", "/admin/flags/checkout/kill", http.StatusForbidden},
		{"vic", "vics password", "GET", "/admin/accounts", http.StatusForbidden},
		{"vic", "vics password", "POST", "/admin/accounts/new", http.StatusForbidden},
		{"ed", "eds password", "GET", "/admin/flags/new", http.StatusOK},
		{"ed", "eds password", "GET", "/admin/accounts", http.StatusForbidden},
		{"ed", "eds password", "POST", "/admin/accounts/vic/change", http.StatusForbidden},
		{"ed", "eds password", "POST", "/admin/accounts/vic/remove", http.StatusForbidden},
		{"ann", "anns password", "GET", "/admin/accounts", http.StatusOK},
	}
	for _, tt := range tests {
		b := h.browser("")
		if r := signIn(t, b, tt.user, tt.password); r.status != http.StatusSeeOther {
			t.Fatalf("%s signs in: %d", tt.user, r.status)
		}
		b.get("/admin/overrides")
		var r response
		if tt.method == "GET" {
			r = b.get(tt.path)
		} else {
			r = b.post(tt.path, url.Values{"action": {"disable"}})
		}
		if r.status != tt.want {
			t.Errorf("%s %s %s: %d, want %d", tt.user, tt.method, tt.path, r.status, tt.want)
		}
	}

	// An editor's change is audited under their name.
	ed := h.browser("")
	signIn(t, ed, "ed", "eds password")
	ed.get("/admin/flags/checkout")
	sf, _ := h.store.Flag(context.Background(), "checkout")
	r := ed.post("/admin/flags/checkout/kill", url.Values{"version": {strconv.FormatInt(sf.Version, 10)}, "disabled": {"1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("ed kills checkout: %d: %s", r.status, snippet(r.body))
	}
	es, _ := h.store.Audit(context.Background(), flagon.AuditQuery{Limit: 1})
	if len(es) != 1 || es[0].Actor != "ed" {
		t.Errorf("last audit entry = %+v, want one by ed", es)
	}

	// Disabling a user, or changing their password, ends their sessions.
	vic := h.browser("")
	signIn(t, vic, "vic", "vics password")
	ann := h.browser("")
	signIn(t, ann, "ann", "anns password")
	page := ann.get("/admin/accounts")
	mustContain(t, page.body, `data-user="vic"`, `action="/admin/accounts/vic/change"`, `action="/admin/accounts/vic/remove"`, `value="development=viewer"`)
	if r := ann.post("/admin/accounts/vic/change", url.Values{"action": {"disable"}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable vic: %d: %s", r.status, snippet(r.body))
	}
	if r := vic.get("/admin/flags"); r.status != http.StatusSeeOther {
		t.Errorf("a disabled user's session: %d, want a redirect to sign in", r.status)
	}
	if r := signIn(t, h.browser(""), "vic", "vics password"); r.status != http.StatusUnauthorized {
		t.Errorf("a disabled user signs in: %d", r.status)
	}
	signIn(t, ed, "ed", "eds password")
	addUser(t, h.store, "ed", "eds new password", "editor", nil)
	if r := ed.get("/admin/flags"); r.status != http.StatusSeeOther {
		t.Errorf("a session from before a new password: %d, want a redirect to sign in", r.status)
	}

	// An admin changes roles, not their own; removes users, not themself.
	ann.get("/admin/accounts")
	if r := ann.post("/admin/accounts/ed/change", url.Values{"action": {"roles"}, "role": {"viewer"}, "env_roles": {"staging=admin"}}); r.status != http.StatusSeeOther {
		t.Fatalf("set ed's roles: %d: %s", r.status, snippet(r.body))
	}
	if u, _ := h.store.User(context.Background(), "ed"); u.Role != "viewer" || u.EnvRoles["staging"] != "admin" || len(u.EnvRoles) != 1 {
		t.Errorf("ed = %+v", u)
	}
	ann.get("/admin/accounts")
	if r := ann.post("/admin/accounts/ed/change", url.Values{"action": {"roles"}, "role": {"viewer"}, "env_roles": {"staging=boss"}}); r.status != http.StatusBadRequest {
		t.Errorf("a bad role: %d", r.status)
	}
	ann.get("/admin/accounts")
	for _, path := range []string{"/admin/accounts/ann/change", "/admin/accounts/ann/remove"} {
		if r := ann.post(path, url.Values{"action": {"disable"}}); r.status != http.StatusBadRequest {
			t.Errorf("ann changes herself at %s: %d", path, r.status)
		}
	}
	if r := ann.post("/admin/accounts/vic/remove", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("remove vic: %d", r.status)
	}
	if _, err := h.store.User(context.Background(), "vic"); err == nil {
		t.Error("vic is still there")
	}
	// Forms without a token are refused.
	req, _ := http.NewRequest("POST", h.srv.URL+"/admin/accounts/ed/remove", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := ann.do(req); r.status != http.StatusForbidden {
		t.Errorf("remove without a form token: %d", r.status)
	}

	// Failures lock a name out, the right password too, until the wait
	// is over.
	for range freeFailures + 1 {
		signIn(t, h.browser(""), "ann", "guess guess")
	}
	if r := signIn(t, h.browser(""), "ann", "anns password"); r.status != http.StatusTooManyRequests {
		t.Errorf("ann after %d failures: %d, want 429", freeFailures+1, r.status)
	}
	now = now.Add(2 * firstLock)
	if r := signIn(t, h.browser(""), "ann", "anns password"); r.status != http.StatusSeeOther {
		t.Errorf("ann after the wait: %d", r.status)
	}
}

func TestParseEnvRoles(t *testing.T) {
	m, err := ParseEnvRoles(" production=viewer, staging = editor ,dev=none")
	if err != nil || len(m) != 3 || m["production"] != "viewer" || m["staging"] != "editor" || m["dev"] != "none" {
		t.Errorf("ParseEnvRoles = %v, %v", m, err)
	}
	if got := FormatEnvRoles(m); got != "dev=none,production=viewer,staging=editor" {
		t.Errorf("FormatEnvRoles = %q", got)
	}
	for _, bad := range []string{"production", "=viewer", "production=root", "a=viewer,a=editor"} {
		if _, err := ParseEnvRoles(bad); err == nil {
			t.Errorf("ParseEnvRoles(%q) accepted", bad)
		}
	}
	if m, err := ParseEnvRoles(""); m != nil || err != nil {
		t.Errorf("ParseEnvRoles(\"\") = %v, %v", m, err)
	}
}
