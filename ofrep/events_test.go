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
// announces.
func checkRefetch(t *testing.T, ev sseEvent, snap *flagon.Snapshot) {
	t.Helper()
	data := checkSchema(t, []byte(ev.data), "refetchEvent")
	if ev.event != "message" || ev.id != snap.Revision() {
		t.Errorf("event %q id %q, want message, %q", ev.event, ev.id, snap.Revision())
	}
	if data["etag"] != `"`+snap.Revision()+`"` {
		t.Errorf("etag %v, want the revision %q quoted", data["etag"], snap.Revision())
	}
	if n, _ := data["lastModified"].(json.Number).Int64(); n != snap.Created().Unix() {
		t.Errorf("lastModified %d, want %d", n, snap.Created().Unix())
	}
}

func TestEvents(t *testing.T) {
	client, src := newClient(t, testDefs())
	srv := httptest.NewServer(ofrep.Handler(client, &ofrep.Options{APIKeys: []string{"k"}, Logger: discard}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The bulk response announces the stream.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+ofrep.EvaluatePath, strings.NewReader(`{"context":{"targetingKey":"u1"}}`))
	req.Header.Set("X-API-Key", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, body, "bulkEvaluationSuccess")
	var bulk struct {
		RefreshConnections []struct{ Type, URL string }
	}
	if err := json.Unmarshal(body, &bulk); err != nil || len(bulk.RefreshConnections) != 1 {
		t.Fatalf("bulk response: %v, %+v", err, bulk)
	}
	url := bulk.RefreshConnections[0].URL
	if url != srv.URL+ofrep.EventsPath {
		t.Fatalf("announced stream %q, want %q", url, srv.URL+ofrep.EventsPath)
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
	checkRefetch(t, readEvent(t, stream), client.Snapshot())

	// Publishing the same revision again sends nothing; the next change
	// does.
	if err := src.Set(defs); err != nil {
		t.Fatal(err)
	}
	if err := src.Set(testDefs()); err != nil {
		t.Fatal(err)
	}
	ev := readEvent(t, stream)
	checkRefetch(t, ev, client.Snapshot())
	if ev.id != first.Revision() {
		t.Errorf("after going back to the first flags: id %q, want %q", ev.id, first.Revision())
	}

	// A client that reconnects having missed a change hears of it at once.
	stream2 := openStream(t, ctx, url, "an-old-revision")
	checkRefetch(t, readEvent(t, stream2), client.Snapshot())
}
