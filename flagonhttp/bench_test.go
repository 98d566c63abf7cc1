package flagonhttp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// benchWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the middleware, not a recorder.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

// BenchmarkMiddleware measures one request through the middleware to a
// handler that only writes its status: without a cookie, and with a
// signed cookie holding 10 overrides, as a browser sends it on every
// request (signed-10) and with the cookie cache off, as the first request
// with a new cookie pays (signed-10-cold).
//
//	go test -run '^$' -bench BenchmarkMiddleware -benchmem ./flagonhttp/
func BenchmarkMiddleware(b *testing.B) {
	defs := testDefs()
	for i := range 40 {
		defs.Flags = append(defs.Flags, flagon.Flag{Key: fmt.Sprintf("feature-%02d", i), Override: flagon.OverridePolicy{Who: flagon.WhoAnyone}})
	}
	client, _ := newTestClient(b, defs)
	attrs := map[string]any{"is_staff": false, "country": "NL"}
	opts := &Options{
		Keys:    testKeys,
		Logger:  discard,
		Context: func(*http.Request) flagon.EvalContext { return flagon.EvalContext{Key: "user-1", Attrs: attrs} },
	}
	trivial := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	handler := Middleware(client, opts)(trivial)
	// cold has no cookie cache: every request verifies and parses the
	// cookie, as the first request with a new cookie does.
	coldCfg := newConfig(client, opts)
	coldCfg.cache = nil
	cold := coldCfg.middleware(trivial)
	now := time.Now()
	var entries []Entry
	for i := range 10 {
		entries = append(entries, Entry{Flag: fmt.Sprintf("feature-%02d", i), Value: i%2 == 0, SetAt: now, ExpiresAt: now.Add(24 * time.Hour)})
	}
	cookie, err := (&Codec{Keys: testKeys}).Encode(entries)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("signed-10 cookie: %d bytes", len(cookie))

	for _, bc := range []struct {
		name    string
		handler http.Handler
		cookie  string
		want    int
	}{{"no-cookie", handler, "", 0}, {"signed-10", handler, cookie, 10}, {"signed-10-cold", cold, cookie, 10}} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept", "text/html")
			r.Header.Set("Cookie", "session=abc123; theme=dark")
			if bc.cookie != "" {
				r.Header.Set("Cookie", "session=abc123; "+DefaultCookieName+"="+bc.cookie+"; theme=dark")
			}
			w := &benchWriter{h: make(http.Header)}
			// Check the setup once: the overrides are read.
			bc.handler.ServeHTTP(w, r)
			if got := w.h.Get(HeaderOverrides); got != fmt.Sprint(bc.want) && !(bc.want == 0 && got == "") {
				b.Fatalf("%s: %q, want %d", HeaderOverrides, got, bc.want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.h)
				bc.handler.ServeHTTP(w, r)
			}
		})
	}
}
