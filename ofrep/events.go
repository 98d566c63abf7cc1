package ofrep

import (
	"net/http"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/sse"
)

// events serves GET /ofrep/v1/events: a server-sent event stream that
// sends a refetchEvaluation event, with the new snapshot's revision as id,
// each time the client's source publishes a snapshot with a new revision.
// The event's etag is the ETag the client's bulk request would now get:
// the stream's URL, as the bulk response announces it, carries the hash of
// the client's context, and the overrides are those of the stream's own
// request. A client that holds that ETag already need not refetch. A
// reconnecting client whose Last-Event-ID is not the current revision gets
// an event at once. The stream ends when the request's context does.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	src := h.client.Source()
	if src == nil {
		h.fail(w, "", notReady, true)
		return
	}
	ctxHash := r.URL.Query().Get("context")
	if !validContextHash(ctxHash) {
		ctxHash = "" // no bulk response announced this URL: every etag differs from the client's
	}
	ov := h.overrides(r)

	ch := make(chan *flagon.Snapshot, 1)
	unsubscribe := src.Subscribe(func(s *flagon.Snapshot) { sse.SendLatest(ch, s) })
	defer unsubscribe()

	last := r.Header.Get("Last-Event-ID")
	bp := getBuf()
	defer putBuf(bp)
	event := func(sw *sse.Writer, s *flagon.Snapshot) {
		last = s.Revision()
		b := append((*bp)[:0], `{"type":"refetchEvaluation","etag":`...)
		b = appendString(b, h.etag(ctxHash, s, ov, r))
		b = append(b, `,"lastModified":`...)
		b = appendInt(b, s.Created().Unix())
		b = append(b, '}')
		*bp = b[:0]
		sw.Event(s.Revision(), "message", b)
	}
	sse.Serve(w, r, ch, sse.Stream[*flagon.Snapshot]{
		Heartbeat: h.opts.Heartbeat,
		Open: func(sw *sse.Writer) {
			sw.Comment("flagon change notification")
			if cur := src.Snapshot(); cur != nil {
				if last != "" && last != cur.Revision() {
					event(sw, cur)
				}
				last = cur.Revision()
			}
		},
		Send: func(sw *sse.Writer, s *flagon.Snapshot) {
			if s != nil && s.Revision() != last {
				event(sw, s)
			}
		},
	})
}

// configurationBody returns the configuration endpoint's response.
func configurationBody(o *Options) []byte {
	b := []byte(`{"name":"flagon","capabilities":{"cacheInvalidation":{"polling":{"enabled":true,"minPollingIntervalMs":`)
	b = appendInt(b, o.MinPollInterval.Milliseconds())
	b = append(b, `}},"flagEvaluation":{"supportedTypes":["int","float","string","boolean","object"]}}}`...)
	return b
}
