package flagonhttp

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func TestFeaturesHandler(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	opts.Expose = func(f flagon.Flag) bool { return f.Key != "kill-switch" }
	app := newTestApp(t, client, opts)
	v := mustCookie(t, testCodec(), Entry{Flag: "new-home-page", Value: true, SetAt: testNow})

	w := serve(app, withCookie(httptest.NewRequest("GET", "/features.json", nil), DefaultCookieName, v))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var body struct {
		Revision string
		Flags    map[string]featureJSON
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if got := body.Flags["new-home-page"]; got.Value != true || got.Reason != "OVERRIDE" || got.Source != "cookie" || got.Variant != "on" {
		t.Errorf("new-home-page: %+v", got)
	}
	if got := body.Flags["checkout"]; got.Value != "classic" || got.Reason != "STATIC" {
		t.Errorf("checkout: %+v", got)
	}
	if _, ok := body.Flags["kill-switch"]; ok {
		t.Errorf("kill-switch shown despite Expose")
	}
	if body.Revision != client.Snapshot().Revision() {
		t.Errorf("revision %q", body.Revision)
	}
	h := w.Header()
	etag := h.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || h.Get("Vary") != "Cookie" || !strings.HasPrefix(h.Get("Cache-Control"), "private") {
		t.Errorf("headers: ETag %q, Vary %q, Cache-Control %q", etag, h.Get("Vary"), h.Get("Cache-Control"))
	}

	// Same request, same ETag: 304.
	r := withCookie(httptest.NewRequest("GET", "/features.json", nil), DefaultCookieName, v)
	r.Header.Set("If-None-Match", `W/"other", `+etag)
	w = serve(app, r)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
		t.Errorf("If-None-Match: status %d, body %q, ETag %q", w.Code, w.Body, w.Header().Get("ETag"))
	}
	// Without the override, the body and the ETag change.
	r = httptest.NewRequest("GET", "/features.json", nil)
	r.Header.Set("If-None-Match", etag)
	w = serve(app, r)
	if w.Code != http.StatusOK || w.Header().Get("ETag") == etag {
		t.Errorf("without the cookie: status %d, ETag %q", w.Code, w.Header().Get("ETag"))
	}
	w = serve(FeaturesHandler(client, opts), httptest.NewRequest("POST", "/features.json", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d", w.Code)
	}
}

func TestTemplateFuncs(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	opts.ManageURL = "/admin/overrides?x=1&y=2"
	page := template.Must(template.New("p").Funcs(FuncMap(client)).Parse(
		`{{flag .R "new-home-page"}} {{variant .Ctx "checkout"}} {{flagValue .Ctx "limit"}} {{variant .Ctx "nope"}}|{{overrideCount .Ctx}}|{{overrideBanner .R}}|{{overrideLink "checkout" "express" "/x"}}|{{flag nil "new-home-page"}}`))
	h := Middleware(client, opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := page.Execute(w, map[string]any{"Ctx": r.Context(), "R": r}); err != nil {
			t.Error(err)
		}
	}))
	tests := []struct {
		entries []Entry
		want    string
	}{
		{nil, `false classic 10 |0||/features/checkout?redirect_url=%2Fx&amp;value=express|false`},
		{[]Entry{{Flag: "new-home-page", Value: true, SetAt: testNow}},
			`true classic 10 |1|<div class="flagon-banner" role="status">1 flag override active — <a href="/admin/overrides?x=1&amp;y=2">manage</a></div>|/features/checkout?redirect_url=%2Fx&amp;value=express|false`},
		{[]Entry{{Flag: "new-home-page", Value: true, SetAt: testNow}, {Flag: "checkout", Value: "express-v2", SetAt: testNow}},
			`true express 10 |2|<div class="flagon-banner" role="status">2 flag overrides active — <a href="/admin/overrides?x=1&amp;y=2">manage</a></div>|/features/checkout?redirect_url=%2Fx&amp;value=express|false`},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.entries != nil {
			r = withCookie(r, DefaultCookieName, mustCookie(t, testCodec(), tt.entries...))
		}
		w := serve(h, r)
		if got := w.Body.String(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestLink(t *testing.T) {
	tests := []struct {
		flag     string
		value    any
		d        time.Duration
		redirect string
		want     string
	}{
		{"new-home-page", true, time.Hour, "/", "/features/new-home-page?duration=3600&enable=true&redirect_url=%2F"},
		{"new-home-page", nil, 0, "", "/features/new-home-page?enable=default"},
		{"limit", int64(10), 0, "", "/features/limit?value=10"},
	}
	for _, tt := range tests {
		if got := Link(tt.flag, tt.value, tt.d, tt.redirect); got != tt.want {
			t.Errorf("Link(%q, %v) = %q, want %q", tt.flag, tt.value, got, tt.want)
		}
	}
}

func TestActiveOverrides(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	v := mustCookie(t, testCodec(), Entry{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)})
	var got []ActiveOverride
	h := Middleware(client, testOptions())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = ActiveOverrides(r.Context())
	}))
	serve(h, withCookie(httptest.NewRequest("GET", "/", nil), DefaultCookieName, v))
	if len(got) != 1 || got[0].Flag != "new-home-page" || got[0].Value != true || got[0].Source != SourceCookie || !got[0].ExpiresAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("ActiveOverrides: %+v", got)
	}
}

func TestFeaturesCORS(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	const app = "https://app.example"
	tests := []struct {
		name                 string
		origins              []string
		creds                bool
		method               string
		wantStatus           int
		wantOrigin, wantCred string
		wantVary             string
	}{
		{"off", nil, false, "GET", 200, "", "", "Cookie"},
		{"allowed", []string{app}, false, "GET", 200, app, "", "Origin, Cookie"},
		{"with credentials", []string{app}, true, "GET", 200, app, "true", "Origin, Cookie"},
		{"preflight", []string{app}, false, "OPTIONS", 204, app, "", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.CORSOrigins, opts.CORSCredentials = tt.origins, tt.creds
			h := Middleware(client, opts)(FeaturesHandler(client, opts))
			r := httptest.NewRequest(tt.method, "/features.json", nil)
			r.Header.Set("Origin", app)
			if tt.method == "OPTIONS" {
				r.Header.Set("Access-Control-Request-Method", "GET")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			hdr := w.Header()
			got := strings.Join(hdr.Values("Vary"), ", ")
			if w.Code != tt.wantStatus || hdr.Get("Access-Control-Allow-Origin") != tt.wantOrigin || hdr.Get("Access-Control-Allow-Credentials") != tt.wantCred || got != tt.wantVary {
				t.Errorf("got %d, origin %q, credentials %q, Vary %q; want %d, %q, %q, %q", w.Code,
					hdr.Get("Access-Control-Allow-Origin"), hdr.Get("Access-Control-Allow-Credentials"), got,
					tt.wantStatus, tt.wantOrigin, tt.wantCred, tt.wantVary)
			}
		})
	}
}
