package ofrep

import (
	"net/http"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// events serves GET /ofrep/v1/events: a server-sent event stream that
// sends a refetchEvaluation event, with the new snapshot's revision as id
// and ETag, each time the client's source publishes a snapshot with a new
// revision. A reconnecting client whose Last-Event-ID is not the current
// revision gets an event at once. The stream ends when the request's
// context does; a server that wants streams to end at shutdown derives its
// request contexts from one it cancels (http.Server.BaseContext).
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	src := h.client.Source()
	if src == nil {
		h.fail(w, "", notReady, true)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout

	ch := make(chan *flagon.Snapshot, 1)
	unsubscribe := src.Subscribe(func(s *flagon.Snapshot) { sendLatest(ch, s) })
	defer unsubscribe()

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // tell nginx not to buffer
	w.WriteHeader(http.StatusOK)

	last := r.Header.Get("Last-Event-ID")
	buf := []byte(": flagon change notification\n\n")
	if cur := src.Snapshot(); cur != nil {
		if last != "" && last != cur.Revision() {
			buf = appendEvent(buf, cur)
		}
		last = cur.Revision()
	}
	if _, err := w.Write(buf); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(h.opts.Heartbeat)
	defer tick.Stop()
	for {
		buf = buf[:0]
		select {
		case <-r.Context().Done():
			return
		case s := <-ch:
			if s == nil || s.Revision() == last {
				continue
			}
			last = s.Revision()
			buf = appendEvent(buf, s)
		case <-tick.C:
			buf = append(buf, ": ping\n\n"...)
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// appendEvent appends the refetchEvaluation event for s.
func appendEvent(b []byte, s *flagon.Snapshot) []byte {
	if rev := s.Revision(); !strings.ContainsAny(rev, "\r\n") {
		b = append(b, "id: "...)
		b = append(b, rev...)
		b = append(b, '\n')
	}
	b = append(b, "event: message\ndata: {\"type\":\"refetchEvaluation\",\"etag\":"...)
	b = appendString(b, `"`+s.Revision()+`"`)
	b = append(b, `,"lastModified":`...)
	b = appendInt(b, s.Created().Unix())
	return append(b, "}\n\n"...)
}

// sendLatest puts s in ch, replacing a snapshot not yet taken, so that a
// slow stream never blocks the source.
func sendLatest(ch chan *flagon.Snapshot, s *flagon.Snapshot) {
	for {
		select {
		case ch <- s:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// configurationBody returns the configuration endpoint's response.
func configurationBody(o *Options) []byte {
	b := []byte(`{"name":"flagon","capabilities":{"cacheInvalidation":{"polling":{"enabled":true,"minPollingIntervalMs":`)
	b = appendInt(b, o.MinPollInterval.Milliseconds())
	b = append(b, `}},"flagEvaluation":{"supportedTypes":["int","float","string","boolean","object"]}}}`...)
	return b
}
