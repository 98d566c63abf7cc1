package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/browsertest"
	"github.com/flagon/flagon/server"
	"github.com/flagon/flagon/server/demo"
)

// TestBrowserNewUser is issue 4's "done when", in a real browser against
// the handler `flagon serve` runs: a new user signs in, sees the demo
// flags, overrides one for this browser and sees the demo page change,
// edits a rollout and sees evaluation change, and finds both in the audit
// log.
func TestBrowserNewUser(t *testing.T) {
	st := openSQLite(t)
	const password = "correct horse battery staple"
	addUser(t, st, "nora", password)
	srv, ts := serveStore(t, st, &server.Options{Demo: true, Logger: quiet, AdminPassword: password})
	b := browsertest.Start(t, ts.URL)

	// Carl, a customer, is outside the 10% rollout of new-home-page and in
	// the classic half of checkout.
	b.Open("/")
	b.Do("be Carl", chromedp.SetValue(chromedp.ID("user"), "carl"))
	b.Submit("switch", chromedp.Click(chromedp.CSS(`form[action="/demo/as"] button`)))
	if got := b.Eval(`document.getElementById("home").dataset.variant`); got != "classic" {
		t.Fatalf("before: home page %q, want classic", got)
	}
	if got := b.Text("#checkout"); got != "classic" {
		t.Fatalf("before: checkout %q, want classic", got)
	}

	// Sign in; the overrides page lists the demo flags.
	signIn(t, b, "/admin/", "nora", password)
	for _, f := range demo.Definitions().Flags {
		if !b.Has(fmt.Sprintf(`tr[data-flag=%q]`, f.Key)) {
			t.Errorf("the overrides page does not list %s", f.Key)
		}
	}

	// Override new-home-page for this browser; the demo page changes.
	b.Do("choose On", chromedp.Click(chromedp.CSS(`input[name="v.new-home-page"][value="on"]`)))
	if status := b.Submit("save", chromedp.Click(chromedp.CSS(`#overrides-form button[type=submit]`))); status != 200 {
		t.Fatalf("saving the override: status %d: %s", status, b.Text("main"))
	}
	if got := b.Text(".flash"); got != "Overrides saved." {
		t.Errorf("flash = %q", got)
	}
	b.Open("/")
	if got := b.Eval(`document.getElementById("home").dataset.variant`); got != "new" {
		t.Errorf("after the override: home page %q, want new", got)
	}
	if !strings.Contains(b.Text(".flagon-banner"), "1 flag override active") {
		t.Errorf("the banner does not count the override: %q", b.Text(".flagon-banner"))
	}

	// Roll checkout's express variant out to everyone.
	b.Open("/admin/flags/checkout")
	pct := func(v string) string { return fmt.Sprintf(`input[name^="fall.split."][data-variant=%q]`, v) }
	b.Do("edit the rollout",
		chromedp.SetValue(chromedp.CSS(pct("classic")), "0"),
		chromedp.SetValue(chromedp.CSS(pct("express")), "100"),
		chromedp.SendKeys(chromedp.ID("reason"), "express for everyone"),
	)
	b.Submit("save the flag", chromedp.Click(chromedp.CSS(`.save button[type=submit]`)))
	if got := b.Text(".flash"); got != "Flag saved." {
		t.Fatalf("flash = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := flagon.WaitFor(ctx, srv.Source(), func(s *flagon.Snapshot) bool {
		f, _ := s.Flag("checkout")
		return len(f.Fallthrough.Split) == 2 && f.Fallthrough.Split[1].Percent == 100
	}); err != nil {
		t.Fatalf("the server never saw the rollout: %v", err)
	}
	b.Open("/")
	if got := b.Text("#checkout"); got != "express" {
		t.Errorf("after the rollout: checkout %q, want express", got)
	}

	// Both changes are in the audit log, under the signed-in name.
	b.Open("/admin/audit")
	log := b.Text("main")
	for _, want := range []string{"nora", "flag.update", "checkout", "express for everyone", "override.browser.set", "new-home-page"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, log)
		}
	}
}

// signIn opens page in the browser, which sends it to the console's
// sign-in form, and signs in there as name.
func signIn(t *testing.T, b *browsertest.Browser, page, name, password string) {
	t.Helper()
	b.Open(page)
	b.Do("fill the sign-in form",
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	if status := b.Submit("sign in as "+name, chromedp.Click(chromedp.CSS(`form[action$="signin"] button[type=submit]`))); status != 200 {
		t.Fatalf("sign in as %s: status %d: %s", name, status, b.Text("main"))
	}
}
