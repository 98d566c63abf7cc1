package server_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/server"
)

// TestBehindProxy: X-Forwarded-For is believed only from a trusted
// proxy, and then its last untrusted hop is the client; -public-url
// https makes cookies Secure and limits Host headers.
func TestBehindProxy(t *testing.T) {
	actor := func(t *testing.T, opts server.Options, xff string) string {
		t.Helper()
		st := flagontest.NewMemoryStore()
		seed(t, st)
		ts := startProd(t, st, opts)
		req, _ := http.NewRequest("GET", ts.URL+flagonhttp.Link("anyone", true, time.Hour, "/"), nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		es, err := st.Audit(t.Context(), flagon.AuditQuery{Target: "anyone"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if strings.HasPrefix(e.Action, "override.browser.") {
				return e.Actor
			}
		}
		t.Fatalf("no override entry in %+v", es)
		return ""
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		xff     string
		want    string
	}{
		{"no trusted proxies: the header is ignored", nil, "203.0.113.9", "anonymous 127.0.0.1"},
		{"trusted proxy: its client", loopback, "203.0.113.9", "anonymous 203.0.113.9"},
		{"a spoofed first hop is not believed", loopback, "6.6.6.6, 203.0.113.9", "anonymous 203.0.113.9"},
		{"trusted hops are skipped", loopback, "203.0.113.9, 127.0.0.5", "anonymous 203.0.113.9"},
		{"garbage is not an address", loopback, "<script>", "anonymous 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := actor(t, server.Options{TrustedProxies: tt.trusted}, tt.xff); got != tt.want {
				t.Errorf("actor = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("public URL", func(t *testing.T) {
		ts := startProd(t, flagontest.NewMemoryStore(), server.Options{PublicURL: "https://flags.example.com"})
		for _, tt := range []struct {
			host string
			want int
		}{
			{"flags.example.com", http.StatusOK},
			{"localhost", http.StatusOK},
			{"attacker.example", http.StatusMisdirectedRequest},
		} {
			req, _ := http.NewRequest("GET", ts.URL+"/admin/signin", nil)
			req.Host = tt.host
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("Host %s: %d, want %d", tt.host, resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusOK {
				for _, c := range resp.Cookies() {
					if !c.Secure {
						t.Errorf("Host %s: cookie %s is not Secure behind an https public URL", tt.host, c.Name)
					}
				}
			}
		}
		// A link sets an override cookie: Secure too.
		req, _ := http.NewRequest("GET", ts.URL+flagonhttp.Link("anyone", true, time.Hour, "/"), nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if !c.Secure {
				t.Errorf("override cookie %s is not Secure", c.Name)
			}
		}
	})

	for _, bad := range []string{"flags.example.com", "ftp://x", "https://"} {
		if _, err := server.New(t.Context(), flagontest.NewMemoryStore(), &server.Options{PublicURL: bad, Logger: quiet}); err == nil || !strings.Contains(err.Error(), "public URL") {
			t.Errorf("New with public URL %q: %v; want an error", bad, err)
		}
	}
	if _, err := server.ParsePrefixes("10.0.0.0/8, 192.168.1.1, nonsense"); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("ParsePrefixes with a bad entry: %v", err)
	}
}

// TestCORS: OFREP and /features.json answer pages of the configured
// origins, preflight included, and no others.
func TestCORS(t *testing.T) {
	st := flagontest.NewMemoryStore()
	seed(t, st)
	ts := startProd(t, st, server.Options{CORSOrigins: []string{"https://app.example.com"}})
	for _, tt := range []struct {
		method, path, origin string
		want                 string // Access-Control-Allow-Origin
	}{
		{"OPTIONS", "/ofrep/v1/evaluate/flags", "https://app.example.com", "https://app.example.com"},
		{"POST", "/ofrep/v1/evaluate/flags", "https://app.example.com", "https://app.example.com"},
		{"GET", "/features.json", "https://app.example.com", "https://app.example.com"},
		{"POST", "/ofrep/v1/evaluate/flags", "https://evil.example", ""},
		{"GET", "/features.json", "https://evil.example", ""},
	} {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(`{"context":{"targetingKey":"a"}}`))
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Content-Type", "application/json")
		if tt.method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("%s %s from %s: Access-Control-Allow-Origin %q, want %q", tt.method, tt.path, tt.origin, got, tt.want)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("%s %s: credentials %q; want none by default", tt.method, tt.path, got)
		}
		// A preflight's answer is cached, so pages polling OFREP do not
		// send one before every request.
		if got := resp.Header.Get("Access-Control-Max-Age"); tt.method == "OPTIONS" && got != "7200" {
			t.Errorf("%s %s: Access-Control-Max-Age %q, want 7200", tt.method, tt.path, got)
		}
	}
}
