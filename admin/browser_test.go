package admin

// The browser tests drive Debian's chromium, headless, through chromedp:
// the executable named by FLAGON_TEST_CHROMIUM, else /usr/bin/chromium.
// Without either they skip (CI installs chromium, so there they run).
//
// With FLAGON_SCREENSHOTS=1 they also write screenshots of every page, in
// the light and the dark theme, into docs/screenshots/:
//
//	FLAGON_SCREENSHOTS=1 go test -run Browser ./admin/

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
	"github.com/flagon/flagon/internal/browsertest"
)

const testPassword = "correct horse battery"

// chrome is one headless browser on one harness.
type chrome struct {
	*browsertest.Browser
	t *testing.T
	h *harness
}

// newChrome starts a browser with its own profile for h, signed out.
func newChrome(t *testing.T, h *harness) *chrome {
	t.Helper()
	return &chrome{Browser: browsertest.Start(t, h.srv.URL), t: t, h: h}
}

// signIn signs in through the password page, typing into it.
func (c *chrome) signIn(name string) {
	c.t.Helper()
	c.Open("/admin/")
	c.Do("fill the sign-in form",
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
	)
	c.Submit("sign in", chromedp.Click(chromedp.CSS(`form[action$="signin"] button[type=submit]`)))
	if got := c.Text("h1"); got != "Overrides" {
		c.t.Fatalf("after sign-in the page is %q, want the overrides page", got)
	}
}

// tabTo presses Tab until the focused element satisfies the JavaScript
// predicate (about the variable el), as someone without a mouse would.
func (c *chrome) tabTo(predicate string) {
	c.t.Helper()
	check := fmt.Sprintf(`(function(el){ return el ? !!(%s) : false })(document.activeElement) ? "yes" : "no"`, predicate)
	for range 120 {
		if c.Eval(check) == "yes" {
			return
		}
		c.Do("press Tab", chromedp.KeyEvent(kb.Tab))
	}
	c.t.Fatalf("Tab never reached an element where %s", predicate)
}

// key presses keys on the focused element.
func (c *chrome) key(keys string) {
	c.t.Helper()
	c.Do("press keys", chromedp.KeyEvent(keys))
}

// setCookie puts a cookie in the browser for the test server.
func (c *chrome) setCookie(name, value string) {
	c.t.Helper()
	httpOnly := true
	c.Do("set cookie", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{
			Name: name, Value: value, URL: c.h.srv.URL + "/", Path: "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax,
		})
		return err
	}))
}

// theme makes the browser prefer the dark or the light color scheme.
func (c *chrome) theme(dark bool) {
	c.t.Helper()
	v := "light"
	if dark {
		v = "dark"
	}
	c.Do("emulate "+v, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}, {Name: "prefers-reduced-motion", Value: "reduce"}},
		})
		return err
	}))
}

// screenshotsWanted reports whether the tests write screenshots.
func screenshotsWanted() bool { return os.Getenv("FLAGON_SCREENSHOTS") != "" }

// The widths every page of the tour is checked at: a desktop and a phone.
const (
	desktopWidth = 1280
	phoneWidth   = 390
)

// shot writes a screenshot of the page at the desktop width, in both
// themes, when FLAGON_SCREENSHOTS is set.
func (c *chrome) shot(name string) {
	c.t.Helper()
	c.shotAt(name, desktopWidth)
}

// shotPhone writes a screenshot of the page at a phone's width, in both
// themes, as name-phone-light.png and name-phone-dark.png.
func (c *chrome) shotPhone(name string) {
	c.t.Helper()
	c.shotAt(name+"-phone", phoneWidth)
}

func (c *chrome) shotAt(name string, width int64) {
	c.t.Helper()
	if !screenshotsWanted() {
		return
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	// A sticky header lands mid-page in a full-page shot of a scrolled
	// page: go to the top first.
	c.Eval(`window.scrollTo(0, 0), ""`)
	for _, dark := range []bool{false, true} {
		c.theme(dark)
		// A full-page capture draws sticky bars where the viewport was;
		// a viewport as tall as the page keeps them at the top. The page
		// is measured at the width it is shot at.
		c.Do("set the width", chromedp.EmulateViewport(width, 800))
		height, _ := strconv.ParseInt(c.Eval(`String(document.documentElement.scrollHeight)`), 10, 64)
		c.Do("grow the viewport", chromedp.EmulateViewport(width, max(height, 800)))
		png, err := chromedp.Run(c.Context(), chromedp.CaptureScreenshot())
		if err != nil {
			c.t.Fatalf("screenshot %s: %v", name, err)
		}
		c.Do("restore the viewport", chromedp.EmulateReset())
		file := name + "-light.png"
		if dark {
			file = name + "-dark.png"
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	c.theme(false)
}

// fits fails the test when the page scrolls sideways at the desktop or
// the phone width, naming the elements that stick out.
func (c *chrome) fits(name string) {
	c.t.Helper()
	for _, width := range []int64{desktopWidth, phoneWidth} {
		c.Do("set the width", chromedp.EmulateViewport(width, 844))
		got := c.Eval(`(() => {
			const root = document.documentElement;
			if (root.scrollWidth <= window.innerWidth) return "";
			const out = [];
			for (const el of document.querySelectorAll("body *")) {
				const r = el.getBoundingClientRect();
				let clipped = false;
				for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
					if (getComputedStyle(a).overflowX !== "visible") clipped = true;
				}
				if (!clipped && r.right > window.innerWidth + 1 && r.width > 0 && !el.closest(".visually-hidden")) {
					out.push(el.tagName.toLowerCase() + (el.className ? "." + String(el.className).trim().split(/\s+/).join(".") : "") + " (right " + Math.round(r.right) + ")");
				}
			}
			return root.scrollWidth + "px wide; sticking out: " + out.slice(0, 6).join(", ");
		})()`)
		c.Do("restore the viewport", chromedp.EmulateReset())
		if got != "" {
			c.t.Errorf("%s at %dpx scrolls sideways: %s", name, width, got)
		}
	}
}

// passwordHarness is a harness whose console signs in with a password.
func passwordHarness(t *testing.T, ho harnessOptions) *harness {
	t.Helper()
	auth, err := NewPasswordAuth(testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	ho.authorize, ho.signIn = auth.Authorize, auth
	return newHarness(t, ho)
}

// TestBrowserOverrideOn chooses On for a flag, saves, and sees the example
// page change.
func TestBrowserOverrideOn(t *testing.T) {
	h := passwordHarness(t, harnessOptions{})
	c := newChrome(t, h)
	c.Open("/")
	if got := c.Text("#home"); got != "the old home page" {
		t.Fatalf("before: %q", got)
	}
	c.signIn("ann")
	c.Do("choose On", chromedp.Click(chromedp.CSS(`input[name="v.new-home-page"][value="on"]`)))
	c.Submit("save", chromedp.Click(chromedp.CSS(`#overrides-form button[type=submit]`)))
	if got := c.Text(".flash"); got != "Overrides saved." {
		t.Errorf("flash = %q", got)
	}
	if !c.Has(`tr.overridden[data-flag="new-home-page"]`) {
		t.Error("the row is not marked overridden")
	}
	if got := c.Text(`[data-now="new-home-page"]`); got != "true" {
		t.Errorf("the page says this browser gets %q", got)
	}
	c.Open("/")
	if got := c.Text("#home"); got != "the NEW home page" {
		t.Fatalf("after: %q", got)
	}
	// Default clears it again.
	c.Open("/admin/overrides")
	c.Do("choose Default", chromedp.Click(chromedp.CSS(`input[name="v.new-home-page"][value=""]`)))
	c.Submit("save", chromedp.Click(chromedp.CSS(`#overrides-form button[type=submit]`)))
	c.Open("/")
	if got := c.Text("#home"); got != "the old home page" {
		t.Fatalf("after Default: %q", got)
	}
}

// TestBrowserStaleOverride shows stale overrides highlighted and removes
// them.
func TestBrowserStaleOverride(t *testing.T) {
	h := passwordHarness(t, harnessOptions{})
	c := newChrome(t, h)
	c.signIn("ann")
	codec := flagonhttp.NewCodec(h.httpOpt)
	now := time.Now()
	v, err := codec.Encode([]flagonhttp.Entry{
		{Flag: "retired-flag", Value: true, SetAt: now.Add(-time.Hour)},
		{Flag: "new-home-page", Value: "yes", SetAt: now.Add(-time.Hour)},
		{Flag: "use-new-email-service", Value: true, SetAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-24 * time.Hour)},
		{Flag: "max-items", Value: 50, SetAt: now.Add(-time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.setCookie(flagonhttp.DefaultCookieName, v)
	c.Open("/admin/overrides")
	c.Do("see the stale section", chromedp.WaitVisible(chromedp.ID("stale")))
	for _, key := range []string{"retired-flag", "new-home-page", "use-new-email-service"} {
		if !c.Has(fmt.Sprintf(`#stale tr[data-flag=%q]`, key)) {
			t.Errorf("%s is not listed as stale", key)
		}
	}
	if c.Has(`#stale tr[data-flag="max-items"]`) {
		t.Error("an active override is listed as stale")
	}
	bg := c.Eval(`getComputedStyle(document.getElementById("stale")).backgroundColor`)
	page := c.Eval(`getComputedStyle(document.body).backgroundColor`)
	if bg == page || bg == "rgba(0, 0, 0, 0)" {
		t.Errorf("the stale section is not highlighted: background %s on %s", bg, page)
	}
	c.shot("overrides-stale")

	c.Submit("remove", chromedp.Click(chromedp.CSS(`#stale tr[data-flag="retired-flag"] button`)))
	if got := c.Text(".flash"); got != "Override removed." {
		t.Errorf("flash = %q", got)
	}
	if c.Has(`#stale tr[data-flag="retired-flag"]`) {
		t.Error("retired-flag is still listed after Remove")
	}
	if !c.Has(`#stale tr[data-flag="new-home-page"]`) {
		t.Error("Remove removed the other stale entries too")
	}
	if got := c.Text(`[data-now="max-items"]`); got != "50" {
		t.Errorf("max-items after Remove = %q, want the override kept", got)
	}
	c.Submit("clear all", chromedp.Click(chromedp.CSS(`.clear-all button`)))
	if c.Has("#stale") {
		t.Error("stale section still shown after Clear all")
	}
	if got := c.Text(`[data-now="max-items"]`); got != "10" {
		t.Errorf("max-items after Clear all = %q, want the default", got)
	}
}

// TestBrowserRollout edits a rollout in the flag editor and sees the
// example page follow it.
func TestBrowserRollout(t *testing.T) {
	h := passwordHarness(t, harnessOptions{})
	c := newChrome(t, h)
	c.Open("/")
	before := strings.TrimPrefix(c.Text("#checkout"), "checkout: ")
	want, other := "express", "classic"
	if before == "express" {
		want, other = "classic", "express"
	}
	c.signIn("ann")
	c.Open("/admin/flags/checkout")
	pct := func(variant string) string {
		return fmt.Sprintf(`input[name^="fall.split."][data-variant=%q]`, variant)
	}
	c.Do("edit the rollout",
		chromedp.SetValue(chromedp.CSS(pct(want)), "100"),
		chromedp.SetValue(chromedp.CSS(pct(other)), "0"),
		chromedp.SendKeys(chromedp.ID("reason"), "roll out "+want+" to everyone"),
	)
	c.shot("flag-edit")
	c.Submit("save the flag", chromedp.Click(chromedp.CSS(`.save button[type=submit]`)))
	if got := c.Text(".flash"); got != "Flag saved." {
		t.Fatalf("flash = %q; page: %s", got, c.Text("main"))
	}
	h.waitFor(func(s *flagon.Snapshot) bool {
		f, _ := s.Flag("checkout")
		return len(f.Fallthrough.Split) > 0 && f.Fallthrough.Split[0].Percent != 10
	})
	c.Open("/")
	if got := c.Text("#checkout"); got != "checkout: "+want {
		t.Errorf("after the edit the page shows %q, want %s", got, want)
	}
	c.Open("/admin/audit?flag=checkout")
	if got := c.Text(".audit-entry"); !strings.Contains(got, "ann") || !strings.Contains(got, "flag.update") || !strings.Contains(got, "roll out") {
		t.Errorf("audit entry = %q", got)
	}
	// The entry lists the two percentages that changed, and nothing else.
	changes := c.Eval(`Array.from(document.querySelectorAll(".audit-entry:first-child .chg")).map(li => li.innerText.replace(/\s+/g, " ").trim()).join("\n")`)
	lines := strings.Split(changes, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "fallthrough.split[0].percent") || !strings.HasPrefix(lines[1], "fallthrough.split[1].percent") {
		t.Errorf("the audit entry lists these changes:\n%s\nwant the two percentages", changes)
	}
}

// formState returns every control of the flag editor as name=value lines
// (unchecked boxes and radios as name=), less the form token.
func (c *chrome) formState() string {
	c.t.Helper()
	return c.Eval(`Array.from(document.querySelectorAll("form.flag-form [name]")).filter(e => e.name !== "csrf").map(e => e.name + "=" + ((e.type === "checkbox" || e.type === "radio") ? (e.checked ? e.value : "") : e.value)).join("\n")`)
}

// TestBrowserRefusedForm saves a flag whose rollout adds up to 90 three
// times: each time nothing is saved, the form comes back unchanged (as
// many rows, the same values) and the error sits beside the rollout.
func TestBrowserRefusedForm(t *testing.T) {
	h := passwordHarness(t, harnessOptions{})
	before := h.stored("checkout")
	c := newChrome(t, h)
	c.Allow("the server responded with a status of 400")
	c.signIn("ann")
	c.Open("/admin/flags/checkout")
	pct := func(variant string) string {
		return fmt.Sprintf(`input[name^="fall.split."][data-variant=%q]`, variant)
	}
	c.Do("break the rollout",
		chromedp.SetValue(chromedp.CSS(pct("express")), "10"),
		chromedp.SetValue(chromedp.CSS(pct("classic")), "80"),
		chromedp.SetValue(chromedp.ID("description"), "kept as typed"),
	)
	sent := c.formState()
	rows := c.Eval(`String(document.querySelectorAll(".variants tbody tr").length) + " variant rows, " + document.querySelectorAll("fieldset.rule").length + " rules"`)
	for i := range 3 {
		if status := c.Submit("save", chromedp.Click(chromedp.CSS(`.save button[type=submit]`))); status != 400 {
			t.Fatalf("save %d: status %d, want 400", i+1, status)
		}
		if got := c.Eval(`String(document.querySelectorAll(".variants tbody tr").length) + " variant rows, " + document.querySelectorAll("fieldset.rule").length + " rules"`); got != rows {
			t.Errorf("save %d: %s, want %s", i+1, got, rows)
		}
		if got := c.formState(); got != sent {
			t.Errorf("save %d: the form came back changed:\n%s\nwant\n%s", i+1, got, sent)
		}
		// The server's message, not the script's running total.
		if got := c.Eval(`Array.from(document.querySelectorAll('fieldset.split[aria-invalid="true"] > p.field-error:not([data-split-total])')).map(p => p.textContent).join(" | ")`); got != "percentages add up to 90, not 100" {
			t.Errorf("save %d: the rollout's error = %q", i+1, got)
		}
	}
	if after := h.stored("checkout"); after.Version != before.Version {
		t.Errorf("a refused form saved version %d", after.Version)
	}
}

// TestBrowserKillUndo kills a flag from the list with one click, then
// undoes it from the flash: the flag is back as before.
func TestBrowserKillUndo(t *testing.T) {
	h := passwordHarness(t, harnessOptions{})
	before := h.stored("checkout")
	c := newChrome(t, h)
	c.signIn("ann")
	c.Open("/admin/flags")
	c.Submit("kill", chromedp.Click(chromedp.CSS(`button[aria-label="Kill checkout"]`)))
	if got := c.Text(".flash"); !strings.Contains(got, "Kill switch on") {
		t.Fatalf("flash = %q", got)
	}
	if got := c.Eval(`document.querySelector('tr[data-flag="checkout"] .badge').textContent`); got != "killed" {
		t.Errorf("after the kill the row says %q", got)
	}
	h.waitFor(func(s *flagon.Snapshot) bool { f, _ := s.Flag("checkout"); return f.Disabled })
	c.Submit("undo", chromedp.Click(chromedp.CSS(`.flash .undo button`)))
	if got := c.Text(".flash"); got != "Undone: the kill switch is back as it was." {
		t.Errorf("flash after undo = %q", got)
	}
	if got := c.Eval(`document.querySelector('tr[data-flag="checkout"] .badge').textContent`); got != "live" {
		t.Errorf("after the undo the row says %q", got)
	}
	if c.Has(".flash .undo") {
		t.Error("an undo offers to undo itself")
	}
	after := h.stored("checkout")
	if !reflect.DeepEqual(after.Flag.Normalize(), before.Flag.Normalize()) {
		t.Errorf("after undo the flag is %+v, want %+v", after.Flag, before.Flag)
	}
	h.waitFor(func(s *flagon.Snapshot) bool { f, _ := s.Flag("checkout"); return !f.Disabled })
}

// TestBrowserKeyboard completes forms with the keyboard alone: sign-in,
// an override, and a new flag.
func TestBrowserKeyboard(t *testing.T) {
	h := passwordHarness(t, harnessOptions{})
	c := newChrome(t, h)
	c.Open("/admin/")
	c.tabTo(`el.id === "name"`)
	c.key("kim")
	c.tabTo(`el.id === "password"`)
	c.key(testPassword)
	c.Submit("sign in with Enter", chromedp.KeyEvent(kb.Enter))
	if got := c.Text(".user"); !strings.HasPrefix(got, "kim") {
		t.Fatalf("signed in as %q", got)
	}

	// An override: Tab into the radio group, arrows to On, Space on Save.
	c.tabTo(`el.name === "v.new-home-page"`)
	c.key(kb.ArrowLeft + kb.ArrowLeft)
	if got := c.Eval(`document.querySelector('input[name="v.new-home-page"]:checked').value`); got != "on" {
		t.Fatalf("arrows chose %q, want on", got)
	}
	c.tabTo(`el.matches("#overrides-form button[type=submit]")`)
	c.Submit("save with Space", chromedp.KeyEvent(" "))
	c.Open("/")
	if got := c.Text("#home"); got != "the NEW home page" {
		t.Fatalf("after the keyboard override: %q", got)
	}

	// A new flag, killed with Space, created with Enter.
	c.Open("/admin/flags/new")
	c.tabTo(`el.id === "key"`)
	c.key("keyboard-flag")
	c.tabTo(`el.id === "description"`)
	c.key("Made with the keyboard")
	c.tabTo(`el.name === "disabled"`)
	c.key(" ")
	c.tabTo(`el.id === "reason"`)
	c.key("keyboard test")
	c.Submit("create with Enter", chromedp.KeyEvent(kb.Enter))
	if got := c.Text(".flash"); got != "Flag created." {
		t.Fatalf("flash = %q; page: %s", got, c.Text("main"))
	}
	sf, err := h.store.Flag(context.Background(), "keyboard-flag")
	if err != nil {
		t.Fatal(err)
	}
	if !sf.Disabled || sf.Description != "Made with the keyboard" {
		t.Errorf("stored flag = %+v", sf.Flag)
	}
}

// TestBrowserTour opens every page in both themes, checks that it renders
// without script errors and with the theme applied, and takes the
// screenshots.
func TestBrowserTour(t *testing.T) {
	h := passwordHarness(t, harnessOptions{usage: true})
	ctx := context.Background()
	now := time.Now()
	seedUsage(t, h, now)
	ch := flagon.Change{Actor: "lee", Reason: "beta testers"}
	for _, u := range []string{"lee", "sam"} {
		if err := h.store.SetUserOverride(ctx, flagonhttp.UserOverride{User: u, Flag: "new-home-page", Override: flagon.Override{Value: true, SetAt: now, ExpiresAt: now.Add(72 * time.Hour)}}, ch); err != nil {
			t.Fatal(err)
		}
	}
	_, rec, err := flagonhttp.MintShareToken(testKeys, "checkout", "express", 24*time.Hour, now.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rec.CreatedBy = "lee"
	if err := h.store.CreateShareToken(ctx, rec, ch); err != nil {
		t.Fatal(err)
	}
	sf, _ := h.store.Flag(ctx, "new-home-page")
	f := sf.Flag
	f.Fallthrough = flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 25}, {Variant: "off", Percent: 75}}}
	f.Rules = []flagon.Rule{{ID: "staff", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}
	if _, err := h.store.PutFlag(ctx, f, sf.Version, flagon.Change{Actor: "lee", Reason: "start the rollout at 25%"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(func(s *flagon.Snapshot) bool { f, _ := s.Flag("new-home-page"); return len(f.Rules) == 1 })

	c := newChrome(t, h)
	c.Open("/admin/")
	c.Do("sign-in page", chromedp.WaitVisible(chromedp.ID("password")))
	c.fits("the sign-in page")
	c.shot("signin")
	c.shotPhone("signin")
	// The footer sits at the foot of the window, not under the card.
	if gap := c.Eval(`String(Math.round(window.innerHeight - document.querySelector(".foot").getBoundingClientRect().bottom))`); gap != "0" {
		t.Errorf("the sign-in page's footer ends %spx above the bottom of the window", gap)
	}
	c.signIn("ann")
	c.Do("choose an override", chromedp.Click(chromedp.CSS(`input[name="v.use-new-email-service"][value="on"]`)))
	c.Submit("save", chromedp.Click(chromedp.CSS(`#overrides-form button[type=submit]`)))
	if got := c.Text(".flash"); got != "Overrides saved." {
		t.Errorf("flash = %q; page: %s", got, c.Text("main"))
	}

	pages := []struct {
		path, name, h1 string
		phone          bool // a phone-width screenshot too
	}{
		{"/admin/overrides", "overrides", "Overrides", true},
		{"/admin/flags", "flags", "Flags", true},
		{"/admin/flags/new-home-page", "flag", "new-home-page", true},
		{"/admin/audiences", "audiences", "Audiences", false},
		{"/admin/share", "share", "Share links", false},
		{"/admin/users", "users", "Users' overrides", false},
		{"/admin/explain?key=user-42&attrs=is_staff+%3D+false%0Acountry+%3D+NL&overrides=1", "explain", "Explain", false},
		{"/admin/audit", "audit", "Audit log", true},
		{"/admin/removable", "removable", "Ready to remove", true},
		{"/admin/no-such-page", "404", "Not found", true},
	}
	// The 404 page is visited on purpose.
	c.Allow("the server responded with a status of 404")
	for _, p := range pages {
		c.Open(p.path)
		c.fits(p.path)
		if got := c.Text("h1"); !strings.Contains(got, p.h1) {
			t.Errorf("%s: h1 = %q", p.path, got)
		}
		for _, dark := range []bool{false, true} {
			c.theme(dark)
			bg := c.Eval(`getComputedStyle(document.body).backgroundColor`)
			if isDark := darkColor(bg); isDark != dark {
				t.Errorf("%s: dark=%v but the background is %s", p.path, dark, bg)
			}
		}
		c.theme(false)
		c.shot(p.name)
		if p.phone {
			c.shotPhone(p.name)
		}
	}
	// The 404 page says so once.
	c.Open("/admin/no-such-page")
	if n := c.Eval(`String((document.querySelector("main").innerText.match(/not found/gi) || []).length)`); n != "1" {
		t.Errorf("the 404 page says \"not found\" %s times: %q", n, c.Text("main"))
	}

	// The explain page opens on its form, filled in, with no result and
	// no error; sending it explains, with the evaluator's own steps.
	c.Open("/admin/explain")
	if main := c.Text("main"); !strings.Contains(main, "Filled in as") || strings.Contains(main, "TARGETING_KEY_MISSING") ||
		c.Eval(`String(document.querySelectorAll("tr[data-flag]").length)`) != "0" {
		t.Errorf("explain opens on: %s", main)
	}
	if st := c.Submit("explain", chromedp.Click(chromedp.CSS(`form.explain-form button[type=submit]`))); st != 200 {
		t.Errorf("explain: status %d", st)
	}
	c.Eval(`(document.querySelector('tr[data-flag="checkout"] details.steps').open = true) && ""`)
	if got := c.Text(`tr[data-flag="checkout"] details.steps`); !strings.Contains(got, "rule 1 (staff-first) skipped") || !strings.Contains(got, "is in bucket") {
		t.Errorf("checkout's steps: %q", got)
	}
	c.Open("/admin/overrides")
	if got := c.Text(".evaluated-as"); !strings.Contains(got, "Flags evaluated as visitor-1") {
		t.Errorf("overrides page: %q", got)
	}

	// The theme toggle overrides the system preference.
	c.Open("/admin/flags")
	// With script the select applies itself on change (the Apply button
	// is for browsers without script).
	c.Submit("choose dark", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(s => { s.value = "dark"; s.dispatchEvent(new Event("change")); return true })(document.getElementById("theme-select"))`)(ctx, t)
		return err
	}))
	if got := c.Eval(`document.documentElement.dataset.theme || ""`); got != "dark" {
		t.Errorf("after choosing dark, data-theme = %q", got)
	}
	if bg := c.Eval(`getComputedStyle(document.body).backgroundColor`); !darkColor(bg) {
		t.Errorf("dark theme chosen under a light system, but the background is %s", bg)
	}

	// A share link minted in the console works in the browser.
	c.Open("/admin/share")
	c.Do("pick", chromedp.SetValue(chromedp.ID("s-pick"), "max-items:many"))
	c.Submit("mint", chromedp.Click(chromedp.CSS(`form[action$="share"] button[type=submit]`)))
	link := c.Eval(`document.getElementById("minted-link").value`)
	if !strings.Contains(link, "/features/max-items?") {
		t.Fatalf("minted link = %q", link)
	}
	c.Do("open the share link", chromedp.Navigate(link))
	if got := c.Text("#items"); got != "items: 50" {
		t.Errorf("after the share link: %q", got)
	}
}

// darkColor reports whether a CSS rgb() color is dark.
func darkColor(css string) bool {
	var r, g, b int
	if _, err := fmt.Sscanf(css, "rgb(%d, %d, %d)", &r, &g, &b); err != nil {
		return false
	}
	return r+g+b < 3*128
}
