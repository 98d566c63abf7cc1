package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flagon/flagon"
)

// TestChangeRequestsInConsole checks the console's side of reviewed
// changes in a protected production: an editor's save becomes a request
// and changes nothing; its author cannot approve it; an admin's approval
// needs the form token and applies it, audited with both names; a request
// overtaken by another change ends in conflict.
func TestChangeRequestsInConsole(t *testing.T) {
	h := newHarness(t, harnessOptions{production: true, protected: true})
	ed, ann := h.browser("ed:editor"), h.browser("ann:admin")
	before := h.stored("max-items")

	page := ed.get("/admin/flags/max-items")
	mustContain(t, page.body, "Ask for review", "is protected")
	form := formOf(t, page.body, "/flags/max-items")
	form.Set("description", "Items per page, reviewed")
	form.Set("confirm", "1")
	form.Set("reason", "clearer")
	r := ed.post("/admin/flags/max-items", form)
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "requests/1?done=request-created") {
		t.Fatalf("an editor's save: %d %q %s", r.status, r.location, snippet(r.body))
	}
	if got := h.stored("max-items"); got.Version != before.Version {
		t.Fatalf("an editor's save in protected production wrote version %d", got.Version)
	}
	req := ed.follow(r)
	mustContain(t, req.body, "description", "Items per page, reviewed", "Withdraw", "another admin must approve")
	mustNotContain(t, req.body, `id="approve"`)
	review := formOf(t, req.body, "")
	if r := ed.post("/admin/requests/1/approve", review); r.status != http.StatusForbidden {
		t.Errorf("the author approving: %d, want 403", r.status)
	}

	page = ann.get("/admin/requests")
	mustContain(t, page.body, "max-items", "ed")
	page = ann.get("/admin/requests/1")
	mustContain(t, page.body, `id="approve"`, "Items per page, reviewed")
	if r := ann.post("/admin/requests/1/approve", url.Values{"csrf": {"forged"}}); r.status != http.StatusForbidden {
		t.Errorf("approving without the form token: %d, want 403", r.status)
	}
	r = ann.post("/admin/requests/1/approve", url.Values{"comment": {"fine"}})
	if !strings.Contains(r.location, "done=request-approved") {
		t.Fatalf("approving: %d %q %s", r.status, r.location, snippet(r.body))
	}
	if got := h.stored("max-items"); got.Description != "Items per page, reviewed" || got.UpdatedBy != "ann" {
		t.Errorf("after approval the flag is %q by %q", got.Description, got.UpdatedBy)
	}
	es, err := h.store.Audit(t.Context(), flagon.AuditQuery{Limit: 1})
	if err != nil || len(es) != 1 || es[0].Actor != "ann" || !strings.Contains(es[0].Reason, "by ed, approved by ann") {
		t.Errorf("the newest audit entry = %+v, %v", es, err)
	}

	// Ed asks again; Ann edits the flag herself (an admin's save applies
	// at once); approving ed's request is then a conflict.
	page = ed.get("/admin/flags/max-items")
	form = formOf(t, page.body, "/flags/max-items")
	form.Set("description", "ed's wording")
	form.Set("confirm", "1")
	form.Set("reason", "wording")
	ed.post("/admin/flags/max-items", form)
	page = ann.get("/admin/flags/max-items")
	mustNotContain(t, page.body, "Ask for review")
	form = formOf(t, page.body, "/flags/max-items")
	form.Set("description", "ann's wording")
	form.Set("confirm", "1")
	form.Set("reason", "wording")
	if r := ann.post("/admin/flags/max-items", form); !strings.Contains(r.location, "done=flag-saved") {
		t.Fatalf("an admin's save: %d %q %s", r.status, r.location, snippet(r.body))
	}
	ann.get("/admin/requests/2")
	r = ann.post("/admin/requests/2/approve", url.Values{})
	if !strings.Contains(r.location, "done=request-conflict") {
		t.Fatalf("approving a stale request: %d %q %s", r.status, r.location, snippet(r.body))
	}
	if got := h.stored("max-items"); got.Description != "ann's wording" {
		t.Errorf("a conflicting approval changed the flag to %q", got.Description)
	}
	page = ann.follow(r)
	mustContain(t, page.body, "conflict", "is at version")
}

// TestKillSwitchInProtectedEnvironment checks the emergency rule: an
// editor's kill switch applies at once and waits for review after the
// fact; turning it off again, or archiving, does not apply at once.
func TestKillSwitchInProtectedEnvironment(t *testing.T) {
	h := newHarness(t, harnessOptions{production: true, protected: true})
	ed, ann := h.browser("ed:editor"), h.browser("ann:admin")
	sf := h.stored("checkout")
	ed.get("/admin/flags/checkout")
	kill := url.Values{"disabled": {"1"}, "version": {itoa(sf.Version)}, "confirm": {"1"}, "reason": {"checkout is down"}, "confirming": {"1"}}
	r := ed.post("/admin/flags/checkout/kill", kill)
	if !strings.Contains(r.location, "done=flag-killed-review") {
		t.Fatalf("an editor's kill switch: %d %q %s", r.status, r.location, snippet(r.body))
	}
	killed := h.stored("checkout")
	if !killed.In("production").Disabled {
		t.Fatalf("the kill switch did not apply at once")
	}
	crs, err := h.store.ChangeRequests(t.Context(), flagon.ChangeRequestQuery{Flag: "checkout"})
	if err != nil || len(crs) != 1 || !crs[0].Emergency || crs[0].State != flagon.RequestApplied || crs[0].Author != "ed" {
		t.Fatalf("emergency record = %+v, %v", crs, err)
	}
	page := ann.get("/admin/requests")
	mustContain(t, page.body, "kill switch, applied at once")
	ann.get("/admin/requests/" + itoa(crs[0].ID))
	if r := ann.post("/admin/requests/"+itoa(crs[0].ID)+"/approve", url.Values{}); !strings.Contains(r.location, "done=request-reviewed") {
		t.Errorf("reviewing the emergency: %d %q", r.status, r.location)
	}

	// Turning it off is an ordinary change: a request.
	ed.get("/admin/flags/checkout")
	unkill := url.Values{"disabled": {"0"}, "version": {itoa(killed.Version)}, "confirm": {"1"}, "reason": {"fixed"}}
	if r := ed.post("/admin/flags/checkout/kill", unkill); !strings.Contains(r.location, "done=request-created") {
		t.Errorf("an editor turning the kill switch off: %d %q", r.status, r.location)
	}
	if !h.stored("checkout").In("production").Disabled {
		t.Errorf("turning the kill switch off applied without review")
	}
	ed.get("/admin/flags/checkout")
	archive := url.Values{"archived": {"1"}, "version": {itoa(killed.Version)}, "confirm": {"1"}, "reason": {"gone"}}
	if r := ed.post("/admin/flags/checkout/archive", archive); r.status != http.StatusForbidden {
		t.Errorf("an editor archiving in protected production: %d, want 403", r.status)
	}
}

// TestScheduleFormInConsole checks the flag page's scheduling form: an
// admin's rollout is scheduled at once, an editor's in a protected
// environment waits as a request with no step scheduled, and bad input
// is a 400 naming the field.
func TestScheduleFormInConsole(t *testing.T) {
	h := newHarness(t, harnessOptions{production: true, protected: true})
	ed, ann := h.browser("ed:editor"), h.browser("ann:admin")
	steps := url.Values{"variant": {"express"}, "at.0": {"2031-01-01T09:00"}, "pct.0": {"20"}, "at.1": {"2031-01-02T09:00"}, "pct.1": {"100"}, "reason": {"ramp"}}

	page := ed.get("/admin/flags/checkout")
	mustContain(t, page.body, `id="schedule-form"`, "waits for an admin")
	r := ed.post("/admin/flags/checkout/schedule", steps)
	if !strings.Contains(r.location, "done=request-created") {
		t.Fatalf("an editor's schedule: %d %q %s", r.status, r.location, snippet(r.body))
	}
	if scs, _ := h.store.Scheduled(t.Context(), flagon.ScheduleQuery{Flag: "checkout"}); len(scs) != 0 {
		t.Errorf("an unapproved schedule added %d steps", len(scs))
	}
	req := ed.follow(r)
	mustContain(t, req.body, "20% express", "all express")

	ann.get("/admin/flags/checkout")
	steps.Del("csrf")
	r = ann.post("/admin/flags/checkout/schedule", steps)
	if !strings.Contains(r.location, "done=scheduled") {
		t.Fatalf("an admin's schedule: %d %q %s", r.status, r.location, snippet(r.body))
	}
	scs, err := h.store.Scheduled(t.Context(), flagon.ScheduleQuery{Flag: "checkout"})
	if err != nil || len(scs) != 2 || scs[0].Author != "ann" || scs[1].Definition.Fallthrough.Variant != "express" {
		t.Fatalf("the admin's schedule = %+v, %v", scs, err)
	}

	for field, bad := range map[string]url.Values{
		"step 1 percent": {"variant": {"express"}, "at.0": {"2031-01-01T09:00"}, "pct.0": {"lots"}},
		"step 1 time":    {"variant": {"express"}, "at.0": {"tomorrow"}, "pct.0": {"10"}},
		"variant":        {"variant": {"turbo"}, "at.0": {"2031-01-01T09:00"}, "pct.0": {"10"}},
		"steps":          {"variant": {"express"}},
	} {
		ann.get("/admin/flags/checkout")
		r := ann.post("/admin/flags/checkout/schedule", bad)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, field) {
			t.Errorf("%s: %d %s, want 400 naming it", field, r.status, snippet(r.body))
		}
	}
}

// TestAudienceInProtectedEnvironment: flags of every environment share an
// audience, so where an environment is protected an editor may add one
// but not change one; an admin may.
func TestAudienceInProtectedEnvironment(t *testing.T) {
	h := newHarness(t, harnessOptions{production: true, protected: true})
	ed, ann := h.browser("ed:editor"), h.browser("ann:admin")
	edit := func(b *browser) response {
		r := b.get("/admin/audiences/staff")
		form := formOf(t, r.body, "/audiences/staff")
		form.Set("clauses", "is_staff == true\ncountry == NL")
		form.Set("confirm", "1")
		form.Set("reason", "only the Dutch office")
		return b.post("/admin/audiences/staff", form)
	}
	if r := edit(ed); r.status != http.StatusForbidden {
		t.Errorf("an editor changes an audience of protected production: %d, want 403", r.status)
	}
	clauses := func() int {
		auds, err := h.store.Audiences(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range auds {
			if a.Name == "staff" {
				return len(a.Clauses)
			}
		}
		return 0
	}
	if n := clauses(); n != 1 {
		t.Fatalf("the editor's change applied: staff has %d clauses", n)
	}
	r := ed.get("/admin/audiences")
	form := formOf(t, r.body, "/audiences/new")
	form.Set("name", "dutch")
	form.Set("clauses", "country == NL")
	form.Set("confirm", "1")
	form.Set("reason", "for later")
	if r := ed.post("/admin/audiences/new", form); r.status != http.StatusSeeOther {
		t.Errorf("an editor adds an audience: %d %s", r.status, snippet(r.body))
	}
	if r := edit(ann); r.status != http.StatusSeeOther {
		t.Errorf("an admin changes the audience: %d %s", r.status, snippet(r.body))
	}
	if n := clauses(); n != 2 {
		t.Errorf("after the admin's change staff has %d clauses, want 2", n)
	}
}
