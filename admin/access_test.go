package admin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// allPages are the console's GET pages.
var allPages = []string{
	"/admin/", "/admin/overrides", "/admin/overrides?scope=login", "/admin/flags", "/admin/flags/checkout",
	"/admin/flags/checkout?env=production", "/admin/flags/new", "/admin/share", "/admin/users",
	"/admin/explain", "/admin/explain?key=u1&attrs=is_staff%3Dtrue", "/admin/audit", "/admin/audit?flag=checkout",
	"/admin/audiences", "/admin/audiences/staff",
}

// flagNames are strings that must not appear on a page an unauthorized
// request sees.
var flagNames = []string{"new-home-page", "checkout", "max-items", "ops-maintenance", "use-new-email-service"}

func TestEveryPageRenders(t *testing.T) {
	for _, ro := range []bool{false, true} {
		h := newHarness(t, harnessOptions{readOnly: ro})
		b := h.browser("ann:admin")
		for _, p := range allPages {
			r := b.get(p)
			want := http.StatusOK
			if ro && p == "/admin/flags/new" {
				want = http.StatusConflict
			}
			if r.status != want {
				t.Errorf("read-only=%v %s: status %d, want %d: %s", ro, p, r.status, want, snippet(r.body))
			}
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", p, ct)
			}
			for _, hdr := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Cache-Control"} {
				if r.header.Get(hdr) == "" {
					t.Errorf("%s: no %s header", p, hdr)
				}
			}
			if strings.Contains(r.body, "http://") || strings.Contains(r.body, "https://") {
				t.Errorf("%s: the page refers to another site", p)
			}
		}
	}
}

func TestUnauthorizedSeesNoFlags(t *testing.T) {
	tests := []struct {
		name       string
		ho         harnessOptions
		user       string
		wantStatus int
		wantText   string
	}{
		{"no Authorize", harnessOptions{noAuth: true}, "ann:admin", http.StatusUnauthorized, "lets no one in"},
		{"no credentials", harnessOptions{}, "", http.StatusUnauthorized, "Sign in"},
		{"no role", harnessOptions{}, "bob:", http.StatusForbidden, "may not use"},
		{"forbidden", harnessOptions{authorize: func(*http.Request) (Principal, error) { return Principal{}, ErrForbidden }}, "", http.StatusForbidden, "may not use"},
		{"authorize fails", harnessOptions{authorize: func(*http.Request) (Principal, error) { return Principal{}, errTest }}, "", http.StatusUnauthorized, "Sign in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.ho)
			b := h.browser(tt.user)
			for _, p := range allPages {
				r := b.get(p)
				if r.status != tt.wantStatus {
					t.Errorf("%s: status %d, want %d", p, r.status, tt.wantStatus)
				}
				mustContain(t, r.body, tt.wantText)
				mustNotContain(t, r.body, flagNames...)
			}
			for _, p := range []string{"/admin/overrides", "/admin/flags/checkout", "/admin/share"} {
				r := b.post(p, url.Values{"csrf": {"x"}, "v.new-home-page": {"on"}})
				if r.status != tt.wantStatus && r.status != http.StatusForbidden {
					t.Errorf("POST %s: status %d", p, r.status)
				}
				mustNotContain(t, r.body, flagNames...)
			}
		})
	}
}

func TestSignInRedirect(t *testing.T) {
	auth, err := NewPasswordAuth(testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{authorize: auth.Authorize, signIn: auth})
	b := h.browser("")
	r := b.get("/admin/flags/checkout?env=staging")
	if r.status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", r.status)
	}
	if want := "/admin/signin?next=" + url.QueryEscape("flags/checkout?env=staging"); r.location != want {
		t.Errorf("Location = %q, want %q", r.location, want)
	}
	mustNotContain(t, r.body, flagNames...)
	page := b.follow(r)
	if page.status != http.StatusOK {
		t.Fatalf("sign-in page: %d", page.status)
	}
	mustContain(t, page.body, `name="password"`, `value="flags/checkout?env=staging"`)
	mustNotContain(t, page.body, "new-home-page")
	form := formOf(t, page.body, "signin")
	form.Set("password", testPassword)
	form.Set("name", "ann")
	r = b.post("/admin/signin", form)
	if r.status != http.StatusSeeOther || r.location != "/admin/flags/checkout?env=staging" {
		t.Fatalf("after sign-in: %d to %q", r.status, r.location)
	}
	page = b.follow(r)
	mustContain(t, page.body, "<code>checkout</code>", "ann")
}

func TestRoles(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tests := []struct {
		user   string
		method string
		path   string
		want   int
	}{
		{"vic:viewer", "GET", "/admin/overrides", http.StatusOK},
		{"vic:viewer", "GET", "/admin/flags/checkout", http.StatusOK},
		{"vic:viewer", "GET", "/admin/explain", http.StatusOK},
		{"vic:viewer", "GET", "/admin/audit", http.StatusOK},
		{"vic:viewer", "GET", "/admin/flags/new", http.StatusForbidden},
		{"vic:viewer", "GET", "/admin/share", http.StatusForbidden},
		{"vic:viewer", "GET", "/admin/users", http.StatusForbidden},
		{"vic:viewer", "POST", "/admin/flags/checkout", http.StatusForbidden},
		{"vic:viewer", "POST", "/admin/flags/checkout/kill", http.StatusForbidden},
		{"vic:viewer", "POST", "/admin/flags/checkout/archive", http.StatusForbidden},
		{"vic:viewer", "POST", "/admin/share", http.StatusForbidden},
		{"vic:viewer", "POST", "/admin/users/set", http.StatusForbidden},
		{"vic:viewer", "POST", "/admin/overrides", http.StatusSeeOther},
		{"ed:editor", "GET", "/admin/flags/new", http.StatusOK},
		{"ed:editor", "GET", "/admin/share", http.StatusOK},
		{"ed:editor", "GET", "/admin/users", http.StatusForbidden},
		{"ed:editor", "POST", "/admin/users/revoke", http.StatusForbidden},
		{"ann:admin", "GET", "/admin/users", http.StatusOK},
		{"ann:admin", "GET", "/admin/nowhere", http.StatusNotFound},
	}
	for _, tt := range tests {
		b := h.browser(tt.user)
		b.get("/admin/overrides")
		var r response
		if tt.method == "GET" {
			r = b.get(tt.path)
		} else {
			r = b.post(tt.path, url.Values{})
		}
		if r.status != tt.want {
			t.Errorf("%s %s %s: status %d, want %d: %s", tt.user, tt.method, tt.path, r.status, tt.want, snippet(r.body))
		}
	}
	// What a viewer sees: no editing controls.
	b := h.browser("vic:viewer")
	r := b.get("/admin/flags/checkout")
	mustContain(t, r.body, `<fieldset class="plain" disabled>`)
	mustNotContain(t, r.body, "Save flag", ">Archive<")
	r = b.get("/admin/flags")
	mustNotContain(t, r.body, "New flag", ">Kill<")
}

func TestCSRF(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ann := h.browser("ann:admin")
	ann.get("/admin/overrides")
	good := ann.token()
	bob := h.browser("bob:admin")
	bob.get("/admin/overrides")
	tests := []struct {
		name    string
		b       *browser
		token   string
		headers map[string]string
		want    int
	}{
		{"valid", ann, good, nil, http.StatusSeeOther},
		{"missing", ann, "", nil, http.StatusForbidden},
		{"wrong", ann, "AAAA" + good[4:], nil, http.StatusForbidden},
		{"another session's", bob, good, nil, http.StatusForbidden},
		{"cross-site", ann, good, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"other origin", ann, good, map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		form := url.Values{"csrf": {tt.token}, "v.new-home-page": {"on"}, "duration": {"3600"}}
		req, _ := http.NewRequest("POST", h.srv.URL+"/admin/overrides", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for k, v := range tt.headers {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		r := tt.b.do(req)
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, r.status, tt.want)
		}
		if tt.want != http.StatusSeeOther && strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "flagon_overrides=") {
			t.Errorf("%s: a refused POST set the override cookie", tt.name)
		}
	}
	// A request without the CSRF cookie gets one; a form token is good only
	// with its cookie.
	fresh := h.browser("ann:admin")
	form := url.Values{"csrf": {good}, "v.new-home-page": {"on"}, "duration": {"3600"}}
	if r := fresh.post("/admin/overrides", form); r.status != http.StatusForbidden {
		t.Errorf("token without its cookie: status %d", r.status)
	}
}

func TestPrefixes(t *testing.T) {
	for _, prefix := range []string{"/", "/admin", "/tools/flags"} {
		t.Run(prefix, func(t *testing.T) {
			h := newHarness(t, harnessOptions{prefix: prefix})
			b := h.browser("ann:admin")
			base := strings.TrimSuffix(prefix, "/") + "/"
			r := b.get(base + "flags")
			if r.status != http.StatusOK {
				t.Fatalf("status %d", r.status)
			}
			mustContain(t, r.body, `href="`+base+`flags/checkout"`, `href="`+base+`static/admin.css?v=`, `action="`+base+`theme"`)
			r = b.get(base)
			mustContain(t, r.body, `action="`+base+`overrides"`)
			form := formOf(t, r.body, base+"overrides")
			form.Set("v.new-home-page", "on")
			r = b.post(base+"overrides", form)
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, base+"overrides?") {
				t.Errorf("redirect %d to %q, want under %s", r.status, r.location, base)
			}
			css := b.get(base + "static/admin.css")
			if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
				t.Errorf("stylesheet: %d %s", css.status, css.header.Get("Content-Type"))
			}
		})
	}
}

func TestStripPrefixWithSlash(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin/", h.console))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []string{"/admin/", "/admin/flags"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		req.Header.Set("X-Test-User", "ann:admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func TestBasePath(t *testing.T) {
	tests := []struct {
		requestURI, path, want string
	}{
		{"/admin/flags", "/flags", "/admin/"},
		{"/admin/", "/", "/admin/"},
		{"/admin", "", "/admin/"},
		{"/admin/flags", "flags", "/admin/"},
		{"/flags?x=1", "/flags", "/"},
		{"/", "/", "/"},
		{"/a/b/c/flags/x%2Fy", "/flags/x/y", "/a/b/c/"},
		{"http://example.com/admin/flags", "/flags", "/admin/"},
		{"/elsewhere", "/flags", "/"},
	}
	c := Handler(nil)
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RequestURI = tt.requestURI
		r.URL = &url.URL{Path: tt.path}
		if strings.Contains(tt.requestURI, "%2F") {
			r.URL.RawPath = "/flags/x%2Fy"
		}
		if got := c.basePath(r); got != tt.want {
			t.Errorf("basePath(%q, %q) = %q, want %q", tt.requestURI, tt.path, got, tt.want)
		}
	}
	fixed := Handler(&Options{BasePath: "/proxy/admin"})
	if got := fixed.basePath(httptest.NewRequest("GET", "/flags", nil)); got != "/proxy/admin/" {
		t.Errorf("with BasePath: %q", got)
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"flags", true},
		{"flags/checkout?env=staging", true},
		{"overrides?q=a:b", true},
		{"/flags", false},
		{"//evil.example", false},
		{"https://evil.example", false},
		{"javascript:alert(1)", false},
		{`\\evil.example`, false},
		{"flags\r\nSet-Cookie: x", false},
		{"./x", false},
		{"../x", false},
		{strings.Repeat("a", 3000), false},
	}
	for _, tt := range tests {
		if got := localPath(tt.in); got != tt.want {
			t.Errorf("localPath(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestStaticAndTheme(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	anon := h.browser("")
	for _, f := range []string{"admin.css", "admin.js", "flagon.svg"} {
		r := anon.get("/admin/static/" + f + "?v=" + staticVersion)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d", f, r.status)
		}
		if !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: Cache-Control %q", f, r.header.Get("Cache-Control"))
		}
	}
	if r := anon.get("/admin/static/nope.css"); r.status != http.StatusNotFound {
		t.Errorf("missing asset: %d", r.status)
	}
	b := h.browser("ann:admin")
	b.get("/admin/flags")
	r := b.post("/admin/theme", url.Values{"theme": {"dark"}, "back": {"flags?q=x"}})
	if r.status != http.StatusSeeOther || r.location != "/admin/flags?q=x" {
		t.Fatalf("theme: %d to %q", r.status, r.location)
	}
	page := b.follow(r)
	mustContain(t, page.body, `<html lang="en" data-theme="dark">`, `<option value="dark" selected>`)
	r = b.post("/admin/theme", url.Values{"theme": {"light"}, "back": {"https://evil.example/"}})
	if r.location != "/admin/" {
		t.Errorf("theme with a foreign back: to %q", r.location)
	}
	page = b.follow(r)
	mustContain(t, page.body, `data-theme="light"`)
	b.post("/admin/theme", url.Values{"theme": {""}})
	page = b.get("/admin/")
	mustNotContain(t, page.body, "data-theme=")
}
