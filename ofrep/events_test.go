package ofrep_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofrep"
)

// sseEvent is one server-sent event.
type sseEvent struct{ id, event, data string }

// readEvent reads the next event from an SSE stream, skipping comments.
func readEvent(t *testing.T, r *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

// openStream connects to an event stream; the stream closes with ctx.
func openStream(t *testing.T, ctx context.Context, url, lastID string) *bufio.Reader {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", "k")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body)
}

// checkRefetch checks an event against the protocol and the snapshot it
// announces, and returns its etag.
func checkRefetch(t *testing.T, ev sseEvent, snap *flagon.Snapshot) string {
	t.Helper()
	data := checkSchema(t, []byte(ev.data), "refetchEvent")
	if ev.event != "message" || ev.id != snap.Revision() {
		t.Errorf("event %q id %q, want message, %q", ev.event, ev.id, snap.Revision())
	}
	if n, _ := data["lastModified"].(json.Number).Int64(); n != snap.Created().Unix() {
		t.Errorf("lastModified %d, want %d", n, snap.Created().Unix())
	}
	etag, _ := data["etag"].(string)
	return etag
}

// bulkRequest makes a bulk request with the given context and override
// header, and returns the ETag and the announced event stream's URL.
func bulkRequest(t *testing.T, ctx context.Context, base, body, override string) (etag, events string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+ofrep.EvaluatePath, strings.NewReader(body))
	req.Header.Set("X-API-Key", "k")
	if override != "" {
		req.Header.Set("Test-Override", override)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bulk: status %d, %v: %s", resp.StatusCode, err, b)
	}
	checkSchema(t, b, "bulkEvaluationSuccess")
	var bulk struct {
		RefreshConnections []struct{ Type, URL string }
	}
	if err := json.Unmarshal(b, &bulk); err != nil || len(bulk.RefreshConnections) != 1 {
		t.Fatalf("bulk response: %v, %+v", err, bulk)
	}
	return resp.Header.Get("ETag"), bulk.RefreshConnections[0].URL
}

// testOverride is an Overrides option that turns new-home-page on when the
// request carries Test-Override: on.
func testOverride(r *http.Request) flagon.Overrides {
	if r.Header.Get("Test-Override") == "on" {
		return flagon.OverrideMap{"new-home-page": {Value: true, Source: "test"}}
	}
	return nil
}

func TestEvents(t *testing.T) {
	client, src := newClient(t, testDefs())
	srv := httptest.NewServer(ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"k"}, Logger: discard, Overrides: testOverride}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The bulk response announces the stream, with the context's hash.
	const body = `{"context":{"targetingKey":"u1"}}`
	etag1, url := bulkRequest(t, ctx, srv.URL, body, "")
	if !strings.HasPrefix(url, srv.URL+ofrep.EventsPath+"?context=") {
		t.Fatalf("announced stream %q, want %q with the context", url, srv.URL+ofrep.EventsPath)
	}

	stream := openStream(t, ctx, url, "")
	first := client.Snapshot()
	// Wait until the stream is subscribed: its opening comment is written
	// after the subscription.
	if line, err := stream.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("stream opened with %q, %v", line, err)
	}

	defs := testDefs()
	defs.Flags[2].Variants[0].Value = 12
	if err := src.Set(defs); err != nil {
		t.Fatal(err)
	}
	got := checkRefetch(t, readEvent(t, stream), client.Snapshot())
	if got == etag1 {
		t.Errorf("event etag %s: the client's, though the flags changed", got)
	}
	if want, _ := bulkRequest(t, ctx, srv.URL, body, ""); got != want {
		t.Errorf("event etag %s, want the ETag the bulk request now gets, %s", got, want)
	}

	// Publishing the same revision again sends nothing; the next change
	// does. Back to the first flags, the etag is the one the client held
	// before: it need not refetch.
	if err := src.Set(defs); err != nil {
		t.Fatal(err)
	}
	if err := src.Set(testDefs()); err != nil {
		t.Fatal(err)
	}
	ev := readEvent(t, stream)
	if got := checkRefetch(t, ev, client.Snapshot()); got != etag1 {
		t.Errorf("back to the first flags: etag %s, want the client's %s", got, etag1)
	}
	if ev.id != first.Revision() {
		t.Errorf("after going back to the first flags: id %q, want %q", ev.id, first.Revision())
	}

	// A client that reconnects having missed a change hears of it at once.
	stream2 := openStream(t, ctx, url, "an-old-revision")
	if got := checkRefetch(t, readEvent(t, stream2), client.Snapshot()); got != etag1 {
		t.Errorf("reconnected: etag %s, want %s", got, etag1)
	}
}

// TestEventETags checks, for several clients, that the event's etag equals
// the ETag of the client's bulk response exactly when the stream knows the
// client's context and overrides.
func TestEventETags(t *testing.T) {
	client, src := newClient(t, testDefs())
	srv := httptest.NewServer(ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"k"}, Logger: discard, Overrides: testOverride}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const body = `{"context":{"targetingKey":"u1"}}`
	_, urlU1 := bulkRequest(t, ctx, srv.URL, body, "")
	_, urlU2 := bulkRequest(t, ctx, srv.URL, `{"context":{"targetingKey":"u2"}}`, "")
	tests := []struct {
		name       string
		url        string
		override   string // the stream request's Test-Override header
		bulkBody   string
		bulkOver   string
		wantsEqual bool
	}{
		{"same context", urlU1, "", body, "", true},
		{"same context and overrides", urlU1, "on", body, "on", true},
		{"overrides only on the bulk request", urlU1, "", body, "on", false},
		{"another client's context", urlU2, "", body, "", false},
		{"no context in the URL", srv.URL + ofrep.EventsPath, "", body, "", false},
		{"a malformed context", srv.URL + ofrep.EventsPath + "?context=zz", "", body, "", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tt.url, nil)
			req.Header.Set("X-API-Key", "k")
			req.Header.Set("Last-Event-ID", "an-old-revision")
			if tt.override != "" {
				req.Header.Set("Test-Override", tt.override)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			defs := testDefs()
			defs.Flags[2].Variants[0].Value = 100 + i
			if err := src.Set(defs); err != nil {
				t.Fatal(err)
			}
			// The first event may announce the snapshot before the change:
			// read until the current one.
			var got string
			r := bufio.NewReader(resp.Body)
			for {
				ev := readEvent(t, r)
				if ev.id == client.Snapshot().Revision() {
					got = checkRefetch(t, ev, client.Snapshot())
					break
				}
			}
			want, _ := bulkRequest(t, ctx, srv.URL, tt.bulkBody, tt.bulkOver)
			if (got == want) != tt.wantsEqual {
				t.Errorf("event etag %s, bulk ETag %s: equal = %v, want %v", got, want, got == want, tt.wantsEqual)
			}
		})
	}
}

// TestEventsToken: with API keys, the announced stream's URL carries a
// token, so that a browser's EventSource (which sends no headers) may
// open it; the token opens that context's stream alone, and no other path.
func TestEventsToken(t *testing.T) {
	client, _ := newClient(t, testDefs())
	srv := httptest.NewServer(ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"other", "k"}, Logger: discard}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, url := bulkRequest(t, ctx, srv.URL, `{"context":{"targetingKey":"u1"}}`, "")
	_, other := bulkRequest(t, ctx, srv.URL, `{"context":{"targetingKey":"u2"}}`, "")
	tok := url[strings.Index(url, "&token=")+len("&token="):]
	if !strings.Contains(url, "&token=") || len(tok) != 32 || strings.Contains(url, "k&") {
		t.Fatalf("announced stream %q: want a token", url)
	}
	status := func(method, u string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, u, nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("GET", url); got != 200 {
		t.Errorf("stream with its token, no header = %d, want 200", got)
	}
	otherCtx := other[:strings.Index(other, "&token=")]
	for name, u := range map[string]string{
		"no token":                   url[:strings.Index(url, "&token=")],
		"another context's token":    otherCtx + "&token=" + tok,
		"a forged token":             url[:strings.Index(url, "&token=")] + "&token=" + strings.Repeat("0", 32),
		"the token on the bulk path": srv.URL + ofrep.EvaluatePath + "?context=x&token=" + tok,
	} {
		if got := status("GET", u); got != 401 && got != 403 {
			t.Errorf("%s: GET = %d, want 401 or 403", name, got)
		}
	}
}
