package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flagon/flagon/internal/browsertest"
)

// TestBrowserEnvironmentsSideBySide signs in to the console of a server
// with three environments: the flags list shows each flag in the three
// side by side, the switcher moves to staging's console, whose editor
// edits staging, and production's editor asks for a confirmation while
// staging's does not.
func TestBrowserEnvironmentsSideBySide(t *testing.T) {
	st := openSQLite(t)
	const password = "correct horse battery staple"
	addUser(t, st, "nora", password)
	_, ts := threeEnvironments(t, st)
	b := browsertest.Start(t, ts.URL)

	signIn(t, b, "/admin/flags", "nora", password)
	if got := b.Eval(`[...document.querySelectorAll("thead th[data-env]")].map(th => th.textContent).join(",")`); got != "development,staging,production" {
		t.Errorf("environment columns = %q", got)
	}
	for env, want := range wantBanner {
		cell := b.Text(`tr[data-flag="banner"] td[data-env-cell="` + env + `"]`)
		if !strings.HasPrefix(cell, want) {
			t.Errorf("banner in %s = %q, want %q", env, cell, want)
		}
	}
	if got := b.Eval(`document.querySelector(".env-switch a[aria-current=page]").dataset.env`); got != "development" {
		t.Errorf("current environment = %q, want development", got)
	}

	// Switch to staging: its console, whose editor edits staging.
	b.Submit("switch to staging", chromedp.Click(chromedp.CSS(`.env-switch a[data-env="staging"]`)))
	if got := b.Eval(`location.pathname`); got != "/env/staging/admin/flags" {
		t.Errorf("after switching: %q, want /env/staging/admin/flags", got)
	}
	if got := b.Eval(`document.querySelector(".env-switch a[aria-current=page]").dataset.env`); got != "staging" {
		t.Errorf("current environment = %q, want staging", got)
	}
	b.Submit("open banner", chromedp.Click(chromedp.CSS(`tr[data-flag="banner"] a.key`)))
	if got := b.Eval(`document.querySelector('input[name="env"]').value`); got != "staging" {
		t.Errorf("staging's editor edits %q, want staging", got)
	}
	if b.Has(`input[name="confirm"]`) {
		t.Error("staging's editor asks for a production confirmation")
	}
	b.Open("/env/production/admin/flags/banner")
	if got := b.Eval(`document.querySelector('input[name="env"]').value`); got != "production" {
		t.Errorf("production's editor edits %q, want production", got)
	}
	if !b.Has(`input[name="confirm"]`) {
		t.Error("production's editor asks for no confirmation")
	}
}
