package flagontest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// TestChangeRequestStore checks a flagon.ChangeRequestStore that is also
// a flagon.Store: requests are kept as made; only a second person may
// approve one; approval applies it at the version it was made against or
// ends it in conflict, changing nothing else; of two approvals racing,
// one wins; a scheduled change asked for exists only once approved; and
// each step is audited with both names, if the store is a
// flagon.AuditLog. newStore returns an empty store.
func TestChangeRequestStore(t *testing.T, newStore func(t *testing.T) flagon.ChangeRequestStore) {
	s := openStore(t, newStore)
	st, ok := s.(flagon.Store)
	if !ok {
		t.Fatalf("%T is not a flagon.Store", s)
	}
	ctx := t.Context()
	by := func(actor string) flagon.Change {
		return flagon.Change{Actor: actor, Reason: "why " + actor, Environment: "production"}
	}
	f := flagon.Flag{
		Key: "checkout", Type: flagon.TypeBool, Default: "off",
		Variants:    []flagon.Variant{{Name: "off", Value: false}, {Name: "on", Value: true}},
		Fallthrough: flagon.Serve{Variant: "off"},
	}
	v1, err := st.PutFlag(ctx, f, 0, by("ann"))
	mustStore(t, err)
	on := f
	on.Fallthrough = flagon.Serve{Variant: "on"}

	// A request is kept as made, by its author, pending.
	id, err := s.AddChangeRequest(ctx, flagon.ChangeRequest{Flag: "checkout", BaseVersion: v1, Proposed: on}, by("ed"))
	mustStore(t, err)
	wantAudit(t, s, "request.add", "ed", "")
	cr, err := s.ChangeRequest(ctx, id)
	mustStore(t, err)
	if cr.ID != id || cr.Author != "ed" || cr.Reason != "why ed" || cr.Environment != "production" || cr.State != flagon.RequestPending ||
		cr.BaseVersion != v1 || !sameStoredFlag(cr.Proposed, on) || cr.CreatedAt.IsZero() || cr.Reviewer != "" {
		t.Fatalf("stored request = %+v", cr)
	}

	// The author cannot approve it; nothing changes.
	_, err = s.ReviewChangeRequest(ctx, id, true, "", by("ed"))
	wantStoreErr(t, "approve own request", err, flagon.ErrSelfReview)
	if got := mustFlag(t, st, "checkout"); got.Version != v1 {
		t.Fatalf("after a refused self-approval the flag is at version %d, want %d", got.Version, v1)
	}

	// A second person's approval applies it, audited with both names.
	cr, err = s.ReviewChangeRequest(ctx, id, true, "looks right", by("ada"))
	mustStore(t, err)
	if cr.State != flagon.RequestApplied || cr.Reviewer != "ada" || cr.Comment != "looks right" || cr.ReviewedAt.IsZero() {
		t.Fatalf("approved request = %+v, want applied by ada", cr)
	}
	got := mustFlag(t, st, "checkout")
	if got.Version != v1+1 || !sameStoredFlag(got.Flag, on) {
		t.Fatalf("after approval the flag is %+v, want the proposal at version %d", got, v1+1)
	}
	wantAudit(t, s, "flag.update", "ada", "ed")
	if again, _ := s.ChangeRequest(ctx, id); again.State != flagon.RequestApplied || again.Reviewer != "ada" {
		t.Fatalf("stored approved request = %+v", again)
	}
	_, err = s.ReviewChangeRequest(ctx, id, true, "", by("bob"))
	wantStoreErr(t, "approve an applied request", err, flagon.ErrConflict)

	// The flag changes after a request is made: approval is a conflict,
	// recorded, and the newer flag stays.
	off := on
	off.Fallthrough = flagon.Serve{Variant: "off"}
	stale, err := s.AddChangeRequest(ctx, flagon.ChangeRequest{Flag: "checkout", BaseVersion: got.Version, Proposed: off}, by("ed"))
	mustStore(t, err)
	meanwhile := on
	meanwhile.Description = "edited meanwhile"
	v3, err := st.PutFlag(ctx, meanwhile, got.Version, by("ann"))
	mustStore(t, err)
	cr, err = s.ReviewChangeRequest(ctx, stale, true, "", by("ada"))
	wantStoreErr(t, "approve a stale request", err, flagon.ErrConflict)
	if cr.State != flagon.RequestConflict || cr.Error == "" {
		t.Fatalf("stale request after approval = %+v, want conflict with a reason", cr)
	}
	if got := mustFlag(t, st, "checkout"); got.Version != v3 || got.Description != "edited meanwhile" {
		t.Fatalf("after a conflict the flag is %+v, want ann's version %d", got, v3)
	}
	wantAudit(t, s, "request.conflict", "ada", "")
	if again, _ := s.ChangeRequest(ctx, stale); again.State != flagon.RequestConflict {
		t.Fatalf("stored stale request is %s, want conflict", again.State)
	}

	// A rejection changes nothing but the request.
	rej, err := s.AddChangeRequest(ctx, flagon.ChangeRequest{Flag: "checkout", BaseVersion: v3, Proposed: off}, by("ed"))
	mustStore(t, err)
	cr, err = s.ReviewChangeRequest(ctx, rej, false, "not now", by("ada"))
	mustStore(t, err)
	if cr.State != flagon.RequestRejected || cr.Reviewer != "ada" || cr.Comment != "not now" {
		t.Fatalf("rejected request = %+v", cr)
	}
	if got := mustFlag(t, st, "checkout"); got.Version != v3 {
		t.Fatalf("a rejection moved the flag to version %d", got.Version)
	}
	wantAudit(t, s, "request.reject", "ada", "")

	// Two approvers race: one applies it, once.
	race, err := s.AddChangeRequest(ctx, flagon.ChangeRequest{Flag: "checkout", BaseVersion: v3, Proposed: off}, by("ed"))
	mustStore(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"ada", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.ReviewChangeRequest(ctx, race, true, "", by(who))
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two approvals racing gave %v and %v; want exactly one to succeed", errs[0], errs[1])
	}
	if got := mustFlag(t, st, "checkout"); got.Version != v3+1 {
		t.Fatalf("after racing approvals the flag is at version %d, want %d", got.Version, v3+1)
	}

	testScheduleRequest(t, s, st, by)
	testEmergencyRequest(t, s, by)

	// Bad input and unknown requests.
	for _, bad := range []flagon.ChangeRequest{
		{Flag: "checkout", Proposed: flagon.Flag{Key: "other"}},
		{Flag: "no such key!", Proposed: f},
		{Flag: "checkout", BaseVersion: -1, Proposed: f},
	} {
		_, err := s.AddChangeRequest(ctx, bad, by("ed"))
		wantStoreErr(t, "add an invalid request", err, flagon.ErrInvalid)
	}
	_, err = s.AddChangeRequest(ctx, flagon.ChangeRequest{Flag: "checkout", Proposed: f}, flagon.Change{Actor: "ed"})
	wantStoreErr(t, "add a request with no environment", err, flagon.ErrInvalid)
	_, err = s.ChangeRequest(ctx, 1<<40)
	wantStoreErr(t, "read an unknown request", err, flagon.ErrNotFound)
	_, err = s.ReviewChangeRequest(ctx, 1<<40, true, "", by("ada"))
	wantStoreErr(t, "approve an unknown request", err, flagon.ErrNotFound)

	// Queries select by state and flag, newest first.
	pending, err := s.ChangeRequests(ctx, flagon.ChangeRequestQuery{State: flagon.RequestPending})
	mustStore(t, err)
	if len(pending) != 0 {
		t.Errorf("pending requests = %+v, want none", pending)
	}
	all, err := s.ChangeRequests(ctx, flagon.ChangeRequestQuery{Flag: "checkout"})
	mustStore(t, err)
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("requests not newest first: %d after %d", all[i].ID, all[i-1].ID)
		}
	}
	if len(all) != 6 {
		t.Errorf("%d requests of checkout, want 6", len(all))
	}
}

// testScheduleRequest checks that a requested schedule adds its changes
// only when approved, authored by the request's author.
func testScheduleRequest(t *testing.T, s flagon.ChangeRequestStore, st flagon.Store, by func(string) flagon.Change) {
	ctx := t.Context()
	ss, ok := s.(flagon.ScheduleStore)
	if !ok {
		return
	}
	cur := mustFlag(t, st, "checkout")
	at := time.Date(2031, 1, 5, 9, 0, 0, 0, time.UTC)
	steps, err := flagon.RolloutSteps(cur, "production", "on", []float64{10, 100}, []time.Time{at, at.Add(24 * time.Hour)})
	mustStore(t, err)
	id, err := s.AddChangeRequest(ctx, flagon.ChangeRequest{Flag: "checkout", BaseVersion: cur.Version, Schedule: steps}, by("ed"))
	mustStore(t, err)
	if got, err := ss.Scheduled(ctx, flagon.ScheduleQuery{Flag: "checkout"}); err != nil || len(got) != 0 {
		t.Fatalf("before approval the schedule has %v, %v; want nothing", got, err)
	}
	if done, err := ss.ApplyDue(ctx, at.Add(48*time.Hour)); err != nil || len(done) != 0 {
		t.Fatalf("ApplyDue before approval = %v, %v; want nothing", done, err)
	}
	cr, err := s.ChangeRequest(ctx, id)
	mustStore(t, err)
	if len(cr.Schedule) != 2 || !cr.Schedule[1].At.Equal(at.Add(24*time.Hour)) || !sameStoredFlag(cr.Schedule[0].Definition, steps[0].Definition) {
		t.Fatalf("stored schedule request = %+v", cr.Schedule)
	}
	cr, err = s.ReviewChangeRequest(ctx, id, true, "", by("ada"))
	mustStore(t, err)
	if cr.State != flagon.RequestApproved {
		t.Fatalf("approved schedule request is %s, want approved", cr.State)
	}
	wantAudit(t, s, "request.approve", "ada", "")
	got, err := ss.Scheduled(ctx, flagon.ScheduleQuery{Flag: "checkout", Status: flagon.SchedulePending})
	mustStore(t, err)
	if len(got) != 2 || got[0].Author != "ed" || got[0].Environment != "production" || !got[0].At.Equal(at) {
		t.Fatalf("after approval the schedule is %+v, want ed's two steps", got)
	}
	for _, sc := range got {
		mustStore(t, ss.CancelScheduled(ctx, sc.ID, by("ann")))
	}
}

// testEmergencyRequest checks the record of a change applied at once,
// which a second person reviews after the fact.
func testEmergencyRequest(t *testing.T, s flagon.ChangeRequestStore, by func(string) flagon.Change) {
	ctx := t.Context()
	f := flagon.Flag{Key: "checkout", Type: flagon.TypeBool, Default: "off", Disabled: true,
		Variants: []flagon.Variant{{Name: "off", Value: false}, {Name: "on", Value: true}}, Fallthrough: flagon.Serve{Variant: "off"}}
	id, err := s.AddChangeRequest(ctx, flagon.ChangeRequest{Flag: "checkout", Proposed: f, BaseVersion: 1, Emergency: true}, by("ed"))
	mustStore(t, err)
	cr, err := s.ChangeRequest(ctx, id)
	mustStore(t, err)
	if cr.State != flagon.RequestApplied || !cr.Emergency || cr.Reviewer != "" {
		t.Fatalf("emergency record = %+v, want applied, awaiting review", cr)
	}
	_, err = s.ReviewChangeRequest(ctx, id, true, "", by("ed"))
	wantStoreErr(t, "review own emergency change", err, flagon.ErrSelfReview)
	cr, err = s.ReviewChangeRequest(ctx, id, true, "fine", by("ada"))
	mustStore(t, err)
	if cr.State != flagon.RequestApplied || cr.Reviewer != "ada" {
		t.Fatalf("reviewed emergency record = %+v", cr)
	}
	wantAudit(t, s, "request.review", "ada", "")
	_, err = s.ReviewChangeRequest(ctx, id, true, "", by("bob"))
	wantStoreErr(t, "review a reviewed emergency change", err, flagon.ErrConflict)
}

// mustFlag returns the stored flag key.
func mustFlag(t *testing.T, st flagon.Store, key string) flagon.StoredFlag {
	t.Helper()
	f, err := st.Flag(t.Context(), key)
	mustStore(t, err)
	return f
}

// wantAudit checks the newest audit entry of s, if s is a flagon.AuditLog:
// its action and actor, and that its reason names mention, if set.
func wantAudit(t *testing.T, s any, action, actor, mention string) {
	t.Helper()
	log, ok := s.(flagon.AuditLog)
	if !ok {
		return
	}
	es, err := log.Audit(t.Context(), flagon.AuditQuery{Limit: 1})
	mustStore(t, err)
	if len(es) == 0 {
		t.Fatalf("no audit entry, want %s by %s", action, actor)
	}
	e := es[0]
	if e.Action != action || e.Actor != actor || e.Environment != "production" || !strings.Contains(e.Reason, mention) {
		t.Fatalf("newest audit entry = %s by %s in %q (%q), want %s by %s in production naming %q", e.Action, e.Actor, e.Environment, e.Reason, action, actor, mention)
	}
}
