package admin_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/flagon/flagon/admin"
)

func TestParseRoleMapErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"group:ops", `role rule "group:ops": want group:NAME=ROLE`},
		{"team:ops=admin", `unknown kind "team"`},
		{"group:ops=boss", `unknown role "boss"`},
		{"group:ops=none", `unknown role "none"`}, // none only for one environment
		{"domain:=viewer", `want group:NAME=ROLE`},
	} {
		if _, err := admin.ParseRoleMap(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRoleMap(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestRoleMap(t *testing.T) {
	m, err := admin.ParseRoleMap("group:devs=editor group:devs=production:viewer, group:ops=production:admin,domain:@Example.com=viewer group:contractors=production:none")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   admin.Identity
		env  string
		want admin.Role
		ok   bool
	}{
		{"dev in staging", admin.Identity{Groups: []string{"devs"}}, "staging", admin.RoleEditor, true},
		{"dev in production", admin.Identity{Groups: []string{"devs"}}, "production", admin.RoleViewer, true},
		{"dev and ops in production", admin.Identity{Groups: []string{"devs", "ops"}}, "production", admin.RoleAdmin, true},
		{"ops elsewhere", admin.Identity{Groups: []string{"ops"}}, "staging", admin.RoleNone, true},
		{"verified domain", admin.Identity{Email: "a@example.COM", EmailVerified: true}, "staging", admin.RoleViewer, true},
		{"unverified domain", admin.Identity{Email: "a@example.com"}, "staging", admin.RoleNone, false},
		{"other domain", admin.Identity{Email: "a@example.com.evil", EmailVerified: true}, "staging", admin.RoleNone, false},
		{"contractor kept out of production", admin.Identity{Email: "c@example.com", EmailVerified: true, Groups: []string{"contractors"}}, "production", admin.RoleNone, true},
		{"only none", admin.Identity{Groups: []string{"contractors"}}, "production", admin.RoleNone, false},
		{"no group", admin.Identity{Groups: []string{"marketing"}}, "staging", admin.RoleNone, false},
	} {
		_, _, ok := m.Roles(&tc.id)
		if got := m.RoleIn(&tc.id, tc.env); got != tc.want || ok != tc.ok {
			t.Errorf("%s: RoleIn = %v, ok %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Groups and e-mail domains mapped to roles, one of them for production
// only.
func ExampleParseRoleMap() {
	m, err := admin.ParseRoleMap("group:flagon-editors=editor, group:flagon-editors=production:viewer, domain:example.com=viewer")
	if err != nil {
		panic(err)
	}
	ann := &admin.Identity{Name: "ann@example.com", Email: "ann@example.com", EmailVerified: true, Groups: []string{"flagon-editors"}}
	fmt.Println(m.RoleIn(ann, "staging"), m.RoleIn(ann, "production"))
	// Output: editor viewer
}

func TestHeaderAuthTrust(t *testing.T) {
	roles, _ := admin.ParseRoleMap("group:ops=admin")
	var logs bytes.Buffer
	h := admin.NewHeaderAuth(&admin.HeaderOptions{
		EmailHeader: "X-Forwarded-Email", GroupsHeader: "X-Forwarded-Groups",
		Proxies: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Roles: roles,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for _, tc := range []struct {
		peer, email string
		want        admin.Principal
		err         error
	}{
		{"10.1.2.3:5000", "ann@example.com", admin.Principal{Name: "ann@example.com", Role: admin.RoleAdmin}, nil},
		{"[::ffff:10.1.2.3]:5000", "ann@example.com", admin.Principal{Name: "ann@example.com", Role: admin.RoleAdmin}, nil},
		{"10.2.0.1:5000", "ann@example.com", admin.Principal{}, admin.ErrUnauthenticated},
		{"10.1.2.3:5000", "", admin.Principal{}, admin.ErrUnauthenticated},
	} {
		r := httptest.NewRequest("GET", "/admin/", nil)
		r.RemoteAddr = tc.peer
		if tc.email != "" {
			r.Header.Set("X-Forwarded-Email", tc.email)
		}
		r.Header.Set("X-Forwarded-Groups", "staff, ops")
		p, err := h.Authorize(r)
		if p != tc.want || err != tc.err {
			t.Errorf("from %s as %q: %+v, %v; want %+v, %v", tc.peer, tc.email, p, err, tc.want, tc.err)
		}
	}
	if !strings.Contains(logs.String(), "untrusted peer ignored") || !strings.Contains(logs.String(), "10.2.0.1") {
		t.Errorf("the untrusted peer's headers were not logged:\n%s", logs.String())
	}
}
