package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/server"
	"github.com/flagon/flagon/sqlite"
)

// relayToken opens the relays' own snapshot endpoints.
const relayToken = "relay-token-0123456789"

// readerToken is the primary's read-only token, which relays follow with.
const readerToken = "reader-token-0123456789"

// newPrimary runs `flagon serve` over an SQLite store in a temporary
// directory.
func newPrimary(tb testing.TB) (*server.Server, *httptest.Server) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "flagon.db"))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(context.Background(), st, &server.Options{
		Logger:    quiet,
		APITokens: []server.APIToken{{Name: "test", Secret: token}, {Name: "reader", Secret: readerToken, ReadOnly: true}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ts.Close()
		srv.Close()
		st.Close()
	})
	return srv, ts
}

// newRelay runs a relay of upstream, which it follows with upToken.
func newRelay(tb testing.TB, upstream, upToken string, opts *server.RelayOptions) (*server.Relay, *httptest.Server) {
	tb.Helper()
	if opts == nil {
		opts = &server.RelayOptions{}
	}
	opts.UpstreamToken = upToken
	opts.APITokens = []server.APIToken{{Name: "relay", Secret: relayToken, ReadOnly: true}}
	opts.Logger = quiet
	if opts.RetryInterval == 0 {
		opts.RetryInterval = 20 * time.Millisecond
	}
	r, err := server.NewRelay(context.Background(), upstream, opts)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(r.Handler())
	// Cleanups run last first: a relay stops following before its
	// upstream closes, which waits for its streams to end.
	tb.Cleanup(func() {
		r.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	return r, ts
}

// putValue writes the string flag key with one variant holding value
// through the primary's REST API, and returns the flag's new version.
// version is the version it replaces, 0 to create it.
func putValue(tb testing.TB, primary, key, value string, version int64) int64 {
	tb.Helper()
	body := fmt.Sprintf(`{"type":"string","variants":[{"name":"v","value":%q}],"default":"v","version":%d}`, value, version)
	if version == 0 {
		body = fmt.Sprintf(`{"type":"string","variants":[{"name":"v","value":%q}],"default":"v"}`, value)
	}
	req, _ := http.NewRequest("PUT", primary+"/api/v1/flags/"+key, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Version int64 `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		tb.Fatalf("PUT %s = %d (%v)", key, resp.StatusCode, err)
	}
	return got.Version
}

// valueIn returns the value of string flag key in src's snapshot.
func valueIn(src flagon.Source, key string) string {
	snap := src.Snapshot()
	if snap == nil {
		return ""
	}
	f, ok := snap.Flag(key)
	if !ok || len(f.Variants) == 0 {
		return ""
	}
	s, _ := f.Variants[0].Value.(string)
	return s
}

// waiter reports when a source holds a value.
type waiter struct {
	src   flagon.Source
	ch    chan struct{}
	unsub func()
}

func newWaiter(src flagon.Source) *waiter {
	w := &waiter{src: src, ch: make(chan struct{}, 1)}
	w.unsub = src.Subscribe(func(*flagon.Snapshot) {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	})
	return w
}

// wait returns once key holds want, or fails after a generous deadline
// (a hang, not a speed limit).
func (w *waiter) wait(tb testing.TB, what, key, want string) {
	tb.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for valueIn(w.src, key) != want {
		select {
		case <-w.ch:
		case <-deadline.C:
			tb.Fatalf("%s: %s is %q after 30 s, want %q", what, key, valueIn(w.src, key), want)
		}
	}
}

// ofrepValue evaluates key through the OFREP endpoint at base.
func ofrepValue(t *testing.T, base, key string) string {
	t.Helper()
	code, _, body := do(t, "POST", base+"/ofrep/v1/evaluate/flags/"+key, "", `{"context":{"targetingKey":"user-1"}}`)
	if code != 200 {
		t.Fatalf("OFREP %s at %s = %d %s", key, base, code, body)
	}
	var got struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	s, _ := got.Value.(string)
	return s
}

// TestRelaysFollowWrites runs a primary and three relays, one chained off
// another, and checks that writes to the primary reach OFREP on each.
func TestRelaysFollowWrites(t *testing.T) {
	_, primary := newPrimary(t)
	putValue(t, primary.URL, "banner", "first", 0)
	r1, ts1 := newRelay(t, primary.URL, readerToken, nil)
	r2, ts2 := newRelay(t, primary.URL, readerToken, nil)
	r3, ts3 := newRelay(t, ts1.URL, relayToken, nil) // chained off r1
	relays := []struct {
		name string
		r    *server.Relay
		ts   *httptest.Server
	}{{"relay 1", r1, ts1}, {"relay 2", r2, ts2}, {"relay 3 (off relay 1)", r3, ts3}}
	waiters := make([]*waiter, len(relays))
	for i, rl := range relays {
		waiters[i] = newWaiter(rl.r.Source())
		waiters[i].wait(t, rl.name, "banner", "first")
		if got := ofrepValue(t, rl.ts.URL, "banner"); got != "first" {
			t.Errorf("%s: banner = %q at start, want first", rl.name, got)
		}
	}
	version := int64(1)
	for i := range 5 {
		want := fmt.Sprintf("write-%d", i)
		version = putValue(t, primary.URL, "banner", want, version)
		for j, rl := range relays {
			waiters[j].wait(t, rl.name, "banner", want)
			if got := ofrepValue(t, rl.ts.URL, "banner"); got != want {
				t.Errorf("%s: OFREP banner = %q, want %q", rl.name, got, want)
			}
		}
	}
	// /features.json and the snapshot endpoint serve the same.
	code, _, body := do(t, "GET", ts3.URL+"/features.json", "", "")
	if code != 200 || !strings.Contains(body, "write-4") {
		t.Errorf("relay 3 /features.json = %d %s, want write-4", code, body)
	}
	code, hdr, body := do(t, "GET", ts3.URL+"/api/v1/snapshot", relayToken, "")
	if code != 200 || !strings.Contains(body, "write-4") || hdr.Get("ETag") == "" {
		t.Errorf("relay 3 snapshot = %d %s (ETag %q)", code, body, hdr.Get("ETag"))
	}
}

// TestRelayIsReadOnly checks what a relay refuses.
func TestRelayIsReadOnly(t *testing.T) {
	_, primary := newPrimary(t)
	putValue(t, primary.URL, "banner", "first", 0)
	r, relay := newRelay(t, primary.URL, readerToken, nil)
	newWaiter(r.Source()).wait(t, "relay", "banner", "first")
	for _, c := range []struct {
		method, path, tok string
		want              int
	}{
		{"PUT", "/api/v1/flags/banner", relayToken, 404},
		{"GET", "/api/v1/flags", relayToken, 404},
		{"GET", "/admin/", "", 404},
		{"GET", "/features/banner?value=x", "", 404},
		{"POST", "/api/v1/snapshot", relayToken, 405},
		{"GET", "/api/v1/snapshot", "", 401},
		{"GET", "/api/v1/snapshot", readerToken, 401}, // the primary's token is not the relay's
		{"GET", "/api/v1/snapshot", relayToken, 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/metrics", "", 200},
	} {
		code, _, body := do(t, c.method, relay.URL+c.path, c.tok, "")
		if code != c.want {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}
}

// TestRelayStaleAndCacheFile checks that a relay whose upstream goes away
// keeps serving, says it is stale in /healthz, and that a relay started
// while upstream is down serves its cache file.
func TestRelayStaleAndCacheFile(t *testing.T) {
	_, primary := newPrimary(t)
	putValue(t, primary.URL, "banner", "cached", 0)
	cache := filepath.Join(t.TempDir(), "relay-cache.json")
	r, relay := newRelay(t, primary.URL, readerToken, &server.RelayOptions{CacheFile: cache})
	newWaiter(r.Source()).wait(t, "relay", "banner", "cached")
	if code, _, body := do(t, "GET", relay.URL+"/healthz", "", ""); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz = %d %s, want 200 ok", code, body)
	}

	// Upstream goes away.
	primary.Listener.Close()
	primary.CloseClientConnections()
	deadline := time.Now().Add(30 * time.Second)
	for !r.Source().Status().Stale {
		if time.Now().After(deadline) {
			t.Fatal("relay not stale 30 s after upstream went away")
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, _, body := do(t, "GET", relay.URL+"/healthz", "", "")
	var h struct {
		Status   string  `json:"status"`
		Age      float64 `json:"age_seconds"`
		StaleFor float64 `json:"stale_for_seconds"`
		Error    string  `json:"error"`
	}
	json.Unmarshal([]byte(body), &h)
	if code != 503 || h.Status != "stale" || h.Error == "" || h.StaleFor <= 0 {
		t.Errorf("healthz with upstream down = %d %s, want 503 stale with stale_for_seconds and the error", code, body)
	}
	if got := ofrepValue(t, relay.URL, "banner"); got != "cached" {
		t.Errorf("stale relay serves banner = %q, want cached", got)
	}

	// A relay started now has only its cache file.
	cold, err := server.NewRelay(context.Background(), primary.URL, &server.RelayOptions{
		CacheFile: cache, UpstreamToken: readerToken, Logger: quiet, RetryInterval: time.Hour})
	if err != nil {
		t.Fatalf("NewRelay with upstream down and a cache file: %v", err)
	}
	defer cold.Close()
	ts := httptest.NewServer(cold.Handler())
	defer ts.Close()
	if got := ofrepValue(t, ts.URL, "banner"); got != "cached" {
		t.Errorf("cold relay serves banner = %q, want cached", got)
	}
	if code, _, body := do(t, "GET", ts.URL+"/healthz", "", ""); code != 503 || !strings.Contains(body, "stale") {
		t.Errorf("cold relay healthz = %d %s, want 503 stale", code, body)
	}
	if _, err := server.NewRelay(context.Background(), primary.URL, &server.RelayOptions{Logger: quiet}); err == nil {
		t.Error("NewRelay with upstream down and no cache file: no error")
	}
}

// TestRelayForwardsUsage checks that the evaluations served by a relay,
// and by a relay chained off it, reach the primary's usage counts.
func TestRelayForwardsUsage(t *testing.T) {
	_, primary := newPrimary(t)
	putValue(t, primary.URL, "banner", "x", 0)
	r1, ts1 := newRelay(t, primary.URL, readerToken, nil)
	r3, ts3 := newRelay(t, ts1.URL, relayToken, nil)
	newWaiter(r3.Source()).wait(t, "relay 3", "banner", "x")
	for range 3 {
		ofrepValue(t, ts1.URL, "banner")
	}
	for range 4 {
		ofrepValue(t, ts3.URL, "banner")
	}
	// Close sends what is left: the chained relay to relay 1, relay 1 to
	// the primary.
	r3.Close()
	r1.Close()
	code, _, body := do(t, "GET", primary.URL+"/api/v1/usage?flag=banner&app="+url.QueryEscape("flagon relay"), token, "")
	if code != 200 {
		t.Fatalf("usage = %d %s", code, body)
	}
	var rows []flagon.UsageCount
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, r := range rows {
		total += r.Count
	}
	if total != 7 {
		t.Errorf("usage of banner from relays = %d (%s), want 7", total, body)
	}
	// /metrics on a relay counts its own evaluations.
	_, _, metrics := do(t, "GET", ts1.URL+"/metrics", "", "")
	if !strings.Contains(metrics, `flagon_flag_evaluations_total{flag="banner",variant="v"} 3`) {
		t.Errorf("relay 1 /metrics lacks its 3 evaluations:\n%s", metrics)
	}
}
