package admin

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func (h *harness) stored(key string) flagon.StoredFlag {
	h.t.Helper()
	sf, err := h.store.Flag(context.Background(), key)
	if err != nil {
		h.t.Fatalf("flag %s: %v", key, err)
	}
	return sf
}

func TestFlagsList(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	sf := h.stored("use-new-email-service")
	if _, err := h.store.ArchiveFlag(ctx, sf.Key, true, sf.Version, flagon.Change{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	b := h.browser("ed:editor")
	r := b.get("/admin/flags")
	mustContain(t, r.body, "New flag", "4 of 5 flags", "<code>checkout</code>", "1 rule, else express 10%, classic 90%", ">Kill<", "by seed · v1")
	mustNotContain(t, r.body, `data-flag="use-new-email-service"`)
	r = b.get("/admin/flags?archived=1")
	mustContain(t, r.body, `data-flag="use-new-email-service" class="archived"`, `<span class="badge">archived</span>`)
	r = b.get("/admin/flags?owner=web&tag=launch")
	mustContain(t, r.body, "1 of 5 flags", `data-flag="new-home-page"`)
}

func TestFlagsReadOnly(t *testing.T) {
	h := newHarness(t, harnessOptions{readOnly: true})
	b := h.browser("ann:admin")
	r := b.get("/admin/flags")
	mustContain(t, r.body, "Read-only.", "flags come from the config file flags.yaml; edit it and it reloads", "<code>checkout</code>")
	mustNotContain(t, r.body, "New flag", ">Kill<")
	r = b.get("/admin/flags/checkout")
	mustContain(t, r.body, "Read-only.", `<fieldset class="plain" disabled>`, `value="classic"`, "staff-first")
	mustNotContain(t, r.body, "Save flag")
	for _, p := range []string{"/admin/flags/checkout", "/admin/flags/new", "/admin/flags/checkout/kill", "/admin/flags/checkout/archive"} {
		if r := b.post(p, url.Values{"version": {"1"}}); r.status != http.StatusConflict {
			t.Errorf("POST %s: %d, want 409", p, r.status)
		}
	}
	if r := b.get("/admin/flags/nope"); r.status != http.StatusNotFound {
		t.Errorf("unknown flag: %d", r.status)
	}
}

func TestCreateFlag(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	r := b.get("/admin/flags/new")
	form := formOf(t, r.body, "/flags/new")
	form.Set("key", "dark-mode")
	form.Set("description", "A dark theme")
	form.Set("owner", "design")
	form.Set("tags", "ui, web, ui")
	form.Set("expires", "2027-03-31")
	form.Set("reason", "new feature")
	r = b.post("/admin/flags/new", form)
	if r.status != http.StatusSeeOther || r.location != "/admin/flags/dark-mode?done=flag-created" {
		t.Fatalf("create: %d %q %s", r.status, r.location, snippet(r.body))
	}
	sf := h.stored("dark-mode")
	want := flagon.Flag{Key: "dark-mode", Description: "A dark theme", Owner: "design", Tags: []string{"ui", "web"},
		Expires: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), Type: flagon.TypeBool,
		Variants: []flagon.Variant{{Name: "on", Value: true}, {Name: "off", Value: false}}, Default: "off"}
	if got := sf.Flag.Normalize(); !reflect.DeepEqual(got, want.Normalize()) {
		t.Errorf("stored\n%+v\nwant\n%+v", got, want.Normalize())
	}
	entries, _ := h.store.Audit(context.Background(), flagon.AuditQuery{Target: "dark-mode"})
	if len(entries) != 1 || entries[0].Actor != "ed" || entries[0].Reason != "new feature" {
		t.Errorf("audit = %+v", entries)
	}
	page := b.follow(r)
	mustContain(t, page.body, "Flag created.", "version 1")

	// A string flag with its own variants.
	r = b.get("/admin/flags/new?type=string")
	form = formOf(t, r.body, "/flags/new")
	form.Set("key", "banner")
	form.Set("type", "string")
	form.Set("var.0.name", "none")
	form.Set("var.0.value", "")
	form.Set("var.1.name", "sale")
	form.Set("var.1.value", "50% off")
	form.Set("default", "0")
	if r = b.post("/admin/flags/new", form); r.status != http.StatusSeeOther {
		t.Fatalf("create string flag: %d %s", r.status, snippet(r.body))
	}
	if f := h.stored("banner"); f.Default != "none" || len(f.Variants) != 2 || f.Variants[1].Value != "50% off" {
		t.Errorf("banner = %+v", f.Flag)
	}
}

func TestCreateFlagBadInput(t *testing.T) {
	tests := []struct {
		name   string
		set    map[string]string
		want   []string
		status int
	}{
		{"bad key", map[string]string{"key": "Bad Key!"}, []string{`id="key-err"`, "invalid key"}, http.StatusBadRequest},
		{"no key", map[string]string{"key": ""}, []string{`id="key-err"`, "invalid key"}, http.StatusBadRequest},
		{"existing key", map[string]string{"key": "checkout"}, []string{"already exists"}, http.StatusConflict},
		{"bad date", map[string]string{"expires": "next spring"}, []string{`id="expires-err"`, "is not a date"}, http.StatusBadRequest},
		{"bad bool value", map[string]string{"var.0.value": "yes"}, []string{"&#34;yes&#34; is not true or false"}, http.StatusBadRequest},
		{"duplicate variant", map[string]string{"var.1.name": "on"}, []string{"duplicate variant"}, http.StatusBadRequest},
		{"bad variant name", map[string]string{"var.1.name": "of f"}, []string{"invalid variant name"}, http.StatusBadRequest},
		{"bad type", map[string]string{"type": "colour"}, []string{"unknown type"}, http.StatusBadRequest},
		{"int value", map[string]string{"type": "int", "var.0.value": "1.5", "var.1.value": "2"}, []string{"is not a whole number"}, http.StatusBadRequest},
		{"object value", map[string]string{"type": "object", "var.0.value": "[1]", "var.1.value": "{}"}, []string{"not a JSON object"}, http.StatusBadRequest},
		{"no variants", map[string]string{"type": "string", "var.0.name": "", "var.0.value": "", "var.1.name": "", "var.1.value": ""}, []string{"needs at least one variant"}, http.StatusBadRequest},
		{"long tag", map[string]string{"tags": strings.Repeat("t", 70)}, []string{"longer than 64"}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser("ed:editor")
			r := b.get("/admin/flags/new")
			form := formOf(t, r.body, "/flags/new")
			form.Set("key", "fresh-flag")
			form.Set("description", "typed by hand")
			for k, v := range tt.set {
				form.Set(k, v)
			}
			r = b.post("/admin/flags/new", form)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, snippet(r.body))
			}
			mustContain(t, r.body, tt.want...)
			mustContain(t, r.body, "typed by hand", `class="error-summary"`) // the input is kept
			flags, _ := h.store.Flags(context.Background())
			if len(flags) != len(demoDefs().Flags) {
				t.Errorf("a refused form created a flag: %d flags", len(flags))
			}
		})
	}
}

// editForm loads a flag's editor and returns its form.
func editForm(t *testing.T, b *browser, key string) url.Values {
	t.Helper()
	r := b.get("/admin/flags/" + key)
	if r.status != http.StatusOK {
		t.Fatalf("editor of %s: %d", key, r.status)
	}
	return formOf(t, r.body, "/flags/"+key)
}

func TestEditFlagRoundTrip(t *testing.T) {
	// Saving the editor's form unchanged leaves every flag as it was.
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	for _, f := range demoDefs().Flags {
		before := h.stored(f.Key)
		form := editForm(t, b, f.Key)
		r := b.post("/admin/flags/"+f.Key, form)
		if r.status != http.StatusSeeOther {
			t.Errorf("%s: save unchanged: %d %s", f.Key, r.status, snippet(r.body))
			continue
		}
		after := h.stored(f.Key)
		if !reflect.DeepEqual(before.Flag.Normalize(), after.Flag.Normalize()) {
			t.Errorf("%s changed by an unchanged save:\nbefore %+v\nafter  %+v", f.Key, before.Flag.Normalize(), after.Flag.Normalize())
		}
	}
}

func TestEditFlag(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	form := editForm(t, b, "checkout")
	// Edit the existing rule, add a rule in the blank one, change the
	// rollout.
	form.Set("rule.0.clauses", "country in NL, BE\nplan == \"pro\"")
	form.Set("rule.1.id", "beta-testers")
	form.Add("rule.1.aud", "beta")
	form.Set("rule.1.serve", "split")
	setSplit(form, "rule.1.", map[string]string{"express": "50", "classic": "50"})
	form.Set("rule.1.order", "0")
	setSplit(form, "fall.", map[string]string{"express": "25.5", "classic": "74.5"})
	form.Set("fall.by", "account")
	form.Set("who", "anyone")
	form.Set("pmax", "7d")
	form.Add("pvar", "express")
	r := b.post("/admin/flags/checkout", form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, snippet(r.body))
	}
	f := h.stored("checkout").Flag
	if len(f.Rules) != 2 || f.Rules[0].ID != "beta-testers" || f.Rules[1].ID != "staff-first" {
		t.Fatalf("rules = %+v", f.Rules)
	}
	wantClauses := []flagon.Clause{{Attribute: "country", Op: flagon.OpIn, Values: []any{"NL", "BE"}}, {Attribute: "plan", Op: flagon.OpEquals, Values: []any{"pro"}}}
	if !sameJSON(f.Rules[1].Clauses, wantClauses) {
		t.Errorf("clauses = %+v", f.Rules[1].Clauses)
	}
	if !sameJSON(f.Rules[0].Serve, flagon.Serve{Split: []flagon.Split{{Variant: "classic", Percent: 50}, {Variant: "express", Percent: 50}}}) &&
		!sameJSON(f.Rules[0].Serve, flagon.Serve{Split: []flagon.Split{{Variant: "express", Percent: 50}, {Variant: "classic", Percent: 50}}}) {
		t.Errorf("new rule serves %+v", f.Rules[0].Serve)
	}
	if !sameJSON(f.Fallthrough, flagon.Serve{By: "account", Split: []flagon.Split{{Variant: "express", Percent: 25.5}, {Variant: "classic", Percent: 74.5}}}) {
		t.Errorf("fallthrough = %+v", f.Fallthrough)
	}
	if f.Override.Who != flagon.WhoAnyone || f.Override.MaxDuration != 7*24*time.Hour || !reflect.DeepEqual(f.Override.Variants, []string{"express"}) {
		t.Errorf("policy = %+v", f.Override)
	}

	// Delete a rule.
	form = editForm(t, b, "checkout")
	form.Set("rule.0.delete", "1")
	if r := b.post("/admin/flags/checkout", form); r.status != http.StatusSeeOther {
		t.Fatalf("delete rule: %d", r.status)
	}
	if f := h.stored("checkout").Flag; len(f.Rules) != 1 || f.Rules[0].ID != "staff-first" {
		t.Errorf("after delete: %+v", f.Rules)
	}

	// Evaluation follows the edit.
	h.waitFor(func(s *flagon.Snapshot) bool {
		f, _ := s.Flag("checkout")
		return len(f.Rules) == 1 && f.Fallthrough.By == "account"
	})
}

// setSplit fills the percentage inputs of a serve form by variant.
func setSplit(form url.Values, prefix string, pct map[string]string) {
	for i := 0; ; i++ {
		p := prefix + "split." + strconv.Itoa(i) + "."
		v, ok := form[p+"variant"]
		if !ok {
			return
		}
		form.Set(p+"pct", pct[v[0]])
	}
}

func TestEditFlagBadInput(t *testing.T) {
	tests := []struct {
		name string
		edit func(url.Values)
		want []string
	}{
		{"bad clause", func(f url.Values) { f.Set("rule.0.clauses", "country sounds-like NL") },
			[]string{`id="rule-0-clauses-err"`, "unknown operator"}},
		{"bad regexp", func(f url.Values) { f.Set("rule.0.clauses", "email matches ([a-z") },
			[]string{`id="rule-0-clauses-err"`}},
		{"percentages over 100", func(f url.Values) { setSplit(f, "fall.", map[string]string{"express": "60", "classic": "60"}) },
			[]string{"percentages add up to 120, not 100"}},
		{"percent not a number", func(f url.Values) { setSplit(f, "fall.", map[string]string{"express": "ten", "classic": "90"}) },
			[]string{`id="fall-split-0-err"`, "&#34;ten&#34; is not a percentage"}},
		{"negative percent", func(f url.Values) { setSplit(f, "fall.", map[string]string{"express": "-10", "classic": "110"}) },
			[]string{"is not between 0 and 100"}},
		{"too fine", func(f url.Values) {
			setSplit(f, "fall.", map[string]string{"express": "10.0001", "classic": "89.9999"})
		},
			[]string{"finer than 0.001"}},
		{"empty split", func(f url.Values) { setSplit(f, "fall.", map[string]string{}) },
			[]string{"give each variant of the rollout a percentage"}},
		{"rule serves nothing", func(f url.Values) { f.Set("rule.0.serve", "") },
			[]string{`id="rule-0-serve-err"`, "choose what the rule serves"}},
		{"rule with no condition", func(f url.Values) { f.Del("rule.0.aud") },
			[]string{"a rule needs at least one audience or clause"}},
		{"unknown audience", func(f url.Values) { f.Set("rule.0.aud", "martians") },
			[]string{"unknown audience &#34;martians&#34;"}},
		{"blank rule half filled", func(f url.Values) { f.Set("rule.1.clauses", "plan == pro") },
			[]string{`id="rule-1-serve-err"`}},
		{"bad position", func(f url.Values) { f.Set("rule.0.order", "first") },
			[]string{"&#34;first&#34; is not a position"}},
		{"renamed variant still used", func(f url.Values) { f.Set("var.1.name", "fast") },
			[]string{"unknown variant &#34;express&#34;"}},
		{"bad max duration", func(f url.Values) { f.Set("pmax", "a while") },
			[]string{`id="pmax-err"`, "is not a duration"}},
		{"policy variant unknown", func(f url.Values) { f.Set("pvar", "turbo") },
			[]string{"unknown variant &#34;turbo&#34;"}},
		{"no default", func(f url.Values) { f.Set("default", "7") },
			[]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser("ed:editor")
			before := h.stored("checkout")
			form := editForm(t, b, "checkout")
			form.Set("description", "kept as typed")
			tt.edit(form)
			r := b.post("/admin/flags/checkout", form)
			if tt.name == "no default" {
				// No default radio chosen: the first variant is the default.
				if r.status != http.StatusSeeOther {
					t.Fatalf("status %d: %s", r.status, snippet(r.body))
				}
				return
			}
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, snippet(r.body))
			}
			mustContain(t, r.body, tt.want...)
			mustContain(t, r.body, "kept as typed", "Nothing was saved", `aria-invalid="true"`, `class="error-summary"`)
			if after := h.stored("checkout"); after.Version != before.Version {
				t.Errorf("a refused form saved version %d", after.Version)
			}
		})
	}
}

func TestEditConflict(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ann := h.browser("ann:editor")
	bob := h.browser("bob:editor")
	annForm := editForm(t, ann, "new-home-page")
	bobForm := editForm(t, bob, "new-home-page")

	annForm.Set("description", "Ann's description")
	if r := ann.post("/admin/flags/new-home-page", annForm); r.status != http.StatusSeeOther {
		t.Fatalf("ann: %d", r.status)
	}
	bobForm.Set("owner", "bob-team")
	setSplit(bobForm, "fall.", map[string]string{"on": "20", "off": "80"})
	bobForm.Set("fall.serve", "split")
	r := bob.post("/admin/flags/new-home-page", bobForm)
	if r.status != http.StatusConflict {
		t.Fatalf("bob: %d, want 409: %s", r.status, snippet(r.body))
	}
	mustContain(t, r.body, "Someone else saved this flag first", "ann saved <strong>version 2</strong>",
		"Your changes were not saved", "Ann&#39;s description", // their version is shown
		`value="bob-team"`, `value="20"`, // bob's input is kept
		`name="version" value="2"`)
	if sf := h.stored("new-home-page"); sf.Owner != "web" || sf.Description != "Ann's description" {
		t.Errorf("after the conflict: %+v", sf.Flag)
	}
	// Saving again, knowingly, replaces version 2.
	again := formOf(t, r.body, "/flags/new-home-page")
	if r := bob.post("/admin/flags/new-home-page", again); r.status != http.StatusSeeOther {
		t.Fatalf("bob again: %d %s", r.status, snippet(r.body))
	}
	if sf := h.stored("new-home-page"); sf.Owner != "bob-team" || sf.Version != 3 {
		t.Errorf("after saving again: %+v", sf)
	}
}

func TestProductionChange(t *testing.T) {
	h := newHarness(t, harnessOptions{production: true})
	b := h.browser("ed:editor")
	r := b.get("/admin/flags/checkout")
	mustContain(t, r.body, "Production change", "I confirm this change to production", `class="env env-prod"`)
	form := formOf(t, r.body, "/flags/checkout")
	form.Set("owner", "checkout-team")
	r = b.post("/admin/flags/checkout", form)
	if r.status != http.StatusBadRequest {
		t.Fatalf("without confirmation: %d", r.status)
	}
	mustContain(t, r.body, "tick the box to confirm it", "say why", `value="checkout-team"`)
	if h.stored("checkout").Owner != "payments" {
		t.Fatal("saved without confirmation")
	}
	form.Set("confirm", "1")
	form.Set("reason", "team rename")
	if r = b.post("/admin/flags/checkout", form); r.status != http.StatusSeeOther {
		t.Fatalf("confirmed: %d %s", r.status, snippet(r.body))
	}
	entries, _ := h.store.Audit(context.Background(), flagon.AuditQuery{Target: "checkout", Limit: 1})
	if len(entries) != 1 || entries[0].Reason != "team rename" || entries[0].Environment != "production" {
		t.Errorf("audit = %+v", entries)
	}

	// One-click changes ask on a page of their own.
	v := h.stored("checkout").Version
	r = b.post("/admin/flags/checkout/kill", url.Values{"version": {strconv.FormatInt(v, 10)}, "disabled": {"1"}})
	if r.status != http.StatusOK {
		t.Fatalf("kill: %d", r.status)
	}
	mustContain(t, r.body, "Confirm a production change", "Turn on the kill switch of checkout")
	mustNotContain(t, r.body, "field-error")
	confirmForm := formOf(t, r.body, "/flags/checkout/kill")
	r = b.post("/admin/flags/checkout/kill", confirmForm)
	if r.status != http.StatusBadRequest {
		t.Fatalf("confirm page sent back empty: %d", r.status)
	}
	mustContain(t, r.body, "say why")
	confirmForm.Set("confirm", "1")
	confirmForm.Set("reason", "payments outage")
	r = b.post("/admin/flags/checkout/kill", confirmForm)
	if r.status != http.StatusSeeOther {
		t.Fatalf("confirmed kill: %d %s", r.status, snippet(r.body))
	}
	if f := h.stored("checkout").Flag.In("production"); !f.Disabled {
		t.Error("not killed in production")
	}
}

func TestKillAndArchive(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	r := b.get("/admin/flags")
	form := formOf(t, r.body, "/flags/checkout/kill")
	r = b.post("/admin/flags/checkout/kill", form)
	if r.status != http.StatusSeeOther || r.location != "/admin/flags?undo=checkout&v=2&done=flag-killed" {
		t.Fatalf("kill: %d %q", r.status, r.location)
	}
	sf := h.stored("checkout")
	if sf.Disabled || !sf.Flag.In("development").Disabled {
		t.Errorf("kill in development: base %v, development %v", sf.Disabled, sf.Flag.In("development").Disabled)
	}
	h.waitFor(func(s *flagon.Snapshot) bool { f, _ := s.Flag("checkout"); return f.Disabled })
	page := b.follow(r)
	mustContain(t, page.body, "Kill switch on", `<span class="badge badge-danger">killed</span>`, "Revive")
	mustContain(t, b.home(), "checkout: classic")

	// A stale version is refused.
	r = b.post("/admin/flags/checkout/kill", form)
	if r.status != http.StatusConflict {
		t.Errorf("kill with a stale version: %d", r.status)
	}
	// Revive: the environment's setting goes away.
	r = b.get("/admin/flags")
	b.post("/admin/flags/checkout/kill", formOf(t, r.body, "/flags/checkout/kill"))
	if sf := h.stored("checkout"); sf.Environments != nil {
		t.Errorf("after revive: environments %+v", sf.Environments)
	}

	// Archive and restore.
	r = b.get("/admin/flags/checkout")
	r = b.post("/admin/flags/checkout/archive", formOf(t, r.body, "/flags/checkout/archive"))
	if !strings.Contains(r.location, "done=flag-archived") {
		t.Fatalf("archive: %d %q", r.status, r.location)
	}
	if !h.stored("checkout").Archived {
		t.Error("not archived")
	}
	h.waitFor(func(s *flagon.Snapshot) bool { return !s.Has("checkout") })
	page = b.follow(r)
	mustContain(t, page.body, ">Restore<")
	r = b.post("/admin/flags/checkout/archive", formOf(t, page.body, "/flags/checkout/archive"))
	if !strings.Contains(r.location, "done=flag-restored") || h.stored("checkout").Archived {
		t.Errorf("restore: %q", r.location)
	}
	if r := b.post("/admin/flags/nope/archive", url.Values{"version": {"1"}}); r.status != http.StatusNotFound {
		t.Errorf("archive unknown: %d", r.status)
	}
}

func TestEditEnvironment(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	r := b.get("/admin/flags/new-home-page?env=staging")
	mustContain(t, r.body, `aria-current="page">staging</a>`, "Targeting in", "staging uses the shared targeting")
	form := formOf(t, r.body, "/flags/new-home-page")
	if form.Get("env") != "staging" {
		t.Fatalf("env = %q", form.Get("env"))
	}
	// Unchanged: no environment settings appear.
	b.post("/admin/flags/new-home-page", form)
	if sf := h.stored("new-home-page"); sf.Environments != nil {
		t.Fatalf("an unchanged save added environments: %+v", sf.Environments)
	}
	form.Set("default", "0") // on
	form.Set("description", "shared text")
	r = b.post("/admin/flags/new-home-page", form)
	if r.location != "/admin/flags/new-home-page?env=staging&done=flag-saved" {
		t.Errorf("redirect %q", r.location)
	}
	sf := h.stored("new-home-page")
	if sf.Default != "off" || sf.Flag.In("staging").Default != "on" || sf.Description != "shared text" {
		t.Fatalf("after the staging edit: base default %q, staging %q", sf.Default, sf.Flag.In("staging").Default)
	}
	page := b.get("/admin/flags/new-home-page?env=staging")
	mustContain(t, page.body, "staging has its own targeting", `name="envreset"`)
	form = formOf(t, page.body, "/flags/new-home-page")
	form.Set("envreset", "1")
	b.post("/admin/flags/new-home-page", form)
	if sf := h.stored("new-home-page"); len(sf.Environments) != 0 {
		t.Errorf("after reset: %+v", sf.Environments)
	}
	if r := b.get("/admin/flags/new-home-page?env=Bad+Env"); !strings.Contains(r.body, `aria-current="page">All environments`) {
		t.Error("an invalid env was not ignored")
	}
}

func TestFlagHistory(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	form := editForm(t, b, "max-items")
	form.Set("reason", "more items")
	form.Set("default", "1")
	b.post("/admin/flags/max-items", form)
	r := b.get("/admin/flags/max-items")
	mustContain(t, r.body, "Recent changes", "<strong>ed</strong> flag.update in development: “more items”", "<strong>seed</strong> flag.create", `href="/admin/audit?flag=max-items"`)
}

// TestRefusedFormComesBackAsSent sends a broken flag form back three
// times: each time the form must come back exactly as sent (no rows added)
// with the error beside the rollout.
func TestRefusedFormComesBackAsSent(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	sent := editForm(t, b, "checkout")
	setSplit(sent, "fall.", map[string]string{"express": "10", "classic": "80"})
	sent.Set("description", "kept as typed")
	sent.Del("csrf")
	for i := range 3 {
		r := b.post("/admin/flags/checkout", maps.Clone(sent))
		if r.status != http.StatusBadRequest {
			t.Fatalf("save %d: status %d, want 400", i+1, r.status)
		}
		mustContain(t, r.body, `<fieldset class="split" data-split aria-invalid="true">`, "percentages add up to 90, not 100")
		back := formOf(t, r.body, "/flags/checkout")
		back.Del("csrf")
		if !reflect.DeepEqual(back, sent) {
			t.Fatalf("save %d: the form came back changed:\nsent %v\ngot  %v", i+1, sent, back)
		}
		sent = back
	}
}

// TestKillUndo kills a flag with one click and undoes it from the flash:
// the flag is back as before, both changes are audited, and an Undo after
// another change is refused.
func TestKillUndo(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	before := h.stored("checkout")
	r := b.get("/admin/flags?q=check")
	r = b.post("/admin/flags/checkout/kill", formOf(t, r.body, "/flags/checkout/kill"))
	page := b.follow(r)
	mustContain(t, page.body, "Kill switch on", `<input type="hidden" name="undo" value="1">`, ">Undo</button>")
	undo := formOf(t, page.body, "/flags/checkout/kill")
	if undo.Get("undo") != "1" || undo.Get("disabled") != "0" || undo.Get("back") != "flags?q=check" {
		t.Fatalf("the first kill form of the page is not the Undo: %v", undo)
	}
	r = b.post("/admin/flags/checkout/kill", undo)
	if r.status != http.StatusSeeOther || r.location != "/admin/flags?q=check&done=kill-undone" {
		t.Fatalf("undo: %d %q", r.status, r.location)
	}
	page = b.follow(r)
	mustContain(t, page.body, "Undone: the kill switch is back as it was.")
	mustNotContain(t, page.body, ">Undo</button>")
	after := h.stored("checkout")
	if !reflect.DeepEqual(after.Flag.Normalize(), before.Flag.Normalize()) || after.Version != before.Version+2 {
		t.Errorf("after undo: version %d, flag %+v\nwant version %d, flag %+v", after.Version, after.Flag, before.Version+2, before.Flag)
	}
	entries, _ := h.store.Audit(context.Background(), flagon.AuditQuery{Target: "checkout", Limit: 1})
	if len(entries) != 1 || entries[0].Actor != "ed" || entries[0].Reason != "undo" {
		t.Errorf("the undo's audit entry = %+v", entries)
	}
	// The same Undo again finds a newer version: refused, nothing changed.
	if r := b.post("/admin/flags/checkout/kill", undo); r.status != http.StatusConflict {
		t.Errorf("a stale undo: %d", r.status)
	}
	if v := h.stored("checkout").Version; v != after.Version {
		t.Errorf("a stale undo wrote version %d", v)
	}
}

// TestEnvironmentColumns is development's console on a server with three
// environments: the flags list shows each flag in all three, the editor
// edits development by default, and a change to production, or to the
// settings every environment shares, asks for the production
// confirmation while one to development does not.
func TestEnvironmentColumns(t *testing.T) {
	h := newHarness(t, harnessOptions{links: []EnvironmentLink{
		{Name: "development", Path: "/admin/"},
		{Name: "staging", Path: "/env/staging/admin/"},
		{Name: "production", Production: true, Path: "/env/production/admin/"},
	}})
	b := h.browser("ed:editor")
	r := b.get("/admin/flags")
	mustContain(t, r.body, `<th scope="col" data-env="development">development</th><th scope="col" data-env="staging">staging</th><th scope="col" data-env="production">production</th>`,
		`data-env-cell="production"`, `href="/env/staging/admin/flags"`, `data-env="development" aria-current="page"`)
	mustNotContain(t, r.body, `<th scope="col">Serves</th>`)

	r = b.get("/admin/flags/checkout")
	mustContain(t, r.body, `name="env" value="development"`)
	mustNotContain(t, r.body, "I confirm this change to production")
	form := formOf(t, r.body, "/flags/checkout")
	form.Set("owner", "dev-team")
	if r := b.post("/admin/flags/checkout", form); r.status != http.StatusSeeOther {
		t.Fatalf("development change: %d %s", r.status, snippet(r.body))
	}

	for _, env := range []string{"production", ""} {
		r = b.get("/admin/flags/checkout?env=" + env)
		mustContain(t, r.body, "I confirm this change to production")
		form := formOf(t, r.body, "/flags/checkout")
		form.Set("owner", "prod-team")
		if r := b.post("/admin/flags/checkout", form); r.status != http.StatusBadRequest {
			t.Fatalf("env %q without confirmation: %d, want 400", env, r.status)
		}
		if got := h.stored("checkout").Owner; got != "dev-team" {
			t.Fatalf("env %q: saved without confirmation (owner %q)", env, got)
		}
		form.Set("confirm", "1")
		form.Set("reason", "handover")
		if r := b.post("/admin/flags/checkout", form); r.status != http.StatusSeeOther {
			t.Fatalf("env %q confirmed: %d %s", env, r.status, snippet(r.body))
		}
		// Back to dev-team for the next round.
		sf := h.stored("checkout")
		sf.Flag.Owner = "dev-team"
		if _, err := h.store.PutFlag(context.Background(), sf.Flag, sf.Version, flagon.Change{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
}
