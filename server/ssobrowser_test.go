package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flagon/flagon/internal/browsertest"
)

// TestBrowserOIDCSignIn: in a real browser, Eddie opens the console, is
// sent to the sign-in page, chooses single sign-on, signs in on the test
// provider's own login page, and lands on the page he asked for, named
// with his role; Vera, in another browser, gets her viewer's role.
func TestBrowserOIDCSignIn(t *testing.T) {
	f := startSSO(t)
	for _, who := range []struct{ user, password, name, role string }{
		{"eddie", "eddie-pw", "eddie@example.com", "editor"},
		{"vera", "vera-pw", "vera@example.com", "viewer"},
	} {
		b := browsertest.Start(t, f.ts)
		b.Open("/admin/flags/anyone")
		b.Do("wait for the sign-in page", chromedp.WaitVisible(chromedp.ID("signin-oidc")))
		if status := b.Submit("choose single sign-on", chromedp.Click(chromedp.ID("signin-oidc"))); status != 200 {
			t.Fatalf("%s: the provider's login page: status %d", who.user, status)
		}
		if got := b.Eval(`location.origin`); got != f.op.Issuer {
			t.Fatalf("%s: single sign-on went to %s, want the provider at %s", who.user, got, f.op.Issuer)
		}
		b.Do("fill the provider's login form",
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), who.user),
			chromedp.SendKeys(chromedp.ID("password"), who.password),
		)
		if status := b.Submit("sign in at the provider", chromedp.Click(chromedp.ID("login"))); status != 200 {
			t.Fatalf("%s: back at the console: status %d: %s", who.user, status, b.Text("body"))
		}
		if got := b.Eval(`location.href`); got != f.ts+"/admin/flags/anyone" {
			t.Errorf("%s: landed at %s, want the flag page asked for", who.user, got)
		}
		// The role is shown in capitals (CSS).
		if got, want := b.Text(".user"), who.name+" "+who.role; !strings.Contains(strings.ToLower(got), want) {
			t.Errorf("%s: the console names %q, want %q", who.user, got, want)
		}
	}
}
