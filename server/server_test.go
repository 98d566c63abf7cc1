package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/postgres"
	"github.com/flagon/flagon/remote"
	"github.com/flagon/flagon/server"
	"github.com/flagon/flagon/server/demo"
	_ "github.com/jackc/pgx/v5/stdlib"
)

const token = "test-token-0123456789"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serveStore runs a server over st with opts on a test HTTP server; both
// close when the test ends.
func serveStore(t *testing.T, st server.Store, opts *server.Options) (*server.Server, *httptest.Server) {
	t.Helper()
	srv, err := server.New(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return srv, ts
}

// newServer runs a server over st with one read-write and one read-only
// API token.
func newServer(t *testing.T, st server.Store, demo bool) (*server.Server, *httptest.Server) {
	t.Helper()
	srv, ts := serveStore(t, st, &server.Options{
		Demo:      demo,
		Logger:    quiet,
		APITokens: []server.APIToken{{Name: "test", Secret: token}, {Name: "reader", Secret: "reader-token-0123456789", ReadOnly: true}},
	})
	return srv, ts
}

func do(t *testing.T, method, url, tok, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestDemoSeedAndHealth(t *testing.T) {
	srv, ts := newServer(t, flagontest.NewMemoryStore(), true)
	if got := srv.Client().Snapshot().Len(); got != len(demo.Definitions().Flags) {
		t.Errorf("seeded %d flags, want %d", got, len(demo.Definitions().Flags))
	}
	code, _, body := do(t, "GET", ts.URL+"/healthz", "", "")
	if code != 200 || !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("healthz = %d %s", code, body)
	}
	srv.Client().Bool(context.Background(), "new-home-page", false)
	code, hdr, body := do(t, "GET", ts.URL+"/metrics", "", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("metrics = %d %s", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{"flagon_evaluations_total{reason=\"ERROR\"}", "flagon_snapshot_age_seconds", "flagon_flags 5", "flagon_snapshot_stale 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestAPI(t *testing.T) {
	srv, ts := newServer(t, flagontest.NewMemoryStore(), false)
	api := ts.URL + "/api/v1"

	// Authentication.
	if code, _, _ := do(t, "GET", api+"/flags", "", ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _, _ := do(t, "GET", api+"/flags", "wrong-token-0123456789", ""); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code, _, _ := do(t, "PUT", api+"/flags/a", "reader-token-0123456789", `{}`); code != 403 {
		t.Errorf("read-only token writing: %d, want 403", code)
	}

	// Create, read, conflict, update.
	code, hdr, body := do(t, "PUT", api+"/flags/new-home-page", token, `{"description":"Expose the new home page","default":"off"}`, "Flagon-Reason", "launch prep")
	if code != 200 || hdr.Get("ETag") != `"1"` {
		t.Fatalf("create = %d %s %s", code, hdr.Get("ETag"), body)
	}
	if code, _, body := do(t, "PUT", api+"/flags/new-home-page", token, `{"default":"on"}`); code != 409 {
		t.Errorf("create over an existing flag = %d %s, want 409", code, body)
	}
	if code, _, body := do(t, "PUT", api+"/flags/new-home-page", token, `{"default":"on"}`, "If-Match", `"1"`); code != 200 || !strings.Contains(body, `"version": 2`) {
		t.Errorf("update = %d %s", code, body)
	}
	if code, _, body := do(t, "PUT", api+"/flags/new-home-page", token, `{"default":"off"}`, "If-Match", `"1"`); code != 412 {
		t.Errorf("stale update = %d %s, want 412", code, body)
	}
	code, _, body = do(t, "GET", api+"/flags/new-home-page", token, "")
	var got flagon.StoredFlag
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 || got.Version != 2 || got.Default != "on" {
		t.Errorf("get = %d %+v %v", code, got, err)
	}
	if code, _, _ := do(t, "GET", api+"/flags/ghost", token, ""); code != 404 {
		t.Errorf("get missing = %d, want 404", code)
	}

	// Bad input names the field.
	bad := []struct {
		body, hdr, field string
	}{
		{`{"default":"maybe"}`, `"2"`, `"field": "default"`},
		{`{"defualt":"on"}`, `"2"`, "unknown field"},
		{`{"rules":[{"audiences":["ghosts"],"serve":{"variant":"on"}}]}`, `"2"`, `"field": "rules[0].audiences[0]"`},
		{`{"disabled":"yes"}`, `"2"`, `"field": "disabled"`},
		{`{"key":"other"}`, `"2"`, `"field": "key"`},
		{`{}`, `"two"`, `"field": "If-Match"`},
		{`{} {}`, `"2"`, "trailing data"},
	}
	for _, b := range bad {
		code, _, body := do(t, "PUT", api+"/flags/new-home-page", token, b.body, "If-Match", b.hdr)
		if code != 400 || !strings.Contains(body, b.field) {
			t.Errorf("PUT %s: %d %s; want 400 naming %s", b.body, code, body, b.field)
		}
	}

	// The server's client sees API writes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := flagon.WaitFor(ctx, srv.Source(), func(s *flagon.Snapshot) bool { f, ok := s.Flag("new-home-page"); return ok && f.Default == "on" }); err != nil {
		t.Fatal(err)
	}
	if !srv.Client().Bool(ctx, "new-home-page", false) {
		t.Error("client did not see the API write")
	}

	// Per-user overrides.
	if code, _, body := do(t, "PUT", api+"/overrides/ann/new-home-page", token, `{"value":false,"duration":"1h"}`); code != 200 {
		t.Errorf("set override = %d %s", code, body)
	}
	if code, _, body := do(t, "PUT", api+"/overrides/ann/new-home-page", token, `{"value":"nope"}`); code != 400 || !strings.Contains(body, `"field": "value"`) {
		t.Errorf("override of wrong type = %d %s", code, body)
	}
	if code, _, body := do(t, "PUT", api+"/overrides/ann/new-home-page", token, `{"value":true,"duration":"9999d"}`); code != 400 || !strings.Contains(body, `"field": "duration"`) {
		t.Errorf("override too long = %d %s", code, body)
	}
	if code, _, body := do(t, "GET", api+"/overrides?user=ann", token, ""); code != 200 || !strings.Contains(body, `"flag": "new-home-page"`) {
		t.Errorf("list overrides = %d %s", code, body)
	}
	if code, _, _ := do(t, "DELETE", api+"/overrides/ann/new-home-page", token, ""); code != 204 {
		t.Errorf("delete override = %d", code)
	}

	// Archive, and the audit log records every write with actor and reason.
	if code, _, body := do(t, "POST", api+"/flags/new-home-page/archive", token, "", "If-Match", `"2"`); code != 200 {
		t.Errorf("archive = %d %s", code, body)
	}
	code, _, body = do(t, "GET", api+"/audit?target=new-home-page", token, "")
	var entries []flagon.AuditEntry
	if err := json.Unmarshal([]byte(body), &entries); err != nil || code != 200 {
		t.Fatalf("audit = %d %s", code, body)
	}
	if len(entries) < 3 || entries[len(entries)-1].Actor != "api:test" || entries[len(entries)-1].Reason != "launch prep" {
		t.Errorf("audit entries = %+v", entries)
	}
	if code, _, body := do(t, "GET", api+"/audit?since=yesterday", token, ""); code != 400 || !strings.Contains(body, `"field": "since"`) {
		t.Errorf("bad audit filter = %d %s", code, body)
	}
}

// TestLoadAndWrites runs concurrent evaluations (OFREP) and writes (REST
// API) against one server: no 5xx, and one audit entry per successful
// write. It is bounded in count. It runs on SQLite, and on PostgreSQL when
// FLAGON_TEST_POSTGRES_DSN is set.
func TestLoadAndWrites(t *testing.T) {
	eachStore(t, loadAndWrites)
}

// postgresDSN returns the DSN of a schema of its own on the test
// PostgreSQL, dropped when the test ends; it skips without
// FLAGON_TEST_POSTGRES_DSN.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("FLAGON_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("FLAGON_TEST_POSTGRES_DSN is not set")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := fmt.Sprintf("flagon_test_server_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openPostgres opens a PostgreSQL store in a schema of its own (see
// postgresDSN).
func openPostgres(t *testing.T) server.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func loadAndWrites(t *testing.T, st server.Store) {
	// The demo's flags, without demo mode (refused on PostgreSQL).
	if _, err := server.Import(t.Context(), st, demo.Definitions(), flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	_, ts := newServer(t, st, false)

	const writers, writesEach, readers, readsEach = 4, 25, 4, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, fivexx := 0, 0
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("load-%d", w)
			version := 0
			for i := range writesEach {
				body := fmt.Sprintf(`{"description":"write %d","default":"%s"}`, i, []string{"on", "off"}[i%2])
				hdr := []string{}
				if version > 0 {
					hdr = []string{"If-Match", fmt.Sprint(version)}
				}
				code, _, resp := do(t, "PUT", ts.URL+"/api/v1/flags/"+key, token, body, hdr...)
				mu.Lock()
				if code >= 500 {
					fivexx++
				}
				if code == 200 {
					ok++
					var v struct{ Version int }
					json.Unmarshal([]byte(resp), &v)
					version = v.Version
				}
				mu.Unlock()
			}
		}()
	}
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range readsEach {
				code, _, _ := do(t, "POST", ts.URL+"/ofrep/v1/evaluate/flags/new-home-page", "", fmt.Sprintf(`{"context":{"targetingKey":"user-%d"}}`, i))
				if code >= 500 || code != 200 {
					mu.Lock()
					fivexx++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if fivexx > 0 {
		t.Errorf("%d responses were 5xx or failed", fivexx)
	}
	if ok != writers*writesEach {
		t.Errorf("%d of %d writes succeeded", ok, writers*writesEach)
	}
	entries, err := st.Audit(context.Background(), flagon.AuditQuery{Actor: "api:test", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != ok {
		t.Errorf("%d audit entries for %d writes", len(entries), ok)
	}
}

// TestStaleStore cuts the store off: evaluation keeps serving the last
// snapshot, /healthz reports stale with its age, writes fail clearly, and
// all recovers when the store comes back.
func TestStaleStore(t *testing.T) {
	st := flagontest.NewMemoryStore()
	srv, ts := serveStore(t, st, &server.Options{
		Demo: true, Logger: quiet,
		APITokens:   []server.APIToken{{Name: "test", Secret: token}},
		StoreSource: flagon.StoreSourceOptions{PollInterval: 20 * time.Millisecond, RetryInterval: 10 * time.Millisecond},
	})

	st.SetErr(fmt.Errorf("dial 127.0.0.1:5432: %w", syscall.ECONNREFUSED))
	deadline := time.Now().Add(10 * time.Second)
	for !srv.Client().Status().Stale {
		if time.Now().After(deadline) {
			t.Fatal("the source never noticed the outage")
		}
		time.Sleep(5 * time.Millisecond)
	}
	code, _, body := do(t, "GET", ts.URL+"/healthz", "", "")
	if code != 503 || !strings.Contains(body, `"status": "stale"`) || !strings.Contains(body, "connection refused") || !strings.Contains(body, "age_seconds") {
		t.Errorf("healthz during outage = %d %s", code, body)
	}
	ec := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "ann", Attrs: map[string]any{"is_staff": true}})
	if !srv.Client().Bool(ec, "new-home-page", false) {
		t.Error("evaluation must keep serving the last snapshot during an outage")
	}
	if code, _, body := do(t, "PUT", ts.URL+"/api/v1/flags/x", token, `{}`); code != 503 || !strings.Contains(body, "the store is unavailable") {
		t.Errorf("write during outage = %d %s, want a clear 503", code, body)
	}
	st.SetErr(nil)
	for srv.Client().Status().Stale {
		if time.Now().After(deadline) {
			t.Fatal("the source never recovered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, _, _ := do(t, "GET", ts.URL+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz after recovery = %d", code)
	}
}

// TestOverrideLinkAudit checks that overrides set through the override
// link of the demo site are in the audit log, by the browser's visitor ID
// or, once signed in to the console, by the user's name.
func TestOverrideLinkAudit(t *testing.T) {
	const password = "correct horse battery staple"
	st := flagontest.NewMemoryStore()
	addUser(t, st, "ann", password)
	_, ts := serveStore(t, st, &server.Options{
		Demo: true, Logger: quiet, AdminPassword: password,
		APITokens: []server.APIToken{{Name: "test", Secret: token}},
	})
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) string {
		t.Helper()
		resp, err := hc.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	type entry struct{ actor, action, before, after string }
	audit := func() []entry {
		t.Helper()
		code, _, body := do(t, "GET", ts.URL+"/api/v1/audit?target=new-home-page", token, "")
		if code != http.StatusOK {
			t.Fatalf("audit: %d %s", code, body)
		}
		var es []flagon.AuditEntry
		if err := json.Unmarshal([]byte(body), &es); err != nil {
			t.Fatalf("audit: %v: %s", err, body)
		}
		var out []entry
		for _, e := range es {
			if !strings.HasPrefix(e.Action, "override.browser.") {
				continue
			}
			if e.Target != "new-home-page" || !strings.HasPrefix(e.Reason, "via link") {
				t.Errorf("entry %+v: want target new-home-page and reason via link", e)
			}
			out = append(out, entry{e.Actor, e.Action, string(e.Before), string(e.After)})
		}
		return out
	}
	revBefore, err := st.Revision(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	if body := get(flagonhttp.Link("new-home-page", true, time.Hour, "/")); !strings.Contains(body, `data-variant="new"`) {
		t.Errorf("after the link, the demo page shows the classic home page")
	}
	u, _ := url.Parse(ts.URL)
	visitor := ""
	for _, c := range jar.Cookies(u) {
		if c.Name == "flagon_demo_visitor" {
			visitor = c.Value
		}
	}
	if visitor == "" {
		t.Fatal("no visitor cookie")
	}
	// An anonymous visitor is named by address, never by a cookie it
	// chose.
	want := []entry{{"anonymous 127.0.0.1", "override.browser.set", "", "true"}}
	if got := audit(); !reflect.DeepEqual(got, want) {
		t.Errorf("audit after the link:\n got %q\nwant %q", got, want)
	}

	// Signed in to the console, the entry names the user.
	page := get("/admin/signin")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	form := url.Values{"name": {"ann"}, "password": {password}}
	if m != nil {
		form.Set("csrf", html.UnescapeString(m[1]))
	}
	req, _ := http.NewRequest("POST", ts.URL+"/admin/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	get(flagonhttp.Link("new-home-page", nil, 0, "/"))
	want = append([]entry{{"ann", "override.browser.remove", "true", ""}}, want...)
	if got := audit(); !reflect.DeepEqual(got, want) {
		t.Errorf("audit after signing in and removing:\n got %q\nwant %q", got, want)
	}
	if rev, err := st.Revision(t.Context()); err != nil || rev != revBefore {
		t.Errorf("revision %d (%v), want %d: browser overrides change no stored record", rev, err, revBefore)
	}
}

// TestRemoteFollowsServe shows issue 6's last "done when" against the real
// server: a remote source on another "instance" follows a write made
// through the REST API, at once over the event stream and within one
// interval by polling.
func TestRemoteFollowsServe(t *testing.T) {
	_, ts := newServer(t, flagontest.NewMemoryStore(), true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	auth := http.Header{"Authorization": {"Bearer reader-token-0123456789"}}
	stream, err := remote.New(ctx, ts.URL, &remote.Options{Stream: true, PollInterval: time.Hour, Logger: quiet, Header: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	poll, err := remote.New(ctx, ts.URL, &remote.Options{PollInterval: 50 * time.Millisecond, Logger: quiet, Header: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	for _, src := range []flagon.Source{stream, poll} {
		if !src.Snapshot().Has("new-home-page") {
			t.Fatal("a remote source did not start with the server's flags")
		}
	}

	code, _, body := do(t, "PUT", ts.URL+"/api/v1/flags/brand-new", token, `{"description":"made on the server","default":"on"}`)
	if code != 200 {
		t.Fatalf("create = %d %s", code, body)
	}
	for name, src := range map[string]flagon.Source{"stream": stream, "poll": poll} {
		if _, err := flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool { return s.Has("brand-new") }); err != nil {
			t.Errorf("%s: the remote source never saw the new flag: %v", name, err)
		}
		c := flagon.NewClient(src, &flagon.Options{Logger: quiet})
		if !c.Bool(context.Background(), "brand-new", false) {
			t.Errorf("%s: brand-new is not on", name)
		}
		c.Close()
	}
}

// addUser adds (or replaces) an admin who signs in with password.
func addUser(t *testing.T, st flagon.UserStore, name, password string) {
	t.Helper()
	hash, err := admin.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutUser(t.Context(), flagon.User{Name: name, PasswordHash: hash, Role: "admin"}, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}
