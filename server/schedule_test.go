package server_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/server"
)

// TestScheduledRolloutTwoInstances runs two servers on one PostgreSQL
// database, both applying scheduled changes every few milliseconds by one
// clock the test moves: a three-step rollout (the first step already due
// when the servers start, as after an outage) applies each step once, in
// order, audited as the scheduler's on behalf of its author, and a
// cancelled step never applies.
func TestScheduledRolloutTwoInstances(t *testing.T) {
	dsn := postgresDSN(t)
	base := time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	set := func(t time.Time) { clock.Store(&t) }
	set(base)
	now := func() time.Time { return *clock.Load() }

	type instance struct {
		st  server.Store
		srv *server.Server
		url string
	}
	start := func() instance {
		st, err := server.OpenStore(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(t.Context(), st, &server.Options{
			Logger: quiet, Now: now, ScheduleInterval: 2 * time.Millisecond,
			APITokens: []server.APIToken{{Name: "ci", Secret: token}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() {
			ts.Close()
			srv.Close()
			st.Close()
		})
		return instance{st, srv, ts.URL}
	}
	a := start()
	f := flagon.Flag{Key: "ramp", Type: flagon.TypeBool, Default: "off",
		Variants:    []flagon.Variant{{Name: "on", Value: true}, {Name: "off", Value: false}},
		Fallthrough: flagon.Serve{Variant: "off"}}
	if _, err := a.st.PutFlag(t.Context(), f, 0, flagon.Change{Actor: "ann"}); err != nil {
		t.Fatal(err)
	}

	// ann plans the rollout through A's REST API; the first step fell due
	// a minute before either server runs its scheduler on the new plan.
	body := fmt.Sprintf(`{"reason":"ramp","variant":"on","steps":[{"at":%q,"percent":10},{"at":%q,"percent":50},{"at":%q,"percent":100}]}`,
		base.Add(-time.Minute).Format(time.RFC3339), base.Add(time.Hour).Format(time.RFC3339), base.Add(2*time.Hour).Format(time.RFC3339))
	set(base.Add(-2 * time.Minute))
	code, _, resp := do(t, "POST", a.url+"/api/v1/flags/ramp/schedule", token, body)
	if code != 201 {
		t.Fatalf("schedule = %d %s", code, resp)
	}
	var steps []flagon.ScheduledChange
	if err := json.Unmarshal([]byte(resp), &steps); err != nil || len(steps) != 3 {
		t.Fatalf("schedule answered %s (%v), want three changes", resp, err)
	}
	// A fourth change, between steps 2 and 3, that bob cancels through B.
	undo := fmt.Sprintf(`{"steps":[{"at":%q,"flag":{"type":"bool","variants":[{"name":"on","value":true},{"name":"off","value":false}],"default":"off","disabled":true}}]}`,
		base.Add(90*time.Minute).Format(time.RFC3339))
	code, _, resp = do(t, "POST", a.url+"/api/v1/flags/ramp/schedule", token, undo, "Flagon-Reason", "maybe")
	var cancelled []flagon.ScheduledChange
	if code != 201 || json.Unmarshal([]byte(resp), &cancelled) != nil || len(cancelled) != 1 {
		t.Fatalf("schedule the change to cancel = %d %s", code, resp)
	}
	b := start()
	if code, _, resp := do(t, "DELETE", fmt.Sprintf("%s/api/v1/schedules/%d", b.url, cancelled[0].ID), token, ""); code != 204 {
		t.Fatalf("cancel on B = %d %s", code, resp)
	}

	// settle runs both servers' schedulers by hand as well, at once, and
	// returns when every change due has been applied by someone.
	settle := func(at time.Time) {
		set(at)
		var wg sync.WaitGroup
		for _, in := range []instance{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := in.srv.ApplyScheduled(t.Context()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	fallthroughOf := func() flagon.Serve {
		sf, err := b.st.Flag(t.Context(), "ramp")
		if err != nil {
			t.Fatal(err)
		}
		return sf.Fallthrough
	}
	wantSplit := func(when string, on float64) {
		t.Helper()
		got := fallthroughOf()
		want := flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: on}, {Variant: "off", Percent: 100 - on}}}
		if on == 100 {
			want = flagon.Serve{Variant: "on"}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: fallthrough %+v, want %+v", when, got, want)
		}
	}

	settle(base)
	wantSplit("at the start, after the outage", 10)
	settle(base.Add(time.Hour - time.Second))
	wantSplit("just before step 2", 10)
	settle(base.Add(time.Hour))
	wantSplit("at step 2", 50)
	settle(base.Add(100 * time.Minute))
	wantSplit("after the cancelled change's time", 50)
	settle(base.Add(2 * time.Hour))
	wantSplit("at step 3", 100)
	settle(base.Add(48 * time.Hour))

	es, err := a.st.Audit(t.Context(), flagon.AuditQuery{Actor: flagon.ScheduleActor, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range slices.Backward(es) {
		got = append(got, fmt.Sprintf("%s %s: %s", e.Action, e.Target, e.Reason))
	}
	var want []string
	for _, sc := range steps {
		want = append(want, fmt.Sprintf("flag.update ramp: scheduled by api:ci (#%d): ramp", sc.ID))
	}
	if !slices.Equal(got, want) {
		t.Errorf("scheduler's audit entries, oldest first:\n%q\nwant one per step, in order:\n%q", got, want)
	}

	code, _, resp = do(t, "GET", b.url+"/api/v1/schedules?flag=ramp", token, "")
	var all []flagon.ScheduledChange
	if code != 200 || json.Unmarshal([]byte(resp), &all) != nil {
		t.Fatalf("list on B = %d %s", code, resp)
	}
	statuses := map[int64]flagon.ScheduleStatus{}
	for _, sc := range all {
		statuses[sc.ID] = sc.Status
	}
	for _, sc := range steps {
		if statuses[sc.ID] != flagon.ScheduleApplied {
			t.Errorf("step %d is %s, want applied", sc.ID, statuses[sc.ID])
		}
	}
	if s := statuses[cancelled[0].ID]; s != flagon.ScheduleCancelled {
		t.Errorf("the cancelled change is %s", s)
	}
}
