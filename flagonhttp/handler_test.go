package flagonhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// newTestApp serves the override link and a probe page behind the
// middleware.
func newTestApp(t testing.TB, client *flagon.Client, opts *Options) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	Mount(mux, client, opts)
	mux.Handle("/", probe(client, "new-home-page", "checkout", "use-new-email-service"))
	return Middleware(client, opts)(mux)
}

func get(t *testing.T, hc *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOverrideLinkEndToEnd opens the link in a browser-like client with a
// cookie jar, follows the redirect, sees the flag on, then clears it.
func TestOverrideLinkEndToEnd(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	srv := httptest.NewServer(newTestApp(t, client, testOptions()))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}

	_, body := get(t, hc, srv.URL+"/")
	if !strings.Contains(body, "new-home-page=false ") {
		t.Fatalf("before: %q", body)
	}
	resp, body := get(t, hc, srv.URL+"/features/new-home-page?enable=true&duration=3600&redirect_url=/welcome")
	if resp.Request.URL.Path != "/welcome" {
		t.Errorf("redirected to %s, want /welcome", resp.Request.URL)
	}
	if !strings.Contains(body, "new-home-page=true(cookie)") {
		t.Errorf("after the link, the page saw %q", body)
	}
	if got := resp.Header.Get(HeaderOverrides); got != "1" {
		t.Errorf("%s: %q, want 1", HeaderOverrides, got)
	}
	// A second override joins the first.
	_, body = get(t, hc, srv.URL+"/features/checkout?value=express")
	if !strings.Contains(body, "new-home-page=true(cookie) checkout=express-v2(cookie)") {
		t.Errorf("after the second link: %q", body)
	}
	// enable=default clears one; duration=0 the other, and the cookie goes.
	_, body = get(t, hc, srv.URL+"/features/new-home-page?enable=default")
	if !strings.Contains(body, "new-home-page=false checkout=express-v2(cookie)") {
		t.Errorf("after enable=default: %q", body)
	}
	_, body = get(t, hc, srv.URL+"/features/checkout?value=classic&duration=0")
	if !strings.Contains(body, "new-home-page=false checkout=classic use") {
		t.Errorf("after duration=0: %q", body)
	}
	u, _ := url.Parse(srv.URL)
	if cks := jar.Cookies(u); len(cks) != 0 {
		t.Errorf("cookies left: %v", cks)
	}
}

func TestOverrideLinkStaff(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	app := newTestApp(t, client, opts)
	link := "/features/use-new-email-service?enable=true&duration=600&redirect_url=/signup"

	tests := []struct {
		name     string
		method   string
		staff    bool
		header   map[string]string
		status   int
		contains string
		cookie   bool
	}{
		{"GET by staff shows a confirmation", "GET", true, map[string]string{"Accept": "text/html"}, 200, `<form method="post" action="/features/use-new-email-service">`, false},
		{"GET by a client that is not a browser", "GET", true, map[string]string{"Accept": "application/json"}, 405, `"field":"method"`, false},
		{"GET by others is refused", "GET", false, map[string]string{"Accept": "text/html"}, 403, "not permitted", false},
		{"POST by staff sets it", "POST", true, map[string]string{"Sec-Fetch-Site": "same-origin"}, 303, "", true},
		{"POST by others is refused", "POST", false, nil, 403, "not permitted", false},
		{"cross-site POST is refused", "POST", true, map[string]string{"Sec-Fetch-Site": "cross-site", "Accept": "application/json"}, 403, `"field":"origin"`, false},
		{"cross-origin POST is refused", "POST", true, map[string]string{"Origin": "https://evil.example", "Host": "example.com"}, 403, "origin", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *http.Request
			if tt.method == "POST" {
				u, _ := url.Parse(link)
				r = httptest.NewRequest("POST", u.Path, strings.NewReader(u.RawQuery))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = httptest.NewRequest("GET", link, nil)
			}
			if tt.staff {
				r.Header.Set("X-Staff", "yes")
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := serve(app, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.contains) {
				t.Errorf("body %q does not contain %q", w.Body, tt.contains)
			}
			setCookie := w.Header().Get("Set-Cookie")
			if (setCookie != "") != tt.cookie {
				t.Errorf("Set-Cookie %q, want a cookie: %v", setCookie, tt.cookie)
			}
			if tt.cookie && w.Header().Get("Location") != "/signup" {
				t.Errorf("Location %q", w.Header().Get("Location"))
			}
		})
	}
}

// TestOverrideLinkErrors checks that each bad parameter gets a refusal
// that names it, in the form the client asks for.
func TestOverrideLinkErrors(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	opts.TokenRevoked = func(id string) bool { return id == revokedID }
	app := newTestApp(t, client, opts)
	future := testNow.Add(time.Hour)
	tokenFor := func(flag string, v any, d time.Duration, exp time.Time) string {
		tok, _, err := MintShareToken(testKeys, flag, v, d, exp)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	revoked, st, _ := MintShareToken(testKeys, "new-home-page", true, time.Hour, future)
	revokedID = st.ID
	long := strings.Repeat("x", 100)
	tests := []struct {
		path   string
		status int
		fields []string
	}{
		{"/features/no-such-flag?enable=true", 404, []string{"name"}},
		{"/features/new-home-page?enable=yes", 400, []string{"enable"}},
		{"/features/new-home-page?enable=TRUE", 400, []string{"enable"}},
		{"/features/new-home-page", 400, []string{"enable"}},
		{"/features/new-home-page?enable=true&duration=abc", 400, []string{"duration"}},
		{"/features/new-home-page?enable=true&duration=-1", 400, []string{"duration"}},
		{"/features/new-home-page?enable=true&duration=31536001", 400, []string{"duration"}},
		{"/features/new-home-page?enable=true&duration=1.5", 400, []string{"duration"}},
		{"/features/new-home-page?enable=true&duration=+5", 400, []string{"duration"}},
		{"/features/new-home-page?enable=true&redirect_url=//evil.com", 400, []string{"redirect_url"}},
		{"/features/new-home-page?enable=true&redirect_url=https://evil.com/", 400, []string{"redirect_url"}},
		{"/features/new-home-page?enable=true&redirect_url=javascript:alert(1)", 400, []string{"redirect_url"}},
		{"/features/new-home-page?enable=maybe&duration=x&redirect_url=//e", 400, []string{"enable", "duration", "redirect_url"}},
		{"/features/new-home-page?enable=true&value=false", 400, []string{"value"}},
		{"/features/checkout?enable=true", 400, []string{"enable"}},
		{"/features/checkout?value=nope", 400, []string{"value"}},
		{"/features/checkout?value=beta", 400, []string{"value"}},
		{"/features/checkout", 400, []string{"value"}},
		{"/features/short?enable=true&duration=7200", 400, []string{"duration"}},
		{"/features/kill-switch?enable=true", 403, []string{"name"}},
		{"/features/new-home-page?token=garbage", 400, []string{"token"}},
		{"/features/new-home-page?token=" + tokenFor("checkout", "classic", time.Hour, future), 400, []string{"token"}},
		{"/features/new-home-page?token=" + tokenFor("new-home-page", true, time.Hour, testNow.Add(-time.Second)), 400, []string{"token"}},
		{"/features/new-home-page?token=" + revoked, 400, []string{"token"}},
		{"/features/new-home-page?enable=false&token=" + tokenFor("new-home-page", true, time.Hour, future), 400, []string{"enable"}},
		{"/features/kill-switch?token=" + tokenFor("kill-switch", true, time.Hour, future), 403, []string{"name"}},
		{"/features/short?token=" + tokenFor("short", true, 2*time.Hour, future), 403, []string{"token"}},
		{"/features/new-home-page?enable=true&redirect_url=/" + long + "%0a", 400, []string{"redirect_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			// JSON for clients that ask.
			r := httptest.NewRequest("GET", tt.path, nil)
			r.Header.Set("Accept", "application/json")
			w := serve(app, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			var body struct {
				Status int
				Fields []fieldError
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("JSON body %q: %v", w.Body, err)
			}
			var got []string
			for _, f := range body.Fields {
				got = append(got, f.Field)
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %v, want %v (%s)", got, tt.fields, w.Body)
			}
			if w.Header().Get("Set-Cookie") != "" {
				t.Errorf("a refused request set a cookie")
			}
			// HTML for browsers.
			r = httptest.NewRequest("GET", tt.path, nil)
			r.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
			w = serve(app, r)
			if ct := w.Header().Get("Content-Type"); w.Code != tt.status || !strings.HasPrefix(ct, "text/html") {
				t.Errorf("browser: status %d, Content-Type %q", w.Code, ct)
			}
			if !strings.Contains(w.Body.String(), "<code>"+tt.fields[0]+"</code>") {
				t.Errorf("browser page does not name %s: %s", tt.fields[0], w.Body)
			}
		})
	}
}

var revokedID string

func TestOverrideLinkShareToken(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	app := newTestApp(t, client, testOptions())
	tok, st, err := MintShareToken(testKeys, "use-new-email-service", true, 2*time.Hour, testNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Flag != "use-new-email-service" || st.Duration != 2*time.Hour || st.ID == "" {
		t.Errorf("token record %+v", st)
	}
	// A GET with a token sets a staff flag for someone who is not staff.
	w := serve(app, httptest.NewRequest("GET", ShareLink("use-new-email-service", tok, "/signup"), nil))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/signup" {
		t.Fatalf("status %d, Location %q: %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	entries, err := testCodec().Decode(readSetCookie(t, w))
	if err != nil || len(entries) != 1 || entries[0].Value != true || !entries[0].ExpiresAt.Equal(testNow.Add(2*time.Hour)) {
		t.Errorf("cookie entries %+v, %v; want the token's override for 2h", entries, err)
	}
	// A token from another key ring is refused.
	other, _, _ := MintShareToken(MustKeys(testKey("k9")), "use-new-email-service", true, time.Hour, testNow.Add(time.Hour))
	if _, err := VerifyShareToken(testKeys, other, testNow); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("foreign token: %v", err)
	}
	// Tampering with the token breaks it.
	i := strings.LastIndexByte(tok, '.') - 3
	bad := tok[:i] + string(tok[i]^1) + tok[i+1:]
	if _, err := VerifyShareToken(testKeys, bad, testNow); err == nil {
		t.Errorf("tampered token verified")
	}
	// A cookie is not a token.
	if _, err := VerifyShareToken(testKeys, mustCookie(t, testCodec(), Entry{Flag: "a", Value: true}), testNow); !errors.Is(err, ErrBadSignature) {
		t.Errorf("cookie as token: %v", err)
	}
	for _, bad := range []struct {
		flag string
		d    time.Duration
		exp  time.Time
	}{{"Bad Flag", time.Hour, testNow}, {"a", 0, testNow}, {"a", 400 * 24 * time.Hour, testNow}, {"a", time.Hour, time.Time{}}} {
		if _, _, err := MintShareToken(testKeys, bad.flag, true, bad.d, bad.exp); err == nil {
			t.Errorf("MintShareToken(%q, %v, %v): no error", bad.flag, bad.d, bad.exp)
		}
	}
}

func readSetCookie(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	for _, ck := range w.Result().Cookies() {
		if ck.Name == DefaultCookieName {
			return ck.Value
		}
	}
	t.Fatalf("no %s cookie set", DefaultCookieName)
	return ""
}

func TestOverrideLinkKeepsOthersAndDropsStale(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	app := newTestApp(t, client, testOptions())
	v := mustCookie(t, testCodec(),
		Entry{Flag: "checkout", Value: "classic", SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "retired-flag", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "ratio", Value: 0.5, SetAt: testNow.Add(-2 * time.Hour), ExpiresAt: testNow.Add(-time.Hour)},
	)
	r := withCookie(httptest.NewRequest("GET", "/features/new-home-page?enable=false", nil), DefaultCookieName, v)
	w := serve(app, r)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("status %d, Location %q", w.Code, w.Header().Get("Location"))
	}
	entries, err := testCodec().Decode(readSetCookie(t, w))
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	for _, e := range entries {
		flags = append(flags, e.Flag)
	}
	if got := strings.Join(flags, ","); got != "checkout,new-home-page" {
		t.Errorf("cookie holds %s, want checkout,new-home-page", got)
	}
	if got := entries[1].ExpiresAt.Sub(entries[1].SetAt); got != DefaultOverrideDuration {
		t.Errorf("default duration %v, want %v", got, DefaultOverrideDuration)
	}
}

func TestOverrideLinkMethodAndFullCookie(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	app := newTestApp(t, client, testOptions())
	w := serve(app, httptest.NewRequest("DELETE", "/features/new-home-page", nil))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
		t.Errorf("DELETE: status %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	// A cookie that cannot take one more override gives 400, not 500.
	defs := flagon.Definitions{}
	for i := range 80 {
		defs.Flags = append(defs.Flags, flagon.Flag{Key: fmt.Sprintf("a-rather-long-flag-name-%02d", i), Override: flagon.OverridePolicy{Who: flagon.WhoAnyone}})
	}
	client, _ = newTestClient(t, defs)
	app = newTestApp(t, client, testOptions())
	var entries []Entry
	var full string
	for i := 0; ; i++ {
		entries = append(entries, Entry{Flag: defs.Flags[i].Key, Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)})
		v, err := testCodec().Encode(entries)
		if err != nil {
			break
		}
		full = v
	}
	r := withCookie(httptest.NewRequest("GET", "/features/a-rather-long-flag-name-79?enable=true", nil), DefaultCookieName, full)
	r.Header.Set("Accept", "application/json")
	w = serve(app, r)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"field":"cookie"`) {
		t.Errorf("full cookie: status %d: %s", w.Code, w.Body)
	}
}

func TestPolicyCheck(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	snap := client.Snapshot()
	p := &Policy{Context: staffContext}
	staff := httptest.NewRequest("GET", "/", nil)
	staff.Header.Set("X-Staff", "yes")
	other := httptest.NewRequest("GET", "/", nil)
	tests := []struct {
		name  string
		r     *http.Request
		flag  string
		value any
		d     time.Duration
		field string
		err   error
	}{
		{"anyone", other, "new-home-page", true, time.Hour, "", nil},
		{"staff by audience", staff, "use-new-email-service", true, time.Hour, "", nil},
		{"staff refused", other, "use-new-email-service", true, time.Hour, "name", ErrNotPermitted},
		{"none", staff, "kill-switch", true, time.Hour, "name", ErrNotOverridable},
		{"unknown", staff, "nope", true, time.Hour, "name", flagon.ErrNotFound},
		{"wrong type", other, "new-home-page", "yes", time.Hour, "value", ErrValueNotAllowed},
		{"variant not allowed", other, "checkout", "beta", time.Hour, "value", ErrValueNotAllowed},
		{"too long", other, "short", true, 2 * time.Hour, "duration", ErrDurationNotAllowed},
		{"zero", other, "short", true, 0, "duration", ErrDurationNotAllowed},
		{"int from JSON", staff, "limit", json.Number("10"), time.Hour, "name", ErrNotPermitted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Check(tt.r, snap, tt.flag, tt.value, tt.d)
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			var pe *PolicyError
			if err != nil && (!errors.As(err, &pe) || pe.Field != tt.field) {
				t.Errorf("error %v: want field %q", err, tt.field)
			}
		})
	}
	// CanOverride opens staff flags to whoever it allows.
	p.CanOverride = func(r *http.Request, f flagon.Flag) bool { return f.Key == "limit" }
	v, err := p.Check(other, snap, "limit", json.Number("10"), time.Hour)
	if err != nil || v != int64(10) {
		t.Errorf("CanOverride: got %v, %v; want int64 10", v, err)
	}
}

// TestOverrideLinkOnOverride checks that the override link tells
// Options.OnOverride of each override it sets or removes, and of nothing
// else.
func TestOverrideLinkOnOverride(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	opts := testOptions()
	type call struct {
		path string
		ev   OverrideEvent
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	opts.OnOverride = func(r *http.Request, ev OverrideEvent) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{r.URL.Path, ev})
	}
	srv := httptest.NewServer(newTestApp(t, client, opts))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tok, st, err := MintShareToken(testKeys, "use-new-email-service", true, 2*time.Hour, testNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		method string
		path   string
		staff  bool
		status int
		want   *OverrideEvent // nil: no call
	}{
		{"set", "GET", "/features/new-home-page?enable=true&duration=3600", false, 303,
			&OverrideEvent{Flag: "new-home-page", After: true, Duration: time.Hour, ExpiresAt: testNow.Add(time.Hour), Via: "link"}},
		{"replace", "GET", "/features/new-home-page?enable=false&duration=600", false, 303,
			&OverrideEvent{Flag: "new-home-page", Before: true, After: false, Duration: 10 * time.Minute, ExpiresAt: testNow.Add(10 * time.Minute), Via: "link"}},
		{"set a variant", "GET", "/features/checkout?value=express&duration=60", false, 303,
			&OverrideEvent{Flag: "checkout", After: "express-v2", Duration: time.Minute, ExpiresAt: testNow.Add(time.Minute), Via: "link"}},
		{"remove", "GET", "/features/new-home-page?enable=default", false, 303,
			&OverrideEvent{Flag: "new-home-page", Before: false, Via: "link"}},
		{"remove with duration=0", "GET", "/features/checkout?value=classic&duration=0", false, 303,
			&OverrideEvent{Flag: "checkout", Before: "express-v2", Via: "link"}},
		{"remove what is not there", "GET", "/features/new-home-page?enable=default", false, 303, nil},
		{"share token", "GET", ShareLink("use-new-email-service", tok, "/"), false, 303,
			&OverrideEvent{Flag: "use-new-email-service", After: true, Duration: 2 * time.Hour, ExpiresAt: testNow.Add(2 * time.Hour), Via: "share-link", TokenID: st.ID}},
		{"refused by the policy", "GET", "/features/kill-switch?enable=true", false, 403, nil},
		{"refused: not staff", "POST", "/features/use-new-email-service?enable=false", false, 403, nil},
		{"bad parameter", "GET", "/features/new-home-page?enable=maybe", false, 400, nil},
		{"unknown flag", "GET", "/features/no-such-flag?enable=true", false, 404, nil},
		{"confirmation page", "GET", "/features/use-new-email-service?enable=false", true, 200, nil},
		{"staff POST", "POST", "/features/use-new-email-service?enable=false&duration=60", true, 303,
			&OverrideEvent{Flag: "use-new-email-service", Before: true, After: false, Duration: time.Minute, ExpiresAt: testNow.Add(time.Minute), Via: "link"}},
	}
	for _, tt := range tests {
		mu.Lock()
		calls = nil
		mu.Unlock()
		u, _ := url.Parse(srv.URL + tt.path)
		var r *http.Request
		if tt.method == "POST" {
			r, _ = http.NewRequest("POST", srv.URL+u.Path, strings.NewReader(u.RawQuery))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r, _ = http.NewRequest("GET", u.String(), nil)
		}
		r.Header.Set("Accept", "text/html")
		if tt.staff {
			r.Header.Set("X-Staff", "yes")
		}
		resp, err := hc.Do(r)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		mu.Lock()
		got := calls
		mu.Unlock()
		switch {
		case tt.want == nil && len(got) != 0:
			t.Errorf("%s: OnOverride called with %+v, want no call", tt.name, got)
		case tt.want != nil && len(got) != 1:
			t.Errorf("%s: OnOverride called %d times, want once with %+v", tt.name, len(got), *tt.want)
		case tt.want != nil && (got[0].path != u.Path || !reflect.DeepEqual(got[0].ev, *tt.want)):
			t.Errorf("%s: OnOverride(%s, %+v), want (%s, %+v)", tt.name, got[0].path, got[0].ev, u.Path, *tt.want)
		}
	}
}
