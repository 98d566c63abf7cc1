package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/sse"
)

// The server's endpoints.
const (
	// SnapshotPath serves the current snapshot's definitions as JSON, its
	// revision as ETag, and its environment in EnvironmentHeader.
	SnapshotPath = "/api/v1/snapshot"
	// EventsPath serves a server-sent event stream with the revision of
	// each new snapshot.
	EventsPath = "/api/v1/snapshot/events"
	// EnvironmentHeader names the environment the server's snapshot was
	// compiled for.
	EnvironmentHeader = "Flagon-Environment"
)

// heartbeat is how often an idle event stream sends a comment; a client
// that hears nothing for much longer reconnects.
const heartbeat = 25 * time.Second

// handler is what Handler returns.
type handler struct {
	src     flagon.Source
	encoded atomic.Pointer[encoded]
	mux     *http.ServeMux
}

// encoded is a snapshot's definitions, encoded once.
type encoded struct {
	snap *flagon.Snapshot
	body []byte
	err  error
}

// Handler returns an http.Handler that serves src's snapshots to remote
// sources: GET SnapshotPath and GET EventsPath. It does no authentication;
// wrap it in the server's own.
//
// An event stream ends when its request's context does; a server that wants
// streams to end at shutdown derives its request contexts from one it
// cancels (http.Server.BaseContext).
func Handler(src flagon.Source) http.Handler {
	h := &handler{src: src, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+SnapshotPath, h.snapshot)
	h.mux.HandleFunc("GET "+EventsPath, h.events)
	return h.mux
}

func (h *handler) snapshot(w http.ResponseWriter, r *http.Request) {
	snap := h.src.Snapshot()
	if snap == nil {
		writeError(w, errNoSnapshot)
		return
	}
	etag := `"` + snap.Revision() + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", "no-cache")
	if env := snap.Environment(); env != "" {
		hdr.Set(EnvironmentHeader, env)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	enc := h.encode(snap)
	if enc.err != nil {
		slog.Error("remote: encoding snapshot", "revision", snap.Revision(), "err", enc.err)
		writeError(w, fmt.Errorf("%w: %w", errEncode, enc.err))
		return
	}
	hdr.Set("Content-Type", "application/json")
	w.Write(enc.body)
}

// encode returns snap's definitions as JSON, encoding them once per
// snapshot.
func (h *handler) encode(snap *flagon.Snapshot) *encoded {
	if e := h.encoded.Load(); e != nil && e.snap == snap {
		return e
	}
	e := &encoded{snap: snap}
	e.body, e.err = json.Marshal(snap.Definitions())
	h.encoded.Store(e)
	return e
}

// events sends the current revision at once, then each new one, as
//
//	id: <revision>
//	event: snapshot
//	data: {"revision":"<revision>"}
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	ch := make(chan *flagon.Snapshot, 1)
	unsubscribe := h.src.Subscribe(func(s *flagon.Snapshot) { sse.SendLatest(ch, s) })
	defer unsubscribe()

	last := ""
	sse.Serve(w, r, ch, sse.Stream[*flagon.Snapshot]{
		Heartbeat: heartbeat,
		Open: func(sw *sse.Writer) {
			sw.Comment("flagon snapshot events")
			if s := h.src.Snapshot(); s != nil {
				last = s.Revision()
				addEvent(sw, last)
			}
		},
		Send: func(sw *sse.Writer, s *flagon.Snapshot) {
			if s != nil && s.Revision() != last {
				last = s.Revision()
				addEvent(sw, last)
			}
		},
	})
}

func addEvent(sw *sse.Writer, rev string) {
	data, _ := json.Marshal(struct {
		Revision string `json:"revision"`
	}{rev})
	sw.Event(rev, "snapshot", data)
}

// The handler's failures.
var (
	errNoSnapshot = errors.New("no snapshot yet")
	errEncode     = errors.New("encoding the snapshot failed")
)

// statusTable maps every error the handler answers with to its HTTP
// status; the first entry the error matches (errors.Is) decides, and an
// error that matches none is a 500.
var statusTable = []struct {
	err    error
	status int
}{
	{errNoSnapshot, http.StatusServiceUnavailable},
	{errEncode, http.StatusInternalServerError},
}

// statusOf returns the HTTP status that answers err.
func statusOf(err error) int {
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// writeError answers with err's status and the table's words for it (not
// the details, which go to the log). A 503 asks the client to retry soon.
func writeError(w http.ResponseWriter, err error) {
	status := statusOf(err)
	msg := http.StatusText(status)
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			msg = e.err.Error()
			break
		}
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, msg, status)
}

// etagMatch reports whether an If-None-Match header names etag, weakly
// compared, or is "*".
func etagMatch(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}
