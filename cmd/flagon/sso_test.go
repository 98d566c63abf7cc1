package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagon/flagon/internal/testop"
)

// TestServeOIDC runs `flagon serve` with single sign-on configured by
// flags and the client secret by FLAGON_OIDC_CLIENT_SECRET_FILE, and signs
// in through a test provider: the code exchange succeeds only with the
// secret from the file.
func TestServeOIDC(t *testing.T) {
	const redirect = "http://flagon.invalid/admin/signin/oidc/callback"
	op := testop.Start(t, redirect, testop.Person{Subject: "s1", Username: "ed", Password: "pw", Email: "ed@example.com", Groups: []string{"devs"}})
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "oidc-secret")
	if err := os.WriteFile(secretFile, []byte(op.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLAGON_OIDC_CLIENT_SECRET_FILE", secretFile)
	s := startServe(t, "-store", "sqlite://"+filepath.Join(dir, "flagon.db"),
		"-oidc-issuer", op.Issuer, "-oidc-client-id", op.ClientID, "-oidc-redirect-url", redirect,
		"-sso-roles", "group:devs=editor")
	if !strings.Contains(s.stdout.String(), "single sign-on through "+op.Issuer) {
		t.Errorf("serve does not say it offers single sign-on:\n%s", s.stdout)
	}

	jar, _ := cookiejar.New(nil)
	var callback *url.URL
	hc := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "flagon.invalid" {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := hc.Get(s.base + "/admin/signin/oidc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	resp, err = hc.PostForm(op.Issuer+"/login", url.Values{"id": {id}, "username": {"ed"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if callback == nil {
		t.Fatalf("the provider did not send the browser back (status %d at %s)", resp.StatusCode, resp.Request.URL)
	}
	// The browser reaches the server by the redirect URL's name; here, by
	// its address.
	resp, err = hc.Get(s.base + callback.RequestURI())
	if err != nil && !errors.Is(err, http.ErrUseLastResponse) {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/admin/") {
		t.Fatalf("callback: %d at %s, want the console", resp.StatusCode, resp.Request.URL)
	}
	code, body := getWith(t, hc, s.base+"/admin/flags")
	if code != http.StatusOK || !strings.Contains(body, `ed@example.com <span class="role">editor</span>`) {
		t.Errorf("console after single sign-on: %d, want ed@example.com as editor", code)
	}
}

func getWith(t *testing.T, hc *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeSSOFlagErrors: single sign-on settings that cannot work are
// usage errors naming the flag.
func TestServeSSOFlagErrors(t *testing.T) {
	store := "sqlite://" + filepath.Join(t.TempDir(), "flagon.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-oidc-issuer", "https://login.example.com", "-oidc-client-id", "x"}, "-sso-roles: single sign-on needs at least one rule"},
		{[]string{"-oidc-issuer", "https://login.example.com", "-sso-roles", "group:a=viewer"}, "-oidc-client-id: required with -oidc-issuer"},
		{[]string{"-oidc-issuer", "https://login.example.com", "-oidc-client-id", "x", "-sso-roles", "group:a=boss"}, `unknown role "boss"`},
		{[]string{"-oidc-issuer", "https://login.example.com", "-oidc-client-id", "x", "-sso-roles", "group:a=viewer"}, "set the public URL (or the redirect URL)"},
		{[]string{"-auth-header-user", "X-Forwarded-User", "-sso-roles", "group:a=viewer"}, "-auth-proxies: required"},
		{[]string{"-auth-proxies", "10.0.0.0/8"}, "-auth-proxies: given without"},
	} {
		code, _, stderr := cli(t, append([]string{"serve", "-addr", "127.0.0.1:0", "-store", store}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve %q: exit %d, want an error with %q:\n%.300s", tc.args, code, tc.want, stderr)
		}
	}
}
