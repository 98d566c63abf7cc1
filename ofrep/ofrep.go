package ofrep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/cors"
)

// The paths the handler serves. Mount the handler at "/ofrep/" (or at "/")
// without stripping the prefix.
const (
	EvaluatePath      = "/ofrep/v1/evaluate/flags" // POST: every flag; POST EvaluatePath + "/{key}": one flag
	ConfigurationPath = "/ofrep/v1/configuration"  // GET
	EventsPath        = "/ofrep/v1/events"         // GET: server-sent events
)

// Defaults for the zero Options.
const (
	// DefaultMaxBodyBytes is the largest request body read: 64 KiB.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultHeartbeat is how often an idle event stream sends a comment,
	// so that proxies do not close it.
	DefaultHeartbeat = 30 * time.Second
	// DefaultMinPollInterval is the shortest polling interval the
	// configuration endpoint advertises.
	DefaultMinPollInterval = 30 * time.Second
)

// Options configures the handler. The zero value is a valid configuration:
// open to anyone (no API keys), no rate limit, the overrides that the
// request's context carries, and change notification on.
type Options struct {
	// APIKeys are the keys a client may present, in the X-API-Key header or
	// as "Authorization: Bearer <key>". A request without a key gets 401,
	// one with an unknown key 403, both without a body. Keys are compared
	// in constant time. No keys means no authentication.
	APIKeys []string

	// RateLimit is the number of requests per second each API key (or,
	// with no keys configured, each client IP address) may make, on
	// average; zero means no limit. A request over the limit gets 429 with
	// a Retry-After header.
	RateLimit float64
	// Burst is how many requests a client may make at once before
	// RateLimit applies; zero means RateLimit rounded up, at least 1.
	Burst int
	// Limit, if set, replaces the built-in token bucket. It is called for
	// every authenticated request with a name for the client ("key:N", N
	// being the key's index in APIKeys, or "ip:ADDR"), and reports whether
	// the request may proceed and, if not, how long the client should wait.
	Limit func(r *http.Request, client string) (retryAfter time.Duration, ok bool)

	// Overrides returns the per-request overrides to apply, such as those
	// of a signed override header or cookie. Nil means the overrides that
	// the request's context carries (see flagon.WithOverrides), if any.
	Overrides func(*http.Request) flagon.Overrides

	// Layer, if set, is called once the request's context is known, with
	// the overrides from Overrides, and returns the overrides to evaluate
	// with: a layer in front of (or behind) them, such as the vendor layer
	// of ofprovider.Source.Overrides. What it returns must depend only on
	// the snapshot, ec and o, for the bulk ETag covers only those.
	Layer func(ctx context.Context, ec flagon.EvalContext, o flagon.Overrides) flagon.Overrides

	// MaxBodyBytes limits request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// DisableEvents turns off the event stream and its announcement in
	// bulk responses.
	DisableEvents bool
	// EventsURL is the event stream's URL as announced in bulk responses.
	// Empty means the request's own scheme and host with EventsPath; set it
	// when the handler is mounted under another path. A path alone (one
	// that starts with "/") is taken on the request's own scheme and host.
	EventsURL string
	// InactivityDelay, if positive, is announced with the event stream: how
	// long a client that is not in use (a hidden browser tab) may stay
	// disconnected.
	InactivityDelay time.Duration
	// Heartbeat is how often an idle stream sends a comment; zero means
	// DefaultHeartbeat.
	Heartbeat time.Duration

	// CORSOrigins are the origins (scheme://host[:port], exactly as
	// browsers send them, or "*" for any) whose pages may call the
	// endpoints, as OpenFeature's web providers do. Responses then carry
	// Access-Control-Allow-Origin for those origins (and expose ETag) and
	// Vary: Origin, and preflight requests (OPTIONS) are answered 204
	// before authentication, allowing Authorization, Content-Type and
	// X-API-Key. None, the default, sends no CORS headers.
	CORSOrigins []string
	// CORSCredentials lets those pages send cookies (an override cookie,
	// say) with their requests. Off by default.
	CORSCredentials bool

	// MinPollInterval is the shortest polling interval the configuration
	// endpoint advertises; zero means DefaultMinPollInterval.
	MinPollInterval time.Duration

	// Logger receives internal errors. Nil means slog.Default().
	Logger *slog.Logger
}

// handler is what Handler returns.
type handler struct {
	client  *flagon.Client
	opts    Options
	log     *slog.Logger
	keys    [][sha256.Size]byte // hashes of the API keys
	names   []string            // "key:N" for each key
	limit   func(*http.Request, string) (time.Duration, bool)
	mux     *http.ServeMux
	info    atomic.Pointer[snapInfo]
	config  []byte // the configuration response
	configT string // its ETag
	std     bool   // encode evaluations with encoding/json, the reference encoder (decision 0110); only tests set it
}

// Handler returns an http.Handler that serves the OFREP endpoints for the
// flags client evaluates. opts may be nil.
func Handler(client *flagon.Client, opts *Options) http.Handler {
	h := &handler{client: client}
	if opts != nil {
		h.opts = *opts
	}
	o := &h.opts
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.MinPollInterval <= 0 {
		o.MinPollInterval = DefaultMinPollInterval
	}
	h.log = o.Logger
	if h.log == nil {
		h.log = slog.Default()
	}
	for i, k := range o.APIKeys {
		if k == "" {
			continue // an empty key would let "X-API-Key:" in
		}
		h.keys = append(h.keys, sha256.Sum256([]byte(k)))
		h.names = append(h.names, "key:"+itoa(i))
	}
	h.limit = o.Limit
	if h.limit == nil && o.RateLimit > 0 {
		h.limit = newBuckets(o.RateLimit, o.Burst, time.Now).take
	}
	h.config = configurationBody(o)
	sum := sha256.Sum256(h.config)
	h.configT = `"` + hex.EncodeToString(sum[:8]) + `"`

	mux := http.NewServeMux()
	mux.HandleFunc("POST "+EvaluatePath+"/{key}", h.single)
	mux.HandleFunc("POST "+EvaluatePath, h.bulk)
	mux.HandleFunc("GET "+ConfigurationPath, h.configuration)
	if !o.DisableEvents {
		mux.HandleFunc("GET "+EventsPath, h.events)
	}
	h.mux = mux
	policy := cors.Policy{Origins: o.CORSOrigins, Credentials: o.CORSCredentials, Methods: []string{http.MethodGet, http.MethodPost}}
	return cors.Handler(policy, h)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.admit(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// overrides returns the request's overrides.
func (h *handler) overrides(r *http.Request) flagon.Overrides {
	if h.opts.Overrides != nil {
		return h.opts.Overrides(r)
	}
	return flagon.OverridesFrom(r.Context())
}

// single serves POST /ofrep/v1/evaluate/flags/{key}.
func (h *handler) single(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	bp := getBuf()
	defer putBuf(bp)
	body, f := readBody(r, h.opts.MaxBodyBytes, (*bp)[:0])
	*bp = body[:0]
	if f != nil {
		h.fail(w, key, f, false)
		return
	}
	ec, f := parseContext(body)
	if f != nil {
		h.fail(w, key, f, false)
		return
	}
	ov := h.overrides(r)
	if h.opts.Layer != nil {
		ov = h.opts.Layer(r.Context(), ec, ov)
	}
	res := h.client.Evaluate(flagon.WithScope(r.Context(), ec, ov), key)
	if res.ErrorCode != flagon.ErrorNone {
		h.fail(w, key, resultFailure(&res), false)
		return
	}
	info := h.snapInfo(h.client.Snapshot(), res.Revision)
	op := getBuf()
	defer putBuf(op)
	var out []byte
	var err error
	if h.std {
		var s *successJSON
		if s, err = stdSuccess(&res, info.metaMap[res.Key]); err == nil {
			out = stdEncode((*op)[:0], s)
		}
	} else {
		out, err = appendSuccess((*op)[:0], &res, info.meta[res.Key])
	}
	*op = out[:0]
	if err != nil {
		h.fail(w, key, &failure{code: flagon.ErrorGeneral, details: err.Error()}, false)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// bulk serves POST /ofrep/v1/evaluate/flags.
func (h *handler) bulk(w http.ResponseWriter, r *http.Request) {
	bp := getBuf()
	defer putBuf(bp)
	body, f := readBody(r, h.opts.MaxBodyBytes, (*bp)[:0])
	*bp = body[:0]
	if f != nil {
		h.fail(w, "", f, true)
		return
	}
	snap := h.client.Snapshot()
	if snap == nil {
		h.fail(w, "", notReady, true)
		return
	}
	ov := h.overrides(r)
	ctxHash := contextHash(body)
	etag := h.etag(ctxHash, snap, ov, r)
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && etagMatch(inm, etag) {
		hdr := w.Header()
		hdr["Etag"] = []string{etag}
		hdr["Cache-Control"] = cacheControl
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ec, f := parseContext(body)
	if f != nil {
		h.fail(w, "", f, true)
		return
	}
	evalOv := ov
	if h.opts.Layer != nil {
		evalOv = h.opts.Layer(r.Context(), ec, ov)
	}
	info := h.snapInfo(snap, snap.Revision())
	op := getBuf()
	defer putBuf(op)
	out := append((*op)[:0], `{"flags":[`...)
	evaluated := ""
	i := 0
	var results []any
	for res := range h.client.All(flagon.WithScope(r.Context(), ec, evalOv)) {
		if h.std {
			if i == 0 && res.Revision != snap.Revision() {
				evaluated = res.Revision
				snap = h.client.Snapshot()
				info = h.snapInfo(snap, snap.Revision())
			}
			i++
			if res.ErrorCode != flagon.ErrorNone {
				results = append(results, stdFailure(res.Key, resultFailure(&res)))
				continue
			}
			s, err := stdSuccess(&res, info.metaMap[res.Key])
			if err != nil {
				results = append(results, stdFailure(res.Key, &failure{code: flagon.ErrorGeneral, details: err.Error()}))
				continue
			}
			results = append(results, s)
			continue
		}
		if i == 0 && res.Revision != snap.Revision() {
			// The snapshot changed between the ETag and the evaluation.
			evaluated = res.Revision
			snap = h.client.Snapshot()
			info = h.snapInfo(snap, snap.Revision())
		}
		if i > 0 {
			out = append(out, ',')
		}
		i++
		if res.ErrorCode != flagon.ErrorNone {
			out = appendFailure(out, res.Key, resultFailure(&res))
			continue
		}
		mark := len(out)
		var err error
		out, err = appendSuccess(out, &res, info.meta[res.Key])
		if err != nil {
			out = appendFailure(out[:mark], res.Key, &failure{code: flagon.ErrorGeneral, details: err.Error()})
		}
	}
	if evaluated != "" {
		if snap.Revision() == evaluated {
			etag = h.etag(ctxHash, snap, ov, r)
		} else {
			etag = ""
		}
	}
	if h.std {
		if results == nil {
			results = []any{}
		}
		out = stdBulk((*op)[:0], results, snap.Revision(), h.eventsURL(r, ctxHash), h.opts.InactivityDelay)
	} else {
		out = h.appendBulkEnd(out, snap, r, ctxHash)
	}
	*op = out[:0]
	hdr := w.Header()
	if etag != "" {
		hdr["Etag"] = []string{etag}
	}
	hdr["Cache-Control"] = cacheControl
	writeJSON(w, http.StatusOK, out)
}

// appendBulkEnd appends what follows the flags of a bulk response: the
// metadata and the event stream's announcement.
func (h *handler) appendBulkEnd(out []byte, snap *flagon.Snapshot, r *http.Request, ctxHash string) []byte {
	out = append(out, `],"metadata":{"revision":`...)
	out = appendString(out, snap.Revision())
	out = append(out, '}')
	if events := h.eventsURL(r, ctxHash); events != "" {
		// The stream under both names: "eventStreams" is the one OFREP's
		// ADR-0008 adopted, "refreshConnections" the draft's, which
		// earlier clients read.
		start := len(out)
		out = append(out, `,"eventStreams":[{"type":"sse","url":`...)
		out = appendString(out, events)
		if d := h.opts.InactivityDelay; d > 0 {
			out = append(out, `,"inactivityDelaySec":`...)
			out = appendInt(out, int64(d/time.Second))
		}
		out = append(out, "}]"...)
		conn := out[start+len(`,"eventStreams":`):]
		out = append(out, `,"refreshConnections":`...)
		out = append(out, conn...)
	}
	return append(out, '}')
}

// configuration serves GET /ofrep/v1/configuration.
func (h *handler) configuration(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["Etag"] = []string{h.configT}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && etagMatch(inm, h.configT) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, h.config)
}

// eventsURL returns the event stream's URL for the bulk response whose
// context hash is ctxHash, or "".
func (h *handler) eventsURL(r *http.Request, ctxHash string) string {
	base := h.eventsBase(r)
	if base == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	u := base + sep + "context=" + ctxHash
	if len(h.keys) > 0 {
		// A browser's EventSource sends no headers: the URL carries a
		// token for this stream, made from the key this request came with.
		if key, ok := apiKey(r); ok {
			u += "&token=" + eventsToken(sha256.Sum256([]byte(key)), ctxHash)
		}
	}
	return u
}

// eventsBase returns the event stream's URL without the context hash, or
// "" when events are off.
func (h *handler) eventsBase(r *http.Request) string {
	if h.opts.DisableEvents {
		return ""
	}
	if u := h.opts.EventsURL; strings.HasPrefix(u, "/") {
		return scheme(r) + r.Host + u
	} else if u != "" {
		return u
	}
	return scheme(r) + r.Host + EventsPath
}

// scheme returns the scheme, with "://", by which the client reached the
// server.
func scheme(r *http.Request) string {
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		return "https://"
	}
	return "http://"
}

// snapInfo is what the handler precomputes once per snapshot: each flag's
// metadata, encoded as JSON object members.
type snapInfo struct {
	revision string
	meta     map[string][]byte
	metaMap  map[string]map[string]string // the same, for encoding/json
}

// snapInfo returns the precomputed information for snap, whose revision
// is rev.
func (h *handler) snapInfo(snap *flagon.Snapshot, rev string) *snapInfo {
	if in := h.info.Load(); in != nil && in.revision == rev {
		return in
	}
	in := &snapInfo{revision: rev, meta: map[string][]byte{}, metaMap: map[string]map[string]string{}}
	if snap == nil || snap.Revision() != rev {
		return in // a race with a reload; serve without flag metadata
	}
	for _, k := range snap.Keys() {
		f, _ := snap.Flag(k)
		if len(f.Metadata) > 0 {
			in.meta[k] = appendMetadata(nil, f.Metadata)
			m := make(map[string]string, len(f.Metadata))
			for mk, mv := range f.Metadata {
				if !reservedMeta[mk] {
					m[mk] = mv
				}
			}
			in.metaMap[k] = m
		}
	}
	h.info.Store(in)
	return in
}

var (
	jsonContentType = []string{"application/json"}
	cacheControl    = []string{"private, no-cache"}
)

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(body)
}

// bufPool holds response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 4<<20 {
		return // let an outsized buffer go
	}
	bufPool.Put(b)
}
