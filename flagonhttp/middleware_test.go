package flagonhttp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// probe is a handler that reports what flags it sees.
func probe(c *flagon.Client, keys ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var parts []string
		for _, k := range keys {
			res := c.Evaluate(r.Context(), k)
			s := fmt.Sprintf("%s=%v", k, res.Value)
			if res.Reason == flagon.ReasonOverride {
				s += "(" + res.OverrideSource + ")"
			}
			parts = append(parts, s)
		}
		if ec := flagon.EvalContextFrom(r.Context()); ec.Key != "" {
			parts = append(parts, "key="+ec.Key)
		}
		io.WriteString(w, strings.Join(parts, " "))
	})
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func withCookie(r *http.Request, name, value string) *http.Request {
	r.Header.Add("Cookie", name+"="+value)
	return r
}

func TestMiddlewareNoOverrides(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	h := Middleware(client, testOptions())(probe(client, "new-home-page"))
	w := serve(h, httptest.NewRequest("GET", "/", nil))
	if got, want := w.Body.String(), "new-home-page=false key=u1"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	for _, hdr := range []string{"Vary", "Cache-Control", HeaderOverrides} {
		if v := w.Header().Get(hdr); v != "" {
			t.Errorf("%s: %q, want none on a response without overrides", hdr, v)
		}
	}
}

func TestMiddlewareSignedCookie(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	c := testCodec()
	v := mustCookie(t, c,
		Entry{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "checkout", Value: "express-v2", SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "kill-switch", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "limit", Value: 1000, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "gone", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
	)
	h := Middleware(client, testOptions())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		probe(client, "new-home-page", "checkout", "kill-switch", "limit").ServeHTTP(w, r)
	}))
	w := serve(h, withCookie(httptest.NewRequest("GET", "/", nil), DefaultCookieName, v))
	want := "new-home-page=true(cookie) checkout=express-v2(cookie) kill-switch=false limit=1000(cookie) key=u1"
	if got := w.Body.String(); got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if got := w.Header().Get("Vary"); got != "Cookie" {
		t.Errorf("Vary %q, want Cookie", got)
	}
	if got := w.Header().Get("Cache-Control"); got != "private, max-age=600" {
		t.Errorf("Cache-Control %q, want private, max-age=600", got)
	}
	if got := w.Header().Get(HeaderOverrides); got != "3" {
		t.Errorf("%s: %q, want 3", HeaderOverrides, got)
	}
}

func TestMiddlewareProductionHidesCount(t *testing.T) {
	v := mustCookie(t, testCodec(), Entry{Flag: "new-home-page", Value: true, SetAt: testNow})
	for _, tt := range []struct {
		name string
		env  string
		prod bool
	}{{"option", "", true}, {"environment", "production", false}} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := flagon.NewMemorySource(testDefs(), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			client := flagon.NewClient(src, &flagon.Options{Logger: discard})
			opts := testOptions()
			opts.Production = tt.prod
			h := Middleware(client, opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, string(Banner(r.Context())))
			}))
			w := serve(h, withCookie(httptest.NewRequest("GET", "/", nil), DefaultCookieName, v))
			if got := w.Header().Get(HeaderOverrides); got != "" {
				t.Errorf("%s: %q in production", HeaderOverrides, got)
			}
			if w.Body.Len() != 0 {
				t.Errorf("banner %q in production", w.Body.String())
			}
			if got := w.Header().Get("Cache-Control"); got != "private" {
				t.Errorf("Cache-Control %q, want private", got)
			}
		})
	}
}

// TestMiddlewareBadCookies sends cookies that must be ignored: never a
// 5xx, the flag at its default, and each distinct bad cookie logged once.
func TestMiddlewareBadCookies(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	c := testCodec()
	on := Entry{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
	good := mustCookie(t, c, on)
	parts := strings.Split(good, ".")
	retired := mustCookie(t, &Codec{Keys: MustKeys(testKey("k0")), Now: fixedNow}, on)
	tests := []struct {
		name, value string
		logged      bool
	}{
		{"forged", parts[0] + "." + parts[1] + "." + parts[2] + "." + strings.Repeat("A", 43), true},
		{"tampered", parts[0] + "." + parts[1] + "." + parts[2][:10] + "x" + parts[2][11:] + "." + parts[3], true},
		{"expired", mustCookie(t, c, Entry{Flag: "new-home-page", Value: true, SetAt: testNow.Add(-2 * time.Hour), ExpiresAt: testNow.Add(-time.Hour)}), false},
		{"replayed after key rotation", retired, true},
		{"oversized", good + strings.Repeat("x", DefaultMaxCookieSize), true},
		{"unknown version", "9" + good[1:], true},
		{"malformed", "%%%;;", true},
		{"empty", "", true},
		{"wrong type", mustCookie(t, c, Entry{Flag: "new-home-page", Value: "yes", SetAt: testNow}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &logRecorder{}
			opts := testOptions()
			opts.Logger = slog.New(rec)
			h := Middleware(client, opts)(probe(client, "new-home-page"))
			for range 3 {
				w := serve(h, withCookie(httptest.NewRequest("GET", "/", nil), DefaultCookieName, tt.value))
				if w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
				if got := w.Body.String(); got != "new-home-page=false key=u1" {
					t.Fatalf("body %q: the bad cookie was not ignored", got)
				}
			}
			want := 0
			if tt.logged {
				want = 1
			}
			if got := rec.count("ignoring override cookie"); got != want {
				t.Errorf("logged %d times, want %d: %q", got, want, rec.msgs)
			}
		})
	}
}

func TestMiddlewareLayers(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	c := testCodec()
	cookie := func(v any) string {
		return mustCookie(t, c, Entry{Flag: "checkout", Value: v, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)})
	}
	header := func(v any) string {
		ctx := flagon.WithOverrides(t.Context(), &reqOverrides{list: []keyedOverride{{key: "checkout", value: v, setAt: testNow.Unix()}}})
		h, err := HeaderValue(ctx, testKeys, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	user := func(v any) func(*http.Request) (flagon.Overrides, error) {
		return func(*http.Request) (flagon.Overrides, error) {
			return flagon.OverrideMap{"checkout": {Value: v}}, nil
		}
	}
	allCompat := Compat{FeatureCookies: true, JSONCookie: true, Query: true}
	tests := []struct {
		name    string
		compat  Compat
		query   string
		header  string
		cookies []string
		user    func(*http.Request) (flagon.Overrides, error)
		want    string
	}{
		{name: "rules", want: "checkout=classic"},
		{name: "user", user: user("express-v2"), want: "checkout=express-v2(user)"},
		{name: "legacy over user", compat: allCompat, cookies: []string{`feature_flags={"checkout":"express-v2"}`}, user: user("classic"), want: "checkout=express-v2(legacy-cookie)"},
		{name: "cookie over legacy", compat: allCompat, cookies: []string{DefaultCookieName + "=" + cookie("express-v2"), `feature_flags={"checkout":"classic"}`}, want: "checkout=express-v2(cookie)"},
		{name: "header over cookie", header: header("express-v2"), cookies: []string{DefaultCookieName + "=" + cookie("classic")}, want: "checkout=express-v2(header)"},
		{name: "query over header", compat: allCompat, query: "flagon.checkout=classic", header: header("express-v2"), want: "checkout=classic(query)"},
		{name: "query off by default", query: "flagon.checkout=express", want: "checkout=classic"},
		{name: "legacy off by default", cookies: []string{`feature_flags={"checkout":"express"}`}, want: "checkout=classic"},
		{name: "query value not allowed", compat: allCompat, query: "flagon.checkout=beta", want: "checkout=classic"},
		{name: "header ignored when told", compat: Compat{}, header: "1.k1.bad", want: "checkout=classic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.Compat = tt.compat
			opts.UserOverrides = tt.user
			h := Middleware(client, opts)(probe(client, "checkout"))
			r := httptest.NewRequest("GET", "/?"+tt.query, nil)
			if tt.header != "" {
				r.Header.Set(HeaderOverrides, tt.header)
			}
			for _, ck := range tt.cookies {
				r.Header.Add("Cookie", ck)
			}
			w := serve(h, r)
			if got := strings.TrimSuffix(w.Body.String(), " key=u1"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMiddlewareUnsignedOnlyForAnyone checks that the unsigned formats
// reach flags whose policy is anyone, and no others.
func TestMiddlewareUnsignedOnlyForAnyone(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	opts.Compat = Compat{FeatureCookies: true, JSONCookie: true, Query: true}
	h := Middleware(client, opts)(probe(client, "new-home-page", "use-new-email-service", "kill-switch", "ratio"))
	tests := []struct {
		name  string
		query string
		cook  string
		want  string
	}{
		{"features cookies", "", "features.new-home-page=true; features.use-new-email-service=true; features.kill-switch=true",
			"new-home-page=true(legacy-cookie) use-new-email-service=false kill-switch=false ratio=0.5"},
		{"json cookie", "", `feature_flags={"new_home_page": true, "use_new_email_service": true, "kill-switch": true, "ratio": 0.25}`,
			"new-home-page=true(legacy-cookie) use-new-email-service=false kill-switch=false ratio=0.25(legacy-cookie)"},
		{"url-encoded json cookie", "", `feature_flags=%7B%22new-home-page%22%3Atrue%7D`,
			"new-home-page=true(legacy-cookie) use-new-email-service=false kill-switch=false ratio=0.5"},
		{"query", "flagon.new-home-page=on&flagon.use-new-email-service=on&flagon.kill-switch=true&flagon.ratio=0.75", "",
			"new-home-page=true(query) use-new-email-service=false kill-switch=false ratio=0.75(query)"},
		{"bad json cookie", "", `feature_flags={"new-home-page":`,
			"new-home-page=false use-new-email-service=false kill-switch=false ratio=0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/?"+tt.query, nil)
			if tt.cook != "" {
				r.Header.Set("Cookie", tt.cook)
			}
			w := serve(h, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if got := strings.TrimSuffix(w.Body.String(), " key=u1"); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestMiddlewareUserOverrides(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	rec := &logRecorder{}
	tests := []struct {
		name string
		fn   func(*http.Request) (flagon.Overrides, error)
		want string
		vary string
	}{
		{"error is logged and ignored", func(*http.Request) (flagon.Overrides, error) {
			return nil, errors.New("database is down")
		}, "use-new-email-service=false kill-switch=false", ""},
		{"map", func(*http.Request) (flagon.Overrides, error) {
			return flagon.OverrideMap{
				"use-new-email-service": {Value: true, SetAt: testNow},
				"kill-switch":           {Value: true},
			}, nil
		}, "use-new-email-service=true(user) kill-switch=false", "Cookie"},
		{"expired", func(*http.Request) (flagon.Overrides, error) {
			return flagon.OverrideMap{"use-new-email-service": {Value: true, ExpiresAt: testNow.Add(-time.Second)}}, nil
		}, "use-new-email-service=false kill-switch=false", ""},
		{"opaque", func(*http.Request) (flagon.Overrides, error) {
			return opaque{"use-new-email-service": {Value: true}, "kill-switch": {Value: true}}, nil
		}, "use-new-email-service=true(user) kill-switch=false", "Cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.Logger = slog.New(rec)
			opts.UserOverrides = tt.fn
			h := Middleware(client, opts)(probe(client, "use-new-email-service", "kill-switch"))
			w := serve(h, httptest.NewRequest("GET", "/", nil))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if got := strings.TrimSuffix(w.Body.String(), " key=u1"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got := w.Header().Get("Vary"); got != tt.vary {
				t.Errorf("Vary %q, want %q", got, tt.vary)
			}
		})
	}
	if rec.count("database is down") != 1 {
		t.Errorf("user override error logged %d times, want 1", rec.count("database is down"))
	}
}

// opaque is an Overrides that is not an OverrideMap.
type opaque map[string]flagon.Override

func (o opaque) Override(key string) (flagon.Override, bool) { ov, ok := o[key]; return ov, ok }

func TestPrivatize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "private"},
		{"public", "private"},
		{"public, max-age=60", "private, max-age=60"},
		{"max-age=60", "private, max-age=60"},
		{"no-store", "no-store"},
		{"private, max-age=5", "private, max-age=5"},
		{"Public,s-maxage=100", "private, s-maxage=100"},
	}
	for _, tt := range tests {
		if got := privatize(tt.in); got != tt.want {
			t.Errorf("privatize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHonestWriterKeepsVary(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	v := mustCookie(t, testCodec(), Entry{Flag: "new-home-page", Value: true, SetAt: testNow})
	h := Middleware(client, testOptions())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		w.WriteHeader(http.StatusTeapot)
		http.NewResponseController(w).Flush()
	}))
	w := serve(h, withCookie(httptest.NewRequest("GET", "/", nil), DefaultCookieName, v))
	if got := w.Header().Values("Vary"); strings.Join(got, "|") != "Accept-Encoding|Cookie" {
		t.Errorf("Vary %q", got)
	}
	if w.Code != http.StatusTeapot || !w.Flushed {
		t.Errorf("status %d, flushed %v", w.Code, w.Flushed)
	}
}

// TestTransport passes overrides from an upstream service to a
// downstream one in the signed header.
func TestTransport(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	opts.Now = nil // real time: the header's age is checked
	opts.Compat.Query = true
	down := httptest.NewServer(Middleware(client, opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe(client, "new-home-page", "checkout").ServeHTTP(w, r)
		fmt.Fprintf(w, " vary=%s", w.Header().Get("Vary"))
	})))
	defer down.Close()
	httpc := &http.Client{Transport: &Transport{Keys: testKeys}}
	up := Middleware(client, opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", down.URL, nil)
		resp, err := httpc.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}))
	now := time.Now()
	v := mustCookie(t, &Codec{Keys: testKeys},
		Entry{Flag: "new-home-page", Value: true, SetAt: now, ExpiresAt: now.Add(time.Hour)})
	r := httptest.NewRequest("GET", "/?flagon.checkout=express", nil)
	w := serve(up, withCookie(r, DefaultCookieName, v))
	if got, want := w.Body.String(), "new-home-page=true(header) checkout=express-v2(header) key=u1 vary=Flagon-Overrides"; got != want {
		t.Errorf("downstream saw %q, want %q", got, want)
	}

	// A stale header is refused.
	ctx := flagon.WithOverrides(t.Context(), &reqOverrides{list: []keyedOverride{{key: "new-home-page", value: true}}})
	old, err := HeaderValue(ctx, testKeys, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openHeader(testKeys, old, now, DefaultHeaderMaxAge); !errors.Is(err, ErrExpired) {
		t.Errorf("hour-old header: got %v, want ErrExpired", err)
	}
	if _, err := openHeader(testKeys, old, now.Add(-time.Hour), DefaultHeaderMaxAge); err != nil {
		t.Errorf("fresh header: %v", err)
	}
	// A cookie is not a header.
	if _, err := openHeader(testKeys, v, now, DefaultHeaderMaxAge); !errors.Is(err, ErrBadSignature) {
		t.Errorf("cookie as header: got %v, want ErrBadSignature", err)
	}
}

// TestCookieCache checks that the cache of verified cookies gives the
// same answers as reading the cookie afresh: when a higher layer shadows
// an entry, when the flags change, and as time passes.
func TestCookieCache(t *testing.T) {
	client, src := newTestClient(t, testDefs())
	now := testNow
	opts := testOptions()
	opts.Compat.Query = true
	opts.Now = func() time.Time { return now }
	h := Middleware(client, opts)(probe(client, "new-home-page", "checkout"))
	v := mustCookie(t, testCodec(),
		Entry{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "checkout", Value: "express-v2", SetAt: testNow, ExpiresAt: testNow.Add(2 * time.Hour)})
	check := func(query, want string) {
		t.Helper()
		w := serve(h, withCookie(httptest.NewRequest("GET", "/?"+query, nil), DefaultCookieName, v))
		if got := strings.TrimSuffix(w.Body.String(), " key=u1"); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// The first read is shadowed by the query; the cached one must not be.
	check("flagon.checkout=classic", "new-home-page=true(cookie) checkout=classic(query)")
	check("", "new-home-page=true(cookie) checkout=express-v2(cookie)")
	// Time passes: the first entry lapses.
	now = testNow.Add(90 * time.Minute)
	check("", "new-home-page=false checkout=express-v2(cookie)")
	now = testNow
	// The flags change: checkout may no longer be overridden.
	defs := testDefs()
	for i := range defs.Flags {
		if defs.Flags[i].Key == "checkout" {
			defs.Flags[i].Override = flagon.OverridePolicy{Who: flagon.WhoNone}
		}
	}
	if err := src.Set(defs); err != nil {
		t.Fatal(err)
	}
	check("", "new-home-page=true(cookie) checkout=classic")
}

// TestMiddlewareCountsShadowedOnce checks that a flag set by two layers
// counts once.
func TestMiddlewareCountsShadowedOnce(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	opts.Compat = Compat{Query: true, FeatureCookies: true}
	h := Middleware(client, opts)(probe(client, "checkout", "new-home-page"))
	v := mustCookie(t, testCodec(),
		Entry{Flag: "checkout", Value: "classic", SetAt: testNow},
		Entry{Flag: "new-home-page", Value: true, SetAt: testNow})
	r := httptest.NewRequest("GET", "/?flagon.checkout=express", nil)
	r.Header.Set("Cookie", DefaultCookieName+"="+v+"; features.new-home-page=false; features.new-home-page=false")
	w := serve(h, r)
	if got := w.Header().Get(HeaderOverrides); got != "2" {
		t.Errorf("%s: %q, want 2", HeaderOverrides, got)
	}
	if got, want := w.Body.String(), "checkout=express-v2(query) new-home-page=true(cookie) key=u1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
