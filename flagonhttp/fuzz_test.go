package flagonhttp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzRequest sends arbitrary link parameters, cookies and headers
// through the middleware and the override link: whatever comes in, the
// answer is never a 5xx and nothing panics.
func FuzzRequest(f *testing.F) {
	client, _ := newTestClient(f, testDefs())
	opts := testOptions()
	opts.Compat = Compat{FeatureCookies: true, JSONCookie: true, Query: true}
	app := newTestApp(f, client, opts)
	good := mustCookie(f, testCodec(), Entry{Flag: "checkout", Value: "classic", SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)})
	f.Add("new-home-page", "enable=true&duration=60&redirect_url=/x", DefaultCookieName+"="+good, "")
	f.Add("checkout", "value=express&flagon.ratio=0.1", `feature_flags={"ratio":1e400}; features.short=maybe`, "1.k1.x.y")
	f.Add("kill-switch", "token=1.k1.e30."+strings.Repeat("A", 43), "flagon_overrides=1.k1..", "1.k1.99.e30."+strings.Repeat("B", 43))
	f.Fuzz(func(t *testing.T, name, query, cookie, header string) {
		for _, method := range []string{"GET", "POST"} {
			r := &http.Request{
				Method:     method,
				URL:        &url.URL{Path: "/features/" + name, RawQuery: query},
				Header:     http.Header{"Cookie": {cookie}, HeaderOverrides: {header}, "Accept": {"application/json"}},
				Host:       "example.com",
				RemoteAddr: "192.0.2.1:1234",
				Body:       http.NoBody,
			}
			r = r.WithContext(t.Context())
			w := httptest.NewRecorder()
			app.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s?%s with cookie %q: status %d: %s", method, name, query, cookie, w.Code, w.Body)
			}
		}
	})
}
