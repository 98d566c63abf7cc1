package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/internal/testop"
	"github.com/flagon/flagon/server"
)

// ssoPeople sign in at the test provider: Vera's group makes her a
// viewer, Eddie's an editor; Olga's group and domain are mapped to
// nothing; Nora has the name of a user of the store.
var ssoPeople = []testop.Person{
	{Subject: "s-vera", Username: "vera", Password: "vera-pw", Email: "vera@example.com", Groups: []string{"flagon-viewers"}},
	{Subject: "s-eddie", Username: "eddie", Password: "eddie-pw", Email: "eddie@example.com", Groups: []string{"staff", "flagon-editors"}},
	{Subject: "s-olga", Username: "olga", Password: "olga-pw", Email: "olga@elsewhere.example", Groups: []string{"marketing"}},
	{Subject: "s-nora", Username: "nora", Password: "nora-pw", Groups: []string{"flagon-editors"}},
}

const ssoRoles = "group:flagon-viewers=viewer, group:flagon-editors=editor, domain:admins.example=admin"

// ssoFixture is a server whose console offers sign-in through a real
// OpenID provider running in the test.
type ssoFixture struct {
	t  *testing.T
	st *flagontest.MemoryStore
	op *testop.Provider
	ts string // the server's URL
	// start is where sign-in starts: the console's signin/oidc.
	start string
}

// startSSO starts the server and the provider; each of more changes the
// server's options.
func startSSO(t *testing.T, more ...func(*server.Options)) *ssoFixture {
	t.Helper()
	f := &ssoFixture{t: t, st: flagontest.NewMemoryStore()}
	seed(t, f.st)
	addUser(t, f.st, "nora", prodPassword)
	var h http.Handler = http.NotFoundHandler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	f.ts = hs.URL
	f.op = testop.Start(t, f.ts+"/admin/"+admin.OIDCCallbackPath, ssoPeople...)
	roles, err := admin.ParseRoleMap(ssoRoles)
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		Logger: quiet, AdminPassword: prodPassword, PublicURL: f.ts,
		OIDC: &admin.OIDCOptions{Issuer: f.op.Issuer, ClientID: f.op.ClientID, ClientSecret: f.op.ClientSecret, Roles: roles},
	}
	for _, fn := range more {
		fn(opts)
	}
	f.start = "/admin/signin/oidc?next=flags"
	srv, err := server.New(t.Context(), f.st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h = srv.Handler()
	return f
}

// ssoAttempt is one sign-in through the provider.
type ssoAttempt struct {
	b        *browser
	callback string       // the console's callback URL the provider sent the browser to
	flow     *http.Cookie // the flow cookie the console set at the start
	code     int
	body     string
	final    string // the path of the page the browser ended on
}

// signIn starts single sign-on at the console, signs in at the
// provider's login page as user, and follows the redirects back.
func (f *ssoFixture) signIn(user, password string) *ssoAttempt {
	t := f.t
	t.Helper()
	a := &ssoAttempt{b: newBrowser(t)}
	a.b.hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.Contains(req.URL.Path, admin.OIDCCallbackPath) {
			a.callback = req.URL.String()
		}
		return nil
	}
	resp, err := a.b.hc.Get(f.ts + f.start)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), f.op.Issuer+"/login") {
		t.Fatalf("start: %d at %s, want the provider's login page", resp.StatusCode, resp.Request.URL)
	}
	start, _ := url.Parse(f.ts + "/admin/signin/oidc/")
	for _, c := range a.b.hc.Jar.Cookies(start) {
		if strings.HasSuffix(c.Name, "_oidc") {
			a.flow = c
		}
	}
	form := url.Values{"id": {resp.Request.URL.Query().Get("authRequestID")}, "username": {user}, "password": {password}}
	req, _ := http.NewRequest("POST", f.op.Issuer+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = a.b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a.code, a.body, a.final = resp.StatusCode, string(body), resp.Request.URL.Path
	return a
}

// save tries to kill a flag in the console as the browser's user.
func (f *ssoFixture) save(b *browser, flag string) int {
	f.t.Helper()
	code, page := b.get(f.ts, "/admin/flags/"+flag)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		f.t.Fatalf("flag page: %d, token %v", code, m != nil)
	}
	form := url.Values{"csrf": {html.UnescapeString(m[1])}, "version": {"1"}, "disabled": {"1"}}
	req, _ := http.NewRequest("POST", f.ts+"/admin/flags/"+flag+"/kill", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.ts)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	code, _ = b.do(req)
	return code
}

// TestOIDCRoles: two people sign in through the provider, are named by
// their e-mail addresses and get the roles their groups map to: the
// viewer may not kill a flag, the editor may, and the audit log names
// the editor.
func TestOIDCRoles(t *testing.T) {
	f := startSSO(t)
	vera := f.signIn("vera", "vera-pw")
	if vera.code != http.StatusOK || !strings.Contains(vera.body, `vera@example.com <span class="role">viewer</span>`) {
		t.Fatalf("vera signs in: %d, want the console naming her as viewer:\n%.400s", vera.code, vera.body)
	}
	eddie := f.signIn("eddie", "eddie-pw")
	if eddie.code != http.StatusOK || !strings.Contains(eddie.body, `eddie@example.com <span class="role">editor</span>`) {
		t.Fatalf("eddie signs in: %d, want the console naming him as editor", eddie.code)
	}
	for i, m := range f.op.ChallengeMethods() {
		if m != "S256" {
			t.Errorf("authorization request %d: PKCE method %q, want S256", i, m)
		}
	}
	if code := f.save(vera.b, "anyone"); code != http.StatusForbidden {
		t.Errorf("vera, a viewer, kills a flag: %d, want 403", code)
	}
	if code := f.save(eddie.b, "anyone"); code != http.StatusOK {
		t.Errorf("eddie, an editor, kills a flag: %d, want 200", code)
	}
	fl, err := f.st.Flag(t.Context(), "anyone")
	if err != nil || !fl.Disabled {
		t.Fatalf("the flag after eddie's kill: disabled %v, %v", fl.Disabled, err)
	}
	es, err := f.st.Audit(t.Context(), flagon.AuditQuery{Target: "anyone"})
	if err != nil || len(es) == 0 || es[0].Actor != "eddie@example.com" {
		t.Fatalf("audit of the kill: %+v, %v; want it by eddie@example.com", es, err)
	}
	for _, e := range es {
		if e.Actor == "vera@example.com" {
			t.Errorf("vera's refused change is in the audit log: %+v", e)
		}
	}
}

// TestOIDCEnvironmentConsole: on a server with several environments,
// whose consoles share the one redirect URL, a sign-in started in
// staging's console comes back to it, with the role the map gives there.
func TestOIDCEnvironmentConsole(t *testing.T) {
	f := startSSO(t, func(o *server.Options) {
		o.Environments = []server.Environment{{Name: "development"}, {Name: "staging"}, {Name: "production", Production: true}}
		roles, err := admin.ParseRoleMap("group:flagon-viewers=viewer, group:flagon-editors=viewer, group:flagon-editors=staging:editor")
		if err != nil {
			t.Fatal(err)
		}
		o.OIDC.Roles = roles
	})
	f.start = "/env/staging/admin/signin/oidc?next=flags"
	eddie := f.signIn("eddie", "eddie-pw")
	if eddie.code != http.StatusOK || eddie.final != "/env/staging/admin/flags" {
		t.Fatalf("eddie signs in from staging's console: %d at %s, want staging's flags", eddie.code, eddie.final)
	}
	if !strings.Contains(eddie.body, `eddie@example.com <span class="role">editor</span>`) {
		t.Errorf("staging's console does not name eddie as its editor:\n%.600s", eddie.body)
	}
	if code, page := eddie.b.get(f.ts, "/env/production/admin/flags"); code != http.StatusOK || !strings.Contains(page, `eddie@example.com <span class="role">viewer</span>`) {
		t.Errorf("production's console: %d, want eddie as viewer", code)
	}
}

// TestOIDCRefusals: a replayed state, a person no rule gives a role, a
// name taken by a user of the store, and ID tokens with a wrong issuer,
// a bad signature or an expiry in the past are all refused, and none
// leaves a session.
func TestOIDCRefusals(t *testing.T) {
	f := startSSO(t)
	refused := func(a *ssoAttempt, status int, want string) {
		t.Helper()
		if a.code != status || !strings.Contains(html.UnescapeString(a.body), want) {
			t.Errorf("%d, want %d saying %q:\n%.600s", a.code, status, want, a.body)
		}
		if a.b.signedIn(f.ts) {
			t.Error("a refused sign-in is signed in")
		}
	}

	t.Run("replayed state", func(t *testing.T) {
		a := f.signIn("eddie", "eddie-pw")
		if a.code != http.StatusOK || a.callback == "" || a.flow == nil {
			t.Fatalf("first sign-in: %d, callback %q, flow cookie %v", a.code, a.callback, a.flow != nil)
		}
		// An attacker who saw the callback and the flow cookie replays
		// both in a fresh browser.
		replay := &ssoAttempt{b: newBrowser(t)}
		req, _ := http.NewRequest("GET", a.callback, nil)
		req.AddCookie(a.flow)
		replay.code, replay.body = replay.b.do(req)
		refused(replay, http.StatusBadRequest, "already used")
	})
	t.Run("state from another sign-in", func(t *testing.T) {
		a := f.signIn("eddie", "eddie-pw")
		other := f.signIn("vera", "vera-pw")
		// Vera's callback with Eddie's flow cookie: the states differ.
		b := &ssoAttempt{b: newBrowser(t)}
		req, _ := http.NewRequest("GET", other.callback, nil)
		req.AddCookie(a.flow)
		b.code, b.body = b.b.do(req)
		refused(b, http.StatusBadRequest, "state does not match")
	})
	t.Run("no mapped role", func(t *testing.T) {
		refused(f.signIn("olga", "olga-pw"), http.StatusForbidden, "signed you in as olga@elsewhere.example, but no role in Flagon")
	})
	t.Run("name of a user of the store", func(t *testing.T) {
		refused(f.signIn("nora", "nora-pw"), http.StatusForbidden, "nora is the name of a Flagon user")
	})

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tamper func(c map[string]any) *rsa.PrivateKey
	}{
		{"wrong issuer", func(c map[string]any) *rsa.PrivateKey {
			c["iss"] = "https://impostor.example"
			return f.op.Key
		}},
		{"bad signature", func(c map[string]any) *rsa.PrivateKey {
			c["groups"] = []string{"flagon-editors"}
			return otherKey
		}},
		{"expired", func(c map[string]any) *rsa.PrivateKey {
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			c["exp"] = time.Now().Add(-time.Hour).Unix()
			return f.op.Key
		}},
		{"wrong audience", func(c map[string]any) *rsa.PrivateKey {
			c["aud"] = []string{"another-client"}
			c["azp"] = "another-client"
			return f.op.Key
		}},
		{"wrong nonce", func(c map[string]any) *rsa.PrivateKey {
			c["nonce"] = "not-the-one-sent"
			return f.op.Key
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.op.Tamper(func(raw string) string {
				c := testop.Claims(t, raw)
				key := tc.tamper(c)
				return f.op.Sign(t, c, key)
			})
			defer f.op.Tamper(nil)
			want := "could not be verified"
			if tc.name == "wrong nonce" {
				want = "was not for this sign-in"
			}
			refused(f.signIn("vera", "vera-pw"), http.StatusUnauthorized, want)
		})
	}

	// The provider re-signing its own claims untouched is let in: the
	// tampering above, not the re-signing, is what was refused.
	f.op.Tamper(func(raw string) string { return f.op.Sign(t, testop.Claims(t, raw), f.op.Key) })
	if a := f.signIn("vera", "vera-pw"); a.code != http.StatusOK || !a.b.signedIn(f.ts) {
		t.Errorf("an untampered, re-signed token: %d, not signed in", a.code)
	}
}

// TestTrustedHeader: the proxy's headers are believed from a trusted
// peer, with the role map's role, and ignored from any other.
func TestTrustedHeader(t *testing.T) {
	st := flagontest.NewMemoryStore()
	seed(t, st)
	addUser(t, st, "nora", prodPassword)
	roles, err := admin.ParseRoleMap(ssoRoles)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		proxies  string
		groups   string
		wantCode int
		wantRole string
	}{
		{"trusted peer, editor", "127.0.0.0/8", "staff,flagon-editors", http.StatusOK, "editor"},
		{"trusted peer, no mapped role", "127.0.0.1", "marketing", http.StatusForbidden, ""},
		{"untrusted peer", "10.0.0.0/8", "flagon-editors", http.StatusSeeOther, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxies, err := server.ParsePrefixes(tc.proxies)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := server.New(t.Context(), st, &server.Options{
				Logger: quiet, AdminPassword: prodPassword,
				AuthHeader: &admin.HeaderOptions{UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Proxies: proxies, Roles: roles},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			req, _ := http.NewRequest("GET", hs.URL+"/admin/flags", nil)
			req.Header.Set("X-Forwarded-User", "pat")
			req.Header.Set("X-Forwarded-Groups", tc.groups)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d (location %q)", resp.StatusCode, tc.wantCode, resp.Header.Get("Location"))
			}
			if tc.wantRole != "" && !strings.Contains(body, `pat <span class="role">`+tc.wantRole+`</span>`) {
				t.Errorf("the console does not name pat as %s", tc.wantRole)
			}
			if tc.wantCode == http.StatusSeeOther && !strings.Contains(resp.Header.Get("Location"), "signin") {
				t.Errorf("untrusted headers: sent to %q, want the sign-in page", resp.Header.Get("Location"))
			}
			if tc.wantRole == "editor" {
				// Behind the proxy, pat's browser changes a flag through
				// the console's forms; the audit log names pat.
				b := newBrowser(t)
				hdr := []string{"X-Forwarded-User", "pat", "X-Forwarded-Groups", tc.groups}
				_, page := b.get(hs.URL, "/admin/flags/staff-only", hdr...)
				m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
				if m == nil {
					t.Fatal("no form token on the flag page")
				}
				form := url.Values{"csrf": {html.UnescapeString(m[1])}, "version": {"1"}, "disabled": {"1"}}
				req, _ := http.NewRequest("POST", hs.URL+"/admin/flags/staff-only/kill", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", hs.URL)
				for i := 0; i < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				if code, _ := b.do(req); code != http.StatusOK {
					t.Errorf("pat kills a flag: %d, want 200", code)
				}
				es, err := st.Audit(t.Context(), flagon.AuditQuery{Target: "staff-only"})
				if err != nil || len(es) == 0 || es[0].Actor != "pat" {
					t.Errorf("audit of pat's kill: %+v, %v", es, err)
				}
			}
		})
	}
}
