// Package cors answers cross-origin requests from browser pages for the
// packages that serve JSON to them, ofrep and flagonhttp: the
// Access-Control headers of the Fetch standard for allowed origins, and
// preflight requests.
package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxAge is how long a browser may cache a preflight's answer. Chromium
// caps it at two hours.
const MaxAge = 2 * time.Hour

// Headers are the request headers a page may send: the credentials and
// content type of the JSON endpoints, OFREP's API key, and the
// revalidation and stream headers.
const Headers = "Authorization, Content-Type, X-API-Key, If-None-Match, Last-Event-ID"

// Policy says which pages may call a handler.
type Policy struct {
	// Origins are the allowed origins, exactly as browsers send them
	// (scheme://host[:port]); "*" allows any. None turns CORS off.
	Origins []string
	// Credentials lets pages send cookies and HTTP authentication
	// (Access-Control-Allow-Credentials). With "*", the request's origin
	// is echoed, as the standard requires.
	Credentials bool
	// Methods are the methods allowed, for the preflight's answer.
	Methods []string
}

// Handler returns h answering cross-origin requests as p says; with no
// origins, h itself. Every response then varies by Origin. A preflight
// (OPTIONS with Access-Control-Request-Method) is answered 204 here,
// before h and its authentication see it; with allowed-origin headers
// only for an allowed origin.
func Handler(p Policy, h http.Handler) http.Handler {
	if len(p.Origins) == 0 {
		return h
	}
	anyOrigin := slices.Contains(p.Origins, "*")
	methods := strings.Join(append(slices.Clone(p.Methods), http.MethodOptions), ", ")
	maxAge := strconv.Itoa(int(MaxAge / time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (anyOrigin || slices.Contains(p.Origins, origin))
		if allowed {
			if anyOrigin && !p.Credentials {
				hdr.Set("Access-Control-Allow-Origin", "*")
			} else {
				hdr.Set("Access-Control-Allow-Origin", origin)
			}
			if p.Credentials {
				hdr.Set("Access-Control-Allow-Credentials", "true")
			}
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hdr.Add("Vary", "Access-Control-Request-Method")
			hdr.Add("Vary", "Access-Control-Request-Headers")
			if allowed {
				hdr.Set("Access-Control-Allow-Methods", methods)
				hdr.Set("Access-Control-Allow-Headers", Headers)
				hdr.Set("Access-Control-Max-Age", maxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			hdr.Set("Access-Control-Expose-Headers", "ETag")
		}
		h.ServeHTTP(w, r)
	})
}
