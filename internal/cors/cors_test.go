package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusTeapot)
	})
	const app, evil = "https://app.example", "https://evil.example"
	exact := Policy{Origins: []string{app}, Methods: []string{"GET", "POST"}}
	star := Policy{Origins: []string{"*"}, Methods: []string{"GET"}}
	starCreds := Policy{Origins: []string{"*"}, Credentials: true, Methods: []string{"GET"}}
	exactCreds := Policy{Origins: []string{app}, Credentials: true, Methods: []string{"GET"}}
	type want struct {
		status                          int
		origin, creds, methods, headers string
		maxAge, vary, expose            string
	}
	tests := []struct {
		name           string
		p              Policy
		method, origin string
		preflight      bool
		want           want
	}{
		{"off", Policy{}, "GET", app, false, want{status: 418}},
		{"off, preflight reaches the handler", Policy{}, "OPTIONS", app, true, want{status: 418}},
		{"exact, allowed", exact, "GET", app, false, want{status: 418, origin: app, vary: "Origin", expose: "ETag"}},
		{"exact, other origin", exact, "GET", evil, false, want{status: 418, vary: "Origin"}},
		{"exact, no origin", exact, "GET", "", false, want{status: 418, vary: "Origin"}},
		{"exact, preflight", exact, "OPTIONS", app, true, want{status: 204, origin: app, methods: "GET, POST, OPTIONS", headers: Headers, maxAge: "7200", vary: "Origin"}},
		{"exact, preflight from another origin", exact, "OPTIONS", evil, true, want{status: 204, vary: "Origin"}},
		{"exact, OPTIONS that is no preflight", exact, "OPTIONS", app, false, want{status: 418, origin: app, vary: "Origin", expose: "ETag"}},
		{"star", star, "GET", evil, false, want{status: 418, origin: "*", vary: "Origin", expose: "ETag"}},
		{"star with credentials echoes", starCreds, "GET", evil, false, want{status: 418, origin: evil, creds: "true", vary: "Origin", expose: "ETag"}},
		{"exact with credentials", exactCreds, "OPTIONS", app, true, want{status: 204, origin: app, creds: "true", methods: "GET, OPTIONS", headers: Headers, maxAge: "7200", vary: "Origin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/x", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			}
			w := httptest.NewRecorder()
			Handler(tt.p, next).ServeHTTP(w, r)
			h := w.Header()
			got := want{
				status:  w.Code,
				origin:  h.Get("Access-Control-Allow-Origin"),
				creds:   h.Get("Access-Control-Allow-Credentials"),
				methods: h.Get("Access-Control-Allow-Methods"),
				headers: h.Get("Access-Control-Allow-Headers"),
				maxAge:  h.Get("Access-Control-Max-Age"),
				vary:    h.Get("Vary"),
				expose:  h.Get("Access-Control-Expose-Headers"),
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
