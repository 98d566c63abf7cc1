package flagonhttp

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// Middleware returns middleware that, once per request, builds the
// evaluation context with opts.Context, reads the request's overrides and
// puts both into the request's context, so that client.Bool(r.Context(),
// …), typed handles and the template functions see them.
//
// Overrides come from these layers; for each flag, the first that has an
// entry wins:
//
//  1. query parameters ?flagon.<flag>=… (Compat.Query; anyone flags only)
//  2. the signed Flagon-Overrides header of an upstream service
//  3. the signed override cookie
//  4. the legacy cookies features.<flag> and feature_flags (Compat;
//     anyone flags only)
//  5. the signed-in user's stored overrides (opts.UserOverrides)
//
// Entries of flags that do not exist, whose policy is none, whose value the
// flag cannot take or whose time is up are dropped. A forged, altered,
// oversized or unreadable cookie or header is ignored and logged once.
//
// A response to a request that carries overrides gets Vary: Cookie (and
// Flagon-Overrides, for the header) and Cache-Control: private, set when
// the handler writes its header. Outside production it also gets a
// Flagon-Overrides header with the number of overrides.
//
// Middleware works with any router that takes func(http.Handler)
// http.Handler middleware: http.ServeMux, chi, gorilla/mux.
func Middleware(c *flagon.Client, opts *Options) func(http.Handler) http.Handler {
	return newConfig(c, opts).middleware
}

func (cfg *config) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg.serve(w, r, next)
	})
}

func (cfg *config) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	var ec flagon.EvalContext
	if cfg.opts.Context != nil {
		ec = cfg.opts.Context(r)
	}
	si := cfg.snapInfo()
	ro := cfg.collect(r, si)
	if ro == nil {
		next.ServeHTTP(w, r.WithContext(flagon.WithScope(r.Context(), ec, nil)))
		return
	}
	if n := len(ro.list); n > 0 && !ro.production {
		w.Header().Set(HeaderOverrides, strconv.Itoa(n))
	}
	hw := &honestWriter{ResponseWriter: w, vary: ro.vary}
	next.ServeHTTP(hw, r.WithContext(flagon.WithScope(r.Context(), ec, ro)))
}

// reqOverrides is the override layer of one request: every layer's
// entries merged once, first layer first, so that a lookup is a short scan
// and allocates nothing.
type reqOverrides struct {
	list       []keyedOverride
	index      map[string]int   // built when list is long
	user       flagon.Overrides // an opaque user layer, consulted last
	si         *snapInfo
	cfg        *config
	vary       string // what the response varies by
	production bool
	read       uint8 // bit l set: layer l was read
	prior      int32 // entries from layers above the one being read
	// starts says where in list each layer read begins. The fields are
	// packed so that reqOverrides stays in its allocation size class.
	starts [len(layerNames)]int32
	buf    [12]keyedOverride
}

// A layerID names a layer of overrides: an index into layerNames, in the
// order the middleware reads them.
type layerID uint8

const (
	layerQuery layerID = iota
	layerHeader
	layerCookie
	layerLegacy
	layerUser
)

// layerNames are the names of the layers, the Source constants.
var layerNames = [...]string{SourceQuery, SourceHeader, SourceCookie, SourceLegacyCookie, SourceUser}

// mark records that the entries added from now on are layer l's, unless
// l was read before (as a second legacy cookie is).
func (ro *reqOverrides) mark(l layerID) {
	if ro.read&(1<<l) == 0 {
		ro.read |= 1 << l
		ro.starts[l] = int32(len(ro.list))
	}
}

// keyedOverride is one flag's override, kept compact: times in Unix
// seconds, zero for none.
type keyedOverride struct {
	key       string
	value     any
	source    string
	setAt     int64
	expiresAt int64
}

func (k *keyedOverride) override() flagon.Override {
	o := flagon.Override{Value: k.value, Source: k.source}
	if k.setAt != 0 {
		o.SetAt = time.Unix(k.setAt, 0)
	}
	if k.expiresAt != 0 {
		o.ExpiresAt = time.Unix(k.expiresAt, 0)
	}
	return o
}

// indexAbove is the list length from which lookups use a map.
const indexAbove = 16

var _ flagon.Overrides = (*reqOverrides)(nil)

// Override implements flagon.Overrides.
func (ro *reqOverrides) Override(key string) (flagon.Override, bool) {
	if ro.index != nil {
		if i, ok := ro.index[key]; ok {
			return ro.list[i].override(), true
		}
	} else {
		for i := range ro.list {
			if ro.list[i].key == key {
				return ro.list[i].override(), true
			}
		}
	}
	if ro.user != nil {
		return ro.userOverride(key)
	}
	return flagon.Override{}, false
}

// userOverride consults an opaque user layer, applying what the core
// does not: the none policy and expiry.
func (ro *reqOverrides) userOverride(key string) (flagon.Override, bool) {
	fi := ro.si.flags[key]
	if fi == nil || fi.who == flagon.WhoNone {
		return flagon.Override{}, false
	}
	o, ok := ro.user.Override(key)
	if !ok || !o.ExpiresAt.IsZero() && !o.ExpiresAt.After(ro.cfg.now()) {
		return flagon.Override{}, false
	}
	if o.Source == "" {
		o.Source = SourceUser
	}
	return o, true
}

// has reports whether a layer above the one being read has an entry for
// key. Within a layer, keys are unique (the encoder refuses repeats; maps
// cannot hold them), and a repeat would only be shadowed.
func (ro *reqOverrides) has(key string) bool {
	for i := range ro.list[:ro.prior] {
		if ro.list[i].key == key {
			return true
		}
	}
	return false
}

// add appends an entry unless a higher layer has one for the flag.
func (ro *reqOverrides) add(key string, value any, source string, setAt, expiresAt int64) {
	if !ro.has(key) {
		ro.list = append(ro.list, keyedOverride{key: key, value: value, source: source, setAt: setAt, expiresAt: expiresAt})
	}
}

// addOverride is add for a flagon.Override.
func (ro *reqOverrides) addOverride(key string, o flagon.Override) {
	ro.add(key, o.Value, o.Source, unixOrZero(o.SetAt), unixOrZero(o.ExpiresAt))
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (ro *reqOverrides) addVary(h string) {
	if strings.Contains(ro.vary, h) {
		return
	}
	if ro.vary == "" {
		ro.vary = h
	} else {
		ro.vary += ", " + h
	}
}

// collector gathers one request's overrides. It lives on the stack, and
// allocates the reqOverrides only when a layer has something.
type collector struct {
	cfg   *config
	si    *snapInfo
	now   time.Time
	ro    *reqOverrides
	layer layerID // the layer being read
}

func (c *collector) get() *reqOverrides {
	if c.ro == nil {
		c.ro = &reqOverrides{si: c.si, cfg: c.cfg, production: c.cfg.production(c.si)}
		c.ro.list = c.ro.buf[:0]
		c.ro.mark(c.layer)
	}
	return c.ro
}

// nextLayer marks the start of a lower layer: its entries give way to
// those read so far.
func (c *collector) nextLayer(l layerID) {
	c.layer = l
	if c.ro != nil {
		c.ro.prior = int32(len(c.ro.list))
		c.ro.mark(l)
	}
}

// collect reads every layer of r's overrides. It returns nil when r
// carries none.
func (cfg *config) collect(r *http.Request, si *snapInfo) *reqOverrides {
	if si.snap == nil {
		return nil
	}
	c := collector{cfg: cfg, si: si, now: cfg.now(), layer: layerQuery}
	if cfg.opts.Compat.Query && strings.Contains(r.URL.RawQuery, "flagon.") {
		c.readQuery(r)
	}
	if !cfg.opts.IgnoreHeader {
		if hv := r.Header[HeaderOverrides]; len(hv) > 0 {
			c.nextLayer(layerHeader)
			c.readHeader(hv[0])
		}
	}
	if v, ok := cookieValue(r.Header, cfg.codec.name()); ok {
		c.nextLayer(layerCookie)
		c.readCookie(r, v)
	}
	if cfg.opts.Compat.FeatureCookies || cfg.opts.Compat.JSONCookie {
		c.readLegacy(r) // two layers; it calls nextLayer
	}
	if cfg.opts.UserOverrides != nil {
		c.nextLayer(layerUser)
		c.readUser(r)
	}
	ro := c.ro
	if ro != nil && len(ro.list) > indexAbove {
		ro.index = make(map[string]int, len(ro.list))
		for i, e := range ro.list {
			if _, dup := ro.index[e.key]; !dup {
				ro.index[e.key] = i
			}
		}
	}
	return ro
}

// readCookie adds the entries of the signed cookie whose value is v.
func (c *collector) readCookie(r *http.Request, v string) {
	cfg := c.cfg
	if cfg.cache != nil {
		if cc := cfg.cache.get(v, c.si); cc != nil {
			c.addCached(cc)
			return
		}
	}
	bp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(bp)
	payload, err := cfg.codec.open(v, *bp)
	if err != nil {
		// Browsers send the cookie of the most specific path first; an
		// older cookie set by another path may follow.
		if cks := r.CookiesNamed(cfg.codec.name()); len(cks) > 1 {
			for _, ck := range cks[1:] {
				if p, err2 := cfg.codec.open(ck.Value, nil); err2 == nil {
					payload, err, v = p, nil, ck.Value
					break
				}
			}
		}
		if err != nil {
			cfg.warnOnce("override cookie", v, err, slog.String("cookie", cfg.codec.name()), slog.Int("size", len(v)))
			return
		}
	}
	var cc *cachedCookie
	if cfg.cache != nil {
		cc = &cachedCookie{value: v, si: c.si}
	}
	if !c.addPayload(payload, SourceCookie, cc) {
		cfg.warnOnce("override cookie", v, ErrMalformed, slog.String("cookie", cfg.codec.name()))
		return
	}
	if cc != nil {
		cfg.cache.put(cc)
	}
}

// addCached adds the entries of a cookie read before that are still
// active.
func (c *collector) addCached(cc *cachedCookie) {
	now := c.now.Unix()
	added := false
	for i := range cc.entries {
		e := &cc.entries[i]
		if now >= e.expiresAt {
			continue
		}
		c.get().add(e.key, e.value, SourceCookie, e.setAt, e.expiresAt)
		added = true
	}
	if added {
		c.ro.addVary("Cookie")
	}
}

// addPayload adds the active entries of a verified payload, and records
// them in cc if it is not nil. A payload that is malformed adds nothing,
// and addPayload returns false. Entries set in the future are logged.
func (c *collector) addPayload(payload []byte, source string, cc *cachedCookie) bool {
	wire, err := decodePayload(payload)
	if err != nil {
		return false
	}
	unix := c.now.Unix()
	added := false
	for i := range wire {
		w := &wire[i]
		fi := c.si.flags[w.flag]
		v, exp, st := fi.judge(w, unix)
		if st != EntryActive {
			if fi != nil && w.future(unix) {
				c.cfg.warnOnce("override "+source+" entry", w.flag+"\x00"+string(payload), errFuture,
					slog.String("flag", w.flag), slog.Time("setAt", time.Unix(w.SetAt, 0)))
			}
			continue
		}
		c.get().add(fi.key, v, source, w.SetAt, exp)
		added = true
		if cc != nil {
			cc.entries = append(cc.entries, cachedEntry{fi.key, v, w.SetAt, exp})
		}
	}
	if added {
		if source == SourceHeader {
			c.ro.addVary(HeaderOverrides)
		} else {
			c.ro.addVary("Cookie")
		}
	}
	return true
}

// errFuture is logged for an override entry set later than now, beyond
// the clock skew allowed.
var errFuture = errors.New("override set in the future")

// readUser adds the signed-in user's stored overrides.
func (c *collector) readUser(r *http.Request) {
	uo, err := c.cfg.opts.UserOverrides(r)
	if err != nil {
		c.cfg.warnOnce("user overrides", err.Error(), err)
		return
	}
	switch m := uo.(type) {
	case nil:
	case flagon.OverrideMap:
		added := false
		for key, o := range m {
			fi := c.si.flags[key]
			if fi == nil || fi.who == flagon.WhoNone {
				continue
			}
			v, i, ok := fi.fromGo(o.Value)
			if !ok || !fi.permits(i) {
				continue
			}
			if !o.SetAt.IsZero() {
				limit := o.SetAt.Add(fi.maxDur)
				if o.ExpiresAt.IsZero() || o.ExpiresAt.After(limit) {
					o.ExpiresAt = limit
				}
			}
			if !o.ExpiresAt.IsZero() && !o.ExpiresAt.After(c.now) {
				continue
			}
			o.Value = v
			if o.Source == "" {
				o.Source = SourceUser
			}
			c.get().addOverride(key, o)
			added = true
		}
		if added {
			c.get().addVary("Cookie")
		}
	default:
		ro := c.get()
		ro.user = uo
		ro.addVary("Cookie")
	}
}

// honestWriter marks a response that may depend on overrides as private
// to the user, just before its header is written.
type honestWriter struct {
	http.ResponseWriter
	vary  string
	wrote bool
}

func (w *honestWriter) mark() {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.ResponseWriter.Header()
	for v := range strings.SplitSeq(w.vary, ", ") {
		addVary(h, v)
	}
	h.Set("Cache-Control", privatize(h.Get("Cache-Control")))
}

// WriteHeader implements http.ResponseWriter.
func (w *honestWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.mark()
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *honestWriter) Write(b []byte) (int, error) {
	w.mark()
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *honestWriter) Flush() {
	w.mark()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker, for handlers that upgrade the
// connection.
func (w *honestWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *honestWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// addVary adds v to the Vary header unless it is there.
func addVary(h http.Header, v string) {
	if v == "" {
		return
	}
	for _, line := range h.Values("Vary") {
		for f := range strings.SplitSeq(line, ",") {
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, v) {
				return
			}
		}
	}
	h.Add("Vary", v)
}

// privatize returns the Cache-Control value cc with shared caches kept
// out: private instead of public, unless it already says private or
// no-store.
func privatize(cc string) string {
	if cc == "" {
		return "private"
	}
	var keep []string
	for d := range strings.SplitSeq(cc, ",") {
		d = strings.TrimSpace(d)
		name, _, _ := strings.Cut(d, "=")
		switch strings.ToLower(name) {
		case "private", "no-store":
			return cc
		case "public", "":
			continue
		}
		keep = append(keep, d)
	}
	return strings.Join(append([]string{"private"}, keep...), ", ")
}

// OverrideCount returns the number of overrides the request whose context
// is ctx carries, as the middleware read them (stored user overrides that
// are not an OverrideMap are not counted).
func OverrideCount(ctx context.Context) int {
	if ro, ok := flagon.OverridesFrom(ctx).(*reqOverrides); ok {
		return len(ro.list)
	}
	return 0
}

// ActiveOverrides returns the overrides that the request whose context is
// ctx carries, highest layer first, each with its source. The admin UI
// shows them; the Transport forwards them. Stored user overrides that are
// not an OverrideMap are not listed.
func ActiveOverrides(ctx context.Context) []ActiveOverride {
	ro, ok := flagon.OverridesFrom(ctx).(*reqOverrides)
	if !ok {
		return nil
	}
	out := make([]ActiveOverride, len(ro.list))
	for i, e := range ro.list {
		out[i] = ActiveOverride{Flag: e.key, Override: e.override()}
	}
	return out
}

// OverrideLayers returns the override layers that the middleware applied
// to the request whose context is ctx, highest first, each named by the
// Source constant of where it came from: query, header, cookie,
// legacy-cookie (Compat) and user. Each holds the entries of its layer
// that took effect: an entry shadowed by a higher layer's, or refused (no
// such flag, policy none, a value the flag cannot take, expired), is not
// in it. Pass them to flagon.Snapshot.Explain to see how the request's
// evaluation decided; its Result is what the request's evaluation serves.
func OverrideLayers(ctx context.Context) []flagon.OverrideLayer {
	ro, ok := flagon.OverridesFrom(ctx).(*reqOverrides)
	if !ok {
		return nil
	}
	var out []flagon.OverrideLayer
	for l := range layerNames {
		if ro.read&(1<<l) == 0 {
			continue
		}
		start, end := int(ro.starts[l]), len(ro.list)
		for next := l + 1; next < len(layerNames); next++ {
			if ro.read&(1<<next) != 0 {
				end = int(ro.starts[next])
				break
			}
		}
		if start == end {
			continue
		}
		m := make(flagon.OverrideMap, end-start)
		for _, e := range ro.list[start:end] {
			m[e.key] = e.override()
		}
		out = append(out, flagon.OverrideLayer{Name: layerNames[l], Overrides: m})
	}
	if ro.user != nil {
		out = append(out, flagon.OverrideLayer{Name: SourceUser, Overrides: userLayer{ro}})
	}
	return out
}

// userLayer is an opaque user layer as the middleware consults it.
type userLayer struct{ ro *reqOverrides }

// Override implements flagon.Overrides.
func (u userLayer) Override(key string) (flagon.Override, bool) { return u.ro.userOverride(key) }

// An ActiveOverride is one override that applies to a request.
type ActiveOverride struct {
	Flag string
	flagon.Override
}
