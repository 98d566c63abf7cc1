package sse

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWriter(t *testing.T) {
	tests := []struct {
		name string
		add  func(w *Writer)
		want string
	}{
		{"event", func(w *Writer) { w.Event("r1", "message", []byte(`{"a":1}`)) }, "id: r1\nevent: message\ndata: {\"a\":1}\n\n"},
		{"no id, no name", func(w *Writer) { w.Event("", "", []byte("x")) }, "data: x\n\n"},
		{"id with a line break left out", func(w *Writer) { w.Event("a\nb", "e", []byte("x")) }, "event: e\ndata: x\n\n"},
		{"multi-line data", func(w *Writer) { w.Event("", "", []byte("a\nb\r\nc\rd")) }, "data: a\ndata: b\ndata: c\ndata: d\n\n"},
		{"empty data", func(w *Writer) { w.Event("", "", nil) }, "data: \n\n"},
		{"comment", func(w *Writer) { w.Comment("ping") }, ": ping\n\n"},
		{"comment with line breaks", func(w *Writer) { w.Comment("a\nb") }, ": a b\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Writer
			tt.add(&w)
			if got := string(w.buf); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestServe runs a stream over HTTP: the header, the opening, an event per
// update (none when Send adds nothing), keep-alives while idle, and the
// end of the handler when the request's context is done.
func TestServe(t *testing.T) {
	updates := make(chan string, 1)
	ended := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		Serve(w, r, updates, Stream[string]{
			Heartbeat: 20 * time.Millisecond,
			Open:      func(w *Writer) { w.Comment("hello") },
			Send: func(w *Writer, u string) {
				if u != "skip" {
					w.Event(u, "update", []byte(u))
				}
			},
		})
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	br := bufio.NewReader(resp.Body)
	read := func() string {
		t.Helper()
		var b strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v (so far %q)", err, b.String())
			}
			b.WriteString(line)
			if line == "\n" {
				return b.String()
			}
		}
	}
	if got := read(); got != ": hello\n\n" {
		t.Fatalf("opening %q, want the greeting", got)
	}
	updates <- "skip"
	updates <- "r2"
	// Pings may come between; the skipped update sends nothing.
	for {
		got := read()
		if got == ": ping\n\n" {
			continue
		}
		if want := "id: r2\nevent: update\ndata: r2\n\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		break
	}
	// Idle: keep-alives.
	if got := read(); got != ": ping\n\n" {
		t.Fatalf("idle stream sent %q, want a ping", got)
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running 5 s after the request's context ended")
	}
}

func TestSendLatest(t *testing.T) {
	ch := make(chan int, 1)
	for i := range 5 {
		SendLatest(ch, i) // never blocks
	}
	if got := <-ch; got != 4 {
		t.Errorf("got %d, want the latest, 4", got)
	}
	select {
	case v := <-ch:
		t.Errorf("a second value %d was kept", v)
	default:
	}
}
