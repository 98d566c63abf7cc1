package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/internal/jsondiff"
)

var mintedRe = regexp.MustCompile(`id="minted-link" type="text" readonly value="([^"]+)"`)

func TestShareLinks(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ed := h.browser("ed:editor")
	r := ed.get("/admin/share")
	mustContain(t, r.body, "No links yet.", `<optgroup label="max-items">`)
	form := formOf(t, r.body, "/share")
	form.Set("pick", "max-items:many")
	form.Set("duration", "3600")
	form.Set("redirect", "/shop")
	r = ed.post("/admin/share", form)
	if r.status != http.StatusOK {
		t.Fatalf("mint: %d %s", r.status, snippet(r.body))
	}
	m := mintedRe.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no link in the page: %s", snippet(r.body))
	}
	link := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.HasPrefix(link, h.srv.URL+"/features/max-items?") || !strings.Contains(link, "redirect_url=%2Fshop") {
		t.Fatalf("link = %q", link)
	}
	mustContain(t, r.body, "Copy it now", "max-items = 50 for 1 hour", `<span class="badge badge-ok">active</span>`, `<td data-label="Made by">ed`)
	tokens, _ := h.store.ShareTokens(context.Background())
	if len(tokens) != 1 || tokens[0].CreatedBy != "ed" || tokens[0].Flag != "max-items" || tokens[0].Duration != time.Hour {
		t.Fatalf("tokens = %+v", tokens)
	}

	// A tester opens it: no sign-in, one click.
	tester := h.browser("")
	resp := tester.get(strings.TrimPrefix(link, h.srv.URL))
	if resp.status != http.StatusSeeOther || resp.location != "/shop" {
		t.Fatalf("opening the link: %d to %q: %s", resp.status, resp.location, resp.body)
	}
	mustContain(t, tester.home(), "items: 50")

	// Another editor may not revoke it; its maker may.
	other := h.browser("oz:editor")
	other.get("/admin/share")
	mustNotContain(t, other.last, `action="/admin/share/revoke"`)
	if r := other.post("/admin/share/revoke", url.Values{"id": {tokens[0].ID}}); r.status != http.StatusForbidden {
		t.Errorf("another editor revoking: %d", r.status)
	}
	page := ed.get("/admin/share")
	r = ed.post("/admin/share/revoke", formOf(t, page.body, "/share/revoke"))
	if !strings.Contains(r.location, "done=share-revoked") {
		t.Fatalf("revoke: %d %q", r.status, r.location)
	}
	page = ed.follow(r)
	mustContain(t, page.body, "Share link revoked.", `<span class="badge">revoked</span>`)
	late := h.browser("")
	if resp := late.get(strings.TrimPrefix(link, h.srv.URL)); resp.status == http.StatusSeeOther {
		t.Error("a revoked link still works")
	}
	if r := ed.post("/admin/share/revoke", url.Values{"id": {"nope"}}); r.status != http.StatusNotFound {
		t.Errorf("revoke unknown: %d", r.status)
	}
}

func TestShareBadInput(t *testing.T) {
	tests := []struct {
		name  string
		set   map[string]string
		field string
		want  string
	}{
		{"no pick", map[string]string{"pick": ""}, "s-pick-err", "Choose a flag and a value."},
		{"unknown variant", map[string]string{"pick": "checkout:turbo"}, "s-pick-err", "Choose a flag and a value."},
		{"policy none", map[string]string{"pick": "ops-maintenance:on"}, "s-pick-err", "may not be overridden"},
		{"bad duration", map[string]string{"duration": "0"}, "s-duration-err", "Choose how long the override lasts."},
		{"bad lifetime", map[string]string{"lifetime": "x"}, "", "Choose how long the link can be opened."},
		{"foreign redirect", map[string]string{"redirect": "https://evil.example/"}, "s-redirect-err", "Give a path on this site"},
		{"scheme-relative redirect", map[string]string{"redirect": "//evil.example/"}, "s-redirect-err", "Give a path on this site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser("ed:editor")
			r := b.get("/admin/share")
			form := formOf(t, r.body, "/share")
			form.Set("pick", "checkout:express")
			for k, v := range tt.set {
				form.Set(k, v)
			}
			r = b.post("/admin/share", form)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", r.status, snippet(r.body))
			}
			mustContain(t, r.body, tt.want, "No link was made", `aria-invalid="true"`)
			if tt.field != "" {
				mustContain(t, r.body, `id="`+tt.field+`"`)
			}
			mustNotContain(t, r.body, "minted-link")
			if tokens, _ := h.store.ShareTokens(context.Background()); len(tokens) != 0 {
				t.Errorf("a refused form made a token")
			}
		})
	}
}

func TestShareWithoutStore(t *testing.T) {
	h := newHarness(t, harnessOptions{readOnly: true})
	b := h.browser("ed:editor")
	r := b.get("/admin/share")
	mustContain(t, r.body, "cannot be listed or revoked")
	form := formOf(t, r.body, "/share")
	form.Set("pick", "new-home-page:on")
	r = b.post("/admin/share", form)
	if r.status != http.StatusOK || !mintedRe.MatchString(r.body) {
		t.Fatalf("mint without a store: %d %s", r.status, snippet(r.body))
	}
	if r := b.post("/admin/share/revoke", url.Values{"id": {"x"}}); r.status != http.StatusConflict {
		t.Errorf("revoke without a store: %d", r.status)
	}
}

func TestExplain(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("vic:viewer")
	// With no query it opens on the form, filled in with the app's
	// context for this browser.
	r := b.get("/admin/explain")
	mustContain(t, r.body, `value="visitor-1"`, "is_staff = false", "Filled in as <strong>visitor-1</strong>", `name="overrides" value="1" checked`)
	mustNotContain(t, r.body, `<tr data-flag=`, "Snapshot ", "TARGETING_KEY_MISSING")
	// The flag page's Explain link: this browser, one flag.
	r = b.get("/admin/explain?flag=checkout&overrides=1")
	mustContain(t, r.body, `value="visitor-1"`, `<tr data-flag="checkout">`, "Snapshot ")
	mustNotContain(t, r.body, `<tr data-flag="max-items">`, "TARGETING_KEY_MISSING")

	q := url.Values{"key": {"user-42"}, "attrs": {"is_staff = true\ncountry = NL\ntags = [a, b]"}}
	r = b.get("/admin/explain?" + q.Encode())
	mustContain(t, r.body,
		`<span class="layer layer-rule">rule</span>`, "rule 1 (staff-first): in audience staff",
		`<span class="layer layer-static">static</span>`, "no rules: everyone gets few",
		"<code>TARGETING_MATCH</code>", "<code>STATIC</code>")

	q = url.Values{"key": {"user-42"}, "attrs": {`{"is_staff": false, "n": 3}`}, "flag": {"check"}}
	r = b.get("/admin/explain?" + q.Encode())
	b42 := flagon.Bucket("checkout", "user-42")
	mustContain(t, r.body, `<span class="layer layer-fallthrough">fallthrough</span>`, "no rule matched; percentage rollout", "<code>SPLIT</code>",
		"(this context is at "+trimFloat(float64(b42)/1000)+"%)",
		// The evaluator's own steps: the rule skipped and why, the bucket.
		"rule 1 (staff-first) skipped: not in audience staff: is_staff == true does not hold: is_staff is false",
		fmt.Sprintf("user-42 is in bucket %d of 100000", b42))
	mustNotContain(t, r.body, `data-flag="max-items"`)

	// No targeting key typed: the rollout cannot bucket, and says why.
	r = b.get("/admin/explain?key=&attrs=")
	mustContain(t, r.body, "TARGETING_KEY_MISSING", `<span class="layer layer-error">error</span>`,
		"the fallthrough&#39;s percentage split hashes key, which the context does not have")

	// Overrides are a layer of their own, when asked for.
	page := b.get("/admin/overrides")
	form := formOf(t, page.body, "/overrides")
	form.Set("v.max-items", "many")
	b.post("/admin/overrides", form)
	r = b.get("/admin/explain?key=u&overrides=1&flag=max-items")
	mustContain(t, r.body, `<span class="layer layer-override">override</span>`, "this browser")
	r = b.get("/admin/explain?key=u&flag=max-items")
	mustNotContain(t, r.body, "layer-override")

	// The kill switch.
	ctx := context.Background()
	sf := h.stored("new-home-page")
	f := sf.Flag
	f.Disabled = true
	h.store.PutFlag(ctx, f, sf.Version, flagon.Change{Actor: "t"})
	h.waitFor(func(s *flagon.Snapshot) bool { f, _ := s.Flag("new-home-page"); return f.Disabled })
	r = b.get("/admin/explain?key=u&flag=new-home")
	mustContain(t, r.body, "kill switch", "<code>DISABLED</code>")
}

// TestSignedInUserContext checks that, when the application builds no
// context, the console evaluates as the signed-in user, says so, and
// shows no targeting-key error on rollout flags.
func TestSignedInUserContext(t *testing.T) {
	h := newHarness(t, harnessOptions{noContext: true})
	b := h.browser("alice:admin")
	r := b.get("/admin/overrides")
	mustContain(t, r.body, "Flags evaluated as <strong>alice</strong>", `data-flag="checkout"`)
	mustNotContain(t, r.body, "targeting key missing", "TARGETING_KEY_MISSING", "why-error")

	r = b.get("/admin/explain")
	if r.status != http.StatusOK {
		t.Fatalf("explain: %d", r.status)
	}
	mustContain(t, r.body, `<form method="get" action="/admin/explain"`, `id="e-key" name="key" type="text" value="alice"`, "Filled in as <strong>alice</strong>")
	mustNotContain(t, r.body, "TARGETING_KEY_MISSING", `<tr data-flag=`)

	r = b.get("/admin/explain?flag=checkout")
	mustContain(t, r.body, `<tr data-flag="checkout">`, "<code>SPLIT</code>",
		fmt.Sprintf("alice is in bucket %d of 100000", flagon.Bucket("checkout", "alice")))
	mustNotContain(t, r.body, "TARGETING_KEY_MISSING")

	// Her login's override applies on both pages, as the application's
	// middleware applies it.
	form := formOf(t, b.get("/admin/overrides?scope=login").body, "/overrides")
	form.Set("v.checkout", "classic")
	if r := b.post("/admin/overrides", form); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, snippet(r.body))
	}
	r = b.get("/admin/explain?flag=checkout&overrides=1")
	mustContain(t, r.body, `<span class="layer layer-override">override</span>`, "your login", "override from user decides: classic")
}

func TestExplainBadInput(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("vic:viewer")
	for _, attrs := range []string{"no separator here", "a b = 1", "x = 1\nx = 2", "{not json", "= 5"} {
		r := b.get("/admin/explain?" + url.Values{"key": {"u"}, "attrs": {attrs}}.Encode())
		if r.status != http.StatusBadRequest {
			t.Errorf("%q: status %d", attrs, r.status)
			continue
		}
		mustContain(t, r.body, `id="e-attrs-err"`, `aria-invalid="true"`, "Fix the context")
		mustNotContain(t, r.body, `<tr data-flag=`)
	}
}

func TestParseAttrs(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]any
	}{
		{"", nil},
		{"is_staff = true\ncountry: NL\n# comment\n\nage = 42\nscore = 1.5\nname = \"007\"\ntags = [a, 2]",
			map[string]any{"is_staff": true, "country": "NL", "age": int64(42), "score": 1.5, "name": "007", "tags": []any{"a", int64(2)}}},
		{`{"a": 1, "b": "x", "c": true}`, map[string]any{"a": int64(1), "b": "x", "c": true}},
		{"url = https://x.example/a", map[string]any{"url": "https://x.example/a"}},
	}
	for _, tt := range tests {
		got, err := parseAttrs(tt.in)
		if err != nil {
			t.Errorf("parseAttrs(%q): %v", tt.in, err)
			continue
		}
		if !sameJSON(got, tt.want) || len(got) != len(tt.want) {
			t.Errorf("parseAttrs(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
	if _, err := parseAttrs(strings.Repeat("a = 1\n", 2) + "x"); err == nil {
		t.Error("want an error for a repeated attribute")
	}
}

func TestAudit(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	form := editForm(t, b, "max-items")
	form.Set("default", "1")
	form.Set("reason", "bigger pages")
	b.post("/admin/flags/max-items", form)
	r := b.get("/admin/audit")
	mustContain(t, r.body, "<strong>ed</strong>", `<span class="action">flag.update</span>`, "“bigger pages”",
		`<code class="path">default</code>`, `<del>&#34;few&#34;</del>`, `<ins>&#34;many&#34;</ins>`,
		"<strong>seed</strong>")
	tests := []struct {
		query   string
		want    []string
		notWant []string
	}{
		{"flag=max-items", []string{"bigger pages"}, []string{`<code>checkout</code>`}},
		{"user=ed", []string{"bigger pages"}, []string{"<strong>seed</strong>"}},
		{"user=seed&limit=2", []string{"Showing the newest 2"}, []string{"bigger pages"}},
		{"since=2000-01-01&until=2000-12-31", []string{"No entries match."}, nil},
		{"since=" + time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04"), []string{"bigger pages"}, nil},
	}
	for _, tt := range tests {
		r := b.get("/admin/audit?" + tt.query)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d", tt.query, r.status)
		}
		mustContain(t, r.body, tt.want...)
		mustNotContain(t, r.body, tt.notWant...)
	}
	bad := []struct{ query, field string }{
		{"since=yesterday", "a-since-err"},
		{"until=31/12/2026", "a-until-err"},
		{"since=2026-12-01&until=2026-11-01", "a-until-err"},
		{"limit=0", ""},
		{"limit=lots", ""},
	}
	for _, tt := range bad {
		r := b.get("/admin/audit?" + tt.query)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d", tt.query, r.status)
		}
		mustContain(t, r.body, "Fix the marked filters.", `aria-invalid="true"`)
		if tt.field != "" {
			mustContain(t, r.body, `id="`+tt.field+`"`)
		}
	}
	ro := newHarness(t, harnessOptions{readOnly: true})
	r = ro.browser("ed:editor").get("/admin/audit")
	mustContain(t, r.body, "The audit log needs a store.")
}

// TestAuditRollout changes the rollout of a flag imported without its
// implicit parts (no type, variants or default) in the editor: the audit
// entry lists only the two percentages, old and new, and none of the
// parts the editor made explicit nor the version and time.
func TestAuditRollout(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	sf := h.stored("new-home-page")
	f := sf.Flag
	f.Fallthrough = flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}}
	if _, err := h.store.PutFlag(ctx, f, sf.Version, flagon.Change{Actor: "import"}); err != nil {
		t.Fatal(err)
	}
	b := h.browser("ed:editor")
	form := editForm(t, b, "new-home-page")
	setSplit(form, "fall.", map[string]string{"on": "30", "off": "70"})
	if r := b.post("/admin/flags/new-home-page", form); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, snippet(r.body))
	}
	entries, err := h.store.Audit(ctx, flagon.AuditQuery{Target: "new-home-page", Limit: 1})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %v %v", entries, err)
	}
	got := auditRowOf(entries[0]).Changes
	want := []jsondiff.Change{
		{Path: "fallthrough.split[0].percent", Context: `variant "on"`, Kind: "changed", Old: "10", New: "30"},
		{Path: "fallthrough.split[1].percent", Context: `variant "off"`, Kind: "changed", Old: "90", New: "70"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %+v\nwant %+v", got, want)
	}
	r := b.get("/admin/audit?flag=new-home-page&limit=1")
	mustContain(t, r.body, `<code class="path">fallthrough.split[0].percent</code> <span class="ctx">in variant &#34;on&#34;</span>`,
		`<del>10</del> <span class="arrow" aria-label="became">→</span> <ins>30</ins>`)
	if n := strings.Count(r.body, `<li class="chg `); n != 2 {
		t.Errorf("the page lists %d changes, want 2:\n%s", n, snippet(r.body))
	}
}

func TestAuditComparable(t *testing.T) {
	// Version and time are dropped; a flag is normalized.
	before := comparable("flag.update", json.RawMessage(`{"key":"a","version":1,"updated_at":"2026-01-01T00:00:00Z"}`))
	after := comparable("flag.update", json.RawMessage(`{"key":"a","type":"bool","variants":[{"name":"on","value":true},{"name":"off","value":false}],"default":"off","version":2,"updated_at":"2026-01-02T00:00:00Z"}`))
	if out := jsondiff.Values(before, after); len(out) != 0 {
		t.Errorf("normalization and metadata show as changes: %+v", out)
	}
	// Other records keep their fields, less the metadata.
	m, _ := comparable("audience.update", json.RawMessage(`{"name":"x","version":3}`)).(map[string]any)
	if _, ok := m["version"]; ok || m["name"] != "x" {
		t.Errorf("audience = %v", m)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"12h", 12 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{" 7d ", 7 * 24 * time.Hour, true},
		{"-1h", 0, false},
		{"xd", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
	for _, d := range []time.Duration{7 * 24 * time.Hour, 90 * time.Minute} {
		if got, _ := parseDuration(formatDuration(d)); got != d {
			t.Errorf("round trip of %v: %v", d, got)
		}
	}
}

func TestClauseText(t *testing.T) {
	clauses := []flagon.Clause{
		{Attribute: "country", Op: flagon.OpIn, Values: []any{"NL", "BE"}},
		{Attribute: "plan", Op: flagon.OpEquals, Values: []any{"true"}},
		{Attribute: "code", Op: flagon.OpEquals, Values: []any{"007"}},
		{Attribute: "note", Op: flagon.OpContains, Values: []any{"a, b"}},
		{Attribute: "age", Op: flagon.OpGTE, Values: []any{int64(18)}},
		{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}},
		{Attribute: "email", Op: flagon.OpExists},
		{Attribute: "name", Op: flagon.OpEquals, Values: []any{" padded "}},
		{Attribute: "quote", Op: flagon.OpEquals, Values: []any{`say "hi"`}},
	}
	for _, c := range clauses {
		back, err := parseClauseLine(clauseText(c))
		if err != nil {
			t.Errorf("%q: %v", clauseText(c), err)
			continue
		}
		if !sameJSON(back, c) {
			t.Errorf("%q read back as %+v, want %+v", clauseText(c), back, c)
		}
	}
}

func TestFieldLabel(t *testing.T) {
	tests := map[string]string{
		"rules[0].clauses[1]":              "rule 1 › clause 2",
		"fallthrough.split[2].percent":     "fallthrough › share 3 › percent",
		"variants[0].name":                 "variant 1 › name",
		"override.max_duration":            "override › max duration",
		"environments.prod.rules[1].serve": "environments › prod › rule 2 › serve",
	}
	for in, want := range tests {
		if got := fieldLabel(in); got != want {
			t.Errorf("fieldLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
