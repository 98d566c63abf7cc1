package server_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/server"
	"github.com/flagon/flagon/sqlite"
)

// prodDefs has a flag only staff may override and one anyone may.
var prodDefs = flagon.Definitions{Flags: []flagon.Flag{
	{Key: "staff-only", Description: "staff may try it", Type: flagon.TypeBool, Default: "off",
		Override: flagon.OverridePolicy{Who: flagon.WhoStaff}},
	{Key: "anyone", Description: "anyone may try it", Type: flagon.TypeBool, Default: "off",
		Override: flagon.OverridePolicy{Who: flagon.WhoAnyone}},
}}

const prodPassword = "correct horse battery staple"

// seed imports prodDefs into st.
func seed(t *testing.T, st server.Store) {
	t.Helper()
	if _, err := server.Import(t.Context(), st, prodDefs, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// startProd runs a server over st as `flagon serve` would in production,
// with its key ring from the store.
func startProd(t *testing.T, st server.Store, opts server.Options) *httptest.Server {
	t.Helper()
	ring, err := server.OpenKeyring(t.Context(), st, &server.KeyringOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	opts.Keys = ring.Keys()
	opts.Logger = quiet
	opts.AdminPassword = prodPassword
	if _, err := st.User(t.Context(), "ann"); err != nil { // a restart keeps her, and her sessions
		addUser(t, st, "ann", prodPassword)
	}
	srv, err := server.New(t.Context(), st, &opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
		ring.Close()
	})
	return ts
}

// A browser keeps cookies across servers: they all answer on 127.0.0.1,
// so one jar serves for "the same site behind a load balancer".
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hc: &http.Client{Jar: jar}}
}

func (b *browser) do(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) get(base, path string, hdr ...string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

// follow opens an override link at base as a page's button would: a
// same-origin POST (staff-only flags refuse a GET).
func (b *browser) follow(base, link string, hdr ...string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", base+link, nil)
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

// signIn signs in to the console at base as ann.
func (b *browser) signIn(base string) {
	b.t.Helper()
	if code, body := b.signInAs(base, "ann", prodPassword); code != http.StatusOK || strings.Contains(body, `name="password"`) {
		b.t.Fatalf("sign in at %s: %d", base, code)
	}
}

// signInAs posts the sign-in form at base and returns where it led.
func (b *browser) signInAs(base, name, password string) (int, string) {
	b.t.Helper()
	_, page := b.get(base, "/admin/signin")
	form := url.Values{"name": {name}, "password": {password}}
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
		form.Set("csrf", html.UnescapeString(m[1]))
	}
	req, _ := http.NewRequest("POST", base+"/admin/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// signedIn reports whether the console at base lets the browser in.
func (b *browser) signedIn(base string) bool {
	b.t.Helper()
	code, body := b.get(base, "/admin/flags")
	return code == http.StatusOK && strings.Contains(body, "staff-only") && !strings.Contains(body, `name="password"`)
}

// value returns what /features.json at base says the browser gets for
// flag, and the reason.
func (b *browser) value(base, flag string) (any, string) {
	b.t.Helper()
	code, body := b.get(base, "/features.json")
	if code != http.StatusOK {
		b.t.Fatalf("features.json: %d %s", code, body)
	}
	var out struct {
		Flags map[string]struct {
			Value  any    `json:"value"`
			Reason string `json:"reason"`
		} `json:"flags"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		b.t.Fatalf("features.json: %v: %s", err, body)
	}
	f := out.Flags[flag]
	return f.Value, f.Reason
}

// TestNoSelfDeclaredStaff: outside the demo, no cookie or header a
// visitor sets makes it staff; the signed-in console user is.
func TestNoSelfDeclaredStaff(t *testing.T) {
	st := flagontest.NewMemoryStore()
	seed(t, st)
	ts := startProd(t, st, server.Options{Environment: "production"})

	visitor := newBrowser(t)
	u, _ := url.Parse(ts.URL)
	visitor.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "flagon_demo_user", Value: "ann", Path: "/"}})
	visitor.get(ts.URL, flagonhttp.Link("anyone", true, time.Hour, "/features.json"))
	visitor.follow(ts.URL, flagonhttp.Link("staff-only", true, time.Hour, "/features.json"), "X-Flagon-Staff", "true", "X-Forwarded-User", "ann")
	if v, reason := visitor.value(ts.URL, "anyone"); v != true {
		t.Errorf("anyone, overridden by a visitor: %v (%s), want true: the link must work where the policy allows it", v, reason)
	}
	if v, reason := visitor.value(ts.URL, "staff-only"); v != false || reason == "OVERRIDE" {
		t.Errorf("staff-only, overridden by a visitor with a demo staff cookie: %v (%s), want false", v, reason)
	}
	if code, _ := visitor.get(ts.URL, "/demo/as"); code == http.StatusOK {
		t.Errorf("/demo/as answers outside the demo")
	}

	staff := newBrowser(t)
	staff.signIn(ts.URL)
	if code, body := staff.follow(ts.URL, flagonhttp.Link("staff-only", true, time.Hour, "/features.json")); code != 200 {
		t.Errorf("link: %d %s", code, body)
	}
	if v, reason := staff.value(ts.URL, "staff-only"); v != true || reason != "OVERRIDE" {
		t.Errorf("staff-only, overridden by a signed-in user: %v (%s), want true by OVERRIDE", v, reason)
	}
}

// TestDemoRefusedInProduction: the demo never starts in production or
// on PostgreSQL.
func TestDemoRefusedInProduction(t *testing.T) {
	for _, opts := range []server.Options{
		{Demo: true, Production: true},
		{Demo: true, Environment: "production"},
	} {
		if _, err := server.New(t.Context(), flagontest.NewMemoryStore(), &opts); err == nil {
			t.Errorf("New(%+v) started the demo", opts)
		}
	}
	t.Run("postgres", func(t *testing.T) {
		st := openPostgres(t)
		if _, err := server.New(t.Context(), st, &server.Options{Demo: true, Logger: quiet}); err == nil {
			t.Errorf("New on PostgreSQL started the demo")
		}
		if flags, _ := st.Flags(t.Context()); len(flags) != 0 {
			t.Errorf("the refused demo seeded %d flags", len(flags))
		}
	})
}

// TestDefinitionsNeedToken: no definition leaves without a token.
func TestDefinitionsNeedToken(t *testing.T) {
	st := flagontest.NewMemoryStore()
	seed(t, st)
	for _, tokens := range [][]server.APIToken{nil, {{Name: "r", Secret: "reader-0123456789abcdef", ReadOnly: true}}} {
		ts := startProd(t, st, server.Options{APITokens: tokens})
		for _, path := range []string{"/api/v1/snapshot", "/api/v1/snapshot/events", "/api/v1/flags", "/api/v1/flags/staff-only", "/api/v1/audiences", "/api/v1/audit"} {
			if code, _, body := do(t, "GET", ts.URL+path, "", ""); code != http.StatusUnauthorized {
				t.Errorf("%d tokens: GET %s without a token: %d %.80s; want 401", len(tokens), path, code, body)
			}
			if code, _, _ := do(t, "GET", ts.URL+path, "wrong-0123456789abcdef", ""); code != http.StatusUnauthorized {
				t.Errorf("%d tokens: GET %s with a wrong token: %d; want 401", len(tokens), path, code)
			}
		}
		if len(tokens) > 0 {
			if code, _, body := do(t, "GET", ts.URL+"/api/v1/snapshot", tokens[0].Secret, ""); code != http.StatusOK || !strings.Contains(body, "staff-only") {
				t.Errorf("snapshot with the read token: %d %.80s", code, body)
			}
		}
	}
}

// dbSize returns the bytes of an SQLite database and its WAL.
func dbSize(t *testing.T, path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestOverrideFlood floods the override link, from one client with huge
// cookies and from many (behind a trusted proxy), and shows what it adds
// to the database stays within the stated bound: the per-client and
// total rates times the largest entry flagon.AuditEntry.Validate allows.
func TestOverrideFlood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagon.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, st)
	ring, err := server.OpenKeyring(t.Context(), st, &server.KeyringOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ring.Close()
	st.Close() // checkpoints the WAL
	before := dbSize(t, path)
	if st, err = sqlite.Open(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const total = 200
	ts := startProd(t, st, server.Options{
		TrustedProxies:      []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		AnonymousAuditTotal: total,
	})
	start := time.Now()
	big := strings.Repeat("x", 200<<10)
	send := func(client string, n int) {
		for i := range n {
			req, _ := http.NewRequest("GET", ts.URL+flagonhttp.Link("anyone", i%2 == 0, time.Hour, "/"), nil)
			req.Header.Set("X-Forwarded-For", client)
			req.AddCookie(&http.Cookie{Name: "flagon_demo_visitor", Value: big[:len(big)-i]})
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	send("203.0.113.7", 300) // one client, 300 links with 200 KB cookies
	count := func() int {
		es, err := st.Audit(t.Context(), flagon.AuditQuery{Target: "anyone", Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if len(e.Actor) > 64 || strings.Contains(e.Actor, "xxx") {
				t.Fatalf("actor %.80q: a visitor's value became the actor", e.Actor)
			}
		}
		return len(es)
	}
	// The burst, and what the bucket refilled meanwhile (rate/60 a
	// second).
	refill := int(time.Since(start).Seconds()*server.DefaultAnonymousAuditRate/60) + 1
	if n := count(); n < server.DefaultAnonymousAuditRate || n > server.DefaultAnonymousAuditRate+refill {
		t.Errorf("one client's flood left %d audit entries, want the burst of %d (+%d refilled)", n, server.DefaultAnonymousAuditRate, refill)
	}
	for i := range 400 { // 400 clients
		send(fmt.Sprintf("198.51.100.%d, 10.0.%d.1", i%250, i), 1)
	}
	n := count()
	if max := server.DefaultAnonymousAuditRate + refill + total + 1; n > max {
		t.Errorf("a flood from many clients left %d entries, want at most %d", n, max)
	}
	st.Close() // checkpoints the WAL
	grown := dbSize(t, path) - before
	// The bound: every entry is at most ~1 KB here (actor, action, flag
	// key, reason, values), and pages are reused; allow 4 KB each.
	bound := int64(server.DefaultAnonymousAuditRate+total) * 4 << 10
	t.Logf("%d entries; the database grew %d bytes (bound %d)", n, grown, bound)
	if grown > bound {
		t.Errorf("the database grew %d bytes under the flood, want at most %d", grown, bound)
	}
}

// TestAuditRetention: entries older than the retention are pruned when
// the server starts (and hourly).
func TestAuditRetention(t *testing.T) {
	st := flagontest.NewMemoryStore()
	for _, age := range []time.Duration{48 * time.Hour, time.Minute} {
		e := flagon.AuditEntry{Time: time.Now().Add(-age), Actor: "test", Action: "flag.update", Target: fmt.Sprint("aged-", age)}
		if err := st.AppendAudit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	startProd(t, st, server.Options{AuditRetention: 24 * time.Hour})
	deadline := time.Now().Add(10 * time.Second)
	for {
		es, err := st.Audit(t.Context(), flagon.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var aged []string
		for _, e := range es {
			if strings.HasPrefix(e.Target, "aged-") {
				aged = append(aged, e.Target)
			}
		}
		if len(aged) == 1 && aged[0] == "aged-1m0s" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after start with a retention of 24h the log holds %q, want only the recent one", aged)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTwoInstancesOneService runs two servers on one PostgreSQL, as
// behind a load balancer: a console session, an override cookie and a
// share link made on one are honoured by the other, and by both again
// after both restart.
func TestTwoInstancesOneService(t *testing.T) {
	dsn := postgresDSN(t)
	open := func() server.Store {
		st, err := server.OpenStore(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	stA, stB := open(), open()
	seed(t, stA)
	a := startProd(t, stA, server.Options{})
	b := startProd(t, stB, server.Options{})

	br := newBrowser(t)
	br.signIn(a.URL)
	if !br.signedIn(b.URL) {
		t.Fatal("a session signed in on A is refused by B")
	}
	if code, body := br.follow(a.URL, flagonhttp.Link("staff-only", true, time.Hour, "/features.json")); code != http.StatusOK {
		t.Fatalf("override link on A: %d %s", code, body)
	}
	if v, reason := br.value(b.URL, "staff-only"); v != true || reason != "OVERRIDE" {
		t.Errorf("B reads the override cookie A set as %v (%s), want true by OVERRIDE", v, reason)
	}
	ring, err := server.OpenKeyring(t.Context(), stA, nil)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := flagonhttp.MintShareToken(ring.Keys(), "anyone", true, time.Hour, time.Now().Add(time.Hour))
	ring.Close()
	if err != nil {
		t.Fatal(err)
	}

	// Restart both: new processes, new stores, the same database.
	a.Close()
	b.Close()
	stA.Close()
	stB.Close()
	stA, stB = open(), open()
	defer stA.Close()
	defer stB.Close()
	a = startProd(t, stA, server.Options{})
	b = startProd(t, stB, server.Options{})
	for _, srv := range []*httptest.Server{a, b} {
		if !br.signedIn(srv.URL) {
			t.Errorf("after a restart %s refuses the session", srv.URL)
		}
		if v, reason := br.value(srv.URL, "staff-only"); v != true || reason != "OVERRIDE" {
			t.Errorf("after a restart %s reads the override cookie as %v (%s)", srv.URL, v, reason)
		}
	}
	friend := newBrowser(t)
	friend.get(b.URL, flagonhttp.ShareLink("anyone", token, "/"))
	if v, reason := friend.value(a.URL, "anyone"); v != true || reason != "OVERRIDE" {
		t.Errorf("a share link minted before the restart, opened on B, read on A: %v (%s)", v, reason)
	}
}
