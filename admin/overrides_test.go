package admin

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// cookieEntries returns the override entries of the cookie a browser
// holds for the test server.
func (b *browser) cookieEntries() []flagonhttp.Entry {
	b.h.t.Helper()
	req, _ := http.NewRequest("GET", b.h.srv.URL+"/", nil)
	for _, c := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	es, err := flagonhttp.NewCodec(b.h.httpOpt).Read(req, b.h.client.Snapshot())
	if err != nil {
		b.h.t.Fatalf("read the override cookie: %v", err)
	}
	return es
}

// setCookie puts a signed override cookie holding entries in the jar.
func (b *browser) setCookie(entries ...flagonhttp.Entry) {
	b.h.t.Helper()
	v, err := flagonhttp.NewCodec(b.h.httpOpt).Encode(entries)
	if err != nil {
		b.h.t.Fatal(err)
	}
	u, _ := url.Parse(b.h.srv.URL + "/")
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: flagonhttp.DefaultCookieName, Value: v, Path: "/"}})
}

// home returns the demo page as this browser sees it.
func (b *browser) home() string {
	b.h.t.Helper()
	r := b.get("/")
	return r.body
}

func TestOverridesPageShowsFlags(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:viewer")
	r := b.get("/admin/overrides")
	mustContain(t, r.body,
		"<code>new-home-page</code>", "Expose the new home page", "owner web", `<span class="tag">launch</span>`, `<span class="type">bool</span>`,
		"<code>checkout</code>", `<span class="type">string</span>`, "Which checkout flow",
		`name="v.new-home-page" value="on"`, `name="v.new-home-page" value="off"`, `name="v.new-home-page" value="" checked`,
		`<select id="v-checkout" name="v.checkout"`, `<option value="express">express = express</option>`,
		"static: no rules: everyone gets off",
		"This flag may not be overridden.",
		`<option value="2592000" selected>30 days</option>`,
	)
	mustNotContain(t, r.body, `name="v.ops-maintenance"`)
}

func TestOverridesFilter(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:viewer")
	tests := []struct {
		query string
		want  []string
	}{
		{"q=checkout", []string{"checkout"}},
		{"q=EMAIL", []string{"use-new-email-service"}},
		{"q=home+page", []string{"new-home-page"}},
		{"tag=web", []string{"checkout", "new-home-page"}},
		{"owner=web", []string{"max-items", "new-home-page"}},
		{"tag=web&owner=payments", []string{"checkout"}},
		{"q=nothing-matches", nil},
	}
	for _, tt := range tests {
		r := b.get("/admin/overrides?" + tt.query)
		for _, key := range flagNames {
			want := false
			for _, w := range tt.want {
				want = want || w == key
			}
			got := strings.Contains(r.body, `data-flag="`+key+`"`)
			if got != want {
				t.Errorf("%s: row %s shown = %v, want %v", tt.query, key, got, want)
			}
		}
	}
	r := b.get("/admin/overrides?q=nothing-matches")
	mustContain(t, r.body, "No flags match.")
}

func TestSaveBrowserOverrides(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:viewer")
	if home := b.home(); !strings.Contains(home, "the old home page") {
		t.Fatalf("demo before: %s", home)
	}
	r := b.get("/admin/overrides?tag=web")
	form := formOf(t, r.body, "/overrides")
	form.Set("v.new-home-page", "on")
	form.Set("v.checkout", "express")
	form.Set("duration", "3600")
	r = b.post("/admin/overrides", form)
	if r.status != http.StatusSeeOther || r.location != "/admin/overrides?done=saved&tag=web" && r.location != "/admin/overrides?tag=web&done=saved" {
		t.Fatalf("save: %d to %q: %s", r.status, r.location, snippet(r.body))
	}
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == flagonhttp.DefaultCookieName {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Fatalf("override cookie = %+v", ck)
	}
	es := b.cookieEntries()
	if len(es) != 2 || es[0].Flag != "checkout" || es[0].Value != "express" || es[1].Flag != "new-home-page" || es[1].Value != true {
		t.Fatalf("cookie entries = %+v", es)
	}
	if d := es[1].ExpiresAt.Sub(es[1].SetAt); d != time.Hour {
		t.Errorf("override lasts %v, want 1h", d)
	}
	page := b.follow(r)
	mustContain(t, page.body, "Overrides saved.", "<strong>2</strong> overridden in this browser", "override: this browser",
		`name="v.new-home-page" value="on" checked`, `<option value="express" selected>`)
	home := b.home()
	mustContain(t, home, "the NEW home page", "checkout: express")

	// Saving again without changes keeps the entries as they were.
	form = formOf(t, page.body, "/overrides")
	form.Set("duration", "86400")
	r = b.post("/admin/overrides", form)
	if !strings.Contains(r.location, "done=nothing-to-do") {
		t.Errorf("unchanged save: to %q", r.location)
	}
	if es2 := b.cookieEntries(); len(es2) != 2 || !es2[1].ExpiresAt.Equal(es[1].ExpiresAt) {
		t.Errorf("an unchanged save rewrote the entries: %+v", es2)
	}

	// A filtered view leaves the hidden flags' overrides alone.
	r = b.get("/admin/overrides?q=home")
	form = formOf(t, r.body, "/overrides")
	form.Set("v.new-home-page", "")
	b.post("/admin/overrides", form)
	es = b.cookieEntries()
	if len(es) != 1 || es[0].Flag != "checkout" {
		t.Errorf("after setting new-home-page to Default in a filtered view: %+v", es)
	}
	mustContain(t, b.home(), "the old home page", "checkout: express")

	// Set it again, Remove checkout, then Clear all.
	r = b.get("/admin/overrides")
	form = formOf(t, r.body, "/overrides")
	form.Set("v.new-home-page", "on")
	form.Set("duration", "3600")
	if r = b.post("/admin/overrides", form); !strings.Contains(r.location, "done=saved") {
		t.Fatalf("save again: %d %q", r.status, r.location)
	}
	b.get("/admin/overrides")
	if r = b.post("/admin/overrides/remove", url.Values{"scope": {"browser"}, "flag": {"checkout"}}); !strings.Contains(r.location, "done=removed") {
		t.Fatalf("remove: %d %q", r.status, r.location)
	}
	b.get("/admin/overrides")
	if r = b.post("/admin/overrides/clear", url.Values{"scope": {"browser"}}); !strings.Contains(r.location, "done=cleared") {
		t.Fatalf("clear: %d %q", r.status, r.location)
	}

	// Each change to the cookie has its audit entry, newest first.
	entries, err := h.store.Audit(t.Context(), flagon.AuditQuery{Actor: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ action, target, before, after string }
	want := []entry{
		{"override.browser.remove", "new-home-page", "true", ""}, // Clear all
		{"override.browser.remove", "checkout", `"express"`, ""}, // Remove
		{"override.browser.set", "new-home-page", "", "true"},
		{"override.browser.remove", "new-home-page", "true", ""}, // Default
		{"override.browser.set", "new-home-page", "", "true"},    // the first save
		{"override.browser.set", "checkout", "", `"express"`},
	}
	var got []entry
	for _, e := range entries {
		got = append(got, entry{e.Action, e.Target, string(e.Before), string(e.After)})
		if e.Environment != "development" || e.Reason == "" {
			t.Errorf("entry %+v: want environment development and a reason", e)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit entries:\n got %q\nwant %q", got, want)
	}
	rev, err := h.store.Revision(t.Context())
	if err != nil || rev != entries[0].Revision {
		t.Errorf("store revision %d (%v), entries at %d: browser overrides should not bump it", rev, err, entries[0].Revision)
	}

	// The audit page shows them.
	r = b.get("/admin/audit?flag=checkout")
	mustContain(t, r.body, `<span class="action">override.browser.remove</span>`, `<span class="action">override.browser.set</span>`,
		`<code>checkout</code>`, "<strong>ann</strong>", "&#34;express&#34;")
	mustNotContain(t, r.body, "<code>new-home-page</code>")
}

func TestSaveOverridesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		set     map[string]string
		wantErr string
		field   string
	}{
		{"unknown variant", map[string]string{"v.checkout": "turbo"}, `&#34;turbo&#34; is not a variant of this flag.`, `id="err-checkout"`},
		{"policy none", map[string]string{"v.ops-maintenance": "on"}, "This flag may not be overridden.", `id="err-ops-maintenance"`},
		{"no duration", map[string]string{"v.new-home-page": "on", "duration": ""}, "Choose how long the overrides last.", `id="err-duration"`},
		{"duration too long", map[string]string{"v.new-home-page": "on", "duration": "999999999"}, "Choose how long the overrides last.", `id="err-duration"`},
		{"duration not a number", map[string]string{"v.new-home-page": "on", "duration": "soon"}, "Choose how long the overrides last.", `id="err-duration"`},
		{"keep value not a variant", map[string]string{"v.max-items": "17"}, "is not a variant", `id="err-max-items"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser("ann:viewer")
			r := b.get("/admin/overrides")
			form := formOf(t, r.body, "/overrides")
			// A good change beside the bad one.
			good, goodSel := "v.max-items", `<option value="many" selected>`
			form.Set(good, "many")
			if _, ok := tt.set[good]; ok {
				good, goodSel = "v.checkout", `<option value="express" selected>`
				form.Set(good, "express")
			}
			for k, v := range tt.set {
				form.Set(k, v)
			}
			r = b.post("/admin/overrides", form)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.status)
			}
			mustContain(t, r.body, tt.wantErr, tt.field, "Nothing was saved", goodSel) // the good change is still chosen
			if tt.name != "policy none" {
				mustContain(t, r.body, `aria-invalid="true"`)
			}
			if strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), flagonhttp.DefaultCookieName+"=") {
				t.Error("a refused save set the override cookie")
			}
			if es := b.cookieEntries(); len(es) != 0 {
				t.Errorf("cookie after a refused save: %+v", es)
			}
		})
	}
}

func TestPolicyMaxDuration(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	sf, _ := h.store.Flag(ctx, "max-items")
	f := sf.Flag
	f.Override = flagon.OverridePolicy{MaxDuration: 2 * time.Hour, Variants: []string{"many"}}
	if _, err := h.store.PutFlag(ctx, f, sf.Version, flagon.Change{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(func(s *flagon.Snapshot) bool { f, _ := s.Flag("max-items"); return f.Override.MaxDuration > 0 })
	b := h.browser("ann:viewer")
	r := b.get("/admin/overrides")
	mustNotContain(t, r.body, `<option value="few">`)
	form := formOf(t, r.body, "/overrides")
	form.Set("v.max-items", "many")
	// A day is longer than the policy allows: the override lasts the
	// policy's two hours, and the page says the duration was shortened.
	form.Set("duration", "86400")
	r = b.post("/admin/overrides", form)
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "done=saved-capped") {
		t.Fatalf("past the maximum: %d to %q: %s", r.status, r.location, snippet(r.body))
	}
	mustContain(t, b.follow(r).body, "they last as long as it allows")
	es := b.cookieEntries()
	if len(es) != 1 || es[0].Flag != "max-items" || es[0].ExpiresAt.Sub(es[0].SetAt) != 2*time.Hour {
		t.Fatalf("cookie entries = %+v, want max-items for 2h", es)
	}
	form.Set("v.max-items", "")
	if r = b.post("/admin/overrides", form); r.status != http.StatusSeeOther {
		t.Fatalf("remove: %d %s", r.status, snippet(r.body))
	}
	form.Set("v.max-items", "many")
	form.Set("duration", "3600")
	if r = b.post("/admin/overrides", form); r.status != http.StatusSeeOther || !strings.Contains(r.location, "done=saved&") && !strings.HasSuffix(r.location, "done=saved") {
		t.Fatalf("within the maximum: %d to %q %s", r.status, r.location, snippet(r.body))
	}
	form.Set("v.max-items", "few")
	if r = b.post("/admin/overrides", form); r.status != http.StatusBadRequest {
		t.Errorf("a variant outside the policy: status %d", r.status)
	}
}

func TestStaleOverrides(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:viewer")
	now := time.Now()
	b.setCookie(
		flagonhttp.Entry{Flag: "retired-flag", Value: true, SetAt: now.Add(-time.Hour)},
		flagonhttp.Entry{Flag: "new-home-page", Value: "yes", SetAt: now.Add(-time.Hour)},
		flagonhttp.Entry{Flag: "use-new-email-service", Value: true, SetAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		flagonhttp.Entry{Flag: "ops-maintenance", Value: true, SetAt: now.Add(-time.Hour)},
		flagonhttp.Entry{Flag: "max-items", Value: 50, SetAt: now.Add(-time.Hour)},
	)
	r := b.get("/admin/overrides")
	mustContain(t, r.body, `<section class="stale"`, "Stale overrides", `<span class="count">4</span>`,
		`flag &#34;retired-flag&#34; no longer exists`,
		`is not a bool value that flag &#34;new-home-page&#34; allows`,
		"expired ",
		`flag &#34;ops-maintenance&#34; may not be overridden`,
		"<strong>1</strong> overridden")
	mustNotContain(t, r.body, `<tr class="stale-row" data-flag="max-items">`)

	// Saving keeps the stale entries (they are listed until removed) and
	// drops the expired one.
	form := formOf(t, r.body, "/overrides")
	form.Set("v.checkout", "classic")
	b.post("/admin/overrides", form)
	got := map[string]flagonhttp.EntryStatus{}
	for _, e := range b.cookieEntries() {
		got[e.Flag] = e.Status
	}
	want := map[string]flagonhttp.EntryStatus{"retired-flag": flagonhttp.EntryStale, "new-home-page": flagonhttp.EntryInvalid,
		"ops-maintenance": flagonhttp.EntryRefused, "max-items": flagonhttp.EntryActive, "checkout": flagonhttp.EntryActive}
	if len(got) != len(want) {
		t.Errorf("entries after a save = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("entry %s: %q, want %q", k, got[k], v)
		}
	}

	// Remove one.
	r = b.get("/admin/overrides")
	form = formOf(t, r.body, "/overrides/remove")
	if form.Get("flag") != "new-home-page" {
		t.Fatalf("first Remove form is for %q", form.Get("flag"))
	}
	r = b.post("/admin/overrides/remove", form)
	if !strings.Contains(r.location, "done=removed") {
		t.Fatalf("remove: %d %q", r.status, r.location)
	}
	for _, e := range b.cookieEntries() {
		if e.Flag == "new-home-page" {
			t.Error("new-home-page still in the cookie after Remove")
		}
	}
	page := b.follow(r)
	mustContain(t, page.body, "Override removed.", `<span class="count">2</span>`)

	// Clear all deletes the cookie.
	r = b.post("/admin/overrides/clear", formOf(t, page.body, "/overrides/clear"))
	deleted := false
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		deleted = deleted || c.Name == flagonhttp.DefaultCookieName && c.MaxAge < 0
	}
	if !deleted {
		t.Error("Clear all did not delete the cookie")
	}
	page = b.follow(r)
	mustContain(t, page.body, "All overrides cleared.")
	mustNotContain(t, page.body, `class="stale"`)
}

func TestStaleWhenDefaultChanged(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:viewer")
	r := b.get("/admin/overrides")
	form := formOf(t, r.body, "/overrides")
	form.Set("v.max-items", "many")
	b.post("/admin/overrides", form)

	ctx := context.Background()
	sf, _ := h.store.Flag(ctx, "max-items")
	f := sf.Flag
	f.Default = "many"
	if _, err := h.store.PutFlag(ctx, f, sf.Version, flagon.Change{Actor: "lee"}); err != nil {
		t.Fatal(err)
	}
	r = b.get("/admin/overrides")
	mustContain(t, r.body, `<tr class="stale-row" data-flag="max-items">`, "the flag&#39;s default changed from few to many", "by lee", "still applies")
}

func TestForgedCookie(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:viewer")
	u, _ := url.Parse(h.srv.URL + "/")
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: flagonhttp.DefaultCookieName, Value: "1.t1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Path: "/"}})
	r := b.get("/admin/overrides")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mustContain(t, r.body, "could not be read", "saving replaces it")
	form := formOf(t, r.body, "/overrides")
	form.Set("v.new-home-page", "on")
	b.post("/admin/overrides", form)
	if es := b.cookieEntries(); len(es) != 1 {
		t.Errorf("after saving over a forged cookie: %+v", es)
	}
}

func TestLoginOverrides(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:viewer")
	r := b.get("/admin/overrides?scope=login")
	mustContain(t, r.body, "follow <strong>your login (ann)</strong>", `<a href="/admin/overrides?scope=login" aria-current="page">`, "Save for my login")
	form := formOf(t, r.body, "/overrides")
	if form.Get("scope") != "login" {
		t.Fatalf("scope = %q", form.Get("scope"))
	}
	form.Set("v.new-home-page", "on")
	r = b.post("/admin/overrides", form)
	if !strings.Contains(r.location, "scope=login") {
		t.Errorf("redirect %q leaves the login tab", r.location)
	}
	m, err := h.store.UserOverrides(context.Background(), "ann")
	if err != nil || m["new-home-page"].Value != true {
		t.Fatalf("stored = %v, %v", m, err)
	}
	if es := b.cookieEntries(); len(es) != 0 {
		t.Errorf("a login override went into the cookie: %+v", es)
	}
	// It follows ann to another browser (the demo identifies her by the
	// same header), and shows on both tabs' "you get now".
	other := h.browser("ann:viewer")
	mustContain(t, other.home(), "the NEW home page")
	page := other.get("/admin/overrides")
	mustContain(t, page.body, "override: your login")
	entries, _ := h.store.Audit(context.Background(), flagon.AuditQuery{Actor: "ann"})
	if len(entries) == 0 || entries[0].Action != "override.set" {
		t.Errorf("audit = %+v", entries)
	}

	// The cookie wins over the login.
	form = formOf(t, page.body, "/overrides")
	form.Set("v.new-home-page", "off")
	other.post("/admin/overrides", form)
	mustContain(t, other.home(), "the old home page")
	mustContain(t, b.home(), "the NEW home page")

	// Remove and clear.
	page = b.get("/admin/overrides?scope=login")
	form = formOf(t, page.body, "/overrides")
	form.Set("v.checkout", "express")
	b.post("/admin/overrides", form)
	b.post("/admin/overrides/remove", url.Values{"scope": {"login"}, "flag": {"checkout"}})
	m, _ = h.store.UserOverrides(context.Background(), "ann")
	if _, ok := m["checkout"]; ok || len(m) != 1 {
		t.Errorf("after remove: %v", m)
	}
	b.post("/admin/overrides/clear", url.Values{"scope": {"login"}})
	if m, _ = h.store.UserOverrides(context.Background(), "ann"); len(m) != 0 {
		t.Errorf("after clear: %v", m)
	}
}

func TestLoginOverridesReadOnly(t *testing.T) {
	h := newHarness(t, harnessOptions{readOnly: true})
	b := h.browser("ann:viewer")
	r := b.get("/admin/overrides?scope=login")
	mustContain(t, r.body, "Read-only.", "Overrides for your login need a store: flags come from the config file flags.yaml; edit it and it reloads.")
	mustNotContain(t, r.body, `name="v.new-home-page"`)
	r = b.post("/admin/overrides", url.Values{"scope": {"login"}, "v.new-home-page": {"on"}, "duration": {"3600"}})
	if r.status != http.StatusConflict {
		t.Errorf("POST: %d", r.status)
	}
	// The browser tab works without a store.
	r = b.get("/admin/overrides")
	form := formOf(t, r.body, "/overrides")
	form.Set("v.new-home-page", "on")
	if r = b.post("/admin/overrides", form); r.status != http.StatusSeeOther {
		t.Errorf("browser override without a store: %d", r.status)
	}
}

func TestUsersPage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ann:admin")
	r := b.get("/admin/users")
	mustContain(t, r.body, "No per-login overrides", `<optgroup label="checkout">`, `<option value="checkout:express">`)
	mustNotContain(t, r.body, `<optgroup label="ops-maintenance">`)

	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no user", map[string]string{"user": " "}, "Enter the user&#39;s name"},
		{"no pick", map[string]string{"pick": ""}, "Choose a flag and a value."},
		{"unknown variant", map[string]string{"pick": "checkout:turbo"}, "Choose a flag and a value."},
		{"unknown flag", map[string]string{"pick": "gone:on"}, "Choose a flag and a value."},
		{"policy none", map[string]string{"pick": "ops-maintenance:on"}, "This flag may not be overridden."},
		{"bad duration", map[string]string{"duration": "-5"}, "Choose a duration."},
	}
	for _, tt := range tests {
		form := url.Values{"user": {"lee"}, "pick": {"checkout:express"}, "duration": {"3600"}}
		for k, v := range tt.set {
			form.Set(k, v)
		}
		r := b.post("/admin/users/set", form)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d", tt.name, r.status)
			continue
		}
		mustContain(t, r.body, tt.want, "Nothing was saved", `aria-invalid="true"`)
	}
	if all, _ := h.store.AllUserOverrides(context.Background()); len(all) != 0 {
		t.Fatalf("refused forms saved %v", all)
	}

	r = b.post("/admin/users/set", url.Values{"user": {"lee"}, "pick": {"checkout:express"}, "duration": {"3600"}})
	if !strings.Contains(r.location, "done=user-saved") {
		t.Fatalf("set: %d %q %s", r.status, r.location, snippet(r.body))
	}
	page := b.follow(r)
	mustContain(t, page.body, "<td>lee</td>", "<code>checkout</code>", `users?user=lee&amp;pick=checkout%3aexpress`)
	// Change it.
	b.post("/admin/users/set", url.Values{"user": {"lee"}, "pick": {"checkout:classic"}, "duration": {"3600"}})
	m, _ := h.store.UserOverrides(context.Background(), "lee")
	if m["checkout"].Value != "classic" {
		t.Errorf("after change: %v", m)
	}
	page = b.get("/admin/users?filter=LE")
	mustContain(t, page.body, "<td>lee</td>")
	page = b.get("/admin/users?filter=zed")
	mustNotContain(t, page.body, "<td>lee</td>")
	// Revoke it.
	r = b.post("/admin/users/revoke", url.Values{"user": {"lee"}, "flag": {"checkout"}})
	if !strings.Contains(r.location, "done=user-revoked") {
		t.Fatalf("revoke: %d %q", r.status, r.location)
	}
	if m, _ = h.store.UserOverrides(context.Background(), "lee"); len(m) != 0 {
		t.Errorf("after revoke: %v", m)
	}
}
