package remote_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/remote"
)

// defs returns test definitions whose "limit" flag serves limit.
func defs(limit int64) flagon.Definitions {
	return flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
		Flags: []flagon.Flag{
			{Key: "limit", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "v", Value: limit}, {Name: "huge", Value: int64(1<<53 + 1)}},
				Rules: []flagon.Rule{{Clauses: []flagon.Clause{{Attribute: "age", Op: flagon.OpGTE, Values: []any{18}}}, Serve: flagon.Serve{Variant: "huge"}}}},
			{Key: "new-home-page", Description: "The new home page", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}},
				Fallthrough:  flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}},
				Environments: map[string]flagon.EnvSettings{"staging": {Fallthrough: &flagon.Serve{Variant: "on"}}}},
			{Key: "theme", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "blue", Value: map[string]any{"color": "blue", "sizes": []any{1, 2.5}}}}},
			{Key: "ratio", Type: flagon.TypeFloat, Variants: []flagon.Variant{{Name: "third", Value: 1.0 / 3}}},
		},
	}
}

// server is a Flagon server for the tests, which can be taken down.
type server struct {
	*httptest.Server
	src  *flagon.MemorySource
	mode atomic.Value // "", "down" (503) or "garbage" (invalid definitions)
}

func newServer(t *testing.T, env string, withEvents bool) *server {
	t.Helper()
	src, err := flagon.NewMemorySource(defs(10), env)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{src: src}
	s.mode.Store("")
	h := remote.Handler(src)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.mode.Load() {
		case "down":
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		case "garbage":
			if r.URL.Path == remote.SnapshotPath {
				w.Header().Set("ETag", `"garbage"`)
				w.Write([]byte(`{"flags":[{"key":"Bad Key"}]}`))
				return
			}
		}
		if !withEvents && r.URL.Path == remote.EventsPath {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// set changes the server's flags and returns the new revision.
func (s *server) set(t *testing.T, limit int64) string {
	t.Helper()
	if err := s.src.Set(defs(limit)); err != nil {
		t.Fatal(err)
	}
	return s.src.Snapshot().Revision()
}

// quiet discards logs.
var quiet = slog.New(slog.NewTextHandler(&logBuffer{}, nil))

// logBuffer collects log output safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fastOptions are options with short intervals, for tests.
func fastOptions(logs *logBuffer) *remote.Options {
	o := &remote.Options{
		PollInterval:  20 * time.Millisecond,
		RetryInterval: 5 * time.Millisecond,
		MaxBackoff:    20 * time.Millisecond,
		Timeout:       5 * time.Second,
	}
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	} else {
		o.Logger = slog.New(slog.NewTextHandler(&logBuffer{}, nil))
	}
	return o
}

func newSource(t *testing.T, url string, o *remote.Options) *remote.Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	src, err := remote.New(ctx, url, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// waitRevision waits until src serves revision rev.
func waitRevision(t *testing.T, src flagon.Source, rev string) *flagon.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool { return s.Revision() == rev })
	if err != nil {
		got := ""
		if s := src.Snapshot(); s != nil {
			got = s.Revision()
		}
		t.Fatalf("waiting for revision %s (serving %s): %v", rev, got, err)
	}
	return s
}

// waitStatus waits, for at most 10 s, until src's staleness is stale.
// Status changes publish no event, so it checks every few milliseconds.
func waitStatus(t *testing.T, src flagon.StatusSource, stale bool) flagon.Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := src.Status()
		if st.Stale == stale {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("source still has Stale = %v after 10 s (err %v)", st.Stale, st.Err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sameEvaluations checks that a and b give every flag the same result for
// a range of contexts.
func sameEvaluations(t *testing.T, a, b *flagon.Snapshot) {
	t.Helper()
	if a.Revision() != b.Revision() {
		t.Errorf("revisions %s and %s differ", a.Revision(), b.Revision())
	}
	for i := range 40 {
		ec := flagon.EvalContext{Key: "user-" + string(rune('a'+i%26)) + strings.Repeat("x", i),
			Attrs: map[string]any{"is_staff": i%7 == 0, "age": float64(i)}}
		for _, k := range a.Keys() {
			ra, rb := a.Evaluate(k, ec, nil), b.Evaluate(k, ec, nil)
			if jsonText(ra.Value) != jsonText(rb.Value) || ra.Variant != rb.Variant || ra.Reason != rb.Reason {
				t.Errorf("%s for %v: server %+v, remote %+v", k, ec, ra, rb)
			}
		}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHandler(t *testing.T) {
	srv := newServer(t, "staging", true)
	resp, err := http.Get(srv.URL + remote.SnapshotPath)
	if err != nil {
		t.Fatal(err)
	}
	var got flagon.Definitions
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	snap := srv.src.Snapshot()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %d, %v", resp.StatusCode, err)
	}
	if len(got.Flags) != len(snap.Definitions().Flags) || got.Flags[1].Description != "The new home page" {
		t.Errorf("definitions: %+v", got)
	}
	if etag := resp.Header.Get("ETag"); etag != `"`+snap.Revision()+`"` {
		t.Errorf("ETag %s, want the revision %s", etag, snap.Revision())
	}
	if env := resp.Header.Get(remote.EnvironmentHeader); env != "staging" {
		t.Errorf("%s: %q, want staging", remote.EnvironmentHeader, env)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+remote.SnapshotPath, nil)
	req.Header.Set("If-None-Match", `W/"`+snap.Revision()+`"`)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}

	// The event stream sends the current revision, then each new one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+remote.EventsPath, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	next := func() string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if rev, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
				var ev struct{ Revision string }
				if err := json.Unmarshal([]byte(rev), &ev); err != nil {
					t.Fatal(err)
				}
				return ev.Revision
			}
		}
	}
	if got := next(); got != snap.Revision() {
		t.Errorf("first event %s, want %s", got, snap.Revision())
	}
	rev := srv.set(t, 11)
	if got := next(); got != rev {
		t.Errorf("after a change: %s, want %s", got, rev)
	}
}

func TestHandlerNoSnapshot(t *testing.T) {
	var p flagon.Publisher
	w := httptest.NewRecorder()
	remote.Handler(&p).ServeHTTP(w, httptest.NewRequest("GET", remote.SnapshotPath, nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", w.Code)
	}
}

func TestFollow(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		stream, serverEvents bool
		poll                 time.Duration
	}{
		{"polling", false, true, 20 * time.Millisecond},
		// With an hour between polls, only the stream can bring the change.
		{"stream", true, true, time.Hour},
		{"stream, server without events", true, false, 20 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "staging", tt.serverEvents)
			o := fastOptions(nil)
			o.Stream, o.PollInterval = tt.stream, tt.poll
			src := newSource(t, srv.URL, o)
			sameEvaluations(t, srv.src.Snapshot(), src.Snapshot())
			if env := src.Snapshot().Environment(); env != "staging" {
				t.Errorf("environment %q, want the server's, staging", env)
			}
			for _, limit := range []int64{11, 12} {
				rev := srv.set(t, limit)
				got := waitRevision(t, src, rev)
				sameEvaluations(t, srv.src.Snapshot(), got)
				if v, _ := got.VariantValue("limit", "v"); v != limit {
					t.Errorf("limit %v, want %d", v, limit)
				}
			}
			if st := src.Status(); st.Stale {
				t.Errorf("stale after following: %v", st.Err)
			}
		})
	}
}

func TestEnvironmentOption(t *testing.T) {
	srv := newServer(t, "", true)
	o := fastOptions(nil)
	o.Environment = "staging"
	src := newSource(t, srv.URL, o)
	if env := src.Snapshot().Environment(); env != "staging" {
		t.Errorf("environment %q, want staging", env)
	}
	if r := src.Snapshot().Evaluate("new-home-page", flagon.EvalContext{Key: "u"}, nil); r.Value != true {
		t.Errorf("staging's fallthrough not applied: %+v", r)
	}
}

func TestOutageAndRecovery(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "polling", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, "", true)
			logs := &logBuffer{}
			o := fastOptions(logs)
			o.Stream = stream
			src := newSource(t, srv.URL, o)
			good := src.Snapshot()

			srv.mode.Store("down")
			srv.CloseClientConnections() // ends the event stream
			st := waitStatus(t, src, true)
			if st.Err == nil || !strings.Contains(st.Err.Error(), "503") {
				t.Errorf("stale error %v, want one naming the 503", st.Err)
			}
			if src.Snapshot() != good {
				t.Errorf("the last good snapshot was dropped")
			}
			if r := src.Snapshot().Evaluate("limit", flagon.EvalContext{}, nil); r.Value != int64(10) {
				t.Errorf("serving %v during the outage, want the last good 10", r.Value)
			}

			// Garbage is refused like an outage.
			srv.mode.Store("garbage")
			srv.CloseClientConnections()
			deadline := time.Now().Add(10 * time.Second)
			for st := src.Status(); st.Err == nil || !strings.Contains(st.Err.Error(), "Bad Key"); st = src.Status() {
				if time.Now().After(deadline) {
					t.Fatalf("invalid definitions not reported: %v", st.Err)
				}
				time.Sleep(2 * time.Millisecond)
			}
			if src.Snapshot() != good {
				t.Errorf("invalid definitions replaced the last good snapshot")
			}

			rev := srv.set(t, 20)
			srv.mode.Store("")
			waitRevision(t, src, rev)
			waitStatus(t, src, false)
			if !strings.Contains(logs.String(), "serving the last good snapshot") {
				t.Errorf("the outage was not logged:\n%s", logs)
			}
		})
	}
}

func TestRecoveryWithoutChange(t *testing.T) {
	// The server comes back with the same flags: 304, and the source is
	// fresh again.
	srv := newServer(t, "", true)
	src := newSource(t, srv.URL, fastOptions(nil))
	srv.mode.Store("down")
	waitStatus(t, src, true)
	srv.mode.Store("")
	waitStatus(t, src, false)
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "flags.json")
	srv := newServer(t, "staging", true)

	// A source with a cache file writes it after each good fetch.
	o := fastOptions(nil)
	o.CacheFile = cache
	first := newSource(t, srv.URL, o)
	rev := srv.set(t, 33)
	waitRevision(t, first, rev)
	first.Close()
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no cache file: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}

	// The server is down at boot: the source starts from the cache, stale.
	srv.mode.Store("down")
	logs := &logBuffer{}
	o = fastOptions(logs)
	o.CacheFile = cache
	src := newSource(t, srv.URL, o)
	sameEvaluations(t, srv.src.Snapshot(), src.Snapshot())
	if env := src.Snapshot().Environment(); env != "staging" {
		t.Errorf("cached environment %q, want staging", env)
	}
	st := src.Status()
	if !st.Stale || st.Since.IsZero() || st.Since.After(time.Now()) || st.Since != src.Snapshot().Created() {
		t.Errorf("booted from cache: status %+v, snapshot created %v", st, src.Snapshot().Created())
	}
	if !strings.Contains(logs.String(), "serving the cached flags") {
		t.Errorf("boot from cache not logged:\n%s", logs)
	}

	// The server comes back: the source recovers, the same revision.
	srv.mode.Store("")
	st = waitStatus(t, src, false)
	if time.Since(st.Since) > time.Minute {
		t.Errorf("Since %v after recovery, want about now", st.Since)
	}
}

func TestCorruptCache(t *testing.T) {
	bad := map[string]string{
		"garbage":             "not json at all",
		"another format":      `{"format":99,"definitions":{}}`,
		"invalid definitions": `{"format":1,"revision":"r","definitions":{"flags":[{"key":"limit","type":"int","variants":[{"name":"v","value":"ten"}]}]}}`,
	}
	for name, content := range bad {
		t.Run(name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "flags.json")
			if err := os.WriteFile(cache, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			srv := newServer(t, "", true)

			// The server is down: New fails, saying why the cache did not help.
			srv.mode.Store("down")
			logs := &logBuffer{}
			o := fastOptions(logs)
			o.CacheFile = cache
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			src, err := remote.New(ctx, srv.URL, o)
			if err == nil {
				src.Close()
				t.Fatal("New succeeded with the server down and a corrupt cache")
			}
			if !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "cache file") {
				t.Errorf("error %q, want one naming the fetch and the cache file", err)
			}
			if !strings.Contains(logs.String(), "ignoring the cache file") {
				t.Errorf("corrupt cache not logged:\n%s", logs)
			}

			// The server is up: the cache is not needed, and is replaced.
			srv.mode.Store("")
			src = newSource(t, srv.URL, o)
			if src.Snapshot().Revision() != srv.src.Snapshot().Revision() {
				t.Errorf("revision %s, want the server's", src.Snapshot().Revision())
			}
			b, _ := os.ReadFile(cache)
			if !bytes.Contains(b, []byte(srv.src.Snapshot().Revision())) {
				t.Errorf("cache not rewritten: %s", b)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, u := range []string{"", "flags.internal", "ftp://flags.internal", "http://"} {
		if _, err := remote.New(ctx, u, nil); err == nil || !strings.Contains(err.Error(), "invalid server URL") {
			t.Errorf("New(%q): %v, want an invalid URL error", u, err)
		}
	}
	srv := newServer(t, "", true)
	srv.Close()
	if _, err := remote.New(ctx, srv.URL, fastOptions(nil)); err == nil || !strings.Contains(err.Error(), "remote: fetch") {
		t.Errorf("server down, no cache: %v", err)
	}
	srv2 := newServer(t, "", true)
	srv2.mode.Store("garbage")
	if _, err := remote.New(ctx, srv2.URL, fastOptions(nil)); err == nil || !strings.Contains(err.Error(), `"Bad Key"`) {
		t.Errorf("invalid definitions: %v, want an error naming the flag", err)
	}
}

func TestHeaderAndRefresh(t *testing.T) {
	src0, _ := flagon.NewMemorySource(defs(1), "")
	h := remote.Handler(src0)
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	o := fastOptions(nil)
	o.PollInterval = time.Hour
	o.Header = http.Header{"Authorization": {"Bearer t0ken"}}
	src := newSource(t, srv.URL+"/", o)
	if err := src0.Set(defs(2)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if src.Snapshot().Revision() != src0.Snapshot().Revision() {
		t.Errorf("Refresh did not fetch the change")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range auth {
		if a != "Bearer t0ken" {
			t.Errorf("a request carried Authorization %q", a)
		}
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	src0, _ := flagon.NewMemorySource(defs(1), "")
	h := remote.Handler(src0)
	var streams atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != remote.EventsPath {
			h.ServeHTTP(w, r)
			return
		}
		// A stream that goes silent, as behind a broken proxy.
		streams.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	o := fastOptions(nil)
	o.Stream, o.PollInterval, o.StreamIdleTimeout = true, time.Hour, 30*time.Millisecond
	newSource(t, srv.URL, o)
	deadline := time.Now().Add(10 * time.Second)
	for streams.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to the silent stream in 10 s; want reconnections", streams.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestToken checks that Options.Token goes with every request, the
// snapshot fetch and the event stream, to a server that refuses requests
// without it.
func TestToken(t *testing.T) {
	const token = "s3cret-token"
	for _, tt := range []struct {
		name    string
		token   string
		stream  bool
		wantErr bool
	}{
		{"polling with token", token, false, false},
		{"stream with token", token, true, false},
		{"wrong token", "nope", false, true},
		{"no token", "", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src0, _ := flagon.NewMemorySource(defs(1), "")
			h := remote.Handler(src0)
			var mu sync.Mutex
			paths := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+token {
					http.Error(w, "no token", http.StatusUnauthorized)
					return
				}
				mu.Lock()
				paths[r.URL.Path]++
				mu.Unlock()
				h.ServeHTTP(w, r)
			}))
			defer srv.Close()
			o := fastOptions(nil)
			o.Token, o.Stream = tt.token, tt.stream
			if tt.stream {
				o.PollInterval = time.Hour // only the stream can bring the change
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			src, err := remote.New(ctx, srv.URL, o)
			if tt.wantErr {
				if err == nil {
					src.Close()
					t.Fatal("New: no error from a server that refuses the token")
				}
				if !strings.Contains(err.Error(), "401") {
					t.Errorf("New: %v, want the 401 named", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer src.Close()
			if err := src0.Set(defs(2)); err != nil {
				t.Fatal(err)
			}
			waitRevision(t, src, src0.Snapshot().Revision())
			mu.Lock()
			defer mu.Unlock()
			if paths[remote.SnapshotPath] < 2 {
				t.Errorf("%d authorized snapshot fetches, want at least 2", paths[remote.SnapshotPath])
			}
			if tt.stream && paths[remote.EventsPath] == 0 {
				t.Errorf("no authorized event stream request")
			}
		})
	}
}
