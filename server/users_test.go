package server_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/server"
)

// TestUsersInServer: on a new store the shared password signs in as the
// bootstrap admin, whose console asks for a user; once a user exists it
// no longer does, and users sign in with their role in the server's
// environment.
func TestUsersInServer(t *testing.T) {
	st := flagontest.NewMemoryStore()
	seed(t, st)
	srv, err := server.New(t.Context(), st, &server.Options{Environment: "production", Production: true, AdminPassword: prodPassword, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	ts := hs.URL

	boot := newBrowser(t)
	code, body := boot.signInAs(ts, "", prodPassword)
	if code != http.StatusOK || !strings.Contains(body, `id="bootstrap-banner"`) {
		t.Fatalf("shared password on a store with no users: %d, banner %v", code, strings.Contains(body, "bootstrap-banner"))
	}
	if !boot.signedIn(ts) {
		t.Fatal("the bootstrap admin is not let in")
	}

	hash, err := admin.HashPassword("eds password")
	if err != nil {
		t.Fatal(err)
	}
	ed := flagon.User{Name: "ed", PasswordHash: hash, Role: "editor", EnvRoles: map[string]string{"production": "viewer"}}
	if err := st.PutUser(t.Context(), ed, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if boot.signedIn(ts) {
		t.Error("the bootstrap session outlives the first user")
	}
	if code, _ := newBrowser(t).signInAs(ts, "admin", prodPassword); code != http.StatusUnauthorized {
		t.Errorf("shared password once a user exists: %d, want 401", code)
	}

	b := newBrowser(t)
	if code, _ := b.signInAs(ts, "ed", "eds password"); code != http.StatusOK {
		t.Fatalf("ed signs in: %d", code)
	}
	code, page := b.get(ts, "/admin/flags/staff-only")
	if code != http.StatusOK || !strings.Contains(page, `ed <span class="role">viewer</span>`) {
		t.Fatalf("ed's flag page: %d, want ed as viewer (in production)", code)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no form token")
	}
	form := url.Values{"csrf": {html.UnescapeString(m[1])}, "version": {"1"}, "disabled": {"1"}}
	req, _ := http.NewRequest("POST", ts+"/admin/flags/staff-only/kill", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", ts)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if code, _ := b.do(req); code != http.StatusForbidden {
		t.Errorf("ed, a viewer in production, kills a flag: %d, want 403", code)
	}
}
