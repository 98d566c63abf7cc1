// Package sse writes server-sent event streams (the text/event-stream
// format of the HTML standard) for the packages that serve change
// notifications, ofrep and remote: one loop that writes events as they
// come, keep-alive comments while nothing does, flushes after each write,
// and returns when the request's context is done or a write fails.
package sse

import (
	"net/http"
	"strings"
	"time"
)

// A Writer buffers the events and comments of one stream until the stream
// flushes them. Its methods are called from the Serve loop only.
type Writer struct {
	buf []byte
}

// Event adds an event. An id holding a line break is left out (it cannot
// be sent); an empty name or id is left out too. data is sent as one data
// line per line it holds.
func (w *Writer) Event(id, name string, data []byte) {
	if id != "" && !strings.ContainsAny(id, "\r\n") {
		w.buf = append(w.buf, "id: "...)
		w.buf = append(w.buf, id...)
		w.buf = append(w.buf, '\n')
	}
	if name != "" {
		w.buf = append(w.buf, "event: "...)
		w.buf = append(w.buf, name...)
		w.buf = append(w.buf, '\n')
	}
	for {
		line, rest, more := cutLine(data)
		w.buf = append(w.buf, "data: "...)
		w.buf = append(w.buf, line...)
		w.buf = append(w.buf, '\n')
		if !more {
			break
		}
		data = rest
	}
	w.buf = append(w.buf, '\n')
}

// cutLine splits b at its first line break (CR, LF or CRLF).
func cutLine(b []byte) (line, rest []byte, found bool) {
	for i, c := range b {
		switch c {
		case '\n':
			return b[:i], b[i+1:], true
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				return b[:i], b[i+2:], true
			}
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// Comment adds a comment line, which clients ignore: a keep-alive, or a
// greeting. Line breaks in text are replaced by spaces.
func (w *Writer) Comment(text string) {
	w.buf = append(w.buf, ": "...)
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.buf = append(w.buf, c)
	}
	w.buf = append(w.buf, "\n\n"...)
}

// DefaultHeartbeat is the keep-alive interval of a Stream that sets none.
const DefaultHeartbeat = 30 * time.Second

// A Stream says what an event stream sends.
type Stream[T any] struct {
	// Heartbeat is how often an idle stream sends a keep-alive comment, so
	// that proxies do not close it; zero means DefaultHeartbeat.
	Heartbeat time.Duration
	// Open, if set, adds what the stream starts with.
	Open func(w *Writer)
	// Send adds what an update calls for, if anything.
	Send func(w *Writer, update T)
}

// Serve answers r with the event stream s: it writes the stream's header
// and status, lifts the server's write deadline (a stream outlives
// WriteTimeout), writes what Open adds, and then, until r's context is done
// or a write fails, what Send adds for each update received and a
// keep-alive comment every Heartbeat. Each write is flushed at once.
//
// A server that wants streams to end at shutdown derives its request
// contexts from one it cancels (http.Server.BaseContext).
func Serve[T any](w http.ResponseWriter, r *http.Request, updates <-chan T, s Stream[T]) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // tell nginx not to buffer
	w.WriteHeader(http.StatusOK)

	var sw Writer
	if s.Open != nil {
		s.Open(&sw)
	}
	// Flush even an empty opening: the client sees the header at once.
	if !sw.flush(w, rc, true) {
		return
	}
	if s.Heartbeat <= 0 {
		s.Heartbeat = DefaultHeartbeat
	}
	tick := time.NewTicker(s.Heartbeat)
	defer tick.Stop()
	done := r.Context().Done()
	for {
		select {
		case <-done:
			return
		case u := <-updates:
			s.Send(&sw, u)
		case <-tick.C:
			sw.Comment("ping")
		}
		if !sw.flush(w, rc, false) {
			return
		}
	}
}

// flush writes and flushes what is buffered, and reports whether the
// stream may go on.
func (sw *Writer) flush(w http.ResponseWriter, rc *http.ResponseController, always bool) bool {
	if len(sw.buf) == 0 && !always {
		return true
	}
	if len(sw.buf) > 0 {
		if _, err := w.Write(sw.buf); err != nil {
			return false
		}
		sw.buf = sw.buf[:0]
	}
	return rc.Flush() == nil
}

// SendLatest puts v in ch, a channel with a buffer of one, replacing a
// value not yet taken, so that a slow stream never blocks the publisher
// and always gets the latest value.
func SendLatest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
