package flagontest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
)

// page is a handler that prints the flags it reads.
func page(c *flagon.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "home=%v checkout=%s limit=%d",
			c.Bool(r.Context(), "new-home-page", false), c.String(r.Context(), "checkout", "?"), c.Int(r.Context(), "limit", -1))
	})
}

func get(h http.Handler, cookies ...*http.Cookie) string {
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.String()
}

func TestOverrideCookie(t *testing.T) {
	t.Parallel()
	kit := flagontest.New(t, flagontest.Flags{"new-home-page": false, "checkout": "classic", "limit": 10})
	keys := flagonhttp.MustKeys(flagonhttp.Key{ID: "test", Secret: bytes.Repeat([]byte("k"), flagonhttp.MinSecretLen)})
	other := flagonhttp.MustKeys(flagonhttp.Key{ID: "test", Secret: bytes.Repeat([]byte("x"), flagonhttp.MinSecretLen)})
	tests := []struct {
		name   string
		opts   *flagonhttp.Options // the middleware's
		cookie func(t *testing.T) *http.Cookie
		want   string
	}{
		{"no cookie", &flagonhttp.Options{Keys: keys}, nil, "home=false checkout=classic limit=10"},
		{"the middleware's keys", &flagonhttp.Options{Keys: keys}, func(t *testing.T) *http.Cookie {
			return flagontest.OverrideCookie(t, &flagonhttp.Options{Keys: keys}, map[string]any{"new-home-page": true, "checkout": "express", "limit": 20})
		}, "home=true checkout=express limit=20"},
		{"default options on both sides", nil, func(t *testing.T) *http.Cookie {
			return flagontest.OverrideCookie(t, nil, map[string]any{"new-home-page": true})
		}, "home=true checkout=classic limit=10"},
		{"another cookie name", &flagonhttp.Options{Keys: keys, CookieName: "ff"}, func(t *testing.T) *http.Cookie {
			return flagontest.OverrideCookie(t, &flagonhttp.Options{Keys: keys, CookieName: "ff"}, map[string]any{"limit": int32(30)})
		}, "home=false checkout=classic limit=30"},
		{"signed with another key: ignored", &flagonhttp.Options{Keys: keys}, func(t *testing.T) *http.Cookie {
			return flagontest.OverrideCookie(t, &flagonhttp.Options{Keys: other}, map[string]any{"new-home-page": true})
		}, "home=false checkout=classic limit=10"},
		{"a value of the wrong type: ignored", &flagonhttp.Options{Keys: keys}, func(t *testing.T) *http.Cookie {
			return flagontest.OverrideCookie(t, &flagonhttp.Options{Keys: keys}, map[string]any{"limit": "lots", "checkout": "express"})
		}, "home=false checkout=express limit=10"},
	}
	for _, tt := range tests {
		opts := tt.opts
		if opts == nil {
			opts = &flagonhttp.Options{}
		}
		opts.Logger = quietLogger
		h := flagonhttp.Middleware(kit.Client, opts)(page(kit.Client))
		var cookies []*http.Cookie
		if tt.cookie != nil {
			c := tt.cookie(t)
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Errorf("%s: cookie attributes %+v", tt.name, c)
			}
			cookies = append(cookies, c)
		}
		if got := get(h, cookies...); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	// The handler read the flags, with the overrides, and the kit saw it.
	var sources []string
	for _, e := range kit.Reads("new-home-page") {
		sources = append(sources, e.Result.OverrideSource)
	}
	if !strings.Contains(strings.Join(sources, ","), flagonhttp.SourceCookie) {
		t.Errorf("no read of new-home-page came from the cookie: %q", sources)
	}
}

func TestOverrideCookieBadInput(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"f": []int{1}}, `flag "f": cannot override with [1]`},
		{map[string]any{}, "no overrides"},
		{map[string]any{"Bad Key": true}, "Bad Key"},
		{map[string]any{"f": strings.Repeat("x", 5000)}, "OverrideCookie"},
	} {
		got := run(func(t testing.TB) { flagontest.OverrideCookie(t, nil, tt.values) })
		if !strings.Contains(got, tt.want) {
			t.Errorf("%v: failure %q, want one containing %q", tt.values, got, tt.want)
		}
	}
}
