package admin

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzFlagForm feeds arbitrary posted forms to the flag editor's parser:
// it must never panic, whatever the form holds.
func FuzzFlagForm(f *testing.F) {
	base := demoDefs().Flags[2] // checkout: rules, a split, variants
	f.Add("vars=2&var.0.name=a&var.0.value=1&default=0&rules=1&rule.0.clauses=country+in+NL&rule.0.serve=split&rule.0.splits=1&rule.0.split.0.variant=a&rule.0.split.0.pct=100")
	f.Add("type=object&vars=1&var.0.name=x&var.0.value=%7B%7D&fall.serve=split&fall.splits=2&fall.split.1.pct=1e400")
	f.Add("rules=999999999&vars=-1&rule.0.order=x&pmax=9999999d&env=staging")
	f.Add("rule.0.clauses=%7B%22attribute%22%3A%22a%22%2C%22op%22%3A%22in%22%2C%22values%22%3A%5B1.5%2Cnull%5D%7D&rules=1")
	auds := []string{"staff", "beta"}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		for _, isNew := range []bool{false, true} {
			form := formFromPost(v, isNew)
			d := form.parse()
			form.check(form.apply(base, d), d, auds)
			form.AllErrors()
			form.RuleViews()
			form.FallView()
		}
	})
}

// FuzzParseAttrs checks that the explain form's attribute parser never
// panics.
func FuzzParseAttrs(f *testing.F) {
	for _, s := range []string{"a = 1", `{"a": [1, "x"]}`, "tags = [a, [b]]", "x: \"q", "= =", "{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseAttrs(s)
		if err == nil {
			attrsText(m)
		}
	})
}

// BenchmarkOverridesPage renders the overrides page for a browser with a
// few overrides: the console's busiest page.
func BenchmarkOverridesPage(b *testing.B) {
	h := newHarness(b, harnessOptions{readOnly: true})
	req := httptest.NewRequest("GET", "/admin/overrides", nil)
	req.Header.Set("X-Test-User", "ann:viewer")
	req.RequestURI = "/admin/overrides"
	req.URL.Path = "/overrides"
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.console.ServeHTTP(w, req)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "new-home-page") {
			b.Fatalf("status %d", w.Code)
		}
	}
}
