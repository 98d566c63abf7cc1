package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/file"
	"github.com/flagon/flagon/flagonhttp"
)

// newTestServer serves the example with this folder's flags.yaml, and
// returns a browser-like client with a cookie jar.
func newTestServer(t *testing.T) (*httptest.Server, *http.Client) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	src, err := file.New("flags.yaml", &file.Options{NoWatch: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	client := flagon.NewClient(src, &flagon.Options{Logger: log})
	key, err := flagonhttp.GenerateKey("test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newApp(client, flagonhttp.MustKeys(key), log))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return srv, &http.Client{Jar: jar}
}

func fetch(t *testing.T, hc *http.Client, method, u string, form url.Values) string {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "POST" {
		resp, err = hc.PostForm(u, form)
	} else {
		resp, err = hc.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, u, resp.StatusCode, b)
	}
	return string(b)
}

// TestHomePageLoop is the whole loop in a browser: the link sets the
// override, the page changes, Default clears it.
func TestHomePageLoop(t *testing.T) {
	srv, hc := newTestServer(t)
	steps := []struct {
		path string
		want []string
		not  []string
	}{
		{"/", []string{"<h1>Welcome</h1>"}, []string{"flagon-banner\" role"}},
		{"/features/new-home-page?enable=true&duration=86400&redirect_url=/", []string{"<h1>The new home page</h1>", "1 flag override active"}, nil},
		{"/", []string{"<h1>The new home page</h1>"}, nil},
		{"/features", []string{`<tr class="active">`, "overridden (cookie)"}, nil},
		{"/features/signup-button?value=green", []string{"background: green", "2 flag overrides active"}, nil},
		{"/features/new-home-page?enable=default&redirect_url=/", []string{"<h1>Welcome</h1>", "background: green", "1 flag override active"}, nil},
		{"/features/signup-button?enable=default", []string{"<h1>Welcome</h1>", "background: blue"}, []string{"flagon-banner\" role"}},
	}
	for _, s := range steps {
		body := fetch(t, hc, "GET", srv.URL+s.path, nil)
		for _, w := range s.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: page lacks %q", s.path, w)
			}
		}
		for _, w := range s.not {
			if strings.Contains(body, w) {
				t.Errorf("%s: page has %q", s.path, w)
			}
		}
	}
}

// TestSignupEmailLoop is the third article's scenario: a tester turns the
// new e-mail service on for their browser and signs up.
func TestSignupEmailLoop(t *testing.T) {
	srv, hc := newTestServer(t)
	signup := func() string {
		return fetch(t, hc, "POST", srv.URL+"/signup", url.Values{"email": {"new-user@example.org"}})
	}
	if body := signup(); !strings.Contains(body, "through the old SMTP relay") {
		t.Errorf("before the override: %s", body)
	}
	// Not staff: the link is refused.
	resp, err := hc.PostForm(srv.URL+"/features/use-new-email-service", url.Values{"enable": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("override by a visitor: status %d, want 403", resp.StatusCode)
	}
	// Staff sign in, and the overrides page offers the buttons and a
	// share link.
	body := fetch(t, hc, "GET", srv.URL+"/login?as=qa@example.com", nil)
	if !strings.Contains(body, `action="/features/use-new-email-service"`) || !strings.Contains(body, "token=") {
		t.Errorf("staff see no buttons or share link")
	}
	fetch(t, hc, "POST", srv.URL+"/features/use-new-email-service", url.Values{"enable": {"true"}, "redirect_url": {"/features"}})
	if body := signup(); !strings.Contains(body, "through the new e-mail service") {
		t.Errorf("after the override: %s", body)
	}
	fetch(t, hc, "POST", srv.URL+"/overrides/clear", nil)
	if body := signup(); !strings.Contains(body, "through the old SMTP relay") {
		t.Errorf("after clearing: %s", body)
	}
}

// TestShareLink lets a visitor who is not staff use a staff member's
// share link.
func TestShareLink(t *testing.T) {
	srv, staff := newTestServer(t)
	body := fetch(t, staff, "GET", srv.URL+"/login?as=qa@example.com", nil)
	i := strings.Index(body, `<a href="/features/use-new-email-service?redirect_url=%2Fsignup&amp;token=`)
	if i < 0 {
		t.Fatal("no share link on the page")
	}
	link := body[i+len(`<a href="`):]
	link = strings.ReplaceAll(link[:strings.IndexByte(link, '"')], "&amp;", "&")

	jar, _ := cookiejar.New(nil)
	visitor := &http.Client{Jar: jar}
	body = fetch(t, visitor, "GET", srv.URL+link, nil)
	if !strings.Contains(body, "the <strong>new</strong> e-mail service") {
		t.Errorf("the share link did not turn the flag on: %s", body)
	}
}

func TestKillSwitchNeverOverridden(t *testing.T) {
	srv, hc := newTestServer(t)
	resp, err := hc.Get(srv.URL + "/features/maintenance-mode?enable=true")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
}
