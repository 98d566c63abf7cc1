package flagonhttp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/cors"
)

// FeaturesHandler returns a handler that serves the flags evaluated for
// the request, overrides included, as JSON, so that front-end code makes
// the same decisions as the server:
//
//	{"revision": "3f2a…", "flags": {"new-home-page": {"value": true, "variant": "on", "reason": "OVERRIDE", "source": "cookie"}}}
//
// Mount it behind Middleware, at "GET /features.json" (see Mount). The
// response has a strong ETag of its body and answers If-None-Match with
// 304; it is private to the user (Cache-Control: private, no-cache; Vary:
// Cookie). Options.Expose selects the flags shown; by default, all.
// Options.CORSOrigins opens it to pages of other origins.
func FeaturesHandler(c *flagon.Client, opts *Options) http.Handler {
	cfg := newConfig(c, opts)
	policy := cors.Policy{Origins: cfg.opts.CORSOrigins, Credentials: cfg.opts.CORSCredentials, Methods: []string{http.MethodGet, http.MethodHead}}
	return cors.Handler(policy, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, r, fail(errMethod, fieldError{"method", r.Method + " is not allowed: use GET"}))
			return
		}
		body := cfg.features(r)
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:12]) + `"`
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "private, no-cache")
		addVary(h, "Cookie")
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	}))
}

type featureJSON struct {
	Value   any    `json:"value"`
	Variant string `json:"variant,omitempty"`
	Reason  string `json:"reason"`
	Source  string `json:"source,omitempty"`
}

// features returns the JSON body of /features.json for r.
func (cfg *config) features(r *http.Request) []byte {
	snap := cfg.client.Snapshot()
	out := struct {
		Revision string                 `json:"revision"`
		Flags    map[string]featureJSON `json:"flags"`
	}{Flags: map[string]featureJSON{}}
	if snap != nil {
		out.Revision = snap.Revision()
	}
	for res := range cfg.client.All(r.Context()) {
		if cfg.opts.Expose != nil {
			f, ok := snap.Flag(res.Key)
			if !ok || !cfg.opts.Expose(f) {
				continue
			}
		}
		out.Flags[res.Key] = featureJSON{Value: res.Value, Variant: res.Variant, Reason: string(res.Reason), Source: res.OverrideSource}
	}
	b, err := json.Marshal(out)
	if err != nil {
		// Values are canonical JSON types; this does not happen.
		return []byte(`{"flags":{}}`)
	}
	return append(b, '\n')
}

// etagMatch reports whether an If-None-Match header matches etag, with
// the weak comparison RFC 9110 asks for.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
