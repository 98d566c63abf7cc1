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
	"github.com/flagon/flagon/remote"
	"github.com/flagon/flagon/server"
)

// TestBrowserUsage is issue 13's "done when" for seeing usage: an
// application evaluates a flag through a remote source that follows a
// server as `flagon serve` runs it; its counts reach the server; and in a
// real browser the flag's page charts them, under the variant served, and
// names the application, while the flag nothing evaluates is listed as
// ready to remove.
func TestBrowserUsage(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	for _, f := range []flagon.Flag{
		{Key: "new-checkout", Description: "The one-page checkout", Owner: "payments", Fallthrough: flagon.Serve{Variant: "on"}},
		{Key: "old-banner", Description: "The winter sale banner", Owner: "web"},
	} {
		if _, err := st.PutFlag(ctx, f, 0, flagon.Change{Actor: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	const password = "correct horse battery staple"
	addUser(t, st, "nora", password)
	const token = "shop-reader-0123456789abcdef"
	_, ts := serveStore(t, st, &server.Options{Logger: quiet, AdminPassword: password,
		APITokens: []server.APIToken{{Name: "shop", Secret: token, ReadOnly: true}}})

	// The example application: a client over a remote source, shipping
	// its counts every 50 ms.
	src, err := remote.New(ctx, ts.URL, &remote.Options{Token: token, App: "example-shop", UsageInterval: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	app := flagon.NewClient(src, &flagon.Options{Logger: quiet})
	defer app.Close()
	const evaluations = 25
	for range evaluations {
		if !app.Bool(ctx, "new-checkout", false) {
			t.Fatal("the application does not get new-checkout on")
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		counts, err := st.Usage(ctx, flagon.UsageQuery{Flag: "new-checkout"})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, c := range counts {
			n += c.Count
		}
		if n == evaluations {
			break
		}
		select {
		case <-waitCtx.Done():
			t.Fatalf("the server kept %d evaluations of new-checkout, want %d: %+v", n, evaluations, counts)
		case <-time.After(20 * time.Millisecond):
		}
	}

	b := browsertest.Start(t, ts.URL)
	signIn(t, b, "/admin/", "nora", password)

	// The list says new-checkout was evaluated this hour, 25 times.
	b.Open("/admin/flags")
	if !b.Has(`tr[data-flag="new-checkout"] [data-last]`) {
		t.Fatalf("the flags list shows no usage: %s", b.Text("main"))
	}
	if got := b.Text(`tr[data-flag="new-checkout"] [data-last]`); got != "this hour" {
		t.Errorf("new-checkout last evaluated %q, want this hour", got)
	}
	if got := b.Text(`tr[data-flag="new-checkout"] [data-week]`); got != fmt.Sprint(evaluations) {
		t.Errorf("new-checkout evaluated %s times in 7 days, want %d", got, evaluations)
	}
	if got := b.Text(`tr[data-flag="old-banner"] [data-last]`); got != "never" {
		t.Errorf("old-banner last evaluated %q, want never", got)
	}

	// The flag's page charts the 25 under "on", today, and names the app.
	b.Open("/admin/flags/new-checkout")
	if !b.Has(`svg[data-usage-chart]`) {
		t.Fatalf("the flag's page has no usage chart: %s", b.Text("main"))
	}
	bars := b.Eval(`Array.from(document.querySelectorAll("svg[data-usage-chart] rect")).map(r => r.dataset.variant + " " + r.querySelector("title").textContent + " " + Math.round(r.getBBox().height)).join("\n")`)
	lines := strings.Split(bars, "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "on ") || !strings.Contains(lines[0], "· on: 25 ") {
		t.Fatalf("the chart's bars:\n%s\nwant one bar of on: 25", bars)
	}
	if h := b.Eval(`String(Math.round(document.querySelector("svg[data-usage-chart] rect").getBoundingClientRect().height))`); h == "0" {
		t.Error("the bar has no height on screen")
	}
	if got := b.Eval(`document.querySelector("svg[data-usage-chart] rect").getAttribute("class")`); got != "c1" {
		t.Errorf("on's bar has class %q, want c1", got)
	}
	fill := b.Eval(`getComputedStyle(document.querySelector("svg[data-usage-chart] rect")).fill`)
	if fill == "" || fill == "rgb(0, 0, 0)" || fill == "none" {
		t.Errorf("the bar is filled %q: the chart's colors did not apply", fill)
	}
	if got := b.Eval(`document.querySelector('.legend [data-series="on"]').textContent.replace(/\s+/g, " ").trim()`); got != "on 25" {
		t.Errorf("legend %q, want on 25", got)
	}
	if got := b.Text(`tr[data-app="example-shop"] [data-count]`); got != fmt.Sprint(evaluations) {
		t.Errorf("example-shop's count %q, want %d", got, evaluations)
	}
	if got := b.Eval(`document.getElementById("usage-desc").textContent`); !strings.Contains(got, "25 in all; on 25") {
		t.Errorf("the chart's description %q", got)
	}

	// old-banner is ready to remove; new-checkout is not.
	b.Open("/admin/flags")
	b.Do("follow the link", chromedp.Click(chromedp.CSS(`[data-removable-link]`)), chromedp.WaitVisible(chromedp.ID("days")))
	if got := b.Eval(`document.querySelector('tr[data-flag="old-banner"] [data-reason]').textContent`); got != "not evaluated" {
		t.Errorf("old-banner's reason %q, want not evaluated", got)
	}
	if b.Has(`tr[data-flag="new-checkout"]`) {
		t.Error("new-checkout, evaluated this hour, is listed as ready to remove")
	}
}
