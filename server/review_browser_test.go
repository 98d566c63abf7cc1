package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/admin"
	"github.com/flagon/flagon/internal/browsertest"
	"github.com/flagon/flagon/server"
)

// putUser adds a console user with the given default role.
func putUser(t *testing.T, st flagon.UserStore, name, password, role string) {
	t.Helper()
	hash, err := admin.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutUser(t.Context(), flagon.User{Name: name, PasswordHash: hash, Role: role}, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// rolloutFlag is a string flag whose fallthrough serves "on" to pct
// percent.
func rolloutFlag(key string, pct float64) flagon.Flag {
	return flagon.Flag{
		Key: key, Type: flagon.TypeString, Default: "off",
		Variants:    []flagon.Variant{{Name: "off", Value: "old"}, {Name: "on", Value: "new"}},
		Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "off", Percent: 100 - pct}, {Variant: "on", Percent: pct}}},
	}
}

// waitFlag waits until the server serves a flag for which ok holds.
func waitFlag(t *testing.T, srv *server.Server, key string, ok func(flagon.Flag) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := flagon.WaitFor(ctx, srv.Source(), func(s *flagon.Snapshot) bool {
		f, found := s.Flag(key)
		return found && ok(f)
	}); err != nil {
		t.Fatalf("the server never served the expected %s: %v", key, err)
	}
}

// onPercent returns the share of f's fallthrough that gets "on".
func onPercent(f flagon.Flag) float64 {
	if f.Fallthrough.Variant == "on" {
		return 100
	}
	for _, s := range f.Fallthrough.Split {
		if s.Variant == "on" {
			return s.Percent
		}
	}
	return 0
}

// TestBrowserChangeRequest is issue 11's reviewed change, in a real
// browser against the handler `flagon serve` runs: in protected
// production an editor's save becomes a change request; its author cannot
// approve it, even by posting the form the page does not offer; an admin
// signs in, sees the diff and approves; the flag changes, and the audit
// log names both.
func TestBrowserChangeRequest(t *testing.T) {
	st := openSQLite(t)
	const password = "correct horse battery staple"
	putUser(t, st, "ed", password, "editor")
	putUser(t, st, "ada", password, "admin")
	v1, err := st.PutFlag(t.Context(), rolloutFlag("checkout", 10), 0, flagon.Change{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, ts := serveStore(t, st, &server.Options{Environment: "production", Production: true, Logger: quiet, AdminPassword: password})
	b := browsertest.Start(t, ts.URL)

	// Ed, an editor, rolls checkout out to half: it becomes a request.
	signIn(t, b, "/admin/signin", "ed", password)
	b.Open("/admin/flags/checkout")
	if !strings.Contains(b.Text("#reviewed-note"), "production") {
		t.Errorf("the flag page does not say production is protected: %q", b.Text("#reviewed-note"))
	}
	pct := func(v string) string { return fmt.Sprintf(`input[name^="fall.split."][data-variant=%q]`, v) }
	b.Do("edit the rollout",
		chromedp.SetValue(chromedp.CSS(pct("off")), "50"),
		chromedp.SetValue(chromedp.CSS(pct("on")), "50"),
		chromedp.SendKeys(chromedp.ID("reason"), "half of checkout"),
		chromedp.Click(chromedp.CSS(`input[name=confirm]`)),
	)
	if status := b.Submit("ask for review", chromedp.Click(chromedp.CSS(`.save button[type=submit]`))); status != 200 {
		t.Fatalf("saving as an editor: status %d: %s", status, b.Text("main"))
	}
	if got := b.Text(".flash"); !strings.Contains(got, "waits for another person's approval") {
		t.Fatalf("flash = %q", got)
	}
	if got := b.Text("#request-diff"); !strings.Contains(got, "fallthrough") || !strings.Contains(got, "50") {
		t.Errorf("the request page's diff = %q, want the fallthrough going to 50", got)
	}
	if b.Has("#approve") || !b.Has("#reject") {
		t.Errorf("the author is offered approval of their own request, or no way to withdraw it")
	}
	reqPath := b.Eval(`location.pathname`)

	// Ed posts an approval anyway, with a valid form token: refused.
	b.Allow("status of 403")
	b.Eval(`(() => { const f = document.getElementById("review-form"); const x = document.createElement("button");
		x.id = "forged"; x.type = "submit"; x.formAction = location.pathname + "/approve"; f.appendChild(x); return "ok" })()`)
	if status := b.Submit("approve own request", chromedp.Click(chromedp.ID("forged"))); status != 403 {
		t.Errorf("the author approving: status %d, want 403: %s", status, b.Text("main"))
	}
	if f, err := st.Flag(t.Context(), "checkout"); err != nil || f.Version != v1 {
		t.Fatalf("before approval the flag is at version %d (%v), want %d", f.Version, err, v1)
	}

	// Ada, an admin, finds it, sees the diff and approves.
	b.Submit("sign out", chromedp.Click(chromedp.CSS(`form[action$="signout"] button`)))
	signIn(t, b, "/admin/signin", "ada", password)
	b.Open("/admin/requests")
	if got := b.Text("#pending-requests"); !strings.Contains(got, "checkout") || !strings.Contains(got, "ed") {
		t.Fatalf("the pending requests = %q, want ed's change of checkout", got)
	}
	b.Open(reqPath)
	if got := b.Text("#request-diff"); !strings.Contains(got, "fallthrough") {
		t.Errorf("the approver's diff = %q", got)
	}
	b.Do("comment", chromedp.SendKeys(chromedp.ID("comment"), "ok for the sale"))
	if status := b.Submit("approve", chromedp.Click(chromedp.ID("approve"))); status != 200 {
		t.Fatalf("approving: status %d: %s", status, b.Text("main"))
	}
	if got := b.Text(".flash"); got != "Approved: the change is applied." {
		t.Errorf("flash = %q", got)
	}
	if got := b.Text("#request-state"); got != "applied" {
		t.Errorf("state = %q, want applied", got)
	}
	waitFlag(t, srv, "checkout", func(f flagon.Flag) bool { return onPercent(f) == 50 })

	// The audit log names both: the put is ada's and quotes ed.
	b.Open("/admin/audit?flag=checkout")
	entry := b.Text(".audit-entry")
	for _, want := range []string{"ada", "flag.update", "change request #1 by ed, approved by ada", "half of checkout", "ok for the sale"} {
		if !strings.Contains(entry, want) {
			t.Errorf("the newest audit entry lacks %q:\n%s", want, entry)
		}
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestBrowserScheduledRollout schedules a three-step rollout with the
// flag page's form, moves the server's clock past the first step, and
// sees the scheduler apply it, and only it, on the flag page.
func TestBrowserScheduledRollout(t *testing.T) {
	st := openSQLite(t)
	const password = "correct horse battery staple"
	putUser(t, st, "ada", password, "admin")
	if _, err := st.PutFlag(t.Context(), rolloutFlag("search", 0), 0, flagon.Change{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2030, 6, 1, 8, 0, 0, 0, time.UTC)
	clock := &testClock{t: start}
	srv, ts := serveStore(t, st, &server.Options{
		Environment: "staging", Logger: quiet, AdminPassword: password,
		Now: clock.Now, ScheduleInterval: 20 * time.Millisecond,
	})
	b := browsertest.Start(t, ts.URL)

	signIn(t, b, "/admin/signin", "ada", password)
	b.Open("/admin/flags/search")
	b.Do("fill the scheduling form",
		chromedp.SetValue(chromedp.ID("sched-variant"), "on"),
		chromedp.SetValue(chromedp.ID("sched-at-0"), "2030-06-01T09:00"),
		chromedp.SetValue(chromedp.ID("sched-pct-0"), "10"),
		chromedp.SetValue(chromedp.ID("sched-at-1"), "2030-06-02T09:00"),
		chromedp.SetValue(chromedp.ID("sched-pct-1"), "50"),
		chromedp.SetValue(chromedp.ID("sched-at-2"), "2030-06-03T09:00"),
		chromedp.SetValue(chromedp.ID("sched-pct-2"), "100"),
		chromedp.SendKeys(chromedp.ID("sched-reason"), "ramp search"),
	)
	if status := b.Submit("schedule", chromedp.Click(chromedp.CSS(`#schedule-form button[type=submit]`))); status != 200 {
		t.Fatalf("scheduling: status %d: %s", status, b.Text("main"))
	}
	if got := b.Text(".flash"); got != "Change scheduled." {
		t.Fatalf("flash = %q", got)
	}
	if got := b.Text("#schedules-h + table tbody"); strings.Count(got, "pending") != 3 {
		t.Fatalf("the flag page's schedule = %q, want three pending steps", got)
	}

	// Past the first step: the scheduler applies it, not the others.
	clock.Set(start.Add(90 * time.Minute))
	waitFlag(t, srv, "search", func(f flagon.Flag) bool { return onPercent(f) == 10 })
	b.Open("/admin/flags/search")
	rows := b.Eval(`[...document.querySelectorAll("#schedules-h + table tbody tr")].map(r => r.innerText.replace(/\s+/g, " ")).join("\n")`)
	lines := strings.Split(rows, "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "50% on") || !strings.Contains(lines[0], "pending") ||
		!strings.Contains(lines[1], "all on") || !strings.Contains(lines[1], "pending") ||
		!strings.Contains(lines[2], "10% on") || !strings.Contains(lines[2], "applied") {
		t.Errorf("the flag page's schedule after the first step:\n%s\nwant steps 2 and 3 pending, step 1 applied", rows)
	}
	if got := b.Eval(`document.querySelector('input[name^="fall.split."][data-variant="on"]').value`); got != "10" {
		t.Errorf("the flag form shows %q%% on, want 10", got)
	}
	b.Open("/admin/audit?flag=search")
	if entry := b.Text(".audit-entry"); !strings.Contains(entry, "scheduler") || !strings.Contains(entry, "scheduled by ada") {
		t.Errorf("the newest audit entry = %q, want the scheduler on behalf of ada", entry)
	}
	if f, _ := st.Flag(t.Context(), "search"); onPercent(f.Flag) != 10 {
		t.Errorf("the stored flag serves %v%% on, want 10", onPercent(f.Flag))
	}
}
