package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flagon/flagon"
)

func TestAudiences(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser("ed:editor")
	r := b.get("/admin/audiences")
	mustContain(t, r.body, `<tr data-audience="staff">`, "<code>is_staff == true</code>", `<a href="/admin/flags/checkout"><code>checkout</code></a>`, "New audience")
	// staff is used by checkout: no Delete button; beta is unused.
	mustNotContain(t, r.body, `action="/admin/audiences/staff/delete"`)
	mustContain(t, r.body, `action="/admin/audiences/beta/delete"`)

	form := formOf(t, r.body, "/audiences/new")
	form.Set("name", "dutch")
	form.Set("description", "Visitors from the Netherlands")
	form.Set("clauses", "country == NL\nlang in nl, fy")
	r = b.post("/admin/audiences/new", form)
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "done=audience-saved") {
		t.Fatalf("create: %d %q %s", r.status, r.location, snippet(r.body))
	}
	auds, _ := h.store.Audiences(context.Background())
	var dutch *flagon.StoredAudience
	for i := range auds {
		if auds[i].Name == "dutch" {
			dutch = &auds[i]
		}
	}
	if dutch == nil || len(dutch.Clauses) != 2 || dutch.Description != "Visitors from the Netherlands" {
		t.Fatalf("stored = %+v", dutch)
	}

	// Edit it; the flag editor offers it.
	r = b.get("/admin/audiences/dutch")
	mustContain(t, r.body, "Save audience", "country == NL")
	form = formOf(t, r.body, "/audiences/dutch")
	form.Set("clauses", "country == NL")
	if r = b.post("/admin/audiences/dutch", form); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.status, snippet(r.body))
	}
	// The form's version is now stale: a second save conflicts and keeps
	// the input.
	form.Set("description", "second try")
	r = b.post("/admin/audiences/dutch", form)
	if r.status != http.StatusConflict {
		t.Fatalf("stale save: %d", r.status)
	}
	mustContain(t, r.body, "someone else saved version 2", `value="second try"`)
	if r := b.get("/admin/flags/checkout"); !strings.Contains(r.body, `value="dutch"`) {
		t.Error("the flag editor does not offer the new audience")
	}

	// Delete the unused one; refuse the used one.
	r = b.get("/admin/audiences")
	if r = b.post("/admin/audiences/dutch/delete", formOf(t, r.body, "/audiences/dutch/delete")); !strings.Contains(r.location, "done=audience-deleted") {
		t.Errorf("delete: %d %q %s", r.status, r.location, snippet(r.body))
	}
	if r := b.post("/admin/audiences/staff/delete", url.Values{"version": {"1"}}); r.status != http.StatusConflict {
		t.Errorf("delete a used audience: %d", r.status)
	}
	if r := b.get("/admin/audiences/nope"); r.status != http.StatusNotFound {
		t.Errorf("unknown audience: %d", r.status)
	}
}

func TestAudiencesBadInput(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"bad name", map[string]string{"name": "Beta Testers"}, "invalid audience name"},
		{"existing name", map[string]string{"name": "staff"}, "already exists"},
		{"no clauses", map[string]string{"clauses": "\n\n"}, "at least one clause"},
		{"bad clause", map[string]string{"clauses": "plan is pro"}, "unknown operator"},
		{"bad JSON clause", map[string]string{"clauses": `{"attribute": "a", "op": "nope"}`}, "unknown operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			b := h.browser("ed:editor")
			r := b.get("/admin/audiences")
			form := formOf(t, r.body, "/audiences/new")
			form.Set("name", "fresh")
			form.Set("description", "typed")
			form.Set("clauses", "plan == pro")
			for k, v := range tt.set {
				form.Set(k, v)
			}
			r = b.post("/admin/audiences/new", form)
			if r.status != http.StatusBadRequest && r.status != http.StatusConflict {
				t.Fatalf("status %d", r.status)
			}
			mustContain(t, r.body, tt.want, `aria-invalid="true"`, `value="typed"`)
			if auds, _ := h.store.Audiences(context.Background()); len(auds) != 2 {
				t.Errorf("a refused form saved: %d audiences", len(auds))
			}
		})
	}
}

func TestAudiencesReadOnlyAndRoles(t *testing.T) {
	h := newHarness(t, harnessOptions{readOnly: true})
	b := h.browser("ed:editor")
	r := b.get("/admin/audiences")
	mustContain(t, r.body, "Read-only.", `<tr data-audience="staff">`)
	mustNotContain(t, r.body, "New audience")
	if r := b.post("/admin/audiences/new", url.Values{"name": {"x"}}); r.status != http.StatusConflict {
		t.Errorf("POST without a store: %d", r.status)
	}
	h2 := newHarness(t, harnessOptions{})
	v := h2.browser("vic:viewer")
	r = v.get("/admin/audiences/staff")
	mustNotContain(t, r.body, "Save audience")
	if r := v.post("/admin/audiences/new", url.Values{"name": {"x"}}); r.status != http.StatusForbidden {
		t.Errorf("viewer POST: %d", r.status)
	}
}
