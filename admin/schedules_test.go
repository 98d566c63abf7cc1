package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// TestScheduledChangesOnFlagPage lists a flag's scheduled changes on its
// page and cancels a pending one with the page's form; viewers see no
// cancel button, a POST without the form token changes nothing, and an
// applied change cannot be cancelled.
func TestScheduledChangesOnFlagPage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := t.Context()
	sf := h.stored("checkout")
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	steps, err := flagon.RolloutSteps(sf, "", "express", []float64{50, 100}, []time.Time{base, base.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, sc := range steps {
		id, err := h.store.AddScheduled(ctx, sc, flagon.Change{Actor: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := h.store.ApplyDue(ctx, base); err != nil {
		t.Fatal(err)
	}

	viewer := h.browser("vic:viewer").get("/admin/flags/checkout")
	mustContain(t, viewer.body, "Scheduled changes", "50% express, 50% classic", "all express", "applied", "pending")
	if strings.Contains(viewer.body, "/schedules/") {
		t.Errorf("a viewer is offered a cancel button")
	}

	b := h.browser("ed:editor")
	page := b.get("/admin/flags/checkout")
	cancel := "/flags/checkout/schedules/" + itoa(ids[1]) + "/cancel"
	if strings.Contains(page.body, "/flags/checkout/schedules/"+itoa(ids[0])+"/cancel") {
		t.Errorf("an applied change has a cancel button")
	}
	form := formOf(t, page.body, cancel)
	if r := b.post("/admin"+cancel, url.Values{"csrf": {"forged"}}); r.status != http.StatusForbidden {
		t.Errorf("cancel without the form token: %d, want 403", r.status)
	}
	r := b.post("/admin"+cancel, form)
	if !strings.Contains(r.location, "done=schedule-cancelled") {
		t.Fatalf("cancel: %d %q %s", r.status, r.location, r.body)
	}
	scs, err := h.store.Scheduled(ctx, flagon.ScheduleQuery{Flag: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if scs[1].Status != flagon.ScheduleCancelled || scs[1].DoneBy != "ed" {
		t.Errorf("after cancel: %s by %q, want cancelled by ed", scs[1].Status, scs[1].DoneBy)
	}
	if r := b.post("/admin"+cancel, form); r.status != http.StatusConflict {
		t.Errorf("cancel twice: %d, want 409", r.status)
	}
	if r := b.post("/admin/flags/max-items/schedules/"+itoa(ids[1])+"/cancel", form); r.status != http.StatusNotFound {
		t.Errorf("cancel through another flag's page: %d, want 404", r.status)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
